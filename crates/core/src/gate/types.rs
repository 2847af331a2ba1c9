//! The protocol's values: generations, a plan's life ([`PlanStatus`]) and verdict
//! ([`Verdict`]), and the rows the store hands back and takes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::dns::name::Name;
use crate::zone::ContentHash;

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
    /// Every status, so the store can check its schema against them.
    pub const ALL: [PlanStatus; 3] = [
        PlanStatus::Staged,
        PlanStatus::Published,
        PlanStatus::Superseded,
    ];

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

/// What the gate decided about a staged plan, as recorded in the store. Orthogonal to
/// [`PlanStatus`]: the status says where a plan is in its life, the verdict whether it may be
/// published.
///
/// ```text
///   stage ──▶ pass ─────────────┐            publishable: pass, approved
///        ├──▶ held (review) ────┼──approve(hash)──▶ approved
///        └──▶ refused (policy) ─┘
///   reject: pass | held | refused | approved ──▶ rejected   (final)
/// ```
///
/// Only a plan that is still `staged` (never published) changes its verdict, and approving one
/// names its content hash, so an approval is bound to exactly that content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Passed every check; publishable.
    Pass,
    /// Passed the policy; waits for review.
    Held,
    /// Crossed a policy threshold; needs an approval bound to its hash.
    Refused,
    /// Approved by a person or a review command; publishable.
    Approved,
    /// Rejected in review; never publishable.
    Rejected,
}

impl Verdict {
    /// Every verdict, so the store can build and check its SQL from [`Verdict::is_publishable`]
    /// and the other rules below rather than repeat them by hand.
    pub const ALL: [Verdict; 5] = [
        Verdict::Pass,
        Verdict::Held,
        Verdict::Refused,
        Verdict::Approved,
        Verdict::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Held => "held",
            Verdict::Refused => "refused",
            Verdict::Approved => "approved",
            Verdict::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pass" => Verdict::Pass,
            "held" => Verdict::Held,
            "refused" => Verdict::Refused,
            "approved" => Verdict::Approved,
            "rejected" => Verdict::Rejected,
            _ => return None,
        })
    }

    /// Whether the compare-and-swap may publish a plan with this verdict.
    pub fn is_publishable(self) -> bool {
        matches!(self, Verdict::Pass | Verdict::Approved)
    }

    /// Whether a plan may be staged with this verdict.
    pub fn is_initial(self) -> bool {
        matches!(self, Verdict::Pass | Verdict::Held | Verdict::Refused)
    }

    /// Whether a staged plan's verdict may move from `self` to `to`.
    pub fn may_become(self, to: Verdict) -> bool {
        match to {
            Verdict::Approved => matches!(self, Verdict::Pass | Verdict::Held | Verdict::Refused),
            Verdict::Rejected => self != Verdict::Rejected,
            _ => false,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A plan as a store returns it, its full body rebuilt if it is stored as a delta. The body is opaque bytes until [`Zone::decode`] checks it.
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
    pub verdict: Verdict,
    /// The SOA serial decided when the plan was published (see `zone::serial`); `None` for a
    /// plan that was never published. Fixed once set.
    pub serial: Option<u32>,
}

/// A plan's row without its body: what the gate checks of a plan whose content this process
/// already holds (the DNS UPDATE and `apply` paths), so that a million-record body is not read
/// back and rebuilt to learn its status and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanHead {
    pub zone: Name,
    pub generation: Generation,
    pub base: Option<Generation>,
    pub hash: ContentHash,
    pub record_count: u64,
    /// Unix seconds.
    pub created_at: u64,
    pub status: PlanStatus,
    pub verdict: Verdict,
    /// As [`StoredPlan::serial`].
    pub serial: Option<u32>,
}

impl StoredPlan {
    /// Everything but the body.
    pub fn head(&self) -> PlanHead {
        PlanHead {
            zone: self.zone.clone(),
            generation: self.generation,
            base: self.base,
            hash: self.hash,
            record_count: self.record_count,
            created_at: self.created_at,
            status: self.status,
            verdict: self.verdict,
            serial: self.serial,
        }
    }
}

/// What to stage: content that already passed validation.
#[derive(Debug, Clone)]
pub struct NewPlan {
    pub zone: Name,
    pub base: Option<Generation>,
    /// The hash of the full content, whichever form `body` takes.
    pub hash: ContentHash,
    pub record_count: u64,
    /// The full body, or the change from the base (see `gate::chain`).
    pub body: PlanBody,
    /// `[store] checkpoint_every`: the longest chain the store may make (see `gate::chain`).
    pub checkpoint_every: u32,
    /// Whether the stage writes a due checkpoint itself (see `gate::chain::CheckpointWhen`).
    pub checkpoint_when: CheckpointWhen,
    pub created_at: u64,
    /// The gate's verdict at staging: `Pass`, `Held` or `Refused` (see [`Verdict`]).
    pub verdict: Verdict,
}

/// When the checkpoint a chain is due gets written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckpointWhen {
    /// Inside the stage step, before it returns (the CLI, the HTTP API, the enactor).
    #[default]
    InStage,
    /// After the publication was answered, by [`crate::gate::Store::compact`] (see `gate::chain`); the stage
    /// stores the delta up to the hard bound (the DNS UPDATE worker: its answer waits for
    /// the stage, not for a 50 MB rebuild).
    AfterPublish,
}

/// What the planner hands the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanBody {
    /// The full canonical body.
    Full(Vec<u8>),
    /// The change from `parent` (the plan's base), encoded (`ZoneDelta::encode`).
    Delta { parent: Generation, delta: Vec<u8> },
}

impl PlanBody {
    /// The bytes offered (a body or a delta).
    pub fn bytes(&self) -> &[u8] {
        match self {
            PlanBody::Full(body) => body,
            PlanBody::Delta { delta, .. } => delta,
        }
    }
}

/// One step an incremental reader applies: the delta that makes `generation` from its parent,
/// and the hash of the content it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaStep {
    pub generation: Generation,
    pub delta: Vec<u8>,
    pub hash: ContentHash,
}

/// The published pointer of one zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub generation: Generation,
    /// The zone's publish count: bumped by every successful publish, so watchers notice
    /// change cheaply. (The store's column is still `version`; see `zonegate-store`.)
    pub publish_count: u64,
    /// The SOA serial this generation is served with, decided by the compare-and-swap that
    /// published it and stored with it, so every server serves the same one.
    pub serial: u32,
}
