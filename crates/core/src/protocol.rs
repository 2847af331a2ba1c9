//! The planner / enactor / clean-up protocol, written once and generic over a [`Store`] and a
//! [`Target`], so that the binary and the loom suite run the very same functions.
//!
//! # Design
//!
//! The October 2025 outage was a check in one call and a write in another. Here every step
//! that decides and writes is ONE store operation, which the SQLite store runs as one
//! transaction and the in-memory model runs under one lock:
//!
//! ```text
//!   planner                    enactor                          target (server)
//!   -------                    -------                          ---------------
//!   stage(zone, base, body)    pin(zone, g)                     published(zone)
//!     -> new generation g        load(zone, g), re-validate       load + re-validate
//!                                publish_cas(zone, g, base)       install(g) if g > held
//!                                  = "g > published AND           record_target(g)
//!                                     published == base"
//!                                  + pointer + version + audit
//!                                unpin(zone, g)
//!   clean-up: cleanup(zone, keep) deletes, in one statement, only generations below
//!   min(published, every target's generation, every pinned generation), except the newest
//!   `keep`.
//! ```
//!
//! The store never exposes "set the pointer to g" without the comparison, so no caller can
//! reintroduce the stale write.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::limits::GateConfig;
use crate::name::Name;
use crate::zone::{ContentHash, DecodeError, Zone};

/// A per-zone plan number. The store assigns it; it only grows and is never reused.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Generation(pub u64);

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "g{}", self.0)
    }
}

impl fmt::Debug for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "g{}", self.0)
    }
}

/// Writes "none" for a missing generation.
pub struct OptGen(pub Option<Generation>);

impl fmt::Display for OptGen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(g) => write!(f, "{g}"),
            None => f.write_str("none"),
        }
    }
}

/// Lifecycle of a staged plan, as recorded in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanStatus {
    /// Staged and not yet published.
    Staged,
    /// The zone's published generation.
    Published,
    /// Was published; a newer generation replaced it.
    Superseded,
}

impl PlanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Staged => "staged",
            PlanStatus::Published => "published",
            PlanStatus::Superseded => "superseded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "staged" => PlanStatus::Staged,
            "published" => PlanStatus::Published,
            "superseded" => PlanStatus::Superseded,
            _ => return None,
        })
    }
}

/// A plan as the store keeps it. The body is opaque bytes until [`Zone::decode`] checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPlan {
    pub zone: Name,
    pub generation: Generation,
    pub base: Option<Generation>,
    pub hash: ContentHash,
    pub record_count: u64,
    pub body: Vec<u8>,
    /// Unix seconds.
    pub created_at: u64,
    pub status: PlanStatus,
}

/// What to stage: content that already passed validation.
#[derive(Debug, Clone)]
pub struct NewPlan {
    pub zone: Name,
    pub base: Option<Generation>,
    pub hash: ContentHash,
    pub record_count: u64,
    pub body: Vec<u8>,
    pub created_at: u64,
}

/// The published pointer of one zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub generation: Generation,
    /// Bumped by every successful publish; lets watchers notice change cheaply.
    pub version: u64,
}

/// One audit-log entry. The log is append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub zone: Name,
    pub generation: Option<Generation>,
    /// `staged`, `published`, `refused`, `stale`, `cleanup`, `installed`, ...
    pub action: String,
    /// Reason code for refusals (`empty`, `invalid:<rule>`, `stale`, ...), else empty.
    pub reason: String,
    /// Human-readable detail with the numbers.
    pub detail: String,
    /// Who did it: `plan`, `publish`, `serve@host:pid`, ...
    pub actor: String,
    /// Unix seconds.
    pub at: u64,
}

/// Errors a store operation can return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The compare-and-swap lost: the offered generation is not above the published one, or
    /// the plan's base is no longer the published generation.
    #[error(
        "stale plan: offered {offered} (base {base}) but the published generation is {published}",
        base = OptGen(*base),
        published = OptGen(*published)
    )]
    Stale {
        offered: Generation,
        base: Option<Generation>,
        published: Option<Generation>,
    },
    /// No such plan (never staged, or cleaned up).
    #[error("zone {zone} has no plan {generation}")]
    PlanMissing { zone: Name, generation: Generation },
    /// A target already holds this generation or a newer one.
    #[error("target {target} already holds {held}, refusing to go back to {offered}")]
    TargetNewer {
        target: String,
        held: Generation,
        offered: Generation,
    },
    /// The database refused the write because a rule it enforces would break (for example
    /// deleting a live plan). This is a bug in the caller if it ever surfaces.
    #[error("the store refused a write that would break an invariant: {detail}")]
    Constraint { detail: String },
    /// The backend failed (I/O, lock timeout, corruption).
    #[error("store unavailable: {detail}")]
    Backend { detail: String },
}

/// The atomic operations a store offers. Each method is ONE atomic step: one transaction in
/// SQLite, one critical section in the in-memory model. The contract tests in
/// `zonegate-store` hold both implementations to the same behaviour.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// The zone's published pointer, if anything was ever published.
    async fn published(&self, zone: &Name) -> Result<Option<Published>, StoreError>;

    /// One plan, body included.
    async fn load_plan(
        &self,
        zone: &Name,
        generation: Generation,
    ) -> Result<Option<StoredPlan>, StoreError>;

    /// The newest staged plan's generation, if any.
    async fn newest_generation(&self, zone: &Name) -> Result<Option<Generation>, StoreError>;

    /// Stages a plan, assigning the next generation of its zone (creating the zone on first
    /// use) and appending a `staged` audit row, atomically.
    async fn stage(&self, plan: NewPlan, audit: AuditEntry) -> Result<Generation, StoreError>;

    /// THE compare-and-swap. Atomically: if `generation > published` and
    /// `published == expected_base` and the plan exists, set the pointer to `generation`,
    /// bump the version, mark statuses and append `audit`. Otherwise change nothing and return
    /// `Stale` (or `PlanMissing`).
    async fn publish_cas(
        &self,
        zone: &Name,
        generation: Generation,
        expected_base: Option<Generation>,
        audit: AuditEntry,
    ) -> Result<Published, StoreError>;

    /// Pins a plan so clean-up cannot delete it while an enactor works on it. Fails with
    /// `PlanMissing` if it is already gone. The pin expires at `expires_at` (unix seconds).
    async fn pin(
        &self,
        zone: &Name,
        generation: Generation,
        holder: &str,
        expires_at: u64,
    ) -> Result<(), StoreError>;

    /// Releases a pin. Releasing a pin that is not there is not an error.
    async fn unpin(
        &self,
        zone: &Name,
        generation: Generation,
        holder: &str,
    ) -> Result<(), StoreError>;

    /// Records that `target` now holds `generation`, only if that is newer than what it held
    /// (`TargetNewer` otherwise).
    async fn record_target(
        &self,
        target: &str,
        zone: &Name,
        generation: Generation,
    ) -> Result<(), StoreError>;

    /// Deletes, in one statement, plans of `zone` below the horizon
    /// `min(published, targets' generations, unexpired pins)` that are not among the newest
    /// `keep`. Expired pins are dropped first. Returns how many plans were deleted.
    async fn cleanup(&self, zone: &Name, keep: u32, now: u64) -> Result<u64, StoreError>;

    /// Appends an audit row on its own (refusals that stage nothing).
    async fn audit(&self, entry: AuditEntry) -> Result<(), StoreError>;
}

/// Something that serves or holds a published generation: a server's in-memory zone set.
#[allow(async_fn_in_trait)]
pub trait Target {
    /// A stable identifier recorded in the store's targets table.
    fn id(&self) -> &str;

    /// The generation of `zone` this target holds now.
    fn held(&self, zone: &Name) -> Option<Generation>;

    /// Installs `zone` at `generation` atomically. Refuses (returns `Err(held)`) if the target
    /// already holds `generation` or newer: a target never goes back.
    async fn install(&self, generation: Generation, zone: Zone) -> Result<(), Generation>;
}

/// Why the gate refused a plan. Every refusal names its reason and says what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    #[error("{0}")]
    Invalid(#[from] crate::validate::Invalid),
    #[error(
        "stale plan: {generation} was planned on base {base}, but the published generation is {published}; re-plan from the current zone and publish again",
        base = OptGen(*base),
        published = OptGen(*published)
    )]
    Stale {
        generation: Generation,
        base: Option<Generation>,
        published: Option<Generation>,
    },
    #[error(
        "stale plan: {generation} is {age_s} s old, older than plan_age_max_s = {max_s}; re-plan and publish again"
    )]
    TooOld {
        generation: Generation,
        age_s: u64,
        max_s: u64,
    },
    #[error("plan {generation} body cannot be used ({error}); re-plan from the zone file")]
    Corrupt {
        generation: Generation,
        error: DecodeError,
    },
}

impl Refusal {
    /// Machine-readable reason code.
    pub fn reason(&self) -> String {
        match self {
            Refusal::Invalid(i)
                if i.violations
                    .iter()
                    .any(|v| matches!(v, crate::validate::Violation::Empty)) =>
            {
                "empty".into()
            }
            Refusal::Invalid(i) => format!("invalid:{}", i.first_rule()),
            Refusal::Stale { .. } | Refusal::TooOld { .. } => "stale".into(),
            Refusal::Corrupt { .. } => "invalid:corrupt-body".into(),
        }
    }

    pub fn is_stale(&self) -> bool {
        matches!(self, Refusal::Stale { .. } | Refusal::TooOld { .. })
    }
}

// ---------------------------------------------------------------------------------------------
// The steps. Each is a plain async function over the traits above; the binary and the loom
// suite call exactly these.
// ---------------------------------------------------------------------------------------------

/// A refusal or a store failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("zone {zone} has nothing staged; run `zonegate plan` first")]
    NothingStaged { zone: Name },
    #[error(
        "zone {zone} has no plan {generation} (never staged, or cleaned up); re-plan from the zone file"
    )]
    PlanMissing { zone: Name, generation: Generation },
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::PlanMissing { zone, generation } => {
                StepError::PlanMissing { zone, generation }
            }
            StoreError::Stale {
                offered,
                base,
                published,
            } => StepError::Refused(Refusal::Stale {
                generation: offered,
                base,
                published,
            }),
            other => StepError::Store(other),
        }
    }
}

/// What planning did.
#[derive(Debug, Clone)]
pub enum PlanOutcome {
    /// A new generation was staged.
    Staged {
        generation: Generation,
        base: Option<Generation>,
        hash: ContentHash,
        record_count: u64,
        diff: crate::diff::Diff,
    },
    /// The content equals the published generation: nothing was staged and no generation was
    /// taken, so plans made earlier stay fresh.
    NoChanges {
        published: Generation,
        hash: ContentHash,
        record_count: u64,
    },
}

fn entry(
    zone: &Name,
    generation: Option<Generation>,
    action: &str,
    reason: &str,
    detail: String,
    actor: &str,
    now: u64,
) -> AuditEntry {
    AuditEntry {
        zone: zone.clone(),
        generation,
        action: action.into(),
        reason: reason.into(),
        detail,
        actor: actor.into(),
        at: now,
    }
}

/// Loads and re-validates a zone's published content. `Ok(None)` if nothing is published.
/// A missing or corrupt published body is reported as an error the caller may step around: it
/// must never block later plans (I5).
pub async fn load_published<S: Store>(
    store: &S,
    zone: &Name,
    cfg: &GateConfig,
) -> Result<Option<(Generation, Result<Zone, StepError>)>, StoreError> {
    let Some(published) = store.published(zone).await? else {
        return Ok(None);
    };
    let g = published.generation;
    let content = match store.load_plan(zone, g).await? {
        None => Err(StepError::PlanMissing {
            zone: zone.clone(),
            generation: g,
        }),
        Some(plan) => Zone::decode(zone, &plan.body, &plan.hash, &cfg.limits).map_err(|error| {
            StepError::Refused(Refusal::Corrupt {
                generation: g,
                error,
            })
        }),
    };
    Ok(Some((g, content)))
}

/// The planner: validates parsed content, diffs it against the published generation and stages
/// it as a new generation whose base is the published one. Invalid content is refused and the
/// refusal is written to the audit log (I8); nothing is staged (I3).
pub async fn plan<S: Store>(
    store: &S,
    parsed: crate::zone::ParsedZone,
    cfg: &GateConfig,
    now: u64,
    actor: &str,
) -> Result<PlanOutcome, StepError> {
    let origin = parsed.origin.clone();
    let zone = match crate::validate::validate(parsed, &cfg.limits) {
        Ok(zone) => zone,
        Err(invalid) => {
            let refusal = Refusal::Invalid(invalid);
            store
                .audit(entry(
                    &origin,
                    None,
                    "refused",
                    &refusal.reason(),
                    refusal.to_string(),
                    actor,
                    now,
                ))
                .await?;
            return Err(refusal.into());
        }
    };
    let body = zone.body();
    let hash = ContentHash::of(&body);
    let record_count = zone.len() as u64;
    let (base, diff) = match load_published(store, &origin, cfg).await? {
        None => (None, crate::diff::Diff::from_nothing(&zone)),
        Some((g, Ok(old))) => {
            if old.hash() == hash {
                return Ok(PlanOutcome::NoChanges {
                    published: g,
                    hash,
                    record_count,
                });
            }
            (Some(g), crate::diff::Diff::between(&old, &zone))
        }
        // The published body is unusable: diff against nothing rather than wedge (I5).
        Some((g, Err(_))) => (Some(g), crate::diff::Diff::from_nothing(&zone)),
    };
    let detail = format!(
        "{} records (+{} -{}), hash {}",
        record_count, diff.records_added, diff.records_removed, hash
    );
    let new = NewPlan {
        zone: origin.clone(),
        base,
        hash,
        record_count,
        body,
        created_at: now,
    };
    let generation = store
        .stage(new, entry(&origin, None, "staged", "", detail, actor, now))
        .await?;
    Ok(PlanOutcome::Staged {
        generation,
        base,
        hash,
        record_count,
        diff,
    })
}

/// What publishing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    Published {
        generation: Generation,
        base: Option<Generation>,
        version: u64,
    },
    /// The requested generation is already the published one; nothing changed.
    AlreadyPublished { generation: Generation },
}

/// The enactor: pins the plan, reads it back and re-runs the gate (validity and age), then
/// publishes it with ONE compare-and-swap that re-checks freshness in the same atomic step as
/// the write. Every refusal is audited.
pub async fn publish<S: Store>(
    store: &S,
    zone: &Name,
    generation: Option<Generation>,
    cfg: &GateConfig,
    now: u64,
    actor: &str,
) -> Result<PublishOutcome, StepError> {
    let g = match generation {
        Some(g) => g,
        None => store
            .newest_generation(zone)
            .await?
            .ok_or_else(|| StepError::NothingStaged { zone: zone.clone() })?,
    };
    store
        .pin(zone, g, actor, now.saturating_add(cfg.pin_lease_s))
        .await?;
    let result = publish_pinned(store, zone, g, cfg, now, actor).await;
    // Releasing the pin is best effort: an unreleased pin only delays clean-up until it expires.
    let _ = store.unpin(zone, g, actor).await;
    if let Err(StepError::Refused(refusal)) = &result {
        let action = if refusal.is_stale() {
            "stale"
        } else {
            "refused"
        };
        store
            .audit(entry(
                zone,
                Some(g),
                action,
                &refusal.reason(),
                refusal.to_string(),
                actor,
                now,
            ))
            .await?;
    }
    result
}

async fn publish_pinned<S: Store>(
    store: &S,
    zone: &Name,
    g: Generation,
    cfg: &GateConfig,
    now: u64,
    actor: &str,
) -> Result<PublishOutcome, StepError> {
    let plan = store
        .load_plan(zone, g)
        .await?
        .ok_or_else(|| StepError::PlanMissing {
            zone: zone.clone(),
            generation: g,
        })?;
    if plan.status == PlanStatus::Published
        && store
            .published(zone)
            .await?
            .is_some_and(|p| p.generation == g)
    {
        return Ok(PublishOutcome::AlreadyPublished { generation: g });
    }
    // Validate after reading, as before writing.
    if let Err(error) = Zone::decode(zone, &plan.body, &plan.hash, &cfg.limits) {
        return Err(Refusal::Corrupt {
            generation: g,
            error,
        }
        .into());
    }
    let age_s = now.saturating_sub(plan.created_at);
    if age_s > cfg.plan_age_max_s {
        return Err(Refusal::TooOld {
            generation: g,
            age_s,
            max_s: cfg.plan_age_max_s,
        }
        .into());
    }
    let detail = format!(
        "published {g} on base {} ({} records, {})",
        OptGen(plan.base),
        plan.record_count,
        plan.hash
    );
    let published = store
        .publish_cas(
            zone,
            g,
            plan.base,
            entry(zone, Some(g), "published", "", detail, actor, now),
        )
        .await?;
    Ok(PublishOutcome::Published {
        generation: published.generation,
        base: plan.base,
        version: published.version,
    })
}

/// What converging a target did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvergeOutcome {
    /// Nothing is published for the zone.
    NothingPublished,
    /// The target already holds the published generation (or newer).
    UpToDate { held: Generation },
    /// The target installed the published generation.
    Installed {
        generation: Generation,
        previous: Option<Generation>,
    },
}

/// Brings `target` to the zone's published generation. The content is re-validated before the
/// target sees it; a target never installs invalid content and never goes back (I1, I3). On any
/// failure the target keeps what it holds (I7) and the caller retries later (I6).
pub async fn converge<S: Store, T: Target>(
    store: &S,
    target: &T,
    zone: &Name,
    cfg: &GateConfig,
) -> Result<ConvergeOutcome, StepError> {
    let Some(published) = store.published(zone).await? else {
        return Ok(ConvergeOutcome::NothingPublished);
    };
    let g = published.generation;
    let previous = target.held(zone);
    if previous.is_some_and(|held| held >= g) {
        return Ok(ConvergeOutcome::UpToDate {
            held: previous.expect("checked"),
        });
    }
    let plan = store
        .load_plan(zone, g)
        .await?
        .ok_or_else(|| StepError::PlanMissing {
            zone: zone.clone(),
            generation: g,
        })?;
    let content = Zone::decode(zone, &plan.body, &plan.hash, &cfg.limits).map_err(|error| {
        Refusal::Corrupt {
            generation: g,
            error,
        }
    })?;
    match target.install(g, content).await {
        Ok(()) => {}
        Err(held) => return Ok(ConvergeOutcome::UpToDate { held }),
    }
    match store.record_target(target.id(), zone, g).await {
        Ok(()) | Err(StoreError::TargetNewer { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(ConvergeOutcome::Installed {
        generation: g,
        previous,
    })
}

/// The cleaner: deletes old plans below the horizon in one store step.
pub async fn cleanup<S: Store>(
    store: &S,
    zone: &Name,
    cfg: &GateConfig,
    now: u64,
) -> Result<u64, StepError> {
    Ok(store.cleanup(zone, cfg.generations_keep, now).await?)
}
