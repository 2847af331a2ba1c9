//! `zonegate export`: a kept generation (the published one by default) as an RFC 1035 master
//! file on stdout, which `plan` reads back as "no changes". Once updates arrive over DNS, the
//! zone file in a repository falls behind the live zone; this is how an operator gets it back.

use anyhow::anyhow;
use clap::Args;
use serde_json::json;
use zonegate_core::gate::{Generation, Store};
use zonegate_core::zonefile::record_to_text;

use super::OutputArgs;
use super::kept::load_kept;
use crate::context::{Ctx, parse_origin};
use crate::exit;
use crate::failure::Failure;

#[derive(Debug, Args)]
pub struct ExportArgs {
    origin: String,
    /// The generation to export; default the published one.
    #[arg(long)]
    generation: Option<u64>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `zonegate export ORIGIN [--generation G]`.
pub async fn run(ctx: &Ctx, args: ExportArgs) -> Result<u8, Failure> {
    let origin = parse_origin(&args.origin)?;
    let store = ctx.open_store().await?;
    let generation = match args.generation {
        Some(g) => Generation(g),
        None => store
            .published(&origin)
            .await
            .map_err(|e| Failure::Internal(anyhow!(e)))?
            .map(|p| p.generation)
            .ok_or_else(|| {
                Failure::input(format!(
                    "zone {origin} has nothing published; name a kept generation with --generation"
                ))
            })?,
    };
    let (plan, zone) = load_kept(&store, &ctx.gate, &origin, generation).await?;
    let mut text = format!(
        "; zone {origin} generation {generation}, {} records, {}\n$ORIGIN {origin}\n",
        zone.len(),
        plan.hash
    );
    for r in zone.records() {
        text.push_str(&record_to_text(r));
        text.push('\n');
    }
    if ctx.emit.json {
        ctx.emit.object(json!({
            "zone": origin.to_string(), "generation": generation.0, "hash": plan.hash.to_string(),
            "record_count": zone.len(), "zonefile": text,
        }));
    } else {
        // Not `print!`: a closed stdout must not panic (the exit code still tells the outcome).
        use std::io::Write as _;
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
    Ok(exit::OK)
}
