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

use std::io::{Read, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
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
use zonegate_store::AnyStore;

use crate::artifact::PlanArtifact;
use crate::context::now;
use crate::failure::Failure;
use crate::output;

/// Runs the zone's review command on a freshly staged plan held for review. Returns the
/// plan's new verdict, or `None` if no review ran.
pub async fn review_if_needed(
    store: &AnyStore,
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

async fn run_review(store: &AnyStore, request: &ReviewRequest<'_>) -> Result<Verdict, Failure> {
    let ReviewRequest {
        policy,
        origin,
        generation,
        hash,
        ..
    } = *request;
    let end = review_process(request).await;
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

/// The most octets of a review command's output (stdout and stderr together) that are kept
/// and copied to zonegate's stderr; the rest is counted, dropped and reported as a count.
pub const REVIEW_OUTPUT_BYTES_MAX: usize = 64 * 1024;

/// How long to wait for the output pipe to close after the command ended: a grandchild that
/// left the process group may hold it open, and it is not waited for.
const OUTPUT_DRAIN_WAIT: Duration = Duration::from_secs(1);

/// The files a review command reads, in a private directory (mode 0700, a fresh random name
/// made atomically by `tempfile`, never an existing path), removed when this is dropped. Each
/// file is created new (`O_CREAT | O_EXCL`, which never follows a symlink) with mode 0600, so
/// nothing planted in the temporary directory can redirect a write or swap a file.
struct ReviewFiles {
    /// Held for its `Drop`, which removes the directory and the files.
    _dir: tempfile::TempDir,
    diff: PathBuf,
    plan: PathBuf,
}

fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

impl ReviewFiles {
    fn write(diff: &Diff, artifact: &Value) -> std::io::Result<ReviewFiles> {
        let dir = tempfile::Builder::new()
            .prefix("zonegate-review-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()?;
        let diff_file = dir.path().join("diff.txt");
        write_new(&diff_file, output::diff_text(diff).as_bytes())?;
        let plan_file = dir.path().join("plan.json");
        let plan = serde_json::to_string_pretty(artifact).expect("JSON values serialize");
        write_new(&plan_file, plan.as_bytes())?;
        Ok(ReviewFiles {
            _dir: dir,
            diff: diff_file,
            plan: plan_file,
        })
    }
}

/// What a review command printed: the first [`REVIEW_OUTPUT_BYTES_MAX`] octets, and how many
/// more there were.
#[derive(Default)]
struct Captured {
    kept: Vec<u8>,
    dropped: u64,
}

/// Reads a pipe to its end, keeping at most `max` octets and counting the rest.
fn capture(mut pipe: impl Read, max: usize) -> Captured {
    let mut captured = Captured::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => return captured,
            Ok(n) => {
                let room = max.saturating_sub(captured.kept.len()).min(n);
                captured.kept.extend_from_slice(&buf[..room]);
                captured.dropped += (n - room) as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return captured,
        }
    }
}

/// Starts reading the command's output on a thread of its own (detached: a grandchild holding
/// the pipe open must not keep zonegate from exiting).
fn start_capture(pipe: std::io::PipeReader) -> tokio::sync::oneshot::Receiver<Captured> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(capture(pipe, REVIEW_OUTPUT_BYTES_MAX));
    });
    rx
}

/// Copies what the command printed to stderr, line by line, prefixed `review:`.
fn show_output(captured: &Captured) {
    let text = String::from_utf8_lossy(&captured.kept);
    for line in text.lines() {
        eprintln!("review: {line}");
    }
    if captured.dropped > 0 {
        eprintln!(
            "review: ({} more octets of output dropped; only the first {REVIEW_OUTPUT_BYTES_MAX} are kept)",
            captured.dropped
        );
    }
}

/// Starts the review command in its own process group with the plan in its environment, and
/// waits for it at most `review_timeout_s`. Its stdout and stderr go to one pipe that is read
/// as it is written, keeping a bounded prefix (see [`capture`]).
async fn review_process(request: &ReviewRequest<'_>) -> ReviewEnd {
    let files = match ReviewFiles::write(request.diff, &request.artifact) {
        Ok(files) => files,
        Err(e) => return ReviewEnd::Failed(format!("cannot write the review files: {e}")),
    };
    let Some((program, args)) = request.policy.review_command.split_first() else {
        return ReviewEnd::Failed("review_command is empty".into());
    };
    let (reader, writer) = match std::io::pipe() {
        Ok(pipe) => pipe,
        Err(e) => return ReviewEnd::Failed(format!("cannot make a pipe: {e}")),
    };
    let stderr_copy = match writer.try_clone() {
        Ok(w) => w,
        Err(e) => return ReviewEnd::Failed(e.to_string()),
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .env("ZONEGATE_ZONE", request.origin.to_string())
        .env("ZONEGATE_GENERATION", request.generation.0.to_string())
        .env("ZONEGATE_HASH", request.hash.to_string())
        .env("ZONEGATE_DIFF_FILE", &files.diff)
        .env("ZONEGATE_PLAN_FILE", &files.plan)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(stderr_copy)
        .process_group(0)
        .kill_on_drop(true);
    let spawned = command.spawn();
    // The command holds the pipe's write ends: drop them, so the pipe ends with the child.
    drop(command);
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => return ReviewEnd::Failed(format!("cannot start {program:?}: {e}")),
    };
    let output = start_capture(reader);
    let end = wait_or_kill(&mut child, request.policy.review_timeout_s).await;
    if let Ok(Ok(captured)) = tokio::time::timeout(OUTPUT_DRAIN_WAIT, output).await {
        show_output(&captured);
    }
    drop(files);
    end
}

/// Waits for the command at most `timeout_s` seconds, then kills its whole process group.
async fn wait_or_kill(child: &mut tokio::process::Child, timeout_s: u64) -> ReviewEnd {
    let limit = Duration::from_secs(timeout_s);
    match tokio::time::timeout(limit, child.wait()).await {
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
    }
}
