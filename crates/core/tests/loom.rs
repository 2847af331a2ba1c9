//! # The October 2025 race, model-checked
//!
//! On 2025-10-19/20 AWS us-east-1 lost DynamoDB's regional endpoint for about three hours. A
//! DNS Enactor made "a one-time check that its plan is newer than the previously applied plan",
//! stalled, and then wrote its old plan over a newer one; clean-up then deleted that old plan,
//! which was by then the live one, and the endpoint's record became empty. No Enactor could
//! apply a later plan until operators repaired the state by hand. `docs/race.md` tells the
//! story step by step.
//!
//! This suite runs under [loom], which executes a model many times and explores the ways its
//! threads can interleave (up to [`PREEMPTION_BOUND`] forced switches per execution):
//!
//! - `naive_design_*`: the design AWS described ([`zonegate_core::model::naive`]). Loom must FIND the
//!   October interleaving; the test catches the failing model and prints the trace loom found
//!   as numbered steps.
//! - `s1_*` … `s7_*`: zonegate's real protocol, the very `gate::{plan, publish, converge,
//!   cleanup}` functions the binary runs, against [`MemStore`] (one critical section per store
//!   operation, as SQLite runs one transaction per operation) and [`MemTarget`] (one critical
//!   section per install, as the server's catalog). Every store or target operation is
//!   followed by a check of I1 (published and target generations never go back), I2 (no
//!   published, target-held or pinned plan is deleted) and I3 (a target never holds empty or
//!   mismatched content; the published plan always decodes). After the threads join, I6 (the
//!   target converges to the published generation) and I5 (publishing a newly planned,
//!   newest plan succeeds) are checked too.
//! - `s8_*`: the tempting partial fix, clean-up that spares the live plan but an enactor that
//!   keeps its one-time check. Loom must still find an old plan going live (I1).
//!
//! Run it (about a minute in release on two cores):
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" cargo test -p zonegate-core --release --test loom \
//!     --target-dir target/loom -- --nocapture
//! ```
//!
//! `LOOM_MAX_PREEMPTIONS=3` explores deeper (slower); the default bound is
//! [`PREEMPTION_BOUND`].
//!
//! ## How the checks observe the model
//!
//! The checker reads the store and the target between operations. Its reads are wrapped in
//! `loom::stop_exploring()` / `loom::explore()`, so loom never switches threads in the middle
//! of a check: each check sees one consistent state, and it adds no interleavings of its own.
//! The operations under test are explored normally. The trace of every operation (kept in a
//! `std` mutex loom does not see, so it adds no interleavings either) goes into every failure
//! message as numbered steps.
//!
//! [loom]: https://docs.rs/loom

#![cfg(loom)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
// Bookkeeping of the checker only: invisible to loom, and never held across a loom operation.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loom::future::block_on;
use loom::model::Builder;
use loom::thread;

use zonegate_core::gate::{
    self, AuditEntry, ConvergeOutcome, Generation, NewPlan, OptGen, PlanOutcome, PublishOutcome,
    Published, StepError, Store, StoreError, StoredPlan, Target, Verdict,
};
use zonegate_core::model::MemStore;
use zonegate_core::model::MemTarget;
use zonegate_core::model::naive::{CleanupRule, NaiveDns};
use zonegate_core::{ContentHash, GateConfig, Name, ParsedZone, RType, Zone, zonefile};

/// How many times loom may switch away from a runnable thread in one execution. Two covers
/// the October shape (an enactor stalled between its check and its write while another
/// enactor and clean-up run) plus one more independent stall anywhere else; see
/// `docs/race.md` for what it does and does not cover.
const PREEMPTION_BOUND: usize = 2;

/// The clock every step is given. Plans are made at `NOW`, so none is too old.
const NOW: u64 = 10_000;

/// The one target of every scenario: a running server.
const TARGET: &str = "server-1";

fn builder() -> Builder {
    let mut b = Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        b.preemption_bound = Some(PREEMPTION_BOUND);
    }
    b.max_branches = 10_000;
    b
}

/// The gate settings of every scenario: the most eager clean-up there is (keep nothing beyond
/// the horizon), pins that outlive the scenario.
fn config() -> GateConfig {
    GateConfig {
        generations_keep: 0,
        pin_lease_s: 300,
        ..GateConfig::default()
    }
}

fn name(origin: &str) -> Name {
    Name::parse(origin).expect("scenario origins are valid")
}

/// Zone content whose TXT record `gen.<origin>` says which plan it is: the n-th plan the
/// scenario stages, which is generation n because one thread at a time stages.
fn zone_text(origin: &str, n: u64) -> String {
    format!(
        "$ORIGIN {origin}\n$TTL 300\n\
         @ SOA ns1 hostmaster {n} 3600 600 604800 60\n\
         @ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.80\ngen TXT \"{n}\"\n"
    )
}

/// Parsed contents, made once per test outside the model (parsing is the slow part).
#[derive(Clone)]
struct Contents(Arc<BTreeMap<(String, u64), ParsedZone>>);

impl Contents {
    fn new(origins: &[&str], count: u64) -> Contents {
        let mut map = BTreeMap::new();
        for origin in origins {
            for n in 1..=count {
                let parsed = zonefile::parse(&zone_text(origin, n), None, "loom")
                    .expect("the scenario zones parse");
                map.insert((origin.to_string(), n), parsed);
            }
        }
        Contents(Arc::new(map))
    }

    fn get(&self, origin: &Name, n: u64) -> ParsedZone {
        self.0
            .get(&(origin.to_string(), n))
            .unwrap_or_else(|| panic!("no content {n} for {origin} prepared"))
            .clone()
    }
}

/// The number in a content's `gen` TXT record.
fn content_number(zone: &Zone) -> Option<u64> {
    let owner = Name::parse(&format!("gen.{}", zone.origin())).ok()?;
    let txt = zone
        .records()
        .iter()
        .find(|r| r.rtype == RType::TXT && r.owner == owner)?;
    let (len, text) = txt.rdata.split_first()?;
    std::str::from_utf8(text.get(..usize::from(*len))?)
        .ok()?
        .parse()
        .ok()
}

// ---------------------------------------------------------------------------------------------
// The world of one execution, and the checker.
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Observed {
    published: BTreeMap<Name, Generation>,
    recorded: BTreeMap<Name, Generation>,
}

/// Everything one loom execution shares: the store, the target and the checker's notes.
struct World {
    store: MemStore,
    target: MemTarget,
    cfg: GateConfig,
    zones: Vec<Name>,
    contents: Contents,
    /// Plans broken on purpose by fault injection (S7): the protocol is not blamed for them.
    damaged: Mutex<Vec<(Name, Generation)>>,
    observed: Mutex<Observed>,
    trace: Mutex<Vec<String>>,
}

impl World {
    fn new(zones: &[&str], contents: &Contents) -> Arc<World> {
        Arc::new(World {
            store: MemStore::new(),
            target: MemTarget::new(TARGET),
            cfg: config(),
            zones: zones.iter().map(|z| name(z)).collect(),
            contents: contents.clone(),
            damaged: Mutex::new(Vec::new()),
            observed: Mutex::new(Observed::default()),
            trace: Mutex::new(Vec::new()),
        })
    }

    fn actor(&self, name: &'static str) -> Actor<'_> {
        Actor { world: self, name }
    }

    fn note(&self, line: String) {
        self.trace.lock().expect("trace").push(line);
    }

    fn trace(&self) -> String {
        let mut out = String::new();
        for (i, line) in self.trace.lock().expect("trace").iter().enumerate() {
            let _ = writeln!(out, "{:>3}. {line}", i + 1);
        }
        out
    }

    /// Panics with the invariant, what broke it and the numbered interleaving so far.
    fn fail(&self, invariant: &str, detail: String) -> ! {
        panic!(
            "{invariant} broken: {detail}\ninterleaving (numbered steps):\n{}",
            self.trace()
        )
    }

    fn is_damaged(&self, zone: &Name, g: Generation) -> bool {
        self.damaged
            .lock()
            .expect("damaged")
            .iter()
            .any(|(z, d)| z == zone && *d == g)
    }

    /// Checks I1, I2 and I3 on the state right now. Loom does not interleave inside it.
    async fn check(&self) {
        loom::stop_exploring();
        for zone in &self.zones {
            self.check_zone(zone).await;
        }
        loom::explore();
    }

    async fn check_zone(&self, zone: &Name) {
        let published = self
            .store
            .published(zone)
            .await
            .expect("MemStore reads never fail")
            .map(|p| p.generation);
        let plans = self.store.generations(zone);
        let exists = |g: Generation| plans.contains(&g) || self.is_damaged(zone, g);
        let recorded = self.store.target_generation(TARGET, zone);
        let pins = self.store.pins(zone);
        let held = self.target.content(zone);

        // I1: the published generation and the generation the target recorded never go back.
        {
            let mut seen = self.observed.lock().expect("observed");
            if let Some(before) = seen.published.get(zone).copied()
                && published < Some(before)
            {
                drop(seen);
                self.fail(
                    "I1",
                    format!(
                        "{zone} published went from {before} back to {}",
                        OptGen(published)
                    ),
                );
            }
            if let Some(before) = seen.recorded.get(zone).copied()
                && recorded < Some(before)
            {
                drop(seen);
                self.fail(
                    "I1",
                    format!(
                        "{TARGET} recorded {zone} going from {before} back to {}",
                        OptGen(recorded)
                    ),
                );
            }
            if let Some(p) = published {
                seen.published.insert(zone.clone(), p);
            }
            if let Some(r) = recorded {
                seen.recorded.insert(zone.clone(), r);
            }
        }
        let installs: Vec<Generation> = self
            .target
            .installs()
            .into_iter()
            .filter(|(z, _)| z == zone)
            .map(|(_, g)| g)
            .collect();
        if let Some(w) = installs.windows(2).find(|w| w[1] <= w[0]) {
            self.fail(
                "I1",
                format!(
                    "{TARGET} installed {zone} {} after {}: a target went back",
                    w[1], w[0]
                ),
            );
        }

        // I2: no published, target-held or pinned plan is deleted.
        if let Some(p) = published.filter(|p| !exists(*p)) {
            self.fail("I2", format!("{zone}'s published plan {p} is deleted"));
        }
        if let Some(r) = recorded.filter(|r| !exists(*r)) {
            self.fail(
                "I2",
                format!("{zone} plan {r}, which {TARGET} holds, is deleted"),
            );
        }
        if let Some((g, holder, _)) = pins.iter().find(|(g, _, _)| !exists(*g)) {
            self.fail(
                "I2",
                format!("{zone} plan {g}, pinned by {holder}, is deleted"),
            );
        }

        // I3: the target holds valid, non-empty content of the generation it claims, never
        // newer than what is published; the published plan still decodes.
        if let Some((g, content)) = &held {
            if content.origin() != zone || content.is_empty() {
                self.fail("I3", format!("{TARGET} holds {content:?} as {zone} {g}"));
            }
            let apex_has = |rtype: RType| {
                content
                    .records()
                    .iter()
                    .any(|r| r.owner == *zone && r.rtype == rtype)
            };
            if !apex_has(RType::SOA) || !apex_has(RType::NS) {
                self.fail("I3", format!("{TARGET} holds {zone} {g} without SOA or NS"));
            }
            if content_number(content) != Some(g.0) {
                self.fail(
                    "I3",
                    format!(
                        "{TARGET} holds {zone} {g} but the content is plan {:?}",
                        content_number(content)
                    ),
                );
            }
            if Some(*g) > published {
                self.fail(
                    "I1",
                    format!(
                        "{TARGET} holds {zone} {g}, newer than the published {}",
                        OptGen(published)
                    ),
                );
            }
        }
        if let Some(p) = published.filter(|p| !self.is_damaged(zone, *p)) {
            let plan = self
                .store
                .load_plan(zone, p)
                .await
                .expect("MemStore reads never fail");
            let decoded = plan.map(|plan| {
                Zone::decode(zone, &plan.body, &plan.hash, &self.cfg.limits)
                    .map(|z| content_number(&z))
            });
            if decoded != Some(Ok(Some(p.0))) {
                self.fail(
                    "I3",
                    format!(
                        "{zone}'s published plan {p} does not decode to its content: {decoded:?}"
                    ),
                );
            }
        }
    }

    /// The history checks after the threads joined: every publication in the audit log is
    /// newer than the one before it (I1, I4), and the target's installs only grew (I1).
    fn check_history(&self) {
        for zone in &self.zones {
            let published: Vec<Generation> = self
                .store
                .audit_log()
                .into_iter()
                .filter(|e| &e.zone == zone && e.action == gate::AuditAction::Published)
                .filter_map(|e| e.generation)
                .collect();
            if let Some(w) = published.windows(2).find(|w| w[1] <= w[0]) {
                self.fail(
                    "I1",
                    format!("the audit log of {zone} publishes {} after {}", w[1], w[0]),
                );
            }
        }
    }

    /// After join: I6 (the target converges to the published generation) and I5 (a newly
    /// planned plan, the newest, publishes and converges). Returns the generation it published.
    fn settle(&self) {
        let me = self.actor("after join");
        block_on(self.check());
        self.check_history();
        for zone in &self.zones {
            let published = block_on(self.store.published(zone))
                .expect("MemStore reads never fail")
                .map(|p| p.generation);
            // I6, unless fault injection broke the published plan itself (S7 before any
            // newer plan was published): then only a new publication can help, which is I5.
            if let Some(p) = published.filter(|p| !self.is_damaged(zone, *p)) {
                let outcome = block_on(gate::converge(&me, &me, zone, &self.cfg));
                if !matches!(
                    outcome,
                    Ok(ConvergeOutcome::Installed { .. } | ConvergeOutcome::UpToDate { .. })
                ) || self.target.held(zone) != Some(p)
                {
                    self.fail(
                        "I6",
                        format!(
                            "{TARGET} holds {} of {zone} after converging to {p}: {outcome:?}",
                            OptGen(self.target.held(zone))
                        ),
                    );
                }
            }
            // I5: plan fresh content on whatever state the threads left, and publish it.
            let newest = block_on(self.store.newest_generation(zone))
                .expect("MemStore reads never fail")
                .expect("every scenario staged something");
            let n = newest.0 + 1;
            let parsed = self.contents.get(zone, n);
            let g = match block_on(gate::plan(
                &me,
                parsed,
                &self.cfg,
                NOW,
                &named("after join"),
            )) {
                Ok(PlanOutcome::Staged { generation, .. }) if generation.0 == n => generation,
                other => self.fail("I5", format!("planning {zone} content {n}: {other:?}")),
            };
            match block_on(gate::publish(
                &me,
                zone,
                None,
                &self.cfg,
                NOW,
                &named("after join"),
            )) {
                Ok(PublishOutcome::Published { generation, .. }) if generation == g => {}
                other => self.fail(
                    "I5",
                    format!("publishing the newest plan {g} of {zone}: {other:?}"),
                ),
            }
            let outcome = block_on(gate::converge(&me, &me, zone, &self.cfg));
            if self.target.held(zone) != Some(g) {
                self.fail(
                    "I6",
                    format!("{TARGET} does not converge to {g} of {zone}: {outcome:?}"),
                );
            }
        }
        self.check_history();
    }
}

/// One thread's view of the world. It implements `Store` and `Target` by calling the
/// `MemStore` or `MemTarget` operation ONCE (so the atomic steps are exactly the store's),
/// noting it in the trace and then checking the invariants.
#[derive(Clone, Copy)]
struct Actor<'w> {
    world: &'w World,
    name: &'static str,
}

fn plan_text(plan: &Option<StoredPlan>) -> String {
    match plan {
        Some(p) => format!("{} ({})", p.generation, p.status.as_str()),
        None => "none".into(),
    }
}

fn result_text<T: std::fmt::Debug>(r: &Result<T, StoreError>) -> String {
    match r {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("refused: {e}"),
    }
}

impl Actor<'_> {
    async fn after(&self, line: String, changed_state: bool) {
        self.world.note(format!("{}: {line}", self.name));
        if changed_state {
            self.world.check().await;
        }
    }
}

impl Store for Actor<'_> {
    async fn published(&self, zone: &Name) -> Result<Option<Published>, StoreError> {
        let r = self.world.store.published(zone).await;
        let text = match &r {
            Ok(p) => format!("{}", OptGen(p.map(|p| p.generation))),
            Err(e) => e.to_string(),
        };
        self.after(format!("read published {zone} = {text}"), false)
            .await;
        r
    }

    async fn load_plan(
        &self,
        zone: &Name,
        generation: Generation,
    ) -> Result<Option<StoredPlan>, StoreError> {
        let r = self.world.store.load_plan(zone, generation).await;
        let text = match &r {
            Ok(p) => plan_text(p),
            Err(e) => e.to_string(),
        };
        self.after(format!("load {zone} {generation} = {text}"), false)
            .await;
        r
    }

    async fn newest_generation(&self, zone: &Name) -> Result<Option<Generation>, StoreError> {
        let r = self.world.store.newest_generation(zone).await;
        self.after(format!("newest of {zone} = {}", result_text(&r)), false)
            .await;
        r
    }

    async fn stage(&self, plan: NewPlan, audit: AuditEntry) -> Result<Generation, StoreError> {
        let (zone, base) = (plan.zone.clone(), plan.base);
        let r = self.world.store.stage(plan, audit).await;
        self.after(
            format!(
                "stage {zone} on base {} -> {}",
                OptGen(base),
                result_text(&r)
            ),
            true,
        )
        .await;
        r
    }

    async fn publish_cas(
        &self,
        zone: &Name,
        generation: Generation,
        expected_base: Option<Generation>,
        audit: AuditEntry,
    ) -> Result<Published, StoreError> {
        let r = self
            .world
            .store
            .publish_cas(zone, generation, expected_base, audit)
            .await;
        let text = match &r {
            Ok(p) => format!("PUBLISHED {} (version {})", p.generation, p.publish_count),
            Err(e) => format!("refused: {e}"),
        };
        self.after(
            format!(
                "publish_cas {zone} {generation} if published == {} -> {text}",
                OptGen(expected_base)
            ),
            true,
        )
        .await;
        r
    }

    async fn pin(
        &self,
        zone: &Name,
        generation: Generation,
        holder: &str,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let r = self
            .world
            .store
            .pin(zone, generation, holder, expires_at)
            .await;
        self.after(
            format!("pin {zone} {generation} -> {}", result_text(&r)),
            true,
        )
        .await;
        r
    }

    async fn unpin(
        &self,
        zone: &Name,
        generation: Generation,
        holder: &str,
    ) -> Result<(), StoreError> {
        let r = self.world.store.unpin(zone, generation, holder).await;
        self.after(format!("unpin {zone} {generation}"), true).await;
        r
    }

    async fn record_target(
        &self,
        target: &str,
        zone: &Name,
        generation: Generation,
    ) -> Result<(), StoreError> {
        let r = self
            .world
            .store
            .record_target(target, zone, generation)
            .await;
        self.after(
            format!(
                "record {target} holds {zone} {generation} -> {}",
                result_text(&r)
            ),
            true,
        )
        .await;
        r
    }

    async fn cleanup(&self, zone: &Name, keep: u32, now: u64) -> Result<u64, StoreError> {
        // Only for the trace line: read without adding interleavings (the clean-up itself is
        // explored as usual).
        loom::stop_exploring();
        let before = self.world.store.generations(zone);
        loom::explore();
        let r = self.world.store.cleanup(zone, keep, now).await;
        loom::stop_exploring();
        let after = self.world.store.generations(zone);
        loom::explore();
        let deleted: Vec<String> = before
            .iter()
            .filter(|g| !after.contains(g))
            .map(|g| g.to_string())
            .collect();
        self.after(
            format!(
                "clean up {zone} -> deleted [{}] ({})",
                deleted.join(", "),
                result_text(&r)
            ),
            true,
        )
        .await;
        r
    }

    async fn audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        let line = format!(
            "audit {} {}",
            entry.action,
            gate::optional_reason::to_text(&entry.reason)
        );
        let r = self.world.store.audit(entry).await;
        self.after(line, true).await;
        r
    }

    async fn set_verdict(
        &self,
        zone: &Name,
        generation: Generation,
        hash: Option<ContentHash>,
        to: Verdict,
        audit: AuditEntry,
    ) -> Result<Verdict, StoreError> {
        let r = self
            .world
            .store
            .set_verdict(zone, generation, hash, to, audit)
            .await;
        self.after(
            format!(
                "set verdict of {zone} {generation} to {} -> {}",
                to.as_str(),
                result_text(&r)
            ),
            true,
        )
        .await;
        r
    }
}

impl Target for Actor<'_> {
    fn id(&self) -> &str {
        self.world.target.id()
    }

    fn held(&self, zone: &Name) -> Option<Generation> {
        self.world.target.held(zone)
    }

    async fn install(&self, generation: Generation, zone: Zone) -> Result<(), Generation> {
        let origin = zone.origin().clone();
        let r = self.world.target.install(generation, zone).await;
        let text = match r {
            Ok(()) => "installed".to_string(),
            Err(held) => format!("refused, holds {held}"),
        };
        self.after(
            format!("{TARGET} install {origin} {generation} -> {text}"),
            true,
        )
        .await;
        r
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers for scenario set-up and threads.
// ---------------------------------------------------------------------------------------------

/// The audit log's name for a scenario's actor.
fn named(actor: &'static str) -> gate::Actor {
    gate::Actor::new(actor).expect("scenario actors are named")
}

/// Stages content `n` of `zone` (which must become generation `n`) with the production
/// planner.
fn stage(world: &World, actor: &'static str, zone: &Name, n: u64) -> Generation {
    let me = world.actor(actor);
    let parsed = world.contents.get(zone, n);
    match block_on(gate::plan(&me, parsed, &world.cfg, NOW, &named(actor))) {
        Ok(PlanOutcome::Staged { generation, .. }) if generation.0 == n => generation,
        other => world.fail("set-up", format!("staging {zone} content {n}: {other:?}")),
    }
}

fn publish(
    world: &World,
    actor: &'static str,
    zone: &Name,
    g: Option<u64>,
) -> Result<PublishOutcome, StepError> {
    let me = world.actor(actor);
    block_on(gate::publish(
        &me,
        zone,
        g.map(Generation),
        &world.cfg,
        NOW,
        &named(actor),
    ))
}

fn cleanup(world: &World, actor: &'static str, zone: &Name) -> u64 {
    let me = world.actor(actor);
    match block_on(gate::cleanup(&me, zone, &world.cfg, NOW)) {
        Ok(n) => n,
        Err(e) => world.fail("I2", format!("clean-up of {zone} failed: {e}")),
    }
}

fn converge(world: &World, zone: &Name) -> Result<ConvergeOutcome, StepError> {
    let me = world.actor(TARGET);
    block_on(gate::converge(&me, &me, zone, &world.cfg))
}

/// Runs `f` on a new loom thread with the world.
fn spawn<T: Send + 'static>(
    world: &Arc<World>,
    f: impl FnOnce(&World) -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    let world = world.clone();
    thread::spawn(move || f(&world))
}

/// An enactor's publish may win, find its plan already published, lose the compare-and-swap
/// (stale) or find its plan cleaned up; anything else is a bug.
fn assert_enactor_outcome(world: &World, who: &str, r: &Result<PublishOutcome, StepError>) {
    let fine = matches!(
        r,
        Ok(_)
            | Err(StepError::PlanMissing { .. })
            | Err(StepError::Refused(gate::Refusal::Stale { .. }))
    );
    if !fine {
        world.fail("outcome", format!("{who} publish ended with {r:?}"));
    }
}

fn published_now(world: &World, zone: &Name) -> Option<Generation> {
    block_on(world.store.published(zone))
        .expect("MemStore reads never fail")
        .map(|p| p.generation)
}

/// Runs a model under loom with the suite's bound, and reports how many executions it took.
fn explore(label: &str, model: impl Fn() + Sync + Send + 'static) {
    let executions = Arc::new(AtomicUsize::new(0));
    let counter = executions.clone();
    let start = Instant::now();
    builder().check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        model()
    });
    println!(
        "{label}: invariants held in all {} interleavings explored (preemption bound {}), {:.1?}",
        executions.load(Ordering::Relaxed),
        bound_text(),
        start.elapsed()
    );
}

fn bound_text() -> String {
    std::env::var("LOOM_MAX_PREEMPTIONS").unwrap_or_else(|_| PREEMPTION_BOUND.to_string())
}

/// The expected failures of the naive models are printed by their tests, once; keep the
/// default panic hook from printing them (with a backtrace) a second time. Every other panic
/// is reported as usual.
fn quiet_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let text = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !text.starts_with(NAIVE_FAILURE) {
                default(info);
            }
        }));
    });
}

/// How a naive model's failure message starts.
const NAIVE_FAILURE: &str = "the naive design broke";

/// Runs a model that must FAIL under loom; returns the failure message (the panic payload).
fn find_violation(model: impl Fn() + Sync + Send + 'static) -> (String, Duration) {
    quiet_expected_panics();
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| builder().check(model)));
    let elapsed = start.elapsed();
    let payload = match result {
        Ok(()) => panic!("loom explored every interleaving and found no violation"),
        Err(payload) => payload,
    };
    let message = if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "<non-string panic payload>".to_string()
    };
    (message, elapsed)
}

// ---------------------------------------------------------------------------------------------
// The naive design: loom must find the October race.
// ---------------------------------------------------------------------------------------------

/// The October cast on the naive design: g0 is live on two endpoints and the planner already
/// wrote g1–g4. Enactor A applies g1; enactor B applies g4 and then cleans up plans more than
/// two generations older. Afterwards enactor C tries the next plan, g5. The model fails, with
/// the numbered trace and every violation, as soon as the invariants it broke satisfy
/// `counterexample`; loom's first failing interleaving is then the counterexample it found.
fn october_on_naive(
    rule: CleanupRule,
    counterexample: fn(&[&str]) -> bool,
) -> impl Fn() + Sync + Send {
    move || {
        let dns = Arc::new(NaiveDns::new(rule, 2, 0, &[1, 2, 3, 4]));
        let a = {
            let dns = dns.clone();
            thread::spawn(move || {
                dns.enact("enactor A", 1);
            })
        };
        let b = {
            let dns = dns.clone();
            thread::spawn(move || {
                if dns.enact("enactor B", 4) {
                    dns.clean_up("enactor B's clean-up", 4, 2);
                }
            })
        };
        a.join().expect("enactor A");
        b.join().expect("enactor B");
        dns.stage("planner", 5);
        dns.enact("enactor C", 5);
        let mut broken: Vec<&str> = dns.violations().iter().map(|v| v.invariant).collect();
        broken.dedup();
        assert!(
            !counterexample(&broken),
            "{NAIVE_FAILURE} {}:\n{}",
            broken.join(", "),
            dns.report()
        );
    }
}

/// The October outage itself: loom must find an interleaving in which clean-up deletes the
/// live plan (I2) and so an endpoint answers empty (I3). The model fails only when both broke
/// (loom's very first counterexample is a smaller one, see the next test), so the interleaving
/// loom reports is the whole story; the report lists every invariant it broke.
#[test]
fn naive_design_loses_the_october_race() {
    let (message, elapsed) =
        find_violation(october_on_naive(CleanupRule::OlderThanApplied, |broken| {
            broken.contains(&"I2") && broken.contains(&"I3")
        }));
    println!(
        "\n=== loom found the October race in the naive design ({elapsed:.1?}) ===\n{message}"
    );
    assert!(
        message.starts_with("the naive design broke"),
        "loom failed for another reason: {message}"
    );
    for broken in ["I1 broken", "I2 broken", "I3 broken"] {
        assert!(message.contains(broken), "{broken} missing from: {message}");
    }
    assert!(
        message.contains("  1. enactor A checked g1 > g0") && message.contains("deleted g0, g1"),
        "the interleaving must be printed as numbered steps: {message}"
    );
}

/// Without choosing which invariant to look for, loom's first counterexample comes within a
/// few dozen interleavings: any violation of I1, I2 or I3 counts.
#[test]
fn naive_design_breaks_an_invariant_quickly() {
    let (message, elapsed) =
        find_violation(october_on_naive(CleanupRule::OlderThanApplied, |broken| {
            !broken.is_empty()
        }));
    println!(
        "\n=== loom's first counterexample in the naive design ({elapsed:.1?}) ===\n{message}"
    );
    assert!(
        message.starts_with("the naive design broke"),
        "loom failed for another reason: {message}"
    );
    assert!(
        ["I1", "I2", "I3"]
            .iter()
            .any(|i| message.contains(&format!("{i} broken"))),
        "no I1, I2 or I3 violation in: {message}"
    );
    assert!(
        message.contains("  1. enactor") && message.contains("  2. enactor"),
        "the interleaving must be printed as numbered steps: {message}"
    );
}

// ---------------------------------------------------------------------------------------------
// The real protocol: S1-S7 must hold in every interleaving explored.
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// S8: the partial fix.
// ---------------------------------------------------------------------------------------------

/// S8: clean-up that refuses to delete the live plan, with the one-time check kept. Loom must
/// still find an old plan going live over a newer one (I1).
#[test]
fn s8_partial_fix_still_lets_an_old_plan_go_live() {
    let (message, elapsed) = find_violation(october_on_naive(CleanupRule::SpareLive, |broken| {
        broken.contains(&"I1")
    }));
    println!("\n=== loom found I1 broken in the partial fix ({elapsed:.1?}) ===\n{message}");
    assert!(
        message.contains("I1 broken") && message.contains("went back"),
        "expected an old plan going live: {message}"
    );
    assert!(
        message.contains("  1. enactor"),
        "numbered steps: {message}"
    );
}

/// S8, the other half: the partial fix does do what it says, in every interleaving: it never
/// deletes a live plan (I2).
#[test]
fn s8_partial_fix_never_deletes_a_live_plan() {
    explore(
        "S8 partial fix keeps I2",
        october_on_naive(CleanupRule::SpareLive, |broken| broken.contains(&"I2")),
    );
}
