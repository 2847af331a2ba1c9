//! The gate's policy and verdict checks through the protocol steps, on the in-memory store.
//!
//! The CLI acceptance tests (`tests/policy.rs`) check the same promises through the binary;
//! these pin down the protocol itself: the policy runs again at publish time against the
//! plan's base, an approval is bound to one plan's hash, and review holds are per plan.

// Each test walks one gate scenario from plan to publish; its length is the scenario's.
#![allow(clippy::too_many_lines)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use zonegate_core::gate::policy::Review;
use zonegate_core::gate::{
    self, Actor, AuditAction, Generation, PlanOutcome, PublishOutcome, ReasonCode, Refusal,
    StepError, StoreError, ThresholdKind, Verdict,
};
use zonegate_core::model::MemStore;
use zonegate_core::{ContentHash, GateConfig, Name, zonefile};

/// Every `MemStore` operation completes on its first poll, so one poll runs a step to its end.
fn run<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a MemStore step awaited something"),
    }
}

const NOW: u64 = 1_000;

fn actor(name: &str) -> Actor {
    Actor::new(name).expect("test actors are valid")
}

fn origin() -> Name {
    Name::parse("example.com.").unwrap()
}

fn parsed(serial: u32, records: &str) -> zonegate_core::ParsedZone {
    let text = format!(
        "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1.example.net. h.example.net. {serial} 3600 600 604800 60\n\
         @ NS ns1.example.net.\n{records}"
    );
    zonefile::parse(&text, Some(&origin()), "test").unwrap()
}

const FULL: &str = "www A 192.0.2.1\nmail A 192.0.2.2\napi A 192.0.2.3\n";
const CUT: &str = "www A 192.0.2.1\n";

fn relaxed() -> GateConfig {
    let mut cfg = GateConfig::default();
    cfg.policy.delete_max_percent = 100.0;
    cfg
}

fn staged(outcome: PlanOutcome) -> (Generation, ContentHash, Verdict) {
    match outcome {
        PlanOutcome::Staged {
            generation,
            hash,
            verdict,
            ..
        } => (generation, hash, verdict),
        other => panic!("expected a staged plan, got {other:?}"),
    }
}

fn publish_first(store: &MemStore, cfg: &GateConfig) {
    let (g, _, _) = staged(run(gate::plan(store, parsed(1, FULL), cfg, NOW, &actor("t"))).unwrap());
    run(gate::publish(
        store,
        &origin(),
        Some(g),
        cfg,
        NOW,
        &actor("t"),
    ))
    .unwrap();
}

#[test]
fn the_policy_runs_again_at_publish_time_against_the_base() {
    let store = MemStore::new();
    let strict = GateConfig::default();
    publish_first(&store, &strict);
    // Planned under a relaxed policy, the cut passes...
    let (g, _, verdict) = staged(
        run(gate::plan(
            &store,
            parsed(2, CUT),
            &relaxed(),
            NOW,
            &actor("t"),
        ))
        .unwrap(),
    );
    assert_eq!(verdict, Verdict::Pass);
    // ...but the policy in force at publish time refuses it, with the numbers.
    let err = run(gate::publish(
        &store,
        &origin(),
        Some(g),
        &strict,
        NOW,
        &actor("t"),
    ))
    .unwrap_err();
    let StepError::Refused(refusal @ Refusal::Policy { .. }) = &err else {
        panic!("expected a policy refusal, got {err:?}");
    };
    assert_eq!(
        refusal.reason(),
        ReasonCode::Threshold(ThresholdKind::Delete)
    );
    assert!(
        refusal
            .to_string()
            .contains("would delete 2 of 5 records (40.0%), limit 30%"),
        "{refusal}"
    );
    let log = store.audit_log();
    let last = log.last().unwrap();
    assert_eq!(
        (&last.action, &last.reason),
        (
            &AuditAction::Refused,
            &Some(ReasonCode::Threshold(ThresholdKind::Delete))
        )
    );
    assert_eq!(
        run(gate::publish(
            &store,
            &origin(),
            Some(g),
            &relaxed(),
            NOW,
            &actor("t")
        ))
        .map(|_| ()),
        Ok(())
    );
}

#[test]
fn an_approval_lets_exactly_one_plan_through() {
    let store = MemStore::new();
    let cfg = GateConfig::default();
    publish_first(&store, &cfg);
    let (g2, h2, verdict) =
        staged(run(gate::plan(&store, parsed(2, CUT), &cfg, NOW, &actor("t"))).unwrap());
    assert_eq!(verdict, Verdict::Refused);
    let (g3, h3, _) = staged(
        run(gate::plan(
            &store,
            parsed(2, "www A 192.0.2.9\n"),
            &cfg,
            NOW,
            &actor("t"),
        ))
        .unwrap(),
    );
    assert_ne!(h2, h3);

    // The hash of g2 does not approve g3.
    let err = run(gate::decide(
        &store,
        &origin(),
        gate::Decision {
            generation: g3,
            hash: Some(h2),
            to: Verdict::Approved,
            why: "why",
        },
        &actor("alice"),
        NOW,
    ))
    .unwrap_err();
    assert!(matches!(err, StoreError::HashMismatch { .. }), "{err}");
    run(gate::decide(
        &store,
        &origin(),
        gate::Decision {
            generation: g2,
            hash: Some(h2),
            to: Verdict::Approved,
            why: "intended",
        },
        &actor("alice"),
        NOW,
    ))
    .unwrap();
    assert!(matches!(
        run(gate::publish(
            &store,
            &origin(),
            Some(g3),
            &cfg,
            NOW,
            &actor("t")
        )),
        Err(StepError::Refused(Refusal::Policy { .. }))
    ));
    // A saved plan naming another hash is refused before anything else.
    assert!(matches!(
        run(gate::publish_exact(
            &store,
            &origin(),
            g2,
            h3,
            &cfg,
            NOW,
            &actor("t")
        )),
        Err(StepError::Refused(Refusal::HashMismatch { .. }))
    ));
    assert!(matches!(
        run(gate::publish_exact(&store, &origin(), g2, h2, &cfg, NOW, &actor("t"))),
        Ok(PublishOutcome::Published { generation, .. }) if generation == g2
    ));
    let approval = store
        .audit_log()
        .into_iter()
        .find(|e| e.action == AuditAction::Approved)
        .unwrap();
    assert_eq!(approval.actor.as_str(), "alice");
    assert!(approval.detail.contains("intended") && approval.detail.contains(&h2.to_string()));
}

#[test]
fn review_holds_each_plan_on_its_own() {
    let store = MemStore::new();
    let mut manual = GateConfig::default();
    manual.policy.review = Review::Manual;
    let off = GateConfig::default();
    publish_first(&store, &off);

    // Planned with review off, but review is required at publish time.
    let small = FULL.replace("192.0.2.1", "192.0.2.7");
    let (g2, _, verdict) = staged(
        run(gate::plan(
            &store,
            parsed(2, &small),
            &off,
            NOW,
            &actor("t"),
        ))
        .unwrap(),
    );
    assert_eq!(verdict, Verdict::Pass);
    let err = run(gate::publish(
        &store,
        &origin(),
        Some(g2),
        &manual,
        NOW,
        &actor("t"),
    ))
    .unwrap_err();
    assert!(
        matches!(&err, StepError::Refused(r @ Refusal::Review { verdict: Verdict::Pass, .. }) if r.reason() == ReasonCode::Review),
        "{err:?}"
    );

    // Held plans do not block newer ones.
    let mut records = FULL.replace("192.0.2.1", "192.0.2.4");
    let (g3, _, held) = staged(
        run(gate::plan(
            &store,
            parsed(3, &records),
            &manual,
            NOW,
            &actor("t"),
        ))
        .unwrap(),
    );
    assert_eq!(held, Verdict::Held);
    records = FULL.replace("192.0.2.1", "192.0.2.5");
    let (g4, h4, held) = staged(
        run(gate::plan(
            &store,
            parsed(4, &records),
            &manual,
            NOW,
            &actor("t"),
        ))
        .unwrap(),
    );
    assert_eq!(held, Verdict::Held);
    assert!(matches!(
        run(gate::publish(
            &store,
            &origin(),
            Some(g3),
            &manual,
            NOW,
            &actor("t")
        )),
        Err(StepError::Refused(Refusal::Review {
            verdict: Verdict::Held,
            ..
        }))
    ));
    run(gate::decide(
        &store,
        &origin(),
        gate::Decision {
            generation: g4,
            hash: Some(h4),
            to: Verdict::Approved,
            why: "ok",
        },
        &actor("bob"),
        NOW,
    ))
    .unwrap();
    run(gate::publish(
        &store,
        &origin(),
        Some(g4),
        &manual,
        NOW,
        &actor("t"),
    ))
    .unwrap();
    // The held g3 is now stale, and says so rather than asking for a review.
    assert!(matches!(
        run(gate::publish(
            &store,
            &origin(),
            Some(g3),
            &manual,
            NOW,
            &actor("t")
        )),
        Err(StepError::Refused(Refusal::Stale { .. }))
    ));
}

fn plan_kept(
    store: &MemStore,
    records: &str,
    serial: u32,
    cfg: &GateConfig,
) -> (Generation, gate::Planned) {
    let (outcome, planned) = run(gate::plan_keeping(
        store,
        parsed(serial, records),
        cfg,
        NOW,
        &actor("t"),
    ))
    .unwrap();
    let (g, _, _) = staged(outcome);
    (g, planned.expect("a staged plan is kept"))
}

#[test]
fn publishing_a_kept_plan_runs_the_policy_again_against_the_base() {
    let store = MemStore::new();
    let strict = GateConfig::default();
    publish_first(&store, &strict);
    let (g, planned) = plan_kept(&store, CUT, 2, &relaxed());
    // The base content kept from planning is measured under the policy in force now.
    let err = run(gate::publish_planned(
        &store,
        &origin(),
        &planned,
        &strict,
        NOW,
        &actor("t"),
    ))
    .unwrap_err();
    let StepError::Refused(refusal @ Refusal::Policy { .. }) = &err else {
        panic!("expected a policy refusal, got {err:?}");
    };
    assert!(
        refusal
            .to_string()
            .contains("would delete 2 of 5 records (40.0%), limit 30%"),
        "{refusal}"
    );
    let published = run(gate::publish_planned(
        &store,
        &origin(),
        &planned,
        &relaxed(),
        NOW,
        &actor("t"),
    ))
    .unwrap();
    assert!(
        matches!(published, PublishOutcome::Published { generation, .. } if generation == g),
        "{published:?}"
    );
    // Publishing it again is a no-op, as with `publish`.
    assert_eq!(
        run(gate::publish_planned(
            &store,
            &origin(),
            &planned,
            &relaxed(),
            NOW,
            &actor("t")
        ))
        .unwrap(),
        PublishOutcome::AlreadyPublished { generation: g }
    );
}

#[test]
fn publishing_a_kept_plan_still_reads_the_body_back() {
    let store = MemStore::new();
    let cfg = relaxed();
    publish_first(&store, &cfg);
    let (g, planned) = plan_kept(&store, CUT, 2, &cfg);
    assert!(store.corrupt_body(&origin(), g));
    // The body read back no longer hashes to the plan's hash: the kept content does not stand
    // for it, and the full check refuses it as corrupt.
    let err = run(gate::publish_planned(
        &store,
        &origin(),
        &planned,
        &cfg,
        NOW,
        &actor("t"),
    ))
    .unwrap_err();
    assert!(
        matches!(&err, StepError::Refused(Refusal::Corrupt { generation, .. }) if *generation == g),
        "{err:?}"
    );
    assert_eq!(
        store.audit_log().last().unwrap().reason,
        Some(ReasonCode::CorruptBody)
    );
}

#[test]
fn publishing_a_kept_delta_plan_reads_back_its_row_not_its_body() {
    let store = MemStore::new();
    let cfg = relaxed();
    // Enough records that a one-record change is stored as a delta (see `gate::chain`).
    let hosts = |last: u8| -> String {
        (0..40u8)
            .map(|i| format!("h{i} A 192.0.2.{}\n", if i == 0 { last } else { i }))
            .collect()
    };
    let (g1, _, _) = staged(
        run(gate::plan(
            &store,
            parsed(1, &hosts(100)),
            &cfg,
            NOW,
            &actor("t"),
        ))
        .unwrap(),
    );
    run(gate::publish(
        &store,
        &origin(),
        Some(g1),
        &cfg,
        NOW,
        &actor("t"),
    ))
    .unwrap();
    let (g, planned) = plan_kept(&store, &hosts(101), 2, &cfg);
    let before = store.body_reads();
    let published = run(gate::publish_planned(
        &store,
        &origin(),
        &planned,
        &cfg,
        NOW,
        &actor("t"),
    ))
    .unwrap();
    assert!(
        matches!(published, PublishOutcome::Published { generation, .. } if generation == g),
        "{published:?}"
    );
    // The stored delta was read back and compared; the whole body was not rebuilt.
    assert_eq!(store.body_reads(), before);

    // A plan stored whole (a checkpoint every generation) is read back whole.
    let mut whole = cfg.clone();
    whole.store.checkpoint_every = 1;
    let (g, planned) = plan_kept(&store, &hosts(102), 3, &whole);
    let before = store.body_reads();
    let published = run(gate::publish_planned(
        &store,
        &origin(),
        &planned,
        &whole,
        NOW,
        &actor("t"),
    ))
    .unwrap();
    assert!(
        matches!(published, PublishOutcome::Published { generation, .. } if generation == g),
        "{published:?}"
    );
    assert_eq!(store.body_reads(), before + 1);
}

#[test]
fn publishing_a_kept_plan_under_other_limits_validates_it_again() {
    let store = MemStore::new();
    let cfg = relaxed();
    publish_first(&store, &cfg);
    let (_, planned) = plan_kept(&store, CUT, 2, &cfg);
    // Limits the content was not validated under: it is decoded and validated again, and
    // these limits refuse it.
    let mut tight = cfg.clone();
    tight.limits.records_max = 2;
    let err = run(gate::publish_planned(
        &store,
        &origin(),
        &planned,
        &tight,
        NOW,
        &actor("t"),
    ))
    .unwrap_err();
    assert!(
        matches!(&err, StepError::Refused(Refusal::Corrupt { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("records_max"), "{err}");
}
