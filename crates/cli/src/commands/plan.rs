//! `zonegate plan`: stage a zone file as a new plan generation (or, with
//! `--expect-no-changes`, compare without staging), run the review hook, and optionally save
//! the plan artifact for `publish --plan`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use zonegate_core::deps::{self, DepChange};
use zonegate_core::gate::{self, Actor, PlanOutcome, Planned, Preview, Verdict};
use zonegate_core::{GateConfig, ParsedZone};
use zonegate_store::AnyStore;

use super::OutputArgs;
use super::staged::{explain, show_plan, verdict_refusal};
use crate::artifact::PlanArtifact;
use crate::context::{Ctx, now, read_zone, refuse_catalog_origin};
use crate::exit;
use crate::failure::{Failure, step_failure};
use crate::outcome::Outcome;
use crate::output::deps::{changes_json, print_changes};
use crate::output::outln;
use crate::output::{self, Emit};
use crate::reason::Reason;
use crate::review::review_if_needed;

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// RFC 1035 master file.
    zonefile: PathBuf,
    /// Zone origin; defaults to the file's $ORIGIN or the owner of its SOA.
    #[arg(long)]
    zone: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Also write the plan artifact (zone, generation, base, hash, diff, verdict) to this
    /// file, for `zonegate publish --plan`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Drift check: stage nothing, and exit 5 if the file differs from the published
    /// generation (0 if it does not).
    #[arg(long, conflicts_with = "out")]
    expect_no_changes: bool,
}

/// `zonegate plan`.
pub async fn run(ctx: &Ctx, args: PlanArgs) -> Result<u8, Failure> {
    let parsed = read_zone(&args.zonefile, args.zone.as_deref(), &ctx.gate.limits)?;
    if args.expect_no_changes {
        let store = ctx.open_store().await?;
        return drift(&store, parsed, &ctx.gate, &ctx.emit).await;
    }
    plan_parsed(ctx, parsed, args.out.as_deref()).await
}

/// Stages `parsed` (and writes its artifact to `out`): `zonegate plan` once the file is read,
/// and the API's `POST .../plans`.
pub async fn plan_parsed(
    ctx: &Ctx,
    parsed: ParsedZone,
    out: Option<&std::path::Path>,
) -> Result<u8, Failure> {
    let (cfg, emit) = (&ctx.gate, &ctx.emit);
    refuse_catalog_origin(ctx, &parsed.origin)?;
    let store = ctx.open_store().await?;
    let origin = parsed.origin.clone();
    let actor = ctx.actor(&Actor::PLAN);
    let (outcome, planned) = match gate::plan_keeping(&store, parsed, cfg, now(), &actor).await {
        Ok(kept) => kept,
        Err(e) => return step_failure(emit, &origin, e),
    };
    let dependencies = dependency_changes(&outcome, planned.as_ref());
    drop(planned);
    let verdict = review_if_needed(&store, cfg, &origin, &outcome).await?;
    if let Some(path) = out {
        PlanArtifact::new(&origin, &outcome, verdict, None)
            .write(path)
            .with_context(|| format!("cannot write the plan artifact {}", path.display()))?;
    }
    show_plan(
        emit,
        &origin,
        &outcome,
        verdict,
        None,
        &[("dependency_changes", changes_json(&dependencies))],
    );
    if !emit.json {
        print_changes(&dependencies);
    }
    let policy = cfg.policy.for_zone(&origin);
    let effective = match &outcome {
        PlanOutcome::Staged { verdict: v, .. } => verdict.unwrap_or(*v),
        PlanOutcome::NoChanges { .. } => Verdict::Pass,
    };
    match verdict_refusal(&outcome, effective, &policy) {
        // Held for a person is not a refusal of the plan step: the plan is staged and waits.
        Some(refusal) if effective != Verdict::Held => {
            explain(&origin, &refusal);
            Ok(exit::REFUSED)
        }
        _ => Ok(exit::OK),
    }
}

/// What the staged plan adds to or removes from the zone's dependency map against its base.
pub(super) fn dependency_changes(
    outcome: &PlanOutcome,
    planned: Option<&Planned>,
) -> Vec<DepChange> {
    match (outcome, planned) {
        (PlanOutcome::Staged { diff, .. }, Some(p)) => p
            .base_zone()
            .map(|base| deps::change_of(base, p.zone(), diff))
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// `plan --expect-no-changes`: compares without staging; exit 5 if there are changes.
async fn drift(
    store: &AnyStore,
    parsed: ParsedZone,
    cfg: &GateConfig,
    emit: &Emit,
) -> Result<u8, Failure> {
    let origin = parsed.origin.clone();
    let preview = match gate::preview(store, parsed, cfg).await {
        Ok(preview) => preview,
        Err(e) => return step_failure(emit, &origin, e),
    };
    match preview {
        Preview::NoChanges {
            published,
            hash,
            record_count,
        } => {
            if emit.json {
                emit.object(json!({
                    "zone": origin.to_string(), "outcome": Outcome::NoChanges, "published": published.0,
                    "hash": hash.to_string(), "record_count": record_count,
                }));
            } else {
                outln!("zone {origin}: no changes; {published} is published with the same content");
            }
            Ok(exit::OK)
        }
        Preview::Changes {
            base,
            hash,
            record_count,
            diff,
            thresholds,
        } => {
            if emit.json {
                emit.object(json!({
                    "zone": origin.to_string(), "outcome": Outcome::Changes, "reason": Reason::Changes,
                    "base": base.map(|g| g.0), "hash": hash.to_string(),
                    "record_count": record_count, "diff": crate::json::diff_json(&diff),
                    "thresholds": crate::json::thresholds_json(&thresholds),
                }));
            } else {
                outln!(
                    "zone {origin}: the file differs from {}: +{} -{} records",
                    gate::OptGen(base),
                    diff.records_added,
                    diff.records_removed
                );
                output::print_diff(&diff, 200);
            }
            eprintln!(
                "changes present (--expect-no-changes): the file differs from the published generation; nothing was staged"
            );
            Ok(exit::CHANGES)
        }
    }
}
