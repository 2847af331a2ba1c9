//! Patching a [`ZoneIndex`] for a small change (issue 16): the index of the next generation,
//! made from the previous one in time proportional to the index's size in memory (copies and
//! index shifts, no name hashing or lookups), not in names looked up.
//!
//! A change is patched when every owner it touches is an existing owner whose records change
//! (the apex included), a new leaf name under an existing owner, or a leaf owner that goes
//! away under an owner; and it touches no NS set below the apex, no DNAME and no wildcard.
//! Those are the changes that move no zone cut, no DNAME, no wildcard source and no empty
//! non-terminal, so every other node keeps its cut above, its wildcard child and its name. Any
//! other change builds the index anew ([`ZoneIndex::new`]), which is always right.
//!
//! Record indices move: a surviving record's index in the new list is its index in the old
//! list, less the removed records before it, plus the added records before it
//! ([`IndexShift`]). Nodes keep canonical order; the hash table keeps its seed and size and
//! only renumbers its nodes, losing the removed names (backward-shift deletion) and gaining
//! the new ones.

use super::index::{find_in, hash_wire_name, place};
use super::{Cut, CutKind, Node, ORIGIN_SRC, RRset, ZoneIndex, name_of};
use crate::dns::name::Name;
use crate::dns::record::{RType, Record};
use crate::zone::Zone;
use crate::zone::delta::ZoneDelta;

impl ZoneIndex {
    /// The index of `zone`, which is this index's zone with `delta` applied: patched from
    /// this one when the change allows it (see the module notes), else built anew. Either way
    /// it is the index [`ZoneIndex::new`] builds for `zone`.
    pub fn updated(&self, zone: Zone, delta: &ZoneDelta) -> ZoneIndex {
        match Patch::plan(self, &zone, delta) {
            Some(patch) => match patch.apply(self, &zone) {
                Some((nodes, rrsets, slots)) => self.with_parts(zone, nodes, rrsets, slots),
                None => ZoneIndex::new(zone),
            },
            None => ZoneIndex::new(zone),
        }
    }

    fn with_parts(
        &self,
        zone: Zone,
        nodes: Vec<Node>,
        rrsets: Vec<RRset>,
        slots: Vec<u64>,
    ) -> Self {
        let mut index = ZoneIndex {
            zone,
            nodes,
            rrsets,
            slots,
            seed: self.seed,
            negative_soa: None,
        };
        index.negative_soa = index.apex_negative_soa();
        index
    }
}

/// Old record index to new record index, for the records that survive a change.
struct IndexShift {
    /// Indices of the removed records in the old list, ascending.
    removed: Vec<usize>,
    /// For the `t`-th added record (ascending), how many surviving records come before it in
    /// the new list: its new index minus `t`. Non-decreasing.
    gaps: Vec<usize>,
}

impl IndexShift {
    fn new(old: &[Record], new: &[Record], delta: &ZoneDelta) -> Option<IndexShift> {
        let at =
            |records: &[Record], r: &Record| records.binary_search_by(|x| x.canonical_cmp(r)).ok();
        let removed = delta
            .removed()
            .iter()
            .map(|r| at(old, r))
            .collect::<Option<Vec<_>>>()?;
        let gaps = delta
            .added()
            .iter()
            .enumerate()
            .map(|(t, r)| at(new, r).map(|p| p - t))
            .collect::<Option<Vec<_>>>()?;
        Some(IndexShift { removed, gaps })
    }

    /// The new index of old record `i`; `None` if it was removed.
    fn map(&self, i: usize) -> Option<usize> {
        if self.removed.binary_search(&i).is_ok() {
            return None;
        }
        let survivors_before = i - self.removed.partition_point(|&p| p < i);
        let added_before = self.gaps.partition_point(|&g| g <= survivors_before);
        Some(survivors_before + added_before)
    }
}

/// What happens to one owner the change touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Touch {
    /// Node `node` stays; its records are now `new[start..end]`.
    Modified {
        node: usize,
        start: usize,
        end: usize,
    },
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
    shift: IndexShift,
    /// In canonical order of their owners.
    touches: Vec<Touch>,
}

impl Patch {
    /// The patch for `delta`, or `None` when the index must be built anew.
    fn plan(index: &ZoneIndex, new: &Zone, delta: &ZoneDelta) -> Option<Patch> {
        let old = index.zone();
        let shift = IndexShift::new(old.records(), new.records(), delta)?;
        let origin = old.origin();
        let mut touches = Vec::new();
        for owner in touched_owners(delta) {
            let records = delta
                .removed()
                .iter()
                .chain(delta.added())
                .filter(|r| r.owner == *owner);
            let moves_structure = records
                .clone()
                .any(|r| r.rtype == RType::DNAME || (r.rtype == RType::NS && r.owner != *origin));
            if moves_structure
                || !owner.is_at_or_below(origin)
                || owner.wire().starts_with(b"\x01*")
            {
                return None;
            }
            touches.push(touch(index, new, owner)?);
        }
        Some(Patch { shift, touches })
    }

    /// The patched nodes, RRsets and hash table; `None` if the table would need to grow or
    /// the change turns out not to be patchable after all.
    fn apply(&self, index: &ZoneIndex, new: &Zone) -> Option<(Vec<Node>, Vec<RRset>, Vec<u64>)> {
        let mut b = Rebuild {
            nodes: Vec::with_capacity(index.nodes.len() + self.touches.len()),
            rrsets: Vec::with_capacity(index.rrsets.len() + self.touches.len()),
            renumber: vec![u32::MAX; index.nodes.len()],
            added: Vec::new(),
        };
        let mut at_nodes = self
            .touches
            .iter()
            .filter(|t| !matches!(t, Touch::Added { .. }))
            .peekable();
        let mut additions = self
            .touches
            .iter()
            .filter(|t| matches!(t, Touch::Added { .. }))
            .peekable();
        for (n, node) in index.nodes.iter().enumerate() {
            let touch = at_nodes
                .next_if(|t| matches!(t, Touch::Modified { node, .. } | Touch::Removed { node } if *node == n))
                .copied();
            let new_src = match (touch, node.src) {
                (_, ORIGIN_SRC) => None,
                (Some(Touch::Modified { start, .. }), _) => Some(start),
                (Some(Touch::Removed { .. }), _) => None,
                // A node that is not touched keeps its records, so its source survives; an
                // empty non-terminal named by a record that went away does not.
                (_, s) => Some(self.shift.map(s as usize)?),
            };
            // New leaves go in canonical order: before the first node whose records come
            // after theirs (see `touch` for why that order is the canonical one).
            if let Some(key) = new_src {
                while let Some(&Touch::Added { parent, start, end }) =
                    additions.next_if(|t| matches!(t, Touch::Added { start, .. } if *start < key))
                {
                    b.add_leaf(new, parent, start, end);
                }
            }
            match touch {
                Some(Touch::Removed { .. }) => {}
                Some(Touch::Modified { start, end, .. }) => {
                    b.keep(n, node, new_src, |rrsets| {
                        push_sets(rrsets, new, start, end)
                    });
                }
                _ => {
                    let sets =
                        &index.rrsets[node.first as usize..(node.first + node.count) as usize];
                    let mapped = sets
                        .iter()
                        .map(|s| {
                            let start = self.shift.map(s.start as usize)?;
                            Some(RRset {
                                rtype: s.rtype,
                                start: start as u32,
                                end: (start + (s.end - s.start) as usize) as u32,
                            })
                        })
                        .collect::<Option<Vec<RRset>>>()?;
                    let src = new_src;
                    b.keep_at(n, node, src, node.at, |rrsets| rrsets.extend(mapped));
                }
            }
        }
        for touch in additions {
            let Touch::Added { parent, start, end } = *touch else {
                return None;
            };
            b.add_leaf(new, parent, start, end);
        }
        let slots = self.rehash(index, new, &b)?;
        Some((b.nodes, b.rrsets, slots))
    }

    /// The hash table renumbered for the new nodes: removed names deleted, new ones placed.
    fn rehash(&self, index: &ZoneIndex, new: &Zone, b: &Rebuild) -> Option<Vec<u64>> {
        if (b.nodes.len() + 1) * 2 > index.slots.len() {
            return None;
        }
        let mut slots = index.slots.clone();
        let renumbered = self
            .touches
            .iter()
            .any(|t| !matches!(t, Touch::Modified { .. }));
        if !renumbered {
            return Some(slots);
        }
        let seed = index.seed;
        for t in &self.touches {
            if let Touch::Removed { node } = *t {
                let name = name_of(index.zone(), &index.nodes[node]);
                remove_slot(&mut slots, hash_wire_name(seed, name), node, |n| {
                    hash_wire_name(seed, name_of(index.zone(), &index.nodes[n]))
                });
            }
        }
        for s in slots.iter_mut().filter(|s| **s != 0) {
            let n = (*s & 0xFFFF_FFFF) as usize - 1;
            *s = (*s >> 32) << 32 | (u64::from(b.renumber[n]) + 1);
        }
        for &n in &b.added {
            place(
                &mut slots,
                hash_wire_name(seed, name_of(new, &b.nodes[n])),
                n,
            );
        }
        Some(slots)
    }
}

/// The patched lists under construction.
struct Rebuild {
    nodes: Vec<Node>,
    rrsets: Vec<RRset>,
    /// Old node index to new; `u32::MAX` for a removed node.
    renumber: Vec<u32>,
    /// The new indices of the added leaves.
    added: Vec<usize>,
}

impl Rebuild {
    /// Keeps old node `n`, now an owner of records (from octet 0 of `src`'s owner), with the
    /// RRsets `sets` pushes.
    fn keep(
        &mut self,
        n: usize,
        node: &Node,
        src: Option<usize>,
        sets: impl FnOnce(&mut Vec<RRset>),
    ) {
        self.keep_at(n, node, src, 0, sets);
    }

    /// Keeps old node `n` with source `src` (from octet `at`; the apex has none) and the
    /// RRsets `sets` pushes.
    fn keep_at(
        &mut self,
        n: usize,
        node: &Node,
        src: Option<usize>,
        at: u8,
        sets: impl FnOnce(&mut Vec<RRset>),
    ) {
        let first = self.rrsets.len();
        sets(&mut self.rrsets);
        let count = self.rrsets.len() - first;
        self.renumber[n] = self.nodes.len() as u32;
        self.nodes.push(Node {
            src: src.map_or(ORIGIN_SRC, |s| s as u32),
            at: if src.is_some() { at } else { 0 },
            // An empty non-terminal's run is empty, at 0 as the builder leaves it.
            first: if count == 0 { 0 } else { first as u32 },
            count: count as u32,
            ..*node
        });
    }

    /// Appends a new leaf owning `new[start..end]` below old node `parent`.
    fn add_leaf(&mut self, new: &Zone, parent: usize, start: usize, end: usize) {
        let parent = self.nodes[self.renumber[parent] as usize];
        let labels = new.records()[start].owner.label_count();
        let above = above_of(self, &parent, new, labels);
        let first = self.rrsets.len();
        push_sets(&mut self.rrsets, new, start, end);
        self.added.push(self.nodes.len());
        self.nodes.push(Node {
            src: start as u32,
            at: 0,
            above,
            wild_child: false,
            first: first as u32,
            count: (self.rrsets.len() - first) as u32,
        });
    }
}

/// The cut or DNAME above a name with `labels` labels below `parent` (as the builder's).
fn above_of(b: &Rebuild, parent: &Node, zone: &Zone, labels: usize) -> Option<Cut> {
    parent.above.or_else(|| {
        let sets = &b.rrsets[parent.first as usize..(parent.first + parent.count) as usize];
        let has = |t: RType| sets.iter().any(|s| s.rtype == t);
        let is_apex = name_of(zone, parent).len() == zone.origin().wire_len();
        let cut = |kind| {
            Some(Cut {
                labels: (labels - 1) as u8,
                kind,
            })
        };
        if !is_apex && has(RType::NS) {
            cut(CutKind::Delegation)
        } else if has(RType::DNAME) {
            cut(CutKind::Dname)
        } else {
            None
        }
    })
}

/// Pushes the RRsets of `zone.records()[start..end]` (one owner's), in type order.
fn push_sets(rrsets: &mut Vec<RRset>, zone: &Zone, start: usize, end: usize) {
    let records = zone.records();
    let mut i = start;
    while i < end {
        let (rtype, from) = (records[i].rtype, i);
        while i < end && records[i].rtype == rtype {
            i += 1;
        }
        rrsets.push(RRset {
            rtype,
            start: from as u32,
            end: i as u32,
        });
    }
}

/// The owners `delta` touches, in canonical order, once each.
fn touched_owners(delta: &ZoneDelta) -> Vec<&Name> {
    let mut owners: Vec<&Name> = delta
        .removed()
        .iter()
        .chain(delta.added())
        .map(|r| &r.owner)
        .collect();
    owners.sort();
    owners.dedup();
    owners
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
        (Some(node), true) => Some(Touch::Modified { node, start, end }),
        (Some(node), false) => {
            let w = owner.wire();
            let below = index.nodes.get(node + 1).is_some_and(|next| {
                let next = name_of(index.zone(), next);
                next.len() > w.len() && next.ends_with(w)
            });
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
    let records = zone.records();
    let start = records.partition_point(|r| r.owner < *owner);
    let len = records[start..].partition_point(|r| r.owner == *owner);
    (start, start + len)
}

/// Deletes node `n` (whose name hashes to `h`) from the table, moving back the entries after
/// it that probing would no longer reach; `hash_of` hashes the name of a node in the table.
fn remove_slot(slots: &mut [u64], h: u64, n: usize, hash_of: impl Fn(usize) -> u64) {
    let mask = slots.len() - 1;
    let want = (h >> 32) << 32 | (n as u64 + 1);
    let mut i = (h as usize) & mask;
    while slots[i] != want {
        if slots[i] == 0 {
            return;
        }
        i = (i + 1) & mask;
    }
    let mut j = i;
    loop {
        j = (j + 1) & mask;
        if slots[j] == 0 {
            break;
        }
        let home = (hash_of((slots[j] & 0xFFFF_FFFF) as usize - 1) as usize) & mask;
        // Entry j may move to the hole at i unless its home lies cyclically in (i, j].
        let reachable_without = if i <= j {
            i < home && home <= j
        } else {
            i < home || home <= j
        };
        if !reachable_without {
            slots[i] = slots[j];
            i = j;
        }
    }
    slots[i] = 0;
}

#[cfg(test)]
#[path = "patch_tests.rs"]
mod tests;
