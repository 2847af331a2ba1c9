//! The content hash of a zone: a hash tree over its canonical records, so that a change
//! re-hashes only the leaves it touches, and the flat hash plans had before it.
//!
//! # Design
//!
//! A plan's hash is its identity (approvals, saved plans and `If-Match` are bound to it), so
//! it must depend on the content only, never on how the content was reached: the same records
//! give the same hash whether they came from a file, from a chain of deltas or from an UPDATE.
//! The tree's shape is therefore content-defined: its leaves are runs of consecutive records
//! whose ends are decided by the records themselves (like the chunk boundaries of
//! content-defined chunking), so that an edit moves at most the boundaries next to it and the
//! leaves further on stay the same leaves, with the same hashes.
//!
//! # Definition (version 1, the tag `ZGH1`)
//!
//! Another implementation computes the same root from this alone:
//!
//! 1. Take the canonical body ([`crate::zone::Zone::body`]): every record in canonical wire form
//!    (owner, type, class, TTL, rdata length, rdata; uncompressed, lower case), in canonical
//!    order. The *owner bytes* of a record are its owner's wire form as it appears there.
//! 2. Split the records into leaves, scanning from the first record with `count`, the number of
//!    records in the current leaf, the record just added included. The leaf ends after the
//!    current record when one of these holds:
//!    - it is the last record;
//!    - `count` = 4096 ([`LEAF_RECORDS_MAX`], a cap whatever the names);
//!    - `count` ≥ 8 ([`LEAF_RECORDS_MIN`]), the next record's owner bytes differ from this
//!      record's (a leaf never ends inside the records of one name, below the cap), and the
//!      64-bit FNV-1a hash of this record's owner bytes (offset basis `0xcbf29ce484222325`,
//!      prime `0x100000001b3`, one octet at a time: xor, then multiply modulo 2^64) has its
//!      top 8 bits ([`BOUNDARY_BITS`]) zero, so that about one name in 256 ends a leaf.
//! 3. A leaf's hash is the SHA-256 of its records' canonical bytes, concatenated.
//! 4. The root is the SHA-256 of the four octets `ZGH1` followed by the leaf hashes in order.
//!    A zone of no records (never a valid zone) has the root SHA-256(`ZGH1`).
//!
//! The root is printed like any content hash, `sha256:` and 64 hex digits.
//!
//! # Plans from before the tree
//!
//! A plan staged before this tree has the flat hash: SHA-256 over the whole canonical body
//! ([`ContentHash::flat`]). Those hashes stay valid: a body is accepted for a recorded hash
//! when the hash is either its tree root or its flat SHA-256 ([`ContentHash::matches_body`],
//! [`crate::zone::Zone::decode`]). The two cannot be confused for different contents: the root
//! is a SHA-256 over bytes starting with `Z` (0x5A), which no canonical body starts with (a
//! body starts with a label length, at most 63), so a tree root equal to another body's flat
//! hash would be a SHA-256 collision. Every new plan gets the tree root; an old plan keeps its
//! flat hash as its identity for as long as it is kept.
//!
//! # Cost
//!
//! About one leaf per 256 names: a 1M-record zone has a few thousand leaves, and the tree keeps
//! 36 octets for each (its first record's index and its hash). Updating it after a delta
//! re-hashes the leaves the delta's records fall in or next to, then the root over every leaf
//! hash: O(changed leaves × leaf size + leaves × 32 octets), see [`HashTree::apply`].

use std::cmp::Ordering;
use std::fmt;

use sha2::{Digest, Sha256};

use crate::dns::record::Record;
use crate::zone::delta::ZoneDelta;
use crate::zone::records::Records;
use crate::zone::{DecodeError, write_record};

/// The tag the root's input starts with.
pub const TREE_TAG: &[u8; 4] = b"ZGH1";
/// A leaf never ends before it holds this many records (unless the zone does).
pub const LEAF_RECORDS_MIN: usize = 8;
/// A leaf always ends when it holds this many records.
pub const LEAF_RECORDS_MAX: usize = 4096;
/// A name ends a leaf when this many top bits of its FNV-1a hash are zero.
pub const BOUNDARY_BITS: u32 = 8;

/// A plan's content hash: the root of its hash tree, or for a plan staged before the tree,
/// the flat SHA-256 of its canonical body (see the module notes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// The flat hash plans had before the tree: SHA-256 of the whole canonical body. Also the
    /// hash of an opaque body that is not a list of records (store tests).
    pub fn flat(body: &[u8]) -> Self {
        ContentHash(Sha256::digest(body).into())
    }

    /// The tree root of a canonical body, hashing its bytes in place; fails if the body does
    /// not split into records.
    pub fn tree(body: &[u8]) -> Result<Self, DecodeError> {
        Ok(HashTree::of_body(body)?.root())
    }

    /// True when this hash is `body`'s tree root or, for a plan staged before the tree, its
    /// flat SHA-256.
    pub fn matches_body(&self, body: &[u8]) -> bool {
        ContentHash::tree(body).is_ok_and(|root| root == *self) || ContentHash::flat(body) == *self
    }

    /// Parses the hex form printed by `Display` (with or without the `sha256:` prefix).
    pub fn parse(text: &str) -> Option<Self> {
        let hex = text.strip_prefix("sha256:").unwrap_or(text);
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, chunk) in hex.as_bytes().chunks(2).enumerate() {
            let s = std::str::from_utf8(chunk).ok()?;
            out[i] = u8::from_str_radix(s, 16).ok()?;
        }
        Some(ContentHash(out))
    }

    /// The first 12 hex digits, for human output.
    pub fn short(&self) -> String {
        self.to_string()[7..19].to_string()
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sha256:")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The hash tree of a list of records in canonical order: where each leaf starts and its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashTree {
    /// The index of each leaf's first record, ascending; the first is 0.
    starts: Vec<u32>,
    /// Each leaf's hash, in order.
    leaves: Vec<[u8; 32]>,
    /// Records in all the leaves.
    records: usize,
    root: ContentHash,
}

impl HashTree {
    /// The tree of `records` (in canonical order), every leaf hashed.
    pub fn build(records: &Records) -> HashTree {
        let mut parts = Parts::default();
        let mut buf = Vec::new();
        let mut start = 0;
        while start < records.len() {
            let end = leaf_end(records, start);
            parts.push(start, hash_records(records.range(start..end), &mut buf));
            start = end;
        }
        parts.finish(records.len())
    }

    /// The tree of a canonical body, hashing its bytes in place.
    pub fn of_body(body: &[u8]) -> Result<HashTree, DecodeError> {
        let mut parts = Parts::default();
        let mut records = BodyRecords { body, pos: 0 }.peekable();
        let (mut index, mut count, mut leaf_from) = (0, 0, 0);
        while let Some(item) = records.next() {
            let (owner, end) = item?;
            count += 1;
            let next = match records.peek() {
                Some(Ok((next, _))) => Some(next.clone()),
                Some(Err(e)) => return Err(e.clone()),
                None => None,
            };
            if ends_leaf(count, &body[owner.clone()], next.map(|o| &body[o])) {
                parts.push(
                    index + 1 - count,
                    Sha256::digest(&body[leaf_from..end]).into(),
                );
                (count, leaf_from) = (0, end);
            }
            index += 1;
        }
        Ok(parts.finish(index))
    }

    pub fn root(&self) -> ContentHash {
        self.root
    }

    /// Leaves in the tree.
    pub fn leaf_count(&self) -> usize {
        self.leaves.len()
    }

    /// The index of each leaf's first record (ascending, the first 0) and each leaf's hash.
    pub(crate) fn leaves(&self) -> (&[u32], &[[u8; 32]]) {
        (&self.starts, &self.leaves)
    }

    /// Octets the tree keeps on the heap.
    pub fn heap_size(&self) -> usize {
        self.starts.capacity() * 4 + self.leaves.capacity() * 32
    }

    /// The tree of `new`, which is `old` (this tree's records) with `delta` applied: leaves the
    /// delta touches are re-hashed, every other leaf keeps its hash (see [`Rehash`]).
    pub fn apply(&self, old: &Records, new: &Records, delta: &ZoneDelta) -> HashTree {
        debug_assert_eq!(self.records, old.len());
        Rehash::new(self, old, delta).run(new)
    }

    /// This tree with the record at `index` replaced by one of the same owner (a new SOA
    /// serial): only its leaf is re-hashed, since its boundaries depend on owners alone.
    pub fn replace(&mut self, records: &Records, index: usize) {
        let leaf = self.leaf_of(index);
        let (start, end) = (self.starts[leaf] as usize, self.leaf_end(leaf));
        self.leaves[leaf] = hash_records(records.range(start..end), &mut Vec::new());
        self.root = root_of(&self.leaves);
    }

    /// The leaf that holds record `index`.
    fn leaf_of(&self, index: usize) -> usize {
        self.starts.partition_point(|&s| s as usize <= index) - 1
    }

    /// The index after leaf `leaf`'s last record.
    fn leaf_end(&self, leaf: usize) -> usize {
        self.starts
            .get(leaf + 1)
            .map_or(self.records, |&s| s as usize)
    }
}

/// A tree's leaves as they are found, and its root once they all are.
#[derive(Default)]
struct Parts {
    starts: Vec<u32>,
    leaves: Vec<[u8; 32]>,
}

impl Parts {
    fn push(&mut self, start: usize, hash: [u8; 32]) {
        let start = u32::try_from(start).expect("a zone holds fewer than 2^32 records");
        self.starts.push(start);
        self.leaves.push(hash);
    }

    fn finish(mut self, records: usize) -> HashTree {
        self.starts.shrink_to_fit();
        self.leaves.shrink_to_fit();
        HashTree {
            records,
            root: root_of(&self.leaves),
            starts: self.starts,
            leaves: self.leaves,
        }
    }
}

/// The incremental re-hash of a tree after a delta.
///
/// The scan of the new records is the same left-to-right leaf split as [`HashTree::build`]; it
/// only skips ahead over an old leaf, reusing its hash, when the scan stands exactly at that
/// leaf's first record and the leaf is *clean*. A leaf is dirty when the delta removes one of
/// its records or the record after its last, or adds a record next to one of its records
/// (every such position `q` marks the leaves holding old records `q - 1` and `q`). A clean
/// leaf's records, and the record after it, are the same in the old and the new list, so the
/// split, started at its first record, ends it where it ended before: the same leaf.
struct Rehash<'a> {
    tree: &'a HashTree,
    /// Per old leaf: whether the delta touches it.
    dirty: Vec<bool>,
    /// Per old leaf: where its first record is in the new list (meaningful for clean leaves).
    moved_starts: Vec<usize>,
}

impl<'a> Rehash<'a> {
    fn new(tree: &'a HashTree, old: &Records, delta: &ZoneDelta) -> Self {
        let mut dirty = vec![false; tree.leaves.len()];
        let removed = positions(old, delta.removed());
        let added = positions(old, delta.added());
        for &q in removed.iter().chain(&added) {
            for p in [q.checked_sub(1), Some(q)].into_iter().flatten() {
                if p < old.len() {
                    dirty[tree.leaf_of(p)] = true;
                }
            }
        }
        // A clean leaf's first record moves by the records added before it, less those removed.
        let (mut r, mut a) = (0, 0);
        let moved_starts = tree
            .starts
            .iter()
            .map(|&s| {
                let s = s as usize;
                r += removed[r..].partition_point(|&q| q < s);
                a += added[a..].partition_point(|&q| q < s);
                s + a - r
            })
            .collect();
        Rehash {
            tree,
            dirty,
            moved_starts,
        }
    }

    fn run(self, new: &Records) -> HashTree {
        let mut parts = Parts::default();
        let mut buf = Vec::new();
        let (mut at, mut leaf) = (0, 0);
        while at < new.len() {
            leaf += self.moved_starts[leaf..].partition_point(|&s| s < at);
            if leaf < self.dirty.len() && !self.dirty[leaf] && self.moved_starts[leaf] == at {
                let old_start = self.tree.starts[leaf] as usize;
                let len = self.tree.leaf_end(leaf) - old_start;
                parts.push(at, self.tree.leaves[leaf]);
                at += len;
                leaf += 1;
            } else {
                let end = leaf_end(new, at);
                parts.push(at, hash_records(new.range(at..end), &mut buf));
                at = end;
            }
        }
        parts.finish(new.len())
    }
}

/// Where each of `records` (canonically sorted) falls in `old`: its index there, or for one
/// `old` does not hold, the index of the first old record after it.
fn positions(old: &Records, records: &[Record]) -> Vec<usize> {
    records
        .iter()
        .map(|r| old.partition_point(|o| o.canonical_cmp(r) == Ordering::Less))
        .collect()
}

/// The index after the last record of the leaf that starts at `start`.
fn leaf_end(records: &Records, start: usize) -> usize {
    let mut rest = records.iter_from(start).peekable();
    let mut count = 0;
    while let Some(r) = rest.next() {
        count += 1;
        if ends_leaf(count, r.owner.wire(), rest.peek().map(|n| n.owner.wire())) {
            break;
        }
    }
    start + count
}

/// Whether a leaf ends after a record with owner bytes `owner`, the `count`-th record of its
/// leaf, followed by a record with owner bytes `next` (`None`: it is the last record).
fn ends_leaf(count: usize, owner: &[u8], next: Option<&[u8]>) -> bool {
    match next {
        None => true,
        Some(_) if count >= LEAF_RECORDS_MAX => true,
        Some(next) => count >= LEAF_RECORDS_MIN && next != owner && is_boundary_name(owner),
    }
}

/// About one name in 2^[`BOUNDARY_BITS`] ends a leaf: those whose FNV-1a hash has its top bits
/// zero. FNV-1a is no defence against chosen names, and needs none: the leaf cap bounds a leaf
/// whatever the names, and the minimum bounds the number of leaves.
fn is_boundary_name(owner: &[u8]) -> bool {
    let hash = owner.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    hash >> (64 - BOUNDARY_BITS) == 0
}

/// The SHA-256 of records' canonical bytes, encoded into `buf` (reused between leaves).
fn hash_records<'r>(records: impl Iterator<Item = &'r Record>, buf: &mut Vec<u8>) -> [u8; 32] {
    buf.clear();
    for r in records {
        write_record(r, buf);
    }
    Sha256::digest(&buf[..]).into()
}

fn root_of(leaves: &[[u8; 32]]) -> ContentHash {
    let mut hasher = Sha256::new();
    hasher.update(TREE_TAG);
    for leaf in leaves {
        hasher.update(leaf);
    }
    ContentHash(hasher.finalize().into())
}

/// The records of a canonical body: each one's owner bytes and the offset after it.
struct BodyRecords<'b> {
    body: &'b [u8],
    pos: usize,
}

impl Iterator for BodyRecords<'_> {
    type Item = Result<(std::ops::Range<usize>, usize), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.body.len() {
            return None;
        }
        let item = skim_record(self.body, self.pos);
        // A malformed record ends the list: the error is its last item.
        self.pos = match &item {
            Ok((_, end)) => *end,
            Err(_) => self.body.len(),
        };
        Some(item)
    }
}

/// The owner bytes of the record at `pos` and the offset after it, reading only lengths.
fn skim_record(body: &[u8], pos: usize) -> Result<(std::ops::Range<usize>, usize), DecodeError> {
    let bad = DecodeError::Malformed { offset: pos };
    let mut p = pos;
    loop {
        let len = *body.get(p).ok_or(bad.clone())? as usize;
        if len > 63 || p + 1 + len - pos > 255 {
            return Err(bad);
        }
        p += 1 + len;
        if len == 0 {
            break;
        }
    }
    let fixed = body.get(p..p + 10).ok_or(bad.clone())?;
    let end = p + 10 + u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
    if end > body.len() {
        return Err(bad);
    }
    Ok((pos..p, end))
}

#[cfg(test)]
mod tests;
