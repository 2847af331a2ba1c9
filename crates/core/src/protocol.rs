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
    Stale { offered: Generation, base: Option<Generation>, published: Option<Generation> },
    /// No such plan (never staged, or cleaned up).
    #[error("zone {zone} has no plan {generation}")]
    PlanMissing { zone: Name, generation: Generation },
    /// A target already holds this generation or a newer one.
    #[error("target {target} already holds {held}, refusing to go back to {offered}")]
    TargetNewer { target: String, held: Generation, offered: Generation },
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
    async fn load_plan(&self, zone: &Name, generation: Generation)
    -> Result<Option<StoredPlan>, StoreError>;

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
    async fn unpin(&self, zone: &Name, generation: Generation, holder: &str)
    -> Result<(), StoreError>;

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
    Stale { generation: Generation, base: Option<Generation>, published: Option<Generation> },
    #[error(
        "stale plan: {generation} is {age_s} s old, older than plan_age_max_s = {max_s}; re-plan and publish again"
    )]
    TooOld { generation: Generation, age_s: u64, max_s: u64 },
    #[error("plan {generation} body cannot be used ({error}); re-plan from the zone file")]
    Corrupt { generation: Generation, error: DecodeError },
}

impl Refusal {
    /// Machine-readable reason code.
    pub fn reason(&self) -> String {
        match self {
            Refusal::Invalid(i) if i.violations.iter().any(|v| matches!(v, crate::validate::Violation::Empty)) => {
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
