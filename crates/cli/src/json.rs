//! The JSON forms of core values (generations, diffs, thresholds) that several outputs and the
//! plan artifact share.

use serde_json::{Value, json};
use zonegate_core::gate::Generation;
use zonegate_core::gate::policy::Threshold;
use zonegate_core::zone::diff::{Change, Diff};
use zonegate_core::zonefile::record_to_text;

/// A generation, or `null`.
pub fn gen_json(g: Option<Generation>) -> Value {
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
