//! Reading a kept generation back, for `diff` and `rollback`, with the list of kept
//! generations when it is gone.

use anyhow::anyhow;
use zonegate_core::gate::{self, Generation, StepError, StoredPlan};
use zonegate_core::{GateConfig, Name, Zone};
use zonegate_store::AnyStore;

use crate::failure::Failure;

/// Loads a kept generation, or says which generations are kept.
pub async fn load_kept(
    store: &AnyStore,
    cfg: &GateConfig,
    origin: &Name,
    generation: Generation,
) -> Result<(StoredPlan, Zone), Failure> {
    match gate::load_content(store, origin, generation, cfg).await {
        Ok(found) => Ok(found),
        Err(StepError::PlanMissing { .. }) => {
            let kept: Vec<String> = store
                .plans(origin)
                .await
                .map_err(|e| Failure::Internal(anyhow!(e)))?
                .iter()
                .map(|p| p.generation.to_string())
                .collect();
            Err(Failure::input(format!(
                "zone {origin} has no plan {generation} (never staged, or cleaned up); kept generations: {}",
                if kept.is_empty() {
                    "none".to_string()
                } else {
                    kept.join(", ")
                }
            )))
        }
        Err(e) => Err(Failure::Internal(anyhow!(e))),
    }
}
