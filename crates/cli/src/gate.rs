//! The gate's commands: `plan` (saved plans, drift checks), `publish` (of saved plans),
//! `apply`, `approve`, `reject`, `diff` and `rollback`, and the review-hook runner.
//!
//! # Design
//!
//! The decisions live in the core (`zonegate_core::gate` and its `policy`); this module only
//! wires files, processes and output to them. Running a review command is I/O, so it lives
//! here: the core stages a plan with the verdict `held`, and this module runs the command and
//! records its result with `gate::decide`, one store step, like a person running
//! `zonegate approve` would.
//!
//! A review never wedges a zone: a command that does not finish within `review_timeout_s` is
//! killed (its whole process group), the plan stays `held`, and every newer plan is reviewed
//! on its own. A held, refused or rejected plan never stands in the way of a newer one, since
//! each plan carries its own verdict and its own base.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, anyhow};
use serde_json::{Value, json};
use zonegate_core::gate::policy::{Review, ZonePolicy};
use zonegate_core::gate::{
    self, Actor, AuditAction, AuditEntry, Generation, PlanOutcome, Preview, PublishOutcome,
    ReasonCode, Refusal, StepError, Store, StoreError, Verdict,
};
use zonegate_core::zone::diff::Diff;
use zonegate_core::{ContentHash, GateConfig, Name, ParsedZone};
use zonegate_store::SqliteStore;

use crate::commands::{Failure, now, open_store, parse_origin, read_zone, step_failure};
use crate::exit;
use crate::output::{self, Emit};

/// Who approves or rejects: `--by`, else `$USER` or `$LOGNAME`, else the account the command
/// runs as (`uid:<n>`). The audit log must name someone, so with none of them the command
/// refuses instead of recording a placeholder.
fn actor(by: Option<String>) -> Result<Actor, Failure> {
    let from_env = |key| {
        std::env::var(key)
            .ok()
            .filter(|v: &String| !v.trim().is_empty())
    };
    let name = by
        .filter(|b| !b.trim().is_empty())
        .or_else(|| from_env("USER"))
        .or_else(|| from_env("LOGNAME"))
        .or_else(account)
        .ok_or_else(|| {
            input("say who decides with --by (or set $USER); it goes into the audit log")
        })?;
    Actor::new(&name).map_err(input)
}

/// The account this process runs as, `uid:<n>`, read from `/proc/self` (Linux).
fn account() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    Some(format!("uid:{uid}"))
}

fn input(e: impl std::fmt::Display) -> Failure {
    Failure::Input(anyhow!("{e}"))
}

/// The refusal a staged plan's verdict amounts to, if it is not publishable.
fn verdict_refusal(
    outcome: &PlanOutcome,
    verdict: Verdict,
    policy: &ZonePolicy,
) -> Option<Refusal> {
    let PlanOutcome::Staged {
        generation,
        hash,
        thresholds,
        ..
    } = outcome
    else {
        return None;
    };
    match verdict {
        Verdict::Pass | Verdict::Approved => None,
        Verdict::Refused => Some(Refusal::Policy {
            generation: *generation,
            hash: *hash,
            thresholds: thresholds.clone(),
        }),
        Verdict::Held | Verdict::Rejected => Some(Refusal::Review {
            generation: *generation,
            hash: *hash,
            verdict,
            review: policy.review,
        }),
    }
}

/// Explains a refusal on stderr (the JSON object, if any, is printed separately).
fn explain(origin: &Name, refusal: &Refusal) {
    eprintln!("refused ({}): {refusal}", refusal.reason());
    eprintln!("hint: {}", output::refusal_hint(origin, refusal));
}

/// Prints a plan outcome, with `extra` fields merged into its JSON form.
fn show_plan(
    emit: &Emit,
    origin: &Name,
    outcome: &PlanOutcome,
    verdict: Option<Verdict>,
    published: Option<&PublishOutcome>,
    extra: &[(&str, Value)],
) {
    if emit.json {
        let mut value = output::plan_json(origin, outcome, verdict, published);
        for (k, v) in extra {
            value[*k] = v.clone();
        }
        emit.object(value);
    } else {
        output::plan(emit, origin, outcome, verdict, published);
    }
}

/// `zonegate plan`.
pub async fn plan(
    cfg: &GateConfig,
    db: &Path,
    zonefile: &Path,
    zone: Option<&str>,
    out: Option<&Path>,
    expect_no_changes: bool,
    emit: &Emit,
) -> Result<u8, Failure> {
    let parsed = read_zone(zonefile, zone)?;
    let store = open_store(db).await?;
    let origin = parsed.origin.clone();
    if expect_no_changes {
        return drift(&store, parsed, cfg, emit).await;
    }
    let outcome = match gate::plan(&store, parsed, cfg, now(), &Actor::PLAN).await {
        Ok(outcome) => outcome,
        Err(e) => return step_failure(emit, &origin, e),
    };
    let verdict = review_if_needed(&store, cfg, &origin, &outcome).await?;
    if let Some(path) = out {
        let artifact = output::plan_json(&origin, &outcome, verdict, None);
        let text = serde_json::to_string_pretty(&artifact).expect("JSON values serialize");
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write the plan artifact {}", path.display()))?;
    }
    show_plan(emit, &origin, &outcome, verdict, None, &[]);
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

/// `plan --expect-no-changes`: compares without staging; exit 5 if there are changes.
async fn drift(
    store: &SqliteStore,
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
                    "zone": origin.to_string(), "outcome": "no-changes", "published": published.0,
                    "hash": hash.to_string(), "record_count": record_count,
                }));
            } else {
                println!(
                    "zone {origin}: no changes; {published} is published with the same content"
                );
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
                    "zone": origin.to_string(), "outcome": "changes", "reason": "changes",
                    "base": base.map(|g| g.0), "hash": hash.to_string(),
                    "record_count": record_count, "diff": output::diff_json(&diff),
                    "thresholds": output::thresholds_json(&thresholds),
                }));
            } else {
                println!(
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

/// `zonegate apply` and `zonegate rollback`: plan, review, publish.
async fn apply_parsed(
    store: &SqliteStore,
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
    let reviewed = review_if_needed(store, cfg, &origin, &outcome).await?;
    let verdict = reviewed.unwrap_or(*staged);
    let policy = cfg.policy.for_zone(&origin);
    if let Some(refusal) = verdict_refusal(&outcome, verdict, &policy) {
        show_plan(emit, &origin, &outcome, reviewed, None, extra);
        explain(&origin, &refusal);
        return Ok(exit::REFUSED);
    }
    match gate::publish_planned(store, &origin, &planned, cfg, now(), actor).await {
        Ok(published) => {
            show_plan(emit, &origin, &outcome, reviewed, Some(&published), extra);
            Ok(exit::OK)
        }
        Err(e) => step_failure(emit, &origin, e),
    }
}

/// `zonegate apply`.
pub async fn apply(
    cfg: &GateConfig,
    db: &Path,
    zonefile: &Path,
    zone: Option<&str>,
    emit: &Emit,
) -> Result<u8, Failure> {
    let parsed = read_zone(zonefile, zone)?;
    let store = open_store(db).await?;
    apply_parsed(&store, cfg, parsed, &Actor::APPLY, emit, &[]).await
}

/// `zonegate publish`, of the newest plan, of generation G, or of a saved plan.
pub async fn publish(
    cfg: &GateConfig,
    db: &Path,
    origin: Option<&str>,
    generation: Option<u64>,
    plan: Option<&Path>,
    emit: &Emit,
) -> Result<u8, Failure> {
    let Some(path) = plan else {
        let origin = parse_origin(origin.ok_or_else(|| input("publish needs ORIGIN or --plan"))?)?;
        // Test-only delays between check and act when asked for (see chaos.rs); a no-op else.
        let store = crate::chaos::ChaosStore::from_env(open_store(db).await?);
        let g = generation.map(Generation);
        return match gate::publish(&store, &origin, g, cfg, now(), &Actor::PUBLISH).await {
            Ok(outcome) => {
                output::publish(emit, &origin, &outcome);
                Ok(exit::OK)
            }
            Err(e) => step_failure(emit, &origin, e),
        };
    };
    let artifact = read_artifact(path)?;
    let zone = parse_origin(&artifact.zone)?;
    if let Some(o) = origin.map(parse_origin).transpose()?
        && o != zone
    {
        return Err(input(format!(
            "the saved plan {} is for zone {zone}, not {o}",
            path.display()
        )));
    }
    let store = open_store(db).await?;
    let Some(g) = artifact.generation else {
        return publish_no_changes(&store, &zone, &artifact, emit).await;
    };
    match gate::publish_exact(&store, &zone, g, artifact.hash, cfg, now(), &Actor::PUBLISH).await {
        Ok(outcome) => {
            output::publish(emit, &zone, &outcome);
            Ok(exit::OK)
        }
        Err(e) => step_failure(emit, &zone, e),
    }
}

/// What `publish --plan` needs from a saved plan.
struct Artifact {
    zone: String,
    /// `None` for a "no changes" plan.
    generation: Option<Generation>,
    hash: ContentHash,
    /// For a "no changes" plan, the generation that was published.
    published: Option<Generation>,
}

fn read_artifact(path: &Path) -> Result<Artifact, Failure> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the saved plan {}", path.display()))
        .map_err(Failure::Input)?;
    let v: Value = serde_json::from_str(&text)
        .with_context(|| format!("the saved plan {} is not JSON", path.display()))
        .map_err(Failure::Input)?;
    let field = |k: &str| {
        v[k].as_str().map(str::to_string).ok_or_else(|| {
            input(format!(
                "the saved plan {} has no {k:?}; write it with `zonegate plan --out`",
                path.display()
            ))
        })
    };
    let zone = field("zone")?;
    let hash_text = field("hash")?;
    let hash = ContentHash::parse(&hash_text).ok_or_else(|| {
        input(format!(
            "the saved plan {} has a malformed hash {hash_text:?}",
            path.display()
        ))
    })?;
    let generation = v["generation"].as_u64().map(Generation);
    let published = v["published"]
        .as_u64()
        .or_else(|| v["published"]["generation"].as_u64())
        .map(Generation);
    if generation.is_none() && v["outcome"] != "no-changes" {
        return Err(input(format!(
            "the saved plan {} names no generation",
            path.display()
        )));
    }
    Ok(Artifact {
        zone,
        generation,
        hash,
        published,
    })
}

/// A saved "no changes" plan: it stays true while the published content has its hash.
async fn publish_no_changes(
    store: &SqliteStore,
    zone: &Name,
    artifact: &Artifact,
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
            output::failure(emit, zone, "stale", &message);
            Ok(exit::STALE)
        }
    }
}

/// Runs the zone's review command on a freshly staged plan held for review. Returns the
/// plan's new verdict, or `None` if no review ran.
async fn review_if_needed(
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
    let artifact = output::plan_json(origin, outcome, None, None);
    let verdict = run_review(store, &policy, origin, *generation, *hash, diff, &artifact).await?;
    Ok(Some(verdict))
}

/// How a review command ended.
enum ReviewEnd {
    Exited(std::process::ExitStatus),
    TimedOut,
    Failed(String),
}

async fn run_review(
    store: &SqliteStore,
    policy: &ZonePolicy,
    origin: &Name,
    generation: Generation,
    hash: ContentHash,
    diff: &Diff,
    artifact: &Value,
) -> Result<Verdict, Failure> {
    let dir = std::env::temp_dir().join(format!(
        "zonegate-review-{}-{}",
        std::process::id(),
        generation.0
    ));
    let end = review_process(policy, origin, generation, hash, diff, artifact, &dir).await;
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
#[allow(clippy::too_many_arguments)]
async fn review_process(
    policy: &ZonePolicy,
    origin: &Name,
    generation: Generation,
    hash: ContentHash,
    diff: &Diff,
    artifact: &Value,
    dir: &PathBuf,
) -> ReviewEnd {
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

/// `zonegate approve` and `zonegate reject`.
#[allow(clippy::too_many_arguments)]
pub async fn decide(
    db: &Path,
    origin: &str,
    generation: u64,
    hash: Option<&str>,
    to: Verdict,
    reason: &str,
    by: Option<String>,
    emit: &Emit,
) -> Result<u8, Failure> {
    let origin = parse_origin(origin)?;
    let generation = Generation(generation);
    let hash = hash
        .map(|h| {
            ContentHash::parse(h).ok_or_else(|| {
                input(format!(
                    "{h:?} is not a plan hash; copy it from `zonegate plan` (sha256:...)"
                ))
            })
        })
        .transpose()?;
    if reason.trim().is_empty() {
        return Err(input("--reason must say why; it goes into the audit log"));
    }
    let who = actor(by)?;
    let store = open_store(db).await?;
    let verb = if to == Verdict::Approved {
        "approve"
    } else {
        "reject"
    };
    match gate::decide(
        &store,
        &origin,
        gate::Decision {
            generation,
            hash,
            to,
            why: reason,
        },
        &who,
        now(),
    )
    .await
    {
        Ok(previous) => {
            if emit.json {
                emit.object(json!({
                    "zone": origin.to_string(), "outcome": to.as_str(), "generation": generation.0,
                    "hash": hash.map(|h| h.to_string()), "previous": previous.as_str(),
                    "by": who, "reason": reason,
                }));
            } else {
                println!("zone {origin}: {generation} is {to} (was {previous}) by {who}: {reason}");
                if to == Verdict::Approved {
                    println!(
                        "publish it with: zonegate publish {origin} --generation {}",
                        generation.0
                    );
                }
            }
            Ok(exit::OK)
        }
        Err(e) => {
            let (code, reason_code) = match &e {
                StoreError::HashMismatch { .. } => (exit::REFUSED, ReasonCode::HashMismatch),
                StoreError::VerdictLocked { .. } => (exit::REFUSED, ReasonCode::Verdict),
                StoreError::PlanMissing { .. } => (exit::STALE, ReasonCode::Missing),
                _ => return Err(Failure::Internal(anyhow!(e))),
            };
            let hint = match &e {
                StoreError::HashMismatch { .. } => {
                    "the hash names other content than the stored plan; check the generation and copy the hash from `zonegate plan` or `zonegate history`"
                }
                StoreError::VerdictLocked { .. } => {
                    "only a staged plan that was never published can be approved or rejected, and a rejection is final; plan again"
                }
                _ => "the plan is gone (never staged, or cleaned up); plan again",
            };
            let message = format!("cannot {verb} {generation}: {e}");
            // An approval that did not go through is a refusal too, and is audited (I8).
            store
                .audit(AuditEntry {
                    zone: origin.clone(),
                    generation: Some(generation),
                    action: AuditAction::Refused,
                    reason: Some(reason_code.clone()),
                    detail: format!("{message} (requested by {who}: {reason})"),
                    actor: who.clone(),
                    at: now(),
                })
                .await
                .map_err(|e| Failure::Internal(anyhow!(e)))?;
            if emit.json {
                emit.object(json!({
                    "zone": origin.to_string(), "outcome": "refused", "reason": reason_code,
                    "generation": generation.0, "message": message, "hint": hint,
                }));
            }
            eprintln!("refused ({reason_code}): {message}");
            eprintln!("hint: {hint}");
            Ok(code)
        }
    }
}

/// Loads a kept generation, or says which generations are kept.
async fn load_kept(
    store: &SqliteStore,
    cfg: &GateConfig,
    origin: &Name,
    generation: Generation,
) -> Result<(gate::StoredPlan, zonegate_core::Zone), Failure> {
    match gate::load_content(store, origin, generation, cfg).await {
        Ok(found) => Ok(found),
        Err(StepError::PlanMissing { .. }) => {
            let kept: Vec<String> = store
                .plans(origin)
                .await
                .map_err(|e| Failure::Internal(anyhow!(e)))?
                .iter()
                .map(|p| p.generation.to_string())
                .collect();
            Err(input(format!(
                "zone {origin} has no plan {generation} (never staged, or cleaned up); kept generations: {}",
                if kept.is_empty() {
                    "none".to_string()
                } else {
                    kept.join(", ")
                }
            )))
        }
        Err(e) => Err(Failure::Internal(anyhow!(e))),
    }
}

/// `zonegate diff ORIGIN [G1] G2`.
pub async fn diff(
    cfg: &GateConfig,
    db: &Path,
    origin: &str,
    generations: &[u64],
    emit: &Emit,
) -> Result<u8, Failure> {
    let origin = parse_origin(origin)?;
    let store = open_store(db).await?;
    let (from, to) = match generations {
        [to] => (None, Generation(*to)),
        [from, to] => (Some(Generation(*from)), Generation(*to)),
        _ => return Err(input("diff takes one generation or two")),
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
    if emit.json {
        emit.object(json!({
            "zone": origin.to_string(), "from": from.map(|g| g.0), "to": to.0,
            "from_hash": from_zone.as_ref().map(|(p, _)| p.hash.to_string()),
            "to_hash": to_plan.hash.to_string(), "to_verdict": to_plan.verdict.as_str(),
            "diff": output::diff_json(&diff),
        }));
    } else {
        println!(
            "zone {origin}: {} -> {to}: +{} -{} records, {} unchanged",
            gate::OptGen(from),
            diff.records_added,
            diff.records_removed,
            diff.records_unchanged
        );
        output::print_diff(&diff, 100_000);
    }
    Ok(exit::OK)
}

/// `zonegate rollback ORIGIN --to G`: G's content as a new plan, through the whole gate.
pub async fn rollback(
    cfg: &GateConfig,
    db: &Path,
    origin: &str,
    to: u64,
    emit: &Emit,
) -> Result<u8, Failure> {
    let origin = parse_origin(origin)?;
    let store = open_store(db).await?;
    let to = Generation(to);
    let (_, content) = load_kept(&store, cfg, &origin, to).await?;
    if !emit.json {
        println!("zone {origin}: rolling back to the content of {to}, as a new generation");
    }
    let parsed = ParsedZone {
        origin: origin.clone(),
        records: content.records().to_vec(),
    };
    apply_parsed(
        &store,
        cfg,
        parsed,
        &Actor::rollback_to(to),
        emit,
        &[("rollback_to", json!(to.0))],
    )
    .await
}
