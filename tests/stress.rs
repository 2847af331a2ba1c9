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
//! The loops, the prober and the monitor are `tests/churn.rs`, shared with the multi-host test
//! on PostgreSQL (`tests/multihost.rs`); what they check throughout is written there. At the
//! end, in the audit log every publication is newer than the one before (I1), and a new plan
//! publishes and the server converges to it (I5, I6).
//!
//! Bounded: the churn phase stops after `CHURN` of wall time or `GENERATIONS_MAX` plans,
//! whichever comes first; the whole test takes under a minute.

#![allow(clippy::too_many_lines)] // Long test functions: each walks one scenario end to end.

mod churn;
mod common;

use std::thread;
use std::time::Duration;

use churn::{Churn, Tally};
use common::*;
use zonegate_testkit::wait_until;

const ORIGIN: &str = "example.com.";
/// Concurrent `zonegate publish` loops.
const ENACTORS: usize = 3;
/// Wall-time bound of the churn phase.
const CHURN: Duration = Duration::from_secs(50);
/// Count bound of the churn phase.
const GENERATIONS_MAX: u64 = 5_000;
/// Upper bound of the random delay before each publish compare-and-swap and each clean-up.
const DELAY_MAX_MS: &str = "20";

#[test]
fn enactors_planner_cleaner_and_a_server_under_random_delays() {
    let s = Scratch::new("stress");
    let zones = [ORIGIN];
    let c = Churn::new(&s, &zones, DELAY_MAX_MS, CHURN, GENERATIONS_MAX);

    // g1 is published before the server starts, so every probe has something to see.
    let out = s.run_ok(&["apply", c.zone_file(0, 1).to_str().unwrap(), "--json"]);
    let v = churn::json_of(&out).expect("apply prints JSON");
    assert_eq!(v["generation"], 1, "{v}");
    let server = s.serve();
    let served = wait_until(Duration::from_secs(10), || {
        server.dig("gen.example.com.", "TXT").rdata("TXT") == vec!["\"1\""]
    });
    assert!(served.is_some(), "the server does not serve g1");

    thread::scope(|scope| {
        let c = &c;
        scope.spawn(move || c.planner());
        for i in 0..ENACTORS {
            scope.spawn(move || c.enactor(i));
        }
        scope.spawn(move || c.cleaner(0));
        scope.spawn(move || c.monitor());
        let addr = server.addr;
        let prober = scope.spawn(move || c.probe(addr));

        // Churn until the planner stops, then give the enactors a moment to finish what they
        // picked up, and stop everything.
        while !c.stop_churn.load(std::sync::atomic::Ordering::SeqCst) {
            assert!(
                c.elapsed() < CHURN + Duration::from_secs(20),
                "the planner did not stop"
            );
            thread::sleep(Duration::from_millis(50));
        }
        thread::sleep(Duration::from_secs(2));
        c.stop_all.store(true, std::sync::atomic::Ordering::SeqCst);
        let last_probed = prober.join().expect("prober");
        println!(
            "last generation a probe saw during the churn: g{}",
            last_probed[0]
        );
    });
    let churn = c.elapsed();

    // I5 and I6: once the churn is over, a new plan on top of whatever it left publishes, and
    // the server converges to it.
    let n = c.publish_newest(0);
    let converged = wait_until(Duration::from_secs(10), || {
        server.dig("gen.example.com.", "TXT").rdata("TXT") == vec![format!("\"{n}\"")]
    });
    let status = s.json(&["status", ORIGIN, "--json"]);
    assert_eq!(status["zones"][0]["published"], n, "{status}");
    assert_eq!(status["zones"][0]["newest"], n, "{status}");

    // In the audit log, every publication is newer than the one before it.
    let (publications, went_back) = c.publications(ORIGIN);

    let t = &c.tally;
    let g = Tally::get;
    let violations = t.violations.lock().unwrap().clone();
    println!(
        "stress: {:.1?} of churn with {ENACTORS} enactors, delays 0..={DELAY_MAX_MS} ms\n\
         generations planned: {}\n\
         generations published: {} (in the audit log; out of order: {went_back})\n\
         {}\n\
         converged to g{n} {}\n\
         violations seen: {}",
        churn,
        g(&t.planned) + 1,
        publications.len(),
        t.summary(),
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
    assert!(g(&t.planned) >= 200, "too few generations to mean anything");
    assert!(g(&t.published) >= 50, "too few publications");
    assert!(g(&t.stale) > 0, "no enactor ever lost a race");
    assert!(g(&t.deleted) > 0, "clean-up never deleted anything");
    assert!(g(&t.probes) >= 500, "too few probes to mean anything");
}
