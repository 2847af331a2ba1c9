//! `zonegate history`: a zone's generations, their status, and the audit trail.

use anyhow::Context;
use clap::Args;

use super::OutputArgs;
use crate::context::{Ctx, parse_origin};
use crate::exit;
use crate::failure::Failure;
use crate::output;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    pub origin: String,
    /// Show at most this many audit rows (newest first).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(ctx: &Ctx, args: HistoryArgs) -> Result<u8, Failure> {
    let origin = parse_origin(&args.origin)?;
    let store = ctx.open_store_existing().await?;
    let plans = store.plans(&origin).await.context("cannot read plans")?;
    let audit = store
        .audit_log(Some(&origin), args.limit)
        .await
        .context("cannot read the audit log")?;
    if plans.is_empty() && audit.is_empty() {
        return Err(Failure::Input(anyhow::anyhow!(
            "zone {origin} has no history in {}",
            ctx.db
        )));
    }
    output::history(&ctx.emit, &origin, &plans, &audit);
    Ok(exit::OK)
}
