//! The review hook: runs a zone's `review_command` on a plan staged `held`, and records its
//! result.
//!
//! # Design
//!
//! Running a review command is I/O, so it lives here and not in the core: the core stages a
//! plan with the verdict `held`, and this module runs the command and records its result with
//! `gate::decide`, one store step, like a person running `zonegate approve` would.
//!
//! A review never wedges a zone: a command that does not finish within `review_timeout_s` is
//! killed (its whole process group), the plan stays `held`, and every newer plan is reviewed
//! on its own. A held, refused or rejected plan never stands in the way of a newer one, since
//! each plan carries its own verdict and its own base.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::anyhow;
use serde_json::Value;
use zonegate_core::gate::policy::{Review, ZonePolicy};
use zonegate_core::gate::{
    self, Actor, AuditAction, AuditEntry, Generation, PlanOutcome, ReasonCode, Store, Verdict,
};
use zonegate_core::zone::diff::Diff;
use zonegate_core::{ContentHash, GateConfig, Name};
use zonegate_store::SqliteStore;

use crate::artifact::PlanArtifact;
use crate::context::now;
use crate::failure::Failure;
use crate::output;

/// Runs the zone's review command on a freshly staged plan held for review. Returns the
/// plan's new verdict, or `None` if no review ran.
pub async fn review_if_needed(
    store: &SqliteStore,
    cfg: &GateConfig,
    origin: &Name,
    outcome: &PlanOutcome,
) -> Result<Option<Verdict>, Failure> {
    let PlanOutcome::Staged {
        generation,
        hash,
        diff,
        verdict: Verdict::Held,
        ..
    } = outcome
    else {
        return Ok(None);
    };
    let policy = cfg.policy.for_zone(origin);
    if policy.review != Review::Command {
        return Ok(None);
    }
    let request = ReviewRequest {
        policy: &policy,
        origin,
        generation: *generation,
        hash: *hash,
        diff,
        artifact: PlanArtifact::new(origin, outcome, None, None).to_value(),
    };
    let verdict = run_review(store, &request).await?;
    Ok(Some(verdict))
}

/// One plan to review, with everything the review command is given.
struct ReviewRequest<'a> {
    policy: &'a ZonePolicy,
    origin: &'a Name,
    generation: Generation,
    hash: ContentHash,
    diff: &'a Diff,
    /// The plan artifact, written to `ZONEGATE_PLAN_FILE`.
    artifact: Value,
}

/// How a review command ended.
enum ReviewEnd {
    Exited(std::process::ExitStatus),
    TimedOut,
    Failed(String),
}

async fn run_review(store: &SqliteStore, request: &ReviewRequest<'_>) -> Result<Verdict, Failure> {
    let ReviewRequest {
        policy,
        origin,
        generation,
        hash,
        ..
    } = *request;
    let dir = std::env::temp_dir().join(format!(
        "zonegate-review-{}-{}",
        std::process::id(),
        generation.0
    ));
    let end = review_process(request, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    let command = policy.review_command.join(" ");
    let (to, why) = match end {
        ReviewEnd::Exited(status) if status.success() => (
            Verdict::Approved,
            format!("review command `{command}` exited 0"),
        ),
        ReviewEnd::Exited(status) => (
            Verdict::Rejected,
            format!("review command `{command}` failed ({status})"),
        ),
        ReviewEnd::TimedOut | ReviewEnd::Failed(_) => {
            let detail = match end {
                ReviewEnd::Failed(e) => format!(
                    "review command `{command}` could not run ({e}); {generation} stays held: approve or reject it by hand"
                ),
                _ => format!(
                    "review command `{command}` did not finish within {} s and was stopped; {generation} stays held: approve or reject it by hand",
                    policy.review_timeout_s
                ),
            };
            eprintln!("review: {detail}");
            store
                .audit(AuditEntry {
                    zone: origin.clone(),
                    generation: Some(generation),
                    action: AuditAction::Review,
                    reason: Some(ReasonCode::Review),
                    detail,
                    actor: Actor::REVIEW_COMMAND,
                    at: now(),
                })
                .await
                .map_err(|e| Failure::Internal(anyhow!(e)))?;
            return Ok(Verdict::Held);
        }
    };
    eprintln!("review: {why}");
    gate::decide(
        store,
        origin,
        gate::Decision {
            generation,
            hash: Some(hash),
            to,
            why: &why,
        },
        &Actor::REVIEW_COMMAND,
        now(),
    )
    .await
    .map_err(|e| Failure::Internal(anyhow!(e).context("cannot record the review's result")))?;
    Ok(to)
}

/// Starts the review command in its own process group with the plan in its environment, and
/// waits for it at most `review_timeout_s`. Its output goes to a file that is copied to
/// stderr afterwards, so that a leftover grandchild cannot hold a pipe of ours open.
async fn review_process(request: &ReviewRequest<'_>, dir: &PathBuf) -> ReviewEnd {
    let ReviewRequest {
        policy,
        origin,
        generation,
        hash,
        diff,
        ref artifact,
    } = *request;
    let prepare = || -> std::io::Result<(PathBuf, PathBuf, std::fs::File)> {
        std::fs::create_dir_all(dir)?;
        let diff_file = dir.join("diff.txt");
        std::fs::write(&diff_file, output::diff_text(diff))?;
        let plan_file = dir.join("plan.json");
        std::fs::write(
            &plan_file,
            serde_json::to_string_pretty(artifact).expect("JSON values serialize"),
        )?;
        let log = std::fs::File::create(dir.join("output.log"))?;
        Ok((diff_file, plan_file, log))
    };
    let (diff_file, plan_file, log) = match prepare() {
        Ok(files) => files,
        Err(e) => return ReviewEnd::Failed(format!("cannot write the review files: {e}")),
    };
    let Some((program, args)) = policy.review_command.split_first() else {
        return ReviewEnd::Failed("review_command is empty".into());
    };
    let stderr_copy = match log.try_clone() {
        Ok(f) => f,
        Err(e) => return ReviewEnd::Failed(e.to_string()),
    };
    let mut child = match tokio::process::Command::new(program)
        .args(args)
        .env("ZONEGATE_ZONE", origin.to_string())
        .env("ZONEGATE_GENERATION", generation.0.to_string())
        .env("ZONEGATE_HASH", hash.to_string())
        .env("ZONEGATE_DIFF_FILE", &diff_file)
        .env("ZONEGATE_PLAN_FILE", &plan_file)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(stderr_copy))
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => return ReviewEnd::Failed(format!("cannot start {program:?}: {e}")),
    };
    let limit = Duration::from_secs(policy.review_timeout_s);
    let end = match tokio::time::timeout(limit, child.wait()).await {
        Ok(Ok(status)) => ReviewEnd::Exited(status),
        Ok(Err(e)) => ReviewEnd::Failed(e.to_string()),
        Err(_) => {
            // Stop the command and everything it started: the process group has its pid.
            if let Some(pid) = child.id() {
                let _ = tokio::process::Command::new("kill")
                    .args(["-KILL", "--", &format!("-{pid}")])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .await;
            }
            let _ = child.kill().await;
            ReviewEnd::TimedOut
        }
    };
    if let Ok(text) = std::fs::read_to_string(dir.join("output.log")) {
        for line in text.lines().take(200) {
            eprintln!("review: {line}");
        }
    }
    end
}
