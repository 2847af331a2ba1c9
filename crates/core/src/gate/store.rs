//! The [`Store`] trait: the atomic operations the protocol needs, each one transaction in
//! SQLite and one critical section in the in-memory model, and [`StoreError`].

use crate::dns::name::Name;
use crate::gate::audit::AuditEntry;
use crate::gate::types::{
    DeltaStep, Generation, NewPlan, OptGen, PlanHead, PlanStatus, Published, StoredPlan, Verdict,
};
use crate::zone::ContentHash;
use crate::zone::serial::SerialRequest;

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

/// What [`Store::compact`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compaction {
    /// Not a delta past the bound (a checkpoint, or a short chain): nothing written.
    NotDue,
    /// The row is now a checkpoint of `bytes` octets.
    Written { bytes: u64 },
    /// The plan is gone (cleaned up): nothing to write.
    Gone,
}

/// The atomic operations a store offers. Each method is ONE atomic step: one transaction in
/// SQLite, one critical section in the in-memory model. The contract tests in
/// `zonegate-store` hold both implementations to the same behaviour.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// The zone's published pointer, if anything was ever published.
    async fn published(&self, zone: &Name) -> Result<Option<Published>, StoreError>;

    /// One plan, its full body included: a plan stored as a delta is rebuilt from its chain's
    /// checkpoint (see `gate::chain`); a chain that does not apply gives an empty body, which
    /// every reader refuses as corrupt.
    async fn load_plan(
        &self,
        zone: &Name,
        generation: Generation,
    ) -> Result<Option<StoredPlan>, StoreError>;

    /// One plan's row without its body (nothing is read or rebuilt from its chain). The
    /// default reads the whole plan; the SQL stores read the row's columns only.
    async fn load_head(
        &self,
        zone: &Name,
        generation: Generation,
    ) -> Result<Option<PlanHead>, StoreError> {
        Ok(self.load_plan(zone, generation).await?.map(|p| p.head()))
    }

    /// For a reader that holds `from`: the deltas that lead from it to `to`, oldest first,
    /// each with the hash of the content it gives, read in one atomic step. `None` unless
    /// `to` exists and `from` is on its chain (an ancestor through delta parents, with no
    /// checkpoint between); then the reader loads `to` whole.
    async fn load_deltas(
        &self,
        zone: &Name,
        from: Generation,
        to: Generation,
    ) -> Result<Option<Vec<DeltaStep>>, StoreError>;

    /// The newest staged plan's generation, if any.
    async fn newest_generation(&self, zone: &Name) -> Result<Option<Generation>, StoreError>;

    /// Stages a plan, assigning the next generation of its zone (creating the zone on first
    /// use) and appending a `staged` audit row, atomically. A delta is stored as offered or,
    /// when `gate::chain::layout` says so, as a checkpoint rebuilt inside the same step; a
    /// delta whose parent is gone is `PlanMissing` for the parent.
    async fn stage(&self, plan: NewPlan, audit: AuditEntry) -> Result<Generation, StoreError>;

    /// THE compare-and-swap. Atomically: if `generation > published` and
    /// `published == expected_base` and the plan exists with a publishable verdict (pass or
    /// approved), set the pointer to `generation`, bump the version, decide the generation's
    /// SOA serial with `serial` ([`SerialRequest::decide`] over the serial of the generation
    /// it replaces) and store it with the plan, mark statuses and append `audit`. Otherwise
    /// change nothing and return `PlanMissing`, `Stale` or `Unpublishable`, checked in that
    /// order.
    async fn publish_cas(
        &self,
        zone: &Name,
        generation: Generation,
        expected_base: Option<Generation>,
        serial: SerialRequest,
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

    /// Records that `target` holds `generation` at `now` (unix seconds), only if that is not
    /// older than what it held (`TargetNewer` otherwise): a newer generation moves the row, the
    /// same generation renews it (its lease runs from `now` again). A row for a plan that is
    /// gone is `PlanMissing`.
    async fn record_target(
        &self,
        target: &str,
        zone: &Name,
        generation: Generation,
        now: u64,
    ) -> Result<(), StoreError>;

    /// Deletes, in one step, plans of `zone` below the horizon
    /// `min(published, live targets' generations, unexpired pins)` that are not among the
    /// newest `keep` and not on the chain of a plan that stays (`gate::chain::doomed`). Expired pins, and target rows not renewed in the last `target_lease_s`
    /// seconds (targets that are gone), are dropped first. Returns how many plans were deleted.
    async fn cleanup(
        &self,
        zone: &Name,
        keep: u32,
        target_lease_s: u64,
        now: u64,
    ) -> Result<u64, StoreError>;

    /// Writes the checkpoint a stage with `CheckpointWhen::AfterPublish` left due: if
    /// `generation` is a delta whose chain is past the usual bound ([`chain::due`]), its row
    /// becomes a checkpoint of the same plan (the body rebuilt from its chain and checked
    /// against the row's hash; the parent cleared; nothing else changes). The rebuild reads
    /// outside any write lock; the write is one short statement that holds only while the
    /// row is still that delta. Content never changes, so readers and clean-up racing it
    /// see the same plan either way; afterwards the older chain is no longer needed by it.
    ///
    /// [`chain::due`]: crate::gate::chain::due
    async fn compact(
        &self,
        zone: &Name,
        generation: Generation,
        checkpoint_every: u32,
    ) -> Result<Compaction, StoreError>;

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

/// The rule every store applies before moving a plan's verdict (see [`Store::set_verdict`]):
/// the offered hash, when one is given, must be the `recorded` one (`HashMismatch`), and the
/// plan must still be staged with a verdict that may become `to` (`VerdictLocked`). The stores
/// read `recorded`, `status` and `verdict` inside their step and write only if this holds.
pub fn verdict_move(
    zone: &Name,
    generation: Generation,
    recorded: ContentHash,
    offered: Option<ContentHash>,
    (status, verdict): (PlanStatus, Verdict),
    to: Verdict,
) -> Result<(), StoreError> {
    if let Some(offered) = offered.filter(|h| *h != recorded) {
        return Err(StoreError::HashMismatch {
            zone: zone.clone(),
            generation,
            recorded,
            offered,
        });
    }
    if status != PlanStatus::Staged || !verdict.may_become(to) {
        return Err(StoreError::VerdictLocked {
            zone: zone.clone(),
            generation,
            status,
            verdict,
            wanted: to,
        });
    }
    Ok(())
}
