//! Zone content: what a parser produces, and the validated, canonical form a plan carries.
//!
//! # Design
//!
//! A [`ParsedZone`] is whatever the zone file said: unsorted, possibly with duplicates or
//! broken rules. A [`Zone`] can only be built by [`crate::zone::validate::validate`] (or by
//! [`Zone::decode`], which re-validates), so holding a `Zone` means every validity rule held
//! when it was built: the type carries the proof.
//!
//! The canonical body is the sorted sequence of records in RFC 4034 §6.2 canonical wire form
//! (owner, type, class IN, TTL, rdlength, rdata, uncompressed and lower-cased). The content
//! hash is the root of a hash tree over that body ([`hash`]: content-defined leaves of records,
//! each leaf's SHA-256, then the SHA-256 of the leaf hashes), so equal content always has an
//! equal hash whatever the order or case of the source file or the deltas that led to it. A
//! [`Zone`] computes its tree once, when first asked, and [`Zone::apply`] derives the new
//! zone's tree from its base's by re-hashing only the leaves the delta touches.

pub mod delta;
pub mod diff;
pub mod hash;
pub mod limits;
pub mod records;
pub mod serial;
pub mod validate;

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::dns::name::Name;
use crate::dns::record::{RType, Record, Soa};
use crate::zone::delta::ZoneDelta;
use crate::zone::hash::HashTree;
use crate::zone::limits::Limits;
use crate::zone::records::Records;
use crate::zone::validate::{Invalid, validate};

pub use crate::zone::hash::ContentHash;

/// Class IN, the only class zonegate serves.
pub const CLASS_IN: u16 = 1;

/// The records a zone file held, before validation.
#[derive(Debug, Clone)]
pub struct ParsedZone {
    pub origin: Name,
    pub records: Vec<Record>,
}

/// Validated zone content in canonical order. Only [`crate::zone::validate::validate`] builds one
/// (and [`Zone::apply`], which decides what it would).
///
/// Two zones are equal when their origins and records are: the summary and the hash tree are
/// caches.
#[derive(Clone)]
pub struct Zone {
    // Private to `zone/` and its children (validate, serial): holding a `Zone` means every
    // validity rule held, so nothing else may edit one.
    origin: Name,
    /// Sorted by [`Record::canonical_cmp`]; no two are the same record. Shared by clones (a
    /// clone of a million-record zone is a pointer, not a million records), in chunks that a
    /// change copies only where it touches them ([`records`]).
    records: Records,
    /// What the limits look at, kept so that a change need not read every record again.
    summary: Summary,
    /// The hash tree of `records`, once computed: a function of the records alone, so it takes
    /// no part in equality. Whoever edits `records` in place keeps it true ([`Zone::replaced`]).
    /// Shared by clones: it never changes once set, but through [`Zone::replaced`].
    tree: OnceLock<Arc<HashTree>>,
}

/// The figures of a zone's records that the limits judge, updated by [`Zone::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Summary {
    /// The canonical body's size in octets, exactly.
    pub(crate) body_bytes: usize,
    /// Bounds of the records' TTLs: every TTL is in `[ttl_low, ttl_high]`. Exact when
    /// validation built the zone; after a change that removed a record at a bound, the bound
    /// may be looser than the records (the check then reads the TTLs again if the limits need).
    pub(crate) ttl_low: u32,
    pub(crate) ttl_high: u32,
}

impl Summary {
    /// The exact summary of `records`.
    pub(crate) fn of<'r>(records: impl IntoIterator<Item = &'r Record>) -> Summary {
        let mut s = Summary {
            body_bytes: 0,
            ttl_low: u32::MAX,
            ttl_high: 0,
        };
        for r in records {
            s.body_bytes = s.body_bytes.saturating_add(body_len(r));
            s.ttl_low = s.ttl_low.min(r.ttl);
            s.ttl_high = s.ttl_high.max(r.ttl);
        }
        s
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.origin == other.origin && self.records == other.records
    }
}

impl Eq for Zone {}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Zone({} with {} records)",
            self.origin,
            self.records.len()
        )
    }
}

/// Why a stored body could not be turned back into a zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("plan body is truncated or malformed at byte {offset}")]
    Malformed { offset: usize },
    #[error("plan body hash {actual} does not match the recorded hash {recorded}")]
    HashMismatch {
        recorded: ContentHash,
        actual: ContentHash,
    },
    #[error("plan body no longer passes validation: {0}")]
    Invalid(#[from] Invalid),
}

impl Zone {
    /// A zone of records that passed validation, in canonical order, its tree not computed
    /// yet. Only validation (and this module's children) may call it.
    pub(crate) fn from_checked(
        origin: Name,
        records: impl Into<Records>,
        summary: Summary,
    ) -> Zone {
        Zone {
            origin,
            records: records.into(),
            summary,
            tree: OnceLock::new(),
        }
    }

    #[inline]
    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// Records in canonical order.
    #[inline]
    pub fn records(&self) -> &Records {
        &self.records
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Always false: validation refuses empty zones. Present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The apex SOA.
    pub fn soa(&self) -> Soa {
        self.records
            .iter()
            .find(|r| r.rtype == RType::SOA && r.owner == self.origin)
            .and_then(Record::soa)
            .expect("a validated zone has exactly one well-formed apex SOA")
    }

    /// The apex SOA record itself (for its TTL).
    pub fn soa_record(&self) -> &Record {
        self.records
            .iter()
            .find(|r| r.rtype == RType::SOA && r.owner == self.origin)
            .expect("a validated zone has exactly one apex SOA")
    }

    /// The size of [`Zone::body`] in octets, without building it.
    pub fn body_len(&self) -> usize {
        self.summary.body_bytes
    }

    /// The canonical body: every record in canonical wire form, in canonical order.
    pub fn body(&self) -> Vec<u8> {
        let len = self.summary.body_bytes;
        let mut out = Vec::with_capacity(len);
        for r in self.records.iter() {
            write_record(r, &mut out);
        }
        debug_assert_eq!(out.len(), len);
        out
    }

    /// The content hash: the root of the zone's hash tree ([`hash`]), computed on the first
    /// call (one pass over the records) and kept; a zone made by [`Zone::apply`] from a base
    /// whose tree was computed has its own already.
    pub fn hash(&self) -> ContentHash {
        self.tree().root()
    }

    /// The hash tree, computed on the first call.
    pub fn tree(&self) -> &HashTree {
        self.tree
            .get_or_init(|| Arc::new(HashTree::build(&self.records)))
    }

    /// `self`, made from `base` by `delta`, with its tree derived from `base`'s when that one
    /// is computed: only the leaves the delta touches are re-hashed.
    pub(crate) fn with_tree_from(self, base: &Zone, delta: &ZoneDelta) -> Zone {
        if let Some(tree) = base.tree.get() {
            let derived = tree.apply(base.records(), &self.records, delta);
            let _ = self.tree.set(Arc::new(derived));
        }
        self
    }

    /// Replaces the record at `index` with one of the same owner, keeping the tree true (only
    /// that record's leaf is re-hashed). For [`serial::with_serial`].
    pub(crate) fn replaced(mut self, index: usize, record: Record) -> Zone {
        debug_assert_eq!(self.records[index].owner, record.owner);
        self.records.set(index, record);
        if let Some(tree) = self.tree.get_mut() {
            Arc::make_mut(tree).replace(&self.records, index);
        }
        self
    }

    /// Rebuilds a zone from a stored body, checking it against the recorded hash and running
    /// validation again: what was validated before writing is validated again after reading.
    /// The recorded hash is the body's tree root or, for a plan staged before the tree, its
    /// flat SHA-256 ([`hash`]); the tree computed here is kept for [`Zone::hash`] when the
    /// zone's records encode back to exactly this body.
    pub fn decode(
        origin: &Name,
        body: &[u8],
        recorded: &ContentHash,
        limits: &Limits,
    ) -> Result<Zone, DecodeError> {
        let tree = HashTree::of_body(body)?;
        if tree.root() != *recorded && ContentHash::flat(body) != *recorded {
            return Err(DecodeError::HashMismatch {
                recorded: *recorded,
                actual: tree.root(),
            });
        }
        let records = decode_records(body)?;
        let zone = validate(
            ParsedZone {
                origin: origin.clone(),
                records,
            },
            limits,
        )?;
        // The body's tree is the zone's when the zone's records encode back to the body, as
        // they do for every body zonegate wrote (canonical order, lower-cased names). A body
        // with another order or case decodes to records whose canonical body is another one,
        // with another tree, computed when asked for.
        if encodes_to(&zone.records, body) {
            let _ = zone.tree.set(Arc::new(tree));
        }
        Ok(zone)
    }
}

/// True if `records`' canonical body is exactly `body`, compared a record at a time.
fn encodes_to(records: &Records, body: &[u8]) -> bool {
    let mut buf = Vec::new();
    let mut pos = 0;
    for r in records {
        buf.clear();
        write_record(r, &mut buf);
        if body.get(pos..pos + buf.len()) != Some(buf.as_slice()) {
            return false;
        }
        pos += buf.len();
    }
    pos == body.len()
}

/// Octets a record takes in the canonical body.
pub(crate) fn body_len(r: &Record) -> usize {
    r.owner.wire_len() + 10 + r.rdata.len()
}

/// Appends a record's canonical wire form: owner, type, class, TTL, data length, data.
pub(crate) fn write_record(r: &Record, out: &mut Vec<u8>) {
    r.owner.write_wire(out);
    out.extend_from_slice(&r.rtype.0.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&r.ttl.to_be_bytes());
    out.extend_from_slice(&(r.rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(&r.rdata);
}

/// Splits a canonical body into records.
pub fn decode_records(body: &[u8]) -> Result<Vec<Record>, DecodeError> {
    // Counted first, so that the list is allocated once at its size: a zone keeps this list.
    let mut records = Vec::with_capacity(count_records(body));
    let mut pos = 0;
    while pos < body.len() {
        let (record, next) = decode_record(body, pos)?;
        records.push(record);
        pos = next;
    }
    Ok(records)
}

/// Decodes the one record in canonical wire form that starts at `pos`; returns it and the
/// offset after it.
pub(crate) fn decode_record(body: &[u8], pos: usize) -> Result<(Record, usize), DecodeError> {
    let bad = DecodeError::Malformed { offset: pos };
    let (owner, used) = Name::from_wire(&body[pos..]).map_err(|_| bad.clone())?;
    let mut p = pos + used;
    let fixed = body.get(p..p + 10).ok_or(bad.clone())?;
    let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let class = u16::from_be_bytes([fixed[2], fixed[3]]);
    let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    let len = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
    if class != CLASS_IN {
        return Err(bad);
    }
    p += 10;
    let rdata = body.get(p..p + len).ok_or(bad)?;
    let record = Record {
        owner,
        rtype: RType(rtype),
        ttl,
        rdata: rdata.into(),
    };
    Ok((record, p + len))
}

/// How many records a canonical body holds, as far as it is well formed: skims the owner
/// names and rdata lengths without building anything.
fn count_records(body: &[u8]) -> usize {
    let (mut pos, mut count) = (0, 0);
    while pos < body.len() {
        // The owner: labels up to the root (a malformed one ends the count; decoding reports it).
        while let Some(&len) = body.get(pos) {
            pos += 1 + len as usize;
            if len == 0 || len > 63 {
                break;
            }
        }
        let Some(fixed) = body.get(pos..pos + 10) else {
            break;
        };
        pos += 10 + u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_counted_before_decoding() {
        let n = |s: &str| Name::parse(s).unwrap();
        let mut target = Vec::new();
        n("b.example.").write_wire(&mut target);
        let records = vec![
            Record {
                owner: n("example."),
                rtype: RType::NS,
                ttl: 300,
                rdata: target.into(),
            },
            Record {
                owner: n("a.example."),
                rtype: RType::A,
                ttl: 300,
                rdata: Box::new([192, 0, 2, 1]).into(),
            },
            Record {
                owner: Name::root(),
                rtype: RType(65280),
                ttl: 0,
                rdata: Box::new([]).into(),
            },
        ];
        let zone = Zone::from_checked(n("example."), records.clone(), Summary::of(&records));
        let body = zone.body();
        assert_eq!(count_records(&body), 3);
        let decoded = decode_records(&body).unwrap();
        assert_eq!(decoded, records);
        assert_eq!(decoded.capacity(), 3);
        assert_eq!(count_records(&[]), 0);
        // Malformed bodies are counted without panicking, and refused by decoding.
        for cut in 1..body.len() {
            assert!(count_records(&body[..cut]) <= 3);
        }
        assert_eq!(count_records(&[0xc0, 0x0c, 0, 1]), 0);
        assert!(decode_records(&body[..body.len() - 1]).is_err());
    }
}
