//! Validity of a changed zone, judged from the change: the rules the changed records can touch.
//!
//! # Design
//!
//! The base is a [`Zone`], so every rule held for it. The new records are the base's with some
//! removed and some added (in canonical order). A rule that held before can only break where
//! the change is, so [`after_change`] looks only there:
//!
//! - the limits: the record count, the running body size (the base's [`Summary`] plus the
//!   added records' octets minus the removed ones'), the added records' TTLs, and the base's
//!   TTL bounds (read again from every record only if the limits are narrower than them);
//! - the added records alone: canonical data, owner inside the origin, SOA only at the apex;
//! - every changed owner's records in the new zone: duplicates, the apex SOA and NS sets
//!   (condition 2), and conditions 4 to 6;
//! - condition 7: no DNAME at an ancestor of a changed owner that has records, and nothing right
//!   after a changed DNAME owner in canonical order that is below it (descendants follow their
//!   ancestor at once);
//! - condition 8: no non-apex NS at an ancestor of a changed NS owner, and, when the owner had
//!   no NS before, none below it (a scan of its subtree);
//! - condition 9: every added in-zone NS target has addresses; and a changed owner that had
//!   addresses and has none now is nobody's NS target (a scan of the records: only then).
//!
//! It answers "every rule holds" exactly when [`super::validate`] would accept the records,
//! and otherwise nothing more: the refused path runs full validation for the very violations,
//! in their order (`tests/delta_model.rs` checks both answers on random change sequences).

use crate::dns::name::Name;
use crate::dns::record::{RType, Record};
use crate::zone::limits::Limits;
use crate::zone::records::Records;
use crate::zone::validate::{NodeCounts, is_canonical};
use crate::zone::{Summary, Zone, body_len};

/// The summary of `new`, if every validity rule holds for it. `new` is `base`'s records with
/// `removed` taken out and `added` put in, all in canonical order.
pub(crate) fn after_change(
    base: &Zone,
    new: &Records,
    removed: &[Record],
    added: &[Record],
    limits: &Limits,
) -> Option<Summary> {
    let summary = limits_hold(base, new, removed, added, limits)?;
    let origin = base.origin();
    let added_hold = added.iter().all(|r| {
        is_canonical(r)
            && r.owner.is_at_or_below(origin)
            && (r.rtype != RType::SOA || r.owner == *origin)
    });
    if !added_hold {
        return None;
    }
    let owners = changed_owners(removed, added);
    let nodes_hold = owners
        .iter()
        .all(|o| node_holds(origin, base.records(), new, o));
    let glue_holds = added
        .iter()
        .filter(|r| r.rtype == RType::NS)
        .all(|r| target_addressed(origin, new, r))
        && owners
            .iter()
            .all(|o| !lost_addresses(base.records(), new, o) || !is_ns_target(new, o));
    (nodes_hold && glue_holds).then_some(summary)
}

/// The new summary, if the record count, the body size and every TTL are within `limits`.
fn limits_hold(
    base: &Zone,
    new: &Records,
    removed: &[Record],
    added: &[Record],
    limits: &Limits,
) -> Option<Summary> {
    let octets = |list: &[Record]| list.iter().map(body_len).sum::<usize>();
    let mut s = base.summary;
    s.body_bytes = (s.body_bytes + octets(added)).checked_sub(octets(removed))?;
    for r in added {
        (s.ttl_low, s.ttl_high) = (s.ttl_low.min(r.ttl), s.ttl_high.max(r.ttl));
    }
    let in_range = |low: u32, high: u32| low >= limits.ttl_min && high <= limits.ttl_max;
    if !in_range(s.ttl_low, s.ttl_high) {
        // The bounds may be looser than the records after removals: read the TTLs themselves.
        let exact = Summary::of(new.iter());
        (s.ttl_low, s.ttl_high) = (exact.ttl_low, exact.ttl_high);
    }
    let fits = !new.is_empty()
        && new.len() <= limits.records_max
        && s.body_bytes <= limits.body_bytes_max
        && in_range(s.ttl_low, s.ttl_high);
    fits.then_some(s)
}

/// The owners of the removed and added records, in canonical order, each once.
fn changed_owners<'r>(removed: &'r [Record], added: &'r [Record]) -> Vec<&'r Name> {
    let mut owners: Vec<&Name> = Vec::with_capacity(removed.len() + added.len());
    let (mut i, mut j) = (0, 0);
    while i < removed.len() || j < added.len() {
        let next = match (removed.get(i), added.get(j)) {
            (Some(a), Some(b)) if a.owner <= b.owner => {
                i += 1;
                &a.owner
            }
            (Some(_), Some(b)) | (None, Some(b)) => {
                j += 1;
                &b.owner
            }
            (Some(a), None) => {
                i += 1;
                &a.owner
            }
            (None, None) => unreachable!("the loop runs while a list has records"),
        };
        if owners.last() != Some(&next) {
            owners.push(next);
        }
    }
    owners
}

/// The records at `name`: a run of canonically sorted records, and where it starts.
fn node<'r>(records: &'r Records, name: &Name) -> (usize, &'r [Record]) {
    let range = records.owned_range(name);
    let run = records.run(range.clone());
    (range.start, run.expect("an owner's records are one chunk"))
}

fn has(records: &Records, name: &Name, rtype: RType) -> bool {
    node(records, name).1.iter().any(|r| r.rtype == rtype)
}

/// The rules one changed owner's records in the new zone can break.
fn node_holds(origin: &Name, base: &Records, new: &Records, owner: &Name) -> bool {
    let (start, here) = node(new, owner);
    if here.is_empty() {
        // Records only left this name; the apex must keep its SOA and NS.
        return owner != origin;
    }
    if here.windows(2).any(|w| w[0].same_record(&w[1])) {
        return false;
    }
    let refs: Vec<&Record> = here.iter().collect();
    let counts = NodeCounts::of(&refs);
    let apex = owner == origin;
    let soas = here.iter().filter(|r| r.rtype == RType::SOA).count();
    let cname_conflict = counts.cnames > 1 || (counts.cnames == 1 && counts.others > 0);
    let owner_rules = !cname_conflict
        && counts.dnames <= 1
        && !(counts.dnames > 0 && counts.ns && !apex)
        && (!apex || (soas == 1 && counts.ns));
    owner_rules
        && !ancestors(origin, owner).any(|a| has(new, &a, RType::DNAME))
        && (counts.dnames == 0
            || !new
                .get(start + here.len())
                .is_some_and(|r| r.owner.is_below(owner)))
        && (apex || !counts.ns || delegation_holds(origin, base, new, owner, start + here.len()))
}

/// Condition 8 at a non-apex NS owner: no delegation above it, and none below it if it is new.
fn delegation_holds(
    origin: &Name,
    base: &Records,
    new: &Records,
    owner: &Name,
    after: usize,
) -> bool {
    let above = ancestors(origin, owner).any(|a| a != *origin && has(new, &a, RType::NS));
    let was_cut = has(base, owner, RType::NS);
    let below = !was_cut
        && new
            .iter_from(after)
            .take_while(|r| r.owner.is_below(owner))
            .any(|r| r.rtype == RType::NS);
    !above && !below
}

/// The strict ancestors of `name` down to the origin, nearest first.
fn ancestors<'n>(origin: &'n Name, name: &Name) -> impl Iterator<Item = Name> + 'n {
    let mut next = (name != origin).then(|| name.parent()).flatten();
    std::iter::from_fn(move || {
        let here = next.take()?;
        if here.is_at_or_below(origin) {
            if here != *origin {
                next = here.parent();
            }
            Some(here)
        } else {
            None
        }
    })
}

/// Condition 9 for one NS record: an in-zone target has A or AAAA records in `new`.
fn target_addressed(origin: &Name, new: &Records, ns: &Record) -> bool {
    match ns.target_name() {
        Some(target) if target.is_at_or_below(origin) => has_address(new, &target),
        _ => true,
    }
}

fn has_address(records: &Records, name: &Name) -> bool {
    node(records, name)
        .1
        .iter()
        .any(|r| r.rtype == RType::A || r.rtype == RType::AAAA)
}

/// True if `name` had address records in the base and has none in the new zone.
fn lost_addresses(base: &Records, new: &Records, name: &Name) -> bool {
    has_address(base, name) && !has_address(new, name)
}

/// True if some NS record of `records` names `target` (a scan: only run when `target` lost
/// its addresses).
fn is_ns_target(records: &Records, target: &Name) -> bool {
    let mut wire = Vec::with_capacity(target.wire_len());
    target.write_wire(&mut wire);
    records
        .iter()
        .any(|r| r.rtype == RType::NS && r.rdata[..] == wire[..])
}
