//! `serve` and its store file: a locked store does not delay DNS at start (the snapshots are
//! answered from first), and a database file replaced under a running server is noticed and
//! followed. Both failed before (issue 14, items 3 and 4): the listener bound only after the
//! store's 5 s busy timeout, and a replaced file was never reopened.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use zonegate_testkit::wait_until_every;

fn zone(www: &str) -> String {
    format!(
        "$ORIGIN example.com.\n$TTL 300\n\
         @ IN SOA ns1 hostmaster 1 3600 600 604800 60\n\
         @ IN NS ns1\n\
         ns1 IN A 192.0.2.1\n\
         www IN A {www}\n"
    )
}

fn apply(s: &Scratch, www: &str) {
    let f = s.write("z.zone", &zone(www));
    s.run_ok(&["apply", f.to_str().unwrap(), "--zone", "example.com."]);
}

/// Waits up to `limit` until the server answers `www` with `want`; returns how long it took.
fn wait_for(server: &Server, want: &str, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    wait_until_every(limit, Duration::from_millis(20), || {
        server.dig("www.example.com.", "A").rdata("A") == vec![want.to_string()]
    })
    .map(|_| started.elapsed())
}

/// A `zonegate serve` started without waiting for it to answer.
fn spawn_serve(s: &Scratch) -> Server {
    let addr = free_addr();
    let child = Command::new(BIN)
        .arg("--db")
        .arg(s.db())
        .args(["serve", "--listen", &addr.to_string()])
        .env("ZONEGATE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn zonegate serve");
    Server { child, addr }
}

#[test]
fn a_locked_store_does_not_delay_answers_from_the_snapshot() {
    let s = Scratch::new("locked-start");
    apply(&s, "192.0.2.10");
    let server = s.serve();
    assert!(wait_for(&server, "192.0.2.10", Duration::from_secs(10)).is_some());
    assert!(server.terminate().success());
    assert!(
        s.dir
            .join("zonegate.db.snapshots/example.com.snapshot")
            .exists()
    );

    // Exclusive locking mode and an exclusive transaction: nobody else may even read.
    let lock = SqliteShell::start(
        &s.db(),
        "PRAGMA locking_mode = EXCLUSIVE;\nBEGIN EXCLUSIVE;\nSELECT 'locked';\n",
        "locked",
    );
    let server = spawn_serve(&s);
    let took = wait_for(&server, "192.0.2.10", Duration::from_secs(8))
        .expect("the snapshot is served while the store is locked");
    println!("answered from the snapshot {took:?} after start, with the store locked");
    assert!(
        took < Duration::from_millis(2500),
        "first answer after {took:?}"
    );

    // The store is opened in the background and retried: once the lock is gone, a new
    // publication is followed.
    drop(lock);
    apply(&s, "192.0.2.20");
    assert!(
        wait_for(&server, "192.0.2.20", Duration::from_secs(20)).is_some(),
        "the new generation is served once the store opens"
    );
}

#[test]
fn a_replaced_database_is_reopened_and_followed() {
    let s = Scratch::new("replaced-db");
    apply(&s, "192.0.2.10");
    let server = s.serve();
    assert!(wait_for(&server, "192.0.2.10", Duration::from_secs(10)).is_some());

    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", s.db().display()));
    }
    // A new database at the same path. Its first generation is no newer than the one the
    // server holds (generation 1 of the old file), so a second publication is what the
    // server must pick up: the served generation never goes back.
    apply(&s, "192.0.2.20");
    apply(&s, "192.0.2.30");
    let st = s.json(&["status", "--json"]);
    assert_eq!(st["zones"][0]["published"], 2, "{st}");
    let took = wait_for(&server, "192.0.2.30", Duration::from_secs(10))
        .expect("the replaced database's newest generation is served");
    println!("the replaced database was followed within {took:?}");
}

/// How many times the follower thread of the server `pid` has run so far (each run is a
/// wake-up: the third field of `/proc/PID/task/TID/schedstat`).
#[cfg(target_os = "linux")]
fn follower_runs(pid: u32) -> u64 {
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let dir = task.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap();
        if comm.trim() == "zonegate-follow" {
            let stat = std::fs::read_to_string(dir.join("schedstat")).unwrap();
            return stat.split_whitespace().nth(2).unwrap().parse().unwrap();
        }
    }
    panic!("server {pid} has no zonegate-follow thread");
}

/// An idle server's follower waits to hear of a write to the database instead of looking every
/// `--poll-ms`: at `--poll-ms 1` it used to run over a thousand times a second, each run taking
/// the CPU from a query on a server pinned to one (issue 16). A publication from another
/// process is still served.
#[cfg(target_os = "linux")]
#[test]
fn an_idle_server_follows_the_store_without_polling_it() {
    let s = Scratch::new("idle-follower");
    apply(&s, "192.0.2.10");
    let server = s.serve_with(&["--poll-ms", "1"]);
    assert!(wait_for(&server, "192.0.2.10", Duration::from_secs(10)).is_some());
    let before = follower_runs(server.child.id());
    std::thread::sleep(Duration::from_secs(3));
    let runs = follower_runs(server.child.id()) - before;
    // One look a second, a full pass every 5 s and the target's renewal: a few dozen runs.
    assert!(
        runs < 300,
        "the follower ran {runs} times in 3 s while nothing changed"
    );
    apply(&s, "192.0.2.11");
    let took = wait_for(&server, "192.0.2.11", Duration::from_secs(10))
        .expect("a publication by another process is served");
    println!("idle follower: {runs} runs in 3 s; the next publication served within {took:?}");
}
