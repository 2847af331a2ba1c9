//! Loom scenarios about clean-up racing publication: it never deletes a live plan (I2).
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

use loom::future::block_on;
use zonegate_core::gate::chain::CheckpointWhen;
use zonegate_core::gate::{
    Compaction, Generation, PublishOutcome, StepError, Store, StoreSettings,
};

use loom_common::*;

/// S2: B publishes g4 and deletes g1–g2, A publishes g3, and B's next clean-up runs.
#[test]
fn s2_cleanup_then_a_late_publish() {
    let contents = Contents::new(&["example.com."], 5);
    explore("S2 clean-up, then a late publish", move || {
        let world = World::new(&["example.com."], &contents);
        let zone = world.zones[0].clone();
        stage(&world, "planner", &zone, 1);
        publish(&world, "set-up", &zone, Some(1)).expect("g1 publishes");
        for n in 2..=4 {
            stage(&world, "planner", &zone, n);
        }
        let z = zone.clone();
        let b = spawn(&world, move |w| {
            let r = publish(w, "enactor B", &z, Some(4));
            cleanup(w, "enactor B", &z);
            cleanup(w, "enactor B", &z);
            r
        });
        let z = zone.clone();
        let a = spawn(&world, move |w| publish(w, "enactor A", &z, Some(3)));
        let _ = converge(&world, &zone);
        let a = a.join().expect("enactor A");
        let b = b.join().expect("enactor B");
        assert_enactor_outcome(&world, "enactor A", &a);
        assert_enactor_outcome(&world, "enactor B", &b);
        // Both were planned on g1, so at most one of them can have been published.
        let winners = [&a, &b]
            .iter()
            .filter(|r| matches!(r, Ok(PublishOutcome::Published { .. })))
            .count();
        if winners != 1 {
            world.fail(
                "I1",
                format!("{winners} of A ({a:?}) and B ({b:?}) published"),
            );
        }
        world.settle();
    });
}

/// S3: clean-up runs while A is about to publish g2, and B publishes g3 over the same base.
#[test]
fn s3_cleanup_deletes_the_plan_a_is_about_to_publish() {
    let contents = Contents::new(&["example.com."], 5);
    explore("S3 clean-up vs the plan A is about to publish", move || {
        let world = World::new(&["example.com."], &contents);
        let zone = world.zones[0].clone();
        stage(&world, "planner", &zone, 1);
        publish(&world, "set-up", &zone, Some(1)).expect("g1 publishes");
        stage(&world, "planner", &zone, 2);
        stage(&world, "planner", &zone, 3);
        let z = zone.clone();
        let a = spawn(&world, move |w| publish(w, "enactor A", &z, Some(2)));
        let z = zone.clone();
        let b = spawn(&world, move |w| publish(w, "enactor B", &z, Some(3)));
        let z = zone.clone();
        let cleaner = spawn(&world, move |w| cleanup(w, "cleaner", &z));
        let _ = converge(&world, &zone);
        let a = a.join().expect("enactor A");
        let b = b.join().expect("enactor B");
        cleaner.join().expect("cleaner");
        assert_enactor_outcome(&world, "enactor A", &a);
        assert_enactor_outcome(&world, "enactor B", &b);
        // A plan is only ever missing for A if it was deleted before A pinned it, which
        // needs g3 published first; g2 can never be missing while it is the published one.
        if matches!(a, Err(StepError::PlanMissing { .. }))
            && published_now(&world, &zone) != Some(Generation(3))
        {
            world.fail(
                "I2",
                "A's plan g2 went missing although g3 was never published".into(),
            );
        }
        world.settle();
    });
}

/// S6: A's in-flight plan is pinned while clean-up runs; a crashed enactor's expired pin does
/// not hold clean-up back.
#[test]
fn s6_a_pinned_plan_survives_cleanup() {
    let contents = Contents::new(&["example.com."], 5);
    explore("S6 pinned while clean-up runs", move || {
        let world = World::new(&["example.com."], &contents);
        let zone = world.zones[0].clone();
        stage(&world, "planner", &zone, 1);
        publish(&world, "set-up", &zone, Some(1)).expect("g1 publishes");
        stage(&world, "planner", &zone, 2);
        stage(&world, "planner", &zone, 3);
        // An enactor that crashed while working on g2 left a pin that expired before NOW.
        block_on(
            world
                .actor("crashed enactor")
                .pin(&zone, Generation(2), "crashed", NOW - 1),
        )
        .expect("pin g2");
        let z = zone.clone();
        let a = spawn(&world, move |w| publish(w, "enactor A", &z, Some(2)));
        let z = zone.clone();
        let b = spawn(&world, move |w| {
            let r = publish(w, "enactor B", &z, Some(3));
            cleanup(w, "enactor B", &z);
            r
        });
        let z = zone.clone();
        let cleaner = spawn(&world, move |w| cleanup(w, "cleaner", &z));
        let _ = converge(&world, &zone);
        let a = a.join().expect("enactor A");
        let b = b.join().expect("enactor B");
        cleaner.join().expect("cleaner");
        assert_enactor_outcome(&world, "enactor A", &a);
        assert_enactor_outcome(&world, "enactor B", &b);
        // Clean-up ran, so the crashed enactor's expired pin is gone, and every enactor
        // released its own.
        let pins = world.store.pins(&zone);
        if !pins.is_empty() {
            world.fail(
                "I2",
                format!("pins left after the enactors finished: {pins:?}"),
            );
        }
        world.settle();
    });
}

/// S9: clean-up racing a chain of deltas. Plans are stored as deltas on their base with a
/// checkpoint every 3 generations of a chain: g1 is a checkpoint, g2 and g3 deltas on the
/// chain g1 ← g2 ← g3, and g4 a delta on g2 or, planned on g3, a checkpoint. Enactor A
/// publishes g3 and cleans up; B plans g4 on whatever is published, publishes it and cleans
/// up; the target converges meanwhile. After every step, every published, target-held or
/// pinned plan must still read back whole (rebuilt through its chain), so clean-up never
/// deletes a plan a live one leans on, and in the end it deletes what nothing needs.
#[test]
fn s9_cleanup_racing_a_chain_of_deltas() {
    let contents = Contents::padded(&["example.com."], 5, 60);
    explore("S9 clean-up vs a chain of deltas", move || {
        let cfg = zonegate_core::GateConfig {
            store: StoreSettings {
                checkpoint_every: 3,
                ..StoreSettings::default()
            },
            ..config()
        };
        let world = World::with_config(&["example.com."], &contents, cfg);
        let zone = world.zones[0].clone();
        stage(&world, "planner", &zone, 1);
        publish(&world, "set-up", &zone, Some(1)).expect("g1 publishes");
        stage(&world, "planner", &zone, 2);
        publish(&world, "set-up", &zone, Some(2)).expect("g2 publishes");
        let _ = converge(&world, &zone);
        stage(&world, "planner", &zone, 3);
        if world.store.chain(&zone, Generation(3)) != Some(vec![g(1), g(2), g(3)]) {
            world.fail("set-up", "g3 is not a delta on g2 on g1".into());
        }
        let z = zone.clone();
        let a = spawn(&world, move |w| {
            let r = publish(w, "enactor A", &z, Some(3));
            cleanup(w, "enactor A", &z);
            r
        });
        let z = zone.clone();
        let b = spawn(&world, move |w| {
            stage(w, "planner B", &z, 4);
            let r = publish(w, "enactor B", &z, Some(4));
            cleanup(w, "enactor B", &z);
            r
        });
        let _ = converge(&world, &zone);
        let a = a.join().expect("enactor A");
        let b = b.join().expect("enactor B");
        assert_enactor_outcome(&world, "enactor A", &a);
        assert_enactor_outcome(&world, "enactor B", &b);
        world.settle();
        // A last clean-up leaves exactly what is at or above the horizon and the chains
        // those lean on: nothing that nothing needs.
        cleanup(&world, "cleaner", &zone);
        let left = world.store.generations(&zone);
        let published = published_now(&world, &zone).expect("published");
        let horizon = world
            .store
            .target_generation(TARGET, &zone)
            .map_or(published, |held| held.min(published));
        let mut needed = std::collections::BTreeSet::new();
        for g in left.iter().filter(|g| **g >= horizon) {
            needed.extend(world.store.chain(&zone, *g).unwrap_or_default());
        }
        if left
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
            != needed
        {
            world.fail(
                "clean-up",
                format!("left {left:?}, but the horizon {horizon} needs exactly {needed:?}"),
            );
        }
    });
}

/// S10: a compaction racing clean-up, a publication and the target. Stages leave their
/// checkpoints to compaction (`CheckpointWhen::AfterPublish`, `checkpoint_every = 2`): g1 is
/// a checkpoint and g2, g3 deltas on the chain g1 ← g2 ← g3, one past the usual bound, so g3
/// is due. The compactor turns g3 into a checkpoint while enactor A stages g4 on g3,
/// publishes it and cleans up, and the target converges. After every step every live plan
/// still reads back whole (the world's check), whichever order the compaction's read, its
/// write and clean-up's delete take; in the end g3 is a checkpoint and a last clean-up leaves
/// only what the horizon needs, which no longer includes g1 and g2.
#[test]
fn s10_compaction_racing_cleanup_and_a_publication() {
    let contents = Contents::padded(&["example.com."], 5, 60);
    explore("S10 compaction vs clean-up", move || {
        let cfg = zonegate_core::GateConfig {
            store: StoreSettings {
                checkpoint_every: 2,
                checkpoint_when: CheckpointWhen::AfterPublish,
            },
            ..config()
        };
        let world = World::with_config(&["example.com."], &contents, cfg);
        let zone = world.zones[0].clone();
        for n in 1..=3 {
            stage(&world, "planner", &zone, n);
            publish(&world, "set-up", &zone, Some(n)).expect("publishes");
        }
        let _ = converge(&world, &zone);
        if world.store.chain(&zone, Generation(3)) != Some(vec![g(1), g(2), g(3)]) {
            world.fail("set-up", "g3 is not a delta on g2 on g1".into());
        }
        let z = zone.clone();
        let compactor = spawn(&world, move |w| compact(w, "compactor", &z, 3));
        let z = zone.clone();
        let a = spawn(&world, move |w| {
            stage(w, "planner A", &z, 4);
            let r = publish(w, "enactor A", &z, Some(4));
            cleanup(w, "enactor A", &z);
            r
        });
        let _ = converge(&world, &zone);
        let done = compactor.join().expect("compactor");
        let a = a.join().expect("enactor A");
        assert_enactor_outcome(&world, "enactor A", &a);
        world.settle();
        let wrote = matches!(done, Compaction::Written { .. });
        if !wrote && world.store.generations(&zone).contains(&g(3)) {
            world.fail("compaction", format!("g3 kept but not compacted: {done:?}"));
        }
        if wrote && world.store.chain(&zone, Generation(3)) != Some(vec![g(3)]) {
            world.fail("compaction", "g3 compacted but still leans on g2".into());
        }
        let _ = converge(&world, &zone);
        cleanup(&world, "cleaner", &zone);
        let left = world.store.generations(&zone);
        if left.contains(&g(1)) || left.contains(&g(2)) {
            world.fail(
                "clean-up",
                format!("g1 or g2 left after g3 became whole: {left:?}"),
            );
        }
    });
}

fn g(n: u64) -> Generation {
    Generation(n)
}
