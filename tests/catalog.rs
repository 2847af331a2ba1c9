//! The catalog zone (RFC 9432) that `serve` publishes with `[server] catalog`.
//!
//! The first test runs a real Knot secondary (Debian's `knot`) whose config names only the
//! catalog zone, with `catalog-role: interpret` and a template for its members. Knot must pick
//! up the zone zonegate serves at the start, then a zone newly published through zonegate
//! (zonegate NOTIFYs the catalog's change; Knot's refresh timer is an hour), answer from it,
//! and drop a zone `zonegate retire` takes out, all without a change to Knot's config.
//!
//! The second takes the catalog zone by AXFR with `dig` under its own `allow_transfer` and
//! `transfer_keys` (unsigned: refused; signed: the zone), checks that two servers on the same
//! store, and a restarted one, serve the same catalog with the same serial, that a plan for the
//! catalog's name is refused, and that a DNS UPDATE of it is REFUSED.
//!
//! `.ci/run` installs `knot`, `dig` and `nsupdate`.

#![allow(clippy::too_many_lines)] // Long test functions: each walks one scenario end to end.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::*;

const CATALOG: &str = "catalog.zonegate.test.";

/// A small zone under `origin` whose `www` has address `www`.
fn zone(origin: &str, www: &str) -> String {
    format!(
        "$ORIGIN {origin}\n$TTL 300\n\
         @ 3600 IN SOA ns1.{origin} hostmaster.{origin} 1 3600 600 86400 60\n\
         @ IN NS ns1.{origin}\nns1 IN A 192.0.2.53\nwww IN A {www}\n"
    )
}

/// `zonegate --config cfg apply file`, which must succeed.
fn apply(s: &Scratch, cfg: &std::path::Path, file: &std::path::Path) {
    s.run_ok(&[
        "--config",
        cfg.to_str().unwrap(),
        "apply",
        file.to_str().unwrap(),
    ]);
}

/// Two loopback addresses free for UDP and TCP, different from each other.
fn two_addrs() -> (SocketAddr, SocketAddr) {
    let a = free_addr();
    let mut b = free_addr();
    while b == a {
        b = free_addr();
    }
    (a, b)
}

/// The PTR targets of the catalog zone in dig's AXFR text, sorted.
fn members(axfr: &str) -> Vec<String> {
    let mut out: Vec<String> = axfr
        .lines()
        .filter(|l| !l.starts_with(';'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 5 && f[3] == "PTR").then(|| f[4].to_lowercase())
        })
        .collect();
    out.sort();
    out
}

/// The records of dig's AXFR text, sorted (the SOA, first and last, once).
fn records(axfr: &str) -> Vec<String> {
    let mut out: Vec<String> = axfr
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        // The TSIG record of each signed message differs by time and MAC.
        .filter(|l| !l.contains(" TSIG "))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn www(addr: SocketAddr, origin: &str) -> Vec<String> {
    let d = dig_at(addr, &[&format!("www.{origin}"), "A"], false);
    if d.status.as_deref() == Some("NOERROR") && d.aa() {
        d.rdata("A")
    } else {
        Vec::new()
    }
}

/// The serial Knot holds for `zone`, from `knotc zone-status`.
fn knot_serial(knot: &Knot, zone: &str) -> Option<u32> {
    let out = Command::new("knotc")
        .arg("-c")
        .arg(knot.dir.join("knot.conf"))
        .args(["zone-status", zone])
        .output()
        .expect("run knotc (install knot)");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split('|')
        .find_map(|f| f.trim().strip_prefix("serial: "))
        .and_then(|s| s.trim().parse().ok())
}

#[test]
fn knot_interprets_the_catalog_and_follows_new_and_retired_zones() {
    require("dig", "bind9-dnsutils");
    let s = Scratch::new("catalog-knot");
    let first = s.write("first.zone", &zone("first.test.", "192.0.2.1"));
    let cfg = s.write("zonegate.toml", ""); // rewritten below, once Knot's port is known
    apply(&s, &cfg, &first);
    let (primary, knot_addr) = two_addrs();
    std::fs::write(
        &cfg,
        format!(
            "[server]\ncatalog = \"{CATALOG}\"\nallow_transfer = [\"127.0.0.1\"]\n\
             notify = [\"{knot_addr}\"]\nnotify_timeout_ms = 500\n"
        ),
    )
    .unwrap();
    let zlog = s.dir.join("zonegate.log");
    let _zonegate = serve_logged(&s, primary, &cfg, &zlog);
    wait_for(
        "zonegate serves the catalog zone",
        Duration::from_secs(30),
        || soa_serial(primary, CATALOG).is_some(),
        &zlog,
    );
    assert_eq!(
        members(&dig_axfr(primary, CATALOG, None)),
        vec!["first.test."]
    );

    // Knot knows only the catalog; its members come from the template.
    let knot = Knot::new(&s.dir.join("knot"), knot_addr);
    let sections = format!(
        "{}  - id: member\n    master: primary\n    acl: notify_from_primary\n    \
         storage: \"{}\"\n    zonefile-sync: -1\n    zonefile-load: none\n    \
         journal-content: changes\n\
         zone:\n  - domain: {CATALOG}\n    master: primary\n    acl: notify_from_primary\n    \
         catalog-role: interpret\n    catalog-template: member\n",
        knot.secondary_of(primary, None),
        knot.dir.join("zones").display()
    );
    let (_knot, klog) = knot.start(&sections);
    let conf_before = std::fs::read_to_string(knot.dir.join("knot.conf")).unwrap();
    wait_for(
        "Knot serves the catalog's first member",
        Duration::from_secs(30),
        || www(knot_addr, "first.test.") == ["192.0.2.1"],
        &klog,
    );

    // A zone newly published through zonegate: the catalog changes, zonegate NOTIFYs Knot,
    // Knot transfers the catalog, adds the member and transfers it.
    let second = s.write("second.zone", &zone("second.test.", "192.0.2.2"));
    let serial_before = soa_serial(primary, CATALOG).unwrap();
    apply(&s, &cfg, &second);
    wait_for(
        "Knot serves the newly published zone",
        Duration::from_secs(30),
        || www(knot_addr, "second.test.") == ["192.0.2.2"],
        &klog,
    );
    let serial_after = soa_serial(primary, CATALOG).unwrap();
    assert!(
        serial_after > serial_before,
        "catalog serial {serial_before} -> {serial_after}"
    );
    // Knot does not answer queries for a catalog zone it interprets (REFUSED); knotc says
    // which serial it holds.
    assert_eq!(
        knot_serial(&knot, CATALOG),
        Some(serial_after),
        "Knot holds the new catalog"
    );
    assert_eq!(
        members(&dig_axfr(primary, CATALOG, None)),
        vec!["first.test.", "second.test."]
    );
    // The catalog's change came by NOTIFY and IXFR, like any zone's.
    let log = std::fs::read_to_string(&klog).unwrap();
    let catalog_lines = |what: &str| {
        log.lines()
            .filter(|l| l.contains(&format!("[{CATALOG}]")) && l.contains(what))
            .count()
    };
    assert!(
        catalog_lines("notify, incoming") >= 1,
        "no NOTIFY of the catalog:\n{log}"
    );
    assert!(
        log.lines().any(|l| l.contains(&format!("[{CATALOG}]"))
            && l.contains("IXFR, incoming")
            && l.contains("finished")),
        "the catalog's change did not come by IXFR:\n{log}"
    );
    // Knot answers from the member exactly what zonegate answers.
    assert_eq!(
        dig_at(knot_addr, &["second.test.", "NS"], false).rdata("NS"),
        dig_at(primary, &["second.test.", "NS"], false).rdata("NS")
    );

    // An ordinary publication of a member changes the zone, not the catalog.
    let changed = s.write("second2.zone", &zone("second.test.", "192.0.2.22"));
    apply(&s, &cfg, &changed);
    wait_for(
        "Knot follows the member's new generation",
        Duration::from_secs(30),
        || www(knot_addr, "second.test.") == ["192.0.2.22"],
        &klog,
    );
    assert_eq!(soa_serial(primary, CATALOG), Some(serial_after));

    // Retired: it leaves the catalog, and Knot drops it.
    let out = s.run_ok(&[
        "--config",
        cfg.to_str().unwrap(),
        "retire",
        "first.test.",
        "--reason",
        "moved away",
        "--by",
        "catalog-test",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("retired at g1"),
        "{}",
        describe(&out)
    );
    wait_for(
        "Knot drops the retired zone",
        Duration::from_secs(30),
        || {
            let d = dig_at(knot_addr, &["first.test.", "SOA"], false);
            d.status.is_some() && !(d.status.as_deref() == Some("NOERROR") && d.aa())
        },
        &klog,
    );
    assert_eq!(
        www(knot_addr, "second.test."),
        ["192.0.2.22"],
        "the other member stays"
    );
    assert_eq!(
        members(&dig_axfr(primary, CATALOG, None)),
        vec!["second.test."]
    );
    let history = s.run_ok(&["history", "first.test."]);
    assert!(
        String::from_utf8_lossy(&history.stdout).contains("retired"),
        "{}",
        describe(&history)
    );

    // Published again: back in the catalog, and Knot serves it again.
    let back = s.write("first2.zone", &zone("first.test.", "192.0.2.11"));
    apply(&s, &cfg, &back);
    wait_for(
        "Knot serves the zone that came back",
        Duration::from_secs(30),
        || www(knot_addr, "first.test.") == ["192.0.2.11"],
        &klog,
    );
    assert_eq!(
        std::fs::read_to_string(knot.dir.join("knot.conf")).unwrap(),
        conf_before,
        "Knot's config never changed"
    );
}

/// Made up for this test (32 random octets, as `tsig-keygen` makes them).
const KEY: &str = "hmac-sha256:cat.key.:8sFQZ1W4bYb3x0J0m5k1cJ2bqf3xE0b0dXH0m8J2r1E=";

#[test]
fn catalog_transfer_honours_its_acl_and_key_and_is_the_same_on_every_server() {
    require("dig", "bind9-dnsutils");
    require("nsupdate", "bind9-dnsutils");
    let s = Scratch::new("catalog-acl");
    let cfg = s.write(
        "zonegate.toml",
        &format!(
            "[server]\ncatalog = \"{CATALOG}\"\nallow_transfer = []\n\
             [[server.tsig_keys]]\nname = \"cat.key.\"\nalgorithm = \"hmac-sha256\"\n\
             secret = \"8sFQZ1W4bYb3x0J0m5k1cJ2bqf3xE0b0dXH0m8J2r1E=\"\n\
             [server.zones.\"{CATALOG}\"]\nallow_transfer = [\"127.0.0.1\"]\n\
             transfer_keys = [\"cat.key.\"]\nallow_update = [\"127.0.0.1\"]\n"
        ),
    );
    let c = cfg.to_str().unwrap();
    for (origin, www) in [("a.test.", "192.0.2.1"), ("b.test.", "192.0.2.2")] {
        let f = s.write(&format!("{origin}zone"), &zone(origin, www));
        s.run_ok(&["--config", c, "apply", f.to_str().unwrap()]);
    }
    // A plan under the catalog's name is refused, with the reason and what to do.
    let own = s.write("own.zone", &zone(CATALOG, "192.0.2.9"));
    for verb in ["plan", "apply"] {
        let out = s.run(&["--config", c, verb, own.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("is the catalog zone") && err.contains("another"),
            "{err}"
        );
    }
    let (one, two) = two_addrs();
    let (log1, log2) = (s.dir.join("one.log"), s.dir.join("two.log"));
    let server1 = serve_logged(&s, one, &cfg, &log1);
    let server2 = serve_logged(&s, two, &cfg, &log2);
    for (addr, log) in [(one, &log1), (two, &log2)] {
        wait_for(
            "zonegate serves the catalog zone",
            Duration::from_secs(30),
            || soa_serial(addr, CATALOG).is_some(),
            log,
        );
    }

    // Unsigned: refused by the catalog's transfer_keys. Signed: the whole catalog.
    let unsigned = dig_axfr(one, CATALOG, None);
    assert!(members(&unsigned).is_empty(), "{unsigned}");
    assert!(unsigned.contains("Transfer failed"), "{unsigned}");
    let signed = dig_axfr(one, CATALOG, Some(KEY));
    assert_eq!(members(&signed), vec!["a.test.", "b.test."], "{signed}");
    assert!(
        signed.contains("version.catalog.zonegate.test."),
        "{signed}"
    );
    assert!(signed.contains("\"2\""), "{signed}");
    // The members keep the default ACL: nobody.
    let member = dig_axfr(one, "a.test.", Some(KEY));
    assert!(member.contains("Transfer failed"), "{member}");

    // Two servers on one store make the same catalog with the same serial.
    let other = dig_axfr(two, CATALOG, Some(KEY));
    assert_eq!(records(&signed), records(&other));
    let serial = soa_serial(one, CATALOG).unwrap();
    assert_eq!(soa_serial(two, CATALOG), Some(serial));

    // The catalog takes no DNS UPDATE, even from an address allowed to send them.
    let mut nsupdate = Command::new("nsupdate")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run nsupdate");
    {
        use std::io::Write;
        let mut stdin = nsupdate.stdin.take().unwrap();
        writeln!(
            stdin,
            "server {} {}\nzone {CATALOG}\nupdate add x.{CATALOG} 0 TXT \"no\"\nsend",
            one.ip(),
            one.port()
        )
        .unwrap();
    }
    let out = nsupdate.wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("REFUSED"), "{err}");
    assert_eq!(
        members(&dig_axfr(one, CATALOG, Some(KEY))),
        vec!["a.test.", "b.test."]
    );

    // A retirement moves both servers to one new catalog with one new serial.
    s.run_ok(&["retire", "b.test.", "--reason", "gone", "--by", "test"]);
    for (addr, log) in [(one, &log1), (two, &log2)] {
        wait_for(
            "the servers drop the retired zone from the catalog",
            Duration::from_secs(30),
            || members(&dig_axfr(addr, CATALOG, Some(KEY))) == ["a.test."],
            log,
        );
    }
    let retired = soa_serial(one, CATALOG).unwrap();
    assert!(retired > serial, "serial {serial} -> {retired}");
    assert_eq!(soa_serial(two, CATALOG), Some(retired));
    // Once more: nothing to do, exit 0.
    let again = s.json(&[
        "retire", "b.test.", "--reason", "gone", "--by", "test", "--json",
    ]);
    assert_eq!(again["outcome"], "already-retired");
    assert_eq!(again["generation"], 1);
    let never = s.run(&["retire", "never.test.", "--reason", "x", "--by", "t"]);
    assert_eq!(never.status.code(), Some(2), "{}", describe(&never));

    // A restarted server serves the same catalog with the same serial.
    let before = records(&dig_axfr(one, CATALOG, Some(KEY)));
    drop(server1);
    drop(server2);
    let log3 = s.dir.join("three.log");
    let _server3 = serve_logged(&s, one, &cfg, &log3);
    wait_for(
        "the restarted server serves the catalog zone",
        Duration::from_secs(30),
        || soa_serial(one, CATALOG).is_some(),
        &log3,
    );
    assert_eq!(soa_serial(one, CATALOG), Some(retired));
    assert_eq!(records(&dig_axfr(one, CATALOG, Some(KEY))), before);
}
