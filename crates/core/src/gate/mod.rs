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
//!                                publish_cas(zone, g, base)       record_target(g) if newer
//!                                  = "g > published AND           install(g) if g > held
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

mod audit;
pub mod config;
pub mod policy;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use audit::{
    Actor, ActorError, AuditAction, AuditEntry, LimitKind, ReasonCode, ThresholdKind,
    optional_reason,
};

use crate::dns::name::Name;
use crate::gate::config::GateConfig;
use crate::gate::policy::Threshold;
use crate::zone::diff::Diff;
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
    pub verdict: Verdict,
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
    /// The gate's verdict at staging: `Pass`, `Held` or `Refused` (see [`Verdict`]).
    pub verdict: Verdict,
}

/// The published pointer of one zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub generation: Generation,
    /// The zone's publish count: bumped by every successful publish, so watchers notice
    /// change cheaply. (The store's column is still `version`; see `zonegate-store`.)
    pub publish_count: u64,
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
    /// The plan's verdict does not allow it to be published (it is held, refused or
    /// rejected). The compare-and-swap checks this in the same step as freshness.
    #[error("plan {generation} of {zone} is {verdict}, not publishable")]
    Unpublishable {
        zone: Name,
        generation: Generation,
        verdict: Verdict,
    },
    /// The caller named a content hash that is not the plan's.
    #[error("plan {generation} of {zone} has hash {recorded}, not {offered}")]
    HashMismatch {
        zone: Name,
        generation: Generation,
        recorded: ContentHash,
        offered: ContentHash,
    },
    /// The verdict cannot move that way (see [`Verdict::may_become`]), or the plan was already
    /// published.
    #[error("plan {generation} of {zone} is {status} and {verdict}; it cannot become {wanted}", status = status.as_str())]
    VerdictLocked {
        zone: Name,
        generation: Generation,
        status: PlanStatus,
        verdict: Verdict,
        wanted: Verdict,
    },
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
    /// `published == expected_base` and the plan exists with a publishable verdict (pass or
    /// approved), set the pointer to `generation`, bump the version, mark statuses and append
    /// `audit`. Otherwise change nothing and return `PlanMissing`, `Stale` or
    /// `Unpublishable`, checked in that order.
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

    /// Moves a staged plan's verdict to `to` (`Approved` or `Rejected`) and appends `audit`,
    /// atomically, and only if: the plan exists (`PlanMissing`), its hash is `hash` when one is
    /// given (`HashMismatch`), it was never published and the move is allowed by
    /// [`Verdict::may_become`] (`VerdictLocked`). Returns the previous verdict.
    async fn set_verdict(
        &self,
        zone: &Name,
        generation: Generation,
        hash: Option<ContentHash>,
        to: Verdict,
        audit: AuditEntry,
    ) -> Result<Verdict, StoreError>;
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
    Invalid(#[from] crate::zone::validate::Invalid),
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
    /// The change from the base crosses the policy. The plan is staged with the verdict
    /// `refused`; an approval bound to `hash` lets exactly this plan through.
    #[error(
        "plan {generation} crosses the change policy: {}",
        ThresholdList(thresholds)
    )]
    Policy {
        generation: Generation,
        hash: ContentHash,
        thresholds: Vec<Threshold>,
    },
    /// The plan is not approved: held for review, rejected, or refused when staged.
    #[error("{}", ReviewText { generation: *generation, verdict: *verdict, review: *review })]
    Review {
        generation: Generation,
        hash: ContentHash,
        verdict: Verdict,
        /// The zone's review setting at the time of the refusal.
        review: crate::gate::policy::Review,
    },
    /// A saved plan names a hash that is not the stored plan's: the artifact and the store
    /// disagree about what would be published.
    #[error(
        "plan {generation} has hash {actual}, but the saved plan says {expected}; it is not the plan that was reviewed, re-plan"
    )]
    HashMismatch {
        generation: Generation,
        expected: ContentHash,
        actual: ContentHash,
    },
}

struct ThresholdList<'a>(&'a [Threshold]);

impl fmt::Display for ThresholdList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{t}")?;
        }
        Ok(())
    }
}

struct ReviewText {
    generation: Generation,
    verdict: Verdict,
    review: crate::gate::policy::Review,
}

impl fmt::Display for ReviewText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = self.generation;
        match self.verdict {
            Verdict::Held => write!(f, "plan {g} is held for review and not approved yet"),
            Verdict::Rejected => write!(
                f,
                "plan {g} was rejected in review and can never be published"
            ),
            Verdict::Refused => write!(
                f,
                "plan {g} was refused by the change policy when it was staged and is not approved"
            ),
            _ => write!(
                f,
                "plan {g} needs review (review = \"{}\") and is not approved",
                self.review.as_str()
            ),
        }
    }
}

impl Refusal {
    /// Machine-readable reason code.
    pub fn reason(&self) -> ReasonCode {
        match self {
            Refusal::Invalid(i)
                if i.violations
                    .iter()
                    .any(|v| matches!(v, crate::zone::validate::Violation::Empty)) =>
            {
                ReasonCode::Empty
            }
            Refusal::Invalid(i) => match i.violations.first() {
                Some(crate::zone::validate::Violation::TooManyRecords { .. }) => {
                    ReasonCode::Limit(LimitKind::RecordsMax)
                }
                Some(crate::zone::validate::Violation::BodyTooLarge { .. }) => {
                    ReasonCode::Limit(LimitKind::BodyBytesMax)
                }
                _ => ReasonCode::invalid(i.first_rule()),
            },
            Refusal::Stale { .. } | Refusal::TooOld { .. } => ReasonCode::Stale,
            Refusal::Corrupt { .. } => ReasonCode::CorruptBody,
            Refusal::Policy { thresholds, .. } => thresholds
                .first()
                .map_or(ReasonCode::ThresholdUnnamed, Threshold::reason),
            Refusal::Review { .. } => ReasonCode::Review,
            Refusal::HashMismatch { .. } => ReasonCode::HashMismatch,
        }
    }

    /// The audit action of this refusal: `stale` for a plan overtaken or too old, `refused`
    /// otherwise.
    pub fn action(&self) -> AuditAction {
        if self.is_stale() {
            AuditAction::Stale
        } else {
            AuditAction::Refused
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
            // `Unpublishable` needs the plan's hash and the zone's review setting to become a
            // refusal; `publish_pinned` maps it where it knows both.
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
        diff: crate::zone::diff::Diff,
        /// `Pass`, `Held` (waits for review) or `Refused` (crossed `thresholds`).
        verdict: Verdict,
        /// Every policy threshold the change from the base crosses; empty unless `Refused`.
        thresholds: Vec<Threshold>,
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
    action: AuditAction,
    reason: Option<ReasonCode>,
    detail: String,
    actor: &Actor,
    now: u64,
) -> AuditEntry {
    AuditEntry {
        zone: zone.clone(),
        generation,
        action,
        reason,
        detail,
        actor: actor.clone(),
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
    actor: &Actor,
) -> Result<PlanOutcome, StepError> {
    Ok(plan_keeping(store, parsed, cfg, now, actor).await?.0)
}

/// The content a [`plan`] validated and the base content it measured the change against,
/// kept for [`publish_planned`]. Only [`plan_keeping`] makes one.
pub struct Planned {
    generation: Generation,
    hash: ContentHash,
    /// The content, validated under the limits the plan was made with.
    zone: Zone,
    /// The base generation's content as it was read back (hash-checked and validated), if
    /// it could be.
    base: Option<(Generation, Zone)>,
    limits: crate::zone::limits::Limits,
}

impl fmt::Debug for Planned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Planned({} {}, {:?})",
            self.generation, self.hash, self.zone
        )
    }
}

/// [`plan`], also returning what it validated when it staged a plan, so that the same process
/// can publish that plan with [`publish_planned`] without decoding and validating the same
/// content again (`apply`).
pub async fn plan_keeping<S: Store>(
    store: &S,
    parsed: crate::zone::ParsedZone,
    cfg: &GateConfig,
    now: u64,
    actor: &Actor,
) -> Result<(PlanOutcome, Option<Planned>), StepError> {
    let origin = parsed.origin.clone();
    let zone = match crate::zone::validate::validate(parsed, &cfg.limits) {
        Ok(zone) => zone,
        Err(invalid) => {
            let refusal = Refusal::Invalid(invalid);
            store
                .audit(entry(
                    &origin,
                    None,
                    AuditAction::Refused,
                    Some(refusal.reason()),
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
    let (base, diff, thresholds, base_content) =
        match compare_with_published(store, &zone, cfg).await? {
            Compared::Same { published } => {
                return Ok((
                    PlanOutcome::NoChanges {
                        published,
                        hash,
                        record_count,
                    },
                    None,
                ));
            }
            Compared::Changed {
                base,
                diff,
                thresholds,
                base_content,
            } => (base, diff, thresholds, base_content),
        };
    let review = cfg.policy.for_zone(&origin).review;
    let (verdict, action, reason) = if let Some(first) = thresholds.first() {
        (Verdict::Refused, AuditAction::Refused, Some(first.reason()))
    } else if review != crate::gate::policy::Review::Off {
        (Verdict::Held, AuditAction::Held, Some(ReasonCode::Review))
    } else {
        (Verdict::Pass, AuditAction::Staged, None)
    };
    let mut detail = format!(
        "{} records (+{} -{}), hash {}",
        record_count, diff.records_added, diff.records_removed, hash
    );
    if verdict == Verdict::Held {
        detail.push_str(&format!(
            "; held for review (review = \"{}\")",
            review.as_str()
        ));
    }
    if !thresholds.is_empty() {
        detail.push_str(&format!("; {}", ThresholdList(&thresholds)));
    }
    let new = NewPlan {
        zone: origin.clone(),
        base,
        hash,
        record_count,
        body,
        created_at: now,
        verdict,
    };
    let generation = store
        .stage(
            new,
            entry(&origin, None, action, reason, detail, actor, now),
        )
        .await?;
    let planned = Planned {
        generation,
        hash,
        zone,
        base: base.zip(base_content),
        limits: cfg.limits.clone(),
    };
    Ok((
        PlanOutcome::Staged {
            generation,
            base,
            hash,
            record_count,
            diff,
            verdict,
            thresholds,
        },
        Some(planned),
    ))
}

/// How a content compares with the published generation.
enum Compared {
    /// The same content is published.
    Same { published: Generation },
    Changed {
        base: Option<Generation>,
        diff: Diff,
        thresholds: Vec<Threshold>,
        /// The base's content, if it could be read back and validated.
        base_content: Option<Zone>,
    },
}

async fn compare_with_published<S: Store>(
    store: &S,
    zone: &Zone,
    cfg: &GateConfig,
) -> Result<Compared, StoreError> {
    let origin = zone.origin();
    Ok(match load_published(store, origin, cfg).await? {
        None => Compared::Changed {
            base: None,
            diff: Diff::from_nothing(zone),
            thresholds: Vec::new(),
            base_content: None,
        },
        Some((g, Ok(old))) => {
            // Equal contents are equal records (and have equal hashes): compared directly,
            // without encoding and hashing both.
            if old == *zone {
                return Ok(Compared::Same { published: g });
            }
            let diff = Diff::between(&old, zone);
            let thresholds =
                crate::gate::policy::check(&cfg.policy.for_zone(origin), &old, zone, &diff);
            Compared::Changed {
                base: Some(g),
                diff,
                thresholds,
                base_content: Some(old),
            }
        }
        // The published body is unusable: diff against nothing rather than wedge (I5). With
        // no base content there is nothing to measure a change against, so no threshold
        // applies; validity still does.
        Some((g, Err(_))) => Compared::Changed {
            base: Some(g),
            diff: Diff::from_nothing(zone),
            thresholds: Vec::new(),
            base_content: None,
        },
    })
}

/// What a plan would do, without staging it (`plan --expect-no-changes`, drift checks).
#[derive(Debug, Clone)]
pub enum Preview {
    NoChanges {
        published: Generation,
        hash: ContentHash,
        record_count: u64,
    },
    Changes {
        base: Option<Generation>,
        hash: ContentHash,
        record_count: u64,
        diff: Diff,
        thresholds: Vec<Threshold>,
    },
}

/// Validates parsed content and compares it with the published generation, like [`plan`],
/// but stages nothing and writes nothing, not even an audit row: it only reads.
pub async fn preview<S: Store>(
    store: &S,
    parsed: crate::zone::ParsedZone,
    cfg: &GateConfig,
) -> Result<Preview, StepError> {
    let zone = crate::zone::validate::validate(parsed, &cfg.limits).map_err(Refusal::Invalid)?;
    let hash = zone.hash();
    let record_count = zone.len() as u64;
    Ok(match compare_with_published(store, &zone, cfg).await? {
        Compared::Same { published } => Preview::NoChanges {
            published,
            hash,
            record_count,
        },
        Compared::Changed {
            base,
            diff,
            thresholds,
            ..
        } => Preview::Changes {
            base,
            hash,
            record_count,
            diff,
            thresholds,
        },
    })
}

/// Loads and re-validates one stored plan's content (for `diff` and `rollback`).
pub async fn load_content<S: Store>(
    store: &S,
    zone: &Name,
    generation: Generation,
    cfg: &GateConfig,
) -> Result<(StoredPlan, Zone), StepError> {
    let plan = store
        .load_plan(zone, generation)
        .await?
        .ok_or_else(|| StepError::PlanMissing {
            zone: zone.clone(),
            generation,
        })?;
    let content = Zone::decode(zone, &plan.body, &plan.hash, &cfg.limits)
        .map_err(|error| Refusal::Corrupt { generation, error })?;
    Ok((plan, content))
}

/// What publishing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    Published {
        generation: Generation,
        base: Option<Generation>,
        /// The zone's publish count after this publish.
        publish_count: u64,
    },
    /// The requested generation is already the published one; nothing changed.
    AlreadyPublished { generation: Generation },
}

/// The enactor: pins the plan, reads it back and re-runs the gate (validity, age, the change
/// policy against the plan's base, and its verdict), then publishes it with ONE
/// compare-and-swap that re-checks freshness and the verdict in the same atomic step as the
/// write. Every refusal is audited.
///
/// The policy is checked against the plan's base, and the compare-and-swap only succeeds if
/// that base is still the published generation: what was measured is what is replaced, so
/// the check and the write are one decision without a second read.
pub async fn publish<S: Store>(
    store: &S,
    zone: &Name,
    generation: Option<Generation>,
    cfg: &GateConfig,
    now: u64,
    actor: &Actor,
) -> Result<PublishOutcome, StepError> {
    publish_checked(store, zone, generation, None, None, cfg, now, actor).await
}

/// [`publish`] of the plan [`plan_keeping`] just staged in this process (`apply`). The gate
/// runs as in [`publish`], with one difference in how it reads: the stored body is read back
/// and must hash to the hash the plan was staged and given its verdict for, which is the hash
/// of the content `planned` holds; that content was validated under the same limits (it is a
/// [`Zone`]), so it stands for the body rather than decoding and validating the same bytes a
/// second time, and the base content the plan was measured against stands for the base's
/// body. Different limits, or a stored plan that is not the one `planned` describes, take the
/// full path of [`publish`].
pub async fn publish_planned<S: Store>(
    store: &S,
    zone: &Name,
    planned: &Planned,
    cfg: &GateConfig,
    now: u64,
    actor: &Actor,
) -> Result<PublishOutcome, StepError> {
    let known = (planned.limits == cfg.limits).then_some(planned);
    let g = Some(planned.generation);
    publish_checked(store, zone, g, None, known, cfg, now, actor).await
}

/// [`publish`] for a saved plan: publishes generation `generation` only if its content hash is
/// `hash` (else `Refusal::HashMismatch`), so what was reviewed is exactly what goes live.
pub async fn publish_exact<S: Store>(
    store: &S,
    zone: &Name,
    generation: Generation,
    hash: ContentHash,
    cfg: &GateConfig,
    now: u64,
    actor: &Actor,
) -> Result<PublishOutcome, StepError> {
    publish_checked(
        store,
        zone,
        Some(generation),
        Some(hash),
        None,
        cfg,
        now,
        actor,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn publish_checked<S: Store>(
    store: &S,
    zone: &Name,
    generation: Option<Generation>,
    hash: Option<ContentHash>,
    known: Option<&Planned>,
    cfg: &GateConfig,
    now: u64,
    actor: &Actor,
) -> Result<PublishOutcome, StepError> {
    let g = match generation {
        Some(g) => g,
        None => store
            .newest_generation(zone)
            .await?
            .ok_or_else(|| StepError::NothingStaged { zone: zone.clone() })?,
    };
    store
        .pin(zone, g, actor.as_str(), now.saturating_add(cfg.pin_lease_s))
        .await?;
    let result = publish_pinned(store, zone, g, hash, known, cfg, now, actor).await;
    // Releasing the pin is best effort: an unreleased pin only delays clean-up until it expires.
    let _ = store.unpin(zone, g, actor.as_str()).await;
    if let Err(StepError::Refused(refusal)) = &result {
        store
            .audit(entry(
                zone,
                Some(g),
                refusal.action(),
                Some(refusal.reason()),
                refusal.to_string(),
                actor,
                now,
            ))
            .await?;
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn publish_pinned<S: Store>(
    store: &S,
    zone: &Name,
    g: Generation,
    expected_hash: Option<ContentHash>,
    known: Option<&Planned>,
    cfg: &GateConfig,
    now: u64,
    actor: &Actor,
) -> Result<PublishOutcome, StepError> {
    let plan = store
        .load_plan(zone, g)
        .await?
        .ok_or_else(|| StepError::PlanMissing {
            zone: zone.clone(),
            generation: g,
        })?;
    if let Some(expected) = expected_hash.filter(|h| *h != plan.hash) {
        return Err(Refusal::HashMismatch {
            generation: g,
            expected,
            actual: plan.hash,
        }
        .into());
    }
    if plan.status == PlanStatus::Published
        && store
            .published(zone)
            .await?
            .is_some_and(|p| p.generation == g)
    {
        return Ok(PublishOutcome::AlreadyPublished { generation: g });
    }
    // Validate after reading, as before writing. Content this process validated under these
    // limits stands for the body when the body read back hashes to the plan's hash and that
    // is the content's hash: the same bytes, so the same verdict of every validity rule.
    let known = known.filter(|k| {
        k.generation == g && k.hash == plan.hash && ContentHash::of(&plan.body) == plan.hash
    });
    let decoded;
    let content = match known {
        Some(k) => &k.zone,
        None => match Zone::decode(zone, &plan.body, &plan.hash, &cfg.limits) {
            Ok(content) => {
                decoded = content;
                &decoded
            }
            Err(error) => {
                return Err(Refusal::Corrupt {
                    generation: g,
                    error,
                }
                .into());
            }
        },
    };
    let age_s = now.saturating_sub(plan.created_at);
    if age_s > cfg.plan_age_max_s {
        return Err(Refusal::TooOld {
            generation: g,
            age_s,
            max_s: cfg.plan_age_max_s,
        }
        .into());
    }
    let known_base = known.and_then(|k| k.base.as_ref());
    if let Err(refusal) = check_gate(store, zone, &plan, content, known_base, cfg).await? {
        // A plan that is stale anyway is reported as stale: approving it would not help, and
        // re-planning is what to do. This read only chooses the message; nothing is written
        // on it.
        let published = store.published(zone).await?.map(|p| p.generation);
        if published != plan.base {
            return Err(Refusal::Stale {
                generation: g,
                base: plan.base,
                published,
            }
            .into());
        }
        return Err(refusal.into());
    }
    let detail = format!(
        "published {g} on base {} ({} records, {}, verdict {})",
        OptGen(plan.base),
        plan.record_count,
        plan.hash,
        plan.verdict
    );
    let published = match store
        .publish_cas(
            zone,
            g,
            plan.base,
            entry(
                zone,
                Some(g),
                AuditAction::Published,
                None,
                detail,
                actor,
                now,
            ),
        )
        .await
    {
        Ok(published) => published,
        // Rejected between our read and the compare-and-swap: the CAS saw it.
        Err(StoreError::Unpublishable { verdict, .. }) => {
            return Err(Refusal::Review {
                generation: g,
                hash: plan.hash,
                verdict,
                review: cfg.policy.for_zone(zone).review,
            }
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    Ok(PublishOutcome::Published {
        generation: published.generation,
        base: plan.base,
        publish_count: published.publish_count,
    })
}

/// The policy and review part of the gate at publish time: the change from the plan's base is
/// measured again under the current policy, and the verdict must allow publication.
async fn check_gate<S: Store>(
    store: &S,
    zone: &Name,
    plan: &StoredPlan,
    content: &Zone,
    known_base: Option<&(Generation, Zone)>,
    cfg: &GateConfig,
) -> Result<Result<(), Refusal>, StoreError> {
    let policy = cfg.policy.for_zone(zone);
    let review = |verdict| Refusal::Review {
        generation: plan.generation,
        hash: plan.hash,
        verdict,
        review: policy.review,
    };
    match plan.verdict {
        Verdict::Approved => return Ok(Ok(())),
        Verdict::Rejected => return Ok(Err(review(Verdict::Rejected))),
        _ => {}
    }
    // The base content the plan was measured against when this process staged it: a plan's
    // content never changes once staged (and was hash-checked and validated when it was
    // read), so it is the base's body.
    let known_base = known_base
        .filter(|(g, _)| Some(*g) == plan.base)
        .map(|(_, old)| old);
    let thresholds = match (plan.base, known_base) {
        (None, _) => Vec::new(),
        (Some(_), Some(old)) => {
            crate::gate::policy::check(&policy, old, content, &Diff::between(old, content))
        }
        (Some(b), None) => match store.load_plan(zone, b).await? {
            // A base that is gone was cleaned up, so it is no longer published (I2) and the
            // compare-and-swap refuses the plan as stale.
            None => Vec::new(),
            Some(base) => match Zone::decode(zone, &base.body, &base.hash, &cfg.limits) {
                Ok(old) => crate::gate::policy::check(
                    &policy,
                    &old,
                    content,
                    &Diff::between(&old, content),
                ),
                // An unusable base body never blocks later plans (I5); validity still holds.
                Err(_) => Vec::new(),
            },
        },
    };
    if !thresholds.is_empty() {
        return Ok(Err(Refusal::Policy {
            generation: plan.generation,
            hash: plan.hash,
            thresholds,
        }));
    }
    match plan.verdict {
        Verdict::Held | Verdict::Refused => Ok(Err(review(plan.verdict))),
        _ if policy.review != crate::gate::policy::Review::Off => Ok(Err(review(plan.verdict))),
        _ => Ok(Ok(())),
    }
}

/// Approves or rejects one staged plan (`zonegate approve` / `reject`, or a review command's
/// result), bound to its content hash when one is given, and records who and why in the audit
/// log in the same step.
#[allow(clippy::too_many_arguments)]
pub async fn decide<S: Store>(
    store: &S,
    zone: &Name,
    generation: Generation,
    hash: Option<ContentHash>,
    to: Verdict,
    why: &str,
    actor: &Actor,
    now: u64,
) -> Result<Verdict, StoreError> {
    let action = match to {
        Verdict::Approved => AuditAction::Approved,
        Verdict::Rejected => AuditAction::Rejected,
        other => AuditAction::Unrecognized(other.as_str().to_string()),
    };
    let bound = hash.map(|h| format!(" (hash {h})")).unwrap_or_default();
    let detail = format!("{action} {generation}{bound} by {actor}: {why}");
    store
        .set_verdict(
            zone,
            generation,
            hash,
            to,
            entry(zone, Some(generation), action, None, detail, actor, now),
        )
        .await
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
    // Record the target's generation BEFORE installing it: from this write on, clean-up's
    // horizon protects plan g, so a store never holds a target whose content it might delete.
    // If clean-up got to g first (it was superseded meanwhile), this fails with `PlanMissing`
    // and the caller's next pass converges to the newer generation (I6).
    match store.record_target(target.id(), zone, g).await {
        Ok(()) | Err(StoreError::TargetNewer { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    match target.install(g, content).await {
        Ok(()) => {}
        Err(held) => return Ok(ConvergeOutcome::UpToDate { held }),
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

/// The audit row both stores append when clean-up deleted something, so that their logs read
/// the same.
pub fn cleanup_audit_entry(
    zone: &Name,
    deleted: u64,
    horizon: Generation,
    keep: u32,
    now: u64,
) -> AuditEntry {
    AuditEntry {
        zone: zone.clone(),
        generation: None,
        action: AuditAction::Cleanup,
        reason: None,
        detail: format!(
            "deleted {deleted} plan(s) below the horizon {horizon}, keeping the newest {keep}"
        ),
        actor: Actor::CLEANUP,
        at: now,
    }
}
