//! The review step: approve or reject one staged plan, audited in the same store operation.

use crate::dns::name::Name;
use crate::gate::audit::{Actor, AuditAction, entry};
use crate::gate::store::{Store, StoreError};
use crate::gate::types::{Generation, Verdict};
use crate::zone::ContentHash;

/// A reviewer's decision on one staged plan.
#[derive(Debug, Clone, Copy)]
pub struct Decision<'a> {
    pub generation: Generation,
    /// The content hash the decision is bound to, if the reviewer named one.
    pub hash: Option<ContentHash>,
    /// `Approved` or `Rejected`.
    pub to: Verdict,
    /// Why, for the audit log.
    pub why: &'a str,
}

/// Approves or rejects one staged plan (`zonegate approve` / `reject`, or a review command's
/// result), bound to its content hash when one is given, and records who and why in the audit
/// log in the same step.
pub async fn decide<S: Store>(
    store: &S,
    zone: &Name,
    decision: Decision<'_>,
    actor: &Actor,
    now: u64,
) -> Result<Verdict, StoreError> {
    let Decision {
        generation,
        hash,
        to,
        why,
    } = decision;
    let action = match to {
        Verdict::Approved => AuditAction::Approved,
        Verdict::Rejected => AuditAction::Rejected,
        // `set_verdict` refuses any other move; the row it would have written names the verdict.
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
