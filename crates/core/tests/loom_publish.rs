//! Loom scenarios about publishing: enactors racing each other and the planner.
//!
//! Every store or target operation is followed by a check of I1 (published and target
//! generations never go back), I2 (no published, target-held or pinned plan is deleted) and I3
//! (a target never holds empty or mismatched content; the published plan always decodes).
//! After the threads join, I6 (the target converges to the published generation) and I5
//! (publishing a newly planned, newest plan succeeds) are checked too. The scenarios call the
//! very `gate::{plan, publish, converge, cleanup}` functions the binary runs, against
//! `MemStore` (one critical section per store operation, as SQLite runs one transaction per
//! operation) and `MemTarget` (one critical section per install, as the server's catalog).
//!
//! Run the loom suite (a few minutes in release on two cores, most of it the build):
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" cargo test -p zonegate-core --release --test 'loom_*' \
//!     --target-dir target/loom -- --nocapture
//! ```
//!
//! `LOOM_MAX_PREEMPTIONS=3` explores deeper (slower); the default bound is
//! `loom_common::PREEMPTION_BOUND`.

#![cfg(loom)]

mod loom_common;

use zonegate_core::gate::{self, Generation, PublishOutcome, StepError};

use loom_common::*;

/// S1, the AWS order: A picks g1, the planner writes g4 meanwhile, B publishes the newest plan
/// and cleans up, A publishes g1 (by now stale), and a separate cleaner runs, while the server
/// converges.
#[test]
fn s1_the_aws_order() {
    let contents = Contents::new(&["example.com."], 5);
    explore("S1 the AWS order", move || {
        let world = World::new(&["example.com."], &contents);
        let zone = world.zones[0].clone();
        for n in 1..=3 {
            stage(&world, "planner", &zone, n);
        }
        let z = zone.clone();
        let a = spawn(&world, move |w| publish(w, "enactor A", &z, Some(1)));
        let z = zone.clone();
        let planner = spawn(&world, move |w| stage(w, "planner", &z, 4));
        let z = zone.clone();
        let b = spawn(&world, move |w| {
            let r = publish(w, "enactor B", &z, None);
            cleanup(w, "enactor B", &z);
            r
        });
        let z = zone.clone();
        let cleaner = spawn(&world, move |w| cleanup(w, "cleaner", &z));
        let _ = converge(&world, &zone);
        let a = a.join().expect("enactor A");
        let b = b.join().expect("enactor B");
        planner.join().expect("planner");
        cleaner.join().expect("cleaner");
        assert_enactor_outcome(&world, "enactor A", &a);
        assert_enactor_outcome(&world, "enactor B", &b);
        // Whoever published, g1 never went live over anything newer: if A published, it
        // was first.
        if let Ok(PublishOutcome::Published {
            publish_count: version,
            ..
        }) = a
            && version != 1
        {
            world.fail("I1", format!("enactor A published g1 as version {version}"));
        }
        world.settle();
    });
}

/// S4: A and B publish the same generation: exactly one publication happens.
#[test]
fn s4_two_enactors_publish_the_same_generation() {
    let contents = Contents::new(&["example.com."], 5);
    explore("S4 the same generation twice", move || {
        let world = World::new(&["example.com."], &contents);
        let zone = world.zones[0].clone();
        stage(&world, "planner", &zone, 1);
        publish(&world, "set-up", &zone, Some(1)).expect("g1 publishes");
        stage(&world, "planner", &zone, 2);
        let z = zone.clone();
        let a = spawn(&world, move |w| publish(w, "enactor A", &z, Some(2)));
        let z = zone.clone();
        let b = spawn(&world, move |w| publish(w, "enactor B", &z, Some(2)));
        let z = zone.clone();
        let cleaner = spawn(&world, move |w| cleanup(w, "cleaner", &z));
        let _ = converge(&world, &zone);
        let a = a.join().expect("enactor A");
        let b = b.join().expect("enactor B");
        cleaner.join().expect("cleaner");
        for (who, r) in [("enactor A", &a), ("enactor B", &b)] {
            // The plan is g2's own, and g2 can be published, so nobody may miss or be refused
            // for anything but having lost to the other.
            if !matches!(
                r,
                Ok(_) | Err(StepError::Refused(gate::Refusal::Stale { .. }))
            ) {
                world.fail("outcome", format!("{who}: {r:?}"));
            }
        }
        let publications = world
            .store
            .audit_log()
            .iter()
            .filter(|e| {
                e.action == gate::AuditAction::Published && e.generation == Some(Generation(2))
            })
            .count();
        if publications != 1 || published_now(&world, &zone) != Some(Generation(2)) {
            world.fail(
                "I4",
                format!("g2 was published {publications} times; A: {a:?}, B: {b:?}"),
            );
        }
        world.settle();
    });
}

/// S5: one planner's stream feeds two zones whose generation numbers overlap; A is slow on
/// one of them while B publishes newer plans of both in the other order.
#[test]
fn s5_two_zones_one_plan_stream() {
    let origins = ["example.com.", "example.net."];
    let contents = Contents::new(&origins, 4);
    explore("S5 two zones, one plan stream", move || {
        let world = World::new(&origins, &contents);
        for zone in &world.zones {
            stage(&world, "planner", zone, 1);
            publish(&world, "set-up", zone, Some(1)).expect("g1 publishes");
        }
        for n in 2..=3 {
            for zone in &world.zones {
                stage(&world, "planner", zone, n);
            }
        }
        let (com, net) = (world.zones[0].clone(), world.zones[1].clone());
        let (c, n) = (com.clone(), net.clone());
        let a = spawn(&world, move |w| {
            (
                publish(w, "enactor A", &c, Some(2)),
                publish(w, "enactor A", &n, Some(2)),
            )
        });
        let (c, n) = (com.clone(), net.clone());
        let b = spawn(&world, move |w| {
            (
                publish(w, "enactor B", &n, Some(3)),
                publish(w, "enactor B", &c, Some(3)),
            )
        });
        let (c, n) = (com.clone(), net.clone());
        let cleaner = spawn(&world, move |w| {
            cleanup(w, "cleaner", &c);
            cleanup(w, "cleaner", &n);
        });
        let _ = converge(&world, &com);
        let _ = converge(&world, &net);
        let (a_com, a_net) = a.join().expect("enactor A");
        let (b_net, b_com) = b.join().expect("enactor B");
        cleaner.join().expect("cleaner");
        for (who, r) in [
            ("A com", &a_com),
            ("A net", &a_net),
            ("B net", &b_net),
            ("B com", &b_com),
        ] {
            assert_enactor_outcome(&world, who, r);
        }
        world.settle();
    });
}
