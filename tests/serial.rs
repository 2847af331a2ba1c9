//! Issue 11, items 8 and 6, end to end: the real binary, a real SQLite file, `dig` over
//! loopback.
//!
//! Before the serial was stored with the generation, every server derived it from the
//! generation when it installed it, ignoring the zone file: a zone whose file said 2024010101
//! was served with serial 1, so secondaries that already held 2024010101 never transferred
//! again (1 is older in RFC 1982 terms). Now the publish step decides the serial once and
//! stores it; every server on the store, and every restart, serves that one.
//!
//! Before target rows were leased, a server that was gone for good held clean-up back forever
//! through its row; now a row that is not renewed within `target_lease_s` stops counting.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use zonegate_testkit::wait_until;

fn zone(serial: u32, www: &str) -> String {
    format!(
        "$ORIGIN example.com.\n$TTL 300\n\
         @ IN SOA ns1 hostmaster {serial} 3600 600 604800 60\n\
         @ IN NS ns1\n\
         ns1 IN A 192.0.2.1\n\
         mail IN A 192.0.2.25\n\
         www IN A {www}\n"
    )
}

/// The SOA serial `server` answers for example.com., if it answers one.
fn served_serial(server: &Server) -> Option<u32> {
    let d = server.dig("example.com.", "SOA");
    d.rdata("SOA")
        .first()
        .and_then(|soa| soa.split_whitespace().nth(2))
        .and_then(|s| s.parse().ok())
}

/// Waits (bounded) until `server` serves `serial`, and says what it served last otherwise.
fn assert_serves(server: &Server, serial: u32) {
    let mut last = None;
    let took = wait_until(Duration::from_secs(10), || {
        last = served_serial(server);
        last == Some(serial)
    });
    assert!(
        took.is_some(),
        "{} serves serial {last:?}, not {serial}",
        server.addr
    );
}

/// A zone taken over with serial 2024010101 is served with 2024010101 by two servers on the
/// same store; publishing a file that still says 2024010101 is served with 2024010102 by both,
/// and by a restarted one; `apply`, `status` and `history` show the serial.
#[test]
fn the_file_serial_is_served_and_a_republished_file_gets_one_more() {
    let s = Scratch::new("serial-file");
    let f = s.write("z.zone", &zone(2_024_010_101, "192.0.2.10"));
    let out = s.json(&["apply", f.to_str().unwrap(), "--json"]);
    assert_eq!(out["published"]["serial"], 2_024_010_101, "{out}");

    let snapshots_a = s.dir.join("snapshots-a");
    let snapshots_b = s.dir.join("snapshots-b");
    let a = s.serve_with(&["--snapshot-dir", snapshots_a.to_str().unwrap()]);
    let b = s.serve_with(&["--snapshot-dir", snapshots_b.to_str().unwrap()]);
    assert_serves(&a, 2_024_010_101);
    assert_serves(&b, 2_024_010_101);

    // The next publication of a file whose serial was not raised: one more, on both.
    let f = s.write("z.zone", &zone(2_024_010_101, "192.0.2.20"));
    let out = s.run_ok(&["apply", f.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("serial 2024010102"), "{text}");
    assert_serves(&a, 2_024_010_102);
    assert_serves(&b, 2_024_010_102);
    assert_eq!(
        a.dig("www.example.com.", "A").rdata("A"),
        vec!["192.0.2.20"]
    );

    // A restarted server serves the same serial for the same generation, from its snapshot
    // and from the store.
    a.terminate();
    let a = s.serve_with(&["--snapshot-dir", snapshots_a.to_str().unwrap()]);
    assert_eq!(served_serial(&a), Some(2_024_010_102));

    // A newer file serial is taken as it is.
    let f = s.write("z.zone", &zone(2_024_020_100, "192.0.2.30"));
    s.run_ok(&["apply", f.to_str().unwrap()]);
    assert_serves(&a, 2_024_020_100);
    assert_serves(&b, 2_024_020_100);

    let status = s.json(&["status", "example.com.", "--json"]);
    assert_eq!(status["zones"][0]["serial"], 2_024_020_100, "{status}");
    let history = s.json(&["history", "example.com.", "--json"]);
    let serials: Vec<u64> = history["plans"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["serial"].as_u64())
        .collect();
    assert_eq!(
        serials,
        vec![2_024_010_101, 2_024_010_102, 2_024_020_100],
        "{history}"
    );
}

/// The `increment` policy, chosen in the gate's `[serial]` section, and the old
/// `[server] serial_policy` key, which still works: both are decided at publish.
#[test]
fn serial_policies_are_chosen_where_publishing_happens() {
    let s = Scratch::new("serial-policy");
    let config = s.write("zonegate.toml", "[serial]\npolicy = \"increment\"\n");
    let f = s.write("z.zone", &zone(2_024_010_101, "192.0.2.10"));
    let out = s.json(&[
        "--config",
        config.to_str().unwrap(),
        "apply",
        f.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out["published"]["serial"], 1, "{out}");
    let server = s.serve();
    assert_serves(&server, 1);

    // A config written for the previous release: the policy under [server].
    let old = s.write("old.toml", "[server]\nserial_policy = \"increment\"\n");
    let f = s.write("z.zone", &zone(2_024_010_101, "192.0.2.20"));
    let out = s.json(&[
        "--config",
        old.to_str().unwrap(),
        "apply",
        f.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out["published"]["serial"], 2, "{out}");
    assert_serves(&server, 2);
}

/// The rows of the `targets` table as (target, generation, updated_at).
fn target_rows(s: &Scratch) -> Vec<(String, u64, u64)> {
    let out = Command::new("sqlite3")
        .arg(s.db())
        .arg("SELECT target, generation, updated_at FROM targets ORDER BY target")
        .output()
        .expect("the sqlite3 shell (Debian package sqlite3; .ci/run installs it)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let mut parts = line.split('|');
            let target = parts.next().unwrap().to_string();
            let generation = parts.next().unwrap().parse().unwrap();
            let updated_at = parts.next().unwrap().parse().unwrap();
            (target, generation, updated_at)
        })
        .collect()
}

fn generations(s: &Scratch) -> Vec<u64> {
    let history = s.json(&["history", "example.com.", "--json"]);
    history["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["generation"].as_u64().unwrap())
        .collect()
}

/// A server that is gone for good (killed, never restarted) holds clean-up back only until its
/// row's lease runs out; a live server renews its row; the default target id names the host.
#[test]
fn a_dead_servers_row_stops_holding_cleanup_after_the_lease() {
    let s = Scratch::new("target-lease");
    // Long enough that the steps between the kill and the first clean-up fit in it on a
    // loaded machine (a 2 s lease did not, under a parallel test run).
    let config = s.write("zonegate.toml", "target_lease_s = 6\n");
    let cfg = ["--config", config.to_str().unwrap()];
    let apply = |www: &str| {
        let f = s.write("z.zone", &zone(1, www));
        let mut args = cfg.to_vec();
        args.extend(["apply", f.to_str().unwrap()]);
        s.run_ok(&args);
    };
    apply("192.0.2.10");
    let dead = s.serve_with(&[cfg[0], cfg[1], "--target-id", "dead"]);
    assert_serves(&dead, 1);
    let live = s.serve_with(&cfg);
    assert_serves(&live, 1);
    // The default id: serve@HOST/ADDR.
    let uname = Command::new("uname").arg("-n").output().unwrap();
    let host = String::from_utf8_lossy(&uname.stdout).trim().to_string();
    let live_id = format!("serve@{host}/{}", live.addr);
    // A server may answer from the snapshot the other one wrote before its store is open
    // (`serve/startup.rs`); it records its row once the store is.
    let recorded = wait_until(Duration::from_secs(20), || {
        target_rows(&s)
            .iter()
            .any(|(t, g, _)| *t == live_id && *g == 1)
    });
    assert!(recorded.is_some(), "{:?}", target_rows(&s));
    drop(dead); // SIGKILL: it never renews again.

    apply("192.0.2.20");
    apply("192.0.2.30");
    assert_serves(&live, 3);
    let mut cleanup = cfg.to_vec();
    cleanup.extend(["cleanup", "example.com.", "--keep", "0"]);
    // Within the lease the dead server's g1 holds the horizon: nothing below it to delete.
    s.run_ok(&cleanup);
    assert!(generations(&s).contains(&1), "{:?}", generations(&s));

    // The live server renews its row (every 1.5 s under a 6 s lease); the dead
    // one's row stays as it was until clean-up, past the lease, drops it with the plans it
    // held back.
    let first = target_rows(&s);
    let renewed = wait_until(Duration::from_secs(20), || {
        target_rows(&s)
            .iter()
            .any(|(t, _, at)| *t == live_id && first.iter().any(|(f, _, was)| f == t && at > was))
    });
    assert!(
        renewed.is_some(),
        "{live_id} never renewed: {:?}",
        target_rows(&s)
    );
    let released = wait_until(Duration::from_secs(20), || {
        s.run_ok(&cleanup);
        generations(&s) == vec![3]
    });
    assert!(
        released.is_some(),
        "the dead server still holds clean-up back: {:?}, targets {:?}",
        generations(&s),
        target_rows(&s)
    );
    let rows = target_rows(&s);
    assert!(rows.iter().all(|(t, _, _)| t != "dead"), "{rows:?}");
    assert!(
        rows.iter().any(|(t, g, _)| *t == live_id && *g == 3),
        "{rows:?}"
    );
    assert_serves(&live, 3);
}
