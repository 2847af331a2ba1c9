//! Validity rules against the Ferret conformance data (see `shared/conformance/README.md`).
//!
//! - Every zone of `ferret-invalid-dev.jsonl` breaks one of nine RFC conditions; the gate must
//!   refuse it with a violation of that condition (and should report it first).
//! - Every zone of `ferret-valid-dev.jsonl` must parse and validate.

// Not part of the loom build: the test kit needs tokio, whose sockets loom leaves out.
#![cfg(not(loom))]

use std::collections::BTreeMap;

use zonegate_core::Limits;
use zonegate_core::zone::validate::{Invalid, validate};
use zonegate_core::zonefile::{ParseError, parse};

use zonegate_testkit::ferret::{self, NOT_ACTUALLY_INVALID};

fn check(text: &str) -> Result<(), Result<Invalid, ParseError>> {
    let parsed = parse(text, None, "ferret").map_err(Err)?;
    validate(parsed, &Limits::default()).map(|_| ()).map_err(Ok)
}

#[test]
fn ferret_invalid_zones_are_refused_with_their_condition() {
    let cases = ferret::load(ferret::INVALID);
    assert_eq!(
        cases.len(),
        594,
        "unexpected size of ferret-invalid-dev.jsonl"
    );
    let mut right = 0;
    let mut right_first = 0;
    let mut only = 0;
    let mut allowed = 0;
    let mut failures = Vec::new();
    // Other rules reported beside the expected condition: (condition, rule) -> count.
    let mut extra: BTreeMap<(u8, &'static str), usize> = BTreeMap::new();
    for case in &cases {
        let id = case["id"].as_str().expect("id");
        let condition = case["condition"].as_u64().expect("condition") as u8;
        let zone = case["zone"].as_str().expect("zone");
        let outcome = check(zone);
        if NOT_ACTUALLY_INVALID.contains(&id) {
            match outcome {
                Ok(()) => allowed += 1,
                Err(e) => failures.push(format!(
                    "{id} is on the allow-list but was refused: {e:?}\n{zone}"
                )),
            }
            continue;
        }
        match outcome {
            Err(Ok(invalid)) => {
                let conditions: Vec<Option<u8>> =
                    invalid.violations.iter().map(|v| v.condition()).collect();
                if conditions.contains(&Some(condition)) {
                    right += 1;
                    if conditions[0] == Some(condition) {
                        right_first += 1;
                    }
                    if conditions.len() == 1 {
                        only += 1;
                    }
                    for v in invalid
                        .violations
                        .iter()
                        .filter(|v| v.condition() != Some(condition))
                    {
                        *extra.entry((condition, v.rule())).or_default() += 1;
                    }
                } else {
                    failures.push(format!(
                        "{id}: wanted condition {condition}, got {conditions:?}: {invalid}\n{zone}"
                    ));
                }
            }
            Err(Err(parse_error)) => {
                failures.push(format!("{id}: parse error: {parse_error}\n{zone}"))
            }
            Ok(()) => failures.push(format!(
                "{id}: accepted, wanted condition {condition}\n{zone}"
            )),
        }
    }
    println!(
        "ferret-invalid: {right} refused with the right condition ({right_first} with it first, \
         {only} with it alone), {} wrong, {allowed} allow-listed and accepted",
        failures.len()
    );
    for ((condition, rule), n) in &extra {
        println!("  condition {condition} zones also report {rule}: {n}");
    }
    for f in failures.iter().take(15) {
        println!("---- {f}");
    }
    assert!(
        failures.is_empty(),
        "{} ferret-invalid cases failed; see the output",
        failures.len()
    );
    // Reporting the broken condition first is what `invalid:<rule>` shows the operator.
    assert_eq!(
        right_first, right,
        "some zones report another condition first"
    );
}

#[test]
fn ferret_valid_zones_are_accepted() {
    let cases = ferret::load(ferret::VALID);
    assert_eq!(
        cases.len(),
        8448,
        "unexpected size of ferret-valid-dev.jsonl"
    );
    let mut ok = 0;
    let mut failures = Vec::new();
    for case in &cases {
        let zone = case["zone"].as_str().expect("zone");
        match check(zone) {
            Ok(()) => ok += 1,
            Err(e) => failures.push(format!("{}: {e:?}\n{zone}", case["id"])),
        }
    }
    println!("ferret-valid: {ok} accepted, {} refused", failures.len());
    for f in failures.iter().take(15) {
        println!("---- {f}");
    }
    assert!(
        failures.is_empty(),
        "{} ferret-valid zones were refused; see the output",
        failures.len()
    );
}
