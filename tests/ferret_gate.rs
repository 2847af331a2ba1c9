//! The gate against the Ferret data set, through the real binary: every zone in
//! `ferret-invalid-dev.jsonl` must be refused with exit 3 naming its RFC condition, and no zone
//! in `ferret-valid-dev.jsonl` may be refused. (The core crate runs the same check on the
//! library directly and over every zone; this one runs a fixed sample through the CLI.)

mod common;

use common::*;
use zonegate_testkit::ferret;

#[test]
fn invalid_zones_are_refused_with_their_condition() {
    let s = Scratch::new("ferret-invalid");
    let cases = ferret::load(ferret::INVALID);
    // Every 3rd zone: about 200 processes, every condition covered.
    let mut failures = Vec::new();
    let mut checked = 0;
    for (i, case) in cases.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        let f = s.write(&format!("inv{i}.zone"), case["zone"].as_str().unwrap());
        let out = s.run(&["plan", f.to_str().unwrap(), "--json"]);
        checked += 1;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let condition = case["condition"].as_u64().unwrap();
        if ferret::not_actually_invalid(case["id"].as_str().unwrap()) {
            // Not invalid under its RFC (see crates/testkit/src/ferret_allow.rs): must be accepted.
            if out.status.code() != Some(0) {
                failures.push(format!(
                    "{}: allow-listed but refused: {}",
                    case["id"],
                    describe(&out)
                ));
            }
            continue;
        }
        let named = v["violations"].as_array().is_some_and(|vs| {
            vs.iter()
                .any(|x| x["condition"].as_u64() == Some(condition))
        });
        if out.status.code() != Some(3) || !named {
            failures.push(format!(
                "{}: cond {condition}: {}",
                case["id"],
                describe(&out)
            ));
        }
    }
    println!(
        "ferret-invalid via CLI: {} passed, {} failed",
        checked - failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{}",
        failures[..failures.len().min(5)].join("\n")
    );
}

#[test]
fn valid_zones_are_not_refused() {
    let s = Scratch::new("ferret-valid");
    let cases = ferret::load(ferret::VALID);
    let mut failures = Vec::new();
    let mut checked = 0;
    for (i, case) in cases.iter().enumerate().filter(|(i, _)| i % 100 == 0) {
        let f = s.write(&format!("val{i}.zone"), case["zone"].as_str().unwrap());
        let out = s.run(&["plan", f.to_str().unwrap(), "--json"]);
        checked += 1;
        if out.status.code() != Some(0) {
            failures.push(format!("{}: {}", case["id"], describe(&out)));
        }
    }
    println!(
        "ferret-valid via CLI: {} passed, {} failed",
        checked - failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{}",
        failures[..failures.len().min(5)].join("\n")
    );
}
