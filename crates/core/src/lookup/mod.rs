//! Authoritative lookup over a validated [`Zone`]: the algorithm of RFC 1034 §4.3.2, with
//! wildcards as RFC 4592 clarifies them, DNAME (RFC 6672) and negative answers (RFC 2308).
//!
//! # Design
//!
//! A [`ZoneIndex`] is built once per published generation, off the query path. It keeps the
//! zone's records in canonical order and a map from every existing name (owners and empty
//! non-terminals) to its node: the RRsets there, as ranges into the record list, and the
//! topmost zone cut or DNAME strictly above it, if any. A query then costs one hash lookup
//! for a name that exists, and one per label walked up for a name that does not.
//!
//! [`ZoneIndex::resolve`] answers with [`Item`]s that point into the record list, so a server
//! can map them to records it converted once at install time. [`ZoneIndex::lookup`] is the
//! same answer with the records materialised.
//!
//! The answer follows CNAMEs and DNAMEs inside the zone, at most [`CHAIN_MAX`] times, and
//! stops at a name it has already visited (a loop) or at a name outside the zone. Responses
//! are minimal: a positive answer carries no NS set in the authority section.

use std::hash::BuildHasher;
use std::ops::Range;

use crate::dns::name::Name;
use crate::dns::record::{RType, Record};
use crate::zone::Zone;

/// Most CNAME or DNAME redirections one answer follows.
pub const CHAIN_MAX: usize = 16;

/// The DS type (RFC 4034), which the parent side of a zone cut answers.
const DS: RType = RType(43);

/// A response code (RFC 1035 §4.1.1, RFC 2136 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rcode {
    NoError,
    FormErr,
    ServFail,
    NxDomain,
    NotImp,
    Refused,
    /// RFC 6672 §2.2: a DNAME substitution produced a name that is too long.
    YxDomain,
}

impl Rcode {
    /// The numeric RCODE.
    pub fn code(self) -> u16 {
        match self {
            Rcode::NoError => 0,
            Rcode::FormErr => 1,
            Rcode::ServFail => 2,
            Rcode::NxDomain => 3,
            Rcode::NotImp => 4,
            Rcode::Refused => 5,
            Rcode::YxDomain => 6,
        }
    }
}

/// An answer with its records materialised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub rcode: Rcode,
    /// The AA bit: false for referrals and refusals.
    pub authoritative: bool,
    pub answer: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
}

/// One record of a [`Resolution`], by reference to the zone where it can be.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Item {
    /// `records()[i]` as stored.
    Stored(usize),
    /// `records()[index]` with its owner replaced by `owner`: wildcard synthesis (RFC 4592).
    Wildcard { index: usize, owner: Name },
    /// The apex SOA with its TTL lowered to the SOA minimum if that is smaller (RFC 2308 §3),
    /// as [`ZoneIndex::negative_soa`] returns it.
    NegativeSoa,
    /// A record that is in no zone: the CNAME a DNAME synthesises (RFC 6672 §3.2).
    Synthesized(Record),
}

/// An answer as [`Item`]s. [`ZoneIndex::materialize`] turns an item into a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resolution {
    pub rcode: Rcode,
    pub authoritative: bool,
    pub answer: Vec<Item>,
    pub authority: Vec<Item>,
    pub additional: Vec<Item>,
}

impl Resolution {
    fn new() -> Self {
        Resolution {
            rcode: Rcode::NoError,
            authoritative: true,
            answer: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        }
    }
}

/// How the answers at one existing name depend on the query type, so that a server can
/// prepare them when a generation is installed. See [`ZoneIndex::shapes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameShape {
    /// Query types whose answers at this name are worth preparing one by one.
    pub types: Vec<RType>,
    /// A query type whose answer at this name every query type shares except those in
    /// `types`, ANY and the meta types (0, OPT, 128-255), or `None` if the answer depends
    /// on the type in other ways (a CNAME or DNAME to chase).
    pub others: Option<RType>,
    /// True if every name directly or indirectly below this one that does not exist, and
    /// whose closest existing ancestor is this name, is NXDOMAIN with just the negative SOA
    /// (no zone cut or DNAME above or at this name, and no wildcard child).
    pub nxdomain_below: bool,
}

/// What interrupts the descent to a name: a zone cut or a DNAME at a proper ancestor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CutKind {
    Delegation,
    Dname,
}

#[derive(Debug, Clone, Copy)]
struct Cut {
    /// Label count of the ancestor that holds the NS or DNAME set.
    labels: u8,
    kind: CutKind,
}

/// One RRset at a node: its type and its records, a range of the record list.
#[derive(Debug, Clone, Copy)]
struct RRset {
    rtype: RType,
    start: u32,
    end: u32,
}

impl RRset {
    fn range(&self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// `Node::src` of a name that is the origin itself.
const ORIGIN_SRC: u32 = u32::MAX;

/// One existing name. Nodes own no memory: a name's wire form is read from a record owner
/// (an empty non-terminal is a suffix of its descendant's owner) and its RRsets are a run of
/// [`ZoneIndex::rrsets`].
#[derive(Debug, Clone, Copy)]
struct Node {
    /// The name is the owner of `records()[src]` (or the origin, for [`ORIGIN_SRC`]) from
    /// octet `at` of its wire form on.
    src: u32,
    at: u8,
    /// The topmost non-apex NS owner or DNAME owner strictly above this name.
    above: Option<Cut>,
    /// True if `*.<this name>` exists (the source of synthesis below it, RFC 4592).
    wild_child: bool,
    /// RRsets in type order: `rrsets[first..first + count]`.
    first: u32,
    count: u32,
}

/// A zone prepared for answering queries. Build it once per generation.
#[derive(Debug)]
pub struct ZoneIndex {
    zone: Zone,
    /// Every existing name (owners and empty non-terminals), the apex first.
    nodes: Vec<Node>,
    /// The RRsets of every node, each node's a run.
    rrsets: Vec<RRset>,
    /// The nodes by uncompressed wire name: open addressing with linear probing, at most half
    /// full. A slot is `(hash >> 32) << 32 | (node + 1)`, 0 when empty. The wire form of an
    /// ancestor is a suffix of a name's wire form, so walking up a name allocates nothing.
    slots: Vec<u64>,
    seed: u64,
    negative_soa: Option<Record>,
}

/// What one step of the chase decided.
enum Step {
    Done,
    /// Continue with this name (a CNAME target or a DNAME substitution).
    Follow(Name),
}

/// The offset of the parent's wire form in a wire name, given the offset of a label.
fn parent_at(w: &[u8], at: usize) -> usize {
    at + 1 + w[at] as usize
}

/// The offset in `w` (the wire form of a name with `labels` labels) of its ancestor with
/// `keep` labels.
fn ancestor_at(w: &[u8], labels: usize, keep: usize) -> usize {
    (keep..labels).fold(0, |at, _| parent_at(w, at))
}

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

/// The wire form of `node`'s name.
fn name_of<'z>(zone: &'z Zone, node: &Node) -> &'z [u8] {
    let owner = match node.src {
        ORIGIN_SRC => &zone.origin,
        i => &zone.records[i as usize].owner,
    };
    &owner.wire()[node.at as usize..]
}

/// The node named `key` in `slots`.
fn find_in(zone: &Zone, nodes: &[Node], slots: &[u64], seed: u64, key: &[u8]) -> Option<usize> {
    let h = hash_wire_name(seed, key);
    let mask = slots.len() - 1;
    let mut i = (h as usize) & mask;
    loop {
        let s = slots[i];
        if s == 0 {
            return None;
        }
        if s >> 32 == h >> 32 {
            let n = (s & 0xFFFF_FFFF) as usize - 1;
            if name_of(zone, &nodes[n]) == key {
                return Some(n);
            }
        }
        i = (i + 1) & mask;
    }
}

/// Puts node `n`, whose name hashes to `h`, in a free slot.
fn place(slots: &mut [u64], h: u64, n: usize) {
    let mask = slots.len() - 1;
    let mut i = (h as usize) & mask;
    while slots[i] != 0 {
        i = (i + 1) & mask;
    }
    slots[i] = (h >> 32) << 32 | (n as u64 + 1);
}

/// The index under construction.
struct Builder<'z> {
    zone: &'z Zone,
    nodes: Vec<Node>,
    rrsets: Vec<RRset>,
    slots: Vec<u64>,
    seed: u64,
}

impl Builder<'_> {
    fn find(&self, key: &[u8]) -> Option<usize> {
        find_in(self.zone, &self.nodes, &self.slots, self.seed, key)
    }

    fn insert(&mut self, node: Node) -> usize {
        if (self.nodes.len() + 1) * 2 > self.slots.len() {
            let mut slots = vec![0u64; self.slots.len() * 2];
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
            self.nodes[parent].wild_child = true;
        }
        n
    }

    fn has(&self, node: &Node, rtype: RType) -> bool {
        let first = node.first as usize;
        self.rrsets[first..first + node.count as usize]
            .iter()
            .any(|s| s.rtype == rtype)
    }

    /// The cut or DNAME above a name with `labels` labels whose parent is node `parent`.
    fn above_of(&self, parent: usize, labels: usize) -> Option<Cut> {
        let parent = &self.nodes[parent];
        parent.above.or_else(|| {
            let is_apex = name_of(self.zone, parent).len() == self.zone.origin.wire_len();
            let cut = |kind| {
                Some(Cut {
                    labels: (labels - 1) as u8,
                    kind,
                })
            };
            if !is_apex && self.has(parent, RType::NS) {
                cut(CutKind::Delegation)
            } else if self.has(parent, RType::DNAME) {
                cut(CutKind::Dname)
            } else {
                None
            }
        })
    }
}

impl ZoneIndex {
    /// Indexes `zone`. Records whose owner is outside the origin are ignored (validation
    /// refuses them anyway).
    pub fn new(zone: Zone) -> Self {
        let (nodes, rrsets, slots, seed) = {
            let mut b = Builder {
                zone: &zone,
                nodes: Vec::new(),
                rrsets: Vec::new(),
                slots: vec![0; (zone.records.len() * 2 + 2).next_power_of_two().max(16)],
                seed: std::collections::hash_map::RandomState::new().hash_one(0x5a5a_u64),
            };
            Self::build(&mut b);
            let Builder {
                nodes,
                mut rrsets,
                slots,
                seed,
                ..
            } = b;
            rrsets.shrink_to_fit();
            (nodes, rrsets, slots, seed)
        };
        let mut index = ZoneIndex {
            zone,
            nodes,
            rrsets,
            slots,
            seed,
            negative_soa: None,
        };
        index.negative_soa = index.rrset(&index.nodes[0], RType::SOA).and_then(|r| {
            let rec = &index.zone.records[r.start];
            let soa = rec.soa()?;
            let mut neg = rec.clone();
            neg.ttl = rec.ttl.min(soa.minimum);
            Some(neg)
        });
        index
    }

    fn build(b: &mut Builder<'_>) {
        let zone = b.zone;
        let origin = &zone.origin;
        let origin_len = origin.wire_len();
        let records = &zone.records[..];
        let index = |i: usize| u32::try_from(i).expect("fewer than 2^32 records");
        b.nodes.reserve(records.len() + 1);
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
        let mut i = 0;
        while i < records.len() {
            let (src, owner) = (i, &records[i].owner);
            let first = b.rrsets.len();
            while i < records.len() && records[i].owner == *owner {
                let (rtype, start) = (records[i].rtype, i);
                while i < records.len() && records[i].owner == *owner && records[i].rtype == rtype {
                    i += 1;
                }
                b.rrsets.push(RRset {
                    rtype,
                    start: index(start),
                    end: index(i),
                });
            }
            if !owner.is_at_or_below(origin) {
                b.rrsets.truncate(first);
                continue;
            }
            let count = index(b.rrsets.len() - first);
            let first = index(first);
            let w = owner.wire();
            if w.len() == origin_len {
                b.nodes[0].first = first;
                b.nodes[0].count = count;
                continue;
            }
            let labels = owner.label_count();
            let parent_w = &w[parent_at(w, 0)..];
            if name_of(zone, &b.nodes[last_parent]) != parent_w {
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
                        src: index(src),
                        at: at as u8,
                        above,
                        wild_child: false,
                        first: 0,
                        count: 0,
                    });
                }
                last_parent = parent;
            }
            let above = b.above_of(last_parent, labels);
            match b.find(w) {
                Some(n) => {
                    let node = &mut b.nodes[n];
                    (node.first, node.count, node.above) = (first, count, above);
                }
                None => {
                    b.insert(Node {
                        src: index(src),
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

    /// The node named by the wire name `key`.
    fn find(&self, key: &[u8]) -> Option<&Node> {
        find_in(&self.zone, &self.nodes, &self.slots, self.seed, key).map(|n| &self.nodes[n])
    }

    /// The RRsets at `node`, in type order.
    fn sets(&self, node: &Node) -> &[RRset] {
        let first = node.first as usize;
        &self.rrsets[first..first + node.count as usize]
    }

    fn rrset(&self, node: &Node, rtype: RType) -> Option<Range<usize>> {
        self.sets(node)
            .iter()
            .find(|s| s.rtype == rtype)
            .map(RRset::range)
    }

    fn has(&self, node: &Node, rtype: RType) -> bool {
        self.sets(node).iter().any(|s| s.rtype == rtype)
    }

    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// The indexed zone, giving up the index.
    pub fn into_zone(self) -> Zone {
        self.zone
    }

    pub fn origin(&self) -> &Name {
        self.zone.origin()
    }

    /// The zone's records in canonical order; [`Item::Stored`] indexes into this.
    pub fn records(&self) -> &[Record] {
        self.zone.records()
    }

    /// The SOA that negative answers carry: the apex SOA with TTL `min(TTL, minimum)`.
    pub fn negative_soa(&self) -> Option<&Record> {
        self.negative_soa.as_ref()
    }

    /// True if `name` exists in the zone: it owns records or is an empty non-terminal.
    pub fn contains(&self, name: &Name) -> bool {
        self.find(name.wire()).is_some()
    }

    /// True if `name` is a zone cut: a non-apex owner of an NS set.
    pub fn is_delegation(&self, name: &Name) -> bool {
        name != self.origin() && self.node(name).is_some_and(|n| self.has(n, RType::NS))
    }

    fn node(&self, name: &Name) -> Option<&Node> {
        self.find(name.wire())
    }

    /// The record an item stands for.
    pub fn materialize(&self, item: &Item) -> Record {
        match item {
            Item::Stored(i) => self.records()[*i].clone(),
            Item::Wildcard { index, owner } => {
                let mut r = self.records()[*index].clone();
                r.owner = owner.clone();
                r
            }
            Item::NegativeSoa => self
                .negative_soa
                .clone()
                .expect("NegativeSoa is only used when there is an SOA"),
            Item::Synthesized(r) => r.clone(),
        }
    }

    /// Every existing name (uncompressed wire form, lower case) with how its answers depend
    /// on the query type. The name's answers themselves are [`ZoneIndex::resolve`]'s; this
    /// only says which query types share one, which is what the lookup algorithm below
    /// decides:
    /// - below a zone cut, every type gets the same referral;
    /// - below a DNAME, the answer chases the substitution with the type: nothing shared;
    /// - at a zone cut, DS is answered from the parent side, every other type is referred;
    /// - at a CNAME, CNAME and ANY stop there and the rest chase it with their type: A and
    ///   AAAA are listed, nothing else is shared;
    /// - anywhere else, each type present is answered and every other type is NODATA.
    pub fn shapes(&self) -> impl Iterator<Item = (&[u8], NameShape)> + '_ {
        self.shapes_of(0..self.nodes.len())
    }

    /// How many names exist in the zone (owners and empty non-terminals): what
    /// [`ZoneIndex::shapes`] yields.
    pub fn name_count(&self) -> usize {
        self.nodes.len()
    }

    /// [`ZoneIndex::shapes`] from the `range` of its names, so that several threads can each
    /// take a part.
    pub fn shapes_of(&self, range: Range<usize>) -> impl Iterator<Item = (&[u8], NameShape)> + '_ {
        let origin_len = self.origin().wire_len();
        self.nodes[range].iter().map(move |node| {
            let w = name_of(&self.zone, node);
            let is_apex = w.len() == origin_len;
            let present: Vec<RType> = self.sets(node).iter().map(|s| s.rtype).collect();
            // A type this name has no records of, which the lookup treats like any other.
            let absent = (1..=u16::MAX)
                .rev()
                .map(RType)
                .find(|t| !present.contains(t))
                .expect("a node holds fewer than 65535 types");
            let shape = match node.above {
                Some(Cut {
                    kind: CutKind::Delegation,
                    ..
                }) => NameShape {
                    types: Vec::new(),
                    others: Some(absent),
                    nxdomain_below: false,
                },
                Some(Cut {
                    kind: CutKind::Dname,
                    ..
                }) => NameShape {
                    types: Vec::new(),
                    others: None,
                    nxdomain_below: false,
                },
                None if !is_apex && self.has(node, RType::NS) => NameShape {
                    types: vec![DS],
                    others: Some(absent),
                    nxdomain_below: false,
                },
                None if self.has(node, RType::CNAME) => {
                    let mut types = present;
                    for t in [RType::A, RType::AAAA] {
                        if !types.contains(&t) {
                            types.push(t);
                        }
                    }
                    NameShape {
                        types,
                        others: None,
                        nxdomain_below: false,
                    }
                }
                None => NameShape {
                    nxdomain_below: !self.has(node, RType::DNAME) && !node.wild_child,
                    types: present,
                    others: Some(absent),
                },
            };
            (w, shape)
        })
    }

    /// The answer for a name that does not exist when its closest existing ancestor has
    /// [`NameShape::nxdomain_below`]: NXDOMAIN with the negative SOA (RFC 2308 §2.1).
    pub fn nxdomain(&self) -> Resolution {
        let mut res = Resolution::new();
        res.rcode = Rcode::NxDomain;
        self.push_negative(&mut res);
        res
    }

    /// Answers `qname`/`qtype` with the records materialised.
    pub fn lookup(&self, qname: &Name, qtype: RType) -> Answer {
        let res = self.resolve(qname, qtype);
        let all = |items: &[Item]| items.iter().map(|i| self.materialize(i)).collect();
        Answer {
            rcode: res.rcode,
            authoritative: res.authoritative,
            answer: all(&res.answer),
            authority: all(&res.authority),
            additional: all(&res.additional),
        }
    }

    /// Answers `qname`/`qtype` (RFC 1034 §4.3.2). A name outside the zone is `Refused`.
    pub fn resolve(&self, qname: &Name, qtype: RType) -> Resolution {
        let mut res = Resolution::new();
        if !qname.is_at_or_below(self.origin()) {
            res.rcode = Rcode::Refused;
            res.authoritative = false;
            return res;
        }
        let mut name = qname.clone();
        let mut visited: Vec<Name> = Vec::new();
        for _ in 0..=CHAIN_MAX {
            match self.step(&name, qtype, &mut res) {
                Step::Done => break,
                Step::Follow(next) => {
                    if !next.is_at_or_below(self.origin())
                        || next == name
                        || visited.contains(&next)
                    {
                        break;
                    }
                    visited.push(std::mem::replace(&mut name, next));
                }
            }
        }
        self.add_additional(&mut res);
        res
    }

    /// One name of the chase: RFC 1034 §4.3.2 steps 3a–3c.
    fn step(&self, name: &Name, qtype: RType, res: &mut Resolution) -> Step {
        let w = name.wire();
        let labels = name.label_count();
        if let Some(node) = self.find(w) {
            if let Some(cut) = node.above {
                return self.interrupted(name, w, cut, res);
            }
            if name != self.origin() && self.has(node, RType::NS) && qtype != DS {
                self.referral(node, res);
                return Step::Done;
            }
            return self.answer_at(name, node, false, qtype, res);
        }

        // The name does not exist: find its closest encloser. The origin always exists and
        // encloses every name asked here.
        let (mut at, mut enc_labels) = (parent_at(w, 0), labels - 1);
        let enc_node = loop {
            if let Some(node) = self.find(&w[at..]) {
                break node;
            }
            (at, enc_labels) = (parent_at(w, at), enc_labels - 1);
        };
        if let Some(cut) = enc_node.above {
            return self.interrupted(name, w, cut, res);
        }
        let is_apex = enc_labels == self.origin().label_count();
        if !is_apex && self.has(enc_node, RType::NS) {
            self.referral(enc_node, res);
            return Step::Done;
        }
        if self.has(enc_node, RType::DNAME) {
            let encloser = name.ancestor_with_labels(enc_labels).expect("an ancestor");
            return self.dname(name, &encloser, enc_node, res);
        }
        // RFC 4592 §3.3.1: the source of synthesis is `*.<closest encloser>`.
        if enc_node.wild_child {
            let mut wild = Vec::with_capacity(2 + w.len() - at);
            wild.extend_from_slice(&[1, b'*']);
            wild.extend_from_slice(&w[at..]);
            let wnode = self.find(&wild).expect("a wildcard child is indexed");
            return self.answer_at(name, wnode, true, qtype, res);
        }
        // What `nxdomain` returns, after the chain so far.
        res.rcode = Rcode::NxDomain;
        self.push_negative(res);
        Step::Done
    }

    /// The descent to `name` (wire form `w`) met a zone cut or a DNAME above it.
    fn interrupted(&self, name: &Name, w: &[u8], cut: Cut, res: &mut Resolution) -> Step {
        let at = ancestor_at(w, name.label_count(), cut.labels as usize);
        let node = self.find(&w[at..]).expect("the cut is indexed");
        match cut.kind {
            CutKind::Delegation => {
                self.referral(node, res);
                Step::Done
            }
            CutKind::Dname => {
                let owner = name
                    .ancestor_with_labels(cut.labels as usize)
                    .expect("the cut is an ancestor");
                self.dname(name, &owner, node, res)
            }
        }
    }

    /// RFC 1034 §4.3.2 step 3b: the NS set of the cut in the authority section. The glue is
    /// added with the other additional records.
    fn referral(&self, cut: &Node, res: &mut Resolution) {
        if let Some(range) = self.rrset(cut, RType::NS) {
            res.authority.extend(range.map(Item::Stored));
        }
        if res.answer.is_empty() {
            res.authoritative = false;
        }
    }

    /// RFC 6672 §3.2: the DNAME, then the CNAME it synthesises for `name`.
    fn dname(&self, name: &Name, owner: &Name, node: &Node, res: &mut Resolution) -> Step {
        let Some(range) = self.rrset(node, RType::DNAME) else {
            return Step::Done;
        };
        let index = range.start;
        let dname = &self.records()[index];
        res.answer.push(Item::Stored(index));
        let Some(target) = dname.target_name() else {
            return Step::Done;
        };
        let Ok(next) = name.replace_suffix(owner, &target) else {
            res.rcode = Rcode::YxDomain;
            return Step::Done;
        };
        let mut rdata = Vec::with_capacity(next.wire_len());
        next.write_wire(&mut rdata);
        res.answer.push(Item::Synthesized(Record {
            owner: name.clone(),
            rtype: RType::CNAME,
            ttl: dname.ttl,
            rdata: rdata.into_boxed_slice(),
        }));
        if target.is_at_or_below(owner) {
            // The DNAME points below itself: every substitution lands under it again and the
            // name only grows. Stop after one, as NSD does, rather than grow it CHAIN_MAX times.
            return Step::Done;
        }
        Step::Follow(next)
    }

    /// RFC 1034 §4.3.2 step 3a (or 3c with a wildcard node): the data at `node` for `name`.
    fn answer_at(
        &self,
        name: &Name,
        node: &Node,
        wildcard: bool,
        qtype: RType,
        res: &mut Resolution,
    ) -> Step {
        let item = |index: usize| {
            if wildcard {
                Item::Wildcard {
                    index,
                    owner: name.clone(),
                }
            } else {
                Item::Stored(index)
            }
        };
        let cname = self
            .rrset(node, RType::CNAME)
            .filter(|_| qtype != RType::CNAME && qtype != RType::ANY);
        if let Some(range) = cname {
            let target = self.records()[range.start].target_name();
            res.answer.extend(range.map(item));
            return target.map_or(Step::Done, Step::Follow);
        }
        let before = res.answer.len();
        if qtype == RType::ANY {
            for set in self.sets(node) {
                res.answer.extend(set.range().map(item));
            }
        } else if let Some(range) = self.rrset(node, qtype) {
            res.answer.extend(range.map(item));
        }
        if res.answer.len() == before {
            // NODATA (RFC 2308 §2.2).
            self.push_negative(res);
        }
        Step::Done
    }

    fn push_negative(&self, res: &mut Resolution) {
        if self.negative_soa.is_some() {
            res.authority.push(Item::NegativeSoa);
        }
    }

    /// The target name of an NS, MX or SRV item.
    fn additional_target(&self, item: &Item) -> Option<Name> {
        let index = match item {
            Item::Stored(i) | Item::Wildcard { index: i, .. } => *i,
            Item::NegativeSoa | Item::Synthesized(_) => return None,
        };
        let r = &self.records()[index];
        matches!(r.rtype, RType::NS | RType::MX | RType::SRV)
            .then(|| r.target_name())
            .flatten()
    }

    /// RFC 1034 §4.3.2 step 6 and RFC 1035 §3.3: address records of NS, MX and SRV targets
    /// the zone holds (glue included), each once and never repeating the answer section.
    fn add_additional(&self, res: &mut Resolution) {
        let targets: Vec<Name> = res
            .answer
            .iter()
            .chain(res.authority.iter())
            .filter_map(|item| self.additional_target(item))
            .collect();
        for target in targets {
            let Some(node) = self.node(&target) else {
                continue;
            };
            for rtype in [RType::A, RType::AAAA] {
                if let Some(range) = self.rrset(node, rtype) {
                    for i in range {
                        let item = Item::Stored(i);
                        if !res.answer.contains(&item) && !res.additional.contains(&item) {
                            res.additional.push(item);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::record::Soa;
    use crate::zone::ParsedZone;
    use crate::zone::limits::Limits;
    use crate::zone::validate::validate;

    fn n(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    fn name_rdata(s: &str) -> Box<[u8]> {
        let mut v = Vec::new();
        n(s).write_wire(&mut v);
        v.into_boxed_slice()
    }

    fn rec(owner: &str, ttl: u32, rtype: RType, rdata: Box<[u8]>) -> Record {
        Record {
            owner: n(owner),
            rtype,
            ttl,
            rdata,
        }
    }

    fn a(owner: &str, ip: [u8; 4]) -> Record {
        rec(owner, 300, RType::A, Box::new(ip))
    }

    fn aaaa(owner: &str, last: u8) -> Record {
        let mut ip = [0u8; 16];
        ip[0] = 0x20;
        ip[1] = 0x01;
        ip[15] = last;
        rec(owner, 300, RType::AAAA, Box::new(ip))
    }

    fn ns(owner: &str, target: &str) -> Record {
        rec(owner, 3600, RType::NS, name_rdata(target))
    }

    fn cname(owner: &str, target: &str) -> Record {
        rec(owner, 600, RType::CNAME, name_rdata(target))
    }

    fn dname(owner: &str, target: &str) -> Record {
        rec(owner, 700, RType::DNAME, name_rdata(target))
    }

    fn txt(owner: &str, text: &str) -> Record {
        let mut v = vec![text.len() as u8];
        v.extend_from_slice(text.as_bytes());
        rec(owner, 300, RType::TXT, v.into_boxed_slice())
    }

    fn mx(owner: &str, pref: u16, target: &str) -> Record {
        let mut v = pref.to_be_bytes().to_vec();
        n(target).write_wire(&mut v);
        rec(owner, 300, RType::MX, v.into_boxed_slice())
    }

    fn srv(owner: &str, target: &str) -> Record {
        let mut v = vec![0, 1, 0, 2, 0x13, 0xc4];
        n(target).write_wire(&mut v);
        rec(owner, 300, RType::SRV, v.into_boxed_slice())
    }

    fn soa(origin: &str, ttl: u32, minimum: u32) -> Record {
        let s = Soa {
            mname: n(&format!("ns1.{origin}")),
            rname: n(&format!("hostmaster.{origin}")),
            serial: 1,
            refresh: 3600,
            retry: 600,
            expire: 86400,
            minimum,
        };
        rec(origin, ttl, RType::SOA, s.to_rdata())
    }

    fn index(origin: &str, extra: Vec<Record>) -> ZoneIndex {
        let ns1 = format!("ns1.{origin}");
        let mut records = vec![
            soa(origin, 3600, 300),
            ns(origin, &ns1),
            a(&ns1, [192, 0, 2, 53]),
        ];
        records.extend(extra);
        let zone = validate(
            ParsedZone {
                origin: n(origin),
                records,
            },
            &Limits::default(),
        )
        .expect("valid test zone");
        ZoneIndex::new(zone)
    }

    fn example() -> ZoneIndex {
        index(
            "example.",
            vec![
                a("www.example.", [192, 0, 2, 1]),
                a("www.example.", [192, 0, 2, 2]),
                aaaa("www.example.", 1),
                txt("a.b.c.example.", "deep"),
                // Delegation with in-bailiwick glue and an out-of-zone server.
                ns("sub.example.", "ns.sub.example."),
                ns("sub.example.", "ns.elsewhere.test."),
                a("ns.sub.example.", [192, 0, 2, 99]),
                aaaa("ns.sub.example.", 99),
                cname("alias.example.", "www.example."),
                cname("chain1.example.", "chain2.example."),
                cname("chain2.example.", "www.example."),
                cname("out.example.", "www.elsewhere.test."),
                cname("dangling.example.", "nothere.example."),
                cname("loop1.example.", "loop2.example."),
                cname("loop2.example.", "loop1.example."),
                cname("todeleg.example.", "host.sub.example."),
                dname("old.example.", "new.example."),
                a("host.new.example.", [192, 0, 2, 7]),
                dname("far.example.", "elsewhere.test."),
                a("*.wild.example.", [192, 0, 2, 42]),
                txt("*.wild.example.", "wild"),
                a("exists.wild.example.", [192, 0, 2, 43]),
                txt(
                    "x.ent.wild.example.",
                    "makes ent.wild an empty non-terminal",
                ),
                cname("*.cw.example.", "www.example."),
                mx("mail.example.", 10, "mx.example."),
                a("mx.example.", [192, 0, 2, 25]),
                srv("_sip._tcp.example.", "sip.example."),
                aaaa("sip.example.", 5),
            ],
        )
    }

    /// `shapes` says which query types share an answer; check it against `resolve` for every
    /// name of the example zone, a spread of types, and a missing child of each name.
    #[test]
    fn shapes_agree_with_resolve() {
        let idx = example();
        let probe: Vec<RType> = [
            0u16, 1, 2, 5, 6, 12, 15, 16, 28, 33, 39, 43, 46, 99, 65280, 65535,
        ]
        .into_iter()
        .map(RType)
        .collect();
        let mut seen = 0;
        for (w, shape) in idx.shapes() {
            let (name, _) = Name::from_wire(w).unwrap();
            assert_eq!(w, name.wire());
            if let Some(other) = shape.others {
                assert!(!shape.types.contains(&other), "{name}");
                let shared = idx.resolve(&name, other);
                for &t in &probe {
                    if shape.types.contains(&t) {
                        continue;
                    }
                    assert_eq!(idx.resolve(&name, t), shared, "{name} {t:?}");
                }
            }
            if shape.nxdomain_below {
                let missing = Name::parse(&format!("zz-missing.{name}")).unwrap();
                assert!(!idx.contains(&missing));
                for &t in &probe {
                    assert_eq!(idx.resolve(&missing, t), idx.nxdomain(), "{missing} {t:?}");
                }
            }
            seen += 1;
        }
        assert_eq!(seen, idx.nodes.len());
        // The shapes that matter: a cut, a CNAME, a DNAME owner, a wildcard parent.
        let shape = |s: &str| {
            idx.shapes()
                .find(|(w, _)| *w == n(s).wire())
                .map(|(_, sh)| sh)
                .unwrap()
        };
        assert_eq!(shape("sub.example.").types, vec![DS]);
        assert!(shape("sub.example.").others.is_some());
        assert!(shape("ns.sub.example.").types.is_empty());
        assert!(shape("alias.example.").others.is_none());
        assert!(!shape("old.example.").nxdomain_below);
        assert!(!shape("wild.example.").nxdomain_below);
        assert!(shape("example.").nxdomain_below);
        assert!(shape("www.example.").nxdomain_below);
        assert!(shape("host.new.example.").nxdomain_below);
    }

    fn owners_types(records: &[Record]) -> Vec<(String, RType)> {
        records
            .iter()
            .map(|r| (r.owner.to_string(), r.rtype))
            .collect()
    }

    #[test]
    fn exact_match_is_authoritative() {
        let ix = example();
        let ans = ix.lookup(&n("WWW.Example."), RType::A);
        assert_eq!(ans.rcode, Rcode::NoError);
        assert!(ans.authoritative);
        assert_eq!(ans.answer.len(), 2);
        assert!(
            ans.answer
                .iter()
                .all(|r| r.rtype == RType::A && r.owner == n("www.example."))
        );
        assert!(ans.authority.is_empty());
        let ans = ix.lookup(&n("example."), RType::SOA);
        assert_eq!(
            owners_types(&ans.answer),
            vec![("example.".into(), RType::SOA)]
        );
    }

    #[test]
    fn outside_the_zone_is_refused() {
        let ix = example();
        let ans = ix.lookup(&n("www.other."), RType::A);
        assert_eq!(ans.rcode, Rcode::Refused);
        assert!(!ans.authoritative);
        assert!(ans.answer.is_empty() && ans.authority.is_empty());
    }

    #[test]
    fn nxdomain_and_nodata_carry_the_soa_with_the_negative_ttl() {
        let ix = index("example.", vec![a("www.example.", [192, 0, 2, 1])]);
        // SOA TTL 3600, minimum 300: the negative TTL is 300.
        let nx = ix.lookup(&n("nope.example."), RType::A);
        assert_eq!(nx.rcode, Rcode::NxDomain);
        assert!(nx.authoritative);
        assert!(nx.answer.is_empty());
        assert_eq!(
            owners_types(&nx.authority),
            vec![("example.".into(), RType::SOA)]
        );
        assert_eq!(nx.authority[0].ttl, 300);
        let nodata = ix.lookup(&n("www.example."), RType::TXT);
        assert_eq!(nodata.rcode, Rcode::NoError);
        assert!(nodata.answer.is_empty());
        assert_eq!(
            owners_types(&nodata.authority),
            vec![("example.".into(), RType::SOA)]
        );
        // SOA TTL below the minimum: the SOA TTL wins.
        let mut records = vec![soa("low.", 60, 3600), ns("low.", "ns.other.")];
        records.push(a("a.low.", [1, 2, 3, 4]));
        let zone = validate(
            ParsedZone {
                origin: n("low."),
                records,
            },
            &Limits::default(),
        )
        .unwrap();
        let ix = ZoneIndex::new(zone);
        assert_eq!(ix.lookup(&n("b.low."), RType::A).authority[0].ttl, 60);
    }

    #[test]
    fn empty_non_terminal_is_nodata_not_nxdomain() {
        let ix = example();
        for name in ["b.c.example.", "c.example."] {
            let ans = ix.lookup(&n(name), RType::A);
            assert_eq!(ans.rcode, Rcode::NoError, "{name}");
            assert!(ans.answer.is_empty());
            assert_eq!(
                owners_types(&ans.authority),
                vec![("example.".into(), RType::SOA)]
            );
        }
        assert_eq!(
            ix.lookup(&n("x.b.c.example."), RType::A).rcode,
            Rcode::NxDomain
        );
        assert!(ix.contains(&n("c.example.")));
    }

    #[test]
    fn referral_below_a_delegation() {
        let ix = example();
        for (qname, qtype) in [
            ("sub.example.", RType::A),
            ("sub.example.", RType::NS),
            ("host.sub.example.", RType::A),
            ("ns.sub.example.", RType::A),
            ("deep.x.sub.example.", RType::TXT),
        ] {
            let ans = ix.lookup(&n(qname), qtype);
            assert_eq!(ans.rcode, Rcode::NoError, "{qname}");
            assert!(!ans.authoritative, "{qname} must be a referral");
            assert!(ans.answer.is_empty());
            assert_eq!(ans.authority.len(), 2);
            assert!(
                ans.authority
                    .iter()
                    .all(|r| r.rtype == RType::NS && r.owner == n("sub.example."))
            );
            // Glue for the in-zone server, nothing for the out-of-zone one.
            assert_eq!(
                owners_types(&ans.additional),
                vec![
                    ("ns.sub.example.".into(), RType::A),
                    ("ns.sub.example.".into(), RType::AAAA)
                ]
            );
        }
        assert!(ix.is_delegation(&n("sub.example.")));
        assert!(!ix.is_delegation(&n("example.")));
    }

    #[test]
    fn ds_at_a_delegation_is_answered_by_the_parent() {
        let ix = example();
        let ans = ix.lookup(&n("sub.example."), DS);
        assert!(ans.authoritative);
        assert_eq!(ans.rcode, Rcode::NoError);
        assert!(ans.answer.is_empty());
        assert_eq!(
            owners_types(&ans.authority),
            vec![("example.".into(), RType::SOA)]
        );
        // DS below the cut is still a referral.
        assert!(!ix.lookup(&n("x.sub.example."), DS).authoritative);
        // A DS set the parent holds is returned.
        let ds = rec("sub.example.", 300, DS, Box::new([0, 1, 8, 2, 0xaa]));
        let ix = index(
            "example.",
            vec![ns("sub.example.", "ns.other."), ds.clone()],
        );
        let ans = ix.lookup(&n("sub.example."), DS);
        assert!(ans.authoritative);
        assert_eq!(ans.answer, vec![ds]);
    }

    #[test]
    fn cname_is_chased_inside_the_zone() {
        let ix = example();
        let ans = ix.lookup(&n("chain1.example."), RType::A);
        assert!(ans.authoritative);
        assert_eq!(
            owners_types(&ans.answer),
            vec![
                ("chain1.example.".into(), RType::CNAME),
                ("chain2.example.".into(), RType::CNAME),
                ("www.example.".into(), RType::A),
                ("www.example.".into(), RType::A),
            ]
        );
        // Asking for the CNAME itself does not chase.
        let ans = ix.lookup(&n("alias.example."), RType::CNAME);
        assert_eq!(
            owners_types(&ans.answer),
            vec![("alias.example.".into(), RType::CNAME)]
        );
        // ANY at a CNAME returns the CNAME.
        let ans = ix.lookup(&n("alias.example."), RType::ANY);
        assert_eq!(
            owners_types(&ans.answer),
            vec![("alias.example.".into(), RType::CNAME)]
        );
        // A target outside the zone ends the chain.
        let ans = ix.lookup(&n("out.example."), RType::A);
        assert_eq!(ans.rcode, Rcode::NoError);
        assert_eq!(
            owners_types(&ans.answer),
            vec![("out.example.".into(), RType::CNAME)]
        );
        assert!(ans.authority.is_empty());
    }

    #[test]
    fn cname_to_missing_name_or_type_is_negative_with_the_chain() {
        let ix = example();
        let ans = ix.lookup(&n("dangling.example."), RType::A);
        assert_eq!(ans.rcode, Rcode::NxDomain);
        assert!(ans.authoritative);
        assert_eq!(
            owners_types(&ans.answer),
            vec![("dangling.example.".into(), RType::CNAME)]
        );
        assert_eq!(
            owners_types(&ans.authority),
            vec![("example.".into(), RType::SOA)]
        );
        let ans = ix.lookup(&n("alias.example."), RType::TXT);
        assert_eq!(ans.rcode, Rcode::NoError);
        assert_eq!(
            owners_types(&ans.answer),
            vec![("alias.example.".into(), RType::CNAME)]
        );
        assert_eq!(
            owners_types(&ans.authority),
            vec![("example.".into(), RType::SOA)]
        );
    }

    #[test]
    fn cname_loops_and_long_chains_stop() {
        let ix = example();
        let ans = ix.lookup(&n("loop1.example."), RType::A);
        assert_eq!(ans.rcode, Rcode::NoError);
        assert_eq!(
            owners_types(&ans.answer),
            vec![
                ("loop1.example.".into(), RType::CNAME),
                ("loop2.example.".into(), RType::CNAME)
            ]
        );
        // A self-loop.
        let ix2 = index("example.", vec![cname("self.example.", "self.example.")]);
        assert_eq!(ix2.lookup(&n("self.example."), RType::A).answer.len(), 1);
        // A chain of 40 CNAMEs stops after CHAIN_MAX redirections.
        let chain: Vec<Record> = (0..40)
            .map(|i| cname(&format!("c{i}.example."), &format!("c{}.example.", i + 1)))
            .collect();
        let ix3 = index("example.", chain);
        let ans = ix3.lookup(&n("c0.example."), RType::A);
        assert_eq!(ans.answer.len(), CHAIN_MAX + 1);
    }

    #[test]
    fn cname_into_a_delegation_ends_in_a_referral() {
        let ix = example();
        let ans = ix.lookup(&n("todeleg.example."), RType::A);
        assert_eq!(
            owners_types(&ans.answer),
            vec![("todeleg.example.".into(), RType::CNAME)]
        );
        assert!(
            ans.authority
                .iter()
                .all(|r| r.rtype == RType::NS && r.owner == n("sub.example."))
        );
        assert_eq!(ans.authority.len(), 2);
    }

    #[test]
    fn dname_substitutes_and_synthesises_a_cname() {
        let ix = example();
        let ans = ix.lookup(&n("host.old.example."), RType::A);
        assert_eq!(ans.rcode, Rcode::NoError);
        assert!(ans.authoritative);
        assert_eq!(
            owners_types(&ans.answer),
            vec![
                ("old.example.".into(), RType::DNAME),
                ("host.old.example.".into(), RType::CNAME),
                ("host.new.example.".into(), RType::A),
            ]
        );
        let synth = &ans.answer[1];
        assert_eq!(synth.ttl, 700, "the synthesised CNAME has the DNAME's TTL");
        assert_eq!(synth.target_name(), Some(n("host.new.example.")));
        // Deeper names are substituted too; a missing target is NXDOMAIN.
        let ans = ix.lookup(&n("a.b.old.example."), RType::A);
        assert_eq!(ans.rcode, Rcode::NxDomain);
        assert_eq!(ans.answer[1].target_name(), Some(n("a.b.new.example.")));
        // The DNAME owner itself is not redirected.
        let ans = ix.lookup(&n("old.example."), RType::A);
        assert!(ans.answer.is_empty());
        assert_eq!(
            owners_types(&ans.authority),
            vec![("example.".into(), RType::SOA)]
        );
        let ans = ix.lookup(&n("old.example."), RType::DNAME);
        assert_eq!(
            owners_types(&ans.answer),
            vec![("old.example.".into(), RType::DNAME)]
        );
        // A target outside the zone stops after the synthesised CNAME.
        let ans = ix.lookup(&n("www.far.example."), RType::A);
        assert_eq!(ans.answer.len(), 2);
        assert_eq!(ans.answer[1].target_name(), Some(n("www.elsewhere.test.")));
    }

    #[test]
    fn dname_pointing_below_itself_is_applied_once() {
        let ix = index("example.", vec![dname("d.example.", "x.d.example.")]);
        let ans = ix.lookup(&n("q.d.example."), RType::A);
        assert_eq!(ans.rcode, Rcode::NoError);
        assert_eq!(
            owners_types(&ans.answer),
            vec![
                ("d.example.".into(), RType::DNAME),
                ("q.d.example.".into(), RType::CNAME)
            ]
        );
        assert_eq!(ans.answer[1].target_name(), Some(n("q.x.d.example.")));
        // A DNAME applied again after a CNAME leads back under it is followed normally.
        let ix = index(
            "example.",
            vec![
                dname("a.example.", "b.example."),
                cname("x.b.example.", "y.a.example."),
                txt("y.b.example.", "end"),
            ],
        );
        let ans = ix.lookup(&n("x.a.example."), RType::TXT);
        assert_eq!(ans.answer.len(), 6);
        assert_eq!(ans.answer[5].owner, n("y.b.example."));
    }

    #[test]
    fn dname_substitution_that_is_too_long_is_yxdomain() {
        let long = format!(
            "{}.{}.{}.example.",
            "a".repeat(60),
            "b".repeat(60),
            "c".repeat(60)
        );
        let ix = index("example.", vec![dname("d.example.", &long)]);
        let q = format!("{}.d.example.", "q".repeat(63));
        let ans = ix.lookup(&n(&q), RType::A);
        assert_eq!(ans.rcode, Rcode::YxDomain);
        assert_eq!(
            owners_types(&ans.answer),
            vec![("d.example.".into(), RType::DNAME)]
        );
    }

    /// A wildcard that is an empty non-terminal synthesises NODATA; an origin whose first
    /// label is `*` is not a wildcard of anything in the zone.
    #[test]
    fn wildcard_empty_non_terminal_and_wildcard_origin() {
        let idx = index(
            "example.",
            vec![txt("a.*.ent.example.", "below a wildcard ENT")],
        );
        let res = idx.lookup(&n("x.ent.example."), RType::A);
        assert_eq!(res.rcode, Rcode::NoError);
        assert!(res.answer.is_empty());
        assert_eq!(res.authority, vec![idx.negative_soa().unwrap().clone()]);
        let shape = idx
            .shapes()
            .find(|(w, _)| *w == n("ent.example.").wire())
            .unwrap()
            .1;
        assert!(!shape.nxdomain_below);

        let idx = index("*.example.", vec![a("www.*.example.", [192, 0, 2, 1])]);
        let res = idx.lookup(&n("nope.*.example."), RType::A);
        assert_eq!(res.rcode, Rcode::NxDomain);
        assert_eq!(idx.lookup(&n("www.*.example."), RType::A).answer.len(), 1);
    }

    #[test]
    fn wildcards_synthesise_with_the_query_name() {
        let ix = example();
        let ans = ix.lookup(&n("anything.wild.example."), RType::A);
        assert!(ans.authoritative);
        assert_eq!(ans.rcode, Rcode::NoError);
        assert_eq!(
            owners_types(&ans.answer),
            vec![("anything.wild.example.".into(), RType::A)]
        );
        assert_eq!(&ans.answer[0].rdata[..], &[192, 0, 2, 42]);
        // Several labels below the closest encloser match too.
        let ans = ix.lookup(&n("a.b.wild.example."), RType::TXT);
        assert_eq!(
            owners_types(&ans.answer),
            vec![("a.b.wild.example.".into(), RType::TXT)]
        );
        // NODATA at a wildcard match when the type is missing.
        let ans = ix.lookup(&n("anything.wild.example."), RType::MX);
        assert_eq!(ans.rcode, Rcode::NoError);
        assert!(ans.answer.is_empty());
        assert_eq!(
            owners_types(&ans.authority),
            vec![("example.".into(), RType::SOA)]
        );
        // ANY at a wildcard match returns every set, renamed.
        let ans = ix.lookup(&n("q.wild.example."), RType::ANY);
        assert_eq!(ans.answer.len(), 2);
        assert!(ans.answer.iter().all(|r| r.owner == n("q.wild.example.")));
    }

    #[test]
    fn no_wildcard_match_for_existing_names_or_below_them() {
        let ix = example();
        // The name exists: its own data, NODATA if the type is missing.
        let ans = ix.lookup(&n("exists.wild.example."), RType::TXT);
        assert!(ans.answer.is_empty());
        assert_eq!(ans.rcode, Rcode::NoError);
        // An empty non-terminal blocks the wildcard for itself...
        let ans = ix.lookup(&n("ent.wild.example."), RType::A);
        assert!(ans.answer.is_empty());
        assert_eq!(ans.rcode, Rcode::NoError);
        // ...and below it the closest encloser is ent.wild, which has no wildcard child.
        let ans = ix.lookup(&n("y.ent.wild.example."), RType::A);
        assert_eq!(ans.rcode, Rcode::NxDomain);
        // Below an existing name the closest encloser is that name: no `*.exists.wild`.
        let ans = ix.lookup(&n("z.exists.wild.example."), RType::A);
        assert_eq!(ans.rcode, Rcode::NxDomain);
        // The wildcard name itself is answered literally.
        let ans = ix.lookup(&n("*.wild.example."), RType::A);
        assert_eq!(
            owners_types(&ans.answer),
            vec![("*.wild.example.".into(), RType::A)]
        );
    }

    #[test]
    fn wildcard_cname_is_synthesised_and_chased() {
        let ix = example();
        let ans = ix.lookup(&n("foo.cw.example."), RType::A);
        assert_eq!(
            owners_types(&ans.answer),
            vec![
                ("foo.cw.example.".into(), RType::CNAME),
                ("www.example.".into(), RType::A),
                ("www.example.".into(), RType::A),
            ]
        );
    }

    #[test]
    fn additional_section_for_ns_mx_srv_targets() {
        let ix = example();
        let ans = ix.lookup(&n("example."), RType::NS);
        assert_eq!(
            owners_types(&ans.additional),
            vec![("ns1.example.".into(), RType::A)]
        );
        let ans = ix.lookup(&n("mail.example."), RType::MX);
        assert_eq!(
            owners_types(&ans.additional),
            vec![("mx.example.".into(), RType::A)]
        );
        let ans = ix.lookup(&n("_sip._tcp.example."), RType::SRV);
        assert_eq!(
            owners_types(&ans.additional),
            vec![("sip.example.".into(), RType::AAAA)]
        );
        // No additional records for plain address answers.
        assert!(
            ix.lookup(&n("www.example."), RType::A)
                .additional
                .is_empty()
        );
    }

    #[test]
    fn any_returns_every_set_at_the_name() {
        let ix = example();
        let ans = ix.lookup(&n("www.example."), RType::ANY);
        assert_eq!(ans.answer.len(), 3);
        let ans = ix.lookup(&n("c.example."), RType::ANY);
        assert!(ans.answer.is_empty());
        assert_eq!(
            owners_types(&ans.authority),
            vec![("example.".into(), RType::SOA)]
        );
    }

    #[test]
    fn resolve_items_point_into_the_zone() {
        let ix = example();
        let res = ix.resolve(&n("host.old.example."), RType::A);
        assert!(matches!(res.answer[0], Item::Stored(_)));
        assert!(matches!(res.answer[1], Item::Synthesized(_)));
        let res = ix.resolve(&n("q.wild.example."), RType::A);
        assert!(
            matches!(&res.answer[0], Item::Wildcard { owner, .. } if *owner == n("q.wild.example."))
        );
        let res = ix.resolve(&n("nope.example."), RType::A);
        assert_eq!(res.authority, vec![Item::NegativeSoa]);
    }
}
