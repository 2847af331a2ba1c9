//! Patching a [`ZoneIndex`] for a small change (issue 16): the index of the next generation,
//! made from the previous one in time proportional to the change, sharing every page of its
//! tables that the change does not write to.
//!
//! A change is patched when every owner it touches is an existing owner whose records change
//! (the apex included), a new leaf name under an existing owner, or a leaf owner that goes
//! away under an owner; and it touches no NS set below the apex, no DNAME and no wildcard.
//! Those are the changes that move no zone cut, no DNAME, no wildcard source and no empty
//! non-terminal, so every other node keeps its cut above, its wildcard child and its name. Any
//! other change builds the index anew ([`ZoneIndex::new`]), which is always right; so does a
//! change the hash table has no room for, and one that would leave a quarter of the RRset
//! table unused.
//!
//! Nodes point at records by chunk id and offset, and a chunk keeps its id when others are
//! split or removed, so only the nodes that point into a chunk the change rewrote, split or
//! removed move ([`Records::rewritten_since`]): the owners in it, found by name in the
//! previous index, and the empty non-terminals whose name is read from one of them (met
//! walking up from those owners: an empty non-terminal's name is read from its first
//! descendant, and every name between the two is an empty non-terminal too). They are
//! pointed at the same owners' records in the new chunk, with their RRsets rewritten in place
//! (or appended, when their number changed). New leaves are appended to the node table; a
//! leaf that goes is swapped with the last node. The hash table keeps its seed and size; only
//! the added and removed names, and the node moved into a removed one's place, change in it.
//!
//! [`Records::rewritten_since`]: crate::zone::records::Records::rewritten_since

use std::collections::HashMap;

use super::index::{find_in, hash_wire_name, place, sets_of};
use super::{At, Cut, NO_RRSET, Node, ORIGIN_SRC, ZoneIndex, cut_below, name_of};
use crate::dns::name::Name;
use crate::dns::record::{RType, Record};
use crate::zone::Zone;
use crate::zone::delta::ZoneDelta;

impl ZoneIndex {
    /// The index of `zone`, which is this index's zone with `delta` applied: patched from
    /// this one when the change allows it (see the module notes), else built anew. Either way
    /// it answers every query as [`ZoneIndex::new`]'s for `zone` does.
    pub fn updated(&self, zone: Zone, delta: &ZoneDelta) -> ZoneIndex {
        match Patch::plan(self, &zone, delta) {
            Some(patch) => patch.apply(self, zone).unwrap_or_else(ZoneIndex::new),
            None => ZoneIndex::new(zone),
        }
    }
}

/// What happens to one owner the change touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Touch {
    /// Node `node` stays; its records change.
    Modified { node: usize },
    /// A new leaf owning `new[start..end]`, below node `parent`.
    Added {
        parent: usize,
        start: usize,
        end: usize,
    },
    /// Node `node`, a leaf, goes away.
    Removed { node: usize },
}

/// A change the index can be patched for.
struct Patch {
    /// In canonical order of their owners.
    touches: Vec<Touch>,
}

impl Patch {
    /// The patch for `delta`, or `None` when the index must be built anew.
    fn plan(index: &ZoneIndex, new: &Zone, delta: &ZoneDelta) -> Option<Patch> {
        // A change to an eighth of the records touches most chunks: building anew costs no
        // more, and planning it would cost a lookup per owner.
        if delta.len() > index.zone().len() / 8 + PATCH_SLACK {
            return None;
        }
        let origin = index.origin();
        let mut touches = Vec::new();
        for (owner, removed, added) in by_owner(delta) {
            let moves_structure = removed
                .iter()
                .chain(added)
                .any(|r| r.rtype == RType::DNAME || (r.rtype == RType::NS && r.owner != *origin));
            if moves_structure
                || !owner.is_at_or_below(origin)
                || owner.wire().starts_with(b"\x01*")
            {
                return None;
            }
            touches.push(touch(index, new, owner)?);
        }
        Some(Patch { touches })
    }

    /// The patched index of `zone`, or `zone` back when it must be built anew (see the module
    /// notes).
    fn apply(&self, index: &ZoneIndex, zone: Zone) -> Result<ZoneIndex, Zone> {
        // For a list made anew (not an edit of the old one) every chunk counts as rewritten,
        // and every node is re-pointed by its name.
        let rewritten = zone.records().rewritten_since(index.zone.records());
        let moved = moved_nodes(index, &rewritten);
        let mut next = ZoneIndex {
            zone,
            nodes: index.nodes.clone(),
            rrsets: index.rrsets.clone(),
            slots: index.slots.clone(),
            seed: index.seed,
            negative_soa: None,
            unused: index.unused,
        };
        let removed: Vec<usize> = self
            .touches
            .iter()
            .filter_map(|t| match *t {
                Touch::Removed { node } => Some(node),
                _ => None,
            })
            .collect();
        let mut gone = removed.clone();
        gone.sort_unstable();
        for &n in moved.iter().filter(|n| gone.binary_search(n).is_err()) {
            if !next.repoint(index, n) {
                return Err(next.zone);
            }
        }
        for touch in &self.touches {
            if let Touch::Added { parent, start, end } = *touch
                && !next.add_leaf(parent, start, end)
            {
                return Err(next.zone);
            }
        }
        next.remove_leaves(index, removed);
        if next.unused * 4 > next.rrsets.len() {
            return Err(next.zone);
        }
        next.negative_soa = next.apex_negative_soa();
        Ok(next)
    }
}

/// The nodes of `index` that point into the chunks `rewritten`: their owners, and the empty
/// non-terminals whose names are read from those owners. Ascending, each once.
fn moved_nodes(index: &ZoneIndex, rewritten: &[u32]) -> Vec<usize> {
    let zone = index.zone();
    let origin = zone.origin();
    let mut out = Vec::new();
    for &k in rewritten {
        // A chunk new in this edit (a split's later part) was part of one the old list has.
        let Some(chunk) = zone.records().chunk_of(k) else {
            continue;
        };
        let mut i = 0;
        while i < chunk.len() {
            let owner = &chunk[i].owner;
            while i < chunk.len() && chunk[i].owner == *owner {
                i += 1;
            }
            let w = owner.wire();
            let Some(n) = find_node(index, w) else {
                continue;
            };
            out.push(n);
            // Up through the empty non-terminals above it, to the first owner or the origin.
            let mut at = 0;
            while w.len() - at > origin.wire_len() {
                at += 1 + w[at] as usize;
                match find_node(index, &w[at..]) {
                    Some(m) if index.nodes[m].at > 0 && index.nodes[m].count == 0 => {
                        if index.nodes[m].src.chunk == k {
                            out.push(m);
                        }
                    }
                    _ => break,
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn find_node(index: &ZoneIndex, w: &[u8]) -> Option<usize> {
    find_in(&index.zone, &index.nodes, &index.slots, index.seed, w)
}

impl ZoneIndex {
    /// Points node `n` (as it is in `old`) at its records in this index's zone: an owner at
    /// its own first record, with its RRsets made again; an empty non-terminal at its first
    /// descendant's first record, as before. False if the node's name has no records here.
    fn repoint(&mut self, old: &ZoneIndex, n: usize) -> bool {
        let node = old.nodes[n];
        let source = match node.src {
            ORIGIN_SRC => old.origin(),
            at => &super::record_at(old.zone(), at).owner,
        };
        let records = self.zone.records();
        let range = records.owned_range(source);
        if range.is_empty() {
            return false;
        }
        let (chunk, off) = records.place_of(range.start);
        let src = match node.src {
            ORIGIN_SRC => ORIGIN_SRC,
            _ => At {
                chunk,
                off: off as u32,
            },
        };
        if node.at > 0 {
            self.nodes.get_mut(n).src = src;
            return true;
        }
        let mut sets = Vec::new();
        sets_of(
            &records.chunk(chunk)[off..off + range.len()],
            chunk,
            off,
            &mut sets,
        );
        let first = if sets.len() == node.count as usize {
            for (i, set) in sets.iter().enumerate() {
                *self.rrsets.get_mut(node.first as usize + i) = *set;
            }
            node.first
        } else {
            let (first, skipped) = self.rrsets.push_run(&sets, NO_RRSET);
            self.unused += skipped + node.count as usize;
            first as u32
        };
        let to = self.nodes.get_mut(n);
        (to.src, to.first, to.count) = (src, first, sets.len() as u32);
        true
    }

    /// Appends a new leaf owning records `start..end` below node `parent`; false if the hash
    /// table has no room for it.
    fn add_leaf(&mut self, parent: usize, start: usize, end: usize) -> bool {
        if (self.nodes.len() + 1) * 2 > self.slots.len() {
            return false;
        }
        let records = self.zone.records();
        let (chunk, off) = records.place_of(start);
        let owner = &records.chunk(chunk)[off].owner;
        let mut sets = Vec::new();
        sets_of(
            &records.chunk(chunk)[off..off + (end - start)],
            chunk,
            off,
            &mut sets,
        );
        let above = self.above_of(self.nodes[parent], owner.label_count());
        let (first, skipped) = self.rrsets.push_run(&sets, NO_RRSET);
        self.unused += skipped;
        let n = self.nodes.len();
        let h = hash_wire_name(self.seed, owner.wire());
        self.nodes.push(Node {
            src: At {
                chunk,
                off: off as u32,
            },
            at: 0,
            above,
            wild_child: false,
            first: first as u32,
            count: sets.len() as u32,
        });
        place(&mut self.slots, h, n);
        true
    }

    /// The cut or DNAME above a name with `labels` labels below `parent`.
    fn above_of(&self, parent: Node, labels: usize) -> Option<Cut> {
        cut_below(&parent, self.sets(&parent), labels)
    }

    /// Takes the nodes `removed` (leaves, numbered as in `old`, which names them) out of the
    /// hash table and the node table, each swapped with the last node.
    fn remove_leaves(&mut self, old: &ZoneIndex, mut removed: Vec<usize>) {
        let seed = self.seed;
        let hashes: HashMap<usize, u64> = removed
            .iter()
            .map(|&n| (n, hash_wire_name(seed, name_of(old.zone(), &old.nodes[n]))))
            .collect();
        // From the highest, so that the last node is never one still to be removed.
        removed.sort_unstable_by(|a, b| b.cmp(a));
        for n in removed {
            let (zone, nodes) = (&self.zone, &self.nodes);
            let hash_of = |m: usize| {
                hashes
                    .get(&m)
                    .copied()
                    .unwrap_or_else(|| hash_wire_name(seed, name_of(zone, nodes.get(m))))
            };
            remove_slot(&mut self.slots, hashes[&n], n, hash_of);
            self.unused += self.nodes[n].count as usize;
            let last = self.nodes.len() - 1;
            if n != last {
                let moved = self.nodes[last];
                *self.nodes.get_mut(n) = moved;
                let h = hash_wire_name(seed, name_of(&self.zone, &moved));
                renumber_slot(&mut self.slots, h, last, n);
            }
            self.nodes.pop();
        }
    }
}

/// Rewrites the slot of node `from` (whose name hashes to `h`) to name node `to`.
fn renumber_slot(slots: &mut super::Paged<u64>, h: u64, from: usize, to: usize) {
    let mask = slots.len() - 1;
    let tag = (h >> 32) << 32;
    let mut i = (h as usize) & mask;
    while *slots.get(i) != 0 {
        if *slots.get(i) == tag | (from as u64 + 1) {
            *slots.get_mut(i) = tag | (to as u64 + 1);
            return;
        }
        i = (i + 1) & mask;
    }
}

/// Changes of at most this many records are always planned, whatever the zone's size.
const PATCH_SLACK: usize = 64;

/// The owners `delta` touches, in canonical order, each with its removed and its added
/// records: one pass over the two lists (each in canonical order, so by owner first).
fn by_owner(delta: &ZoneDelta) -> Vec<(&Name, &[Record], &[Record])> {
    let (removed, added) = (delta.removed(), delta.added());
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    loop {
        let owner = match (removed.get(i), added.get(j)) {
            (None, None) => return out,
            (Some(r), None) | (None, Some(r)) => &r.owner,
            (Some(r), Some(a)) => std::cmp::min(&r.owner, &a.owner),
        };
        let i_end = i + removed[i..].partition_point(|r| r.owner == *owner);
        let j_end = j + added[j..].partition_point(|r| r.owner == *owner);
        out.push((owner, &removed[i..i_end], &added[j..j_end]));
        (i, j) = (i_end, j_end);
    }
}

/// What the change does to `owner`, or `None` if it is not a patchable touch.
///
/// A new name is patched only as a leaf whose parent keeps records (the apex or an owner):
/// then every node after it in canonical order names records after its own, and every node
/// before it records before, so the new leaf's place is found by its first record's index. A
/// name that goes away is patched only as a leaf whose parent keeps records, so no empty
/// non-terminal appears or goes.
fn touch(index: &ZoneIndex, new: &Zone, owner: &Name) -> Option<Touch> {
    let (start, end) = owned(new, owner);
    let find = |w: &[u8]| find_in(index.zone(), &index.nodes, &index.slots, index.seed, w);
    let is_apex = owner == index.origin();
    let parent_stays = || {
        let parent = owner.parent()?;
        let node = find(parent.wire())?;
        let (from, to) = owned(new, &parent);
        (node == 0 || from < to).then_some(node)
    };
    match (find(owner.wire()), start < end) {
        (Some(node), true) => Some(Touch::Modified { node }),
        (Some(node), false) => {
            // A leaf: the record after its own in canonical order is not below it.
            let old = index.zone().records();
            let after = old.owned_range(owner).end;
            let below = old.get(after).is_some_and(|r| r.owner.is_below(owner));
            if is_apex || below {
                return None;
            }
            parent_stays().map(|_| Touch::Removed { node })
        }
        (None, true) => parent_stays().map(|parent| Touch::Added { parent, start, end }),
        (None, false) => None,
    }
}

/// The range of `zone.records()` that `owner` owns (empty if none).
fn owned(zone: &Zone, owner: &Name) -> (usize, usize) {
    let range = zone.records().owned_range(owner);
    (range.start, range.end)
}

/// Deletes node `n` (whose name hashes to `h`) from the table, moving back the entries after
/// it that probing would no longer reach; `hash_of` hashes the name of a node in the table.
fn remove_slot(slots: &mut super::Paged<u64>, h: u64, n: usize, hash_of: impl Fn(usize) -> u64) {
    let mask = slots.len() - 1;
    let want = (h >> 32) << 32 | (n as u64 + 1);
    let mut i = (h as usize) & mask;
    while *slots.get(i) != want {
        if *slots.get(i) == 0 {
            return;
        }
        i = (i + 1) & mask;
    }
    let mut j = i;
    loop {
        j = (j + 1) & mask;
        if *slots.get(j) == 0 {
            break;
        }
        let home = (hash_of((*slots.get(j) & 0xFFFF_FFFF) as usize - 1) as usize) & mask;
        // Entry j may move to the hole at i unless its home lies cyclically in (i, j].
        let reachable_without = if i <= j {
            i < home && home <= j
        } else {
            i < home || home <= j
        };
        if !reachable_without {
            *slots.get_mut(i) = *slots.get(j);
            i = j;
        }
    }
    *slots.get_mut(i) = 0;
}

#[cfg(test)]
#[path = "patch_tests.rs"]
mod tests;
