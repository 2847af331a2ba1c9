//! The review step: approve or reject one staged plan, audited in the same store operation.

use crate::dns::name::Name;
use crate::gate::audit::entry;
use crate::gate::store::{Store, StoreError};
use crate::gate::types::{Generation, Verdict};
use crate::zone::ContentHash;

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
    actor: &str,
    now: u64,
) -> Result<Verdict, StoreError> {
    let action = match to {
        Verdict::Approved => "approved",
        Verdict::Rejected => "rejected",
        other => other.as_str(),
    };
    let bound = hash.map(|h| format!(" (hash {h})")).unwrap_or_default();
    let detail = format!("{action} {generation}{bound} by {actor}: {why}");
    store
        .set_verdict(
            zone,
            generation,
            hash,
            to,
            entry(zone, Some(generation), action, "", detail, actor, now),
        )
        .await
}
