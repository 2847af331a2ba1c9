//! `zonegate approve` and `zonegate reject`: one store step that sets a staged plan's
//! verdict, audited with who and why; a decision that does not go through is audited too.

use anyhow::anyhow;
use serde_json::json;
use zonegate_core::ContentHash;
use zonegate_core::protocol::{self, AuditEntry, Generation, Store, StoreError, Verdict};

use crate::context::{Ctx, now, parse_origin};
use crate::exit;
use crate::failure::Failure;
use crate::reason::Reason;

fn input(e: impl std::fmt::Display) -> Failure {
    Failure::input(e)
}

/// Who approves or rejects: `--by`, else `$USER`, else "unknown".
fn actor(by: Option<String>) -> String {
    by.filter(|b| !b.trim().is_empty())
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

/// `zonegate approve` and `zonegate reject`.
#[allow(clippy::too_many_arguments)]
pub async fn decide(
    ctx: &Ctx,
    origin: &str,
    generation: u64,
    hash: Option<&str>,
    to: Verdict,
    reason: &str,
    by: Option<String>,
) -> Result<u8, Failure> {
    let emit = &ctx.emit;
    let origin = parse_origin(origin)?;
    let generation = Generation(generation);
    let hash = hash
        .map(|h| {
            ContentHash::parse(h).ok_or_else(|| {
                input(format!(
                    "{h:?} is not a plan hash; copy it from `zonegate plan` (sha256:...)"
                ))
            })
        })
        .transpose()?;
    if reason.trim().is_empty() {
        return Err(input("--reason must say why; it goes into the audit log"));
    }
    let who = actor(by);
    let store = ctx.open_store().await?;
    let verb = if to == Verdict::Approved {
        "approve"
    } else {
        "reject"
    };
    match protocol::decide(&store, &origin, generation, hash, to, reason, &who, now()).await {
        Ok(previous) => {
            if emit.json {
                emit.object(json!({
                    "zone": origin.to_string(), "outcome": to.as_str(), "generation": generation.0,
                    "hash": hash.map(|h| h.to_string()), "previous": previous.as_str(),
                    "by": who, "reason": reason,
                }));
            } else {
                println!("zone {origin}: {generation} is {to} (was {previous}) by {who}: {reason}");
                if to == Verdict::Approved {
                    println!(
                        "publish it with: zonegate publish {origin} --generation {}",
                        generation.0
                    );
                }
            }
            Ok(exit::OK)
        }
        Err(e) => {
            let (code, reason_code) = match &e {
                StoreError::HashMismatch { .. } => (exit::REFUSED, Reason::HashMismatch),
                StoreError::VerdictLocked { .. } => (exit::REFUSED, Reason::Verdict),
                StoreError::PlanMissing { .. } => (exit::STALE, Reason::Missing),
                _ => return Err(Failure::Internal(anyhow!(e))),
            };
            let hint = match &e {
                StoreError::HashMismatch { .. } => {
                    "the hash names other content than the stored plan; check the generation and copy the hash from `zonegate plan` or `zonegate history`"
                }
                StoreError::VerdictLocked { .. } => {
                    "only a staged plan that was never published can be approved or rejected, and a rejection is final; plan again"
                }
                _ => "the plan is gone (never staged, or cleaned up); plan again",
            };
            let message = format!("cannot {verb} {generation}: {e}");
            // An approval that did not go through is a refusal too, and is audited (I8).
            store
                .audit(AuditEntry {
                    zone: origin.clone(),
                    generation: Some(generation),
                    action: "refused".into(),
                    reason: reason_code.to_string(),
                    detail: format!("{message} (requested by {who}: {reason})"),
                    actor: who.clone(),
                    at: now(),
                })
                .await
                .map_err(|e| Failure::Internal(anyhow!(e)))?;
            if emit.json {
                emit.object(json!({
                    "zone": origin.to_string(), "outcome": "refused", "reason": reason_code,
                    "generation": generation.0, "message": message, "hint": hint,
                }));
            }
            eprintln!("refused ({reason_code}): {message}");
            eprintln!("hint: {hint}");
            Ok(code)
        }
    }
}
