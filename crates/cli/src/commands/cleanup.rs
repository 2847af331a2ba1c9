//! `zonegate cleanup`: delete old plans below the horizon, keeping the newest N. Servers that
//! have not renewed their row within `target_lease_s` no longer hold the horizon back.

use clap::Args;
use zonegate_core::gate::Store;

use super::OutputArgs;
use crate::context::{Ctx, now, parse_origin};
use crate::exit;
use crate::failure::Failure;
use crate::output;

#[derive(Debug, Args)]
pub struct CleanupArgs {
    origin: String,
    /// Generations to keep besides the live ones; defaults to generations_keep (10).
    #[arg(long)]
    keep: Option<u32>,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(ctx: &Ctx, args: CleanupArgs) -> Result<u8, Failure> {
    let origin = parse_origin(&args.origin)?;
    // Test-only delays before the clean-up transaction when asked for (see chaos.rs).
    let store = crate::chaos::ChaosStore::from_env(ctx.open_store().await?);
    let keep = args.keep.unwrap_or(ctx.gate.generations_keep);
    let deleted = store
        .cleanup(&origin, keep, ctx.gate.target_lease_s, now())
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    output::cleanup(&ctx.emit, &origin, keep, deleted);
    Ok(exit::OK)
}
