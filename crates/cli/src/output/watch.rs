//! `watch` rounds, in JSON (`{healthy, findings, ...}`) and in words.

use serde_json::{Value, json};
use zonegate_core::watch::Finding;

use crate::watcher::round::RoundReport;

fn finding_json(f: &Finding) -> Value {
    json!({
        "server": f.server, "zone": f.zone.to_string(), "name": f.name.to_string(),
        "type": f.rtype.to_string(), "kind": f.kind, "expected": f.expected, "got": f.got,
    })
}

/// The `--json` object of one round: `healthy`, `findings` (each with `server`, `zone`,
/// `name`, `type`, `kind`, `expected`, `got`), then the details: the store's state, and per
/// zone the published generation, each server's serial, lag and number of checks, and the
/// servers grouped by serial when they disagree.
pub fn round_json(r: &RoundReport) -> Value {
    let zones: Vec<Value> = r
        .zones
        .iter()
        .map(|z| {
            let servers: Vec<Value> = z
                .servers
                .iter()
                .map(|s| {
                    json!({
                        "server": s.server, "serial": s.judgement.serial,
                        "lag_generations": s.judgement.lag_generations,
                        "lag_seconds": s.judgement.lag_seconds, "checks": s.checks,
                        "healthy": s.judgement.findings.is_empty(),
                    })
                })
                .collect();
            json!({
                "zone": z.zone.to_string(), "published": z.published.0,
                "expected_serial": z.published.0 as u32, "servers": servers,
                "disagree": z.disagree,
            })
        })
        .collect();
    json!({
        "healthy": r.healthy(),
        "findings": r.findings.iter().map(finding_json).collect::<Vec<_>>(),
        "round": r.round,
        "checked_at": r.now,
        "store": {
            "readable": r.store_error.is_none(), "error": r.store_error,
            "state_read_at": r.state_read_at,
        },
        "missing": r.missing.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
        "zones": zones,
    })
}

/// One line that sums a round up.
pub fn round_line(r: &RoundReport) -> String {
    let servers: usize = r.zones.iter().map(|z| z.servers.len()).sum();
    let checks: usize = r
        .zones
        .iter()
        .flat_map(|z| z.servers.iter().map(|s| s.checks))
        .sum();
    let state = if r.healthy() { "healthy" } else { "UNHEALTHY" };
    format!(
        "{state}: {} zone(s), {servers} server(s), {checks} checks, {} finding(s)",
        r.zones.len(),
        r.findings.len()
    )
}

/// A round in words: the store's state, each zone and server, each finding, and the sum.
pub fn print_round(r: &RoundReport) {
    if let Some(e) = &r.store_error {
        outln!(
            "store unreadable ({e}): checked against the state read at {}",
            r.state_read_at.unwrap_or(0)
        );
    }
    for z in &r.zones {
        outln!(
            "zone {}: published generation {} (serial {})",
            z.zone,
            z.published,
            z.published.0 as u32
        );
        for s in &z.servers {
            let serial = s.judgement.serial.map_or("-".into(), |v| v.to_string());
            let lag = match (s.judgement.lag_generations, s.judgement.lag_seconds) {
                (Some(0), _) => "up to date".to_string(),
                (Some(g), Some(t)) => format!("{g} generation(s) behind, {t} s"),
                _ => "no serial".to_string(),
            };
            outln!(
                "  {:<24} serial {serial:<10} {lag}, {} checks",
                s.server,
                s.checks
            );
        }
        if let Some(d) = &z.disagree {
            let groups: Vec<String> = d
                .iter()
                .map(|(s, v)| format!("{s}: {}", v.join(", ")))
                .collect();
            outln!("  servers disagree: {}", groups.join("; "));
        }
    }
    for m in &r.missing {
        outln!("zone {m}: nothing published to check against (publish it, or leave it out)");
    }
    for f in &r.findings {
        outln!("{f}");
    }
    outln!("{}", round_line(r));
}
