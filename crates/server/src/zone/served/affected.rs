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
use std::sync::Arc;

use zonegate_core::lookup::CHAIN_MAX;
use zonegate_core::zone::delta::ZoneDelta;
use zonegate_core::{RType, Record};

use super::ServedZone;

/// The records of one content whose answers lead to another name (CNAME, DNAME, NS, MX and
/// SRV), in canonical order, each with its target's wire form: what [`affected_names`] grows
/// its roots through. Made once from every record ([`Pointers::of`]), then from the previous
/// generation's and the change ([`Pointers::after`]), so that an install reads the change and
/// this list, not every record.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pointers {
    list: Arc<Vec<(Record, Arc<[u8]>)>>,
}

fn pointer(r: &Record) -> Option<(Record, Arc<[u8]>)> {
    let leads = matches!(
        r.rtype,
        RType::CNAME | RType::DNAME | RType::NS | RType::MX | RType::SRV
    );
    leads
        .then(|| r.target_name())
        .flatten()
        .map(|t| (r.clone(), t.wire().into()))
}

impl Pointers {
    /// The pointers among `records` (canonical order).
    pub(crate) fn of<'r>(records: impl Iterator<Item = &'r Record>) -> Pointers {
        Pointers {
            list: Arc::new(records.filter_map(pointer).collect()),
        }
    }

    /// The pointers of the content this list's content becomes with `delta`: those `delta`
    /// removes taken out, those it adds merged in, in canonical order.
    pub(crate) fn after(&self, delta: &ZoneDelta) -> Pointers {
        let gone: Vec<&Record> = delta
            .removed()
            .iter()
            .filter(|r| pointer(r).is_some())
            .collect();
        let mut come = delta.added().iter().filter_map(pointer).peekable();
        let mut list = Vec::with_capacity(self.list.len() + delta.added().len());
        let mut gone = gone.into_iter().peekable();
        for (r, t) in self.list.iter() {
            while let Some(c) = come.next_if(|(c, _)| c.canonical_cmp(r).is_lt()) {
                list.push(c);
            }
            if gone.next_if(|g| g.canonical_cmp(r).is_eq()).is_none() {
                list.push((r.clone(), t.clone()));
            }
        }
        list.extend(come);
        Pointers {
            list: Arc::new(list),
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&Record, &[u8])> + '_ {
        self.list.iter().map(|(r, t)| (r, &t[..]))
    }
}

/// The wire forms of the names whose prepared answers may differ between `old` and `new`,
/// or `None` if more than `limit` names would be, or the SOA changed in more than its serial
/// (then everything is prepared again).
pub(crate) fn affected_names(
    old_zone: &ServedZone,
    new_zone: &ServedZone,
    limit: usize,
) -> Option<Vec<Box<[u8]>>> {
    let (old, new) = (old_zone.index(), new_zone.index());
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
    let old_pointers = old_zone.pointers();
    let new_pointers = new_zone.pointers.get_or_init(|| old_pointers.after(&delta));
    let pointers: Vec<(&Record, &[u8])> = old_pointers.iter().chain(new_pointers.iter()).collect();
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

#[cfg(test)]
mod tests {
    use zonegate_core::zonefile::parse;
    use zonegate_core::{Limits, Name, Zone};

    use super::*;

    fn zone(text: &str) -> Zone {
        let origin = Name::parse("example.").unwrap();
        let head = "$TTL 300\n@ SOA ns h 1 1 1 1 1\n@ NS ns\nns A 192.0.2.1\n";
        let parsed = parse(&format!("{head}{text}"), Some(&origin), "test").unwrap();
        zonegate_core::zone::validate::validate(parsed, &Limits::default()).unwrap()
    }

    /// The list made from the previous one and the change is the list made from every record.
    #[test]
    fn pointers_after_a_change_are_the_pointers_of_the_new_content() {
        let old = zone(
            "a CNAME b\nb A 192.0.2.2\nmx MX 10 b\nmx MX 20 b\nsub NS ns.sub\nns.sub A 192.0.2.3\n",
        );
        let new = zone(
            "a 60 CNAME b\nb A 192.0.2.2\nmx MX 20 b\nmx MX 30 c\nc CNAME b\nsrv SRV 0 0 1 b\n",
        );
        let delta = ZoneDelta::between(&old, &new);
        let after = Pointers::of(old.records().iter()).after(&delta);
        let fresh = Pointers::of(new.records().iter());
        let list = |p: &Pointers| {
            p.iter()
                .map(|(r, t)| (r.clone(), t.to_vec()))
                .collect::<Vec<_>>()
        };
        assert_eq!(list(&after), list(&fresh));
        assert_eq!(list(&fresh).len(), 6, "{:?}", list(&fresh));
    }
}
