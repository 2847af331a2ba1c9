//! The cleaner step: delete old plans below the horizon in one store operation.

use crate::dns::name::Name;
use crate::gate::audit::AuditEntry;
use crate::gate::audit::{Actor, AuditAction};
use crate::gate::config::GateConfig;
use crate::gate::error::StepError;
use crate::gate::store::Store;
use crate::gate::types::Generation;

/// The cleaner: deletes old plans below the horizon in one store step. Targets that have not
/// renewed their row within `cfg.target_lease_s` no longer hold it back.
pub async fn cleanup<S: Store>(
    store: &S,
    zone: &Name,
    cfg: &GateConfig,
    now: u64,
) -> Result<u64, StepError> {
    Ok(store
        .cleanup(zone, cfg.generations_keep, cfg.target_lease_s, now)
        .await?)
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
