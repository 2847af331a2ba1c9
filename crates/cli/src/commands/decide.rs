//! `zonegate approve` and `zonegate reject`: one store step that sets a staged plan's
//! verdict, audited with who and why; a decision that does not go through is audited too.

use anyhow::anyhow;
use serde_json::json;
use zonegate_core::gate::{
    self, Actor, AuditAction, AuditEntry, Generation, ReasonCode, Store, StoreError, Verdict,
};
use zonegate_core::{ContentHash, Name};
use zonegate_store::SqliteStore;

use crate::context::{Ctx, now, parse_origin};
use crate::exit;
use crate::failure::Failure;
use crate::outcome::Outcome;
use crate::output::Emit;
use crate::output::outln;

/// Who approves or rejects: `--by`, else `$USER` or `$LOGNAME`, else the account the command
/// runs as (`uid:<n>`). The audit log must name someone, so with none of them the command
/// refuses instead of recording a placeholder.
pub(crate) fn actor(by: Option<String>) -> Result<Actor, Failure> {
    let from_env = |key| {
        std::env::var(key)
            .ok()
            .filter(|v: &String| !v.trim().is_empty())
    };
    let name = by
        .filter(|b| !b.trim().is_empty())
        .or_else(|| from_env("USER"))
        .or_else(|| from_env("LOGNAME"))
        .or_else(account)
        .ok_or_else(|| {
            Failure::input("say who decides with --by (or set $USER); it goes into the audit log")
        })?;
    Actor::new(&name).map_err(Failure::input)
}

/// The account this process runs as, `uid:<n>`, read from `/proc/self` (Linux).
fn account() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    Some(format!("uid:{uid}"))
}

/// One approval or rejection, as the command line asked for it.
pub struct DecisionRequest {
    pub origin: String,
    pub generation: u64,
    /// The plan hash an approval is bound to; a rejection names none.
    pub hash: Option<String>,
    pub to: Verdict,
    /// Why, for the audit log.
    pub reason: String,
    /// `--by`; defaults to `$USER`.
    pub by: Option<String>,
}

/// A decision with its arguments checked, and who makes it.
struct Checked {
    origin: Name,
    generation: Generation,
    hash: Option<ContentHash>,
    to: Verdict,
    reason: String,
    who: Actor,
}

impl Checked {
    fn new(d: DecisionRequest) -> Result<Checked, Failure> {
        let origin = parse_origin(&d.origin)?;
        let hash = d
            .hash
            .map(|h| {
                ContentHash::parse(&h).ok_or_else(|| {
                    Failure::input(format!(
                        "{h:?} is not a plan hash; copy it from `zonegate plan` (sha256:...)"
                    ))
                })
            })
            .transpose()?;
        if d.reason.trim().is_empty() {
            return Err(Failure::input(
                "--reason must say why; it goes into the audit log",
            ));
        }
        Ok(Checked {
            origin,
            generation: Generation(d.generation),
            hash,
            to: d.to,
            reason: d.reason,
            who: actor(d.by)?,
        })
    }

    fn verb(&self) -> &'static str {
        if self.to == Verdict::Approved {
            "approve"
        } else {
            "reject"
        }
    }
}

/// `zonegate approve` and `zonegate reject`.
pub async fn decide(ctx: &Ctx, request: DecisionRequest) -> Result<u8, Failure> {
    let d = Checked::new(request)?;
    let store = ctx.open_store().await?;
    let (origin, generation) = (&d.origin, d.generation);
    let decision = gate::Decision {
        generation,
        hash: d.hash,
        to: d.to,
        why: &d.reason,
    };
    match gate::decide(&store, origin, decision, &d.who, now()).await {
        Ok(previous) => {
            decided(&ctx.emit, &d, previous);
            Ok(exit::OK)
        }
        Err(e) => refused(&store, &ctx.emit, &d, e).await,
    }
}

/// Prints a decision that went through.
fn decided(emit: &Emit, d: &Checked, previous: Verdict) {
    let Checked {
        origin,
        generation,
        hash,
        to,
        reason,
        who,
    } = d;
    if emit.json {
        emit.object(json!({
            "zone": origin.to_string(), "outcome": to.as_str(), "generation": generation.0,
            "hash": hash.map(|h| h.to_string()), "previous": previous.as_str(),
            "by": who, "reason": reason,
        }));
    } else {
        outln!("zone {origin}: {generation} is {to} (was {previous}) by {who}: {reason}");
        if *to == Verdict::Approved {
            outln!(
                "publish it with: zonegate publish {origin} --generation {}",
                generation.0
            );
        }
    }
}

/// A decision the store refused: audited (I8), explained, and mapped to its exit code.
async fn refused(
    store: &SqliteStore,
    emit: &Emit,
    d: &Checked,
    e: StoreError,
) -> Result<u8, Failure> {
    let (code, reason_code, hint) = match &e {
        StoreError::HashMismatch { .. } => (
            exit::REFUSED,
            ReasonCode::HashMismatch,
            "the hash names other content than the stored plan; check the generation and copy the hash from `zonegate plan` or `zonegate history`",
        ),
        StoreError::VerdictLocked { .. } => (
            exit::REFUSED,
            ReasonCode::Verdict,
            "only a staged plan that was never published can be approved or rejected, and a rejection is final; plan again",
        ),
        StoreError::PlanMissing { .. } => (
            exit::STALE,
            ReasonCode::Missing,
            "the plan is gone (never staged, or cleaned up); plan again",
        ),
        _ => return Err(Failure::Internal(anyhow!(e))),
    };
    let (origin, generation, who) = (&d.origin, d.generation, &d.who);
    let message = format!("cannot {} {generation}: {e}", d.verb());
    // An approval that did not go through is a refusal too, and is audited (I8).
    store
        .audit(AuditEntry {
            zone: origin.clone(),
            generation: Some(generation),
            action: AuditAction::Refused,
            reason: Some(reason_code.clone()),
            detail: format!("{message} (requested by {who}: {})", d.reason),
            actor: who.clone(),
            at: now(),
        })
        .await
        .map_err(|e| Failure::Internal(anyhow!(e)))?;
    if emit.json {
        emit.object(json!({
            "zone": origin.to_string(), "outcome": Outcome::Refused, "reason": reason_code,
            "generation": generation.0, "message": message, "hint": hint,
        }));
    }
    eprintln!("refused ({reason_code}): {message}");
    eprintln!("hint: {hint}");
    Ok(code)
}
