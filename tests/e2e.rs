//! End-to-end tests: the real `zonegate` binary, a real SQLite file, real DNS over loopback.
//!
//! Each test stands for one promise of the gate, as a user would check it.

mod common;

use std::time::Duration;

use common::*;
use zonegate_testkit::wait_until;

use common::example_zone as zone;

fn published(s: &Scratch, origin: &str) -> Option<u64> {
    let v = s.json(&["status", origin, "--json"]);
    v["zones"][0]["published"].as_u64()
}

#[test]
fn apply_then_serve_answers_authoritatively() {
    let s = Scratch::new("apply-serve");
    let f = s.write("z.zone", &zone(1, &["192.0.2.10", "192.0.2.11"]));
    let out = s.run_ok(&["apply", f.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("published g1"), "{text}");

    let server = s.serve();
    for d in [
        server.dig("www.example.com.", "A"),
        server.dig_tcp("www.example.com.", "A"),
    ] {
        assert_eq!(d.status.as_deref(), Some("NOERROR"), "{}", d.raw);
        assert!(d.aa(), "AA must be set: {}", d.raw);
        assert_eq!(d.rdata("A"), vec!["192.0.2.10", "192.0.2.11"], "{}", d.raw);
    }

    // RFC 2308: NXDOMAIN and NODATA carry the SOA in the authority section.
    let nx = server.dig("nope.example.com.", "A");
    assert_eq!(nx.status.as_deref(), Some("NXDOMAIN"), "{}", nx.raw);
    assert!(nx.aa());
    assert!(nx.answer.is_empty());
    assert!(
        nx.authority
            .iter()
            .any(|r| r.0 == "example.com." && r.2 == "SOA"),
        "{}",
        nx.raw
    );

    let nodata = server.dig("www.example.com.", "MX");
    assert_eq!(nodata.status.as_deref(), Some("NOERROR"), "{}", nodata.raw);
    assert!(nodata.answer.is_empty(), "{}", nodata.raw);
    assert!(
        nodata.authority.iter().any(|r| r.2 == "SOA"),
        "{}",
        nodata.raw
    );

    // Names outside every zone are refused.
    let out_of_zone = server.dig("www.example.org.", "A");
    assert_eq!(
        out_of_zone.status.as_deref(),
        Some("REFUSED"),
        "{}",
        out_of_zone.raw
    );

    let status = server.terminate();
    assert!(
        status.success(),
        "serve must exit cleanly on SIGTERM: {status:?}"
    );
}

#[test]
fn a_publication_from_another_process_is_served_within_one_second() {
    let s = Scratch::new("live-swap");
    let f = s.write("z.zone", &zone(1, &["192.0.2.10"]));
    s.run_ok(&["apply", f.to_str().unwrap()]);
    let server = s.serve();
    assert_eq!(
        server.dig("www.example.com.", "A").rdata("A"),
        vec!["192.0.2.10"]
    );

    for (i, addr) in ["192.0.2.20", "192.0.2.30", "192.0.2.40"]
        .iter()
        .enumerate()
    {
        let f = s.write("z.zone", &zone(2 + i as u32, &[addr]));
        s.run_ok(&["apply", f.to_str().unwrap()]);
        let took = wait_until(Duration::from_secs(5), || {
            server.dig("www.example.com.", "A").rdata("A") == vec![addr.to_string()]
        });
        let took = took.unwrap_or_else(|| panic!("{addr} was not served within 5 s"));
        assert!(
            took <= Duration::from_secs(1),
            "new publication took {took:?} to be served"
        );
    }
}

#[test]
fn refused_plans_exit_3_and_change_nothing() {
    let s = Scratch::new("refusals");
    let f = s.write("good.zone", &zone(1, &["192.0.2.10"]));
    s.run_ok(&["apply", f.to_str().unwrap()]);
    let server = s.serve();

    let cases = [
        ("empty.zone", String::new(), "empty"),
        ("comments-only.zone", "; nothing here\n$ORIGIN example.com.\n".to_string(), "empty"),
        (
            "no-soa.zone",
            "$ORIGIN example.com.\n$TTL 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\nwww IN A 192.0.2.99\n"
                .to_string(),
            "invalid:no-soa",
        ),
        (
            "cname.zone",
            format!("{}www IN CNAME mail\n", zone(2, &["192.0.2.99"])),
            "invalid:cname-conflict",
        ),
    ];
    for (name, text, reason) in cases {
        let f = s.write(name, &text);
        for verb in ["apply", "plan"] {
            let out = s.run(&[
                verb,
                f.to_str().unwrap(),
                "--zone",
                "example.com.",
                "--json",
            ]);
            assert_eq!(
                out.status.code(),
                Some(3),
                "{verb} {name}:\n{}",
                describe(&out)
            );
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["outcome"], "refused", "{v}");
            assert_eq!(v["reason"], reason, "{name}: {v}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("refused"),
                "the refusal is explained on stderr: {stderr}"
            );
        }
        assert_eq!(
            published(&s, "example.com."),
            Some(1),
            "{name} must not publish"
        );
        let d = server.dig("www.example.com.", "A");
        assert_eq!(
            d.rdata("A"),
            vec!["192.0.2.10"],
            "{name} changed the answers: {}",
            d.raw
        );
    }

    // Each refusal is in the audit log with its reason (I8).
    let h = s.json(&["history", "example.com.", "--json"]);
    let reasons: Vec<&str> = h["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "refused")
        .filter_map(|a| a["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"invalid:cname-conflict"), "{h}");
    assert!(reasons.contains(&"invalid:no-soa"), "{h}");
    // Nothing refused was ever staged: only g1 exists.
    assert_eq!(h["plans"].as_array().unwrap().len(), 1, "{h}");
}

#[test]
fn a_plan_whose_base_moved_is_stale_exit_4() {
    let s = Scratch::new("stale");
    let f = s.write("z1.zone", &zone(1, &["192.0.2.10"]));
    s.run_ok(&["apply", f.to_str().unwrap()]); // g1 published
    let a = s.write("a.zone", &zone(2, &["192.0.2.20"]));
    let b = s.write("b.zone", &zone(3, &["192.0.2.30"]));
    let pa = s.json(&["plan", a.to_str().unwrap(), "--json"]);
    let pb = s.json(&["plan", b.to_str().unwrap(), "--json"]);
    assert_eq!(
        (pa["generation"].as_u64(), pa["base"].as_u64()),
        (Some(2), Some(1)),
        "{pa}"
    );
    assert_eq!(
        (pb["generation"].as_u64(), pb["base"].as_u64()),
        (Some(3), Some(1)),
        "{pb}"
    );

    // B is published first; A was planned on g1, which is no longer published.
    s.run_ok(&["publish", "example.com.", "--generation", "3"]);
    let out = s.run(&["publish", "example.com.", "--generation", "2", "--json"]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "stale");
    assert_eq!(
        (
            v["generation"].as_u64(),
            v["base"].as_u64(),
            v["published"].as_u64()
        ),
        (Some(2), Some(1), Some(3)),
        "{v}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("re-plan"));
    assert_eq!(published(&s, "example.com."), Some(3));

    // An older generation on the current base is stale too: generations never go back (I1).
    let out = s.run(&["publish", "example.com.", "--generation", "1"]);
    assert!(
        matches!(out.status.code(), Some(0) | Some(4)),
        "{}",
        describe(&out)
    );
    assert_eq!(published(&s, "example.com."), Some(3));

    let h = s.json(&["history", "example.com.", "--json"]);
    assert!(
        h["audit"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "stale" && a["generation"] == 2),
        "{h}"
    );
}

#[test]
fn no_changes_takes_no_generation() {
    let s = Scratch::new("noop");
    let f = s.write("z.zone", &zone(1, &["192.0.2.10"]));
    s.run_ok(&["apply", f.to_str().unwrap()]);
    let v = s.json(&["apply", f.to_str().unwrap(), "--json"]);
    assert_eq!(v["outcome"], "no-changes", "{v}");
    let v = s.json(&["plan", f.to_str().unwrap(), "--json"]);
    assert_eq!(v["outcome"], "no-changes", "{v}");
    let h = s.json(&["history", "example.com.", "--json"]);
    assert_eq!(h["plans"].as_array().unwrap().len(), 1, "{h}");
}

#[test]
fn parse_errors_exit_2_naming_file_and_line() {
    let s = Scratch::new("parse");
    let f = s.write("bad.zone", "$ORIGIN example.com.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 2 3 4 5\nwww IN A not-an-address\n");
    let out = s.run(&["plan", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.zone") && err.contains('4'),
        "error must name file and line: {err}"
    );

    let out = s.run(&["plan", s.dir.join("missing.zone").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

#[test]
fn several_zones_and_restart_serves_straight_away() {
    let s = Scratch::new("multi");
    let a = s.write("a.zone", &zone(1, &["192.0.2.10"]));
    let b = s.write(
        "b.zone",
        "$ORIGIN example.net.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 198.51.100.1\nwww A 198.51.100.10\n",
    );
    s.run_ok(&["apply", a.to_str().unwrap()]);
    s.run_ok(&["apply", b.to_str().unwrap()]);
    let server = s.serve();
    assert_eq!(
        server.dig("www.example.com.", "A").rdata("A"),
        vec!["192.0.2.10"]
    );
    assert_eq!(
        server.dig("www.example.net.", "A").rdata("A"),
        vec!["198.51.100.10"]
    );
    drop(server);

    // Restarted, it answers at once from the published generations.
    let server = s.serve();
    let d = server.dig("www.example.net.", "A");
    assert_eq!(d.rdata("A"), vec!["198.51.100.10"], "{}", d.raw);

    let st = s.json(&["status", "--json"]);
    assert_eq!(st["zones"].as_array().unwrap().len(), 2, "{st}");
}

/// I7 static stability: a restarted server answers from its last-good snapshot while the store
/// is unusable, and never from content that fails its hash.
#[test]
fn restart_with_a_corrupt_store_serves_the_last_good_snapshot() {
    let s = Scratch::new("snapshot");
    let f = s.write("z.zone", &zone(1, &["192.0.2.10"]));
    s.run_ok(&["apply", f.to_str().unwrap()]);
    let f = s.write("z.zone", &zone(2, &["192.0.2.20"]));
    s.run_ok(&["apply", f.to_str().unwrap()]);
    let server = s.serve();
    assert_eq!(
        server.dig("www.example.com.", "A").rdata("A"),
        vec!["192.0.2.20"]
    );
    assert!(server.terminate().success());
    let snapshot = s.dir.join("zonegate.db.snapshots/example.com.snapshot");
    assert!(
        snapshot.exists(),
        "serve must write a snapshot at {}",
        snapshot.display()
    );

    // The store is destroyed: the file is garbage, and its WAL is gone.
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", s.db().display()));
    }
    std::fs::write(s.db(), vec![0x5a; 8192]).unwrap();
    assert_ne!(
        s.run(&["status"]).status.code(),
        Some(0),
        "the store must really be unusable"
    );

    let server = s.serve();
    let d = server.dig("www.example.com.", "A");
    assert_eq!(d.rdata("A"), vec!["192.0.2.20"], "{}", d.raw);
    assert!(d.aa());
    drop(server);

    // A snapshot whose body no longer matches its hash is never served.
    let mut bytes = std::fs::read(&snapshot).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&snapshot, bytes).unwrap();
    let server = s.serve();
    let d = server.dig("www.example.com.", "A");
    assert_eq!(d.status.as_deref(), Some("REFUSED"), "{}", d.raw);
}
