//! # The October 2025 race, model-checked: the naive design
//!
//! On 2025-10-19/20 AWS us-east-1 lost DynamoDB's regional endpoint for about three hours. A
//! DNS Enactor made "a one-time check that its plan is newer than the previously applied plan",
//! stalled, and then wrote its old plan over a newer one; clean-up then deleted that old plan,
//! which was by then the live one, and the endpoint's record became empty. No Enactor could
//! apply a later plan until operators repaired the state by hand. `docs/race.md` tells the
//! story step by step.
//!
//! This file runs the design AWS described ([`zonegate_core::model::naive`]) under [loom],
//! which executes a model many times and explores the ways its threads can interleave:
//!
//! - `naive_design_*`: loom must FIND the October interleaving; the test catches the failing
//!   model and prints the trace loom found as numbered steps.
//! - `s8_*`: the tempting partial fix, clean-up that spares the live plan but an enactor that
//!   keeps its one-time check. Loom must still find an old plan going live (I1).
//!
//! Run the loom suite (a few minutes in release on two cores, most of it the build):
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" cargo test -p zonegate-core --release --test 'loom_*' \
//!     --target-dir target/loom -- --nocapture
//! ```
//!
//! `LOOM_MAX_PREEMPTIONS=3` explores deeper (slower); the default bound is
//! `loom_common::PREEMPTION_BOUND`.
//!
//! [loom]: https://docs.rs/loom

#![cfg(loom)]

mod loom_common;

use std::sync::Arc;

use loom::thread;
use zonegate_core::model::naive::{CleanupRule, NaiveDns};

use loom_common::*;

/// The October cast on the naive design: g0 is live on two endpoints and the planner already
/// wrote g1–g4. Enactor A applies g1; enactor B applies g4 and then cleans up plans more than
/// two generations older. Afterwards enactor C tries the next plan, g5. The model fails, with
/// the numbered trace and every violation, as soon as the invariants it broke satisfy
/// `counterexample`; loom's first failing interleaving is then the counterexample it found.
fn october_on_naive(
    rule: CleanupRule,
    counterexample: fn(&[&str]) -> bool,
) -> impl Fn() + Sync + Send {
    move || {
        let dns = Arc::new(NaiveDns::new(rule, 2, 0, &[1, 2, 3, 4]));
        let a = {
            let dns = dns.clone();
            thread::spawn(move || {
                dns.enact("enactor A", 1);
            })
        };
        let b = {
            let dns = dns.clone();
            thread::spawn(move || {
                if dns.enact("enactor B", 4) {
                    dns.clean_up("enactor B's clean-up", 4, 2);
                }
            })
        };
        a.join().expect("enactor A");
        b.join().expect("enactor B");
        dns.stage("planner", 5);
        dns.enact("enactor C", 5);
        let mut broken: Vec<&str> = dns.violations().iter().map(|v| v.invariant).collect();
        broken.dedup();
        assert!(
            !counterexample(&broken),
            "{NAIVE_FAILURE} {}:\n{}",
            broken.join(", "),
            dns.report()
        );
    }
}

/// The October outage itself: loom must find an interleaving in which clean-up deletes the
/// live plan (I2) and so an endpoint answers empty (I3). The model fails only when both broke
/// (loom's very first counterexample is a smaller one, see the next test), so the interleaving
/// loom reports is the whole story; the report lists every invariant it broke.
#[test]
fn naive_design_loses_the_october_race() {
    let (message, elapsed) =
        find_violation(october_on_naive(CleanupRule::OlderThanApplied, |broken| {
            broken.contains(&"I2") && broken.contains(&"I3")
        }));
    println!(
        "\n=== loom found the October race in the naive design ({elapsed:.1?}) ===\n{message}"
    );
    assert!(
        message.starts_with("the naive design broke"),
        "loom failed for another reason: {message}"
    );
    for broken in ["I1 broken", "I2 broken", "I3 broken"] {
        assert!(message.contains(broken), "{broken} missing from: {message}");
    }
    assert!(
        message.contains("  1. enactor A checked g1 > g0") && message.contains("deleted g0, g1"),
        "the interleaving must be printed as numbered steps: {message}"
    );
}

/// Without choosing which invariant to look for, loom's first counterexample comes within a
/// few dozen interleavings: any violation of I1, I2 or I3 counts.
#[test]
fn naive_design_breaks_an_invariant_quickly() {
    let (message, elapsed) =
        find_violation(october_on_naive(CleanupRule::OlderThanApplied, |broken| {
            !broken.is_empty()
        }));
    println!(
        "\n=== loom's first counterexample in the naive design ({elapsed:.1?}) ===\n{message}"
    );
    assert!(
        message.starts_with("the naive design broke"),
        "loom failed for another reason: {message}"
    );
    assert!(
        ["I1", "I2", "I3"]
            .iter()
            .any(|i| message.contains(&format!("{i} broken"))),
        "no I1, I2 or I3 violation in: {message}"
    );
    assert!(
        message.contains("  1. enactor") && message.contains("  2. enactor"),
        "the interleaving must be printed as numbered steps: {message}"
    );
}

/// S8: clean-up that refuses to delete the live plan, with the one-time check kept. Loom must
/// still find an old plan going live over a newer one (I1).
#[test]
fn s8_partial_fix_still_lets_an_old_plan_go_live() {
    let (message, elapsed) = find_violation(october_on_naive(CleanupRule::SpareLive, |broken| {
        broken.contains(&"I1")
    }));
    println!("\n=== loom found I1 broken in the partial fix ({elapsed:.1?}) ===\n{message}");
    assert!(
        message.contains("I1 broken") && message.contains("went back"),
        "expected an old plan going live: {message}"
    );
    assert!(
        message.contains("  1. enactor"),
        "numbered steps: {message}"
    );
}

/// S8, the other half: the partial fix does do what it says, in every interleaving: it never
/// deletes a live plan (I2).
#[test]
fn s8_partial_fix_never_deletes_a_live_plan() {
    explore(
        "S8 partial fix keeps I2",
        october_on_naive(CleanupRule::SpareLive, |broken| broken.contains(&"I2")),
    );
}
