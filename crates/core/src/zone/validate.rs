//! Zone validity: the rules every plan must pass before it is staged, and again after it is
//! read back, and again before a target installs it.
//!
//! The rules are RFC conditions 1–9 of the Ferret data set (see `Violation::condition`), plus
//! emptiness, the apex SOA/NS requirement, TTL bounds and the size limits.

use std::fmt;

use crate::dns::name::Name;
use crate::dns::rdata::canonical_rdata;
use crate::dns::record::{RType, Record};
use crate::dns::record_data::RecordData;
use crate::zone::limits::Limits;
use crate::zone::{ParsedZone, Summary, Zone, body_len};

pub(crate) mod incremental;

/// One broken rule, with the names that break it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// The zone has no records at all.
    Empty,
    /// More records than `Limits::records_max`.
    TooManyRecords { count: usize, max: usize },
    /// Canonical body larger than `Limits::body_bytes_max`.
    BodyTooLarge { bytes: usize, max: usize },
    /// Record data that is not in the canonical wire form of its type: malformed, compressed,
    /// or with upper-case letters in names RFC 4034 §6.2 lower-cases.
    Malformed { records: Vec<(Name, RType)> },
    /// RFC 2181 §5: the same record (owner, type, rdata) appears more than once.
    Duplicate { records: Vec<(Name, RType)> },
    /// RFC 1035: no SOA at the apex.
    NoSoa,
    /// RFC 1035: more than one SOA, or an SOA that is not at the apex.
    ExtraSoa { owners: Vec<Name> },
    /// RFC 1034 §4.2.1: the apex needs an NS set.
    NoApexNs,
    /// RFC 1034: owner names outside the origin.
    OutOfZone { names: Vec<Name> },
    /// RFC 1034 §3.6.2 / RFC 2181 §10.1: a CNAME owner with other data or a second CNAME.
    CnameConflict { names: Vec<Name> },
    /// RFC 6672 §2.4: more than one DNAME at a name.
    MultipleDname { names: Vec<Name> },
    /// RFC 6672 §2.3: DNAME and NS at one name other than the apex.
    DnameAndNs { names: Vec<Name> },
    /// RFC 6672 §2.4: a name exists below a DNAME owner. Pairs are (name, DNAME owner).
    BelowDname { names: Vec<(Name, Name)> },
    /// RFC 1034 §4.2.1: a delegation below another delegation. Pairs are (inner, outer).
    NestedDelegation { names: Vec<(Name, Name)> },
    /// RFC 1035 / RFC 9471: an in-zone NS target with no address records. Pairs are
    /// (NS owner, target).
    MissingGlue { names: Vec<(Name, Name)> },
    /// TTL outside `[ttl_min, ttl_max]`.
    TtlOutOfRange {
        name: Name,
        ttl: u32,
        min: u32,
        max: u32,
    },
}

impl Violation {
    /// Stable machine-readable rule name, used as `invalid:<rule>`.
    pub fn rule(&self) -> &'static str {
        match self {
            Violation::Empty => "empty",
            Violation::TooManyRecords { .. } => "records-max",
            Violation::BodyTooLarge { .. } => "body-bytes-max",
            Violation::Malformed { .. } => "malformed-rdata",
            Violation::Duplicate { .. } => "duplicate",
            Violation::NoSoa => "no-soa",
            Violation::ExtraSoa { .. } => "extra-soa",
            Violation::NoApexNs => "no-apex-ns",
            Violation::OutOfZone { .. } => "out-of-zone",
            Violation::CnameConflict { .. } => "cname-conflict",
            Violation::MultipleDname { .. } => "multiple-dname",
            Violation::DnameAndNs { .. } => "dname-and-ns",
            Violation::BelowDname { .. } => "below-dname",
            Violation::NestedDelegation { .. } => "nested-delegation",
            Violation::MissingGlue { .. } => "missing-glue",
            Violation::TtlOutOfRange { .. } => "ttl-range",
        }
    }

    /// The Ferret validity condition (1–9) this rule is, if it is one of them.
    pub fn condition(&self) -> Option<u8> {
        Some(match self {
            Violation::Duplicate { .. } => 1,
            Violation::NoSoa | Violation::ExtraSoa { .. } => 2,
            Violation::OutOfZone { .. } => 3,
            Violation::CnameConflict { .. } => 4,
            Violation::MultipleDname { .. } => 5,
            Violation::DnameAndNs { .. } => 6,
            Violation::BelowDname { .. } => 7,
            Violation::NestedDelegation { .. } => 8,
            Violation::MissingGlue { .. } => 9,
            _ => return None,
        })
    }
}

/// The first five names, then how many more.
fn list(names: &[Name]) -> String {
    let mut s: Vec<String> = names.iter().take(5).map(|n| n.to_string()).collect();
    if names.len() > 5 {
        s.push(format!("and {} more", names.len() - 5));
    }
    s.join(", ")
}

/// The first five pairs as `a <sep> b`, then how many more.
fn pairs(names: &[(Name, Name)], sep: &str) -> String {
    let mut s: Vec<String> = names
        .iter()
        .take(5)
        .map(|(a, b)| format!("{a} {sep} {b}"))
        .collect();
    if names.len() > 5 {
        s.push(format!("and {} more", names.len() - 5));
    }
    s.join(", ")
}

/// The first five records as `owner TYPE` (no count of the rest).
fn record_list(records: &[(Name, RType)]) -> String {
    let s: Vec<String> = records
        .iter()
        .take(5)
        .map(|(n, t)| format!("{n} {t}"))
        .collect();
    s.join(", ")
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Empty => write!(f, "the zone has no records"),
            Violation::TooManyRecords { count, max } => {
                write!(
                    f,
                    "{count} records exceed the limit of {max} (limits.records_max)"
                )
            }
            Violation::BodyTooLarge { bytes, max } => {
                write!(
                    f,
                    "plan body of {bytes} bytes exceeds the limit of {max} (limits.body_bytes_max)"
                )
            }
            Violation::Malformed { records } => write!(
                f,
                "record data not in canonical wire form (malformed, compressed or not lower-cased): {}",
                record_list(records)
            ),
            Violation::Duplicate { records } => {
                write!(
                    f,
                    "duplicate records (RFC 2181 §5): {}",
                    record_list(records)
                )
            }
            Violation::NoSoa => write!(f, "no SOA record at the zone apex (RFC 1035)"),
            Violation::ExtraSoa { owners } => {
                write!(
                    f,
                    "exactly one SOA is allowed, at the apex (RFC 1035); found at {}",
                    list(owners)
                )
            }
            Violation::NoApexNs => write!(f, "no NS records at the zone apex (RFC 1034 §4.2.1)"),
            Violation::OutOfZone { names } => {
                write!(
                    f,
                    "owner names outside the zone origin (RFC 1034): {}",
                    list(names)
                )
            }
            Violation::CnameConflict { names } => write!(
                f,
                "CNAME alongside other data or a second CNAME (RFC 1034 §3.6.2): {}",
                list(names)
            ),
            Violation::MultipleDname { names } => {
                write!(
                    f,
                    "more than one DNAME at a name (RFC 6672 §2.4): {}",
                    list(names)
                )
            }
            Violation::DnameAndNs { names } => {
                write!(
                    f,
                    "DNAME and NS at a non-apex name (RFC 6672 §2.3): {}",
                    list(names)
                )
            }
            Violation::BelowDname { names } => {
                write!(
                    f,
                    "names below a DNAME owner (RFC 6672 §2.4): {}",
                    pairs(names, "is below DNAME")
                )
            }
            Violation::NestedDelegation { names } => write!(
                f,
                "NS owner below another non-apex NS owner (RFC 1034 §4.2.1): {}",
                pairs(names, "is below delegation")
            ),
            Violation::MissingGlue { names } => write!(
                f,
                "in-zone NS target without address records (RFC 1035 glue): {}",
                pairs(names, "NS")
            ),
            Violation::TtlOutOfRange {
                name,
                ttl,
                min,
                max,
            } => {
                write!(
                    f,
                    "TTL {ttl} at {name} is outside [{min}, {max}] (limits.ttl_min/ttl_max)"
                )
            }
        }
    }
}

/// A zone that failed validation: every broken rule, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Invalid {
    pub zone: Name,
    pub violations: Vec<Violation>,
}

impl Invalid {
    /// The rule name of the first violation, used as the refusal reason `invalid:<rule>`.
    pub fn first_rule(&self) -> &'static str {
        self.violations
            .first()
            .map(Violation::rule)
            .unwrap_or("unknown")
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "zone {} is invalid: ", self.zone)?;
        for (i, v) in self.violations.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

/// Checks every rule and returns the zone in canonical order, or every violation found.
///
/// Violations come in a fixed order: emptiness, the limits, malformed data, then the Ferret
/// conditions 1–9 in their numeric order (the apex NS requirement sits with condition 2, the
/// SOA rule), so a zone that breaks one condition reports that condition first.
///
/// How the rules read the zone:
/// - Records that are the same record (owner, type, data; RFC 2181 §5) are reported once, as
///   duplicates, and every later rule sees them once. Repeated SOA records are reported as
///   extra SOAs (condition 2), not as duplicates.
/// - Records outside the origin are reported once, as out of zone (condition 3); the rules of
///   conditions 4–9 look only at the names at or below the origin.
pub fn validate(parsed: ParsedZone, limits: &Limits) -> Result<Zone, Invalid> {
    let origin = parsed.origin;
    let mut records = parsed.records;
    if records.is_empty() {
        return Err(Invalid {
            zone: origin,
            violations: vec![Violation::Empty],
        });
    }
    sort_canonical(&mut records);
    match check(&origin, &records, limits) {
        Ok(summary) => Ok(Zone::from_checked(origin, records, summary)),
        Err(violations) => Err(Invalid {
            zone: origin,
            violations,
        }),
    }
}

/// Sorts records by [`Record::canonical_cmp`].
///
/// A body read back from the store is sorted already, which one pass finds. Otherwise the
/// records are sorted through a list of (key, index) pairs: the key is the owner's
/// [`Name::order_key`] below the owners' closest common ancestor (usually the origin), which
/// decides most comparisons with one integer comparison; equal keys fall back to the full
/// order. Records that compare equal are equal in every field, so an unstable sort gives the
/// same order as a stable one.
fn sort_canonical(records: &mut Vec<Record>) {
    if records.is_sorted_by(|a, b| a.canonical_cmp(b).is_le()) {
        return;
    }
    let Some(first) = records.first() else {
        return;
    };
    if u32::try_from(records.len()).is_err() {
        records.sort_unstable_by(Record::canonical_cmp);
        return;
    }
    let mut ancestor = first.owner.clone();
    for r in records.iter() {
        while !r.owner.is_at_or_below(&ancestor) {
            // Every name is at or below the root, which has no parent.
            let Some(parent) = ancestor.parent() else {
                break;
            };
            ancestor = parent;
        }
    }
    let suffix = ancestor.wire_len();
    let mut order: Vec<(u64, u32)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.owner.order_key(suffix), i as u32))
        .collect();
    order.sort_unstable_by(|x, y| {
        x.0.cmp(&y.0)
            .then_with(|| records[x.1 as usize].canonical_cmp(&records[y.1 as usize]))
    });
    // Gather the records in their order into a new list: one pass, writing in sequence.
    // (Moving them within the list, cycle by cycle, writes all over it and is slower.)
    let placeholder = || Record {
        owner: Name::root(),
        rtype: RType(0),
        ttl: 0,
        rdata: RecordData::default(),
    };
    let sorted: Vec<Record> = order
        .iter()
        .map(|&(_, i)| std::mem::replace(&mut records[i as usize], placeholder()))
        .collect();
    *records = sorted;
}

/// True if the record data is in the canonical wire form of its type: well-formed, without
/// compression and with the embedded names of the RFC 4034 §6.2 types in lower case.
fn is_canonical(r: &Record) -> bool {
    match r.rtype {
        // Fixed-size data with no names: canonical exactly when it has its size (what the
        // general path below finds too; `canonical_form_of_addresses_is_their_size` checks).
        RType::A => r.rdata.len() == 4,
        RType::AAAA => r.rdata.len() == 16,
        _ => canonical_rdata(r.rtype.0, &r.rdata).is_ok_and(|c| c[..] == r.rdata[..]),
    }
}

/// Pushes `item` unless it equals the last item (the input is sorted, so this dedups).
fn push_new<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if list.last() != Some(&item) {
        list.push(item);
    }
}

/// All the rules, over records sorted by [`Record::canonical_cmp`]. The violations come in a
/// fixed order: limits, data, duplicates, SOA and apex NS, out of zone, then the name rules.
/// Without any, the records' summary.
fn check(origin: &Name, records: &[Record], limits: &Limits) -> Result<Summary, Vec<Violation>> {
    let mut violations = Vec::new();
    let mut pass = RecordPass::over(origin, records, limits);
    pass.check_limits(records.len(), limits, &mut violations);
    check_soa(origin, &pass.soa_owners, pass.apex_ns, &mut violations);
    let inside = inside_the_zone(origin, pass.unique, &mut violations);
    let (mut names, ns_targets) = NameFindings::walk(origin, &inside);
    names.missing_glue = missing_glue(&inside, ns_targets);
    names.push_into(&mut violations);
    if violations.is_empty() {
        Ok(pass.summary)
    } else {
        Err(violations)
    }
}

/// What one pass over the records finds for the rules that look at records one by one (the
/// limits, the data, the SOA rule and the apex NS set), keeping each record's first copy
/// (condition 1: equal records are adjacent in canonical order).
struct RecordPass<'r> {
    summary: Summary,
    ttl_out_of_range: Option<&'r Record>,
    malformed: Vec<(Name, RType)>,
    unique: Vec<&'r Record>,
    duplicates: Vec<(Name, RType)>,
    soa_owners: Vec<&'r Name>,
    apex_ns: bool,
}

impl<'r> RecordPass<'r> {
    fn over(origin: &Name, records: &'r [Record], limits: &Limits) -> Self {
        let mut pass = RecordPass {
            summary: Summary::of(&[]),
            ttl_out_of_range: None,
            malformed: Vec::new(),
            unique: Vec::with_capacity(records.len()),
            duplicates: Vec::new(),
            soa_owners: Vec::new(),
            apex_ns: false,
        };
        for r in records {
            let s = &mut pass.summary;
            s.body_bytes = s.body_bytes.saturating_add(body_len(r));
            (s.ttl_low, s.ttl_high) = (s.ttl_low.min(r.ttl), s.ttl_high.max(r.ttl));
            if pass.ttl_out_of_range.is_none() && (r.ttl < limits.ttl_min || r.ttl > limits.ttl_max)
            {
                pass.ttl_out_of_range = Some(r);
            }
            if !is_canonical(r) {
                push_new(&mut pass.malformed, (r.owner.clone(), r.rtype));
            }
            if r.rtype == RType::SOA {
                pass.soa_owners.push(&r.owner);
            }
            match pass.unique.last() {
                Some(last) if last.same_record(r) => {
                    if r.rtype != RType::SOA {
                        push_new(&mut pass.duplicates, (r.owner.clone(), r.rtype));
                    }
                }
                _ => {
                    pass.apex_ns |= r.rtype == RType::NS && r.owner == *origin;
                    pass.unique.push(r);
                }
            }
        }
        pass
    }

    /// The limits, malformed data and condition 1 (every record once).
    fn check_limits(&mut self, count: usize, limits: &Limits, violations: &mut Vec<Violation>) {
        if count > limits.records_max {
            violations.push(Violation::TooManyRecords {
                count,
                max: limits.records_max,
            });
        }
        if self.summary.body_bytes > limits.body_bytes_max {
            violations.push(Violation::BodyTooLarge {
                bytes: self.summary.body_bytes,
                max: limits.body_bytes_max,
            });
        }
        if let Some(r) = self.ttl_out_of_range {
            violations.push(Violation::TtlOutOfRange {
                name: r.owner.clone(),
                ttl: r.ttl,
                min: limits.ttl_min,
                max: limits.ttl_max,
            });
        }
        if !self.malformed.is_empty() {
            violations.push(Violation::Malformed {
                records: std::mem::take(&mut self.malformed),
            });
        }
        if !self.duplicates.is_empty() {
            violations.push(Violation::Duplicate {
                records: std::mem::take(&mut self.duplicates),
            });
        }
    }
}

/// Condition 2: exactly one SOA, at the apex; and the apex needs NS records too.
fn check_soa(origin: &Name, soa_owners: &[&Name], apex_ns: bool, violations: &mut Vec<Violation>) {
    let apex_soas = soa_owners.iter().filter(|o| **o == origin).count();
    if apex_soas == 0 {
        violations.push(Violation::NoSoa);
    }
    let mut extra: Vec<Name> = Vec::new();
    for o in soa_owners.iter().filter(|o| **o != origin) {
        push_new(&mut extra, (*o).clone());
    }
    if apex_soas > 1 {
        extra.push(origin.clone());
        extra.sort();
    }
    if !extra.is_empty() {
        violations.push(Violation::ExtraSoa { owners: extra });
    }
    if !apex_ns {
        violations.push(Violation::NoApexNs);
    }
}

/// Condition 3: every owner at or below the origin. Returns the records inside, which the
/// rest of the rules look at: the zone's own names only.
fn inside_the_zone<'r>(
    origin: &Name,
    unique: Vec<&'r Record>,
    violations: &mut Vec<Violation>,
) -> Vec<&'r Record> {
    let mut outside = Vec::new();
    let mut inside: Vec<&Record> = Vec::with_capacity(unique.len());
    for r in unique {
        if r.owner.is_at_or_below(origin) {
            inside.push(r);
        } else {
            push_new(&mut outside, r.owner.clone());
        }
    }
    if !outside.is_empty() {
        violations.push(Violation::OutOfZone { names: outside });
    }
    inside
}

/// The names that break conditions 4 to 9, in canonical order.
#[derive(Default)]
struct NameFindings {
    cname_conflict: Vec<Name>,
    multiple_dname: Vec<Name>,
    dname_and_ns: Vec<Name>,
    below_dname: Vec<(Name, Name)>,
    nested: Vec<(Name, Name)>,
    missing_glue: Vec<(Name, Name)>,
}

/// How many records of which kind one owner has, for conditions 4 to 8.
struct NodeCounts {
    cnames: usize,
    others: usize,
    dnames: usize,
    ns: bool,
}

impl NodeCounts {
    fn of(node: &[&Record]) -> Self {
        let mut counts = NodeCounts {
            cnames: 0,
            others: 0,
            dnames: 0,
            ns: false,
        };
        for r in node {
            match r.rtype {
                RType::CNAME => counts.cnames += 1,
                RTYPE_RRSIG | RTYPE_NSEC => {}
                t => {
                    counts.others += 1;
                    if t == RType::DNAME {
                        counts.dnames += 1;
                    }
                    counts.ns |= t == RType::NS;
                }
            }
        }
        counts
    }
}

impl NameFindings {
    /// Conditions 4 to 8, one owner at a time, and the in-zone NS targets for condition 9 as
    /// (NS owner, target), in canonical order of the NS records.
    fn walk<'r>(origin: &Name, inside: &[&'r Record]) -> (Self, Vec<(&'r Name, Name)>) {
        let mut found = NameFindings::default();
        // Enclosing DNAME owners and delegation points of the current name, outermost first.
        // Canonical order puts every name right after its ancestors and before anything
        // else, so a stack is enough.
        let mut dnames: Vec<&Name> = Vec::new();
        let mut cuts: Vec<&Name> = Vec::new();
        let mut ns_targets: Vec<(&Name, Name)> = Vec::new();
        for node in inside.chunk_by(|a, b| a.owner == b.owner) {
            let owner = &node[0].owner;
            let counts = NodeCounts::of(node);
            found.owner_rules(origin, owner, &counts);
            // Condition 7: nothing below a DNAME owner.
            while dnames.last().is_some_and(|d| !owner.is_below(d)) {
                dnames.pop();
            }
            if let Some(d) = dnames.last() {
                found.below_dname.push((owner.clone(), (*d).clone()));
            }
            if counts.dnames > 0 {
                dnames.push(owner);
            }
            // Condition 8: no delegation below a delegation.
            if counts.ns && owner != origin {
                while cuts.last().is_some_and(|c| !owner.is_below(c)) {
                    cuts.pop();
                }
                if let Some(c) = cuts.last() {
                    found.nested.push((owner.clone(), (*c).clone()));
                }
                cuts.push(owner);
            }
            for r in node.iter().filter(|r| counts.ns && r.rtype == RType::NS) {
                if let Some(target) = r.target_name()
                    && target.is_at_or_below(origin)
                {
                    ns_targets.push((owner, target));
                }
            }
        }
        (found, ns_targets)
    }

    /// Conditions 4 to 6, which look at one owner's records alone.
    fn owner_rules(&mut self, origin: &Name, owner: &Name, counts: &NodeCounts) {
        // Condition 4: a CNAME stands alone. RFC 4035 §2.5 lets RRSIG and NSEC sit beside it.
        if counts.cnames > 1 || (counts.cnames == 1 && counts.others > 0) {
            self.cname_conflict.push(owner.clone());
        }
        // Condition 5: at most one DNAME.
        if counts.dnames > 1 {
            self.multiple_dname.push(owner.clone());
        }
        // Condition 6: no DNAME beside NS except at the apex.
        if counts.dnames > 0 && counts.ns && owner != origin {
            self.dname_and_ns.push(owner.clone());
        }
    }

    fn push_into(self, violations: &mut Vec<Violation>) {
        if !self.cname_conflict.is_empty() {
            violations.push(Violation::CnameConflict {
                names: self.cname_conflict,
            });
        }
        if !self.multiple_dname.is_empty() {
            violations.push(Violation::MultipleDname {
                names: self.multiple_dname,
            });
        }
        if !self.dname_and_ns.is_empty() {
            violations.push(Violation::DnameAndNs {
                names: self.dname_and_ns,
            });
        }
        if !self.below_dname.is_empty() {
            violations.push(Violation::BelowDname {
                names: self.below_dname,
            });
        }
        if !self.nested.is_empty() {
            violations.push(Violation::NestedDelegation { names: self.nested });
        }
        if !self.missing_glue.is_empty() {
            violations.push(Violation::MissingGlue {
                names: self.missing_glue,
            });
        }
    }
}

/// Condition 9: an NS target inside the zone needs address records at that very name, whether
/// it is glue below a delegation or authoritative data (RFC 1035 §5, RFC 9471). The records
/// are sorted by owner, so a target's records are found by binary search.
fn missing_glue(inside: &[&Record], ns_targets: Vec<(&Name, Name)>) -> Vec<(Name, Name)> {
    let addressed = |target: &Name| {
        let start = inside.partition_point(|r| r.owner < *target);
        inside[start..]
            .iter()
            .take_while(|r| r.owner == *target)
            .any(|r| r.rtype == RType::A || r.rtype == RType::AAAA)
    };
    let mut missing = Vec::new();
    for (owner, target) in ns_targets {
        if !addressed(&target) {
            push_new(&mut missing, (owner.clone(), target));
        }
    }
    missing
}

/// RRSIG (RFC 4034).
const RTYPE_RRSIG: RType = RType(46);
/// NSEC (RFC 4034).
const RTYPE_NSEC: RType = RType(47);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::n;
    use crate::zonefile::parse;

    const HEAD: &str = "ex. 300 IN SOA ns.ex. hm.ex. 1 7200 3600 1209600 300\n\
                        ex. 300 IN NS ns.ex.\n\
                        ns.ex. 300 IN A 192.0.2.53\n";

    fn run(body: &str) -> Result<Zone, Invalid> {
        let text = format!("{HEAD}{body}");
        validate(parse(&text, None, "t").unwrap(), &Limits::default())
    }

    fn rules(body: &str) -> Vec<&'static str> {
        match run(body) {
            Ok(_) => Vec::new(),
            Err(e) => e.violations.iter().map(Violation::rule).collect(),
        }
    }

    fn violations(body: &str) -> Vec<Violation> {
        run(body).err().map(|e| e.violations).unwrap_or_default()
    }

    #[test]
    fn a_sound_zone_is_accepted_in_canonical_order() {
        let zone = run(
            "b.ex. A 1.1.1.1\nA.ex. A 1.1.1.1\nsub.ex. NS ns.sub.ex.\nns.sub.ex. A 1.1.1.2\n\
                        alias.ex. CNAME b.ex.\nd.ex. DNAME other.\nd.ex. A 1.1.1.3\n",
        )
        .unwrap();
        let records = zone.records().to_vec();
        assert!(
            records
                .windows(2)
                .all(|w| w[0].canonical_cmp(&w[1]).is_lt())
        );
        assert_eq!(records[0].owner, n("ex."));
        assert_eq!(zone.soa().serial, 1);
    }

    #[test]
    fn empty_zone() {
        let e = validate(
            ParsedZone {
                origin: n("ex."),
                records: vec![],
            },
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(e.violations, vec![Violation::Empty]);
        assert_eq!(e.first_rule(), "empty");
    }

    #[test]
    fn limits() {
        let parsed = parse(HEAD, None, "t").unwrap();
        let limits = Limits {
            records_max: 2,
            body_bytes_max: 40,
            ttl_min: 301,
            ttl_max: 400,
        };
        let e = validate(parsed, &limits).unwrap_err();
        assert_eq!(
            e.violations[0],
            Violation::TooManyRecords { count: 3, max: 2 }
        );
        assert!(matches!(
            e.violations[1],
            Violation::BodyTooLarge { max: 40, .. }
        ));
        assert_eq!(
            e.violations[2],
            Violation::TtlOutOfRange {
                name: n("ex."),
                ttl: 300,
                min: 301,
                max: 400
            }
        );
        // The body size is the size of the canonical body.
        let zone = validate(parse(HEAD, None, "t").unwrap(), &Limits::default()).unwrap();
        let exact = Limits {
            body_bytes_max: zone.body().len(),
            ..Limits::default()
        };
        assert!(validate(parse(HEAD, None, "t").unwrap(), &exact).is_ok());
        let under = Limits {
            body_bytes_max: zone.body().len() - 1,
            ..Limits::default()
        };
        assert!(validate(parse(HEAD, None, "t").unwrap(), &under).is_err());
    }

    #[test]
    fn malformed_record_data() {
        let mut parsed = parse(HEAD, None, "t").unwrap();
        parsed.records.push(Record {
            owner: n("x.ex."),
            rtype: RType::A,
            ttl: 1,
            rdata: Box::new([1, 2, 3]).into(),
        });
        // Not lower-cased.
        parsed.records.push(Record {
            owner: n("y.ex."),
            rtype: RType::CNAME,
            ttl: 1,
            rdata: Box::new(*b"\x01A\x02ex\x00").into(),
        });
        let e = validate(parsed, &Limits::default()).unwrap_err();
        assert_eq!(
            e.violations,
            vec![Violation::Malformed {
                records: vec![(n("x.ex."), RType::A), (n("y.ex."), RType::CNAME)]
            }]
        );
    }

    #[test]
    fn keyed_sort_is_the_canonical_order() {
        let mut next = crate::testkit::xorshift(0x853c_49e6_748f_ea9b);
        // Labels that make the key's work hard: shared prefixes, octets 0, 253, 254 and 255,
        // labels longer than the key, and names of several depths and outside the origin.
        let labels = &crate::testkit::HARD_LABELS[..12];
        let roots: [&[&[u8]]; 4] = [&[b"ex"], &[b"sub", b"ex"], &[b"other"], &[]];
        for round in 0..300 {
            let size = (next() % 60) as usize;
            let mut records: Vec<Record> = (0..size)
                .map(|_| {
                    let mut name: Vec<&[u8]> = (0..next() % 4)
                        .map(|_| labels[next() as usize % labels.len()])
                        .collect();
                    let root = if round % 5 == 0 {
                        roots[next() as usize % roots.len()]
                    } else {
                        roots[0]
                    };
                    name.extend_from_slice(root);
                    Record {
                        owner: Name::from_labels(name).unwrap(),
                        rtype: RType((next() % 3) as u16 + 1),
                        ttl: (next() % 2) as u32,
                        rdata: Box::new([(next() % 2) as u8]).into(),
                    }
                })
                .collect();
            let mut expected = records.clone();
            expected.sort_by(Record::canonical_cmp);
            sort_canonical(&mut records);
            assert_eq!(records, expected);
        }
    }

    #[test]
    fn canonical_form_of_addresses_is_their_size() {
        for rtype in [RType::A, RType::AAAA] {
            for len in 0..40 {
                let r = Record {
                    owner: n("x.ex."),
                    rtype,
                    ttl: 1,
                    rdata: (0..len as u8).collect(),
                };
                let general =
                    canonical_rdata(rtype.0, &r.rdata).is_ok_and(|c| c[..] == r.rdata[..]);
                assert_eq!(is_canonical(&r), general, "{rtype} of {len} octets");
                assert_eq!(general, len == if rtype == RType::A { 4 } else { 16 });
            }
        }
    }

    #[test]
    fn cond1_duplicates_ignore_ttl_and_case() {
        let v = violations("www.ex. 60 A 1.1.1.1\nWWW.EX. 120 A 1.1.1.1\nwww.ex. A 1.1.1.2\n");
        assert_eq!(
            v,
            vec![Violation::Duplicate {
                records: vec![(n("www.ex."), RType::A)]
            }]
        );
        assert_eq!(v[0].condition(), Some(1));
        // A duplicated NS does not also upset the NS rules.
        assert_eq!(
            rules("sub.ex. NS ns.sub.ex.\nsub.ex. NS ns.sub.ex.\nns.sub.ex. A 1.1.1.1\n"),
            vec!["duplicate"]
        );
        assert_eq!(rules("ex. NS ns.ex.\n"), vec!["duplicate"]);
        // Two different addresses are one RRset, not duplicates.
        assert!(rules("www.ex. A 1.1.1.1\nwww.ex. A 2.2.2.2\n").is_empty());
    }

    #[test]
    fn cond2_exactly_one_soa_at_the_apex() {
        let v = violations("ex. SOA ns.ex. hm.ex. 2 7200 3600 1209600 300\n");
        assert_eq!(
            v,
            vec![Violation::ExtraSoa {
                owners: vec![n("ex.")]
            }]
        );
        assert_eq!(v[0].condition(), Some(2));
        // A repeated identical SOA is an extra SOA, not a duplicate.
        assert_eq!(
            rules("ex. SOA ns.ex. hm.ex. 1 7200 3600 1209600 300\n"),
            vec!["extra-soa"]
        );
        assert_eq!(
            violations("sub.ex. SOA ns.ex. hm.ex. 1 7200 3600 1209600 300\n"),
            vec![Violation::ExtraSoa {
                owners: vec![n("sub.ex.")]
            }]
        );
        let parsed = parse(
            "ex. 300 NS ns.ex.\nns.ex. A 1.1.1.1\n",
            Some(&n("ex.")),
            "t",
        )
        .unwrap();
        let e = validate(parsed, &Limits::default()).unwrap_err();
        assert_eq!(e.violations, vec![Violation::NoSoa]);
        assert_eq!(e.violations[0].condition(), Some(2));
    }

    #[test]
    fn apex_needs_ns() {
        let parsed = parse(
            "ex. 300 SOA ns.x. hm.x. 1 2 3 4 5\nwww.ex. A 1.1.1.1\n",
            None,
            "t",
        )
        .unwrap();
        let e = validate(parsed, &Limits::default()).unwrap_err();
        assert_eq!(e.violations, vec![Violation::NoApexNs]);
        assert_eq!(e.first_rule(), "no-apex-ns");
    }

    #[test]
    fn cond3_names_outside_the_origin() {
        let v = violations("www.other. A 1.1.1.1\nx.ex.other. DNAME y.\nfoo.ex.other. A 1.1.1.1\n");
        assert_eq!(
            v,
            vec![Violation::OutOfZone {
                // Canonical order: labels compare from the root.
                names: vec![n("foo.ex.other."), n("x.ex.other."), n("www.other.")]
            }]
        );
        assert_eq!(v[0].condition(), Some(3));
    }

    #[test]
    fn cond4_cname_stands_alone() {
        let v = violations(
            "a.ex. CNAME b.ex.\na.ex. A 1.1.1.1\nc.ex. CNAME b.ex.\nc.ex. CNAME d.ex.\n",
        );
        assert_eq!(
            v,
            vec![Violation::CnameConflict {
                names: vec![n("a.ex."), n("c.ex.")]
            }]
        );
        assert_eq!(v[0].condition(), Some(4));
        assert_eq!(rules("ex. CNAME x.\n"), vec!["cname-conflict"]);
        assert_eq!(
            rules("a.ex. CNAME b.ex.\na.ex. DNAME b.ex.\n"),
            vec!["cname-conflict"]
        );
        // RFC 4035: RRSIG and NSEC may sit beside a CNAME.
        assert!(rules("a.ex. CNAME b.ex.\na.ex. NSEC b.ex. CNAME RRSIG NSEC\n").is_empty());
        // The same CNAME twice is a duplicate only.
        assert_eq!(
            rules("a.ex. CNAME b.ex.\na.ex. CNAME B.ex.\n"),
            vec!["duplicate"]
        );
    }

    #[test]
    fn cond5_one_dname_per_name() {
        let v = violations("d.ex. DNAME a.\nd.ex. DNAME b.\n");
        assert_eq!(
            v,
            vec![Violation::MultipleDname {
                names: vec![n("d.ex.")]
            }]
        );
        assert_eq!(v[0].condition(), Some(5));
        assert_eq!(rules("d.ex. DNAME a.\nd.ex. DNAME A.\n"), vec!["duplicate"]);
    }

    #[test]
    fn cond6_dname_and_ns_only_at_the_apex() {
        let v = violations("d.ex. DNAME a.\nd.ex. NS ns.other.\n");
        assert_eq!(
            v,
            vec![Violation::DnameAndNs {
                names: vec![n("d.ex.")]
            }]
        );
        assert_eq!(v[0].condition(), Some(6));
        // At the apex, DNAME and NS go together (RFC 6672 §2.3).
        let text =
            "ex. 300 SOA ns.other. hm.other. 1 2 3 4 5\nex. NS ns.other.\nex. DNAME other.\n";
        assert!(validate(parse(text, None, "t").unwrap(), &Limits::default()).is_ok());
    }

    #[test]
    fn cond7_nothing_below_a_dname() {
        let v =
            violations("d.ex. DNAME a.\nx.d.ex. A 1.1.1.1\ny.x.d.ex. TXT t\nd2.ex. A 1.1.1.1\n");
        assert_eq!(
            v,
            vec![Violation::BelowDname {
                names: vec![(n("x.d.ex."), n("d.ex.")), (n("y.x.d.ex."), n("d.ex."))]
            }]
        );
        assert_eq!(v[0].condition(), Some(7));
        // A DNAME below a DNAME is below it too.
        assert_eq!(
            rules("d.ex. DNAME a.\ne.d.ex. DNAME b.\n"),
            vec!["below-dname"]
        );
    }

    #[test]
    fn cond8_no_delegation_below_a_delegation() {
        let v = violations(
            "a.ex. NS ns.other.\nb.a.ex. NS ns.other.\nc.b.a.ex. NS ns.other.\nz.ex. NS ns.other.\n",
        );
        assert_eq!(
            v,
            vec![Violation::NestedDelegation {
                names: vec![(n("b.a.ex."), n("a.ex.")), (n("c.b.a.ex."), n("b.a.ex."))]
            }]
        );
        assert_eq!(v[0].condition(), Some(8));
        // Siblings are fine; the apex is not a delegation.
        assert!(rules("a.ex. NS ns.other.\nb.ex. NS ns.other.\n").is_empty());
    }

    #[test]
    fn cond9_in_zone_ns_targets_need_addresses() {
        // Below a delegation: glue.
        let v = violations("sub.ex. NS ns.sub.ex.\n");
        assert_eq!(
            v,
            vec![Violation::MissingGlue {
                names: vec![(n("sub.ex."), n("ns.sub.ex."))]
            }]
        );
        assert_eq!(v[0].condition(), Some(9));
        assert!(rules("sub.ex. NS ns.sub.ex.\nns.sub.ex. AAAA 2001:db8::1\n").is_empty());
        // In the authoritative part, the apex included.
        assert_eq!(rules("sub.ex. NS ns2.ex.\n"), vec!["missing-glue"]);
        assert_eq!(rules("sub.ex. NS ex.\n"), vec!["missing-glue"]);
        assert_eq!(rules("ex. NS ns2.ex.\n"), vec!["missing-glue"]);
        // A CNAME or a wildcard is no address record.
        assert_eq!(
            rules("sub.ex. NS alias.ex.\nalias.ex. CNAME ns.ex.\n"),
            vec!["missing-glue"]
        );
        assert_eq!(
            rules("sub.ex. NS x.w.ex.\n*.w.ex. A 1.1.1.1\n"),
            vec!["missing-glue"]
        );
        // Targets outside the zone need nothing.
        assert!(rules("sub.ex. NS ns.other.\nsub2.ex. NS ex2.\n").is_empty());
    }

    #[test]
    fn every_violation_is_collected_in_order() {
        let v = rules(
            "a.ex. A 1.1.1.1\na.ex. A 1.1.1.1\nsub.ex. SOA ns.ex. hm.ex. 1 2 3 4 5\nx.other. A 1.1.1.1\n\
             c.ex. CNAME a.ex.\nc.ex. TXT t\nd.ex. DNAME a.\nd.ex. DNAME b.\nd.ex. NS ns.other.\n\
             x.d.ex. A 1.1.1.1\np.ex. NS ns.other.\nq.p.ex. NS ns.p.ex.\n",
        );
        assert_eq!(
            v,
            vec![
                "duplicate",
                "extra-soa",
                "out-of-zone",
                "cname-conflict",
                "multiple-dname",
                "dname-and-ns",
                "below-dname",
                "nested-delegation",
                "missing-glue",
            ]
        );
        let e = run("a.ex. A 1.1.1.1\na.ex. A 1.1.1.1\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "zone ex. is invalid: duplicate records (RFC 2181 §5): a.ex. A"
        );
    }
}
