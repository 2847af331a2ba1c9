//! `zonegate apply`: plan, review and publish in one step. `rollback` shares
//! [`apply_parsed`], since a rollback is a new plan through the same gate.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;
use serde_json::Value;
use zonegate_core::gate::{self, Actor, PlanOutcome};
use zonegate_core::{GateConfig, ParsedZone};
use zonegate_store::AnyStore;

use super::OutputArgs;
use super::plan::dependency_changes;
use super::staged::{explain, show_plan, verdict_refusal};
use crate::context::{Ctx, now, read_zone, refuse_catalog_origin};
use crate::exit;
use crate::failure::{Failure, step_failure};
use crate::output::Emit;
use crate::output::deps::{changes_json, print_changes};
use crate::review::review_if_needed;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    zonefile: PathBuf,
    #[arg(long)]
    zone: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `zonegate apply`.
pub async fn run(ctx: &Ctx, args: ApplyArgs) -> Result<u8, Failure> {
    let parsed = read_zone(&args.zonefile, args.zone.as_deref(), &ctx.gate.limits)?;
    refuse_catalog_origin(ctx, &parsed.origin)?;
    let store = ctx.open_store().await?;
    apply_parsed(&store, &ctx.gate, parsed, &Actor::APPLY, &ctx.emit, &[]).await
}

/// `zonegate apply` and `zonegate rollback`: plan, review, publish.
pub async fn apply_parsed(
    store: &AnyStore,
    cfg: &GateConfig,
    parsed: ParsedZone,
    actor: &Actor,
    emit: &Emit,
    extra: &[(&str, Value)],
) -> Result<u8, Failure> {
    let origin = parsed.origin.clone();
    // The plan step keeps what it validated, so that publishing the plan it staged reads the
    // body back and checks its hash but need not decode and validate it (and the base) again.
    let (outcome, planned) = match gate::plan_keeping(store, parsed, cfg, now(), actor).await {
        Ok(kept) => kept,
        Err(e) => return step_failure(emit, &origin, e),
    };
    let PlanOutcome::Staged {
        generation,
        verdict: staged,
        ..
    } = &outcome
    else {
        show_plan(emit, &origin, &outcome, None, None, extra);
        return Ok(exit::OK);
    };
    // `plan_keeping` keeps what it staged whenever it stages.
    let Some(planned) = planned else {
        return Err(Failure::Internal(anyhow!(
            "the plan step staged {generation} of {origin} but kept no content"
        )));
    };
    // What the plan adds to or removes from the dependency map, shown as `plan` shows it.
    let dependencies = dependency_changes(&outcome, Some(&planned));
    let mut extra = extra.to_vec();
    extra.push(("dependency_changes", changes_json(&dependencies)));
    let extra = &extra[..];
    let show_changes = || {
        if !emit.json {
            print_changes(&dependencies);
        }
    };
    let reviewed = review_if_needed(store, cfg, &origin, &outcome).await?;
    let verdict = reviewed.unwrap_or(*staged);
    let policy = cfg.policy.for_zone(&origin);
    if let Some(refusal) = verdict_refusal(&outcome, verdict, &policy) {
        show_plan(emit, &origin, &outcome, reviewed, None, extra);
        show_changes();
        explain(&origin, &refusal);
        return Ok(exit::REFUSED);
    }
    match gate::publish_planned(store, &origin, &planned, cfg, now(), actor).await {
        Ok(published) => {
            show_plan(emit, &origin, &outcome, reviewed, Some(&published), extra);
            show_changes();
            Ok(exit::OK)
        }
        Err(e) => step_failure(emit, &origin, e),
    }
}
