//! `zonegate retire`: take a published zone out of the catalog zone (RFC 9432) of `serve`,
//! so that secondaries that consume the catalog drop it. One store step (check that the zone
//! is published and not retired, append the `retired` audit row), audited with who and why.
//! The published pointer, the plans and the targets stay as they are; publishing a newer
//! generation brings the zone back into the catalog.

use anyhow::anyhow;
use clap::Args;
use serde_json::json;
use zonegate_core::gate::{AuditAction, AuditEntry};
use zonegate_store::RetireError;

use super::OutputArgs;
use super::decide::actor;
use crate::context::{Ctx, now, parse_origin};
use crate::exit;
use crate::failure::Failure;
use crate::outcome::Outcome;
use crate::output::outln;

#[derive(Debug, Args)]
pub struct RetireArgs {
    origin: String,
    /// Why; goes into the audit log.
    #[arg(long)]
    reason: String,
    /// Who retires; defaults to $USER.
    #[arg(long)]
    by: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(ctx: &Ctx, args: RetireArgs) -> Result<u8, Failure> {
    let origin = parse_origin(&args.origin)?;
    if args.reason.trim().is_empty() {
        return Err(Failure::input(
            "--reason must say why; it goes into the audit log",
        ));
    }
    let who = ctx.actor.clone().map_or_else(|| actor(args.by), Ok)?;
    let store = ctx.open_store().await?;
    let entry = AuditEntry {
        zone: origin.clone(),
        generation: None,
        action: AuditAction::Retired,
        reason: None,
        detail: format!("retired from the catalog zone: {}", args.reason),
        actor: who.clone(),
        at: now(),
    };
    let (outcome, generation) = match store.retire(&origin, entry).await {
        Ok(g) => (Outcome::Retired, g),
        Err(RetireError::AlreadyRetired { generation, .. }) => {
            (Outcome::AlreadyRetired, generation)
        }
        Err(e @ RetireError::NotPublished { .. }) => return Err(Failure::input(e)),
        Err(e) => return Err(Failure::Internal(anyhow!(e))),
    };
    if ctx.emit.json {
        ctx.emit.object(json!({
            "zone": origin.to_string(), "outcome": outcome, "generation": generation.0,
            "by": who, "reason": args.reason,
        }));
    } else if outcome == Outcome::Retired {
        outln!(
            "zone {origin}: retired at {generation} by {who}: {}",
            args.reason
        );
        outln!("it leaves the catalog zone; publish a newer generation to bring it back");
    } else {
        outln!("zone {origin}: already retired at {generation}; nothing to do");
    }
    Ok(exit::OK)
}
