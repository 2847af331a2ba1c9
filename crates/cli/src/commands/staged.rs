//! What a freshly staged plan's verdict means for the command that staged it: shared by
//! `plan`, `apply` and `rollback`, which stage and then show or refuse.

use serde_json::Value;
use zonegate_core::Name;
use zonegate_core::gate::policy::ZonePolicy;
use zonegate_core::gate::{PlanOutcome, PublishOutcome, Refusal, Verdict};

use crate::output::{self, Emit};

/// The refusal a staged plan's verdict amounts to, if it is not publishable.
pub fn verdict_refusal(
    outcome: &PlanOutcome,
    verdict: Verdict,
    policy: &ZonePolicy,
) -> Option<Refusal> {
    let PlanOutcome::Staged {
        generation,
        hash,
        thresholds,
        ..
    } = outcome
    else {
        return None;
    };
    match verdict {
        Verdict::Pass | Verdict::Approved => None,
        Verdict::Refused => Some(Refusal::Policy {
            generation: *generation,
            hash: *hash,
            thresholds: thresholds.clone(),
        }),
        Verdict::Held | Verdict::Rejected => Some(Refusal::Review {
            generation: *generation,
            hash: *hash,
            verdict,
            review: policy.review,
        }),
    }
}

/// Explains a refusal on stderr (the JSON object, if any, is printed separately).
pub fn explain(origin: &Name, refusal: &Refusal) {
    eprintln!("refused ({}): {refusal}", refusal.reason());
    eprintln!("hint: {}", crate::hints::refusal_hint(origin, refusal));
}

/// Prints a plan outcome, with `extra` fields merged into its JSON form.
pub fn show_plan(
    emit: &Emit,
    origin: &Name,
    outcome: &PlanOutcome,
    verdict: Option<Verdict>,
    published: Option<&PublishOutcome>,
    extra: &[(&str, Value)],
) {
    if emit.json {
        let mut value = output::plan_json(origin, outcome, verdict, published);
        for (k, v) in extra {
            value[*k] = v.clone();
        }
        emit.object(value);
    } else {
        output::plan(emit, origin, outcome, verdict, published);
    }
}
