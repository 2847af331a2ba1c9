//! [`Threshold`]: one check a change crossed, with the numbers, and its reason code.

use std::fmt;

use crate::dns::name::Name;
use crate::dns::record::RType;
use crate::gate::audit::{ReasonCode, ThresholdKind};
use crate::gate::policy::config::Floor;

/// Which limit a change count crossed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// A share of the base's records, in percent.
    Percent(f64),
    /// A number of records.
    Records(u64),
}

// The percentages come from a checked config (`Policy::check` refuses anything outside
// [0, 100], NaN included), so equality is total on every value a `Threshold` holds.
impl Eq for Limit {}
impl Eq for Threshold {}

/// A field of the SOA that changed, as (field, before, after).
pub type SoaChange = (&'static str, String, String);

/// One policy check a plan fails, with the numbers. See the module docs for how changes are
/// counted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Threshold {
    /// More records updated than the limit allows.
    Update {
        updated: usize,
        before: usize,
        limit: Limit,
    },
    /// More records deleted than the limit allows.
    Delete {
        deleted: usize,
        before: usize,
        limit: Limit,
    },
    /// The record count fell by more than `shrink_max_percent`.
    Shrink {
        before: usize,
        after: usize,
        max_percent: f64,
    },
    /// An RRset dropped below its floor.
    Floor {
        owner: Name,
        rtype: RType,
        before: usize,
        after: usize,
        floor: Floor,
    },
    /// The apex NS set changed. The lists are the NS targets (with TTLs) before and after.
    ApexNs {
        before: Vec<String>,
        after: Vec<String>,
    },
    /// The apex SOA changed in more than its serial.
    ApexSoa { changes: Vec<SoaChange> },
    /// The largest group of the dependency map (`zonegate deps`) rose above its limit.
    DependencyShare {
        domain: Name,
        before_percent: f64,
        after_percent: f64,
        max_percent: f64,
    },
    /// A name covered by a floor now depends on one outside target, with no second choice.
    SingleTarget { owner: Name, target: Name },
}

impl Threshold {
    /// The check, as in the reason code `threshold:<kind>`.
    pub fn kind(&self) -> ThresholdKind {
        match self {
            Threshold::Update { .. } => ThresholdKind::Update,
            Threshold::Delete { .. } => ThresholdKind::Delete,
            Threshold::Shrink { .. } => ThresholdKind::Shrink,
            Threshold::Floor { .. } => ThresholdKind::Floor,
            Threshold::ApexNs { .. } | Threshold::ApexSoa { .. } => ThresholdKind::Apex,
            Threshold::DependencyShare { .. } => ThresholdKind::DependencyShare,
            Threshold::SingleTarget { .. } => ThresholdKind::SingleTarget,
        }
    }

    /// The machine-readable reason code, `threshold:<kind>`.
    pub fn reason(&self) -> ReasonCode {
        ReasonCode::Threshold(self.kind())
    }
}

pub(super) fn percent_of(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn count_limit(
    f: &mut fmt::Formatter<'_>,
    verb: &str,
    n: usize,
    before: usize,
    limit: &Limit,
    key: &str,
) -> fmt::Result {
    write!(
        f,
        "would {verb} {n} of {before} records ({:.1}%), ",
        percent_of(n, before)
    )?;
    match limit {
        Limit::Percent(p) => write!(f, "limit {p}% (policy.{key}_max_percent)"),
        Limit::Records(r) => write!(f, "limit {r} records (policy.{key}_max_records)"),
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Update {
                updated,
                before,
                limit,
            } => count_limit(f, "update", *updated, *before, limit, "update"),
            Threshold::Delete {
                deleted,
                before,
                limit,
            } => count_limit(f, "delete", *deleted, *before, limit, "delete"),
            Threshold::Shrink {
                before,
                after,
                max_percent,
            } => write!(
                f,
                "would shrink the zone from {before} to {after} records (-{:.1}%), limit {max_percent}% \
                 (policy.shrink_max_percent); the source looks empty or truncated",
                percent_of(before - after, *before)
            ),
            Threshold::Floor {
                owner,
                rtype,
                before,
                after,
                floor,
            } => write!(
                f,
                "would leave {owner} {rtype} with {after} of {before} records, below the floor of {} \
                 (policy floor {floor})",
                floor.min
            ),
            Threshold::ApexNs { before, after } => write!(
                f,
                "would change the apex NS set from [{}] to [{}]; apex changes need acknowledgement \
                 (policy.apex_guard)",
                before.join(", "),
                after.join(", ")
            ),
            Threshold::ApexSoa { changes } => {
                let list: Vec<String> = changes
                    .iter()
                    .map(|(field, a, b)| format!("{field} {a} -> {b}"))
                    .collect();
                write!(
                    f,
                    "would change the apex SOA ({}); SOA changes other than the serial need \
                     acknowledgement (policy.apex_guard)",
                    list.join(", ")
                )
            }
            Threshold::DependencyShare {
                domain,
                before_percent,
                after_percent,
                max_percent,
            } => write!(
                f,
                "would make {after_percent:.1}% of the names with outside targets depend on \
                 {domain} (was {before_percent:.1}%), limit {max_percent}% \
                 (policy.dependency_share_max_percent); see `zonegate deps`"
            ),
            Threshold::SingleTarget { owner, target } => write!(
                f,
                "would leave {owner}, which has a floor, depending on the single outside target \
                 {target} with no second choice (policy.dependency_floored_single_target)"
            ),
        }
    }
}
