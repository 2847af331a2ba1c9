//! # Multi-host stress: the October race on one shared PostgreSQL, with two servers following it
//!
//! The setup of issue 11, on one machine: four `zonegate publish` enactor processes, a
//! `zonegate plan` planner and two `zonegate cleanup --keep 2` cleaners, all on two zones, run
//! in loops against one real PostgreSQL (a throwaway cluster from the testkit), with the
//! test-only random delays between check and act (`ZONEGATE_TEST_DELAY_MAX_MS`). Two
//! `zonegate serve` processes, each with its own snapshot directory as on two hosts, follow the
//! store by LISTEN/NOTIFY and are probed over UDP the whole time. PostgreSQL is stopped and
//! started again once in the middle: the servers must keep answering from what they hold, the
//! commands fail with exit 1 while it is down, and everything picks up again once it is back.
//!
//! The loops, the prober and the monitor are `tests/churn.rs`, shared with `tests/stress.rs`
//! (one SQLite file). It fails on any violation (a generation or served content going back on
//! either server, in `status` or in the audit log; an empty or SERVFAIL answer; a published plan
//! missing), if no enactor lost a race, or if either server has not converged on the newest
//! publication of both zones within 5 s of the end.
//!
//! Bounded: the churn stops after `CHURN` of wall time or `PLANS_MAX` plans, whichever comes
//! first; the whole test takes about a minute.

#![allow(clippy::too_many_lines)] // One scenario end to end.

mod churn;
mod common;

use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use churn::{Churn, Tally, json_of};
use common::*;
use zonegate_testkit::postgres::PgCluster;
use zonegate_testkit::wait_until;

const ZONES: [&str; 2] = ["example.com.", "example.net."];
/// Concurrent `zonegate publish` loops, each on both zones in turn.
const ENACTORS: usize = 4;
/// Concurrent `zonegate cleanup` loops, each on both zones in turn.
const CLEANERS: usize = 2;
/// Wall-time bound of the churn phase.
const CHURN: Duration = Duration::from_secs(40);
/// When PostgreSQL is stopped, and for how long.
const OUTAGE_AT: Duration = Duration::from_secs(15);
const OUTAGE: Duration = Duration::from_secs(2);
/// Count bound of the churn phase.
const PLANS_MAX: u64 = 4_000;
/// Upper bound of the random delay before each publish compare-and-swap and each clean-up.
const DELAY_MAX_MS: &str = "20";
/// Pause between two rounds of probes of one server.
const PROBE_PAUSE: Duration = Duration::from_millis(10);
/// How soon after the end both servers must serve the newest publication.
const CONVERGE: Duration = Duration::from_secs(5);

/// Whether `server` answers `gen.ZONE TXT` with content `n`.
fn serves(server: &Server, zone: &str, n: u64) -> bool {
    server.dig(&format!("gen.{zone}"), "TXT").rdata("TXT") == vec![format!("\"{n}\"")]
}

#[test]
fn four_enactors_planner_two_cleaners_two_servers_on_postgresql_restarted() {
    let cluster = PgCluster::start();
    let s = Scratch::on_postgres("multihost", &cluster);
    let mut c = Churn::new(&s, &ZONES, DELAY_MAX_MS, CHURN, PLANS_MAX);
    // Two servers with two zones each: a slower pace per server than the one-server test,
    // so that the probes leave the two shared cores to the processes under test.
    c.probe_pause = PROBE_PAUSE;

    // Content 1 of both zones is published before the servers start, so every probe has
    // something to see.
    for z in 0..ZONES.len() {
        let out = s.run_ok(&["apply", c.zone_file(z, 1).to_str().unwrap(), "--json"]);
        assert_eq!(
            json_of(&out).unwrap()["generation"],
            1,
            "{}",
            describe(&out)
        );
    }
    let servers: Vec<Server> = (0..2)
        .map(|i| {
            let dir = s.dir.join(format!("host-{i}-snapshots"));
            s.serve_with(&["--snapshot-dir", dir.to_str().unwrap()])
        })
        .collect();
    for server in &servers {
        let served = wait_until(Duration::from_secs(10), || {
            ZONES.iter().all(|zone| serves(server, zone, 1))
        });
        assert!(served.is_some(), "{} does not serve content 1", server.addr);
    }

    let t = &c.tally;
    let g = Tally::get;
    let mut during_outage = (0, 0, 0);
    let mut published_before_back = 0;
    thread::scope(|scope| {
        let c = &c;
        scope.spawn(move || c.planner());
        for i in 0..ENACTORS {
            scope.spawn(move || c.enactor(i));
        }
        for i in 0..CLEANERS {
            scope.spawn(move || c.cleaner(i));
        }
        scope.spawn(move || c.monitor());
        let probers: Vec<_> = servers
            .iter()
            .map(|server| {
                let addr = server.addr;
                scope.spawn(move || c.probe(addr))
            })
            .collect();

        // PostgreSQL goes away once in the middle, and comes back on the same port.
        while c.elapsed() < OUTAGE_AT && !c.stop_churn.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(50));
        }
        let (probes, timeouts) = (g(&t.probes), g(&t.probe_timeouts));
        c.outage.begin();
        let down = Instant::now();
        cluster.stop();
        thread::sleep(OUTAGE);
        during_outage = (
            g(&t.probes) - probes,
            g(&t.probe_timeouts) - timeouts,
            down.elapsed().as_millis(),
        );
        published_before_back = g(&t.published);
        cluster.restart();
        c.outage.end();

        // Churn until the planner stops, then give the enactors a moment to finish what they
        // picked up, and stop everything.
        while !c.stop_churn.load(Ordering::SeqCst) {
            assert!(
                c.elapsed() < CHURN + Duration::from_secs(30),
                "the planner did not stop"
            );
            thread::sleep(Duration::from_millis(50));
        }
        thread::sleep(Duration::from_secs(2));
        c.stop_all.store(true, Ordering::SeqCst);
        for (server, prober) in servers.iter().zip(probers) {
            let last = prober.join().expect("prober");
            println!(
                "last contents {} probed during the churn: {last:?}",
                server.addr
            );
        }
    });
    let churn = c.elapsed();

    // Once the churn is over, a new plan of each zone publishes, and both servers serve both
    // within CONVERGE.
    let newest: Vec<u64> = (0..ZONES.len()).map(|z| c.publish_newest(z)).collect();
    let converged = wait_until(CONVERGE, || {
        servers.iter().all(|server| {
            ZONES
                .iter()
                .zip(&newest)
                .all(|(zone, n)| serves(server, zone, *n))
        })
    });

    // In each zone's audit log, every publication is newer than the one before it.
    let audit: Vec<(Vec<u64>, usize)> = ZONES.iter().map(|zone| c.publications(zone)).collect();
    let published_in_log: usize = audit.iter().map(|(p, _)| p.len()).sum();
    let went_back: usize = audit.iter().map(|(_, w)| w).sum();

    let violations = t.violations.lock().unwrap().clone();
    println!(
        "multihost: {churn:.1?} of churn on one PostgreSQL, zones {ZONES:?}, {ENACTORS} enactors, \
         1 planner, {CLEANERS} cleaners, 2 servers, delays 0..={DELAY_MAX_MS} ms\n\
         generations planned: {}\n\
         generations published: {published_in_log} (in the audit logs; out of order: \
         {went_back})\n\
         {}\n\
         PostgreSQL down for {} ms: {} probes sent meanwhile, {} timed out; \
         {} publications before it came back, {} in all\n\
         converged on {newest:?} {}\n\
         violations seen: {}",
        g(&t.planned) + ZONES.len() as u64,
        t.summary(),
        during_outage.2,
        during_outage.0,
        during_outage.1,
        published_before_back,
        g(&t.published),
        converged.map_or("NEVER".into(), |d| format!("in {d:.1?}")),
        violations.len(),
    );
    assert!(
        violations.is_empty(),
        "violations:\n{}",
        violations.join("\n")
    );
    assert_eq!(went_back, 0, "publications out of order: {audit:?}");
    assert!(
        converged.is_some(),
        "the servers did not both serve {newest:?} within {CONVERGE:?}"
    );
    assert!(g(&t.stale) > 0, "no enactor ever lost a race");
    // The run must have been a real race through a real outage, not a procession.
    assert!(g(&t.planned) >= 20, "too few generations to mean anything");
    assert!(
        g(&t.published) > published_before_back,
        "nothing was published after PostgreSQL came back"
    );
    assert!(g(&t.unavailable) > 0, "no command noticed the outage");
    assert!(g(&t.deleted) > 0, "clean-up never deleted anything");
    assert!(
        during_outage.0 > during_outage.1,
        "the servers did not answer while PostgreSQL was down"
    );
    assert!(g(&t.probes) >= 500, "too few probes to mean anything");
}
