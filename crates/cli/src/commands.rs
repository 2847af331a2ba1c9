//! Command implementations: wiring between the command line, the store, the core protocol
//! and the server. Every outcome maps to one exit code.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde_json::json;
use zonegate_core::gate::{StepError, Store, Verdict};
use zonegate_core::{GateConfig, Name, zonefile};
use zonegate_store::SqliteStore;

use crate::output::{self, Emit};
use crate::{Cli, Command, exit};

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Runs one command and returns its exit code. Errors are printed here, once.
pub async fn run(cli: Cli) -> u8 {
    let json = matches!(
        &cli.command,
        Command::Plan { json: true, .. }
            | Command::Publish { json: true, .. }
            | Command::Apply { json: true, .. }
            | Command::Status { json: true, .. }
            | Command::History { json: true, .. }
            | Command::Cleanup { json: true, .. }
            | Command::Approve { json: true, .. }
            | Command::Reject { json: true, .. }
            | Command::Diff { json: true, .. }
            | Command::Rollback { json: true, .. }
    );
    let emit = Emit { json };
    match dispatch(cli, &emit).await {
        Ok(code) => code,
        Err(failure) => {
            let (code, reason) = match &failure {
                Failure::Input(_) => (exit::INPUT, "input"),
                Failure::Internal(_) => (exit::INTERNAL, "internal"),
            };
            let message = match &failure {
                Failure::Input(e) | Failure::Internal(e) => format!("{e:#}"),
            };
            if emit.json {
                emit.object(json!({"outcome": "error", "reason": reason, "message": message}));
            }
            eprintln!("error: {message}");
            code
        }
    }
}

/// Errors that are not gate outcomes.
pub enum Failure {
    /// Bad input: unreadable file, parse error, bad origin. Exit 2.
    Input(anyhow::Error),
    /// Anything else: store unavailable, bind failure. Exit 1.
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Internal(e)
    }
}

fn load_config(path: Option<&Path>) -> Result<GateConfig, Failure> {
    let Some(path) = path else {
        return Ok(GateConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))
        .map_err(Failure::Input)?;
    let cfg: GateConfig =
        // The `[server]` section belongs to `serve` (see serve.rs), not to the gate.
        crate::serve::without_server_section(&text)
            .and_then(|v| v.try_into())
        .with_context(|| format!("config file {} is not valid", path.display()))
        .map_err(Failure::Input)?;
    cfg.policy
        .check()
        .with_context(|| format!("config file {} is not valid", path.display()))
        .map_err(Failure::Input)?;
    Ok(cfg)
}

pub(crate) async fn open_store(path: &Path) -> Result<SqliteStore, Failure> {
    SqliteStore::open(path)
        .await
        .with_context(|| format!("cannot open the database {}", path.display()))
        .map_err(Failure::Internal)
}

pub(crate) fn parse_origin(text: &str) -> Result<Name, Failure> {
    let absolute = if text.ends_with('.') {
        text.to_string()
    } else {
        format!("{text}.")
    };
    Name::parse(&absolute)
        .map_err(|e| Failure::Input(anyhow::anyhow!("{text:?} is not a valid zone origin: {e}")))
}

pub(crate) fn read_zone(
    path: &Path,
    zone: Option<&str>,
) -> Result<zonegate_core::ParsedZone, Failure> {
    let origin = zone.map(parse_origin).transpose()?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read zone file {}", path.display()))
        .map_err(Failure::Input)?;
    zonefile::parse(&text, origin.as_ref(), &path.display().to_string())
        .map_err(|e| Failure::Input(anyhow::anyhow!(e)))
}

async fn dispatch(cli: Cli, emit: &Emit) -> Result<u8, Failure> {
    let cfg = load_config(cli.config.as_deref())?;
    match cli.command {
        Command::Plan {
            zonefile,
            zone,
            out,
            expect_no_changes,
            ..
        } => {
            crate::gate::plan(
                &cfg,
                &cli.db,
                &zonefile,
                zone.as_deref(),
                out.as_deref(),
                expect_no_changes,
                emit,
            )
            .await
        }
        Command::Publish {
            origin,
            generation,
            plan,
            ..
        } => {
            crate::gate::publish(
                &cfg,
                &cli.db,
                origin.as_deref(),
                generation,
                plan.as_deref(),
                emit,
            )
            .await
        }
        Command::Apply { zonefile, zone, .. } => {
            crate::gate::apply(&cfg, &cli.db, &zonefile, zone.as_deref(), emit).await
        }
        Command::Approve {
            origin,
            generation,
            hash,
            reason,
            by,
            ..
        } => {
            crate::gate::decide(
                &cli.db,
                &origin,
                generation,
                Some(&hash),
                Verdict::Approved,
                &reason,
                by,
                emit,
            )
            .await
        }
        Command::Reject {
            origin,
            generation,
            reason,
            by,
            ..
        } => {
            crate::gate::decide(
                &cli.db,
                &origin,
                generation,
                None,
                Verdict::Rejected,
                &reason,
                by,
                emit,
            )
            .await
        }
        Command::Diff {
            origin,
            generations,
            ..
        } => crate::gate::diff(&cfg, &cli.db, &origin, &generations, emit).await,
        Command::Rollback { origin, to, .. } => {
            crate::gate::rollback(&cfg, &cli.db, &origin, to, emit).await
        }
        Command::Serve {
            listen,
            poll_ms,
            target_id,
            snapshot_dir,
        } => {
            let options =
                crate::serve::server_options(cli.config.as_deref()).map_err(Failure::Input)?;
            let dir = snapshot_dir.unwrap_or_else(|| crate::snapshot::default_dir(&cli.db));
            let snapshots = crate::snapshot::Snapshots::new(dir);
            crate::serve::run(
                cli.db.clone(),
                cfg,
                listen,
                poll_ms,
                target_id,
                options,
                snapshots,
            )
            .await?;
            Ok(exit::OK)
        }
        Command::Status { origin, .. } => {
            let origin = origin.as_deref().map(parse_origin).transpose()?;
            let store = open_store(&cli.db).await?;
            let rows = store.zones().await.context("cannot read zones")?;
            let rows: Vec<_> = rows
                .into_iter()
                .filter(|r| origin.as_ref().is_none_or(|o| &r.origin == o))
                .collect();
            if let (Some(o), true) = (&origin, rows.is_empty()) {
                return Err(Failure::Input(anyhow::anyhow!(
                    "zone {o} is not in {}; stage it with `zonegate plan`",
                    cli.db.display()
                )));
            }
            output::status(emit, &rows);
            Ok(exit::OK)
        }
        Command::History { origin, limit, .. } => {
            let origin = parse_origin(&origin)?;
            let store = open_store(&cli.db).await?;
            let plans = store.plans(&origin).await.context("cannot read plans")?;
            let audit = store
                .audit_log(Some(&origin), limit)
                .await
                .context("cannot read the audit log")?;
            if plans.is_empty() && audit.is_empty() {
                return Err(Failure::Input(anyhow::anyhow!(
                    "zone {origin} has no history in {}",
                    cli.db.display()
                )));
            }
            output::history(emit, &origin, &plans, &audit);
            Ok(exit::OK)
        }
        Command::Cleanup { origin, keep, .. } => {
            let origin = parse_origin(&origin)?;
            // Test-only delays before the clean-up transaction when asked for (see chaos.rs).
            let store = crate::chaos::ChaosStore::from_env(open_store(&cli.db).await?);
            let keep = keep.unwrap_or(cfg.generations_keep);
            let deleted = store
                .cleanup(&origin, keep, now())
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
            output::cleanup(emit, &origin, keep, deleted);
            Ok(exit::OK)
        }
    }
}

/// Maps a protocol error to its exit code, printing the refusal with what to do next.
pub(crate) fn step_failure(emit: &Emit, origin: &Name, e: StepError) -> Result<u8, Failure> {
    match e {
        StepError::Refused(refusal) => {
            output::refusal(emit, origin, &refusal);
            Ok(if refusal.is_stale() {
                exit::STALE
            } else {
                exit::REFUSED
            })
        }
        StepError::PlanMissing { .. } => {
            output::failure(emit, origin, "missing", &e.to_string());
            Ok(exit::STALE)
        }
        StepError::NothingStaged { .. } => {
            output::failure(emit, origin, "nothing-staged", &e.to_string());
            Ok(exit::INTERNAL)
        }
        other => Err(Failure::Internal(anyhow::anyhow!(other))),
    }
}
