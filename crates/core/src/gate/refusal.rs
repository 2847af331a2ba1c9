//! [`Refusal`]: why the gate refused a plan, each naming its reason and the next step.

use std::fmt;

use crate::gate::audit::{AuditAction, LimitKind, ReasonCode};
use crate::gate::policy::Threshold;
use crate::gate::types::{Generation, OptGen, Verdict};
use crate::zone::{ContentHash, DecodeError};

/// Why the gate refused a plan. Every refusal names its reason and says what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    #[error("{0}")]
    Invalid(#[from] crate::zone::validate::Invalid),
    #[error(
        "stale plan: {generation} was planned on base {base}, but the published generation is {published}; re-plan from the current zone and publish again",
        base = OptGen(*base),
        published = OptGen(*published)
    )]
    Stale {
        generation: Generation,
        base: Option<Generation>,
        published: Option<Generation>,
    },
    #[error(
        "stale plan: {generation} is {age_s} s old, older than plan_age_max_s = {max_s}; re-plan and publish again"
    )]
    TooOld {
        generation: Generation,
        age_s: u64,
        max_s: u64,
    },
    #[error("plan {generation} body cannot be used ({error}); re-plan from the zone file")]
    Corrupt {
        generation: Generation,
        error: DecodeError,
    },
    /// The change from the base crosses the policy. The plan is staged with the verdict
    /// `refused`; an approval bound to `hash` lets exactly this plan through.
    #[error(
        "plan {generation} crosses the change policy: {}",
        ThresholdList(thresholds)
    )]
    Policy {
        generation: Generation,
        hash: ContentHash,
        thresholds: Vec<Threshold>,
    },
    /// The plan is not approved: held for review, rejected, or refused when staged.
    #[error("{}", ReviewText { generation: *generation, verdict: *verdict, review: *review })]
    Review {
        generation: Generation,
        hash: ContentHash,
        verdict: Verdict,
        /// The zone's review setting at the time of the refusal.
        review: crate::gate::policy::Review,
    },
    /// A saved plan names a hash that is not the stored plan's: the artifact and the store
    /// disagree about what would be published.
    #[error(
        "plan {generation} has hash {actual}, but the saved plan says {expected}; it is not the plan that was reviewed, re-plan"
    )]
    HashMismatch {
        generation: Generation,
        expected: ContentHash,
        actual: ContentHash,
    },
}

pub(super) struct ThresholdList<'a>(pub(super) &'a [Threshold]);

impl fmt::Display for ThresholdList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{t}")?;
        }
        Ok(())
    }
}

struct ReviewText {
    generation: Generation,
    verdict: Verdict,
    review: crate::gate::policy::Review,
}

impl fmt::Display for ReviewText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = self.generation;
        match self.verdict {
            Verdict::Held => write!(f, "plan {g} is held for review and not approved yet"),
            Verdict::Rejected => write!(
                f,
                "plan {g} was rejected in review and can never be published"
            ),
            Verdict::Refused => write!(
                f,
                "plan {g} was refused by the change policy when it was staged and is not approved"
            ),
            _ => write!(
                f,
                "plan {g} needs review (review = \"{}\") and is not approved",
                self.review.as_str()
            ),
        }
    }
}

impl Refusal {
    /// Machine-readable reason code.
    pub fn reason(&self) -> ReasonCode {
        match self {
            Refusal::Invalid(i)
                if i.violations
                    .iter()
                    .any(|v| matches!(v, crate::zone::validate::Violation::Empty)) =>
            {
                ReasonCode::Empty
            }
            Refusal::Invalid(i) => match i.violations.first() {
                Some(crate::zone::validate::Violation::TooManyRecords { .. }) => {
                    ReasonCode::Limit(LimitKind::RecordsMax)
                }
                Some(crate::zone::validate::Violation::BodyTooLarge { .. }) => {
                    ReasonCode::Limit(LimitKind::BodyBytesMax)
                }
                _ => ReasonCode::invalid(i.first_rule()),
            },
            Refusal::Stale { .. } | Refusal::TooOld { .. } => ReasonCode::Stale,
            Refusal::Corrupt { .. } => ReasonCode::CorruptBody,
            Refusal::Policy { thresholds, .. } => thresholds
                .first()
                .map_or(ReasonCode::ThresholdUnnamed, Threshold::reason),
            Refusal::Review { .. } => ReasonCode::Review,
            Refusal::HashMismatch { .. } => ReasonCode::HashMismatch,
        }
    }

    /// The audit action of this refusal: `stale` for a plan overtaken or too old, `refused`
    /// otherwise.
    pub fn action(&self) -> AuditAction {
        if self.is_stale() {
            AuditAction::Stale
        } else {
            AuditAction::Refused
        }
    }

    pub fn is_stale(&self) -> bool {
        matches!(self, Refusal::Stale { .. } | Refusal::TooOld { .. })
    }
}
