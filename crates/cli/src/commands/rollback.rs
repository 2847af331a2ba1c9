//! `zonegate rollback`: a kept generation's content as a NEW plan, through the whole gate
//! (the published pointer never moves back).

use clap::Args;
use serde_json::json;
use zonegate_core::ParsedZone;
use zonegate_core::gate::{Actor, Generation};

use super::OutputArgs;
use super::apply::apply_parsed;
use super::kept::load_kept;
use crate::context::{Ctx, parse_origin};
use crate::failure::Failure;
use crate::output::outln;

#[derive(Debug, Args)]
pub struct RollbackArgs {
    origin: String,
    /// The generation whose content to publish again.
    #[arg(long)]
    to: u64,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `zonegate rollback ORIGIN --to G`: G's content as a new plan, through the whole gate.
pub async fn run(ctx: &Ctx, args: RollbackArgs) -> Result<u8, Failure> {
    let (cfg, emit) = (&ctx.gate, &ctx.emit);
    let origin = parse_origin(&args.origin)?;
    let store = ctx.open_store().await?;
    let to = Generation(args.to);
    let (_, content) = load_kept(&store, cfg, &origin, to).await?;
    if !emit.json {
        outln!("zone {origin}: rolling back to the content of {to}, as a new generation");
    }
    let parsed = ParsedZone {
        origin: origin.clone(),
        records: content.records().to_vec(),
    };
    apply_parsed(
        &store,
        cfg,
        parsed,
        &Actor::rollback_to(to),
        emit,
        &[("rollback_to", json!(to.0))],
    )
    .await
}
