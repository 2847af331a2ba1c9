//! Plan outcomes, in JSON (also the plan artifact) and in words.

use serde_json::Value;
use zonegate_core::Name;
use zonegate_core::gate::{OptGen, PlanOutcome, PublishOutcome, Verdict};

use super::Emit;
use super::diff::print_diff;
use crate::artifact::PlanArtifact;
use crate::hints::approve_hint;

/// The JSON form of a plan outcome: what `plan --json` prints and `plan --out` saves (the plan
/// artifact `publish --plan` reads back). `verdict` is the plan's verdict after any review.
pub fn plan_json(
    origin: &Name,
    outcome: &PlanOutcome,
    verdict: Option<Verdict>,
    published: Option<&PublishOutcome>,
) -> Value {
    PlanArtifact::new(origin, outcome, verdict, published).to_value()
}

/// Prints a plan outcome; `verdict` is the plan's verdict after any review, if it changed.
pub fn plan(
    emit: &Emit,
    origin: &Name,
    outcome: &PlanOutcome,
    verdict: Option<Verdict>,
    published: Option<&PublishOutcome>,
) {
    if emit.json {
        emit.object(plan_json(origin, outcome, verdict, published));
        return;
    }
    match outcome {
        PlanOutcome::NoChanges {
            published: g,
            hash,
            record_count,
        } => {
            outln!(
                "zone {origin}: no changes; {g} is published with the same content ({record_count} records, {})",
                hash.short()
            );
        }
        PlanOutcome::Staged {
            generation,
            base,
            hash,
            record_count,
            diff,
            verdict: staged,
            thresholds,
        } => {
            let verdict = verdict.unwrap_or(*staged);
            outln!(
                "zone {origin}: staged {generation} on base {} ({record_count} records, {})",
                OptGen(*base),
                hash.short()
            );
            outln!(
                "diff against {}: +{} -{} records, {} unchanged",
                OptGen(*base),
                diff.records_added,
                diff.records_removed,
                diff.records_unchanged
            );
            print_diff(diff, 200);
            outln!("hash: {hash}");
            outln!("verdict: {verdict}");
            for t in thresholds {
                outln!("  {}: {t}", t.reason());
            }
            match (published, verdict) {
                (
                    Some(PublishOutcome::Published {
                        generation,
                        publish_count: version,
                        serial,
                        ..
                    }),
                    _,
                ) => outln!("published {generation} (version {version}, serial {serial})"),
                (Some(PublishOutcome::AlreadyPublished { generation }), _) => {
                    outln!("{generation} is already published")
                }
                (None, Verdict::Pass | Verdict::Approved) => outln!(
                    "publish it with: zonegate publish {origin} --generation {}",
                    generation.0
                ),
                // A refusal is explained on stderr, with this hint.
                (None, Verdict::Refused) => {}
                (None, Verdict::Held) => outln!("{}", approve_hint(origin, *generation, hash)),
                (None, Verdict::Rejected) => {
                    outln!("rejected in review; fix the zone file and plan again")
                }
            }
        }
    }
}
