//! The dependency map (`deps`) and what a change does to it (`plan`, `diff`), in JSON and in
//! words.

use serde_json::{Value, json};
use zonegate_core::Name;
use zonegate_core::deps::{DepChange, DepMap};

fn names(list: impl IntoIterator<Item = impl ToString>) -> Vec<String> {
    list.into_iter().map(|n| n.to_string()).collect()
}

/// Percentages with one decimal, as printed.
fn share(p: f64) -> f64 {
    (p * 10.0).round() / 10.0
}

/// The `deps --json` object.
pub fn deps_json(zone: &Name, generation: u64, map: &DepMap) -> Value {
    let groups: Vec<Value> = map
        .groups
        .iter()
        .map(|g| {
            json!({
                "domain": g.domain.to_string(), "targets": names(&g.targets),
                "names": names(&g.names), "count": g.names.len(),
                "share_percent": share(g.share_percent),
            })
        })
        .collect();
    let single: Vec<Value> = map
        .single_target()
        .map(|(n, t)| json!({"name": n.to_string(), "target": t.to_string()}))
        .collect();
    let each: Vec<Value> = map
        .names
        .iter()
        .map(|(n, d)| json!({"name": n.to_string(), "targets": names(&d.targets), "ends_inside": d.ends_inside}))
        .collect();
    json!({
        "zone": zone.to_string(), "generation": generation,
        "names_with_external_targets": map.names.len(),
        "concentration": map.concentration().map(|g| json!({
            "domain": g.domain.to_string(), "share_percent": share(g.share_percent),
        })),
        "groups": groups, "single_target": single, "names": each,
    })
}

/// `deps` in words.
pub fn print_deps(zone: &Name, generation: u64, map: &DepMap) {
    outln!(
        "zone {zone} (generation {generation}): {} name(s) point outside the zone",
        map.names.len()
    );
    for g in &map.groups {
        outln!(
            "  {:<32} {:>5.1}%  {} name(s) via {}",
            g.domain.to_string(),
            share(g.share_percent),
            g.names.len(),
            names(&g.targets).join(", ")
        );
        for n in &g.names {
            outln!("      {n}");
        }
    }
    match map.concentration() {
        Some(g) => outln!(
            "concentration: {:.1}% of them depend on {}",
            share(g.share_percent),
            g.domain
        ),
        None => outln!("concentration: none (nothing points outside the zone)"),
    }
    let single: Vec<String> = map
        .single_target()
        .map(|(n, t)| format!("{n} -> {t}"))
        .collect();
    if !single.is_empty() {
        outln!("single target, no second choice ({}):", single.len());
        for s in single {
            outln!("  {s}");
        }
    }
}

/// The `dependency_changes` list of `plan --json` and `diff --json`.
pub fn changes_json(changes: &[DepChange]) -> Value {
    changes
        .iter()
        .map(|c| {
            json!({
                "domain": c.domain.to_string(), "new_domain": c.new_domain,
                "targets_added": names(&c.targets_added), "names_added": names(&c.names_added),
                "names_removed": names(&c.names_removed), "text": c.to_string(),
            })
        })
        .collect()
}

/// Each change in words, one line each.
pub fn print_changes(changes: &[DepChange]) {
    for c in changes {
        outln!("dependencies: {c}");
    }
}
