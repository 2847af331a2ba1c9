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
//! hash is SHA-256 over that body, so equal content always has an equal hash whatever the order
//! or case of the source file.

pub mod delta;
pub mod diff;
pub mod limits;
pub mod serial;
pub mod validate;

use std::fmt;

use sha2::{Digest, Sha256};

use crate::dns::name::Name;
use crate::dns::record::{RType, Record, Soa};
use crate::zone::limits::Limits;
use crate::zone::validate::{Invalid, validate};

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
/// Two zones are equal when their origins and records are: the summary is a cache.
#[derive(Clone)]
pub struct Zone {
    // Private to `zone/` and its children (validate, serial): holding a `Zone` means every
    // validity rule held, so nothing else may edit one.
    origin: Name,
    /// Sorted by [`Record::canonical_cmp`]; no two are the same record.
    records: Vec<Record>,
    /// What the limits look at, kept so that a change need not read every record again.
    summary: Summary,
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
    pub(crate) fn of(records: &[Record]) -> Summary {
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

/// SHA-256 of a plan's canonical body.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    pub fn of(body: &[u8]) -> Self {
        ContentHash(Sha256::digest(body).into())
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
    #[inline]
    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// Records in canonical order.
    #[inline]
    pub fn records(&self) -> &[Record] {
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
        for r in &self.records {
            write_record(r, &mut out);
        }
        debug_assert_eq!(out.len(), len);
        out
    }

    /// The hash of [`Zone::body`], computed a block at a time without building the body.
    pub fn hash(&self) -> ContentHash {
        const BLOCK: usize = 64 * 1024;
        let mut hasher = Sha256::new();
        let mut block = Vec::with_capacity(BLOCK + 1024);
        for r in &self.records {
            write_record(r, &mut block);
            if block.len() >= BLOCK {
                hasher.update(&block);
                block.clear();
            }
        }
        hasher.update(&block);
        ContentHash(hasher.finalize().into())
    }

    /// Rebuilds a zone from a stored body, checking it against the recorded hash and running
    /// validation again: what was validated before writing is validated again after reading.
    pub fn decode(
        origin: &Name,
        body: &[u8],
        recorded: &ContentHash,
        limits: &Limits,
    ) -> Result<Zone, DecodeError> {
        let actual = ContentHash::of(body);
        if actual != *recorded {
            return Err(DecodeError::HashMismatch {
                recorded: *recorded,
                actual,
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
        Ok(zone)
    }
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
                rdata: target.into_boxed_slice(),
            },
            Record {
                owner: n("a.example."),
                rtype: RType::A,
                ttl: 300,
                rdata: Box::new([192, 0, 2, 1]),
            },
            Record {
                owner: Name::root(),
                rtype: RType(65280),
                ttl: 0,
                rdata: Box::new([]),
            },
        ];
        let zone = Zone {
            origin: n("example."),
            summary: Summary::of(&records),
            records: records.clone(),
        };
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
