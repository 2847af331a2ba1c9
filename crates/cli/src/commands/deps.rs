//! `zonegate deps ORIGIN [--generation G] [--json]`: every out-of-zone name the zone's records
//! point to, grouped by registrable domain, with shares, single-target names and the
//! concentration.

use clap::Args;
use zonegate_core::deps::DepMap;
use zonegate_core::gate::Generation;

use super::OutputArgs;
use super::kept::load_kept;
use crate::context::{Ctx, parse_origin};
use crate::exit;
use crate::failure::Failure;
use crate::output::deps::{deps_json, print_deps};

#[derive(Debug, Args)]
pub struct DepsArgs {
    origin: String,
    /// A kept generation instead of the published one.
    #[arg(long)]
    generation: Option<u64>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `zonegate deps`.
pub async fn run(ctx: &Ctx, args: DepsArgs) -> Result<u8, Failure> {
    let origin = parse_origin(&args.origin)?;
    let store = ctx.open_store_existing().await?;
    let generation = match args.generation {
        Some(g) => Generation(g),
        None => store
            .zone(&origin)
            .await
            .map_err(|e| Failure::Internal(anyhow::anyhow!(e)))?
            .and_then(|z| z.published)
            .ok_or_else(|| {
                Failure::input(format!(
                    "zone {origin} has nothing published; publish it, or name a kept plan with --generation"
                ))
            })?,
    };
    let (_, zone) = load_kept(&store, &ctx.gate, &origin, generation).await?;
    let map = DepMap::of(&zone);
    if ctx.emit.json {
        ctx.emit.object(deps_json(&origin, generation.0, &map));
    } else {
        print_deps(&origin, generation.0, &map);
    }
    Ok(exit::OK)
}
