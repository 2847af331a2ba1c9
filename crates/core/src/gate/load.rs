//! Reading stored content back: every load re-validates, so a corrupt body is a refusal,
//! never content a step acts on.

use crate::dns::name::Name;
use crate::gate::config::GateConfig;
use crate::gate::error::StepError;
use crate::gate::refusal::Refusal;
use crate::gate::store::{Store, StoreError};
use crate::gate::types::{Generation, StoredPlan};
use crate::zone::Zone;

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
