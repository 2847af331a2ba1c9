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
//!
//! The index's data lives here; `index.rs` builds it, `patch.rs` makes the next generation's
//! from it, `answer.rs` answers from it and `shapes.rs` tells a server which answers it may
//! prepare.
//!
//! Nodes and RRsets point at records by chunk and offset in the zone's [`Records`] (an owner's
//! records are one run of one chunk), not by index in the whole list, so a change moves only
//! the references into the chunks it rewrote. The node, RRset and hash tables are [`Paged`]:
//! the next generation's index shares every page a change does not write to, so a one-record
//! change to a million-name zone copies a few pages, not the tables.
//!
//! [`Records`]: crate::zone::records::Records

mod answer;
mod index;
mod paged;
mod patch;
mod shapes;
#[cfg(test)]
mod tests;

use std::ops::Range;

use crate::dns::name::Name;
use crate::dns::record::{RType, Record};
use crate::zone::Zone;

pub use answer::{Answer, Item, Rcode, Resolution};
use index::find_in;
pub use index::hash_wire_name;
use paged::Paged;
pub use shapes::NameShape;

/// Most CNAME or DNAME redirections one answer follows.
pub const CHAIN_MAX: usize = 16;

/// The DS type (RFC 4034), which the parent side of a zone cut answers.
const DS: RType = RType(43);

/// What interrupts the descent to a name: a zone cut or a DNAME at a proper ancestor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CutKind {
    Delegation,
    Dname,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cut {
    /// Label count of the ancestor that holds the NS or DNAME set.
    labels: u8,
    kind: CutKind,
}

/// One RRset at a node: its type and its records, offsets `start..end` of the chunk with id
/// `chunk` of the record list (ids stay while chunks move: `zone::records`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RRset {
    rtype: RType,
    chunk: u32,
    start: u32,
    end: u32,
}

/// What fills the RRset table where a node's run was moved to the next page (never read).
const NO_RRSET: RRset = RRset {
    rtype: RType(0),
    chunk: u32::MAX,
    start: 0,
    end: 0,
};

/// A record's place in the record list: its chunk's id and its offset there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct At {
    chunk: u32,
    off: u32,
}

/// `Node::src` of a name that is the origin itself.
const ORIGIN_SRC: At = At {
    chunk: u32::MAX,
    off: 0,
};

/// One existing name. Nodes own no memory: a name's wire form is read from a record owner
/// (an empty non-terminal is a suffix of its descendant's owner) and its RRsets are a run of
/// [`ZoneIndex::rrsets`] (in one page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Node {
    /// The name is the owner of the record at `src` (or the origin, for [`ORIGIN_SRC`]) from
    /// octet `at` of its wire form on.
    src: At,
    at: u8,
    /// The topmost non-apex NS owner or DNAME owner strictly above this name.
    above: Option<Cut>,
    /// True if `*.<this name>` exists (the source of synthesis below it, RFC 4592).
    wild_child: bool,
    /// RRsets in type order: `rrsets[first..first + count]`.
    first: u32,
    count: u32,
}

/// A zone prepared for answering queries. Build it once per generation, or patch the previous
/// generation's ([`ZoneIndex::updated`]).
pub struct ZoneIndex {
    zone: Zone,
    /// Every existing name (owners and empty non-terminals), the apex first; the others in
    /// canonical order when built, new names at the end when patched.
    nodes: Paged<Node>,
    /// The RRsets of every node, each node's a run within one page; runs a patch replaced
    /// are left unused (counted in `unused`).
    rrsets: Paged<RRset>,
    /// The nodes by uncompressed wire name: open addressing with linear probing, at most half
    /// full. A slot is `(hash >> 32) << 32 | (node + 1)`, 0 when empty. The wire form of an
    /// ancestor is a suffix of a name's wire form, so walking up a name allocates nothing.
    slots: Paged<u64>,
    seed: u64,
    negative_soa: Option<Record>,
    /// RRset entries no node uses: what patches left behind. The index is built anew once
    /// they are a quarter of the table.
    unused: usize,
}

impl std::fmt::Debug for ZoneIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ZoneIndex({:?}, {} names)", self.zone, self.nodes.len())
    }
}

/// The cut or DNAME above a name with `labels` labels whose parent is `parent`, whose RRsets are
/// `sets`: the parent's own, or a non-apex NS set or a DNAME set at the parent. The builder
/// and the patch both decide it here.
fn cut_below(parent: &Node, sets: &[RRset], labels: usize) -> Option<Cut> {
    parent.above.or_else(|| {
        let has = |t: RType| sets.iter().any(|s| s.rtype == t);
        let kind = if parent.src != ORIGIN_SRC && has(RType::NS) {
            CutKind::Delegation
        } else if has(RType::DNAME) {
            CutKind::Dname
        } else {
            return None;
        };
        Some(Cut {
            labels: (labels - 1) as u8,
            kind,
        })
    })
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

/// The wire form of `node`'s name.
fn name_of<'z>(zone: &'z Zone, node: &Node) -> &'z [u8] {
    let owner = match node.src {
        ORIGIN_SRC => zone.origin(),
        at => &record_at(zone, at).owner,
    };
    &owner.wire()[node.at as usize..]
}

fn record_at(zone: &Zone, at: At) -> &Record {
    &zone.records().chunk(at.chunk)[at.off as usize]
}

impl ZoneIndex {
    /// The node named by the wire name `key`.
    fn find(&self, key: &[u8]) -> Option<&Node> {
        find_in(&self.zone, &self.nodes, &self.slots, self.seed, key).map(|n| self.nodes.get(n))
    }

    /// The RRsets at `node`, in type order.
    fn sets(&self, node: &Node) -> &[RRset] {
        self.rrsets.run(node.first as usize, node.count as usize)
    }

    /// The indices of `set`'s records in [`ZoneIndex::records`].
    fn range(&self, set: &RRset) -> Range<usize> {
        let base = self.zone.records().chunk_start(set.chunk);
        base + set.start as usize..base + set.end as usize
    }

    fn rrset(&self, node: &Node, rtype: RType) -> Option<Range<usize>> {
        self.sets(node)
            .iter()
            .find(|s| s.rtype == rtype)
            .map(|s| self.range(s))
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
    pub fn records(&self) -> &crate::zone::records::Records {
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
}
