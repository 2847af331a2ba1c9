//! The commands, one file each: every file declares its arguments (clap) and runs them in the
//! shared [`Ctx`]. This file only dispatches and reports errors, once. Every outcome maps to
//! one exit code (see `exit.rs`).
//!
//! `approve` and `reject` are one store step with two verdicts, so both call `decide.rs`;
//! `kept.rs` and `staged.rs` hold what several commands share.

mod apply;
mod approve;
mod check;
mod cleanup;
pub(crate) mod decide;
mod deps;
pub(crate) mod diff;
mod export;
pub(crate) mod history;
mod kept;
pub(crate) mod plan;
pub(crate) mod publish;
mod reject;
mod retire;
mod rollback;
mod serve;
mod staged;
pub(crate) mod status;
mod watch;

use clap::{Args, Subcommand};
use serde_json::json;

use zonegate_core::gate::ReasonCode;

use crate::context::Ctx;
use crate::failure::Failure;
use crate::outcome::Outcome;
use crate::output::Emit;
use crate::reason::Reason;
use crate::{Cli, config, exit};

/// The output flag every command but `serve` takes, declared once.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct OutputArgs {
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and validate a zone file and stage it as a new plan generation. Prints the diff
    /// against the published generation and the gate's verdict. Publishes nothing.
    Plan(plan::PlanArgs),
    /// Publish the newest staged plan of a zone (or generation G, or a saved plan) with one
    /// compare-and-swap, after running the gate again.
    Publish(publish::PublishArgs),
    /// Plan and publish in one step: the publish step for pipelines.
    Apply(apply::ApplyArgs),
    /// Parse and validate a zone file without touching a database (like named-checkzone):
    /// exit 0 valid, 2 unreadable or unparsable, 3 invalid or over a limit.
    Check(check::CheckArgs),
    /// Approve exactly one staged plan that the policy refused or that waits for review. The
    /// approval is bound to the plan's hash and recorded in the audit log with who and why.
    Approve(approve::ApproveArgs),
    /// Reject a staged plan for good; it can never be published. Newer plans are unaffected.
    Reject(reject::RejectArgs),
    /// Take a published zone out of the catalog zone (RFC 9432) that `serve` publishes, so
    /// that catalog consumers drop it; audited with who and why. Publishing a newer
    /// generation brings it back.
    Retire(retire::RetireArgs),
    /// Show what a generation changed compared with its base (`diff ORIGIN G`), or the
    /// difference between two kept generations (`diff ORIGIN G1 G2`).
    Diff(diff::DiffArgs),
    /// Stage a NEW generation with the content of kept generation G and publish it through the
    /// same gate and compare-and-swap as any plan. Never moves the published pointer back.
    Rollback(rollback::RollbackArgs),
    /// Serve every published zone authoritatively over UDP and TCP, picking up new
    /// publications without a restart. SIGINT or SIGTERM stops it.
    Serve(serve::ServeArgs),
    /// Show published generations, hashes and record counts.
    Status(status::StatusArgs),
    /// Show a zone's generations, their status, and the audit trail.
    History(history::HistoryArgs),
    /// Delete old plans below the horizon (published, targets and pins), keeping the newest N.
    Cleanup(cleanup::CleanupArgs),
    /// Print a generation (default: the published one) as an RFC 1035 master file, which
    /// `plan` reads back as "no changes": the zone as DNS UPDATEs left it.
    Export(export::ExportArgs),
    /// List every out-of-zone name a zone's records point to (through CNAME chains inside the
    /// zone), grouped by registrable domain, with each group's share and the concentration.
    Deps(deps::DepsArgs),
    /// Ask every server of each zone what it really answers (serial, content, blackholed
    /// names) and compare with what was published. `--once` exits 0 if every check holds,
    /// 6 if any does not; otherwise a round every `--interval-s`.
    Watch(watch::WatchArgs),
}

impl Command {
    /// The output flags, for every command that has them.
    fn output(&self) -> OutputArgs {
        match self {
            Command::Plan(a) => a.output,
            Command::Publish(a) => a.output,
            Command::Apply(a) => a.output,
            Command::Check(a) => a.output,
            Command::Approve(a) => a.output,
            Command::Reject(a) => a.output,
            Command::Retire(a) => a.output,
            Command::Diff(a) => a.output,
            Command::Rollback(a) => a.output,
            Command::Status(a) => a.output,
            Command::History(a) => a.output,
            Command::Cleanup(a) => a.output,
            Command::Export(a) => a.output,
            Command::Deps(a) => a.output,
            Command::Watch(a) => a.output,
            Command::Serve(_) => OutputArgs::default(),
        }
    }
}

/// Runs one command and returns its exit code. Errors are printed here, once.
pub async fn run(cli: Cli) -> u8 {
    let emit = Emit {
        json: cli.command.output().json,
    };
    let result = match config::load_gate(cli.config.as_deref()) {
        Ok(gate) => {
            let ctx = Ctx {
                db: cli.db,
                config: cli.config,
                gate,
                emit,
                actor: None,
                store: None,
            };
            dispatch(&ctx, cli.command).await
        }
        Err(failure) => Err(failure),
    };
    match result {
        Ok(code) => code,
        Err(failure) => report(&emit, &failure),
    }
}

async fn dispatch(ctx: &Ctx, command: Command) -> Result<u8, Failure> {
    match command {
        Command::Plan(a) => plan::run(ctx, a).await,
        Command::Publish(a) => publish::run(ctx, a).await,
        Command::Apply(a) => apply::run(ctx, a).await,
        Command::Check(a) => check::run(ctx, a).await,
        Command::Approve(a) => approve::run(ctx, a).await,
        Command::Reject(a) => reject::run(ctx, a).await,
        Command::Retire(a) => retire::run(ctx, a).await,
        Command::Diff(a) => diff::run(ctx, a).await,
        Command::Rollback(a) => rollback::run(ctx, a).await,
        Command::Serve(a) => serve::run(ctx, a).await,
        Command::Status(a) => status::run(ctx, a).await,
        Command::History(a) => history::run(ctx, a).await,
        Command::Cleanup(a) => cleanup::run(ctx, a).await,
        Command::Export(a) => export::run(ctx, a).await,
        Command::Deps(a) => deps::run(ctx, a).await,
        Command::Watch(a) => watch::run(ctx, a).await,
    }
}

/// Prints an error that is not a gate outcome and returns its exit code.
pub(crate) fn report(emit: &Emit, failure: &Failure) -> u8 {
    let (code, reason) = match failure {
        Failure::Input(_) => (exit::INPUT, Reason::Input),
        Failure::Internal(_) => (exit::INTERNAL, Reason::Internal),
        Failure::Limit { kind, .. } => (exit::REFUSED, Reason::Gate(ReasonCode::Limit(*kind))),
    };
    let message = match failure {
        Failure::Input(e) | Failure::Internal(e) => format!("{e:#}"),
        Failure::Limit { message, .. } => message.clone(),
    };
    if emit.json {
        emit.object(json!({"outcome": Outcome::Error, "reason": reason, "message": message}));
    }
    eprintln!("error: {message}");
    code
}
