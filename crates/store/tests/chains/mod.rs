//! The contract of delta plans (issue 16), generic over [`Store`] like the rest of the
//! contract: chains rebuild to the full content, checkpoints appear at the bounds, clean-up
//! keeps exactly the closure of what it keeps, and incremental readers get the deltas.

use zonegate_core::Zone;
use zonegate_core::gate::chain::{CheckpointWhen, DELTA_SHARE_DIVISOR};
use zonegate_core::gate::{AuditAction, Compaction, Generation, NewPlan, PlanBody, Store, Verdict};
use zonegate_core::testkit::{a, n, zone};
use zonegate_core::zone::delta::ZoneDelta;

use super::fixtures::{NOW, entry, g, gens};
use super::{Inspect, LEASE_S, publish};

const ORIGIN: &str = "chain.example.";

/// A zone of `size` A records, record `changed` (if any) with the address of `version`.
pub fn content(size: u32, changed: &[(u32, u8)]) -> Zone {
    let glue = a(&format!("ns1.{ORIGIN}"), [192, 0, 2, 1]);
    let extra = std::iter::once(glue)
        .chain((0..size).map(|i| {
            let last = changed
                .iter()
                .rev()
                .find(|(at, _)| *at == i)
                .map_or(1, |(_, v)| *v);
            a(
                &format!("host{i}.{ORIGIN}"),
                [10, (i >> 8) as u8, i as u8, last],
            )
        }))
        .collect();
    zone(ORIGIN, 1, extra)
}

/// Stages `new` on `base` (published, with content `old`) as a delta, as the planner does.
pub async fn stage_delta<S: Store>(
    s: &S,
    base: Generation,
    old: &Zone,
    new: &Zone,
    checkpoint_every: u32,
) -> Generation {
    stage_delta_when(s, base, old, new, checkpoint_every, CheckpointWhen::InStage).await
}

/// [`stage_delta`], its checkpoint written `when` says.
pub async fn stage_delta_when<S: Store>(
    s: &S,
    base: Generation,
    old: &Zone,
    new: &Zone,
    checkpoint_every: u32,
    when: CheckpointWhen,
) -> Generation {
    let plan = NewPlan {
        zone: n(ORIGIN),
        base: Some(base),
        hash: new.hash(),
        record_count: new.len() as u64,
        body: PlanBody::Delta {
            parent: base,
            delta: ZoneDelta::between(old, new).encode(),
        },
        checkpoint_every,
        checkpoint_when: when,
        created_at: NOW,
        verdict: Verdict::Pass,
    };
    s.stage(plan, entry(&n(ORIGIN), AuditAction::Staged))
        .await
        .expect("stage a delta")
}

pub async fn stage_full<S: Store>(s: &S, base: Option<Generation>, content: &Zone) -> Generation {
    let plan = NewPlan {
        zone: n(ORIGIN),
        base,
        hash: content.hash(),
        record_count: content.len() as u64,
        body: PlanBody::Full(content.body()),
        checkpoint_every: 16,
        checkpoint_when: CheckpointWhen::InStage,
        created_at: NOW,
        verdict: Verdict::Pass,
    };
    s.stage(plan, entry(&n(ORIGIN), AuditAction::Staged))
        .await
        .expect("stage a full body")
}

/// Whether `g` is stored as a delta on `g - 1`: the store offers exactly one step for it.
async fn is_delta<S: Store>(s: &S, generation: Generation) -> bool {
    let from = Generation(generation.0 - 1);
    match s.load_deltas(&n(ORIGIN), from, generation).await.unwrap() {
        Some(steps) => {
            assert_eq!(steps.len(), 1);
            true
        }
        None => false,
    }
}

/// Reads `g` back and checks it is `expected`, body and hash, and that its head says the same.
async fn assert_reads<S: Store>(s: &S, generation: Generation, expected: &Zone) {
    let plan = s
        .load_plan(&n(ORIGIN), generation)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{generation} is stored"));
    assert_eq!(plan.hash, expected.hash(), "{generation}'s hash");
    assert!(
        plan.body == expected.body(),
        "{generation} rebuilds to its full body"
    );
    // Its head, read without the body, is the whole plan's, delta or checkpoint.
    assert_eq!(
        s.load_head(&n(ORIGIN), generation).await.unwrap(),
        Some(plan.head()),
        "{generation}'s head"
    );
    Zone::decode(&n(ORIGIN), &plan.body, &plan.hash, &Default::default())
        .unwrap_or_else(|e| panic!("{generation} decodes: {e}"));
}

/// Publishes a run of one-record generations, each a delta on the one before, with
/// `checkpoint_every`: every generation reads back whole, and the checkpoints fall every
/// `checkpoint_every` generations of a chain.
pub async fn contract_delta_chain_rebuilds_and_checkpoints<S: Inspect>(s: &S) {
    let z = n(ORIGIN);
    let mut contents = vec![content(200, &[])];
    assert_eq!(stage_full(s, None, &contents[0]).await, g(1));
    publish(s, &z, g(1), None).await.unwrap();
    let mut changes = Vec::new();
    for i in 2..=13u64 {
        changes.push(((i % 200) as u32, i as u8));
        let next = content(200, &changes);
        let prev = Generation(i - 1);
        let staged = stage_delta(s, prev, contents.last().unwrap(), &next, 4).await;
        assert_eq!(staged, g(i));
        publish(s, &z, staged, Some(prev)).await.unwrap();
        contents.push(next);
    }
    for (i, expected) in contents.iter().enumerate() {
        assert_reads(s, Generation(i as u64 + 1), expected).await;
    }
    // A chain holds at most 4 generations: the checkpoint and 3 deltas.
    let mut checkpoints = Vec::new();
    for i in 2..=13 {
        if !is_delta(s, g(i)).await {
            checkpoints.push(i);
        }
    }
    assert_eq!(checkpoints, vec![5, 9, 13]);
    // An incremental reader holding g5 gets g6..g8 as three steps that apply in order.
    let steps = s.load_deltas(&z, g(5), g(8)).await.unwrap().unwrap();
    assert_eq!(
        steps.iter().map(|s| s.generation).collect::<Vec<_>>(),
        gens(&[6, 7, 8])
    );
    let mut held = contents[4].clone();
    for step in &steps {
        let delta = ZoneDelta::decode(&step.delta).unwrap();
        held = held.apply(&delta, &Default::default()).unwrap();
        assert_eq!(held.hash(), step.hash);
    }
    assert!(held == contents[7]);
    // No steps across a checkpoint, from a generation not on the chain, or backwards.
    assert_eq!(s.load_deltas(&z, g(4), g(6)).await.unwrap(), None);
    assert_eq!(s.load_deltas(&z, g(8), g(6)).await.unwrap(), None);
    assert_eq!(s.load_deltas(&z, g(6), g(6)).await.unwrap(), Some(vec![]));
    assert_eq!(s.load_deltas(&z, g(6), g(99)).await.unwrap(), None);
    assert_eq!(s.load_head(&z, g(99)).await.unwrap(), None);
}

/// A delta that changes more than a quarter of the checkpoint's body is stored as a
/// checkpoint at once; the chain's delta bytes count together.
pub async fn contract_delta_checkpoints_past_the_byte_bound<S: Inspect>(s: &S) {
    let z = n(ORIGIN);
    let base = content(100, &[]);
    assert_eq!(stage_full(s, None, &base).await, g(1));
    publish(s, &z, g(1), None).await.unwrap();
    let share = |old: &Zone, new: &Zone| {
        ZoneDelta::between(old, new).encode().len() as u64 * DELTA_SHARE_DIVISOR
            / old.body().len() as u64
    };
    // Changing 20 of 100 records: a delta of about 40 % of a body, past a quarter.
    let many: Vec<(u32, u8)> = (0..20).map(|i| (i, 9)).collect();
    let big = content(100, &many);
    assert!(share(&base, &big) >= 1, "the delta is past the bound");
    assert_eq!(stage_delta(s, g(1), &base, &big, 16).await, g(2));
    publish(s, &z, g(2), Some(g(1))).await.unwrap();
    assert!(!is_delta(s, g(2)).await);
    assert_reads(s, g(2), &big).await;
    // Small deltas then accumulate until a quarter of the checkpoint's body.
    let mut prev = big.clone();
    let mut changes = many.clone();
    let mut kinds = Vec::new();
    for i in 3..=20u64 {
        changes.push((50 + i as u32, 7));
        let next = content(100, &changes);
        let staged = stage_delta(s, Generation(i - 1), &prev, &next, 64).await;
        publish(s, &z, staged, Some(Generation(i - 1)))
            .await
            .unwrap();
        kinds.push(is_delta(s, staged).await);
        assert_reads(s, staged, &next).await;
        prev = next;
    }
    let first_checkpoint = kinds
        .iter()
        .position(|d| !d)
        .expect("a checkpoint by bytes");
    assert!(first_checkpoint >= 2, "a few small deltas fit: {kinds:?}");
    assert!(kinds[..first_checkpoint].iter().all(|d| *d));
}

/// Clean-up keeps the chain of every plan it keeps, and deletes an old chain whole once
/// nothing kept leans on it.
pub async fn contract_cleanup_keeps_the_closure_of_chains<S: Inspect>(s: &S) {
    let z = n(ORIGIN);
    let mut contents = vec![content(50, &[])];
    assert_eq!(stage_full(s, None, &contents[0]).await, g(1));
    publish(s, &z, g(1), None).await.unwrap();
    let mut changes = Vec::new();
    // g2..g4 deltas on one chain, g5 a checkpoint (every 4), g6 a delta on it.
    for i in 2..=6u64 {
        changes.push((i as u32, i as u8));
        let next = content(50, &changes);
        let prev = Generation(i - 1);
        stage_delta(s, prev, contents.last().unwrap(), &next, 4).await;
        if i <= 4 {
            publish(s, &z, g(i), Some(prev)).await.unwrap();
        }
        contents.push(next);
    }
    // g4 is published; g5 and g6 (on base g4... g5) are staged. g6's parent is g5, which was
    // never published: it was planned on it all the same (the store does not care).
    assert_eq!(s.generations(&z).await, gens(&[1, 2, 3, 4, 5, 6]));
    // Keeping nothing but what is live: g4 (published) needs g1..g3.
    assert_eq!(s.cleanup(&z, 0, LEASE_S, NOW).await.unwrap(), 0);
    assert_eq!(s.generations(&z).await, gens(&[1, 2, 3, 4, 5, 6]));
    publish(s, &z, g(5), Some(g(4))).await.unwrap();
    publish(s, &z, g(6), Some(g(5))).await.unwrap();
    // g6 is published and leans on the checkpoint g5 only: the old chain goes whole.
    assert_eq!(s.cleanup(&z, 0, LEASE_S, NOW).await.unwrap(), 4);
    assert_eq!(s.generations(&z).await, gens(&[5, 6]));
    assert_reads(s, g(6), &contents[5]).await;
    assert_reads(s, g(5), &contents[4]).await;
    // A target holding g5 and a pin change nothing: both are kept already.
    s.record_target("server-1", &z, g(5), NOW).await.unwrap();
    assert_eq!(s.cleanup(&z, 0, LEASE_S, NOW).await.unwrap(), 0);
    assert_eq!(s.generations(&z).await, gens(&[5, 6]));
}

/// Issue 16's storage target at small scale: ten one-record generations of a 10,000-record
/// zone add far less than one full body (under 30 % of it, all ten together).
pub async fn contract_one_record_generations_store_little<S: Inspect>(s: &S) {
    let z = n(ORIGIN);
    let size = 10_000;
    let mut prev = content(size, &[]);
    assert_eq!(stage_full(s, None, &prev).await, g(1));
    publish(s, &z, g(1), None).await.unwrap();
    let first = s.stored_bytes(&z).await;
    let body = prev.body().len() as u64;
    assert_eq!(first, body, "the first generation is its full body");
    let mut changes = Vec::new();
    for i in 2..=11u64 {
        changes.push(((i * 997 % u64::from(size)) as u32, i as u8));
        let next = content(size, &changes);
        let staged = stage_delta(s, Generation(i - 1), &prev, &next, 16).await;
        publish(s, &z, staged, Some(Generation(i - 1)))
            .await
            .unwrap();
        prev = next;
    }
    assert_reads(s, g(11), &prev).await;
    let added = s.stored_bytes(&z).await - first;
    println!(
        "one body: {body} bytes; ten one-record generations added {added} bytes ({:.2} % of a body)",
        added as f64 * 100.0 / body as f64
    );
    assert!(
        added * 100 < body * 30,
        "ten generations added {added} bytes, more than 30 % of a {body}-byte body"
    );
}

/// A stage that leaves its checkpoints to compaction (the DNS UPDATE worker's) stores deltas
/// far past the usual chain (the hard bound is `gate::chain`'s, checked there); `compact` turns
/// a delta past the usual bound, whose deltas are worth it, into a checkpoint of the same plan,
/// and nothing else.
pub async fn contract_deferred_checkpoints_are_compacted<S: Inspect>(s: &S) {
    let z = n(ORIGIN);
    let mut contents = vec![content(200, &[])];
    assert_eq!(stage_full(s, None, &contents[0]).await, g(1));
    publish(s, &z, g(1), None).await.unwrap();
    let mut changes = Vec::new();
    for i in 2..=10u64 {
        changes.push((i as u32, i as u8));
        let next = content(200, &changes);
        let prev = Generation(i - 1);
        let when = CheckpointWhen::AfterPublish;
        let staged = stage_delta_when(s, prev, contents.last().unwrap(), &next, 4, when).await;
        publish(s, &z, staged, Some(prev)).await.unwrap();
        contents.push(next);
    }
    // Ten generations on a bound of 4: the in-stage layout would have written g5 and g9
    // whole; the deferred one keeps every delta.
    for i in 2..=10 {
        assert!(is_delta(s, g(i)).await, "g{i} is a delta");
    }
    // g4's chain holds 4 generations: within the bound. g6's holds 6: past it.
    assert_eq!(s.compact(&z, g(4), 4).await.unwrap(), Compaction::NotDue);
    let written = s.compact(&z, g(6), 4).await.unwrap();
    assert_eq!(
        written,
        Compaction::Written {
            bytes: contents[5].body().len() as u64
        }
    );
    assert!(!is_delta(s, g(6)).await, "g6 is a checkpoint now");
    assert_eq!(s.compact(&z, g(6), 4).await.unwrap(), Compaction::NotDue);
    // g8's chain is g6..g8 now, 3 generations, within the bound: the plans above g6 had their
    // chains shortened with it (the SQL stores keep each plan's chain size in its row).
    assert_eq!(s.compact(&z, g(8), 4).await.unwrap(), Compaction::NotDue);
    assert_eq!(s.compact(&z, g(99), 4).await.unwrap(), Compaction::Gone);
    for (i, expected) in contents.iter().enumerate() {
        assert_reads(s, Generation(i as u64 + 1), expected).await;
    }
    // g7 and g8 now lean on g6, not on g1..g5: an incremental reader of g6 gets their steps.
    let steps = s.load_deltas(&z, g(6), g(8)).await.unwrap().unwrap();
    assert_eq!(
        steps.iter().map(|s| s.generation).collect::<Vec<_>>(),
        gens(&[7, 8])
    );
    assert_eq!(s.load_deltas(&z, g(5), g(7)).await.unwrap(), None);
    // With g10 published and nothing else live, clean-up keeping 2 keeps g9 and g10 and the
    // chain they lean on from g6; g5 and older are needed by nothing since g6 became whole.
    s.cleanup(&z, 2, LEASE_S, NOW).await.unwrap();
    assert_eq!(s.generations(&z).await, gens(&[6, 7, 8, 9, 10]));
    assert_reads(s, g(10), &contents[9]).await;
}
