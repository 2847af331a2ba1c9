//! # Stress: the October race with real processes, a real SQLite file and a real DNS socket
//!
//! The loom suite (`crates/core/tests/loom.rs`) proves the protocol free of the October 2025
//! race on a model of the store. This test checks the same promises on the real thing: several
//! `zonegate publish` enactor processes, a `zonegate plan` planner and a
//! `zonegate cleanup --keep 2` cleaner run in loops against one SQLite file for a bounded time,
//! while a `zonegate serve` answers DNS over UDP and is probed the whole time.
//!
//! The enactors and the cleaner run with the test-only setting `ZONEGATE_TEST_DELAY_MAX_MS`
//! (see `crates/cli/src/chaos.rs`): each sleeps a random while between reading the world and
//! acting on it, which is the stall that let AWS's enactor A overwrite a newer plan.
//!
//! Every plan's content says which generation it is (`gen.example.com TXT "n"`) next to a
//! stable `www` A RRset. Checked throughout:
//! - no probe sees SERVFAIL or an empty answer, and `www` always has its full RRset (I3);
//! - the generation the server answers with never goes back (I1);
//! - the published plan is never missing from the store (I2), in `status --json` and in
//!   `history --json`;
//! - the published generation never goes back, and in the audit log every publication is
//!   newer than the one before (I1);
//! - at the end, a new plan publishes and the server converges to it (I5, I6).
//!
//! Bounded: the churn phase stops after `CHURN` of wall time or `GENERATIONS_MAX` plans,
//! whichever comes first; the whole test takes under a minute.

#![allow(clippy::too_many_lines)] // Long test functions: each walks one scenario end to end.

mod common;

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use zonegate_testkit::{dns, wait_until};

const ORIGIN: &str = "example.com.";
/// Concurrent `zonegate publish` loops.
const ENACTORS: usize = 3;
/// Wall-time bound of the churn phase.
const CHURN: Duration = Duration::from_secs(50);
/// Count bound of the churn phase.
const GENERATIONS_MAX: u64 = 5_000;
/// Upper bound of the random delay before each publish compare-and-swap and each clean-up.
const DELAY_MAX_MS: &str = "20";
/// Pause between two rounds of probes.
const PROBE_PAUSE: Duration = Duration::from_millis(3);
const WWW: [&str; 2] = ["192.0.2.10", "192.0.2.11"];

fn zone_text(n: u64) -> String {
    format!(
        "$ORIGIN example.com.\n$TTL 60\n\
         @ SOA ns1 hostmaster {n} 3600 600 604800 60\n\
         @ NS ns1\nns1 A 192.0.2.1\nwww A {}\nwww A {}\ngen TXT \"{n}\"\n",
        WWW[0], WWW[1]
    )
}

/// Shared tallies; every violation is kept with what was seen.
#[derive(Default)]
struct Tally {
    violations: Mutex<Vec<String>>,
    planned: AtomicU64,
    published: AtomicU64,
    stale: AtomicU64,
    already: AtomicU64,
    publish_other: AtomicU64,
    cleanups: AtomicU64,
    deleted: AtomicU64,
    probes: AtomicU64,
    probe_timeouts: AtomicU64,
    monitor_reads: AtomicU64,
}

impl Tally {
    fn violation(&self, what: String) {
        eprintln!("VIOLATION: {what}");
        self.violations.lock().unwrap().push(what);
    }
}

fn zonegate(db: &std::path::Path, args: &[&str], delay: bool) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("--db")
        .arg(db)
        .args(args)
        .env_remove("ZONEGATE_DB")
        .env_remove("ZONEGATE_CONFIG")
        .env("ZONEGATE_LOG", "error")
        .stdin(Stdio::null());
    if delay {
        cmd.env("ZONEGATE_TEST_DELAY_MAX_MS", DELAY_MAX_MS);
    } else {
        cmd.env_remove("ZONEGATE_TEST_DELAY_MAX_MS");
    }
    cmd.output().expect("run zonegate")
}

fn json_of(out: &Output) -> Option<serde_json::Value> {
    serde_json::from_slice(&out.stdout).ok()
}

// ---------------------------------------------------------------------------------------------
// One question over UDP (the testkit's client), the answer section as (type, rdata).
// ---------------------------------------------------------------------------------------------

const TYPE_A: u16 = 1;
const TYPE_TXT: u16 = 16;

struct Reply {
    rcode: u8,
    aa: bool,
    /// (type, rdata) of every answer record.
    answers: Vec<(u16, Vec<u8>)>,
}

fn ask(socket: &UdpSocket, server: SocketAddr, id: u16, name: &str, qtype: u16) -> Option<Reply> {
    let m = dns::query(id, name, qtype.into());
    let reply = dns::ask_blocking(socket, server, &m, Duration::from_secs(1))?;
    Some(Reply {
        rcode: (u16::from(reply.metadata.response_code) & 0x0F) as u8,
        aa: reply.metadata.authoritative,
        answers: dns::core_records(&reply.answers)
            .into_iter()
            .map(|r| (r.rtype.0, r.rdata.into_vec()))
            .collect(),
    })
}

/// The generation the server answers with: the number in `gen.example.com TXT`.
fn txt_generation(reply: &Reply) -> Option<u64> {
    let (_, rdata) = reply.answers.iter().find(|(t, _)| *t == TYPE_TXT)?;
    let (len, text) = rdata.split_first()?;
    std::str::from_utf8(text.get(..usize::from(*len))?)
        .ok()?
        .parse()
        .ok()
}

/// Probes the server until `stop`, checking every answer. Returns the last generation seen.
fn probe(server: SocketAddr, stop: &AtomicBool, tally: &Tally) -> u64 {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let www: BTreeSet<Vec<u8>> = WWW
        .iter()
        .map(|a| a.parse::<std::net::Ipv4Addr>().unwrap().octets().to_vec())
        .collect();
    let mut last = 0;
    let mut id: u16 = 0;
    while !stop.load(Ordering::SeqCst) {
        // A few hundred questions a second: enough to catch a bad answer between two
        // publications, without starving the processes under test of CPU.
        thread::sleep(PROBE_PAUSE);
        for (name, qtype) in [("gen.example.com.", TYPE_TXT), ("www.example.com.", TYPE_A)] {
            id = id.wrapping_add(1);
            tally.probes.fetch_add(1, Ordering::Relaxed);
            let Some(reply) = ask(&socket, server, id, name, qtype) else {
                tally.probe_timeouts.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            if reply.rcode != 0 || !reply.aa {
                tally.violation(format!(
                    "{name} answered rcode {} (aa {}), not an authoritative NOERROR",
                    reply.rcode, reply.aa
                ));
                continue;
            }
            if reply.answers.is_empty() {
                tally.violation(format!("{name} answered EMPTY"));
                continue;
            }
            if qtype == TYPE_TXT {
                match txt_generation(&reply) {
                    Some(g) if g < last => tally.violation(format!(
                        "the served generation went back from {last} to {g}"
                    )),
                    Some(g) => last = g,
                    None => tally.violation("gen TXT without a generation".into()),
                }
            } else {
                let got: BTreeSet<Vec<u8>> = reply
                    .answers
                    .iter()
                    .filter(|(t, _)| *t == TYPE_A)
                    .map(|(_, r)| r.clone())
                    .collect();
                if got != www {
                    tally.violation(format!("www answered {got:?}, not the full RRset"));
                }
            }
        }
    }
    last
}

/// Reads `status --json` and `history --json` until `stop`: the published plan must exist and
/// the published generation never go back.
fn monitor(db: &std::path::Path, stop: &AtomicBool, tally: &Tally) {
    let mut last = 0;
    while !stop.load(Ordering::SeqCst) {
        let out = zonegate(db, &["status", ORIGIN, "--json"], false);
        tally.monitor_reads.fetch_add(1, Ordering::Relaxed);
        match json_of(&out) {
            Some(v) => {
                let z = &v["zones"][0];
                match z["published"].as_u64() {
                    Some(g) if g < last => tally.violation(format!(
                        "status: the published generation went back from {last} to {g}"
                    )),
                    Some(g) => last = g,
                    None => tally.violation(format!("status: nothing published: {z}")),
                }
                if z["hash"].is_null() || z["record_count"].is_null() {
                    tally.violation(format!("status: the published plan is missing: {z}"));
                }
            }
            None => tally.violation(format!("status failed:\n{}", describe(&out))),
        }
        let out = zonegate(db, &["history", ORIGIN, "--json", "--limit", "1"], false);
        tally.monitor_reads.fetch_add(1, Ordering::Relaxed);
        match json_of(&out) {
            Some(v) => {
                let published: Vec<u64> = v["plans"]
                    .as_array()
                    .map(|plans| {
                        plans
                            .iter()
                            .filter(|p| p["status"] == "published")
                            .filter_map(|p| p["generation"].as_u64())
                            .collect()
                    })
                    .unwrap_or_default();
                if published.len() != 1 || published[0] < last {
                    tally.violation(format!(
                        "history: published plans {published:?} (status said {last})"
                    ));
                }
            }
            None => tally.violation(format!("history failed:\n{}", describe(&out))),
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn enactors_planner_cleaner_and_a_server_under_random_delays() {
    let s = Scratch::new("stress");
    let db = s.db();
    let zone_file = |n: u64| s.write(&format!("gen-{n}.zone"), &zone_text(n));

    // g1 is published before the server starts, so every probe has something to see.
    let out = s.run_ok(&["apply", zone_file(1).to_str().unwrap(), "--json"]);
    let v = json_of(&out).expect("apply prints JSON");
    assert_eq!(v["generation"], 1, "{v}");
    let server = s.serve();
    let served = wait_until(Duration::from_secs(10), || {
        server.dig("gen.example.com.", "TXT").rdata("TXT") == vec!["\"1\""]
    });
    assert!(served.is_some(), "the server does not serve g1");

    let tally = Arc::new(Tally::default());
    tally.planned.store(1, Ordering::SeqCst);
    let stop_churn = Arc::new(AtomicBool::new(false));
    let stop_all = Arc::new(AtomicBool::new(false));
    let newest = Arc::new(AtomicU64::new(1));
    let started = Instant::now();

    thread::scope(|scope| {
        // The planner: one plan after another, each content saying its own generation.
        {
            let (tally, stop, newest, db) = (&tally, &stop_churn, &newest, &db);
            let zone_file = &zone_file;
            scope.spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let n = newest.load(Ordering::SeqCst) + 1;
                    let path = zone_file(n);
                    let out = zonegate(db, &["plan", path.to_str().unwrap(), "--json"], false);
                    let _ = std::fs::remove_file(&path);
                    let Some(v) = json_of(&out) else {
                        tally.violation(format!("plan {n} failed:\n{}", describe(&out)));
                        continue;
                    };
                    if v["outcome"] != "staged" || v["generation"] != n {
                        tally.violation(format!("plan {n} was not staged as g{n}: {v}"));
                        continue;
                    }
                    newest.store(n, Ordering::SeqCst);
                    tally.planned.fetch_add(1, Ordering::Relaxed);
                    if n >= GENERATIONS_MAX || started.elapsed() >= CHURN {
                        stop.store(true, Ordering::SeqCst);
                    }
                }
            });
        }
        // The enactors: publish the newest plan, over and over, with random stalls.
        for _ in 0..ENACTORS {
            let (tally, stop, db) = (&tally, &stop_all, &db);
            scope.spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let out = zonegate(db, &["publish", ORIGIN, "--json"], true);
                    let v = json_of(&out).unwrap_or_default();
                    match (out.status.code(), v["outcome"].as_str()) {
                        (Some(0), Some("published")) => &tally.published,
                        (Some(0), Some("already-published")) => &tally.already,
                        (Some(4), _) => &tally.stale,
                        _ => {
                            tally.violation(format!("publish failed:\n{}", describe(&out)));
                            &tally.publish_other
                        }
                    }
                    .fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        // The cleaner: the most eager clean-up the CLI offers, with random stalls.
        {
            let (tally, stop, db) = (&tally, &stop_all, &db);
            scope.spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let out = zonegate(db, &["cleanup", ORIGIN, "--keep", "2", "--json"], true);
                    match json_of(&out).and_then(|v| v["deleted"].as_u64()) {
                        Some(n) if out.status.success() => {
                            tally.cleanups.fetch_add(1, Ordering::Relaxed);
                            tally.deleted.fetch_add(n, Ordering::Relaxed);
                        }
                        _ => tally.violation(format!("cleanup failed:\n{}", describe(&out))),
                    }
                }
            });
        }
        // The observers.
        {
            let (tally, stop, db) = (&tally, &stop_all, &db);
            scope.spawn(move || monitor(db, stop, tally));
        }
        let prober = {
            let (tally, stop) = (&tally, &stop_all);
            let addr = server.addr;
            scope.spawn(move || probe(addr, stop, tally))
        };

        // Churn until the planner stops, then give the enactors a moment to finish what they
        // picked up, and stop everything.
        while !stop_churn.load(Ordering::SeqCst) {
            assert!(
                started.elapsed() < CHURN + Duration::from_secs(20),
                "the planner did not stop"
            );
            thread::sleep(Duration::from_millis(50));
        }
        thread::sleep(Duration::from_secs(2));
        stop_all.store(true, Ordering::SeqCst);
        let last_probed = prober.join().expect("prober");
        println!("last generation a probe saw during the churn: g{last_probed}");
    });
    let churn = started.elapsed();

    // I5 and I6: once the churn is over, a new plan on top of whatever it left publishes, and
    // the server converges to it.
    let n = newest.load(Ordering::SeqCst) + 1;
    let out = s.run_ok(&["plan", zone_file(n).to_str().unwrap(), "--json"]);
    assert_eq!(
        json_of(&out).unwrap()["generation"],
        n,
        "{}",
        describe(&out)
    );
    let out = s.run(&["publish", ORIGIN, "--json"]);
    let v = json_of(&out).unwrap_or_default();
    assert_eq!(
        (
            out.status.code(),
            v["outcome"].as_str(),
            v["generation"].as_u64()
        ),
        (Some(0), Some("published"), Some(n)),
        "publishing the newest plan after the churn:\n{}",
        describe(&out)
    );
    let converged = wait_until(Duration::from_secs(10), || {
        server.dig("gen.example.com.", "TXT").rdata("TXT") == vec![format!("\"{n}\"")]
    });
    let status = s.json(&["status", ORIGIN, "--json"]);
    assert_eq!(status["zones"][0]["published"], n, "{status}");
    assert_eq!(status["zones"][0]["newest"], n, "{status}");

    // In the audit log, every publication is newer than the one before it.
    let history = s.json(&["history", ORIGIN, "--json", "--limit", "1000000"]);
    let mut publications: Vec<u64> = history["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "published")
        .filter_map(|a| a["generation"].as_u64())
        .collect();
    publications.reverse(); // the log is printed newest first
    let went_back = publications.windows(2).filter(|w| w[1] <= w[0]).count();

    let t = &tally;
    let violations = t.violations.lock().unwrap().clone();
    println!(
        "stress: {:.1?} of churn with {ENACTORS} enactors, delays 0..={DELAY_MAX_MS} ms\n\
         generations planned: {}\n\
         generations published: {} (in the audit log; out of order: {went_back})\n\
         publish attempts: {} published, {} already published, {} stale or missing, {} other\n\
         clean-ups: {} runs, {} plans deleted\n\
         probes sent: {} ({} timed out), store reads by the monitor: {}\n\
         converged to g{n} {}\n\
         violations seen: {}",
        churn,
        t.planned.load(Ordering::SeqCst) + 1,
        publications.len(),
        t.published.load(Ordering::SeqCst),
        t.already.load(Ordering::SeqCst),
        t.stale.load(Ordering::SeqCst),
        t.publish_other.load(Ordering::SeqCst),
        t.cleanups.load(Ordering::SeqCst),
        t.deleted.load(Ordering::SeqCst),
        t.probes.load(Ordering::SeqCst),
        t.probe_timeouts.load(Ordering::SeqCst),
        t.monitor_reads.load(Ordering::SeqCst),
        converged.map_or("NEVER".into(), |d| format!("in {d:.1?}")),
        violations.len(),
    );
    assert!(
        violations.is_empty(),
        "violations:\n{}",
        violations.join("\n")
    );
    assert_eq!(went_back, 0, "publications out of order: {publications:?}");
    assert!(converged.is_some(), "the server never served g{n}");
    // The run must have been a real race, not a procession.
    assert!(
        t.planned.load(Ordering::SeqCst) >= 200,
        "too few generations to mean anything"
    );
    assert!(
        t.published.load(Ordering::SeqCst) >= 50,
        "too few publications"
    );
    assert!(
        t.stale.load(Ordering::SeqCst) > 0,
        "no enactor ever lost a race"
    );
    assert!(
        t.deleted.load(Ordering::SeqCst) > 0,
        "clean-up never deleted anything"
    );
    assert!(
        t.probes.load(Ordering::SeqCst) >= 500,
        "too few probes to mean anything"
    );
}
