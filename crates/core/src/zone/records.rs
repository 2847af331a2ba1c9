//! A zone's records in canonical order, held in shared chunks (issue 16): a change copies the
//! chunks it touches and shares every other one with the content it was made from.
//!
//! # Design
//!
//! [`Records`] is a list of chunks, each an `Arc<[Record]>` of about [`CHUNK`] records, with
//! the index of each chunk's first record. A clone is one pointer. Applying a change
//! ([`Records::edited`]) rebuilds only the chunks whose records change: a one-record change to
//! a million-record zone copies one chunk of records and the list of chunk pointers, not the
//! million records. A chunk that grows past twice [`CHUNK`] is split; a chunk left empty goes.
//!
//! Chunks end only where the owner changes, so one owner's records (and so each RRset) are
//! always one slice of one chunk ([`Records::run`]). A change goes to the chunk its owner's
//! records are in, or would be: the last chunk whose first owner is not after it.
//!
//! Records are read by their index in canonical order (one binary search over the chunks'
//! starts), by iteration, and by binary search over the order, as from a slice.
//!
//! Each chunk also has an **id** that stays while the chunk's place in the order moves: an
//! edited chunk keeps its id, the first part of a split one keeps it and the others get new
//! ones, and the id of a chunk that goes is not reused by that list's descendants. What
//! points at records from outside (the lookup index's nodes and RRsets) holds ids, so a split
//! or a removed chunk moves nothing that points into the other chunks.

use std::cmp::Ordering;
use std::ops::{Index, Range};
use std::sync::Arc;

use crate::dns::name::Name;
use crate::dns::record::Record;

/// The records a chunk is cut to when a list is built or a chunk split.
pub const CHUNK: usize = 512;

/// A zone's records in canonical order, in shared chunks (see the module notes).
#[derive(Clone, Default)]
pub struct Records {
    inner: Arc<Chunks>,
}

#[derive(Clone, Default)]
struct Chunks {
    /// None empty.
    chunks: Vec<Arc<[Record]>>,
    /// The index of each chunk's first record: `starts[k]` is the number of records before
    /// chunk `k`.
    starts: Vec<usize>,
    /// Each chunk's id, by place.
    ids: Vec<u32>,
    /// Each id's place, [`NO_PLACE`] for an id whose chunk is gone; as long as the ids ever
    /// given in this list's line.
    places: Vec<u32>,
    len: usize,
}

/// The place of an id whose chunk is gone.
const NO_PLACE: u32 = u32::MAX;

impl Chunks {
    /// Fresh chunks: ids 0, 1, … in order.
    fn new(chunks: Vec<Arc<[Record]>>) -> Chunks {
        let ids = (0..chunks.len() as u32).collect();
        Chunks::with_ids(chunks, ids, 0)
    }

    /// `chunks` with `ids`; ids up to `id_count` (or past it, if `ids` has larger ones) are
    /// known to the list.
    fn with_ids(chunks: Vec<Arc<[Record]>>, ids: Vec<u32>, id_count: usize) -> Chunks {
        let mut starts = Vec::with_capacity(chunks.len());
        let mut len = 0;
        for c in &chunks {
            starts.push(len);
            len += c.len();
        }
        let count = ids
            .iter()
            .map(|&i| i as usize + 1)
            .max()
            .unwrap_or(0)
            .max(id_count);
        let mut places = vec![NO_PLACE; count];
        for (k, &id) in ids.iter().enumerate() {
            places[id as usize] = k as u32;
        }
        Chunks {
            chunks,
            starts,
            ids,
            places,
            len,
        }
    }

    /// The place of chunk `id`, if this list has it.
    fn place(&self, id: u32) -> Option<usize> {
        self.places
            .get(id as usize)
            .filter(|&&k| k != NO_PLACE)
            .map(|&k| k as usize)
    }
}

impl From<Vec<Record>> for Records {
    /// `records` must be in canonical order.
    fn from(records: Vec<Record>) -> Records {
        let mut chunks = Vec::with_capacity(records.len().div_ceil(CHUNK));
        cut(&mut chunks, records, CHUNK);
        Records {
            inner: Arc::new(Chunks::new(chunks)),
        }
    }
}

/// Pushes `records` (canonical order) as chunks: whole if it holds at most `most` records,
/// else cut into chunks of at least [`CHUNK`] records that end where the owner changes.
/// Nothing for no records.
fn cut(out: &mut Vec<Arc<[Record]>>, records: Vec<Record>, most: usize) {
    if records.len() <= most {
        if !records.is_empty() {
            out.push(records.into());
        }
        return;
    }
    let mut from = 0;
    while from < records.len() {
        let mut end = (from + CHUNK).min(records.len());
        while end < records.len() && records[end].owner == records[end - 1].owner {
            end += 1;
        }
        out.push(records[from..end].into());
        from = end;
    }
}

impl FromIterator<Record> for Records {
    fn from_iter<I: IntoIterator<Item = Record>>(iter: I) -> Records {
        Records::from(iter.into_iter().collect::<Vec<_>>())
    }
}

impl Records {
    pub fn len(&self) -> usize {
        self.inner.len
    }

    pub fn is_empty(&self) -> bool {
        self.inner.len == 0
    }

    /// The chunk holding record `i` and `i`'s offset in it; `i` must be below `len()`.
    fn locate(&self, i: usize) -> (usize, usize) {
        let k = self.inner.starts.partition_point(|&s| s <= i) - 1;
        (k, i - self.inner.starts[k])
    }

    pub fn get(&self, i: usize) -> Option<&Record> {
        (i < self.len()).then(|| {
            let (k, at) = self.locate(i);
            &self.inner.chunks[k][at]
        })
    }

    pub fn first(&self) -> Option<&Record> {
        self.inner.chunks.first().map(|c| &c[0])
    }

    pub fn last(&self) -> Option<&Record> {
        self.inner.chunks.last().and_then(|c| c.last())
    }

    /// Every record, in order.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// The records from index `i` on.
    pub fn iter_from(&self, i: usize) -> Iter<'_> {
        self.range(i..self.len())
    }

    /// The records with indices in `range`.
    pub fn range(&self, range: Range<usize>) -> Iter<'_> {
        let Range { start, end } = range;
        assert!(
            start <= end && end <= self.len(),
            "record range out of bounds"
        );
        if start == end {
            return Iter {
                rest: &[],
                cur: [].iter(),
                left: 0,
            };
        }
        let (k, at) = self.locate(start);
        Iter {
            rest: &self.inner.chunks[k + 1..],
            cur: self.inner.chunks[k][at..].iter(),
            left: end - start,
        }
    }

    /// The indices of the records `owner` owns (an empty range where they would be if none).
    pub fn owned_range(&self, owner: &Name) -> Range<usize> {
        let start = self.partition_point(|r| r.owner < *owner);
        let end = self.partition_point(|r| r.owner <= *owner);
        start..end
    }

    /// The records `owner` owns, in order.
    pub fn owned(&self, owner: &Name) -> Iter<'_> {
        self.range(self.owned_range(owner))
    }

    /// The records with indices in `range` as one slice, when they lie in one chunk, as one
    /// owner's records always do.
    pub fn run(&self, range: Range<usize>) -> Option<&[Record]> {
        if range.is_empty() {
            return Some(&[]);
        }
        let (k, at) = self.locate(range.start);
        self.inner.chunks[k].get(at..at + range.len())
    }

    /// The records of chunk `id` (see the module notes), if this list has it.
    pub(crate) fn chunk_of(&self, id: u32) -> Option<&[Record]> {
        self.inner.place(id).map(|k| &self.inner.chunks[k][..])
    }

    /// The records of chunk `id`, which this list has.
    pub(crate) fn chunk(&self, id: u32) -> &[Record] {
        self.chunk_of(id).expect("a chunk of this list")
    }

    /// The index of chunk `id`'s first record; the chunk is this list's.
    pub(crate) fn chunk_start(&self, id: u32) -> usize {
        self.inner.starts[self.inner.place(id).expect("a chunk of this list")]
    }

    /// The id of the chunk holding record `i`, and `i`'s offset in it.
    pub(crate) fn place_of(&self, i: usize) -> (u32, usize) {
        let (k, off) = self.locate(i);
        (self.inner.ids[k], off)
    }

    /// The ids of the chunks of this list that are not chunks of `base` (by identity), and of
    /// `base`'s chunks this list lacks, ascending. For a list made from `base` by
    /// [`Records::edited`], these are the chunks the edit rewrote, split (the first part
    /// keeps the id; the others are new) or removed.
    pub(crate) fn rewritten_since(&self, base: &Records) -> Vec<u32> {
        let (a, b) = (&*self.inner, &*base.inner);
        let mut out: Vec<u32> = a
            .ids
            .iter()
            .zip(&a.chunks)
            .filter(|&(&id, c)| b.place(id).is_none_or(|k| !Arc::ptr_eq(c, &b.chunks[k])))
            .map(|(&id, _)| id)
            .chain(b.ids.iter().copied().filter(|&id| a.place(id).is_none()))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The chunks, in order.
    pub fn chunks(&self) -> impl Iterator<Item = &[Record]> + '_ {
        self.inner.chunks.iter().map(|c| &c[..])
    }

    /// The chunks in order, each with its id.
    pub(crate) fn chunks_with_ids(&self) -> impl Iterator<Item = (u32, &[Record])> + '_ {
        self.inner
            .ids
            .iter()
            .zip(&self.inner.chunks)
            .map(|(&id, c)| (id, &c[..]))
    }

    /// The number of chunks (for tests and measurements).
    pub fn chunk_count(&self) -> usize {
        self.inner.chunks.len()
    }

    /// The index of the first record for which `pred` is false, the records being
    /// partitioned by it (as [`slice::partition_point`]).
    pub fn partition_point(&self, mut pred: impl FnMut(&Record) -> bool) -> usize {
        let chunks = &self.inner.chunks;
        // The first chunk whose last record fails `pred` holds the point.
        let k = chunks.partition_point(|c| pred(c.last().expect("chunks are not empty")));
        match chunks.get(k) {
            Some(c) => self.inner.starts[k] + c.partition_point(pred),
            None => self.len(),
        }
    }

    /// Binary search by `f`, as [`slice::binary_search_by`] on a sorted slice.
    pub fn binary_search_by(&self, mut f: impl FnMut(&Record) -> Ordering) -> Result<usize, usize> {
        let at = self.partition_point(|r| f(r).is_lt());
        match self.get(at) {
            Some(r) if f(r).is_eq() => Ok(at),
            _ => Err(at),
        }
    }

    pub fn to_vec(&self) -> Vec<Record> {
        let mut out = Vec::with_capacity(self.len());
        for c in self.chunks() {
            out.extend_from_slice(c);
        }
        out
    }

    /// True if the two lists share their storage (one was cloned from the other).
    pub fn ptr_eq(&self, other: &Records) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Replaces record `i` (a copy of its chunk, and of the chunk list if shared).
    pub(crate) fn set(&mut self, i: usize, record: Record) {
        let (k, at) = self.locate(i);
        let inner = Arc::make_mut(&mut self.inner);
        let mut chunk = inner.chunks[k].to_vec();
        chunk[at] = record;
        inner.chunks[k] = chunk.into();
    }

    /// This list with `edit` applied to the chunks that the records of `removed` and `added`
    /// (each in canonical order) fall in: each record goes to the chunk whose range holds it
    /// (the first chunk for one before every record), and `edit` gets a chunk's records and
    /// its parts of the two lists, and returns the chunk's new records. Untouched chunks are
    /// shared; a chunk `edit` leaves empty goes, and one it grows past twice [`CHUNK`] is split.
    pub(crate) fn edited<E>(
        &self,
        removed: &[Record],
        added: &[Record],
        mut edit: impl FnMut(&[Record], &[Record], &[Record]) -> Result<Vec<Record>, E>,
    ) -> Result<Records, E> {
        let chunks = &self.inner.chunks;
        if chunks.is_empty() {
            return Ok(Records::from(edit(&[], removed, added)?));
        }
        let ids = &self.inner.ids;
        let mut out: Vec<Arc<[Record]>> = Vec::with_capacity(chunks.len() + 1);
        let mut out_ids: Vec<u32> = Vec::with_capacity(chunks.len() + 1);
        let mut next_id = self.inner.places.len() as u32;
        let (mut from, mut i, mut j) = (0, 0, 0);
        loop {
            let next = match (removed.get(i), added.get(j)) {
                (None, None) => break,
                (Some(r), None) | (None, Some(r)) => r,
                (Some(r), Some(a)) => std::cmp::min_by(r, a, |x, y| x.canonical_cmp(y)),
            };
            // The chunk of `next`: the last one whose first owner is not after its owner.
            let k = chunks
                .partition_point(|c| c[0].owner <= next.owner)
                .saturating_sub(1);
            let (i_end, j_end) = match chunks.get(k + 1) {
                Some(after) => {
                    let before = |r: &Record| r.owner < after[0].owner;
                    (
                        i + removed[i..].partition_point(before),
                        j + added[j..].partition_point(before),
                    )
                }
                None => (removed.len(), added.len()),
            };
            out.extend(chunks[from..k].iter().cloned());
            out_ids.extend_from_slice(&ids[from..k]);
            let before = out.len();
            cut(
                &mut out,
                edit(&chunks[k], &removed[i..i_end], &added[j..j_end])?,
                2 * CHUNK,
            );
            // The first part keeps the chunk's id; a split's other parts get new ones.
            for part in before..out.len() {
                out_ids.push(if part == before {
                    ids[k]
                } else {
                    next_id += 1;
                    next_id - 1
                });
            }
            (from, i, j) = (k + 1, i_end, j_end);
        }
        out.extend(chunks[from..].iter().cloned());
        out_ids.extend_from_slice(&ids[from..]);
        Ok(Records {
            inner: Arc::new(Chunks::with_ids(out, out_ids, next_id as usize)),
        })
    }
}

impl Index<usize> for Records {
    type Output = Record;

    fn index(&self, i: usize) -> &Record {
        self.get(i).expect("record index out of bounds")
    }
}

impl PartialEq for Records {
    fn eq(&self, other: &Records) -> bool {
        self.ptr_eq(other) || (self.len() == other.len() && self.iter().eq(other.iter()))
    }
}

impl Eq for Records {}

impl PartialEq<[Record]> for Records {
    fn eq(&self, other: &[Record]) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl PartialEq<Vec<Record>> for Records {
    fn eq(&self, other: &Vec<Record>) -> bool {
        *self == other[..]
    }
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a Records {
    type Item = &'a Record;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Records of a [`Records`], in order.
#[derive(Clone)]
pub struct Iter<'a> {
    /// The chunks after the current one.
    rest: &'a [Arc<[Record]>],
    cur: std::slice::Iter<'a, Record>,
    /// Records still to yield.
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Record;

    #[inline]
    fn next(&mut self) -> Option<&'a Record> {
        if self.left == 0 {
            return None;
        }
        loop {
            if let Some(r) = self.cur.next() {
                self.left -= 1;
                return Some(r);
            }
            let (next, rest) = self.rest.split_first()?;
            self.cur = next.iter();
            self.rest = rest;
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl Iter<'_> {
    /// True when no record is left.
    pub fn is_empty(&self) -> bool {
        self.left == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::record::RType;

    fn rec(i: usize) -> Record {
        Record {
            owner: Name::parse(&format!("h{i:07}.example.")).unwrap(),
            rtype: RType::A,
            ttl: 300,
            rdata: [10, 0, (i >> 8) as u8, i as u8].into(),
        }
    }

    fn list(n: usize) -> Vec<Record> {
        (0..n).map(rec).collect()
    }

    #[test]
    fn reads_as_the_vector_it_was_built_from() {
        for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7] {
            let v = list(n);
            let r = Records::from(v.clone());
            assert_eq!(r.len(), n);
            assert_eq!(r, v);
            assert_eq!(r.to_vec(), v);
            for i in [0, 1, CHUNK - 1, CHUNK, n / 2, n.saturating_sub(1)] {
                assert_eq!(r.get(i), v.get(i));
            }
            assert_eq!(r.get(n), None);
            assert_eq!(r.first(), v.first());
            assert_eq!(r.last(), v.last());
            for (a, b) in [(0, n), (n / 3, n / 2), (n / 2, n), (n, n)] {
                assert!(r.range(a..b).eq(v[a..b].iter()));
                assert_eq!(r.range(a..b).len(), b - a);
            }
            for probe in [0, 1, CHUNK, n / 2, n, n + 3] {
                let key = rec(probe);
                let want = v.binary_search_by(|x| x.canonical_cmp(&key));
                assert_eq!(r.binary_search_by(|x| x.canonical_cmp(&key)), want);
                let pp = v.partition_point(|x| x.canonical_cmp(&key).is_lt());
                assert_eq!(r.partition_point(|x| x.canonical_cmp(&key).is_lt()), pp);
            }
        }
    }

    /// An edit that adds its records to the chunk's.
    fn union(chunk: &[Record], _: &[Record], added: &[Record]) -> Result<Vec<Record>, ()> {
        let mut out = chunk.to_vec();
        out.extend_from_slice(added);
        out.sort_by(|a, b| a.canonical_cmp(b));
        Ok(out)
    }

    #[test]
    fn an_edit_copies_only_the_chunks_it_touches_and_splits_a_grown_one() {
        let v: Vec<Record> = (0..10 * CHUNK).map(|i| rec(2 * i)).collect();
        let r = Records::from(v.clone());
        // One record added inside chunk 3.
        let added = rec(2 * (3 * CHUNK + 5) + 1);
        let e = r
            .edited::<()>(&[], std::slice::from_ref(&added), union)
            .unwrap();
        let mut want = v.clone();
        want.insert(3 * CHUNK + 6, added.clone());
        assert_eq!(e, want);
        let shared = r
            .inner
            .chunks
            .iter()
            .zip(&e.inner.chunks)
            .filter(|(a, b)| Arc::ptr_eq(a, b))
            .count();
        assert_eq!(shared, 9);
        // A chunk grown past twice the size is split; an emptied one goes.
        let many: Vec<Record> = (0..2 * CHUNK + 1).map(|i| rec(2 * i + 1)).collect();
        let grown = r.edited::<()>(&[], &many, union).unwrap();
        assert_eq!(grown.len(), 12 * CHUNK + 1);
        assert!(
            grown
                .chunks()
                .all(|c| !c.is_empty() && c.len() <= 2 * CHUNK)
        );
        let emptied = r
            .edited::<()>(&v[..1], &[], |_, _, _| Ok(Vec::new()))
            .unwrap();
        assert_eq!(emptied.chunk_count(), 9);
        assert_eq!(emptied, v[CHUNK..].to_vec());
        // Ids: an edited chunk keeps its id, a split one's first part too and its other parts
        // get new ones; the others keep theirs although their places moved.
        assert_eq!(e.rewritten_since(&r), [3]);
        // Names after h0003073 (in chunk 3), before h0003074.
        let into_3: Vec<Record> = (0..CHUNK + 8)
            .map(|j| Record {
                owner: Name::parse(&format!("x{j:04}.h0003073.example.")).unwrap(),
                ..rec(0)
            })
            .collect();
        let split = r.edited::<()>(&[], &into_3, union).unwrap();
        // 1,032 records: cut into 512, 512 and 8.
        assert_eq!(split.chunk_count(), 12);
        assert_eq!(split.rewritten_since(&r), [3, 10, 11]);
        assert_eq!(
            split.chunk_of(10).map(|c| c[0].clone()),
            split.get(split.chunk_start(10)).cloned()
        );
        for id in [0, 4, 9] {
            assert!(std::ptr::eq(split.chunk(id), r.chunk(id)), "chunk {id}");
        }
        assert_eq!(emptied.rewritten_since(&r), [0]);
        assert_eq!(emptied.chunk_of(0), None);
        assert_eq!(emptied.place_of(0), (1, 0));
        // Changes before every record go to the first chunk.
        let before = Record {
            owner: Name::parse("a.example.").unwrap(),
            ..rec(0)
        };
        let mut seen = Vec::new();
        let _ = r.edited::<()>(&[], &[before, rec(1)], |chunk, _, added| {
            seen.push((chunk[0].clone(), added.len()));
            Ok(chunk.to_vec())
        });
        assert_eq!(seen, vec![(v[0].clone(), 2)]);
    }

    #[test]
    fn set_replaces_one_record_and_leaves_the_original() {
        let v = list(3 * CHUNK);
        let r = Records::from(v.clone());
        let mut s = r.clone();
        s.set(CHUNK + 2, rec(99_999));
        assert_eq!(r, v);
        assert_eq!(s[CHUNK + 2], rec(99_999));
        assert_eq!(s.len(), v.len());
    }
}
