//! A change between two contents of one zone, record by record: what a delta plan stores and
//! what an incremental install applies.
//!
//! # Design
//!
//! A [`ZoneDelta`] is the list of records that leave and the list that come, each in canonical
//! order ([`Record::canonical_cmp`]) without repeats, and no record in both. The apex SOA is a
//! record like any other (unlike the IXFR [`crate::xfr::Delta`], which carries the two SOAs
//! apart): a content with a new serial removes the old SOA record and adds the new one. A TTL
//! change is a removal and an addition, as in IXFR.
//!
//! Applying a delta is one merge pass over the base's canonical list: every removed record
//! must be in the base exactly (TTL included) and no added record may be, so a delta applies
//! only to the content it was made from ([`DeltaError`] otherwise). Applying does not prove the
//! result valid: [`Zone::apply`] validates what it builds, so the result is a [`Zone`] only if
//! every validity rule holds, as for any other way of making one.
//!
//! The encoding ([`ZoneDelta::encode`]) is the tag `ZGD1`, then the removed records and the
//! added records, each list as a 32-bit big-endian count followed by its records in the
//! canonical body's wire form (owner, type, class, TTL, length, data). Decoding checks the
//! tag, the counts, the order and that nothing follows.

use std::cmp::Ordering;

use crate::dns::name::Name;
use crate::dns::record::{RType, Record};
use crate::zone::limits::Limits;
use crate::zone::records::Records;
use crate::zone::validate::incremental::after_change;
use crate::zone::validate::{Invalid, validate};
use crate::zone::{DecodeError, ParsedZone, Zone, decode_record, write_record};

/// The tag every encoded delta starts with.
const TAG: &[u8; 4] = b"ZGD1";

/// The records that leave and the records that come between two contents of one zone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZoneDelta {
    /// In canonical order, no repeats.
    removed: Vec<Record>,
    /// In canonical order, no repeats, none of them in `removed`.
    added: Vec<Record>,
}

/// Why a delta could not be read or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeltaError {
    /// The encoded delta is cut short, has a wrong tag or has bytes after its records.
    #[error("delta is truncated or malformed at byte {offset}")]
    Malformed { offset: usize },
    /// A list is not in strict canonical order (record `index` of the `added` or removed list).
    #[error("delta's {list} records are not in canonical order at record {index}")]
    Unordered { list: DeltaList, index: usize },
    /// A record appears in both lists.
    #[error("delta removes and adds the same record at {owner} {rtype}")]
    Overlap { owner: Name, rtype: RType },
    /// A removed record is not in the base: the delta was made from another content.
    #[error(
        "delta removes {owner} {rtype}, which the base does not hold: it belongs to another base"
    )]
    Missing { owner: Name, rtype: RType },
    /// An added record is in the base already: the delta was made from another content.
    #[error("delta adds {owner} {rtype}, which the base holds already: it belongs to another base")]
    Present { owner: Name, rtype: RType },
}

/// Which of a delta's two lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaList {
    Removed,
    Added,
}

impl std::fmt::Display for DeltaList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeltaList::Removed => "removed",
            DeltaList::Added => "added",
        })
    }
}

/// Why [`Zone::apply`] gave no zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The delta does not fit the base it was applied to.
    #[error(transparent)]
    Delta(#[from] DeltaError),
    /// The content it gives breaks a validity rule.
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

impl From<DecodeError> for DeltaError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Malformed { offset } => DeltaError::Malformed { offset },
            // `decode_record` reports nothing else.
            _ => DeltaError::Malformed { offset: 0 },
        }
    }
}

impl ZoneDelta {
    /// A delta from two lists, each checked for canonical order and the two for overlap.
    pub fn new(removed: Vec<Record>, added: Vec<Record>) -> Result<ZoneDelta, DeltaError> {
        check_order(&removed, DeltaList::Removed)?;
        check_order(&added, DeltaList::Added)?;
        if let Some(r) = first_common(&removed, &added) {
            return Err(DeltaError::Overlap {
                owner: r.owner.clone(),
                rtype: r.rtype,
            });
        }
        Ok(ZoneDelta { removed, added })
    }

    /// What leaves and what comes from `old` to `new`: one merge pass over their canonical
    /// lists. When both zones' hash trees are computed, a leaf of one that starts where the
    /// merge stands and has the same hash as the leaf of the other that starts there is the
    /// same records, and is stepped over whole: the pass then costs the leaves that differ.
    pub fn between(old: &Zone, new: &Zone) -> ZoneDelta {
        let (a, b) = (old.records(), new.records());
        let (mut removed, mut added) = (Vec::new(), Vec::new());
        let (mut i, mut j) = (0, 0);
        let trees = old.tree.get().zip(new.tree.get());
        let (mut ka, mut kb) = (0, 0);
        while i < a.len() || j < b.len() {
            if let Some((ta, tb)) = trees {
                let ((sa, ha), (sb, hb)) = (ta.leaves(), tb.leaves());
                while ka < sa.len() && (sa[ka] as usize) < i {
                    ka += 1;
                }
                while kb < sb.len() && (sb[kb] as usize) < j {
                    kb += 1;
                }
                let at_leaves =
                    ka < sa.len() && sa[ka] as usize == i && kb < sb.len() && sb[kb] as usize == j;
                if at_leaves && ha[ka] == hb[kb] {
                    i = sa.get(ka + 1).map_or(a.len(), |&s| s as usize);
                    j = sb.get(kb + 1).map_or(b.len(), |&s| s as usize);
                    continue;
                }
            }
            match order(a.get(i), b.get(j)) {
                Ordering::Less => {
                    removed.push(a[i].clone());
                    i += 1;
                }
                Ordering::Greater => {
                    added.push(b[j].clone());
                    j += 1;
                }
                Ordering::Equal => {
                    i += 1;
                    j += 1;
                }
            }
        }
        ZoneDelta { removed, added }
    }

    /// The records that leave, in canonical order.
    pub fn removed(&self) -> &[Record] {
        &self.removed
    }

    /// The records that come, in canonical order.
    pub fn added(&self) -> &[Record] {
        &self.added
    }

    /// The removed and the added records, in canonical order.
    pub fn into_parts(self) -> (Vec<Record>, Vec<Record>) {
        (self.removed, self.added)
    }

    /// Records removed plus records added.
    pub fn len(&self) -> usize {
        self.removed.len() + self.added.len()
    }

    /// True when the two contents are the same.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The encoded form (see the module notes).
    pub fn encode(&self) -> Vec<u8> {
        let size: usize = self.records().map(super::body_len).sum();
        let mut out = Vec::with_capacity(TAG.len() + 8 + size);
        out.extend_from_slice(TAG);
        for list in [&self.removed, &self.added] {
            out.extend_from_slice(&(list.len() as u32).to_be_bytes());
            for r in list {
                write_record(r, &mut out);
            }
        }
        out
    }

    /// Reads an encoded delta, checking its tag, counts, order and length.
    pub fn decode(bytes: &[u8]) -> Result<ZoneDelta, DeltaError> {
        if bytes.get(..TAG.len()) != Some(TAG.as_slice()) {
            return Err(DeltaError::Malformed { offset: 0 });
        }
        let mut pos = TAG.len();
        let removed = decode_list(bytes, &mut pos)?;
        let added = decode_list(bytes, &mut pos)?;
        if pos != bytes.len() {
            return Err(DeltaError::Malformed { offset: pos });
        }
        ZoneDelta::new(removed, added)
    }

    /// The base's records with this delta applied, in canonical order. Fails if a removed
    /// record is not in `base` or an added one is, naming the first such record in canonical
    /// order, as one merge pass over every record would ([`ZoneDelta::apply_merged`]).
    ///
    /// Only the chunks of `base` that the delta's records fall in are merged and copied
    /// ([`Records::edited`]); every other chunk is shared, so a small change to a large zone
    /// costs a chunk, not the zone.
    pub fn apply_records(&self, base: &Records) -> Result<Records, DeltaError> {
        base.edited(&self.removed, &self.added, |chunk, removed, added| {
            let mut out =
                Vec::with_capacity((chunk.len() + added.len()).saturating_sub(removed.len()));
            let mut merge = Merge::of(removed, added);
            for r in chunk {
                merge.base_record(r, |r| out.push(r.clone()))?;
            }
            merge.finish(|r| out.push(r.clone()))?;
            Ok(out)
        })
    }

    /// [`ZoneDelta::apply_records`] in one merge pass over every record.
    #[cfg(test)]
    pub(crate) fn apply_merged(&self, base: &[Record]) -> Result<Vec<Record>, DeltaError> {
        let mut out =
            Vec::with_capacity((base.len() + self.added.len()).saturating_sub(self.removed.len()));
        let mut merge = Merge::new(self);
        for r in base {
            merge.base_record(r, |r| out.push(r.clone()))?;
        }
        merge.finish(|r| out.push(r.clone()))?;
        Ok(out)
    }

    /// A canonical body with this delta applied: the stored form of [`ZoneDelta::apply_records`],
    /// for a store rebuilding a plan from its checkpoint. Unchanged records are copied as bytes.
    pub fn apply_body(&self, base: &[u8]) -> Result<Vec<u8>, DeltaError> {
        let added_len: usize = self.added.iter().map(super::body_len).sum();
        let mut out = Vec::with_capacity(base.len() + added_len);
        let mut merge = Merge::new(self);
        let mut pos = 0;
        while pos < base.len() {
            let (record, next) = decode_record(base, pos)?;
            let bytes = &base[pos..next];
            merge.base_record(&record, |r| {
                if std::ptr::eq(r, &record) {
                    out.extend_from_slice(bytes);
                } else {
                    write_record(r, &mut out);
                }
            })?;
            pos = next;
        }
        merge.finish(|r| write_record(r, &mut out))?;
        Ok(out)
    }

    /// This delta and then `next`, as one delta: applied to a body, it gives what applying
    /// the two in turn gives, and it fails where that would fail. A record `next` removes that
    /// this one added cancels out, as does one this one removed that `next` adds back; a record
    /// removed by both, or added by both, could never apply twice and is refused here. A chain
    /// of deltas is composed first and applied to its checkpoint once ([`chain::rebuild`]), so
    /// reading a plan decodes the checkpoint once, not once a delta.
    ///
    /// [`chain::rebuild`]: crate::gate::chain::rebuild
    pub fn then(&self, next: &ZoneDelta) -> Result<ZoneDelta, DeltaError> {
        if let Some(r) = first_common(&self.removed, &next.removed) {
            return Err(missing(r));
        }
        if let Some(r) = first_common(&self.added, &next.added) {
            return Err(DeltaError::Present {
                owner: r.owner.clone(),
                rtype: r.rtype,
            });
        }
        Ok(ZoneDelta {
            removed: merged(
                minus(&self.removed, &next.added),
                minus(&next.removed, &self.added),
            ),
            added: merged(
                minus(&self.added, &next.removed),
                minus(&next.added, &self.removed),
            ),
        })
    }

    /// The deltas of a chain, in order, as one ([`ZoneDelta::then`] of each and the next);
    /// `None` for none. Composed in pairs, level by level, so that a long chain costs its
    /// records times the levels, not its length times the growing composition.
    pub fn compose(mut deltas: Vec<ZoneDelta>) -> Result<Option<ZoneDelta>, DeltaError> {
        while deltas.len() > 1 {
            let mut next = Vec::with_capacity(deltas.len().div_ceil(2));
            let mut pairs = deltas.into_iter();
            while let Some(first) = pairs.next() {
                next.push(match pairs.next() {
                    Some(second) => first.then(&second)?,
                    None => first,
                });
            }
            deltas = next;
        }
        Ok(deltas.pop())
    }

    fn records(&self) -> impl Iterator<Item = &Record> {
        self.removed.iter().chain(&self.added)
    }
}

impl Zone {
    /// This content with `delta` applied, validated: a [`Zone`] only if every validity rule
    /// holds for the result, as [`validate`] would decide for the same records.
    ///
    /// The rules are judged from the change (`validate::incremental`): the records the delta
    /// touches, their names' neighbours and the running limits. Only a change that breaks a
    /// rule is validated in full, for the same violations in the same order as [`validate`].
    pub fn apply(&self, delta: &ZoneDelta, limits: &Limits) -> Result<Zone, ApplyError> {
        let records = delta.apply_records(self.records())?;
        if let Some(summary) = after_change(self, &records, &delta.removed, &delta.added, limits) {
            let zone = Zone::from_checked(self.origin.clone(), records, summary);
            return Ok(zone.with_tree_from(self, delta));
        }
        let zone = validate(
            ParsedZone {
                origin: self.origin.clone(),
                records: records.to_vec(),
            },
            limits,
        )?;
        Ok(zone.with_tree_from(self, delta))
    }

    /// What [`Zone::apply`] decides from the change alone: `Some(zone)` when every rule holds,
    /// `None` when it would validate in full. For tests that check the two ways agree.
    #[cfg(any(test, feature = "testkit"))]
    pub fn apply_incrementally(
        &self,
        delta: &ZoneDelta,
        limits: &Limits,
    ) -> Result<Option<Zone>, DeltaError> {
        let records = delta.apply_records(self.records())?;
        let summary = after_change(self, &records, &delta.removed, &delta.added, limits);
        Ok(summary.map(|summary| Zone::from_checked(self.origin.clone(), records, summary)))
    }
}

/// The merge of a base's records (fed one at a time, in canonical order) with a delta.
struct Merge<'d> {
    removed: std::iter::Peekable<std::slice::Iter<'d, Record>>,
    added: std::iter::Peekable<std::slice::Iter<'d, Record>>,
}

impl<'d> Merge<'d> {
    fn new(delta: &'d ZoneDelta) -> Self {
        Merge::of(&delta.removed, &delta.added)
    }

    fn of(removed: &'d [Record], added: &'d [Record]) -> Self {
        Merge {
            removed: removed.iter().peekable(),
            added: added.iter().peekable(),
        }
    }

    /// Emits the added records that sort before `r`, then `r` unless the delta removes it.
    fn base_record(&mut self, r: &Record, mut emit: impl FnMut(&Record)) -> Result<(), DeltaError> {
        while let Some(add) = self.added.next_if(|add| add.canonical_cmp(r).is_lt()) {
            emit(add);
        }
        if self
            .added
            .peek()
            .is_some_and(|add| add.canonical_cmp(r).is_eq())
        {
            return Err(DeltaError::Present {
                owner: r.owner.clone(),
                rtype: r.rtype,
            });
        }
        if let Some(gone) = self.removed.peek() {
            match gone.canonical_cmp(r) {
                Ordering::Equal => {
                    self.removed.next();
                    return Ok(());
                }
                Ordering::Less => return Err(missing(gone)),
                Ordering::Greater => {}
            }
        }
        emit(r);
        Ok(())
    }

    /// Emits the added records after the base's last; fails if a removed one was never met.
    fn finish(mut self, mut emit: impl FnMut(&Record)) -> Result<(), DeltaError> {
        if let Some(gone) = self.removed.next() {
            return Err(missing(gone));
        }
        self.added.by_ref().for_each(&mut emit);
        Ok(())
    }
}

fn missing(r: &Record) -> DeltaError {
    DeltaError::Missing {
        owner: r.owner.clone(),
        rtype: r.rtype,
    }
}

/// The order of two merge heads, an exhausted list sorting last.
fn order(a: Option<&Record>, b: Option<&Record>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => x.canonical_cmp(y),
        (Some(_), None) => Ordering::Less,
        (None, _) => Ordering::Greater,
    }
}

fn check_order(list: &[Record], which: DeltaList) -> Result<(), DeltaError> {
    match list
        .windows(2)
        .position(|w| !w[0].canonical_cmp(&w[1]).is_lt())
    {
        Some(i) => Err(DeltaError::Unordered {
            list: which,
            index: i + 1,
        }),
        None => Ok(()),
    }
}

/// The records of sorted `a` that sorted `b` does not hold, in order.
fn minus<'a>(a: &'a [Record], b: &[Record]) -> impl Iterator<Item = &'a Record> {
    let mut j = 0;
    a.iter().filter(move |r| {
        while b.get(j).is_some_and(|x| x.canonical_cmp(r).is_lt()) {
            j += 1;
        }
        !b.get(j).is_some_and(|x| x.canonical_cmp(r).is_eq())
    })
}

/// Two sorted lists that share no record, merged into one sorted list.
fn merged<'a>(
    a: impl Iterator<Item = &'a Record>,
    b: impl Iterator<Item = &'a Record>,
) -> Vec<Record> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    let mut out = Vec::new();
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.canonical_cmp(y).is_lt() => a.next(),
            (Some(_), Some(_)) | (None, Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, None) => return out,
        };
        out.extend(next.cloned());
    }
}

/// The first record two canonically sorted lists share.
fn first_common<'a>(a: &'a [Record], b: &[Record]) -> Option<&'a Record> {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].canonical_cmp(&b[j]) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => return Some(&a[i]),
        }
    }
    None
}

fn decode_list(bytes: &[u8], pos: &mut usize) -> Result<Vec<Record>, DeltaError> {
    let count = bytes
        .get(*pos..*pos + 4)
        .ok_or(DeltaError::Malformed { offset: *pos })?;
    let count = u32::from_be_bytes([count[0], count[1], count[2], count[3]]) as usize;
    *pos += 4;
    // Each record takes at least 11 octets: a count beyond that is malformed, not an allocation.
    if count > (bytes.len() - *pos) / 11 {
        return Err(DeltaError::Malformed { offset: *pos - 4 });
    }
    let mut list = Vec::with_capacity(count);
    for _ in 0..count {
        let (record, next) = decode_record(bytes, *pos)?;
        list.push(record);
        *pos = next;
    }
    Ok(list)
}

#[cfg(test)]
mod tests;
