//! Resource records in canonical form.

use std::fmt;

use crate::dns::name::{Name, NameError};
use crate::dns::record_data::RecordData;

/// A resource record type code (RFC 1035 §3.2.2 and successors).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct RType(pub u16);

impl RType {
    pub const A: RType = RType(1);
    pub const NS: RType = RType(2);
    pub const CNAME: RType = RType(5);
    pub const SOA: RType = RType(6);
    pub const PTR: RType = RType(12);
    pub const MX: RType = RType(15);
    pub const TXT: RType = RType(16);
    pub const AAAA: RType = RType(28);
    pub const SRV: RType = RType(33);
    pub const DNAME: RType = RType(39);
    pub const OPT: RType = RType(41);
    pub const ANY: RType = RType(255);
    pub const AXFR: RType = RType(252);
    pub const IXFR: RType = RType(251);

    /// Mnemonic if we know one, else the RFC 3597 `TYPEnnn` form.
    pub fn mnemonic(self) -> String {
        let s = match self {
            RType::A => "A",
            RType::NS => "NS",
            RType::CNAME => "CNAME",
            RType::SOA => "SOA",
            RType::PTR => "PTR",
            RType::MX => "MX",
            RType::TXT => "TXT",
            RType::AAAA => "AAAA",
            RType::SRV => "SRV",
            RType::DNAME => "DNAME",
            RType(13) => "HINFO",
            RType(35) => "NAPTR",
            RType(43) => "DS",
            RType(257) => "CAA",
            RType(99) => "SPF",
            _ => return format!("TYPE{}", self.0),
        };
        s.to_string()
    }
}

impl std::str::FromStr for RType {
    type Err = ();
    /// Parses a mnemonic [`RType::mnemonic`] knows (any case) or the RFC 3597 `TYPEnnn` form.
    fn from_str(text: &str) -> Result<Self, ()> {
        let upper = text.trim().to_ascii_uppercase();
        if let Some(n) = upper.strip_prefix("TYPE") {
            return n.parse().map(RType).map_err(|_| ());
        }
        // Every code `mnemonic` has a name for.
        [1u16, 2, 5, 6, 12, 13, 15, 16, 28, 33, 35, 39, 43, 99, 257]
            .into_iter()
            .map(RType)
            .find(|t| t.mnemonic() == upper)
            .ok_or(())
    }
}

impl fmt::Display for RType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.mnemonic())
    }
}

impl fmt::Debug for RType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RType({self})")
    }
}

/// One resource record of class IN.
///
/// `rdata` is the canonical wire form of RFC 4034 §6.2: uncompressed, with the embedded names
/// of the RFC 1035 types lower-cased. Two records that DNS treats as the same record therefore
/// have equal `rdata` bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Record {
    pub owner: Name,
    pub rtype: RType,
    pub ttl: u32,
    pub rdata: RecordData,
}

impl Record {
    /// Ordering key: canonical owner order, then type, then rdata bytes; TTL last.
    pub fn canonical_cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.owner
            .cmp(&other.owner)
            .then(self.rtype.cmp(&other.rtype))
            .then(self.rdata.cmp(&other.rdata))
            .then(self.ttl.cmp(&other.ttl))
    }

    /// True if the two records are the same record in the sense of RFC 2181 §5: same owner,
    /// class, type and rdata. The TTL does not count.
    pub fn same_record(&self, other: &Self) -> bool {
        self.owner == other.owner && self.rtype == other.rtype && self.rdata == other.rdata
    }

    /// The single target name of NS, CNAME, DNAME and PTR records.
    pub fn target_name(&self) -> Option<Name> {
        match self.rtype {
            RType::NS | RType::CNAME | RType::DNAME | RType::PTR => {
                Name::from_wire(&self.rdata).ok().map(|(n, _)| n)
            }
            RType::MX => Name::from_wire(self.rdata.get(2..)?).ok().map(|(n, _)| n),
            RType::SRV => Name::from_wire(self.rdata.get(6..)?).ok().map(|(n, _)| n),
            _ => None,
        }
    }

    /// The SOA fields, if this is a well-formed SOA record.
    pub fn soa(&self) -> Option<Soa> {
        if self.rtype != RType::SOA {
            return None;
        }
        Soa::from_rdata(&self.rdata).ok()
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {:02x?}",
            self.owner,
            self.ttl,
            self.rtype,
            &self.rdata[..]
        )
    }
}

/// The fields of an SOA record (RFC 1035 §3.3.13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soa {
    pub mname: Name,
    pub rname: Name,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
}

impl Soa {
    pub fn from_rdata(rdata: &[u8]) -> Result<Self, NameError> {
        let (mname, a) = Name::from_wire(rdata)?;
        let (rname, b) = Name::from_wire(&rdata[a..])?;
        let rest = &rdata[a + b..];
        if rest.len() != 20 {
            return Err(NameError::BadWire);
        }
        let n = |i: usize| u32::from_be_bytes(rest[i * 4..i * 4 + 4].try_into().expect("4 bytes"));
        Ok(Soa {
            mname,
            rname,
            serial: n(0),
            refresh: n(1),
            retry: n(2),
            expire: n(3),
            minimum: n(4),
        })
    }

    pub fn to_rdata(&self) -> RecordData {
        let mut out = Vec::new();
        self.mname.write_wire(&mut out);
        self.rname.write_wire(&mut out);
        for v in [
            self.serial,
            self.refresh,
            self.retry,
            self.expire,
            self.minimum,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.into()
    }
}
