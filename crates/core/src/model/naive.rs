//! The naive planner/enactor/clean-up design of the October 2025 outage: a teaching
//! counterexample. **The zonegate binary never uses this module.** It exists so that the loom
//! suite (`crates/core/tests/loom_naive.rs`) can find the October interleaving in it and print
//! it, and so that `docs/race.md` has something concrete to point at.
//!
//! # Design (of the counterexample)
//!
//! It is modelled on AWS's post-event summary, one critical section per step so loom can
//! interleave the steps exactly as the real enactors interleaved:
//!
//! ```text
//!   enactor (one per AZ)                         clean-up (after an enactor applied g)
//!   --------------------                         -------------------------------------
//!   check: "is my plan newer than the applied   delete every plan "significantly older"
//!           one?"  ONCE, up front                than g (more than `margin` below it),
//!   write endpoint 1 -> my plan   (blind)        whatever is live
//!   write endpoint 2 -> my plan   (blind)
//!   record my plan as applied     (blind)
//! ```
//!
//! An endpoint's record holds no content of its own: it refers to a stored plan, so deleting
//! the plan an endpoint refers to leaves that endpoint answering empty. The enactor's check
//! reads the applied plan; once that plan is gone, no enactor can check anything any more,
//! which is the "inconsistent state that prevented subsequent plan updates" of the outage.
//!
//! [`CleanupRule::SpareLive`] is the tempting partial fix (scenario S8): clean-up refuses to
//! delete a live plan, but the enactor keeps its one-time check, so an old plan can still go
//! live over a newer one.
//!
//! Every step appends a line to the model's trace in the same critical section as its effect,
//! and checks the invariants of `design.md` it can break (I1 monotonic, I2 live plans are never
//! deleted, I3 never empty, I5 no wedged states), recording each violation instead of
//! panicking, so that a loom run can finish and report the whole interleaving.
//!
//! Generations here start at g0 (the plan applied before the story begins); zonegate's own
//! generations start at 1.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::model::sync::Mutex;

/// What the naive clean-up deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupRule {
    /// As AWS described it: every plan more than `margin` generations older than the plan just
    /// applied, whatever is live.
    OlderThanApplied,
    /// The partial fix: the same, except plans an endpoint refers to and the applied plan.
    SpareLive,
}

/// One broken invariant, with the step (1-based, as in the trace) that broke it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// `I1`, `I2`, `I3` or `I5`.
    pub invariant: &'static str,
    pub step: usize,
    pub detail: String,
}

/// The naive DNS automation's shared state: stored plans, endpoint records and the applied
/// pointer.
pub struct NaiveDns {
    state: Mutex<State>,
}

struct State {
    rule: CleanupRule,
    /// Generation -> the address its endpoints answer with.
    plans: BTreeMap<u64, String>,
    /// The plan each endpoint's record refers to.
    endpoints: Vec<Option<u64>>,
    /// The "previously applied plan" the enactors' one-time check compares against.
    applied: Option<u64>,
    start: String,
    steps: Vec<String>,
    violations: Vec<Violation>,
}

impl State {
    fn step(&mut self, line: String) -> usize {
        self.steps.push(line);
        self.steps.len()
    }

    fn violate(&mut self, invariant: &'static str, step: usize, detail: String) {
        self.violations.push(Violation {
            invariant,
            step,
            detail,
        });
    }

    /// I3 after any step: every endpoint must still answer with something.
    fn check_answers(&mut self, step: usize) {
        for e in 0..self.endpoints.len() {
            if let Some(g) = self.endpoints[e].filter(|g| !self.plans.contains_key(g)) {
                self.violate(
                    "I3",
                    step,
                    format!(
                        "endpoint {} answers EMPTY: its record refers to g{g}, which is deleted",
                        e + 1
                    ),
                );
            }
        }
    }
}

fn address(g: u64) -> String {
    format!("192.0.2.{}", 10 + g)
}

impl NaiveDns {
    /// A system in which plan `applied` is live on every one of `endpoints` endpoints and the
    /// plans `staged` are stored too (the planner already wrote them).
    pub fn new(rule: CleanupRule, endpoints: usize, applied: u64, staged: &[u64]) -> Self {
        let mut plans = BTreeMap::new();
        plans.insert(applied, address(applied));
        for g in staged {
            plans.insert(*g, address(*g));
        }
        let stored: Vec<String> = plans.keys().map(|g| format!("g{g}")).collect();
        let start = format!(
            "g{applied} is applied on all {endpoints} endpoints; stored plans: {}",
            stored.join(", ")
        );
        NaiveDns {
            state: Mutex::new(State {
                rule,
                plans,
                endpoints: vec![Some(applied); endpoints],
                applied: Some(applied),
                start,
                steps: Vec::new(),
                violations: Vec::new(),
            }),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.state.lock().expect("NaiveDns poisoned");
        f(&mut state)
    }

    /// The planner writes plan `g`.
    pub fn stage(&self, actor: &str, g: u64) {
        self.with(|s| {
            s.plans.insert(g, address(g));
            s.step(format!("{actor} wrote plan g{g}"));
        })
    }

    /// The enactor's one-time check: is `g` newer than the applied plan? It reads the applied
    /// plan to compare; if that plan is gone the check cannot be made at all (the wedge).
    pub fn check(&self, actor: &str, g: u64) -> bool {
        self.with(|s| {
            let Some(applied) = s.applied else {
                s.step(format!("{actor} checked g{g} > nothing applied"));
                return true;
            };
            if !s.plans.contains_key(&applied) {
                let step = s.step(format!(
                    "{actor} cannot check g{g}: the applied plan g{applied} is deleted"
                ));
                s.violate(
                    "I5",
                    step,
                    format!("wedged: no enactor can apply g{g} or any later plan"),
                );
                return false;
            }
            if g > applied {
                s.step(format!("{actor} checked g{g} > g{applied}"));
                true
            } else {
                s.step(format!(
                    "{actor} checked g{g} > g{applied}: not newer, gives up"
                ));
                false
            }
        })
    }

    /// Points endpoint `endpoint` (0-based) at plan `g`, blindly.
    pub fn write_endpoint(&self, actor: &str, endpoint: usize, g: u64) {
        self.with(|s| {
            let before = s.endpoints[endpoint].replace(g);
            let step = s.step(format!("{actor} wrote endpoint {} -> g{g}", endpoint + 1));
            if let Some(b) = before.filter(|b| *b > g) {
                s.violate(
                    "I1",
                    step,
                    format!(
                        "endpoint {} went back from g{b} to g{g}: an old plan is live",
                        endpoint + 1
                    ),
                );
            }
            s.check_answers(step);
        })
    }

    /// Records `g` as the applied plan, blindly.
    pub fn record_applied(&self, actor: &str, g: u64) {
        self.with(|s| {
            let before = s.applied.replace(g);
            let step = s.step(format!("{actor} recorded g{g} as the applied plan"));
            if let Some(b) = before.filter(|b| *b > g) {
                s.violate(
                    "I1",
                    step,
                    format!("the applied plan went back from g{b} to g{g}"),
                );
            }
        })
    }

    /// The enactor as AWS described it: one check, then blind writes endpoint by endpoint.
    /// Returns whether it applied `g`.
    pub fn enact(&self, actor: &str, g: u64) -> bool {
        if !self.check(actor, g) {
            return false;
        }
        let endpoints = self.with(|s| s.endpoints.len());
        for e in 0..endpoints {
            self.write_endpoint(actor, e, g);
        }
        self.record_applied(actor, g);
        true
    }

    /// Clean-up after applying `applied`: deletes plans more than `margin` generations older,
    /// in one step. Returns the generations it deleted.
    pub fn clean_up(&self, actor: &str, applied: u64, margin: u64) -> Vec<u64> {
        self.with(|s| {
            let live = |s: &State, g: u64| s.applied == Some(g) || s.endpoints.contains(&Some(g));
            let doomed: Vec<u64> = s
                .plans
                .keys()
                .copied()
                .filter(|g| g + margin < applied)
                .filter(|g| s.rule == CleanupRule::OlderThanApplied || !live(s, *g))
                .collect();
            if doomed.is_empty() {
                s.step(format!(
                    "{actor} cleaned up after g{applied}: nothing to delete"
                ));
                return doomed;
            }
            let names: Vec<String> = doomed.iter().map(|g| format!("g{g}")).collect();
            let step = s.step(format!(
                "{actor} cleaned up after g{applied}: deleted {}",
                names.join(", ")
            ));
            for g in &doomed {
                if live(s, *g) {
                    s.violate(
                        "I2",
                        step,
                        format!("deleted g{g}, which is live (applied or served by an endpoint)"),
                    );
                }
                s.plans.remove(g);
            }
            s.check_answers(step);
            doomed
        })
    }

    /// What endpoint `endpoint` (0-based) answers; `None` is an empty answer.
    pub fn resolve(&self, endpoint: usize) -> Option<String> {
        self.with(|s| s.endpoints[endpoint].and_then(|g| s.plans.get(&g).cloned()))
    }

    /// The broken invariants so far.
    pub fn violations(&self) -> Vec<Violation> {
        self.with(|s| s.violations.clone())
    }

    /// The starting state and every step so far, numbered from 1.
    pub fn trace(&self) -> String {
        self.with(|s| {
            let mut out = format!("start: {}\n", s.start);
            for (i, line) in s.steps.iter().enumerate() {
                let _ = writeln!(out, "{:>3}. {line}", i + 1);
            }
            out
        })
    }

    /// The trace followed by every violation, each naming its invariant and step.
    pub fn report(&self) -> String {
        let mut out = self.trace();
        for v in self.violations() {
            let _ = writeln!(
                out,
                "  {} broken at step {}: {}",
                v.invariant, v.step, v.detail
            );
        }
        out
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The October order of `design.md`, step by step, without loom. The naive design breaks
    /// I1, I2, I3 and then I5; the partial fix spares the live plan but still lets the old plan
    /// go live over the newer one (I1).
    #[test]
    fn the_october_order_breaks_the_naive_design() {
        for rule in [CleanupRule::OlderThanApplied, CleanupRule::SpareLive] {
            let dns = NaiveDns::new(rule, 2, 0, &[1, 2, 3, 4]);
            // 1. Enactor A picks g1; its one-time check passes, then it stalls.
            assert!(dns.check("enactor A", 1));
            // 2-3. Enactor B applies g4.
            assert!(dns.enact("enactor B", 4));
            // 4. A wakes up and writes g1 over g4, endpoint by endpoint.
            for e in 0..2 {
                dns.write_endpoint("enactor A", e, 1);
            }
            dns.record_applied("enactor A", 1);
            // 5. B's clean-up deletes plans "significantly older" than g4.
            let deleted = dns.clean_up("enactor B", 4, 2);
            // 6-7. A later plan cannot be applied.
            dns.stage("planner", 5);
            let applied = dns.enact("enactor C", 5);
            let broken: Vec<&str> = dns.violations().iter().map(|v| v.invariant).collect();
            let report = dns.report();
            assert!(broken.contains(&"I1"), "{report}");
            match rule {
                CleanupRule::OlderThanApplied => {
                    assert_eq!(deleted, vec![0, 1], "{report}");
                    for invariant in ["I2", "I3", "I5"] {
                        assert!(broken.contains(&invariant), "{invariant}: {report}");
                    }
                    assert!(!applied, "{report}");
                    assert_eq!(dns.resolve(0), None, "{report}");
                }
                CleanupRule::SpareLive => {
                    assert_eq!(deleted, vec![0], "{report}");
                    assert_eq!(broken, vec!["I1", "I1", "I1"], "{report}");
                    assert!(applied, "{report}");
                    assert_eq!(dns.resolve(0), Some(address(5)), "{report}");
                }
            }
        }
    }
}
