//! What to do next: the hints printed after a refusal or a plan that waits for approval (on
//! stderr, and as `hint` in `--json` output).

use zonegate_core::gate::{Generation, Refusal, Verdict};
use zonegate_core::{ContentHash, Name};

/// How to approve (or reject) exactly one plan.
pub fn approve_hint(origin: &Name, generation: Generation, hash: &ContentHash) -> String {
    format!(
        "review the diff (zonegate diff {origin} {g}); if it is intended, approve exactly this plan with \
         `zonegate approve {origin} {g} --hash {hash} --reason TEXT` and publish it with \
         `zonegate publish {origin} --generation {g}`; otherwise `zonegate reject {origin} {g} --reason TEXT`",
        g = generation.0
    )
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
