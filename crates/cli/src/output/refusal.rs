//! Refusals and errors: one JSON object on stdout with `--json`, and always words on stderr.

use serde_json::json;
use zonegate_core::Name;
use zonegate_core::gate::Refusal;

use super::Emit;
use crate::hints::refusal_hint;
use crate::json::{gen_json, thresholds_json};
use crate::outcome::Outcome;
use crate::reason::Reason;

pub fn refusal(emit: &Emit, origin: &Name, refusal: &Refusal) {
    let outcome = if refusal.is_stale() {
        Outcome::Stale
    } else {
        Outcome::Refused
    };
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

pub fn failure(emit: &Emit, origin: &Name, reason: Reason, message: &str) {
    if emit.json {
        emit.object(json!({"zone": origin.to_string(), "outcome": Outcome::Error, "reason": reason, "message": message}));
    }
    eprintln!("error: {message}");
}
