//! The dependency map of a zone (`zonegate deps`): every out-of-zone name its records point
//! to, grouped by registrable domain, with each group's share, the names left with a single
//! external target, and the concentration (the largest share). Pure: a function of a [`Zone`].
//!
//! # Design
//!
//! - A name *depends on* an outside name when one of its answer paths ends there. The paths
//!   start at the name's CNAME, DNAME, MX, NS, SRV, SVCB and HTTPS records; a target inside
//!   the zone is followed through its CNAME chain (at most [`CHAIN_MAX`] links) and ends
//!   inside the zone when it has none. Records below a zone cut (glue) are not the zone's.
//! - A group is a *registrable domain* (the public suffix plus one label), found with the
//!   Public Suffix List compiled into the `psl` crate: `elb.example-cloud.com` and
//!   `s3.example-cloud.com` are one provider, `a.co.uk` and `b.co.uk` are two. A name that is
//!   itself a public suffix is its own group.
//! - A group's share is its names over all names with an out-of-zone target, in percent.
//! - A name has a *single target* when every one of its paths ends at the same outside
//!   name: no second choice (one CNAME, or every MX pointing to one host).

mod change;
#[cfg(test)]
mod tests;

pub use change::{DepChange, changes};

use std::collections::{BTreeMap, BTreeSet};

use crate::dns::name::Name;
use crate::dns::record::{RType, Record};
use crate::zone::Zone;
use crate::zone::diff::{Change, Diff};

/// The longest CNAME chain followed inside the zone.
pub const CHAIN_MAX: usize = 16;

/// SVCB (RFC 9460).
const SVCB: RType = RType(64);
/// HTTPS (RFC 9460).
const HTTPS: RType = RType(65);

/// Where one name's answer paths end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameDeps {
    /// The outside names its paths end at.
    pub targets: BTreeSet<Name>,
    /// Whether some path ends inside the zone.
    pub ends_inside: bool,
}

impl NameDeps {
    /// The one outside name every path ends at, if there is exactly one and no path ends
    /// inside the zone.
    pub fn single_target(&self) -> Option<&Name> {
        (self.targets.len() == 1 && !self.ends_inside)
            .then(|| self.targets.first())
            .flatten()
    }
}

/// One registrable domain the zone leans on.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub domain: Name,
    /// The outside names under it that the zone points to.
    pub targets: BTreeSet<Name>,
    /// The zone's names that depend on it.
    pub names: BTreeSet<Name>,
    /// `names` over all names with an outside target, in percent.
    pub share_percent: f64,
}

/// A zone's dependency map.
#[derive(Debug, Clone, PartialEq)]
pub struct DepMap {
    /// Every name with at least one outside target.
    pub names: BTreeMap<Name, NameDeps>,
    /// Largest share first, then by domain.
    pub groups: Vec<Group>,
}

impl DepMap {
    /// The map of `zone`.
    pub fn of(zone: &Zone) -> DepMap {
        let by_owner = owners(zone);
        let cuts: Vec<&Name> = by_owner
            .iter()
            .filter(|(n, rs)| **n != zone.origin() && rs.iter().any(|r| r.rtype == RType::NS))
            .map(|(n, _)| *n)
            .collect();
        let mut names = BTreeMap::new();
        for (owner, records) in &by_owner {
            if cuts.iter().any(|c| owner.is_below(c)) {
                continue;
            }
            let mut deps = NameDeps::default();
            for target in records.iter().filter_map(target_of) {
                follow(zone.origin(), &by_owner, target, &mut deps);
            }
            if !deps.targets.is_empty() {
                names.insert((*owner).clone(), deps);
            }
        }
        let groups = group(&names);
        DepMap { names, groups }
    }

    /// The largest group: the concentration of the zone's outside dependencies.
    pub fn concentration(&self) -> Option<&Group> {
        self.groups.first()
    }

    /// The names whose every path ends at one outside name, with that name.
    pub fn single_target(&self) -> impl Iterator<Item = (&Name, &Name)> {
        self.names
            .iter()
            .filter_map(|(n, d)| d.single_target().map(|t| (n, t)))
    }
}

/// The zone's records by owner.
fn owners(zone: &Zone) -> BTreeMap<&Name, Vec<&Record>> {
    let mut out: BTreeMap<&Name, Vec<&Record>> = BTreeMap::new();
    for r in zone.records() {
        out.entry(&r.owner).or_default().push(r);
    }
    out
}

/// The name a record points to, for the types that point somewhere (none for an SVCB or
/// HTTPS record whose target is "." , which means its own owner).
fn target_of(r: &&Record) -> Option<Name> {
    match r.rtype {
        RType::CNAME | RType::DNAME | RType::MX | RType::NS | RType::SRV => r.target_name(),
        SVCB | HTTPS => Name::from_wire(r.rdata.get(2..)?)
            .ok()
            .map(|(n, _)| n)
            .filter(|n| !n.is_root()),
        _ => None,
    }
}

/// Follows `target` through CNAMEs inside the zone and records where it ends.
fn follow(
    origin: &Name,
    by_owner: &BTreeMap<&Name, Vec<&Record>>,
    target: Name,
    deps: &mut NameDeps,
) {
    let mut name = target;
    for _ in 0..CHAIN_MAX {
        if !name.is_at_or_below(origin) {
            deps.targets.insert(name);
            return;
        }
        let next = by_owner
            .get(&name)
            .and_then(|rs| rs.iter().find(|r| r.rtype == RType::CNAME))
            .and_then(|r| r.target_name());
        match next {
            Some(n) => name = n,
            None => {
                deps.ends_inside = true;
                return;
            }
        }
    }
    // A chain longer than any resolver follows ends nowhere; count it as inside.
    deps.ends_inside = true;
}

/// The types whose records point to other names: only a change to one of them can change
/// the map.
const POINTING: [RType; 7] = [
    RType::CNAME,
    RType::DNAME,
    RType::MX,
    RType::NS,
    RType::SRV,
    SVCB,
    HTTPS,
];

/// True if `diff` changes a record that points somewhere, so that the map may differ (a
/// caller skips building two maps of a large zone when it cannot).
pub fn touches(diff: &Diff) -> bool {
    diff.changes.iter().any(|c| {
        let (Change::Added { rtype, .. }
        | Change::Removed { rtype, .. }
        | Change::Changed { rtype, .. }) = c;
        POINTING.contains(rtype)
    })
}

/// What the change from `old` to `new` (whose difference is `diff`) does to the map; nothing
/// without building either map when the diff touches no record that points somewhere.
pub fn change_of(old: &Zone, new: &Zone, diff: &Diff) -> Vec<DepChange> {
    if !touches(diff) {
        return Vec::new();
    }
    changes(&DepMap::of(old), &DepMap::of(new))
}

/// The registrable domain of an outside name.
pub fn registrable(name: &Name) -> Name {
    let text = name.to_string();
    let bare = text.trim_end_matches('.');
    psl::domain_str(bare)
        .and_then(|d| Name::parse(&format!("{d}.")).ok())
        .unwrap_or_else(|| name.clone())
}

fn group(names: &BTreeMap<Name, NameDeps>) -> Vec<Group> {
    let mut by_domain: BTreeMap<Name, (BTreeSet<Name>, BTreeSet<Name>)> = BTreeMap::new();
    for (owner, deps) in names {
        for t in &deps.targets {
            let (targets, owners) = by_domain.entry(registrable(t)).or_default();
            targets.insert(t.clone());
            owners.insert(owner.clone());
        }
    }
    let total = names.len().max(1) as f64;
    let mut groups: Vec<Group> = by_domain
        .into_iter()
        .map(|(domain, (targets, names))| Group {
            share_percent: names.len() as f64 * 100.0 / total,
            domain,
            targets,
            names,
        })
        .collect();
    groups.sort_by(|a, b| {
        b.names
            .len()
            .cmp(&a.names.len())
            .then(a.domain.cmp(&b.domain))
    });
    groups
}
