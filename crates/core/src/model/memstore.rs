//! An in-memory [`Store`]: the model the loom suite drives, held to the same contract tests as
//! the SQLite store.
//!
//! # Design
//!
//! All state sits behind ONE mutex. Each trait method takes it once, does its checks and its
//! writes inside, and releases it: exactly one critical section per store operation, which is
//! what one `BEGIN IMMEDIATE` transaction is in the SQLite store. A method never locks twice
//! (that would split a check from its write, the October bug) and never leaves work for a later
//! call (that would merge two steps the real store cannot merge). Every future completes on its
//! first poll: there is no await point inside an operation, so the only interleavings loom can
//! explore are between operations, as between transactions.
//!
//! The rules the SQLite schema enforces with `CHECK`, foreign keys and triggers are mirrored
//! here as the same errors: a zero-record or empty-body plan, a base that is not older than the
//! plan and an empty audit action are `Constraint`; deleting a live plan cannot happen because
//! clean-up computes the same horizon, and is asserted.
//!
//! Fault injection for the loom suite ([`MemStore::corrupt_body`], [`MemStore::remove_plan`])
//! deliberately bypasses those rules: it simulates a disk or an operator breaking what the store
//! itself never would, so the suite can check that such damage never wedges publication (I5).

use std::collections::BTreeMap;

use crate::dns::name::Name;
use crate::gate::chain::{self, ChainLink, CheckpointWhen, Layout, Links};
use crate::gate::{
    AuditEntry, Compaction, DeltaStep, Generation, NewPlan, PlanBody, PlanHead, PlanStatus,
    Published, Store, StoreError, StoredPlan, Verdict, cleanup_audit_entry,
};
use crate::model::sync::Mutex;
use crate::zone::ContentHash;
use crate::zone::serial::SerialRequest;

/// The in-memory store. Cheap to create; share it by reference (or in an `Arc`).
pub struct MemStore {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    zones: BTreeMap<Name, ZoneState>,
    /// (target, zone) -> the generation that target holds, and when it last recorded or
    /// renewed that (unix seconds).
    targets: BTreeMap<(String, Name), (Generation, u64)>,
    audit: Vec<AuditEntry>,
    /// How many times [`Store::load_plan`] was called: the steps that hold the content avoid
    /// reading whole bodies, and tests count that they do.
    body_reads: u64,
}

struct ZoneState {
    published: Option<Generation>,
    /// The serial the published generation was published with (kept here as the SQLite store
    /// keeps it in the zone's row, so a plan lost by fault injection does not lose it).
    published_serial: Option<u32>,
    publish_count: u64,
    /// The generation the next `stage` takes; never goes back, even when plans are deleted.
    next_generation: u64,
    /// Each plan as stored: `body` holds a full body for a checkpoint, the delta's bytes for
    /// a delta; `parents` says which.
    plans: BTreeMap<Generation, StoredPlan>,
    /// Delta plans -> their parent (what the SQL stores' `parent` column holds).
    parents: BTreeMap<Generation, Generation>,
    /// (generation, holder) -> expiry, unix seconds.
    pins: BTreeMap<(Generation, String), u64>,
}

impl ZoneState {
    fn new() -> Self {
        ZoneState {
            published: None,
            published_serial: None,
            publish_count: 0,
            next_generation: 1,
            plans: BTreeMap::new(),
            parents: BTreeMap::new(),
            pins: BTreeMap::new(),
        }
    }

    fn links(&self) -> Links {
        self.plans
            .iter()
            .map(|(g, p)| {
                let link = ChainLink {
                    generation: *g,
                    parent: self.parents.get(g).copied(),
                    bytes: p.body.len() as u64,
                };
                (*g, link)
            })
            .collect()
    }

    /// Plan `g` with its full body rebuilt from its chain (empty if the chain does not apply).
    fn rebuilt(&self, g: Generation) -> Option<StoredPlan> {
        let mut plan = self.plans.get(&g)?.clone();
        if self.parents.contains_key(&g) {
            plan.body = chain::path(&self.links(), g)
                .and_then(|path| {
                    chain::rebuild(path.iter().map(|g| self.plans[g].body.clone())).ok()
                })
                .unwrap_or_default();
        }
        Some(plan)
    }

    /// What to store for `body`: the bytes and the parent (`None` for a checkpoint).
    fn layout(
        &self,
        body: PlanBody,
        (checkpoint_every, when): (u32, CheckpointWhen),
        zone: &Name,
    ) -> Result<(Vec<u8>, Option<Generation>), StoreError> {
        let (parent, delta) = match body {
            PlanBody::Full(body) => return Ok((body, None)),
            PlanBody::Delta { parent, delta } => (parent, delta),
        };
        let links = self.links();
        match chain::layout_for(&links, parent, delta.len() as u64, checkpoint_every, when) {
            Layout::Delta => Ok((delta, Some(parent))),
            Layout::Checkpoint => {
                let parent_body = self.rebuilt(parent).map(|p| p.body).unwrap_or_default();
                let body = chain::rebuild([parent_body, delta].into_iter())
                    .map_err(|e| constraint(&format!("the delta does not fit its parent: {e}")))?;
                Ok((body, None))
            }
            Layout::ParentMissing => Err(StoreError::PlanMissing {
                zone: zone.clone(),
                generation: parent,
            }),
        }
    }
}

fn constraint(detail: &str) -> StoreError {
    StoreError::Constraint {
        detail: detail.into(),
    }
}

fn check_audit(entry: &AuditEntry) -> Result<(), StoreError> {
    if entry.action.as_str().is_empty() {
        return Err(constraint("an audit entry needs an action"));
    }
    Ok(())
}

impl Default for MemStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemStore {
    pub fn new() -> Self {
        MemStore {
            state: Mutex::new(State::default()),
        }
    }

    /// Runs `f` in the store's single critical section.
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        // A panic inside a critical section means a broken invariant; poisoning makes every
        // later operation fail loudly instead of running on half-updated state.
        let mut state = self
            .state
            .lock()
            .expect("MemStore poisoned by an earlier panic");
        f(&mut state)
    }

    /// The whole audit log, oldest first.
    pub fn audit_log(&self) -> Vec<AuditEntry> {
        self.with(|s| s.audit.clone())
    }

    /// The generations of `zone` that still have a plan, oldest first.
    pub fn generations(&self, zone: &Name) -> Vec<Generation> {
        self.with(|s| {
            s.zones
                .get(zone)
                .map(|z| z.plans.keys().copied().collect())
                .unwrap_or_default()
        })
    }

    /// The chain of plan `g` (its checkpoint first, `g` last), `None` if a plan on it is
    /// missing; a checkpoint's chain is itself.
    pub fn chain(&self, zone: &Name, g: Generation) -> Option<Vec<Generation>> {
        self.with(|s| chain::path(&s.zones.get(zone)?.links(), g))
    }

    /// The bytes `zone`'s plans store: full bodies and deltas as they are kept.
    pub fn stored_bytes(&self, zone: &Name) -> u64 {
        self.with(|s| {
            s.zones
                .get(zone)
                .map_or(0, |z| z.plans.values().map(|p| p.body.len() as u64).sum())
        })
    }

    /// The generation of `zone` that `target` recorded, if any.
    pub fn target_generation(&self, target: &str, zone: &Name) -> Option<Generation> {
        self.with(|s| {
            s.targets
                .get(&(target.to_string(), zone.clone()))
                .map(|(g, _)| *g)
        })
    }

    /// The pins on `zone`'s plans as (generation, holder, expires_at), expired ones included
    /// until clean-up drops them.
    pub fn pins(&self, zone: &Name) -> Vec<(Generation, String, u64)> {
        self.with(|s| {
            s.zones
                .get(zone)
                .map(|z| {
                    z.pins
                        .iter()
                        .map(|((g, h), e)| (*g, h.clone(), *e))
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    /// Fault injection: empties the body of plan `generation`, as if it had been lost or
    /// corrupted on disk. Its recorded hash no longer matches, so [`crate::Zone::decode`] refuses
    /// it. Returns whether the plan existed.
    /// How many whole plans were read ([`Store::load_plan`]) so far.
    pub fn body_reads(&self) -> u64 {
        self.with(|s| s.body_reads)
    }

    pub fn corrupt_body(&self, zone: &Name, generation: Generation) -> bool {
        self.with(|s| {
            match s
                .zones
                .get_mut(zone)
                .and_then(|z| z.plans.get_mut(&generation))
            {
                Some(plan) => {
                    plan.body.clear();
                    true
                }
                None => false,
            }
        })
    }

    /// Fault injection: deletes plan `generation` outright, even a live one, bypassing the
    /// rules the store enforces (as an operator with a database shell might). Returns whether
    /// the plan existed.
    pub fn remove_plan(&self, zone: &Name, generation: Generation) -> bool {
        self.with(|s| {
            s.zones.get_mut(zone).is_some_and(|z| {
                z.parents.remove(&generation);
                z.plans.remove(&generation).is_some()
            })
        })
    }
}

impl Store for MemStore {
    async fn published(&self, zone: &Name) -> Result<Option<Published>, StoreError> {
        Ok(self.with(|s| {
            s.zones.get(zone).and_then(|z| {
                z.published.map(|generation| Published {
                    generation,
                    publish_count: z.publish_count,
                    serial: z.published_serial.expect("a published zone has a serial"),
                })
            })
        }))
    }

    async fn load_plan(
        &self,
        zone: &Name,
        generation: Generation,
    ) -> Result<Option<StoredPlan>, StoreError> {
        Ok(self.with(|s| {
            s.body_reads += 1;
            s.zones.get(zone).and_then(|z| z.rebuilt(generation))
        }))
    }

    async fn load_head(
        &self,
        zone: &Name,
        generation: Generation,
    ) -> Result<Option<PlanHead>, StoreError> {
        Ok(self.with(|s| {
            s.zones
                .get(zone)
                .and_then(|z| z.plans.get(&generation))
                .map(StoredPlan::head)
        }))
    }

    async fn load_deltas(
        &self,
        zone: &Name,
        from: Generation,
        to: Generation,
    ) -> Result<Option<Vec<DeltaStep>>, StoreError> {
        Ok(self.with(|s| {
            let z = s.zones.get(zone)?;
            let steps = chain::steps_between(&z.links(), from, to)?;
            let step = |g: Generation| DeltaStep {
                generation: g,
                delta: z.plans[&g].body.clone(),
                hash: z.plans[&g].hash,
            };
            Some(steps.into_iter().map(step).collect())
        }))
    }

    async fn newest_generation(&self, zone: &Name) -> Result<Option<Generation>, StoreError> {
        Ok(self.with(|s| {
            s.zones
                .get(zone)
                .and_then(|z| z.plans.keys().next_back().copied())
        }))
    }

    async fn stage(&self, plan: NewPlan, mut audit: AuditEntry) -> Result<Generation, StoreError> {
        self.with(|s| {
            let next = s.zones.get(&plan.zone).map_or(1, |z| z.next_generation);
            let generation = Generation(next);
            // Check everything before changing anything: a refused stage takes no generation.
            if plan.record_count == 0 {
                return Err(constraint("a plan needs at least one record"));
            }
            if plan.body.bytes().is_empty() {
                return Err(constraint("a plan needs a non-empty body"));
            }
            if let PlanBody::Delta { parent, .. } = &plan.body
                && Some(*parent) != plan.base
            {
                return Err(constraint("a delta's parent is the plan's base"));
            }
            if plan.base.is_some_and(|b| b.0 == 0 || b >= generation) {
                return Err(constraint("a plan's base must be older than the plan"));
            }
            if !plan.verdict.is_initial() {
                return Err(constraint(
                    "a plan is staged as pass, held or refused, never approved or rejected",
                ));
            }
            check_audit(&audit)?;
            let z = s
                .zones
                .entry(plan.zone.clone())
                .or_insert_with(ZoneState::new);
            let (body, parent) = z.layout(
                plan.body,
                (plan.checkpoint_every, plan.checkpoint_when),
                &plan.zone,
            )?;
            z.next_generation = next + 1;
            if let Some(parent) = parent {
                z.parents.insert(generation, parent);
            }
            z.plans.insert(
                generation,
                StoredPlan {
                    zone: plan.zone,
                    generation,
                    base: plan.base,
                    hash: plan.hash,
                    record_count: plan.record_count,
                    body,
                    created_at: plan.created_at,
                    status: PlanStatus::Staged,
                    verdict: plan.verdict,
                    serial: None,
                },
            );
            audit.generation = Some(generation);
            s.audit.push(audit);
            Ok(generation)
        })
    }

    async fn publish_cas(
        &self,
        zone: &Name,
        generation: Generation,
        expected_base: Option<Generation>,
        serial: SerialRequest,
        mut audit: AuditEntry,
    ) -> Result<Published, StoreError> {
        self.with(|s| {
            let missing = || StoreError::PlanMissing {
                zone: zone.clone(),
                generation,
            };
            let z = s.zones.get_mut(zone).ok_or_else(missing)?;
            if !z.plans.contains_key(&generation) {
                return Err(missing());
            }
            // The CAS: the same condition as the SQLite store's conditional UPDATE.
            if z.published != expected_base || z.published.is_some_and(|p| p >= generation) {
                return Err(StoreError::Stale {
                    offered: generation,
                    base: expected_base,
                    published: z.published,
                });
            }
            let verdict = z.plans[&generation].verdict;
            if !verdict.is_publishable() {
                return Err(StoreError::Unpublishable {
                    zone: zone.clone(),
                    generation,
                    verdict,
                });
            }
            check_audit(&audit)?;
            if let Some(previous) = z.published.and_then(|p| z.plans.get_mut(&p)) {
                previous.status = PlanStatus::Superseded;
            }
            // Decided here, in the same critical section as the pointer write.
            let decided = serial.decide(z.published_serial, generation);
            let plan = z.plans.get_mut(&generation).expect("checked above");
            plan.status = PlanStatus::Published;
            plan.serial = Some(decided);
            z.published = Some(generation);
            z.published_serial = Some(decided);
            z.publish_count += 1;
            let publish_count = z.publish_count;
            audit.generation.get_or_insert(generation);
            s.audit.push(audit);
            Ok(Published {
                generation,
                publish_count,
                serial: decided,
            })
        })
    }

    async fn pin(
        &self,
        zone: &Name,
        generation: Generation,
        holder: &str,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        self.with(|s| match s.zones.get_mut(zone) {
            Some(z) if z.plans.contains_key(&generation) => {
                z.pins.insert((generation, holder.to_string()), expires_at);
                Ok(())
            }
            _ => Err(StoreError::PlanMissing {
                zone: zone.clone(),
                generation,
            }),
        })
    }

    async fn unpin(
        &self,
        zone: &Name,
        generation: Generation,
        holder: &str,
    ) -> Result<(), StoreError> {
        self.with(|s| {
            if let Some(z) = s.zones.get_mut(zone) {
                z.pins.remove(&(generation, holder.to_string()));
            }
            Ok(())
        })
    }

    async fn record_target(
        &self,
        target: &str,
        zone: &Name,
        generation: Generation,
        now: u64,
    ) -> Result<(), StoreError> {
        self.with(|s| {
            let key = (target.to_string(), zone.clone());
            if let Some(&(held, _)) = s.targets.get(&key).filter(|(held, _)| *held > generation) {
                return Err(StoreError::TargetNewer {
                    target: target.to_string(),
                    held,
                    offered: generation,
                });
            }
            // Like the foreign key in SQLite: a target can only hold a plan that exists.
            if !s
                .zones
                .get(zone)
                .is_some_and(|z| z.plans.contains_key(&generation))
            {
                return Err(StoreError::PlanMissing {
                    zone: zone.clone(),
                    generation,
                });
            }
            s.targets.insert(key, (generation, now));
            Ok(())
        })
    }

    async fn compact(
        &self,
        zone: &Name,
        generation: Generation,
        checkpoint_every: u32,
    ) -> Result<Compaction, StoreError> {
        // Two critical sections, as the SQL stores take two steps: the rebuild reads without
        // the write lock, and the write holds only while the row is still the delta it read.
        let read = self.with(|s| {
            let Some(z) = s.zones.get(zone) else {
                return Ok(Err(Compaction::Gone));
            };
            let Some(plan) = z.rebuilt(generation) else {
                return Ok(Err(Compaction::Gone));
            };
            let Some(parent) = z.parents.get(&generation).copied() else {
                return Ok(Err(Compaction::NotDue));
            };
            if !chain::due(&z.links(), generation, checkpoint_every) {
                return Ok(Err(Compaction::NotDue));
            }
            if !plan.hash.matches_body(&plan.body) {
                return Err(constraint(
                    "a compaction's rebuilt body does not hash to its plan",
                ));
            }
            Ok(Ok((parent, plan.body)))
        })?;
        let (parent, body) = match read {
            Ok(found) => found,
            Err(done) => return Ok(done),
        };
        self.with(|s| {
            let Some(z) = s.zones.get_mut(zone) else {
                return Ok(Compaction::Gone);
            };
            if z.parents.get(&generation) != Some(&parent) {
                let kept = z.plans.contains_key(&generation);
                return Ok(if kept {
                    Compaction::NotDue
                } else {
                    Compaction::Gone
                });
            }
            let bytes = body.len() as u64;
            z.parents.remove(&generation);
            if let Some(row) = z.plans.get_mut(&generation) {
                row.body = body;
            }
            Ok(Compaction::Written { bytes })
        })
    }

    async fn cleanup(
        &self,
        zone: &Name,
        keep: u32,
        target_lease_s: u64,
        now: u64,
    ) -> Result<u64, StoreError> {
        self.with(|s| {
            let Some(z) = s.zones.get_mut(zone) else {
                return Ok(0);
            };
            z.pins.retain(|_, expires_at| *expires_at > now);
            // Targets that have not renewed within the lease are gone; their rows go too.
            if let Some(cutoff) = now.checked_sub(target_lease_s) {
                s.targets
                    .retain(|(_, z), (_, renewed)| z != zone || *renewed >= cutoff);
            }
            // Nothing was ever published: there is no horizon, so nothing is old enough.
            let Some(published) = z.published else {
                return Ok(0);
            };
            let horizon = s
                .targets
                .iter()
                .filter(|((_, z), _)| z == zone)
                .map(|(_, (g, _))| *g)
                .chain(z.pins.keys().map(|(g, _)| *g))
                .fold(published, Generation::min);
            let doomed = chain::doomed(&z.links(), horizon, keep);
            for g in &doomed {
                // What the SQLite store's RESTRICT foreign keys would refuse.
                let live = Some(*g) == z.published
                    || z.pins.keys().any(|(p, _)| p == g)
                    || s.targets.iter().any(|((_, t), (h, _))| t == zone && h == g);
                assert!(
                    !live,
                    "clean-up computed a horizon above the live plan {g} of {zone}"
                );
                // What the RESTRICT foreign key on `parent` would refuse.
                assert!(
                    z.parents.iter().all(|(c, p)| p != g || doomed.contains(c)),
                    "clean-up would delete plan {g} of {zone}, the parent of a plan it keeps"
                );
                z.plans.remove(g);
                z.parents.remove(g);
            }
            let deleted = doomed.len() as u64;
            if deleted > 0 {
                s.audit
                    .push(cleanup_audit_entry(zone, deleted, horizon, keep, now));
            }
            Ok(deleted)
        })
    }

    async fn audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        self.with(|s| {
            check_audit(&entry)?;
            s.audit.push(entry);
            Ok(())
        })
    }

    async fn set_verdict(
        &self,
        zone: &Name,
        generation: Generation,
        hash: Option<ContentHash>,
        to: Verdict,
        mut audit: AuditEntry,
    ) -> Result<Verdict, StoreError> {
        self.with(|s| {
            let plan = s
                .zones
                .get_mut(zone)
                .and_then(|z| z.plans.get_mut(&generation))
                .ok_or_else(|| StoreError::PlanMissing {
                    zone: zone.clone(),
                    generation,
                })?;
            // The same rule as the SQLite trigger `plans_verdict_moves`.
            crate::gate::verdict_move(
                zone,
                generation,
                plan.hash,
                hash,
                (plan.status, plan.verdict),
                to,
            )?;
            check_audit(&audit)?;
            let previous = plan.verdict;
            plan.verdict = to;
            audit.generation.get_or_insert(generation);
            s.audit.push(audit);
            Ok(previous)
        })
    }
}
