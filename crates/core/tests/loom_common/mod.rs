//! What every loom scenario shares: the world of one execution (a `MemStore`, a `MemTarget`
//! and the checker), the checking `Actor` wrapper, scenario helpers and the runners.
//!
//! # How the checks observe the model
//!
//! The checker reads the store and the target between operations. Its reads are wrapped in
//! `loom::stop_exploring()` / `loom::explore()`, so loom never switches threads in the middle
//! of a check: each check sees one consistent state, and it adds no interleavings of its own.
//! The operations under test are explored normally. The trace of every operation (kept in a
//! `std` mutex loom does not see, so it adds no interleavings either) goes into every failure
//! message as numbered steps.
//!
//! Each `loom_*.rs` test binary uses part of this module.

// Each test binary uses only part of this module; the checker's one long function reads as one
// list of invariants.
#![allow(dead_code, clippy::too_many_lines)]

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
    self, AuditEntry, Compaction, ConvergeOutcome, DeltaStep, Generation, NewPlan, OptGen,
    PlanOutcome, PublishOutcome, Published, StepError, Store, StoreError, StoredPlan, Target,
    Verdict,
};
use zonegate_core::model::MemStore;
use zonegate_core::model::MemTarget;
use zonegate_core::testkit::n;
use zonegate_core::zone::serial::SerialRequest;
use zonegate_core::{ContentHash, GateConfig, Name, ParsedZone, RType, Zone, zonefile};

/// How many times loom may switch away from a runnable thread in one execution. Two covers
/// the October shape (an enactor stalled between its check and its write while another
/// enactor and clean-up run) plus one more independent stall anywhere else; see
/// `docs/race.md` for what it does and does not cover.
pub const PREEMPTION_BOUND: usize = 2;

/// The clock every step is given. Plans are made at `NOW`, so none is too old.
pub const NOW: u64 = 10_000;

/// The one target of every scenario: a running server.
pub const TARGET: &str = "server-1";

pub fn builder() -> Builder {
    let mut b = Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        b.preemption_bound = Some(PREEMPTION_BOUND);
    }
    b.max_branches = 10_000;
    b
}

/// The gate settings of every scenario: the most eager clean-up there is (keep nothing beyond
/// the horizon), pins that outlive the scenario.
pub fn config() -> GateConfig {
    GateConfig {
        generations_keep: 0,
        pin_lease_s: 300,
        ..GateConfig::default()
    }
}

/// Zone content whose TXT record `gen.<origin>` says which plan it is: the n-th plan the
/// scenario stages, which is generation n because one thread at a time stages.
pub fn zone_text(origin: &str, n: u64) -> String {
    padded_text(origin, n, 0)
}

/// [`zone_text`] with `pad` more A records that never change, so that the change from one
/// plan to the next (the SOA and the `gen` TXT record) is small beside the body and the store
/// keeps it as a delta (see `gate::chain`).
pub fn padded_text(origin: &str, n: u64, pad: u32) -> String {
    let mut text = format!(
        "$ORIGIN {origin}\n$TTL 300\n\
         @ SOA ns1 hostmaster {n} 3600 600 604800 60\n\
         @ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.80\ngen TXT \"{n}\"\n"
    );
    for i in 0..pad {
        let _ = writeln!(text, "pad{i} A 198.51.100.{}", i % 250);
    }
    text
}

/// Parsed contents, made once per test outside the model (parsing is the slow part).
#[derive(Clone)]
pub struct Contents(pub Arc<BTreeMap<(String, u64), ParsedZone>>);

impl Contents {
    pub fn new(origins: &[&str], count: u64) -> Contents {
        Self::padded(origins, count, 0)
    }

    /// Contents of [`padded_text`].
    pub fn padded(origins: &[&str], count: u64, pad: u32) -> Contents {
        let mut map = BTreeMap::new();
        for origin in origins {
            for n in 1..=count {
                let parsed = zonefile::parse(&padded_text(origin, n, pad), None, "loom")
                    .expect("the scenario zones parse");
                map.insert((origin.to_string(), n), parsed);
            }
        }
        Contents(Arc::new(map))
    }

    pub fn get(&self, origin: &Name, n: u64) -> ParsedZone {
        self.0
            .get(&(origin.to_string(), n))
            .unwrap_or_else(|| panic!("no content {n} for {origin} prepared"))
            .clone()
    }
}

/// The number in a content's `gen` TXT record.
pub fn content_number(zone: &Zone) -> Option<u64> {
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
pub struct Observed {
    pub published: BTreeMap<Name, Generation>,
    pub recorded: BTreeMap<Name, Generation>,
}

/// Everything one loom execution shares: the store, the target and the checker's notes.
pub struct World {
    pub store: MemStore,
    pub target: MemTarget,
    pub cfg: GateConfig,
    pub zones: Vec<Name>,
    pub contents: Contents,
    /// Plans broken on purpose by fault injection (S7): the protocol is not blamed for them.
    pub damaged: Mutex<Vec<(Name, Generation)>>,
    pub observed: Mutex<Observed>,
    pub trace: Mutex<Vec<String>>,
}

impl World {
    pub fn new(zones: &[&str], contents: &Contents) -> Arc<World> {
        Self::with_config(zones, contents, config())
    }

    /// [`World::new`] with other gate settings.
    pub fn with_config(zones: &[&str], contents: &Contents, cfg: GateConfig) -> Arc<World> {
        Arc::new(World {
            store: MemStore::new(),
            target: MemTarget::new(TARGET),
            cfg,
            zones: zones.iter().map(|z| n(z)).collect(),
            contents: contents.clone(),
            damaged: Mutex::new(Vec::new()),
            observed: Mutex::new(Observed::default()),
            trace: Mutex::new(Vec::new()),
        })
    }

    pub fn actor(&self, name: &'static str) -> Actor<'_> {
        Actor { world: self, name }
    }

    pub fn note(&self, line: String) {
        self.trace.lock().expect("trace").push(line);
    }

    pub fn trace(&self) -> String {
        let mut out = String::new();
        for (i, line) in self.trace.lock().expect("trace").iter().enumerate() {
            let _ = writeln!(out, "{:>3}. {line}", i + 1);
        }
        out
    }

    /// Panics with the invariant, what broke it and the numbered interleaving so far.
    pub fn fail(&self, invariant: &str, detail: String) -> ! {
        panic!(
            "{invariant} broken: {detail}\ninterleaving (numbered steps):\n{}",
            self.trace()
        )
    }

    pub fn is_damaged(&self, zone: &Name, g: Generation) -> bool {
        self.damaged
            .lock()
            .expect("damaged")
            .iter()
            .any(|(z, d)| z == zone && *d == g)
    }

    /// Whether `g` or a plan its body is rebuilt from was damaged on purpose.
    pub fn chain_damaged(&self, zone: &Name, g: Generation) -> bool {
        self.is_damaged(zone, g)
            || self
                .store
                .chain(zone, g)
                .is_none_or(|chain| chain.iter().any(|c| self.is_damaged(zone, *c)))
    }

    /// Checks I1, I2 and I3 on the state right now. Loom does not interleave inside it.
    pub async fn check(&self) {
        loom::stop_exploring();
        for zone in &self.zones {
            self.check_zone(zone).await;
        }
        loom::explore();
    }

    pub async fn check_zone(&self, zone: &Name) {
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
            // The serial is decided once, at publish: a target serves the stored one.
            let stored = self
                .store
                .load_plan(zone, *g)
                .await
                .expect("MemStore reads never fail")
                .and_then(|plan| plan.serial);
            if let Some(serial) = stored.filter(|s| *s != content.soa().serial) {
                self.fail(
                    "I1",
                    format!(
                        "{TARGET} serves {zone} {g} with serial {}, but it was published with {serial}",
                        content.soa().serial
                    ),
                );
            }
        }
        // Every live plan (published, held by the target, pinned) still reads back whole,
        // rebuilt from its chain when it is a delta: clean-up kept what it leans on.
        let live = published
            .iter()
            .map(|p| (*p, "published"))
            .chain(recorded.iter().map(|r| (*r, "held by the target")))
            .chain(pins.iter().map(|(g, _, _)| (*g, "pinned")));
        for (g, why) in live {
            if self.chain_damaged(zone, g) {
                continue;
            }
            let plan = self
                .store
                .load_plan(zone, g)
                .await
                .expect("MemStore reads never fail");
            let decoded = plan.map(|plan| {
                Zone::decode(zone, &plan.body, &plan.hash, &self.cfg.limits)
                    .map(|z| content_number(&z))
            });
            if decoded != Some(Ok(Some(g.0))) {
                self.fail(
                    "I3",
                    format!(
                        "{zone}'s plan {g} ({why}) does not read back to its content: {decoded:?}"
                    ),
                );
            }
        }
    }

    /// The history checks after the threads joined: every publication in the audit log is
    /// newer than the one before it (I1, I4), and the target's installs only grew (I1).
    pub fn check_history(&self) {
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
    pub fn settle(&self) {
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
                let outcome = block_on(gate::converge(&me, &me, zone, &self.cfg, NOW));
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
            let outcome = block_on(gate::converge(&me, &me, zone, &self.cfg, NOW));
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
pub struct Actor<'w> {
    pub world: &'w World,
    pub name: &'static str,
}

pub fn plan_text(plan: &Option<StoredPlan>) -> String {
    match plan {
        Some(p) => format!("{} ({})", p.generation, p.status.as_str()),
        None => "none".into(),
    }
}

pub fn result_text<T: std::fmt::Debug>(r: &Result<T, StoreError>) -> String {
    match r {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("refused: {e}"),
    }
}

impl Actor<'_> {
    pub async fn after(&self, line: String, changed_state: bool) {
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

    async fn load_deltas(
        &self,
        zone: &Name,
        from: Generation,
        to: Generation,
    ) -> Result<Option<Vec<DeltaStep>>, StoreError> {
        let r = self.world.store.load_deltas(zone, from, to).await;
        let text = match &r {
            Ok(Some(steps)) => format!("{} deltas", steps.len()),
            Ok(None) => "none".to_string(),
            Err(e) => e.to_string(),
        };
        self.after(format!("deltas {zone} {from}..{to} = {text}"), false)
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
        serial: SerialRequest,
        audit: AuditEntry,
    ) -> Result<Published, StoreError> {
        let r = self
            .world
            .store
            .publish_cas(zone, generation, expected_base, serial, audit)
            .await;
        let text = match &r {
            Ok(p) => format!(
                "PUBLISHED {} (version {}, serial {})",
                p.generation, p.publish_count, p.serial
            ),
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
        now: u64,
    ) -> Result<(), StoreError> {
        let r = self
            .world
            .store
            .record_target(target, zone, generation, now)
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

    async fn cleanup(
        &self,
        zone: &Name,
        keep: u32,
        target_lease_s: u64,
        now: u64,
    ) -> Result<u64, StoreError> {
        // Only for the trace line: read without adding interleavings (the clean-up itself is
        // explored as usual).
        loom::stop_exploring();
        let before = self.world.store.generations(zone);
        loom::explore();
        let r = self
            .world
            .store
            .cleanup(zone, keep, target_lease_s, now)
            .await;
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

    async fn compact(
        &self,
        zone: &Name,
        generation: Generation,
        checkpoint_every: u32,
    ) -> Result<Compaction, StoreError> {
        let r = self
            .world
            .store
            .compact(zone, generation, checkpoint_every)
            .await;
        self.after(format!("compact {generation}: {r:?}"), true)
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
pub fn named(actor: &'static str) -> gate::Actor {
    gate::Actor::new(actor).expect("scenario actors are named")
}

/// Stages content `n` of `zone` (which must become generation `n`) with the production
/// planner.
pub fn stage(world: &World, actor: &'static str, zone: &Name, n: u64) -> Generation {
    let me = world.actor(actor);
    let parsed = world.contents.get(zone, n);
    match block_on(gate::plan(&me, parsed, &world.cfg, NOW, &named(actor))) {
        Ok(PlanOutcome::Staged { generation, .. }) if generation.0 == n => generation,
        other => world.fail("set-up", format!("staging {zone} content {n}: {other:?}")),
    }
}

pub fn publish(
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

pub fn cleanup(world: &World, actor: &'static str, zone: &Name) -> u64 {
    let me = world.actor(actor);
    match block_on(gate::cleanup(&me, zone, &world.cfg, NOW)) {
        Ok(n) => n,
        Err(e) => world.fail("I2", format!("clean-up of {zone} failed: {e}")),
    }
}

/// The compaction after a DNS UPDATE: `g`'s row becomes a checkpoint if it is due.
pub fn compact(world: &World, actor: &'static str, zone: &Name, g: u64) -> Compaction {
    let me = world.actor(actor);
    let every = world.cfg.store.checkpoint_every;
    match block_on(me.compact(zone, Generation(g), every)) {
        Ok(done) => done,
        Err(e) => world.fail("I2", format!("compaction of {zone} g{g} failed: {e}")),
    }
}

pub fn converge(world: &World, zone: &Name) -> Result<ConvergeOutcome, StepError> {
    let me = world.actor(TARGET);
    block_on(gate::converge(&me, &me, zone, &world.cfg, NOW))
}

/// Runs `f` on a new loom thread with the world.
pub fn spawn<T: Send + 'static>(
    world: &Arc<World>,
    f: impl FnOnce(&World) -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    let world = world.clone();
    thread::spawn(move || f(&world))
}

/// An enactor's publish may win, find its plan already published, lose the compare-and-swap
/// (stale) or find its plan cleaned up; anything else is a bug.
pub fn assert_enactor_outcome(world: &World, who: &str, r: &Result<PublishOutcome, StepError>) {
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

pub fn published_now(world: &World, zone: &Name) -> Option<Generation> {
    block_on(world.store.published(zone))
        .expect("MemStore reads never fail")
        .map(|p| p.generation)
}

/// Runs a model under loom with the suite's bound, and reports how many executions it took.
pub fn explore(label: &str, model: impl Fn() + Sync + Send + 'static) {
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

pub fn bound_text() -> String {
    std::env::var("LOOM_MAX_PREEMPTIONS").unwrap_or_else(|_| PREEMPTION_BOUND.to_string())
}

/// The expected failures of the naive models are printed by their tests, once; keep the
/// default panic hook from printing them (with a backtrace) a second time. Every other panic
/// is reported as usual.
pub fn quiet_expected_panics() {
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
pub const NAIVE_FAILURE: &str = "the naive design broke";

/// Runs a model that must FAIL under loom; returns the failure message (the panic payload).
pub fn find_violation(model: impl Fn() + Sync + Send + 'static) -> (String, Duration) {
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
