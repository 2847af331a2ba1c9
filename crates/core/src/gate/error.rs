//! [`StepError`]: what a step returns when it did not do its work, a refusal or a store
//! failure.

use crate::dns::name::Name;
use crate::gate::refusal::Refusal;
use crate::gate::store::StoreError;
use crate::gate::types::Generation;

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
