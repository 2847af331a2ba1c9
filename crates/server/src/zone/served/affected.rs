//! Which names' prepared answers a change between two generations of a zone can change, so
//! that an install prepares only those (issue 16, item 4).
//!
//! # Rule
//!
//! The answers at a name are made of the records at that name and, through the lookup, of
//! records elsewhere: a CNAME or DNAME chased to its target, the glue and additional
//! addresses of NS, MX and SRV targets, the referral of a zone cut above the name, the
//! wildcard that synthesises a missing target, and whether the name's children exist. The
//! negative SOA every negative answer carries is not counted: the prepared tails leave its
//! serial to be written at answer time, and a change to any other field of the SOA prepares
//! everything again. So, from the owners of the records that leave or come (the *roots*):
//! - a record of the old or the new content whose target is *related* to a root (at or below
//!   it, above it, or below the parent of a root that is a wildcard) makes its owner a root
//!   too, until nothing more is added (chains are bounded by the lookup's own bound);
//! - every proper ancestor of a root is rebuilt (existence of empty non-terminals, wildcard
//!   children, the NXDOMAIN flag of an encloser);
//! - every name at or below a root that is a non-apex NS or a DNAME owner, in the old or new
//!   content, is rebuilt (the referral or substitution above it changed).
//!
//! The rule is conservative: it may rebuild a name whose answers did not change, never the
//! other way round, which `tests/incremental.rs`-style comparisons (`incremental_tests.rs`)
//! check against a full preparation.

use std::collections::HashSet;

use zonegate_core::lookup::{CHAIN_MAX, ZoneIndex};
use zonegate_core::zone::delta::ZoneDelta;
use zonegate_core::{RType, Record};

/// The wire forms of the names whose prepared answers may differ between `old` and `new`,
/// or `None` if more than `limit` names would be, or the SOA changed in more than its serial
/// (then everything is prepared again).
pub(crate) fn affected_names(
    old: &ZoneIndex,
    new: &ZoneIndex,
    limit: usize,
) -> Option<Vec<Box<[u8]>>> {
    if !same_but_serial(old.zone().soa_record(), new.zone().soa_record())
        || !match (old.negative_soa(), new.negative_soa()) {
            (Some(a), Some(b)) => same_but_serial(a, b),
            (None, None) => true,
            _ => false,
        }
    {
        return None;
    }
    let delta = ZoneDelta::between(old.zone(), new.zone());
    if delta.len() > limit {
        return None;
    }
    let origin = new.origin().wire();
    let mut roots: HashSet<Box<[u8]>> = HashSet::new();
    for r in delta.removed().iter().chain(delta.added()) {
        if r.rtype == RType::SOA && r.owner.wire() == origin {
            continue;
        }
        roots.insert(r.owner.wire().into());
    }
    let pointers: Vec<(&Record, Box<[u8]>)> = [old, new]
        .into_iter()
        .flat_map(|i| i.records())
        .filter(|r| {
            matches!(
                r.rtype,
                RType::CNAME | RType::DNAME | RType::NS | RType::MX | RType::SRV
            )
        })
        .filter_map(|r| Some((r, r.target_name()?.wire().into())))
        .collect();
    let mut settled = false;
    for _ in 0..CHAIN_MAX + 2 {
        let related = Related::new(&roots);
        let grown: Vec<&Record> = pointers
            .iter()
            .filter(|(r, t)| !roots.contains(r.owner.wire()) && related.holds(t))
            .map(|(r, _)| *r)
            .collect();
        if grown.is_empty() {
            settled = true;
            break;
        }
        for r in grown {
            roots.insert(r.owner.wire().into());
        }
        if roots.len() > limit {
            return None;
        }
    }
    if !settled {
        return None;
    }
    let mut out: HashSet<Box<[u8]>> = HashSet::new();
    for root in &roots {
        for at in suffixes(root) {
            if root.len() - at >= origin.len() {
                out.insert(root[at..].into());
            }
        }
    }
    // Roots that are a zone cut or a DNAME owner in either content (every NS and DNAME
    // record of both is among the pointers).
    let cuts: HashSet<&[u8]> = pointers
        .iter()
        .filter(|(r, _)| is_cut(r, origin) && roots.contains(r.owner.wire()))
        .map(|(r, _)| r.owner.wire())
        .collect();
    if !cuts.is_empty() {
        for index in [old, new] {
            for name in index.names() {
                if suffixes(name).any(|at| cuts.contains(&name[at..])) {
                    out.insert(name.into());
                    if out.len() > limit {
                        return None;
                    }
                }
            }
        }
    }
    (out.len() <= limit).then(|| out.into_iter().collect())
}

/// True if `r` makes its owner a zone cut or a DNAME owner: what is below it is answered
/// from it.
fn is_cut(r: &Record, origin: &[u8]) -> bool {
    (r.rtype == RType::NS && r.owner.wire() != origin) || r.rtype == RType::DNAME
}

/// True if two SOA records differ at most in their serial.
fn same_but_serial(a: &Record, b: &Record) -> bool {
    let serial_off = |r: &Record| -> Option<usize> {
        let (_, m) = zonegate_core::Name::from_wire(&r.rdata).ok()?;
        let (_, n) = zonegate_core::Name::from_wire(r.rdata.get(m..)?).ok()?;
        Some(m + n)
    };
    let (Some(i), Some(j)) = (serial_off(a), serial_off(b)) else {
        return false;
    };
    a.owner == b.owner
        && a.ttl == b.ttl
        && i == j
        && a.rdata.len() == b.rdata.len()
        && a.rdata[..i] == b.rdata[..i]
        && a.rdata[i + 4..] == b.rdata[i + 4..]
}

/// The offsets of every suffix of the wire name `w` (itself first, the root last).
fn suffixes(w: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut at = Some(0);
    std::iter::from_fn(move || {
        let here = at?;
        at = match w.get(here) {
            Some(0) | None => None,
            Some(&len) => Some(here + 1 + len as usize),
        };
        Some(here)
    })
}

/// Which target names a set of roots reaches.
struct Related<'r> {
    roots: &'r HashSet<Box<[u8]>>,
    /// Proper ancestors of the roots.
    above: HashSet<&'r [u8]>,
    /// Parents of the roots that are wildcards.
    wild_parents: HashSet<&'r [u8]>,
}

impl<'r> Related<'r> {
    fn new(roots: &'r HashSet<Box<[u8]>>) -> Self {
        let mut above = HashSet::new();
        let mut wild_parents = HashSet::new();
        for root in roots {
            for at in suffixes(root).skip(1) {
                above.insert(&root[at..]);
            }
            if let Some(parent) = root.strip_prefix(b"\x01*") {
                wild_parents.insert(parent);
            }
        }
        Related {
            roots,
            above,
            wild_parents,
        }
    }

    /// True if the answers for `target` may depend on a root: it is at or below a root, an
    /// ancestor of one, or below the parent of a wildcard root.
    fn holds(&self, target: &[u8]) -> bool {
        self.above.contains(target)
            || suffixes(target).any(|at| {
                let s = &target[at..];
                self.roots.contains(s) || self.wild_parents.contains(s)
            })
    }
}
