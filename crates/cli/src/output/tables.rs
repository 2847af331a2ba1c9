//! Publications, status, history and clean-up.

use serde_json::{Value, json};
use zonegate_core::Name;
use zonegate_core::gate::{OptGen, PublishOutcome, optional_reason};
use zonegate_store::{AuditRow, PlanRow, ZoneRow};

use super::Emit;
use crate::json::gen_json;
use crate::outcome::Outcome;

pub fn publish(emit: &Emit, origin: &Name, outcome: &PublishOutcome) {
    match outcome {
        PublishOutcome::Published {
            generation,
            base,
            publish_count: version,
            serial,
        } => {
            if emit.json {
                emit.object(json!({
                    "zone": origin.to_string(), "outcome": Outcome::Published, "generation": generation.0,
                    "base": gen_json(*base), "version": version, "serial": serial,
                }));
            } else {
                outln!(
                    "zone {origin}: published {generation} (base {}, version {version}, serial {serial})",
                    OptGen(*base)
                );
            }
        }
        PublishOutcome::AlreadyPublished { generation } => {
            if emit.json {
                emit.object(json!({
                    "zone": origin.to_string(), "outcome": Outcome::AlreadyPublished, "generation": generation.0,
                }));
            } else {
                outln!("zone {origin}: {generation} is already published; nothing to do");
            }
        }
    }
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
                    "serial": r.serial,
                })
            })
            .collect();
        emit.object(json!({ "zones": zones }));
        return;
    }
    if rows.is_empty() {
        outln!("no zones yet; stage one with `zonegate plan ZONEFILE`");
        return;
    }
    outln!(
        "{:<32} {:>10} {:>10} {:>8} {:>9} {:>10}  hash",
        "zone",
        "published",
        "serial",
        "version",
        "records",
        "newest"
    );
    for r in rows {
        outln!(
            "{:<32} {:>10} {:>10} {:>8} {:>9} {:>10}  {}",
            r.origin.to_string(),
            OptGen(r.published).to_string(),
            r.serial.map_or_else(|| "-".into(), |s| s.to_string()),
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
                    "verdict": p.verdict.as_str(), "serial": p.serial,
                    "stored_as": if p.delta_parent.is_some() { "delta" } else { "checkpoint" },
                    "stored_bytes": p.body_bytes, "delta_parent": gen_json(p.delta_parent),
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
    outln!("zone {origin}");
    outln!("generations:");
    for p in plans {
        outln!(
            "  {:>8}  {:<10}  {:<8}  base {:>6}  {:>8} records  {}  created {}{}",
            p.generation.to_string(),
            p.status.as_str(),
            p.verdict.as_str(),
            OptGen(p.base).to_string(),
            p.record_count,
            p.hash.short(),
            rfc3339(p.created_at),
            p.serial
                .map_or_else(String::new, |s| format!("  serial {s}"))
        );
    }
    outln!("audit (newest first):");
    for a in audit {
        let reason = match &a.reason {
            None => String::new(),
            Some(reason) => format!(" [{reason}]"),
        };
        outln!(
            "  #{:<5} {}  {:<10} {:>8} by {}{}: {}",
            a.id,
            rfc3339(a.at),
            a.action,
            OptGen(a.generation).to_string(),
            a.actor,
            reason,
            a.detail
        );
    }
}

/// Seconds since the epoch as people read them, in RFC 3339 (UTC): `2026-12-01T23:58:12Z`.
/// The `--json` forms keep the seconds.
fn rfc3339(seconds: u64) -> String {
    i64::try_from(seconds)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(|| format!("{seconds} s after the epoch"), |t| t.to_string())
}

pub fn cleanup(emit: &Emit, origin: &Name, keep: u32, deleted: u64) {
    if emit.json {
        emit.object(json!({"zone": origin.to_string(), "outcome": Outcome::Cleaned, "keep": keep, "deleted": deleted}));
    } else {
        outln!(
            "zone {origin}: deleted {deleted} old plans (kept live generations and the newest {keep})"
        );
    }
}
