//! zonegate as the primary of a real Knot DNS secondary (Debian's `knot` package), on
//! loopback high ports.
//!
//! The secondary bootstraps the zone by AXFR. Then a new generation is published through
//! zonegate; zonegate NOTIFYs the secondary, which asks IXFR and must serve the new serial
//! within seconds (its own refresh timer is an hour, so only the NOTIFY can explain that).
//! Finally both servers must give the same answers to a set of queries, judged by the rule of
//! `shared/conformance/README.md`.
//!
//! The second test does the same with a TSIG key (RFC 8945) on both sides: zonegate's zone
//! needs it for transfers and signs its NOTIFY with it, Knot's remote and NOTIFY ACL name it,
//! so every transfer and every NOTIFY is signed and verified by the other end. `dig` checks
//! by hand that an unsigned or wrongly keyed AXFR is refused and `dig -y` gets the zone.
//!
//! `.ci/run` installs `knot` and `dig`.

#![allow(clippy::too_many_lines)] // Long test functions: each walks one scenario end to end.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;

const ZONE: &str = "\
$ORIGIN example.test.
$TTL 300
@ 3600 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 3600 600 86400 60
@ IN NS ns1.example.test.
@ IN MX 10 mail.example.test.
ns1 IN A 192.0.2.53
mail IN A 192.0.2.25
www IN A 192.0.2.1
www IN A 192.0.2.2
www IN TXT \"hello world\"
alias IN CNAME www.example.test.
dangling IN CNAME nowhere.example.test.
*.wild IN A 192.0.2.42
*.wild IN TXT \"wildcard\"
ent.deep IN A 192.0.2.3
sub IN NS ns.sub.example.test.
sub IN NS ns.elsewhere.test.
ns.sub IN A 192.0.2.99
old IN DNAME new.example.test.
host.new IN A 192.0.2.77
_sip._tcp IN SRV 0 5 5060 www.example.test.
";

/// The queries both servers must answer alike: positive, NODATA, NXDOMAIN, CNAME chains,
/// wildcards, an empty non-terminal, a referral with glue, DNAME and additional processing.
const QUERIES: &[(&str, &str)] = &[
    ("example.test.", "SOA"),
    ("example.test.", "NS"),
    ("example.test.", "MX"),
    ("www.example.test.", "A"),
    ("www.example.test.", "TXT"),
    ("www.example.test.", "AAAA"),
    ("nope.example.test.", "A"),
    ("alias.example.test.", "A"),
    ("dangling.example.test.", "A"),
    ("a.wild.example.test.", "A"),
    ("a.b.wild.example.test.", "TXT"),
    ("a.wild.example.test.", "MX"),
    ("deep.example.test.", "A"),
    ("sub.example.test.", "NS"),
    ("host.sub.example.test.", "A"),
    ("host.old.example.test.", "A"),
    ("x.old.example.test.", "A"),
    ("_sip._tcp.example.test.", "SRV"),
    ("changed.example.test.", "A"),
];

/// A TSIG key: name, algorithm, base64 secret.
struct Key {
    name: &'static str,
    algorithm: &'static str,
    secret: &'static str,
}

/// Made up for this test (32 random octets, as `tsig-keygen` makes them).
const KEY: Key = Key {
    name: "xfr.example.test.",
    algorithm: "hmac-sha256",
    secret: "8sFQZ1W4bYb3x0J0m5k1cJ2bqf3xE0b0dXH0m8J2r1E=",
};

/// Knot's config after its server sections: the key (if any), the zonegate primary, and the
/// one zone.
fn knot_sections(knot: &Knot, primary: SocketAddr, key: Option<&Key>) -> String {
    let keys = key.map_or_else(String::new, |k| {
        format!(
            "key:\n  - id: {}\n    algorithm: {}\n    secret: {}\n",
            k.name, k.algorithm, k.secret
        )
    });
    format!(
        "{keys}{}zone:\n  - domain: example.test.\n    master: primary\n    acl: notify_from_primary\n",
        knot.secondary_of(primary, key.map(|k| k.name))
    )
}

fn serial(addr: SocketAddr) -> Option<u32> {
    soa_serial(addr, "example.test.")
}

type Rr = (String, u32, String, String);

fn sorted(mut v: Vec<Rr>) -> Vec<Rr> {
    v.sort();
    v
}

/// The conformance README's rule: rcode, flags and the answer always; the authority section
/// when the answer is empty; the additional section for referrals.
fn same_answer(ours: &Dig, theirs: &Dig) -> Result<(), String> {
    let mut a_flags = ours.flags.clone();
    let mut b_flags = theirs.flags.clone();
    a_flags.sort();
    b_flags.sort();
    let mut diffs = Vec::new();
    if ours.status != theirs.status {
        diffs.push(format!("status {:?} vs {:?}", ours.status, theirs.status));
    }
    if a_flags != b_flags {
        diffs.push(format!("flags {a_flags:?} vs {b_flags:?}"));
    }
    if sorted(ours.answer.clone()) != sorted(theirs.answer.clone()) {
        diffs.push(format!("answer {:?} vs {:?}", ours.answer, theirs.answer));
    }
    if theirs.answer.is_empty() {
        if sorted(ours.authority.clone()) != sorted(theirs.authority.clone()) {
            diffs.push(format!(
                "authority {:?} vs {:?}",
                ours.authority, theirs.authority
            ));
        }
        let referral = !theirs.aa() && theirs.authority.iter().any(|r| r.2 == "NS");
        if referral && sorted(ours.additional.clone()) != sorted(theirs.additional.clone()) {
            diffs.push(format!(
                "additional {:?} vs {:?}",
                ours.additional, theirs.additional
            ));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("; "))
    }
}

#[test]
fn knot_secondary_follows_zonegate_by_notify_and_ixfr() {
    follow_by_notify_and_ixfr(None);
}

#[test]
fn knot_secondary_follows_zonegate_with_tsig() {
    follow_by_notify_and_ixfr(Some(&KEY));
}

/// `dig AXFR` of the zone from `addr`, signed with `key` (`-y algorithm:name:secret`) if given.
/// Returns dig's output.
fn follow_by_notify_and_ixfr(key: Option<&Key>) {
    require("knotd", "knot");
    require("dig", "bind9-dnsutils");
    let s = Scratch::new(if key.is_some() { "knot-tsig" } else { "knot" });
    let zone = s.write("zone.txt", ZONE);
    s.run_ok(&["apply", zone.to_str().unwrap()]);

    let primary = free_addr();
    let mut knot_addr = free_addr();
    while knot_addr == primary {
        knot_addr = free_addr();
    }
    let mut config = format!(
        "[server]\nallow_transfer = [\"127.0.0.1\"]\nnotify = [\"{knot_addr}\"]\n\
         notify_timeout_ms = 500\n"
    );
    if let Some(k) = key {
        config += &format!(
            "transfer_keys = [\"{0}\"]\n[[server.tsig_keys]]\nname = \"{0}\"\n\
             algorithm = \"{1}\"\nsecret = \"{2}\"\n",
            k.name, k.algorithm, k.secret
        );
    }
    let cfg = s.write("zonegate.toml", &config);
    let zonegate_log = s.dir.join("zonegate.log");
    let _zonegate = serve_logged(&s, primary, &cfg, &zonegate_log);
    wait_for(
        "zonegate serves the zone",
        Duration::from_secs(30),
        || serial(primary) == Some(1),
        &zonegate_log,
    );

    let knot = Knot::new(&s.dir.join("knot"), knot_addr);
    let (_knot, knot_log) = knot.start(&knot_sections(&knot, primary, key));
    wait_for(
        "Knot bootstraps the zone from zonegate",
        Duration::from_secs(30),
        || serial(knot_addr) == Some(1),
        &knot_log,
    );

    // A new generation: one record changes, one is added.
    let next = ZONE.replace("\"hello world\"", "\"hello again\"") + "changed IN A 192.0.2.200\n";
    let next = s.write("zone2.txt", &next);
    let published_at = Instant::now();
    s.run_ok(&["apply", next.to_str().unwrap()]);
    wait_for(
        "Knot picks up serial 2 after zonegate's NOTIFY",
        Duration::from_secs(20),
        || serial(knot_addr) == Some(2),
        &knot_log,
    );
    eprintln!(
        "Knot serves serial 2 {:?} after the publication",
        published_at.elapsed()
    );
    let log = std::fs::read_to_string(&knot_log).unwrap();
    assert!(
        log.contains("notify, incoming") && log.contains("serial 2"),
        "Knot logged no NOTIFY for serial 2:\n{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("IXFR, incoming") && l.contains("finished")),
        "Knot did not take the change by IXFR:\n{log}"
    );

    let mut failures = Vec::new();
    for (name, rtype) in QUERIES {
        let ours = dig_at(primary, &[name, rtype], false);
        let theirs = dig_at(knot_addr, &[name, rtype], false);
        assert!(
            theirs.status.is_some(),
            "Knot did not answer {name} {rtype}"
        );
        if let Err(diff) = same_answer(&ours, &theirs) {
            failures.push(format!("{name} {rtype}: {diff}"));
        }
    }
    assert!(
        failures.is_empty(),
        "zonegate and Knot answer differently:\n{}",
        failures.join("\n")
    );
    // The change itself is served by both.
    let theirs = dig_at(knot_addr, &["www.example.test.", "TXT"], false);
    assert_eq!(theirs.rdata("TXT"), vec!["\"hello again\"".to_string()]);

    if let Some(k) = key {
        // Knot took both transfers signed, and zonegate's NOTIFY passed Knot's keyed ACL.
        let zonegate = std::fs::read_to_string(&zonegate_log).unwrap();
        assert!(
            !zonegate.contains("TSIG verification failed"),
            "zonegate refused a TSIG of Knot's:\n{zonegate}"
        );
        // By hand, as an operator would: unsigned, wrong secret, right key.
        let unsigned = dig_axfr(primary, "example.test.", None);
        assert!(
            unsigned.contains("NOTAUTH") || unsigned.contains("Transfer failed"),
            "an unsigned AXFR was not refused:\n{unsigned}"
        );
        assert!(!unsigned.contains("hello again"), "{unsigned}");
        let wrong = format!(
            "{}:{}:{}",
            k.algorithm, k.name, "d3Jvbmcgc2VjcmV0IGZvciB0aGUgdGVzdA=="
        );
        let wrong = dig_axfr(primary, "example.test.", Some(&wrong));
        assert!(
            !wrong.contains("hello again"),
            "a wrong key got the zone:\n{wrong}"
        );
        let signed = format!("{}:{}:{}", k.algorithm, k.name, k.secret);
        let signed = dig_axfr(primary, "example.test.", Some(&signed));
        assert!(
            signed.contains("hello again") && !signed.contains("tsig verify failure"),
            "dig -y did not get a verified AXFR:\n{signed}"
        );
        assert!(
            signed.matches("\tSOA\t").count() >= 2,
            "incomplete AXFR:\n{signed}"
        );
    }
}
