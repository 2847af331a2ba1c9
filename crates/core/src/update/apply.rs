//! Judging prerequisites (RFC 2136 §3.2) and applying the update section (§3.4.2) to the
//! records of the names it touches: the result is the change, a [`ZoneDelta`], which
//! [`Zone::apply`] turns into the new content, validated from the change alone.

use std::collections::BTreeMap;

use crate::dns::name::Name;
use crate::dns::record::{RType, Record};
use crate::dns::record_data::RecordData;
use crate::update::message::{Change, Prereq, UpdateMessage};
use crate::update::refusal::UpdateRefusal;
use crate::zone::Zone;
use crate::zone::delta::ZoneDelta;
use crate::zone::serial::serial_gt;

/// What an UPDATE does to a zone.
#[derive(Debug, Clone)]
pub enum Applied {
    /// The result equals the zone: nothing to publish.
    Unchanged,
    /// The change to the zone, to be planned and published as one generation.
    Changed(ZoneDelta),
}

/// The records of one name, by type: the TTL and the data of each RRset.
type Node = BTreeMap<RType, (u32, Vec<RecordData>)>;

/// The records of `zone` at `name`: a run of its canonically sorted records.
fn records_at<'z>(zone: &'z Zone, name: &Name) -> crate::zone::records::Iter<'z> {
    zone.records().owned(name)
}

fn node_of(zone: &Zone, name: &Name) -> Node {
    let mut node = Node::new();
    for r in records_at(zone, name) {
        let set = node.entry(r.rtype).or_insert((r.ttl, Vec::new()));
        set.1.push(r.rdata.clone());
    }
    node
}

/// Judges the prerequisites of `msg` against `zone` and applies its changes to the names they
/// touch: the change to the zone, [`Applied::Unchanged`], or the first failed prerequisite.
pub fn apply(zone: &Zone, msg: &UpdateMessage) -> Result<Applied, UpdateRefusal> {
    for p in &msg.prereqs {
        check_prereq(zone, p)?;
    }
    let mut touched: BTreeMap<Name, Node> = BTreeMap::new();
    for change in &msg.changes {
        let node = touched
            .entry(change.name().clone())
            .or_insert_with_key(|name| node_of(zone, name));
        apply_change(zone.origin(), node, change);
    }
    let unchanged = touched
        .iter()
        .all(|(name, node)| *node == node_of(zone, name));
    if unchanged {
        return Ok(Applied::Unchanged);
    }
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    // Names in canonical order, each node's records sorted: both lists come out in order.
    for (name, node) in touched {
        let mut now: Vec<Record> = node
            .into_iter()
            .flat_map(|(rtype, (ttl, rdatas))| {
                let owner = name.clone();
                rdatas.into_iter().map(move |rdata| Record {
                    owner: owner.clone(),
                    rtype,
                    ttl,
                    rdata,
                })
            })
            .collect();
        now.sort_by(Record::canonical_cmp);
        now.dedup();
        node_delta(records_at(zone, &name), now, &mut removed, &mut added);
    }
    let delta = ZoneDelta::new(removed, added).expect("changes listed in canonical order");
    // An RRset's records may come back in another order: the same records are no change.
    Ok(if delta.is_empty() {
        Applied::Unchanged
    } else {
        Applied::Changed(delta)
    })
}

/// The records that leave (`before` but not `after`) and come (`after` but not `before`) at
/// one name, both sorted: one merge pass.
fn node_delta(
    before: crate::zone::records::Iter<'_>,
    after: Vec<Record>,
    removed: &mut Vec<Record>,
    added: &mut Vec<Record>,
) {
    let mut before = before.peekable();
    for r in after {
        while let Some(old) = before.next_if(|old| old.canonical_cmp(&r).is_lt()) {
            removed.push(old.clone());
        }
        if before
            .next_if(|old| old.canonical_cmp(&r).is_eq())
            .is_none()
        {
            added.push(r);
        }
    }
    removed.extend(before.cloned());
}

/// One prerequisite (§3.2.2, §3.2.3, §3.2.5).
fn check_prereq(zone: &Zone, p: &Prereq) -> Result<(), UpdateRefusal> {
    match p {
        Prereq::NameInUse(name) if records_at(zone, name).is_empty() => {
            Err(UpdateRefusal::NameNotInUse { name: name.clone() })
        }
        Prereq::NameNotInUse(name) if !records_at(zone, name).is_empty() => {
            Err(UpdateRefusal::NameInUse { name: name.clone() })
        }
        Prereq::RrsetExists { name, rtype } if !has_type(zone, name, *rtype) => {
            Err(UpdateRefusal::RrsetAbsent {
                name: name.clone(),
                rtype: *rtype,
            })
        }
        Prereq::RrsetAbsent { name, rtype } if has_type(zone, name, *rtype) => {
            Err(UpdateRefusal::RrsetExists {
                name: name.clone(),
                rtype: *rtype,
            })
        }
        Prereq::RrsetEquals {
            name,
            rtype,
            rdatas,
        } => {
            let mut have: Vec<&[u8]> = records_at(zone, name)
                .filter(|r| r.rtype == *rtype)
                .map(|r| &r.rdata[..])
                .collect();
            let mut want: Vec<&[u8]> = rdatas.iter().map(|r| &r[..]).collect();
            have.sort_unstable();
            want.sort_unstable();
            if have == want {
                Ok(())
            } else {
                Err(UpdateRefusal::RrsetDiffers {
                    name: name.clone(),
                    rtype: *rtype,
                })
            }
        }
        _ => Ok(()),
    }
}

fn has_type(zone: &Zone, name: &Name, rtype: RType) -> bool {
    records_at(zone, name).any(|r| r.rtype == rtype)
}

/// One change (§3.4.2.2 to §3.4.2.4) on the records of its name.
fn apply_change(origin: &Name, node: &mut Node, change: &Change) {
    let apex = change.name() == origin;
    match change {
        Change::Add(r) => add(apex, node, r),
        Change::DeleteRrset { rtype, .. } => {
            if !(apex && matches!(*rtype, RType::SOA | RType::NS)) {
                node.remove(rtype);
            }
        }
        Change::DeleteName(_) => {
            if apex {
                node.retain(|t, _| matches!(*t, RType::SOA | RType::NS));
            } else {
                node.clear();
            }
        }
        Change::DeleteRecord { rtype, rdata, .. } => {
            if *rtype == RType::SOA {
                return;
            }
            let Some((_, set)) = node.get_mut(rtype) else {
                return;
            };
            // The zone keeps its last apex NS (§3.4.2.4).
            if apex && *rtype == RType::NS && set.len() == 1 {
                return;
            }
            set.retain(|d| d != rdata);
            if set.is_empty() {
                node.remove(rtype);
            }
        }
    }
}

/// An add (§3.4.2.2): SOA only replaces the apex SOA with a newer serial; CNAME and other
/// data exclude each other (the later add is ignored); CNAME and SOA replace their RRset;
/// otherwise the record joins its RRset, whose TTL becomes the record's.
fn add(apex: bool, node: &mut Node, r: &Record) {
    if r.rtype == RType::SOA {
        let older = |(_, set): &(u32, Vec<RecordData>)| {
            let serial = |d: &[u8]| crate::dns::record::Soa::from_rdata(d).map(|s| s.serial);
            match (set.first().map(|d| serial(d)), serial(&r.rdata)) {
                (Some(Ok(old)), Ok(new)) => serial_gt(old, new),
                _ => true,
            }
        };
        if !apex || node.get(&RType::SOA).is_none_or(older) {
            return;
        }
        node.insert(RType::SOA, (r.ttl, vec![r.rdata.clone()]));
        return;
    }
    let has_cname = node.contains_key(&RType::CNAME);
    if r.rtype == RType::CNAME && node.keys().any(|t| *t != RType::CNAME) {
        return;
    }
    if r.rtype != RType::CNAME && has_cname {
        return;
    }
    if r.rtype == RType::CNAME {
        node.insert(RType::CNAME, (r.ttl, vec![r.rdata.clone()]));
        return;
    }
    let set = node.entry(r.rtype).or_insert((r.ttl, Vec::new()));
    set.0 = r.ttl;
    if !set.1.contains(&r.rdata) {
        set.1.push(r.rdata.clone());
    }
}
