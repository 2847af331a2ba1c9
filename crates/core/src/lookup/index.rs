//! Building a [`ZoneIndex`]: the name table (open addressing over wire names) and each
//! node's RRsets and the cut or DNAME above it.

use std::hash::BuildHasher;

use super::{
    At, Cut, NO_RRSET, Node, ORIGIN_SRC, Paged, RRset, ZoneIndex, cut_below, name_of, parent_at,
};
use crate::dns::name::Name;
use crate::dns::record::RType;
use crate::dns::record::Record;
use crate::zone::Zone;

/// A seeded hash of a wire name: 8 octets at a time, then MurmurHash3's final mix. The
/// server's prepared-answer table uses it too, so both tables hash names the same way.
pub fn hash_wire_name(seed: u64, key: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(K);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_le_bytes(c.try_into().expect("8 octets"));
        h = (h ^ v).wrapping_mul(K).rotate_left(31);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(b)).wrapping_mul(K).rotate_left(31);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// The node named `key` in `slots`.
pub(super) fn find_in(
    zone: &Zone,
    nodes: &Paged<Node>,
    slots: &Paged<u64>,
    seed: u64,
    key: &[u8],
) -> Option<usize> {
    let h = hash_wire_name(seed, key);
    let mask = slots.len() - 1;
    let mut i = (h as usize) & mask;
    loop {
        let s = *slots.get(i);
        if s == 0 {
            return None;
        }
        if s >> 32 == h >> 32 {
            let n = (s & 0xFFFF_FFFF) as usize - 1;
            if name_of(zone, nodes.get(n)) == key {
                return Some(n);
            }
        }
        i = (i + 1) & mask;
    }
}

/// Puts node `n`, whose name hashes to `h`, in a free slot.
pub(super) fn place(slots: &mut Paged<u64>, h: u64, n: usize) {
    let mask = slots.len() - 1;
    let mut i = (h as usize) & mask;
    while *slots.get(i) != 0 {
        i = (i + 1) & mask;
    }
    *slots.get_mut(i) = (h >> 32) << 32 | (n as u64 + 1);
}

/// An empty hash table with room for at least `names` names at most half full.
pub(super) fn empty_slots(names: usize) -> Paged<u64> {
    Paged::from_vec(vec![0; (names * 2 + 2).next_power_of_two().max(16)])
}

/// The index under construction.
struct Builder<'z> {
    zone: &'z Zone,
    nodes: Paged<Node>,
    rrsets: Paged<RRset>,
    slots: Paged<u64>,
    seed: u64,
    unused: usize,
}

impl Builder<'_> {
    fn find(&self, key: &[u8]) -> Option<usize> {
        find_in(self.zone, &self.nodes, &self.slots, self.seed, key)
    }

    fn insert(&mut self, node: Node) -> usize {
        if (self.nodes.len() + 1) * 2 > self.slots.len() {
            let mut slots = empty_slots(self.nodes.len() * 2);
            for (n, node) in self.nodes.iter().enumerate() {
                place(
                    &mut slots,
                    hash_wire_name(self.seed, name_of(self.zone, node)),
                    n,
                );
            }
            self.slots = slots;
        }
        let n = self.nodes.len();
        let name = name_of(self.zone, &node);
        place(&mut self.slots, hash_wire_name(self.seed, name), n);
        self.nodes.push(node);
        // The apex (node 0) has no parent in the zone, even when its first label is `*`.
        if let Some(parent) = name.strip_prefix(b"\x01*").filter(|_| n > 0) {
            // Its parent was indexed before it, as every ancestor below the apex is.
            let parent = self.find(parent).expect("the parent is indexed");
            self.nodes.get_mut(parent).wild_child = true;
        }
        n
    }

    /// The cut or DNAME above a name with `labels` labels whose parent is node `parent`.
    fn above_of(&self, parent: usize, labels: usize) -> Option<Cut> {
        let parent = self.nodes.get(parent);
        let sets = self
            .rrsets
            .run(parent.first as usize, parent.count as usize);
        cut_below(parent, sets, labels)
    }
}

/// The RRsets of one owner's records `records` (offset `off` of the chunk with id `chunk` on),
/// in type order, into `out`.
pub(super) fn sets_of(records: &[Record], chunk: u32, off: usize, out: &mut Vec<RRset>) {
    out.clear();
    let mut i = 0;
    while i < records.len() {
        let (rtype, start) = (records[i].rtype, i);
        while i < records.len() && records[i].rtype == rtype {
            i += 1;
        }
        out.push(RRset {
            rtype,
            chunk,
            start: (off + start) as u32,
            end: (off + i) as u32,
        });
    }
}

impl ZoneIndex {
    /// Indexes `zone`. Records whose owner is outside the origin are ignored (validation
    /// refuses them anyway).
    pub fn new(zone: Zone) -> Self {
        let (nodes, rrsets, slots, seed, unused) = {
            let mut b = Builder {
                zone: &zone,
                nodes: Paged::default(),
                rrsets: Paged::default(),
                slots: empty_slots(zone.records().len()),
                seed: std::collections::hash_map::RandomState::new().hash_one(0x5a5a_u64),
                unused: 0,
            };
            Self::build(&mut b);
            let Builder {
                nodes,
                rrsets,
                slots,
                seed,
                unused,
                ..
            } = b;
            (nodes, rrsets, slots, seed, unused)
        };
        let mut index = ZoneIndex {
            zone,
            nodes,
            rrsets,
            slots,
            seed,
            negative_soa: None,
            unused,
        };
        index.negative_soa = index.apex_negative_soa();
        index
    }

    /// The SOA negative answers carry, from the apex's SOA set (see [`ZoneIndex::negative_soa`]).
    pub(super) fn apex_negative_soa(&self) -> Option<Record> {
        self.rrset(self.nodes.get(0), RType::SOA).and_then(|r| {
            let rec = &self.zone.records()[r.start];
            let soa = rec.soa()?;
            let mut neg = rec.clone();
            neg.ttl = rec.ttl.min(soa.minimum);
            Some(neg)
        })
    }

    fn build(b: &mut Builder<'_>) {
        let records = b.zone.records();
        b.insert(Node {
            src: ORIGIN_SRC,
            at: 0,
            above: None,
            wild_child: false,
            first: 0,
            count: 0,
        });

        // Records are in canonical order: an owner's records are one run, each RRset a run
        // within it, and every ancestor that owns records comes before its descendants. So
        // when an owner is reached, its existing ancestors are indexed with their cuts, and
        // only the missing ones (empty non-terminals) are added, top down.
        let mut missing = Vec::new();
        // The parent of the last owner: in canonical order siblings follow each other, so
        // this saves most lookups.
        let mut last_parent = 0;
        let mut sets = Vec::new();
        // An owner's records are one run of one chunk.
        for (k, chunk) in records.chunks_with_ids() {
            let mut i = 0;
            while i < chunk.len() {
                let start = i;
                let owner = &chunk[i].owner;
                while i < chunk.len() && chunk[i].owner == *owner {
                    i += 1;
                }
                if !owner.is_at_or_below(b.zone.origin()) {
                    continue;
                }
                sets_of(&chunk[start..i], k, start, &mut sets);
                let (first, skipped) = b.rrsets.push_run(&sets, NO_RRSET);
                b.unused += skipped;
                let src = At {
                    chunk: k,
                    off: start as u32,
                };
                let run = (first as u32, sets.len() as u32);
                Self::owner_at(b, src, owner, run, &mut last_parent, &mut missing);
            }
        }
    }

    /// Indexes `owner`, the owner of the record at `src` whose RRsets are the run `(first,
    /// count)`, adding its missing ancestors (empty non-terminals) top down.
    fn owner_at(
        b: &mut Builder<'_>,
        src: At,
        owner: &Name,
        (first, count): (u32, u32),
        last_parent: &mut usize,
        missing: &mut Vec<(usize, usize)>,
    ) {
        let zone = b.zone;
        let w = owner.wire();
        if w.len() == zone.origin().wire_len() {
            let apex = b.nodes.get_mut(0);
            (apex.first, apex.count) = (first, count);
            return;
        }
        let labels = owner.label_count();
        let parent_w = &w[parent_at(w, 0)..];
        if name_of(zone, b.nodes.get(*last_parent)) != parent_w {
            missing.clear();
            let (mut at, mut at_labels) = (parent_at(w, 0), labels - 1);
            let mut found = b.find(&w[at..]);
            while found.is_none() {
                missing.push((at, at_labels));
                (at, at_labels) = (parent_at(w, at), at_labels - 1);
                found = b.find(&w[at..]);
            }
            let mut parent = found.expect("an ancestor is indexed");
            for &(at, at_labels) in missing.iter().rev() {
                let above = b.above_of(parent, at_labels);
                parent = b.insert(Node {
                    src,
                    at: at as u8,
                    above,
                    wild_child: false,
                    first: 0,
                    count: 0,
                });
            }
            *last_parent = parent;
        }
        let above = b.above_of(*last_parent, labels);
        match b.find(w) {
            Some(n) => {
                let node = b.nodes.get_mut(n);
                (node.first, node.count, node.above) = (first, count, above);
            }
            None => {
                b.insert(Node {
                    src,
                    at: 0,
                    above,
                    wild_child: false,
                    first,
                    count,
                });
            }
        }
    }
}
