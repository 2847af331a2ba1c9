//! The audit log's row (I8): every decision the gate takes is written with the step that
//! took it, in the same store operation.

use serde::{Deserialize, Serialize};

use crate::dns::name::Name;
use crate::gate::types::Generation;

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

pub(super) fn entry(
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
