//! [`UpdateRefusal`]: why an UPDATE message is not applied, and the RFC 2136 response code
//! each reason is answered with.

use std::fmt;

use crate::dns::name::Name;
use crate::dns::record::RType;

/// The response codes of RFC 2136 §2.2 an UPDATE can get besides NOERROR and SERVFAIL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpdateRcode {
    FormErr,
    Refused,
    NotAuth,
    NotZone,
    YxDomain,
    NxDomain,
    YxRrset,
    NxRrset,
}

impl UpdateRcode {
    /// The numeric code (RFC 2136 §2.2, RFC 1035 §4.1.1).
    pub fn code(self) -> u16 {
        match self {
            UpdateRcode::FormErr => 1,
            UpdateRcode::NxDomain => 3,
            UpdateRcode::Refused => 5,
            UpdateRcode::YxDomain => 6,
            UpdateRcode::YxRrset => 7,
            UpdateRcode::NxRrset => 8,
            UpdateRcode::NotAuth => 9,
            UpdateRcode::NotZone => 10,
        }
    }
}

/// The section of an UPDATE message a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Zone,
    Prerequisite,
    Update,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::Zone => "zone",
            Section::Prerequisite => "prerequisite",
            Section::Update => "update",
        })
    }
}

/// What is malformed about a record (RFC 2136 §3.1.1, §3.2.1, §3.4.1.3): FORMERR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// The zone section does not hold exactly one record.
    ZoneCount,
    /// The zone section's type is not SOA.
    ZoneType,
    /// A prerequisite with a TTL other than 0.
    PrereqTtl,
    /// A class-ANY or class-NONE prerequisite with data.
    PrereqData,
    /// A record of a class that is neither the zone's, ANY nor NONE.
    Class,
    /// A meta type (ANY, AXFR, IXFR, MAILA, MAILB, OPT, TSIG) where data is added or removed.
    MetaType,
    /// A class-ANY delete with a TTL or data, or a class-NONE delete with a TTL.
    DeleteForm,
    /// Record data that is not valid for its type.
    Rdata,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Malformed::ZoneCount => "the zone section must hold exactly one record",
            Malformed::ZoneType => "the zone section's type must be SOA",
            Malformed::PrereqTtl => "a prerequisite must have TTL 0",
            Malformed::PrereqData => "a class ANY or NONE prerequisite must have no data",
            Malformed::Class => "the class must be the zone's (IN), ANY or NONE",
            Malformed::MetaType => {
                "a meta type (ANY, AXFR, IXFR, MAILA, MAILB) cannot be added or deleted as data"
            }
            Malformed::DeleteForm => {
                "a class ANY delete needs TTL 0 and no data, a class NONE delete TTL 0"
            }
            Malformed::Rdata => "the record data is not valid for its type",
        })
    }
}

/// Why an UPDATE message is not applied. Each maps to its RFC 2136 response code
/// ([`UpdateRefusal::rcode`]) and says what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateRefusal {
    #[error("malformed {section} section record {name}: {what}; fix the client's message")]
    Malformed {
        section: Section,
        name: Name,
        what: Malformed,
    },
    #[error("{name} is outside the zone {zone}; send it in an UPDATE for the zone that holds it")]
    NotZone { name: Name, zone: Name },
    #[error("prerequisite failed: {name} has records (\"name not in use\" was required)")]
    NameInUse { name: Name },
    #[error("prerequisite failed: {name} has no records (\"name in use\" was required)")]
    NameNotInUse { name: Name },
    #[error("prerequisite failed: {name} {rtype} exists (\"RRset does not exist\" was required)")]
    RrsetExists { name: Name, rtype: RType },
    #[error("prerequisite failed: {name} has no {rtype} RRset (\"RRset exists\" was required)")]
    RrsetAbsent { name: Name, rtype: RType },
    #[error(
        "prerequisite failed: the {name} {rtype} RRset is not exactly the one given; read it again and resend"
    )]
    RrsetDiffers { name: Name, rtype: RType },
    #[error(
        "the key {key} may not change {name} {rtype}: no update_policy grant of the zone covers it; grant it in [server] update_policy or use another key"
    )]
    NotGranted { key: Name, name: Name, rtype: RType },
}

impl UpdateRefusal {
    /// The response code RFC 2136 answers this with.
    pub fn rcode(&self) -> UpdateRcode {
        match self {
            UpdateRefusal::Malformed { .. } => UpdateRcode::FormErr,
            UpdateRefusal::NotZone { .. } => UpdateRcode::NotZone,
            UpdateRefusal::NameInUse { .. } => UpdateRcode::YxDomain,
            UpdateRefusal::NameNotInUse { .. } => UpdateRcode::NxDomain,
            UpdateRefusal::RrsetExists { .. } => UpdateRcode::YxRrset,
            UpdateRefusal::RrsetAbsent { .. } | UpdateRefusal::RrsetDiffers { .. } => {
                UpdateRcode::NxRrset
            }
            UpdateRefusal::NotGranted { .. } => UpdateRcode::Refused,
        }
    }
}
