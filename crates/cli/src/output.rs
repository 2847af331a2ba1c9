//! Human and JSON rendering. With `--json`, exactly one JSON object goes to stdout; refusals
//! also go to stderr in words, with what to do next.

use serde_json::{Value, json};
use zonegate_core::Name;
use zonegate_core::gate::policy::Threshold;
use zonegate_core::gate::{
    OptGen, PlanOutcome, PublishOutcome, ReasonCode, Refusal, Verdict, optional_reason,
};
use zonegate_core::zone::diff::{Change, Diff};
use zonegate_core::zonefile::record_to_text;
use zonegate_store::{AuditRow, PlanRow, ZoneRow};

pub struct Emit {
    pub json: bool,
}

impl Emit {
    pub fn object(&self, value: Value) {
        println!(
            "{}",
            serde_json::to_string_pretty(&value).expect("JSON values serialize")
        );
    }
}

fn gen_json(g: Option<zonegate_core::gate::Generation>) -> Value {
    g.map(|g| json!(g.0)).unwrap_or(Value::Null)
}

pub fn thresholds_json(thresholds: &[Threshold]) -> Value {
    thresholds
        .iter()
        .map(|t| json!({"check": t.kind(), "reason": t.reason(), "message": t.to_string()}))
        .collect()
}

pub fn diff_json(diff: &Diff) -> Value {
    let changes: Vec<Value> = diff
        .changes
        .iter()
        .map(|c| match c {
            Change::Added {
                owner,
                rtype,
                records,
            } => json!({
                "change": "added", "owner": owner.to_string(), "type": rtype.to_string(),
                "added": records.iter().map(record_to_text).collect::<Vec<_>>(),
            }),
            Change::Removed {
                owner,
                rtype,
                records,
            } => json!({
                "change": "removed", "owner": owner.to_string(), "type": rtype.to_string(),
                "removed": records.iter().map(record_to_text).collect::<Vec<_>>(),
            }),
            Change::Changed {
                owner,
                rtype,
                removed,
                added,
            } => json!({
                "change": "changed", "owner": owner.to_string(), "type": rtype.to_string(),
                "removed": removed.iter().map(record_to_text).collect::<Vec<_>>(),
                "added": added.iter().map(record_to_text).collect::<Vec<_>>(),
            }),
        })
        .collect();
    json!({
        "records_added": diff.records_added,
        "records_removed": diff.records_removed,
        "records_unchanged": diff.records_unchanged,
        "records_before": diff.records_before,
        "records_after": diff.records_after,
        "changes": changes,
    })
}

/// The diff as text, one `- record` or `+ record` line each (what a review command gets in
/// `ZONEGATE_DIFF_FILE`).
pub fn diff_text(diff: &Diff) -> String {
    let mut out = String::new();
    for c in &diff.changes {
        let (removed, added): (&[_], &[_]) = match c {
            Change::Added { records, .. } => (&[], records),
            Change::Removed { records, .. } => (records, &[]),
            Change::Changed { removed, added, .. } => (removed, added),
        };
        for r in removed {
            out.push_str(&format!("- {}\n", record_to_text(r)));
        }
        for r in added {
            out.push_str(&format!("+ {}\n", record_to_text(r)));
        }
    }
    out
}

/// The diff in the style of `diff -u`: `-` lines removed, `+` lines added. Long diffs are
/// cut after `max_lines`, saying how many lines were left out.
pub fn print_diff(diff: &Diff, max_lines: usize) {
    // Only the lines shown are formatted: a million-record first plan has a million lines.
    let lines = diff.changes.iter().flat_map(|c| {
        let (removed, added): (&[_], &[_]) = match c {
            Change::Added { records, .. } => (&[], records),
            Change::Removed { records, .. } => (records, &[]),
            Change::Changed { removed, added, .. } => (removed, added),
        };
        removed
            .iter()
            .map(|r| ('-', r))
            .chain(added.iter().map(|r| ('+', r)))
    });
    let mut total = 0usize;
    for (sign, r) in lines {
        if total < max_lines {
            println!("  {sign} {}", record_to_text(r));
        }
        total += 1;
    }
    if total > max_lines {
        println!(
            "  ... {} more lines (use --json for the full diff)",
            total - max_lines
        );
    }
}

/// The JSON form of a plan outcome: what `plan --json` prints and `plan --out` saves (the plan
/// artifact `publish --plan` reads back). `verdict` is the plan's verdict after any review.
pub fn plan_json(
    origin: &Name,
    outcome: &PlanOutcome,
    verdict: Option<Verdict>,
    published: Option<&PublishOutcome>,
) -> Value {
    match outcome {
        PlanOutcome::NoChanges {
            published: g,
            hash,
            record_count,
        } => json!({
            "zone": origin.to_string(), "outcome": "no-changes", "published": g.0,
            "hash": hash.to_string(), "record_count": record_count, "verdict": "pass",
        }),
        PlanOutcome::Staged {
            generation,
            base,
            hash,
            record_count,
            diff,
            verdict: staged,
            thresholds,
        } => {
            let verdict = verdict.unwrap_or(*staged);
            let published_json = match published {
                Some(PublishOutcome::Published {
                    generation,
                    publish_count: version,
                    ..
                }) => json!({"generation": generation.0, "version": version}),
                Some(PublishOutcome::AlreadyPublished { generation }) => {
                    json!({"generation": generation.0})
                }
                None => Value::Null,
            };
            let outcome = match (published, verdict) {
                (Some(_), _) => "published",
                (None, Verdict::Refused) => "refused",
                (None, Verdict::Rejected) => "rejected",
                (None, Verdict::Held) => "held",
                (None, _) => "staged",
            };
            let mut value = json!({
                "zone": origin.to_string(),
                "outcome": outcome,
                "generation": generation.0, "base": gen_json(*base),
                "hash": hash.to_string(), "record_count": record_count,
                "diff": diff_json(diff), "verdict": verdict.as_str(),
                "thresholds": thresholds_json(thresholds),
                "published": published_json,
            });
            match verdict {
                Verdict::Refused => {
                    value["reason"] = json!(thresholds.first().map(Threshold::reason));
                    value["hint"] = json!(approve_hint(origin, *generation, hash));
                }
                Verdict::Held => {
                    value["reason"] = json!(ReasonCode::Review);
                    value["hint"] = json!(approve_hint(origin, *generation, hash));
                }
                Verdict::Rejected => value["reason"] = json!(ReasonCode::Review),
                _ => {}
            }
            value
        }
    }
}

/// How to approve (or reject) exactly one plan.
pub fn approve_hint(
    origin: &Name,
    generation: zonegate_core::gate::Generation,
    hash: &zonegate_core::ContentHash,
) -> String {
    format!(
        "review the diff (zonegate diff {origin} {g}); if it is intended, approve exactly this plan with \
         `zonegate approve {origin} {g} --hash {hash} --reason TEXT` and publish it with \
         `zonegate publish {origin} --generation {g}`; otherwise `zonegate reject {origin} {g} --reason TEXT`",
        g = generation.0
    )
}

/// Prints a plan outcome; `verdict` is the plan's verdict after any review, if it changed.
pub fn plan(
    emit: &Emit,
    origin: &Name,
    outcome: &PlanOutcome,
    verdict: Option<Verdict>,
    published: Option<&PublishOutcome>,
) {
    if emit.json {
        emit.object(plan_json(origin, outcome, verdict, published));
        return;
    }
    match outcome {
        PlanOutcome::NoChanges {
            published: g,
            hash,
            record_count,
        } => {
            println!(
                "zone {origin}: no changes; {g} is published with the same content ({record_count} records, {})",
                hash.short()
            );
        }
        PlanOutcome::Staged {
            generation,
            base,
            hash,
            record_count,
            diff,
            verdict: staged,
            thresholds,
        } => {
            let verdict = verdict.unwrap_or(*staged);
            println!(
                "zone {origin}: staged {generation} on base {} ({record_count} records, {})",
                OptGen(*base),
                hash.short()
            );
            println!(
                "diff against {}: +{} -{} records, {} unchanged",
                OptGen(*base),
                diff.records_added,
                diff.records_removed,
                diff.records_unchanged
            );
            print_diff(diff, 200);
            println!("hash: {hash}");
            println!("verdict: {verdict}");
            for t in thresholds {
                println!("  {}: {t}", t.reason());
            }
            match (published, verdict) {
                (
                    Some(PublishOutcome::Published {
                        generation,
                        publish_count: version,
                        ..
                    }),
                    _,
                ) => println!("published {generation} (version {version})"),
                (Some(PublishOutcome::AlreadyPublished { generation }), _) => {
                    println!("{generation} is already published")
                }
                (None, Verdict::Pass | Verdict::Approved) => println!(
                    "publish it with: zonegate publish {origin} --generation {}",
                    generation.0
                ),
                // A refusal is explained on stderr, with this hint.
                (None, Verdict::Refused) => {}
                (None, Verdict::Held) => println!("{}", approve_hint(origin, *generation, hash)),
                (None, Verdict::Rejected) => {
                    println!("rejected in review; fix the zone file and plan again")
                }
            }
        }
    }
}

pub fn publish(emit: &Emit, origin: &Name, outcome: &PublishOutcome) {
    match outcome {
        PublishOutcome::Published {
            generation,
            base,
            publish_count: version,
        } => {
            if emit.json {
                emit.object(json!({
                    "zone": origin.to_string(), "outcome": "published", "generation": generation.0,
                    "base": gen_json(*base), "version": version,
                }));
            } else {
                println!(
                    "zone {origin}: published {generation} (base {}, version {version})",
                    OptGen(*base)
                );
            }
        }
        PublishOutcome::AlreadyPublished { generation } => {
            if emit.json {
                emit.object(json!({
                    "zone": origin.to_string(), "outcome": "already-published", "generation": generation.0,
                }));
            } else {
                println!("zone {origin}: {generation} is already published; nothing to do");
            }
        }
    }
}

pub fn refusal(emit: &Emit, origin: &Name, refusal: &Refusal) {
    let outcome = refusal.action();
    if emit.json {
        let mut value = json!({
            "zone": origin.to_string(), "outcome": outcome, "reason": refusal.reason(),
            "message": refusal.to_string(),
        });
        match refusal {
            Refusal::Invalid(invalid) => {
                value["violations"] = invalid
                    .violations
                    .iter()
                    .map(|v| json!({"rule": v.rule(), "condition": v.condition(), "message": v.to_string()}))
                    .collect();
            }
            Refusal::Stale {
                generation,
                base,
                published,
            } => {
                value["generation"] = json!(generation.0);
                value["base"] = gen_json(*base);
                value["published"] = gen_json(*published);
            }
            Refusal::TooOld {
                generation,
                age_s,
                max_s,
            } => {
                value["generation"] = json!(generation.0);
                value["age_s"] = json!(age_s);
                value["plan_age_max_s"] = json!(max_s);
            }
            Refusal::Corrupt { generation, .. } => value["generation"] = json!(generation.0),
            Refusal::Policy {
                generation,
                hash,
                thresholds,
            } => {
                value["generation"] = json!(generation.0);
                value["hash"] = json!(hash.to_string());
                value["thresholds"] = thresholds_json(thresholds);
            }
            Refusal::Review {
                generation,
                hash,
                verdict,
                review,
            } => {
                value["generation"] = json!(generation.0);
                value["hash"] = json!(hash.to_string());
                value["verdict"] = json!(verdict.as_str());
                value["review"] = json!(review.as_str());
            }
            Refusal::HashMismatch {
                generation,
                expected,
                actual,
            } => {
                value["generation"] = json!(generation.0);
                value["expected_hash"] = json!(expected.to_string());
                value["hash"] = json!(actual.to_string());
            }
            _ => {}
        }
        value["hint"] = json!(refusal_hint(origin, refusal));
        emit.object(value);
    }
    eprintln!("{outcome} ({}): {refusal}", refusal.reason());
    eprintln!("hint: {}", refusal_hint(origin, refusal));
}

/// What to do next after a refusal.
pub fn refusal_hint(origin: &Name, refusal: &Refusal) -> String {
    match refusal {
        Refusal::Invalid(_) => {
            "fix the zone file and run the command again; nothing was staged or published".into()
        }
        Refusal::Policy {
            generation, hash, ..
        } => format!(
            "nothing was published. {}; or change the limits in the [policy] section of the config \
             (for this zone: [policy.zones.\"{origin}\"]; see docs/policy.md) and plan again",
            approve_hint(origin, *generation, hash)
        ),
        Refusal::Review {
            generation,
            verdict: Verdict::Rejected,
            ..
        } => format!(
            "nothing was published; {generation} stays rejected. Fix the zone file and plan again"
        ),
        Refusal::Review {
            generation, hash, ..
        } => format!(
            "nothing was published. {}",
            approve_hint(origin, *generation, hash)
        ),
        Refusal::HashMismatch { .. } => "nothing was published; the saved plan does not match the \
             stored plan. Plan again with --out, review the new diff and publish that plan"
            .into(),
        _ if refusal.is_stale() => {
            "nothing was published; plan again from the current zone file and publish the new plan"
                .into()
        }
        _ => "nothing was published".into(),
    }
}

pub fn failure(emit: &Emit, origin: &Name, reason: &str, message: &str) {
    if emit.json {
        emit.object(json!({"zone": origin.to_string(), "outcome": "error", "reason": reason, "message": message}));
    }
    eprintln!("error: {message}");
}

pub fn status(emit: &Emit, rows: &[ZoneRow]) {
    if emit.json {
        let zones: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "zone": r.origin.to_string(), "published": gen_json(r.published),
                    "version": r.publish_count, "hash": r.hash.map(|h| h.to_string()),
                    "record_count": r.record_count, "newest": gen_json(r.newest),
                })
            })
            .collect();
        emit.object(json!({ "zones": zones }));
        return;
    }
    if rows.is_empty() {
        println!("no zones yet; stage one with `zonegate plan ZONEFILE`");
        return;
    }
    println!(
        "{:<32} {:>10} {:>8} {:>9} {:>10}  hash",
        "zone", "published", "version", "records", "newest"
    );
    for r in rows {
        println!(
            "{:<32} {:>10} {:>8} {:>9} {:>10}  {}",
            r.origin.to_string(),
            OptGen(r.published).to_string(),
            r.publish_count,
            r.record_count
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into()),
            OptGen(r.newest).to_string(),
            r.hash.map(|h| h.short()).unwrap_or_else(|| "-".into()),
        );
    }
}

pub fn history(emit: &Emit, origin: &Name, plans: &[PlanRow], audit: &[AuditRow]) {
    if emit.json {
        let plans: Vec<Value> = plans
            .iter()
            .map(|p| {
                json!({
                    "generation": p.generation.0, "base": gen_json(p.base), "hash": p.hash.to_string(),
                    "record_count": p.record_count, "created_at": p.created_at, "status": p.status.as_str(),
                    "verdict": p.verdict.as_str(),
                })
            })
            .collect();
        let audit: Vec<Value> = audit
            .iter()
            .map(|a| {
                json!({
                    "id": a.id, "at": a.at, "generation": gen_json(a.generation), "action": a.action,
                    "reason": optional_reason::to_text(&a.reason), "detail": a.detail, "actor": a.actor,
                })
            })
            .collect();
        emit.object(json!({"zone": origin.to_string(), "plans": plans, "audit": audit}));
        return;
    }
    println!("zone {origin}");
    println!("generations:");
    for p in plans {
        println!(
            "  {:>8}  {:<10}  {:<8}  base {:>6}  {:>8} records  {}  created {}",
            p.generation.to_string(),
            p.status.as_str(),
            p.verdict.as_str(),
            OptGen(p.base).to_string(),
            p.record_count,
            p.hash.short(),
            p.created_at
        );
    }
    println!("audit (newest first):");
    for a in audit {
        let reason = match &a.reason {
            None => String::new(),
            Some(reason) => format!(" [{reason}]"),
        };
        println!(
            "  #{:<5} {}  {:<10} {:>8} by {}{}: {}",
            a.id,
            a.at,
            a.action,
            OptGen(a.generation).to_string(),
            a.actor,
            reason,
            a.detail
        );
    }
}

pub fn cleanup(emit: &Emit, origin: &Name, keep: u32, deleted: u64) {
    if emit.json {
        emit.object(json!({"zone": origin.to_string(), "outcome": "cleaned", "keep": keep, "deleted": deleted}));
    } else {
        println!(
            "zone {origin}: deleted {deleted} old plans (kept live generations and the newest {keep})"
        );
    }
}
