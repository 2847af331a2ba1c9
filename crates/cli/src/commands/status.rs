//! `zonegate status`: the published generation, hash and record count of each zone.

use anyhow::Context;
use clap::Args;
use zonegate_store::AnyStore;

use super::OutputArgs;
use crate::context::{Ctx, parse_origin};
use crate::exit;
use crate::failure::Failure;
use crate::output;

#[derive(Debug, Args)]
pub struct StatusArgs {
    pub origin: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(ctx: &Ctx, args: StatusArgs) -> Result<u8, Failure> {
    let origin = args.origin.as_deref().map(parse_origin).transpose()?;
    let store: AnyStore = ctx.open_store_existing().await?;
    let rows = store.zones().await.context("cannot read zones")?;
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| origin.as_ref().is_none_or(|o| &r.origin == o))
        .collect();
    if let (Some(o), true) = (&origin, rows.is_empty()) {
        return Err(Failure::Input(anyhow::anyhow!(
            "zone {o} is not in {}; stage it with `zonegate plan`",
            ctx.db
        )));
    }
    output::status(&ctx.emit, &rows);
    Ok(exit::OK)
}
