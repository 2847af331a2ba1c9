//! `zonegate publish`: the newest staged plan, generation G, or exactly a saved plan
//! (`--plan`), each with one compare-and-swap after the gate runs again.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::Args;
use zonegate_core::gate::{self, Actor, Generation, PublishOutcome, ReasonCode, Store};
use zonegate_core::{ContentHash, Name};
use zonegate_store::AnyStore;

use super::OutputArgs;
use crate::artifact::SavedPlan;
use crate::context::{Ctx, now, parse_origin};
use crate::exit;
use crate::failure::{Failure, step_failure};
use crate::output::{self, Emit};
use crate::reason::Reason;

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Zone origin, e.g. example.com. Not needed with --plan.
    #[arg(required_unless_present = "plan")]
    origin: Option<String>,
    /// Publish this generation instead of the newest staged one.
    #[arg(long, conflicts_with = "plan")]
    generation: Option<u64>,
    /// Publish exactly the plan saved by `zonegate plan --out`: refused if the stored plan's
    /// hash differs (exit 3), stale if its base is no longer published (exit 4).
    #[arg(long)]
    plan: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `zonegate publish`, of the newest plan, of generation G, or of a saved plan.
pub async fn run(ctx: &Ctx, args: PublishArgs) -> Result<u8, Failure> {
    let origin = args.origin.as_deref();
    match args.plan.as_deref() {
        Some(path) => publish_saved(ctx, origin, path).await,
        None => {
            let origin = origin.ok_or_else(|| Failure::input("publish needs ORIGIN or --plan"))?;
            publish_staged(ctx, &parse_origin(origin)?, args.generation.map(Generation)).await
        }
    }
}

/// `publish ORIGIN [--generation G]`: the newest staged plan, or generation G.
async fn publish_staged(
    ctx: &Ctx,
    origin: &Name,
    generation: Option<Generation>,
) -> Result<u8, Failure> {
    // Test-only delays between check and act when asked for (see chaos.rs); a no-op else.
    let store = crate::chaos::ChaosStore::from_env(ctx.open_store().await?);
    match gate::publish(
        &store,
        origin,
        generation,
        &ctx.gate,
        now(),
        &ctx.actor(&Actor::PUBLISH),
    )
    .await
    {
        Ok(outcome) => {
            output::publish(&ctx.emit, origin, &outcome);
            Ok(exit::OK)
        }
        Err(e) => step_failure(&ctx.emit, origin, e),
    }
}

/// `publish --plan FILE`: exactly the saved plan, or nothing.
async fn publish_saved(ctx: &Ctx, origin: Option<&str>, path: &Path) -> Result<u8, Failure> {
    let artifact = read_artifact(path)?;
    let zone = parse_origin(&artifact.zone)?;
    if let Some(o) = origin.map(parse_origin).transpose()?
        && o != zone
    {
        return Err(Failure::input(format!(
            "the saved plan {} is for zone {zone}, not {o}",
            path.display()
        )));
    }
    let Some(g) = artifact.generation else {
        let store = ctx.open_store().await?;
        return publish_no_changes(&store, &zone, &artifact, &ctx.emit).await;
    };
    publish_exact(ctx, &zone, g, artifact.hash).await
}

/// Publishes generation `g` of `zone` only if its stored hash is `hash`: `publish --plan`,
/// and the API's `POST .../publish` with `If-Match`.
pub async fn publish_exact(
    ctx: &Ctx,
    zone: &Name,
    g: Generation,
    hash: ContentHash,
) -> Result<u8, Failure> {
    let store = ctx.open_store().await?;
    let actor = ctx.actor(&Actor::PUBLISH);
    match gate::publish_exact(&store, zone, g, hash, &ctx.gate, now(), &actor).await {
        Ok(outcome) => {
            output::publish(&ctx.emit, zone, &outcome);
            Ok(exit::OK)
        }
        Err(e) => step_failure(&ctx.emit, zone, e),
    }
}

/// Reads the plan artifact at `path`.
fn read_artifact(path: &Path) -> Result<SavedPlan, Failure> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the saved plan {}", path.display()))
        .map_err(Failure::Input)?;
    SavedPlan::parse(&text).map_err(|e| Failure::input(e.message(path)))
}

/// A saved "no changes" plan: it stays true while the published content has its hash.
async fn publish_no_changes(
    store: &AnyStore,
    zone: &Name,
    artifact: &SavedPlan,
    emit: &Emit,
) -> Result<u8, Failure> {
    let published = store
        .published(zone)
        .await
        .map_err(|e| Failure::Internal(anyhow!(e)))?;
    let plan = match published {
        Some(p) => store
            .load_plan(zone, p.generation)
            .await
            .map_err(|e| Failure::Internal(anyhow!(e)))?,
        None => None,
    };
    match plan {
        Some(plan) if plan.hash == artifact.hash => {
            output::publish(
                emit,
                zone,
                &PublishOutcome::AlreadyPublished {
                    generation: plan.generation,
                },
            );
            Ok(exit::OK)
        }
        other => {
            let message = format!(
                "stale saved plan: it found no changes against {}, but {} is published now with other content; plan again",
                gate::OptGen(artifact.published),
                gate::OptGen(other.map(|p| p.generation))
            );
            output::failure(emit, zone, Reason::Gate(ReasonCode::Stale), &message);
            Ok(exit::STALE)
        }
    }
}
