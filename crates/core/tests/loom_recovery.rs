//! Loom scenario about recovery: a lost published body never wedges publication (I5).
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

use zonegate_core::gate::Generation;

use loom_common::*;

/// S7: recovery. The published plan's body is lost (corrupted, or the row deleted behind the
/// store's back); A publishes the next plan, the planner re-plans, B publishes the newest.
/// Nothing may wedge: after join, a new plan publishes and the target converges to it (I5).
#[test]
fn s7_a_missing_live_body_never_blocks_later_plans() {
    let contents = Contents::new(&["example.com."], 5);
    for removed in [false, true] {
        let contents = contents.clone();
        let label = if removed {
            "S7 recovery, live plan row deleted"
        } else {
            "S7 recovery, live plan body corrupted"
        };
        explore(label, move || {
            let world = World::new(&["example.com."], &contents);
            let zone = world.zones[0].clone();
            stage(&world, "planner", &zone, 1);
            publish(&world, "set-up", &zone, Some(1)).expect("g1 publishes");
            stage(&world, "planner", &zone, 2);
            world
                .damaged
                .lock()
                .expect("damaged")
                .push((zone.clone(), Generation(1)));
            let broken = if removed {
                world.store.remove_plan(&zone, Generation(1))
            } else {
                world.store.corrupt_body(&zone, Generation(1))
            };
            assert!(broken, "fault injection found g1");
            world.note(format!(
                "fault: g1's {} (live plan)",
                if removed {
                    "row is deleted"
                } else {
                    "body is corrupted"
                }
            ));
            let z = zone.clone();
            let a = spawn(&world, move |w| publish(w, "enactor A", &z, Some(2)));
            let z = zone.clone();
            let planner = spawn(&world, move |w| stage(w, "planner", &z, 3));
            let z = zone.clone();
            let b = spawn(&world, move |w| publish(w, "enactor B", &z, None));
            let _ = converge(&world, &zone);
            let a = a.join().expect("enactor A");
            let b = b.join().expect("enactor B");
            planner.join().expect("planner");
            assert_enactor_outcome(&world, "enactor A", &a);
            assert_enactor_outcome(&world, "enactor B", &b);
            // The damaged g1 is never served.
            if world
                .target
                .installs()
                .iter()
                .any(|(_, g)| *g == Generation(1))
            {
                world.fail("I3", "the target installed the damaged g1".into());
            }
            world.settle();
        });
    }
}
