//! `zonegate diff`: what a generation changed against its base, or between two kept
//! generations.

use clap::Args;
use serde_json::json;
use zonegate_core::deps;
use zonegate_core::gate::{self, Generation};
use zonegate_core::zone::diff::Diff;

use super::OutputArgs;
use super::kept::load_kept;
use crate::context::{Ctx, parse_origin};
use crate::exit;
use crate::failure::Failure;
use crate::output;
use crate::output::deps::{changes_json, print_changes};
use crate::output::outln;

#[derive(Debug, Args)]
pub struct DiffArgs {
    pub origin: String,
    /// One generation (diffed against its base) or two (from, to).
    #[arg(num_args = 1..=2, required = true)]
    pub generations: Vec<u64>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `zonegate diff ORIGIN [G1] G2`.
pub async fn run(ctx: &Ctx, args: DiffArgs) -> Result<u8, Failure> {
    let (cfg, emit) = (&ctx.gate, &ctx.emit);
    let generations = &args.generations[..];
    let origin = parse_origin(&args.origin)?;
    let store = ctx.open_store_existing().await?;
    let (from, to) = match generations {
        [to] => (None, Generation(*to)),
        [from, to] => (Some(Generation(*from)), Generation(*to)),
        _ => return Err(Failure::input("diff takes one generation or two")),
    };
    let (to_plan, to_zone) = load_kept(&store, cfg, &origin, to).await?;
    let from = if generations.len() == 1 {
        to_plan.base
    } else {
        from
    };
    let from_zone = match from {
        Some(g) => Some(load_kept(&store, cfg, &origin, g).await?),
        None => None,
    };
    let diff = match &from_zone {
        Some((_, z)) => Diff::between(z, &to_zone),
        None => Diff::from_nothing(&to_zone),
    };
    let dependencies = match &from_zone {
        Some((_, z)) => deps::change_of(z, &to_zone, &diff),
        None => Vec::new(),
    };
    if emit.json {
        emit.object(json!({
            "zone": origin.to_string(), "from": from.map(|g| g.0), "to": to.0,
            "from_hash": from_zone.as_ref().map(|(p, _)| p.hash.to_string()),
            "to_hash": to_plan.hash.to_string(), "to_verdict": to_plan.verdict.as_str(),
            "diff": crate::json::diff_json(&diff),
            "dependency_changes": changes_json(&dependencies),
        }));
    } else {
        outln!(
            "zone {origin}: {} -> {to}: +{} -{} records, {} unchanged",
            gate::OptGen(from),
            diff.records_added,
            diff.records_removed,
            diff.records_unchanged
        );
        output::print_diff(&diff, 100_000);
        print_changes(&dependencies);
    }
    Ok(exit::OK)
}
