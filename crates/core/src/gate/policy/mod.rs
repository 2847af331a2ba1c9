//! The change policy: how much a plan may change compared with the published generation
//! before a human has to acknowledge it.
//!
//! # Design
//!
//! Validity (`validate.rs`) says whether a content is a zone at all. The policy says whether a
//! *change* is plausible: a valid zone that deletes most of its records is still most likely a
//! truncated source (external-dns deleting whole zones when its source briefly returned
//! nothing). Every check here compares a plan with its **base**, the generation that was
//! published when it was planned, and is pure: it takes two validated contents and their
//! [`Diff`] and returns every [`Threshold`] the change crosses, with the numbers.
//!
//! The checks, in the order their reason codes are reported:
//!
//! ```text
//!   shrink   the record count falls by more than shrink_max_percent    threshold:shrink
//!   floor    an RRset matching a floor drops below its minimum         threshold:floor
//!   apex     the apex NS set changes, or the SOA changes beyond serial threshold:apex
//!   delete   deleted records > delete_max_percent / _records of base   threshold:delete
//!   update   updated records > update_max_percent / _records of base   threshold:update
//! ```
//!
//! How changes are counted (the same as octoDNS, which counts updates and deletes as a share
//! of the existing records, except that small zones are not exempt):
//! - An RRset that vanished counts each of its records as deleted.
//! - An RRset that changed counts `min(removed, added)` records as updated and the rest of its
//!   removed records as deleted. A TTL change is an update.
//! - Added records are never limited.
//! - An SOA change that only moves the serial is bookkeeping, not an update: every edit of a
//!   zone file bumps it.
//! - A first plan (nothing published) has no base and passes every check.
//!
//! A plan that crosses a threshold is still staged, with the verdict `refused`, so that a human
//! can approve that exact plan (bound to its content hash) instead of turning the policy off.
//! The policy runs when a plan is staged and again when it is published, against the same
//! base: the publish compare-and-swap only succeeds if that base is still the published
//! generation, so the check and the write are one decision.
//!
//! Review hooks (`review = "command" | "manual"`) are configured here, but running a command
//! is I/O and lives in the binary.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::dns::name::Name;
use crate::dns::record::{RType, Record, Soa};
use crate::gate::{ReasonCode, ThresholdKind};
use crate::zone::Zone;
use crate::zone::diff::{Change, Diff};

/// How plans of a zone are reviewed before they may be published.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Review {
    /// No review: a plan that passes the policy may be published.
    #[default]
    Off,
    /// The binary runs `review_command`; exit status 0 approves the plan, any other status
    /// rejects it, and a timeout leaves it held.
    Command,
    /// The plan is held until `zonegate approve` or `zonegate reject`.
    Manual,
}

impl Review {
    pub fn as_str(self) -> &'static str {
        match self {
            Review::Off => "off",
            Review::Command => "command",
            Review::Manual => "manual",
        }
    }
}

/// Which owner names a floor covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamePattern {
    /// Exactly this name.
    Exact(Name),
    /// `*.<name>`: every name strictly below this one.
    Below(Name),
}

impl NamePattern {
    pub fn matches(&self, owner: &Name) -> bool {
        match self {
            NamePattern::Exact(n) => owner == n,
            NamePattern::Below(n) => owner.is_below(n),
        }
    }
}

impl fmt::Display for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NamePattern::Exact(n) => write!(f, "{n}"),
            NamePattern::Below(n) if n.is_root() => f.write_str("*."),
            NamePattern::Below(n) => write!(f, "*.{n}"),
        }
    }
}

/// Parses an absolute name, accepting a missing trailing dot (config files are written by
/// people; a floor never means a relative name).
fn absolute(text: &str) -> Result<Name, String> {
    let text = text.trim();
    let full = if text.ends_with('.') {
        text.to_string()
    } else {
        format!("{text}.")
    };
    Name::parse(&full).map_err(|e| format!("{text:?} is not a valid name: {e}"))
}

impl FromStr for NamePattern {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "*" | "*." => Ok(NamePattern::Below(Name::root())),
            t => match t.strip_prefix("*.") {
                Some(rest) => absolute(rest).map(NamePattern::Below),
                None => absolute(t).map(NamePattern::Exact),
            },
        }
    }
}

/// An RRset floor: RRsets of type `rtype` at names matching `name` may not drop below `min`
/// records. Written `{ name = "api.example.com.", type = "A", min = 2 }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FloorSpec", into = "FloorSpec")]
pub struct Floor {
    pub name: NamePattern,
    pub rtype: RType,
    pub min: u32,
}

impl fmt::Display for Floor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} >= {}", self.name, self.rtype, self.min)
    }
}

/// The TOML form of a [`Floor`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FloorSpec {
    name: String,
    #[serde(rename = "type")]
    rtype: String,
    min: u32,
}

impl TryFrom<FloorSpec> for Floor {
    type Error = String;
    fn try_from(spec: FloorSpec) -> Result<Self, String> {
        let name = spec.name.parse()?;
        let rtype = spec
            .rtype
            .parse()
            .map_err(|_| format!("{:?} is not a record type", spec.rtype))?;
        Ok(Floor {
            name,
            rtype,
            min: spec.min,
        })
    }
}

impl From<Floor> for FloorSpec {
    fn from(f: Floor) -> Self {
        FloorSpec {
            name: f.name.to_string(),
            rtype: f.rtype.to_string(),
            min: f.min,
        }
    }
}

/// The policy of one zone: the defaults with that zone's overrides applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ZonePolicy {
    pub update_max_percent: f64,
    pub update_max_records: Option<u64>,
    pub delete_max_percent: f64,
    pub delete_max_records: Option<u64>,
    pub shrink_max_percent: f64,
    pub apex_guard: bool,
    pub floors: Vec<Floor>,
    pub review: Review,
    pub review_command: Vec<String>,
    pub review_timeout_s: u64,
}

/// The `[policy]` section of the config: defaults for every zone, plus per-zone overrides in
/// `[policy.zones."example.com."]`. See `docs/policy.md` for every key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Most records one plan may update, as a percentage of the base's records. Default 30.
    pub update_max_percent: f64,
    /// Most records one plan may update, as a count. Default: no count limit.
    pub update_max_records: Option<u64>,
    /// Most records one plan may delete, as a percentage of the base's records. Default 30.
    pub delete_max_percent: f64,
    /// Most records one plan may delete, as a count. Default: no count limit.
    pub delete_max_records: Option<u64>,
    /// Largest fall of the record count, as a percentage of the base's records; beyond it the
    /// source looks empty or truncated. Holds whatever the delete limit says. Default 50.
    pub shrink_max_percent: f64,
    /// Whether a change to the apex NS set, or to the SOA other than its serial, needs
    /// acknowledgement. Default true.
    pub apex_guard: bool,
    /// RRset floors. Default none.
    pub floors: Vec<Floor>,
    /// How plans are reviewed. Default off.
    pub review: Review,
    /// The program (and its arguments) `review = "command"` runs. Default none.
    pub review_command: Vec<String>,
    /// How long a review command may run before it is stopped and the plan stays held.
    /// Default 300.
    pub review_timeout_s: u64,
    /// Per-zone overrides, keyed by origin.
    pub zones: BTreeMap<String, ZoneOverride>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            update_max_percent: 30.0,
            update_max_records: None,
            delete_max_percent: 30.0,
            delete_max_records: None,
            shrink_max_percent: 50.0,
            apex_guard: true,
            floors: Vec::new(),
            review: Review::Off,
            review_command: Vec::new(),
            review_timeout_s: 300,
            zones: BTreeMap::new(),
        }
    }
}

/// One zone's overrides. A key that is not set takes the default; `floors` are added to the
/// default floors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZoneOverride {
    pub update_max_percent: Option<f64>,
    pub update_max_records: Option<u64>,
    pub delete_max_percent: Option<f64>,
    pub delete_max_records: Option<u64>,
    pub shrink_max_percent: Option<f64>,
    pub apex_guard: Option<bool>,
    pub floors: Vec<Floor>,
    pub review: Option<Review>,
    pub review_command: Option<Vec<String>>,
    pub review_timeout_s: Option<u64>,
}

/// A policy section that cannot work as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy {key}: {problem}")]
pub struct PolicyError {
    /// The key, e.g. `zones."example.com.".delete_max_percent`.
    pub key: String,
    pub problem: String,
}

impl Policy {
    /// The policy of `zone`: the defaults with its overrides, if it has any.
    pub fn for_zone(&self, zone: &Name) -> ZonePolicy {
        let mut p = ZonePolicy {
            update_max_percent: self.update_max_percent,
            update_max_records: self.update_max_records,
            delete_max_percent: self.delete_max_percent,
            delete_max_records: self.delete_max_records,
            shrink_max_percent: self.shrink_max_percent,
            apex_guard: self.apex_guard,
            floors: self.floors.clone(),
            review: self.review,
            review_command: self.review_command.clone(),
            review_timeout_s: self.review_timeout_s,
        };
        let over = self
            .zones
            .iter()
            .find(|(key, _)| absolute(key).is_ok_and(|k| &k == zone));
        if let Some((_, o)) = over {
            p.update_max_percent = o.update_max_percent.unwrap_or(p.update_max_percent);
            p.update_max_records = o.update_max_records.or(p.update_max_records);
            p.delete_max_percent = o.delete_max_percent.unwrap_or(p.delete_max_percent);
            p.delete_max_records = o.delete_max_records.or(p.delete_max_records);
            p.shrink_max_percent = o.shrink_max_percent.unwrap_or(p.shrink_max_percent);
            p.apex_guard = o.apex_guard.unwrap_or(p.apex_guard);
            p.floors.extend(o.floors.iter().cloned());
            p.review = o.review.unwrap_or(p.review);
            if let Some(c) = &o.review_command {
                p.review_command = c.clone();
            }
            p.review_timeout_s = o.review_timeout_s.unwrap_or(p.review_timeout_s);
        }
        p
    }

    /// Checks that every setting can work: percentages in `[0, 100]`, zone keys that are
    /// names, no zone twice, a command wherever `review = "command"`.
    pub fn check(&self) -> Result<(), PolicyError> {
        fn percent(key: String, value: Option<f64>) -> Result<(), PolicyError> {
            match value {
                Some(v) if !(0.0..=100.0).contains(&v) => Err(PolicyError {
                    key,
                    problem: format!("{v} is not a percentage between 0 and 100"),
                }),
                _ => Ok(()),
            }
        }
        fn review(key: String, review: Review, command: &[String]) -> Result<(), PolicyError> {
            if review == Review::Command && command.first().is_none_or(|c| c.is_empty()) {
                return Err(PolicyError {
                    key,
                    problem: "review = \"command\" needs review_command = [\"program\", ...]"
                        .into(),
                });
            }
            Ok(())
        }
        percent("update_max_percent".into(), Some(self.update_max_percent))?;
        percent("delete_max_percent".into(), Some(self.delete_max_percent))?;
        percent("shrink_max_percent".into(), Some(self.shrink_max_percent))?;
        let mut seen: Vec<Name> = Vec::new();
        for (key, o) in &self.zones {
            let zone = absolute(key).map_err(|problem| PolicyError {
                key: format!("zones.{key:?}"),
                problem,
            })?;
            if seen.contains(&zone) {
                return Err(PolicyError {
                    key: format!("zones.{key:?}"),
                    problem: format!("zone {zone} is configured twice"),
                });
            }
            let k = |field: &str| format!("zones.{key:?}.{field}");
            percent(k("update_max_percent"), o.update_max_percent)?;
            percent(k("delete_max_percent"), o.delete_max_percent)?;
            percent(k("shrink_max_percent"), o.shrink_max_percent)?;
            let resolved = self.for_zone(&zone);
            review(k("review"), resolved.review, &resolved.review_command)?;
            seen.push(zone);
        }
        review("review".into(), self.review, &self.review_command)?;
        Ok(())
    }
}

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
        }
    }

    /// The machine-readable reason code, `threshold:<kind>`.
    pub fn reason(&self) -> ReasonCode {
        ReasonCode::Threshold(self.kind())
    }
}

fn percent_of(part: usize, whole: usize) -> f64 {
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
        }
    }
}

/// How many records a change updates, deletes and adds; see the module docs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeCounts {
    pub before: usize,
    pub after: usize,
    pub updated: usize,
    pub deleted: usize,
    pub added: usize,
}

/// True if the two SOA records differ only in their serial.
fn serial_only(old: &Record, new: &Record) -> bool {
    match (old.soa(), new.soa()) {
        (Some(a), Some(b)) => {
            old.ttl == new.ttl
                && Soa {
                    serial: b.serial,
                    ..a
                } == b
        }
        _ => false,
    }
}

/// Counts a diff's records as updated, deleted and added.
pub fn count(diff: &Diff) -> ChangeCounts {
    let mut c = ChangeCounts {
        before: diff.records_before,
        after: diff.records_after,
        ..ChangeCounts::default()
    };
    for change in &diff.changes {
        match change {
            Change::Added { records, .. } => c.added += records.len(),
            Change::Removed { records, .. } => c.deleted += records.len(),
            Change::Changed {
                rtype,
                removed,
                added,
                ..
            } => {
                if *rtype == RType::SOA
                    && removed.len() == 1
                    && added.len() == 1
                    && serial_only(&removed[0], &added[0])
                {
                    continue;
                }
                let updated = removed.len().min(added.len());
                c.updated += updated;
                c.deleted += removed.len() - updated;
                c.added += added.len() - updated;
            }
        }
    }
    c
}

fn crosses(n: usize, before: usize, max_percent: f64, max_records: Option<u64>) -> Option<Limit> {
    if n == 0 {
        return None;
    }
    if percent_of(n, before) > max_percent {
        return Some(Limit::Percent(max_percent));
    }
    max_records.filter(|m| n as u64 > *m).map(Limit::Records)
}

fn rrset_sizes(zone: &Zone) -> BTreeMap<(&Name, RType), usize> {
    let mut sizes = BTreeMap::new();
    for r in zone.records() {
        *sizes.entry((&r.owner, r.rtype)).or_insert(0) += 1;
    }
    sizes
}

fn apex_ns(zone: &Zone) -> Vec<String> {
    zone.records()
        .iter()
        .filter(|r| r.owner == *zone.origin() && r.rtype == RType::NS)
        .map(|r| {
            let target = r
                .target_name()
                .map(|n| n.to_string())
                .unwrap_or_else(|| "?".into());
            format!("{target} ttl {}", r.ttl)
        })
        .collect()
}

fn soa_changes(old: &Zone, new: &Zone) -> Vec<SoaChange> {
    let (a, b) = (old.soa(), new.soa());
    let mut out: Vec<SoaChange> = Vec::new();
    let mut push = |field: &'static str, x: String, y: String| {
        if x != y {
            out.push((field, x, y));
        }
    };
    push("mname", a.mname.to_string(), b.mname.to_string());
    push("rname", a.rname.to_string(), b.rname.to_string());
    push("refresh", a.refresh.to_string(), b.refresh.to_string());
    push("retry", a.retry.to_string(), b.retry.to_string());
    push("expire", a.expire.to_string(), b.expire.to_string());
    push("minimum", a.minimum.to_string(), b.minimum.to_string());
    push(
        "ttl",
        old.soa_record().ttl.to_string(),
        new.soa_record().ttl.to_string(),
    );
    out
}

/// Every threshold the change from `base` to `plan` crosses under `policy`, in reason order
/// (shrink, floor, apex, delete, update). `diff` must be `Diff::between(base, plan)`.
pub fn check(policy: &ZonePolicy, base: &Zone, plan: &Zone, diff: &Diff) -> Vec<Threshold> {
    let mut out = Vec::new();
    let c = count(diff);

    if c.after < c.before && percent_of(c.before - c.after, c.before) > policy.shrink_max_percent {
        out.push(Threshold::Shrink {
            before: c.before,
            after: c.after,
            max_percent: policy.shrink_max_percent,
        });
    }

    if !policy.floors.is_empty() {
        let old = rrset_sizes(base);
        let new = rrset_sizes(plan);
        for ((owner, rtype), &before) in &old {
            let after = new.get(&(*owner, *rtype)).copied().unwrap_or(0);
            // A floor limits how fast a set shrinks; a set that was already below its floor
            // and did not shrink is not this plan's doing.
            if after >= before {
                continue;
            }
            let floor = policy.floors.iter().find(|f| {
                f.rtype == *rtype && f.name.matches(owner) && (after as u64) < u64::from(f.min)
            });
            if let Some(floor) = floor {
                out.push(Threshold::Floor {
                    owner: (*owner).clone(),
                    rtype: *rtype,
                    before,
                    after,
                    floor: floor.clone(),
                });
            }
        }
    }

    if policy.apex_guard {
        let (a, b) = (apex_ns(base), apex_ns(plan));
        if a != b {
            out.push(Threshold::ApexNs {
                before: a,
                after: b,
            });
        }
        let changes = soa_changes(base, plan);
        if !changes.is_empty() {
            out.push(Threshold::ApexSoa { changes });
        }
    }

    if let Some(limit) = crosses(
        c.deleted,
        c.before,
        policy.delete_max_percent,
        policy.delete_max_records,
    ) {
        out.push(Threshold::Delete {
            deleted: c.deleted,
            before: c.before,
            limit,
        });
    }
    if let Some(limit) = crosses(
        c.updated,
        c.before,
        policy.update_max_percent,
        policy.update_max_records,
    ) {
        out.push(Threshold::Update {
            updated: c.updated,
            before: c.before,
            limit,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::limits::Limits;
    use crate::zone::validate::validate;
    use crate::zonefile;

    fn zone(text: &str) -> Zone {
        let origin = Name::parse("example.com.").unwrap();
        let full = format!(
            "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1.example.net. h.example.net. 1 3600 600 604800 60\n{text}"
        );
        validate(
            zonefile::parse(&full, Some(&origin), "test").unwrap(),
            &Limits::default(),
        )
        .unwrap()
    }

    fn run(policy: &ZonePolicy, old: &str, new: &str) -> Vec<Threshold> {
        let (a, b) = (zone(old), zone(new));
        check(policy, &a, &b, &Diff::between(&a, &b))
    }

    fn default_for(toml_policy: &str) -> ZonePolicy {
        let p: Policy = toml::from_str(toml_policy).unwrap();
        p.check().unwrap();
        p.for_zone(&Name::parse("example.com.").unwrap())
    }

    /// Data-driven: (old records, new records, expected reason codes).
    #[test]
    fn default_policy_table() {
        let base = "@ NS ns1.example.net.\na A 192.0.2.1\nb A 192.0.2.2\nc A 192.0.2.3\nd A 192.0.2.4\ne A 192.0.2.5\n";
        let p = Policy::default().for_zone(&Name::parse("example.com.").unwrap());
        let cases: &[(&str, &str, &[ReasonCode])] = &[
            // Same content with a new serial: nothing.
            (base, base, &[]),
            // One of 7 records updated (14%): fine.
            (base, &base.replace("192.0.2.5", "192.0.2.55"), &[]),
            // Three of 7 updated (42.9%).
            (
                base,
                &base
                    .replace("192.0.2.3", "192.0.2.33")
                    .replace("192.0.2.4", "192.0.2.44")
                    .replace("192.0.2.5", "192.0.2.55"),
                &[ReasonCode::Threshold(ThresholdKind::Update)],
            ),
            // Three of 7 deleted (42.9%).
            (
                base,
                "@ NS ns1.example.net.\na A 192.0.2.1\nb A 192.0.2.2\n",
                &[ReasonCode::Threshold(ThresholdKind::Delete)],
            ),
            // Five of 7 gone: shrink (71.4%) and delete.
            (
                base,
                "@ NS ns1.example.net.\n",
                &[
                    ReasonCode::Threshold(ThresholdKind::Shrink),
                    ReasonCode::Threshold(ThresholdKind::Delete),
                ],
            ),
            // A changed apex NS set.
            (
                base,
                &base.replace("ns1.example.net.", "ns2.example.net."),
                &[ReasonCode::Threshold(ThresholdKind::Apex)],
            ),
        ];
        for (old, new, want) in cases {
            let got: Vec<ReasonCode> = run(&p, old, new).iter().map(Threshold::reason).collect();
            assert_eq!(&got, want, "{old} -> {new}");
        }
    }

    #[test]
    fn small_zones_are_not_exempt() {
        // Three data records (five with SOA and NS), two deleted: 40%, where octoDNS would skip
        // a zone of fewer than ten records.
        let p = Policy::default().for_zone(&Name::parse("example.com.").unwrap());
        let got = run(
            &p,
            "@ NS ns1.example.net.\na A 192.0.2.1\nb A 192.0.2.2\nc A 192.0.2.3\n",
            "@ NS ns1.example.net.\na A 192.0.2.1\n",
        );
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(
            got[0].to_string(),
            "would delete 2 of 5 records (40.0%), limit 30% (policy.delete_max_percent)"
        );
    }

    #[test]
    fn shrink_holds_when_delete_limit_is_raised() {
        let p = default_for("delete_max_percent = 100\n");
        let got = run(
            &p,
            "@ NS ns1.example.net.\na A 192.0.2.1\nb A 192.0.2.2\nc A 192.0.2.3\n",
            "@ NS ns1.example.net.\n",
        );
        let reasons: Vec<ReasonCode> = got.iter().map(Threshold::reason).collect();
        assert_eq!(
            reasons,
            [ReasonCode::Threshold(ThresholdKind::Shrink)],
            "{got:?}"
        );
        assert!(got[0].to_string().contains("from 5 to 2 records (-60.0%)"));
    }

    #[test]
    fn absolute_counts_apply_too() {
        let p = default_for("update_max_records = 1\n");
        let got = run(
            &p,
            "@ NS ns1.example.net.\na A 192.0.2.1\nb A 192.0.2.2\nc A 192.0.2.3\nd A 192.0.2.4\ne A 192.0.2.5\nf A 192.0.2.6\ng A 192.0.2.7\nh A 192.0.2.8\n",
            "@ NS ns1.example.net.\na A 192.0.2.11\nb A 192.0.2.12\nc A 192.0.2.3\nd A 192.0.2.4\ne A 192.0.2.5\nf A 192.0.2.6\ng A 192.0.2.7\nh A 192.0.2.8\n",
        );
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(
            got[0].to_string(),
            "would update 2 of 10 records (20.0%), limit 1 records (policy.update_max_records)"
        );
    }

    #[test]
    fn floors_limit_how_far_a_set_drops() {
        let p = default_for(
            "[[zones.\"example.com\".floors]]\nname = \"api.example.com.\"\ntype = \"A\"\nmin = 2\n\
             [[floors]]\nname = \"*.example.com.\"\ntype = \"AAAA\"\nmin = 1\n",
        );
        let filler =
            "@ NS ns1.example.net.\nx A 192.0.2.1\ny A 192.0.2.2\nz A 192.0.2.3\nw A 192.0.2.4\n";
        let two = format!("{filler}api A 192.0.2.10\napi A 192.0.2.11\nv6 AAAA 2001:db8::1\n");
        let one = format!("{filler}api A 192.0.2.10\nv6 AAAA 2001:db8::1\n");
        let got = run(&p, &two, &one);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(
            got[0].to_string(),
            "would leave api.example.com. A with 1 of 2 records, below the floor of 2 \
             (policy floor api.example.com. A >= 2)"
        );
        // Already below the floor and not shrinking: not this plan's doing.
        assert!(run(&p, &one, &one.replace("x A", "xx A")).is_empty());
        // The wildcard floor covers names below the zone; the set vanishing counts as 0.
        let got = run(&p, &two, &two.replace("v6 AAAA 2001:db8::1\n", ""));
        assert_eq!(
            got.iter().map(Threshold::reason).collect::<Vec<_>>(),
            [ReasonCode::Threshold(ThresholdKind::Floor)]
        );
        // The zone's floor is added to the default one; other zones get only the default.
        assert_eq!(p.floors.len(), 2);
        let other: Policy = toml::from_str(
            "[[zones.\"example.com\".floors]]\nname = \"api.example.com.\"\ntype = \"A\"\nmin = 2\n",
        )
        .unwrap();
        assert!(
            other
                .for_zone(&Name::parse("example.org.").unwrap())
                .floors
                .is_empty()
        );
    }

    #[test]
    fn soa_serial_is_bookkeeping_other_fields_are_apex_changes() {
        let p = Policy::default().for_zone(&Name::parse("example.com.").unwrap());
        let base =
            "@ NS ns1.example.net.\na A 192.0.2.1\nb A 192.0.2.2\nc A 192.0.2.3\nd A 192.0.2.4\n";
        let a = zone(base);
        let b = zone(base).clone();
        assert!(check(&p, &a, &b, &Diff::between(&a, &b)).is_empty());
        let text = format!(
            "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1.example.net. h.example.net. 2 3600 600 604800 300\n{base}"
        );
        let origin = Name::parse("example.com.").unwrap();
        let c = validate(
            zonefile::parse(&text, Some(&origin), "t").unwrap(),
            &Limits::default(),
        )
        .unwrap();
        let got = check(&p, &a, &c, &Diff::between(&a, &c));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(
            got[0],
            Threshold::ApexSoa {
                changes: vec![("minimum", "60".into(), "300".into())]
            }
        );
        // With the guard off, the same change passes (the SOA is one of 6 records: 16.7%).
        let off = default_for("apex_guard = false\n");
        assert!(check(&off, &a, &c, &Diff::between(&a, &c)).is_empty());
    }

    #[test]
    fn serial_only_change_is_not_an_update() {
        let base = "@ NS ns1.example.net.\n";
        let origin = Name::parse("example.com.").unwrap();
        let a = zone(base);
        let text = format!(
            "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1.example.net. h.example.net. 9 3600 600 604800 60\n{base}"
        );
        let b = validate(
            zonefile::parse(&text, Some(&origin), "t").unwrap(),
            &Limits::default(),
        )
        .unwrap();
        let c = count(&Diff::between(&a, &b));
        assert_eq!((c.updated, c.deleted, c.added), (0, 0, 0));
    }

    #[test]
    fn config_mistakes_are_named() {
        for (text, key) in [
            ("delete_max_percent = 130\n", "delete_max_percent"),
            (
                "[zones.\"bad name..\"]\nreview = \"manual\"\n",
                "zones.\"bad name..\"",
            ),
            (
                "[zones.\"example.com.\"]\nreview = \"command\"\n",
                "zones.\"example.com.\".review",
            ),
        ] {
            let p: Policy = toml::from_str(text).unwrap();
            let e = p.check().unwrap_err();
            assert_eq!(e.key, key, "{text}: {e}");
        }
        assert!(
            toml::from_str::<Policy>("[[floors]]\nname = \"a.\"\ntype = \"NOPE\"\nmin = 1\n")
                .is_err()
        );
        assert!(toml::from_str::<Policy>("delete_max_pct = 3\n").is_err());
    }
}
