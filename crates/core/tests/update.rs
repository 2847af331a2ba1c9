//! The DNS UPDATE step through the gate, on the in-memory store: published changes, no-ops,
//! prerequisites judged on the published generation, refusals audited with the actor, the
//! review refusal, and the retry when another publication moves the zone in between.

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use zonegate_core::gate::policy::Review;
use zonegate_core::gate::{
    self, Actor, AuditAction, AuditEntry, Compaction, DeltaStep, Generation, KnownContent, NewPlan,
    PlanOutcome, Published, ReasonCode, Refusal, StepError, Store, StoreError, StoredPlan, Target,
    UpdateError, UpdateOutcome, UpdateRequest, Verdict,
};
use zonegate_core::model::MemStore;
use zonegate_core::update::{Class, RawRr, UpdateGrant, UpdateMessage, UpdateRcode};
use zonegate_core::zone::serial::{SerialPolicy, SerialRequest};
use zonegate_core::{ContentHash, GateConfig, Name, RType, zonefile};

fn run<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a MemStore step awaited something"),
    }
}

const NOW: u64 = 1_000;

fn n(s: &str) -> Name {
    Name::parse(s).unwrap()
}

fn origin() -> Name {
    n("example.com.")
}

fn key() -> Actor {
    Actor::new("ddns-key.").unwrap()
}

fn parsed(records: &str) -> zonegate_core::ParsedZone {
    let text = format!(
        "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1.example.net. h.example.net. 1 3600 600 604800 60\n\
         @ NS ns1.example.net.\n{records}"
    );
    zonefile::parse(&text, Some(&origin()), "test").unwrap()
}

/// Plans and publishes `records` as the next generation.
fn publish(store: &impl Store, cfg: &GateConfig, records: &str) -> Generation {
    let actor = Actor::new("t").unwrap();
    let PlanOutcome::Staged { generation, .. } =
        run(gate::plan(store, parsed(records), cfg, NOW, &actor)).unwrap()
    else {
        panic!("nothing staged");
    };
    run(gate::publish(
        store,
        &origin(),
        Some(generation),
        cfg,
        NOW,
        &actor,
    ))
    .unwrap();
    generation
}

fn a(owner: &str, class: Class, ip: [u8; 4]) -> RawRr {
    RawRr {
        owner: n(owner),
        class,
        rtype: RType::A,
        ttl: if class == Class::Zone { 300 } else { 0 },
        rdata: Some(ip.to_vec()),
    }
}

fn msg(prereqs: &[RawRr], updates: &[RawRr]) -> UpdateMessage {
    UpdateMessage::read(&[(origin(), RType::SOA, Class::Zone)], prereqs, updates).unwrap()
}

fn req<'a>(
    m: &'a UpdateMessage,
    key: Option<&'a Name>,
    grants: &'a [UpdateGrant],
) -> UpdateRequest<'a> {
    UpdateRequest {
        message: m,
        key,
        grants,
        attempts_max: 3,
    }
}

const BASE: &str = "www A 192.0.2.1\nmail A 192.0.2.2\napi A 192.0.2.3\n";

#[test]
fn an_update_publishes_one_generation_with_the_key_as_actor() {
    let store = MemStore::new();
    let cfg = GateConfig::default();
    let g1 = publish(&store, &cfg, BASE);
    let m = msg(
        &[],
        &[a("new.example.com.", Class::Zone, [198, 51, 100, 7])],
    );
    let out = run(gate::update(
        &store,
        &mut None,
        req(&m, None, &[]),
        &cfg,
        NOW,
        &key(),
    ))
    .unwrap();
    let UpdateOutcome::Published {
        generation,
        base,
        attempts,
        ..
    } = out
    else {
        panic!("{out:?}");
    };
    assert_eq!((base, attempts), (g1, 1));
    assert_eq!(
        run(store.published(&origin())).unwrap().unwrap().generation,
        generation
    );
    let log = store.audit_log();
    let published = log
        .iter()
        .find(|e| e.action == AuditAction::Published && e.generation == Some(generation));
    assert_eq!(
        published.expect("a publish row").actor.as_str(),
        "ddns-key."
    );
    // The same message again changes nothing and takes no generation.
    let again = run(gate::update(
        &store,
        &mut None,
        req(&m, None, &[]),
        &cfg,
        NOW,
        &key(),
    ))
    .unwrap();
    assert_eq!(
        again,
        UpdateOutcome::Unchanged {
            published: generation
        }
    );
    assert_eq!(store.generations(&origin()).len(), 2);
}

#[test]
fn a_failed_prerequisite_stages_nothing() {
    let store = MemStore::new();
    let cfg = GateConfig::default();
    publish(&store, &cfg, BASE);
    let absent = RawRr {
        owner: n("www.example.com."),
        class: Class::None,
        rtype: RType::A,
        ttl: 0,
        rdata: None,
    };
    let m = msg(
        &[absent],
        &[a("www.example.com.", Class::Zone, [1, 2, 3, 4])],
    );
    let err = run(gate::update(
        &store,
        &mut None,
        req(&m, None, &[]),
        &cfg,
        NOW,
        &key(),
    ))
    .unwrap_err();
    let UpdateError::Update(refusal) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(refusal.rcode(), UpdateRcode::YxRrset);
    assert_eq!(store.generations(&origin()).len(), 1);
}

#[test]
fn the_shrink_guard_refuses_an_empty_source_and_audits_it() {
    let store = MemStore::new();
    let cfg = GateConfig::default();
    publish(&store, &cfg, BASE);
    let m = msg(
        &[],
        &[
            a("www.example.com.", Class::None, [192, 0, 2, 1]),
            a("mail.example.com.", Class::None, [192, 0, 2, 2]),
            a("api.example.com.", Class::None, [192, 0, 2, 3]),
        ],
    );
    let err = run(gate::update(
        &store,
        &mut None,
        req(&m, None, &[]),
        &cfg,
        NOW,
        &key(),
    ))
    .unwrap_err();
    let reason = err.reason().expect("a gate reason");
    assert!(reason.to_string().starts_with("threshold:"), "{reason}");
    let log = store.audit_log();
    let refused = log
        .iter()
        .find(|e| e.action == AuditAction::Refused)
        .expect("the refusal is audited");
    assert_eq!(refused.actor.as_str(), "ddns-key.");
    assert_eq!(refused.reason.as_ref(), Some(&reason));
    // Nothing was published.
    assert_eq!(
        run(store.published(&origin())).unwrap().unwrap().generation,
        Generation(1)
    );
}

#[test]
fn a_key_outside_its_grants_and_a_reviewed_zone_are_refused_and_audited() {
    let store = MemStore::new();
    let mut cfg = GateConfig::default();
    publish(&store, &cfg, BASE);
    let acme = n("acme.");
    let grants = [UpdateGrant {
        key: acme.clone(),
        name: "_acme-challenge.*.example.com.".parse().unwrap(),
        types: vec![RType::TXT],
    }];
    let m = msg(&[], &[a("www.example.com.", Class::Zone, [1, 2, 3, 4])]);
    let err = run(gate::update(
        &store,
        &mut None,
        req(&m, Some(&acme), &grants),
        &cfg,
        NOW,
        &key(),
    ))
    .unwrap_err();
    assert_eq!(err.reason(), Some(ReasonCode::UpdatePolicy));
    cfg.policy.review = Review::Manual;
    let err = run(gate::update(
        &store,
        &mut None,
        req(&m, None, &[]),
        &cfg,
        NOW,
        &key(),
    ))
    .unwrap_err();
    assert_eq!(err.reason(), Some(ReasonCode::Review));
    assert!(err.to_string().contains("review"), "{err}");
    let reasons: Vec<Option<ReasonCode>> = store
        .audit_log()
        .into_iter()
        .filter(|e| e.action == AuditAction::Refused)
        .map(|e| e.reason)
        .collect();
    assert_eq!(
        reasons,
        vec![Some(ReasonCode::UpdatePolicy), Some(ReasonCode::Review)]
    );
    assert_eq!(store.generations(&origin()).len(), 1);
}

/// A store whose first `races` compare-and-swaps each find that another publication got in
/// first: right before the swap, a competing plan adding `other<i>` is published.
struct Racing {
    inner: MemStore,
    races: Cell<u32>,
}

impl Store for Racing {
    async fn published(&self, zone: &Name) -> Result<Option<Published>, StoreError> {
        self.inner.published(zone).await
    }
    async fn load_plan(
        &self,
        zone: &Name,
        g: Generation,
    ) -> Result<Option<StoredPlan>, StoreError> {
        self.inner.load_plan(zone, g).await
    }
    async fn load_deltas(
        &self,
        zone: &Name,
        from: Generation,
        to: Generation,
    ) -> Result<Option<Vec<DeltaStep>>, StoreError> {
        self.inner.load_deltas(zone, from, to).await
    }
    async fn newest_generation(&self, zone: &Name) -> Result<Option<Generation>, StoreError> {
        self.inner.newest_generation(zone).await
    }
    async fn stage(&self, plan: NewPlan, audit: AuditEntry) -> Result<Generation, StoreError> {
        self.inner.stage(plan, audit).await
    }
    async fn publish_cas(
        &self,
        zone: &Name,
        generation: Generation,
        expected_base: Option<Generation>,
        serial: SerialRequest,
        audit: AuditEntry,
    ) -> Result<Published, StoreError> {
        let left = self.races.get();
        if left > 0 {
            self.races.set(left - 1);
            let records = format!("{BASE}other{left} A 203.0.113.{left}\n");
            Box::pin(async { publish(&self.inner, &GateConfig::default(), &records) }).await;
        }
        self.inner
            .publish_cas(zone, generation, expected_base, serial, audit)
            .await
    }
    async fn pin(
        &self,
        zone: &Name,
        g: Generation,
        holder: &str,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        self.inner.pin(zone, g, holder, expires_at).await
    }
    async fn unpin(&self, zone: &Name, g: Generation, holder: &str) -> Result<(), StoreError> {
        self.inner.unpin(zone, g, holder).await
    }
    async fn record_target(
        &self,
        target: &str,
        zone: &Name,
        g: Generation,
        now: u64,
    ) -> Result<(), StoreError> {
        self.inner.record_target(target, zone, g, now).await
    }
    async fn cleanup(
        &self,
        zone: &Name,
        keep: u32,
        lease_s: u64,
        now: u64,
    ) -> Result<u64, StoreError> {
        self.inner.cleanup(zone, keep, lease_s, now).await
    }
    async fn compact(
        &self,
        zone: &Name,
        generation: Generation,
        checkpoint_every: u32,
    ) -> Result<Compaction, StoreError> {
        self.inner.compact(zone, generation, checkpoint_every).await
    }
    async fn audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        self.inner.audit(entry).await
    }
    async fn set_verdict(
        &self,
        zone: &Name,
        g: Generation,
        hash: Option<ContentHash>,
        to: Verdict,
        audit: AuditEntry,
    ) -> Result<Verdict, StoreError> {
        self.inner.set_verdict(zone, g, hash, to, audit).await
    }
}

#[test]
fn a_race_is_judged_again_on_the_new_base_and_loses_nothing() {
    let cfg = GateConfig::default();
    let store = Racing {
        inner: MemStore::new(),
        races: Cell::new(0),
    };
    publish(&store.inner, &cfg, BASE);
    store.races.set(2);
    let m = msg(
        &[],
        &[a("new.example.com.", Class::Zone, [198, 51, 100, 7])],
    );
    let out = run(gate::update(
        &store,
        &mut None,
        req(&m, None, &[]),
        &cfg,
        NOW,
        &key(),
    ))
    .unwrap();
    let UpdateOutcome::Published {
        generation,
        attempts,
        ..
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(attempts, 3);
    // The published content has the competitor's record and the update's.
    let (_, zone) = run(gate::load_content(
        &store.inner,
        &origin(),
        generation,
        &cfg,
    ))
    .unwrap();
    let owners: Vec<String> = zone.records().iter().map(|r| r.owner.to_string()).collect();
    assert!(
        owners.contains(&"new.example.com.".to_string()),
        "{owners:?}"
    );
    assert!(
        owners.contains(&"other1.example.com.".to_string()),
        "{owners:?}"
    );
    // When the races outlast the attempts, the update gives up as a race, publishing nothing.
    store.races.set(5);
    let m = msg(
        &[],
        &[a("late.example.com.", Class::Zone, [198, 51, 100, 8])],
    );
    let err = run(gate::update(
        &store,
        &mut None,
        req(&m, None, &[]),
        &cfg,
        NOW,
        &key(),
    ))
    .unwrap_err();
    assert!(
        matches!(err, UpdateError::Raced { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(err.reason(), Some(ReasonCode::Stale));
}

/// What the caller keeps from one update is the next one's base while it is still published;
/// after another publication it is not used, and the update is judged on what is published.
#[test]
fn known_content_is_used_only_while_it_is_published() {
    let store = MemStore::new();
    let cfg = GateConfig::default();
    publish(&store, &cfg, BASE);
    let mut known = None;
    let m1 = msg(
        &[],
        &[a("one.example.com.", Class::Zone, [198, 51, 100, 1])],
    );
    run(gate::update(
        &store,
        &mut known,
        req(&m1, None, &[]),
        &cfg,
        NOW,
        &key(),
    ))
    .unwrap();
    let g2 = known.as_ref().map(|k| k.generation());
    assert_eq!(g2, Some(Generation(2)));
    // Someone else publishes: the kept content is stale and must not be the base.
    let other = publish(&store, &cfg, &format!("{BASE}other A 203.0.113.1\n"));
    let m2 = msg(
        &[],
        &[a("two.example.com.", Class::Zone, [198, 51, 100, 2])],
    );
    let out = run(gate::update(
        &store,
        &mut known,
        req(&m2, None, &[]),
        &cfg,
        NOW,
        &key(),
    ))
    .unwrap();
    let UpdateOutcome::Published {
        generation, base, ..
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(base, other);
    let (_, zone) = run(gate::load_content(&store, &origin(), generation, &cfg)).unwrap();
    let owners: Vec<String> = zone.records().iter().map(|r| r.owner.to_string()).collect();
    assert!(
        owners.contains(&"other.example.com.".to_string()),
        "{owners:?}"
    );
    assert!(
        owners.contains(&"two.example.com.".to_string()),
        "{owners:?}"
    );
    assert!(
        !owners.contains(&"one.example.com.".to_string()),
        "{owners:?}"
    );
    assert_eq!(known.as_ref().map(|k| k.generation()), Some(generation));
}

#[test]
fn an_update_on_known_content_reads_no_whole_plan() {
    let store = MemStore::new();
    let cfg = GateConfig::default();
    // Enough records that a one-record change is stored as a delta (see `gate::chain`).
    publish(&store, &cfg, &hosts());
    let mut known = None;
    let update =
        |known: &mut _, owner: &str, last: u8| add_a(&store, &cfg, known, owner, last).unwrap();
    // The first update has nothing kept: it reads the published plan whole.
    update(&mut known, "one.example.com.", 1);
    let after_first = store.body_reads();
    assert!(after_first >= 1);
    // The next ones start from the kept content (checked by its row's hash) and publish
    // their delta, read back as stored: no body is read or rebuilt.
    for (i, owner) in ["two.example.com.", "three.example.com."]
        .iter()
        .enumerate()
    {
        let out = update(&mut known, owner, i as u8 + 2);
        assert!(matches!(out, UpdateOutcome::Published { .. }), "{out:?}");
    }
    assert_eq!(store.body_reads(), after_first);
    // ... and what they published is what a full read gives.
    let published = run(store.published(&origin())).unwrap().unwrap().generation;
    let (_, zone) = run(gate::load_content(&store, &origin(), published, &cfg)).unwrap();
    assert_eq!(Some(&zone), known.as_ref().map(|k| k.zone()));
    assert!(
        zone.records()
            .iter()
            .any(|r| r.owner == n("three.example.com."))
    );
}

/// The 200 hosts the known-content tests publish: enough that a
/// one-record update (with the SOA it replaces) is stored as a delta (see `gate::chain`).
fn hosts() -> String {
    (0..200)
        .map(|i| format!("h{i} A 192.0.2.{}\n", i % 250))
        .collect()
}

/// An UPDATE signed by `key()` adding `owner A 198.51.100.last`, run through the gate with
/// the content `known` keeps.
fn add_a(
    store: &MemStore,
    cfg: &GateConfig,
    known: &mut Option<KnownContent>,
    owner: &str,
    last: u8,
) -> Result<UpdateOutcome, UpdateError> {
    let m = msg(&[], &[a(owner, Class::Zone, [198, 51, 100, last])]);
    run(gate::update(
        store,
        known,
        req(&m, None, &[]),
        cfg,
        NOW,
        &key(),
    ))
}

/// A target that keeps what it installs as published, as the server's catalog does, and so
/// can be read onto incrementally.
#[derive(Default)]
struct Keeping {
    held: std::cell::RefCell<Option<(Generation, zonegate_core::Zone)>>,
}

impl zonegate_core::gate::Target for Keeping {
    fn id(&self) -> &str {
        "keeping"
    }

    fn held(&self, _: &Name) -> Option<Generation> {
        self.held.borrow().as_ref().map(|(g, _)| *g)
    }

    async fn install(&self, _: Generation, _: zonegate_core::Zone) -> Result<(), Generation> {
        panic!("converge installs content as published")
    }

    async fn install_published(
        &self,
        generation: Generation,
        zone: zonegate_core::Zone,
        _serial: u32,
    ) -> Result<(), Generation> {
        if let Some(held) = self.held(zone.origin()).filter(|h| *h >= generation) {
            return Err(held);
        }
        *self.held.borrow_mut() = Some((generation, zone));
        Ok(())
    }

    fn held_content(&self, _: &Name) -> Option<(Generation, zonegate_core::Zone)> {
        self.held.borrow().clone()
    }
}

#[test]
fn a_target_holding_published_content_is_read_onto_from_the_deltas() {
    let store = MemStore::new();
    let cfg = GateConfig::default();
    publish(&store, &cfg, &hosts());
    let target = Keeping::default();
    let converge = || run(gate::converge(&store, &target, &origin(), &cfg, NOW));
    // The first install reads the published plan whole.
    assert!(matches!(
        converge(),
        Ok(gate::ConvergeOutcome::Installed { .. })
    ));
    let mut known = None;
    for (i, owner) in ["one.example.com.", "two.example.com."].iter().enumerate() {
        add_a(&store, &cfg, &mut known, owner, i as u8).unwrap();
    }
    // Two generations later, the target is brought there from the two deltas alone.
    let reads = store.body_reads();
    let published = run(store.published(&origin())).unwrap().unwrap().generation;
    assert_eq!(
        converge(),
        Ok(gate::ConvergeOutcome::Installed {
            generation: published,
            previous: Some(Generation(1)),
        })
    );
    assert_eq!(store.body_reads(), reads);
    let (_, whole) = run(gate::load_content(&store, &origin(), published, &cfg)).unwrap();
    assert_eq!(target.held_content(&origin()), Some((published, whole)));
    // A delta that does not apply is not installed: the plan is read whole, and refused as
    // corrupt, and the target keeps what it holds (I7).
    let m = msg(
        &[],
        &[a("three.example.com.", Class::Zone, [198, 51, 100, 9])],
    );
    run(gate::update(
        &store,
        &mut known,
        req(&m, None, &[]),
        &cfg,
        NOW,
        &key(),
    ))
    .unwrap();
    let newest = run(store.published(&origin())).unwrap().unwrap().generation;
    assert!(store.corrupt_body(&origin(), newest));
    let reads = store.body_reads();
    let err = converge().unwrap_err();
    assert!(
        matches!(&err, StepError::Refused(Refusal::Corrupt { generation, .. }) if *generation == newest),
        "{err:?}"
    );
    assert_eq!(store.body_reads(), reads + 1);
    assert_eq!(target.held(&origin()), Some(published));
}

#[test]
fn an_update_seeded_from_held_content_reads_no_whole_plan_and_a_stale_seed_is_not_used() {
    let store = MemStore::new();
    let cfg = GateConfig::default();
    publish(&store, &cfg, &hosts());
    let target = Keeping::default();
    run(gate::converge(&store, &target, &origin(), &cfg, NOW)).unwrap();
    let seed = || {
        let (g, zone) = target.held_content(&origin()).expect("installed");
        Some(KnownContent::held(g, zone, &cfg.limits))
    };
    let update =
        |known: &mut _, owner: &str, last: u8| add_a(&store, &cfg, known, owner, last).unwrap();
    // A worker that starts with what the server holds publishes without a whole read.
    let stale = seed();
    let reads = store.body_reads();
    let mut known = seed();
    let out = update(&mut known, "one.example.com.", 1);
    assert!(matches!(out, UpdateOutcome::Published { .. }), "{out:?}");
    assert_eq!(store.body_reads(), reads);
    // A seed of a generation that is no longer published is not used: the published plan is
    // read whole, and the update is judged on it (the record published by `one` stays).
    let mut known = stale;
    let out = update(&mut known, "two.example.com.", 2);
    assert!(matches!(out, UpdateOutcome::Published { .. }), "{out:?}");
    assert!(store.body_reads() > reads);
    let zone = known.expect("published").zone().clone();
    for owner in ["one.example.com.", "two.example.com."] {
        assert!(
            zone.records().iter().any(|r| r.owner == n(owner)),
            "{owner}"
        );
    }
}

/// Under the `file` serial policy an update's content carries the serial it is served with
/// (the published one plus one), so the stored zone and the served one agree; under another
/// policy the content keeps its own serial and the publication decides the served one.
#[test]
fn an_update_under_the_file_policy_stores_the_serial_it_is_served_with() {
    for policy in [SerialPolicy::File, SerialPolicy::Increment] {
        let store = MemStore::new();
        let mut cfg = GateConfig::default();
        cfg.serial.policy = policy;
        publish(&store, &cfg, &hosts());
        let mut known = None;
        for (i, owner) in ["one.example.com.", "two.example.com."].iter().enumerate() {
            let out = add_a(&store, &cfg, &mut known, owner, i as u8);
            assert!(
                matches!(out, Ok(UpdateOutcome::Published { .. })),
                "{out:?}"
            );
            let published = run(store.published(&origin())).unwrap().unwrap();
            let (_, zone) = run(gate::load_content(
                &store,
                &origin(),
                published.generation,
                &cfg,
            ))
            .unwrap();
            let content = zone.soa().serial;
            match policy {
                SerialPolicy::File => assert_eq!(content, published.serial, "{policy:?} {i}"),
                _ => assert_eq!(content, 1, "{policy:?} {i}: the file's serial stays"),
            }
            assert!(published.serial > 1);
        }
    }
}
