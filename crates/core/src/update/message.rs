//! The UPDATE message model and its prescan (RFC 2136 §3.1, §3.2.1, §3.4.1).

use crate::dns::name::Name;
use crate::dns::rdata::canonical_rdata;
use crate::dns::record::{RType, Record};
use crate::dns::record_data::RecordData;
use crate::update::refusal::{Malformed, Section, UpdateRefusal};

/// A record's class as RFC 2136 overloads it (§2.4, §2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The zone's class, IN.
    Zone,
    /// ANY (255).
    Any,
    /// NONE (254).
    None,
    /// Any other class.
    Other(u16),
}

impl From<u16> for Class {
    fn from(code: u16) -> Self {
        match code {
            1 => Class::Zone,
            255 => Class::Any,
            254 => Class::None,
            other => Class::Other(other),
        }
    }
}

/// One resource record of an UPDATE message as it came off the wire: the data uncompressed,
/// `None` when its length is 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRr {
    pub owner: Name,
    pub class: Class,
    pub rtype: RType,
    pub ttl: u32,
    pub rdata: Option<Vec<u8>>,
}

/// A prerequisite (RFC 2136 §2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prereq {
    /// §2.4.4: the name has at least one record.
    NameInUse(Name),
    /// §2.4.5: the name has no records.
    NameNotInUse(Name),
    /// §2.4.1: an RRset of this type exists at the name, whatever its data.
    RrsetExists { name: Name, rtype: RType },
    /// §2.4.3: no RRset of this type at the name.
    RrsetAbsent { name: Name, rtype: RType },
    /// §2.4.2: the RRset at the name is exactly these data (TTL ignored).
    RrsetEquals {
        name: Name,
        rtype: RType,
        rdatas: Vec<RecordData>,
    },
}

/// One change of the update section (RFC 2136 §2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// §2.5.1: add this record to its RRset.
    Add(Record),
    /// §2.5.2: delete the RRset of this type at the name.
    DeleteRrset { name: Name, rtype: RType },
    /// §2.5.3: delete every RRset at the name.
    DeleteName(Name),
    /// §2.5.4: delete this one record (matched by name, type and data).
    DeleteRecord {
        name: Name,
        rtype: RType,
        rdata: RecordData,
    },
}

impl Change {
    /// The owner this change touches.
    pub fn name(&self) -> &Name {
        match self {
            Change::Add(r) => &r.owner,
            Change::DeleteRrset { name, .. }
            | Change::DeleteName(name)
            | Change::DeleteRecord { name, .. } => name,
        }
    }

    /// The type it touches; [`RType::ANY`] for a delete of every RRset at a name.
    pub fn rtype(&self) -> RType {
        match self {
            Change::Add(r) => r.rtype,
            Change::DeleteRrset { rtype, .. } | Change::DeleteRecord { rtype, .. } => *rtype,
            Change::DeleteName(_) => RType::ANY,
        }
    }
}

/// A well-formed UPDATE message: its zone, prerequisites and changes, in message order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateMessage {
    pub zone: Name,
    pub prereqs: Vec<Prereq>,
    pub changes: Vec<Change>,
}

/// Types that name no data: they cannot be added or deleted as records (§3.4.1.3).
fn is_meta(rtype: RType) -> bool {
    matches!(rtype.0, 41 | 249..=255)
}

fn malformed(section: Section, name: &Name, what: Malformed) -> UpdateRefusal {
    UpdateRefusal::Malformed {
        section,
        name: name.clone(),
        what,
    }
}

/// Record data in canonical form, or FORMERR.
fn canonical(section: Section, rr: &RawRr, data: &[u8]) -> Result<RecordData, UpdateRefusal> {
    canonical_rdata(rr.rtype.0, data)
        .map(RecordData::from)
        .map_err(|_| malformed(section, &rr.owner, Malformed::Rdata))
}

impl UpdateMessage {
    /// Reads the three sections of an UPDATE for the zone section's `zone` (its name, type
    /// and class), checking §3.1.1 (one SOA question of class IN), §3.2.1 and §3.4.1.3 in
    /// message order: the first problem found is the refusal. A name outside the zone is
    /// NOTZONE (§3.2.1, §3.4.1.2).
    pub fn read(
        zone: &[(Name, RType, Class)],
        prereqs: &[RawRr],
        updates: &[RawRr],
    ) -> Result<UpdateMessage, UpdateRefusal> {
        let [(origin, ztype, zclass)] = zone else {
            let name = zone.first().map_or_else(Name::root, |z| z.0.clone());
            return Err(malformed(Section::Zone, &name, Malformed::ZoneCount));
        };
        if *ztype != RType::SOA {
            return Err(malformed(Section::Zone, origin, Malformed::ZoneType));
        }
        if *zclass != Class::Zone {
            return Err(malformed(Section::Zone, origin, Malformed::Class));
        }
        let in_zone = |rr: &RawRr| {
            if rr.owner.is_at_or_below(origin) {
                Ok(())
            } else {
                Err(UpdateRefusal::NotZone {
                    name: rr.owner.clone(),
                    zone: origin.clone(),
                })
            }
        };
        let mut out = UpdateMessage {
            zone: origin.clone(),
            prereqs: Vec::with_capacity(prereqs.len()),
            changes: Vec::with_capacity(updates.len()),
        };
        for rr in prereqs {
            let p = read_prereq(rr)?;
            in_zone(rr)?;
            push_prereq(&mut out.prereqs, p);
        }
        for rr in updates {
            in_zone(rr)?;
            out.changes.push(read_change(rr)?);
        }
        Ok(out)
    }
}

/// One prerequisite record (§3.2.1): TTL 0; class ANY or NONE without data; class IN with
/// data for a value-dependent RRset.
fn read_prereq(rr: &RawRr) -> Result<Prereq, UpdateRefusal> {
    let s = Section::Prerequisite;
    if rr.ttl != 0 {
        return Err(malformed(s, &rr.owner, Malformed::PrereqTtl));
    }
    let name = rr.owner.clone();
    let rtype = rr.rtype;
    match (rr.class, &rr.rdata) {
        (Class::Any | Class::None, Some(_)) => Err(malformed(s, &name, Malformed::PrereqData)),
        (Class::Any, None) if rtype == RType::ANY => Ok(Prereq::NameInUse(name)),
        (Class::Any, None) => Ok(Prereq::RrsetExists { name, rtype }),
        (Class::None, None) if rtype == RType::ANY => Ok(Prereq::NameNotInUse(name)),
        (Class::None, None) => Ok(Prereq::RrsetAbsent { name, rtype }),
        (Class::Zone, _) if is_meta(rtype) => Err(malformed(s, &name, Malformed::MetaType)),
        (Class::Zone, data) => {
            let rdata = canonical(s, rr, data.as_deref().unwrap_or(&[]))?;
            Ok(Prereq::RrsetEquals {
                name,
                rtype,
                rdatas: vec![rdata],
            })
        }
        (Class::Other(_), _) => Err(malformed(s, &name, Malformed::Class)),
    }
}

/// Value-dependent prerequisites of one name and type form one RRset (§3.2.5): records of
/// the same RRset are joined into the first prerequisite that names it.
fn push_prereq(list: &mut Vec<Prereq>, p: Prereq) {
    if let Prereq::RrsetEquals {
        name,
        rtype,
        rdatas,
    } = &p
    {
        for q in list.iter_mut() {
            if let Prereq::RrsetEquals {
                name: n,
                rtype: t,
                rdatas: have,
            } = q
                && n == name
                && t == rtype
            {
                for r in rdatas {
                    if !have.contains(r) {
                        have.push(r.clone());
                    }
                }
                return;
            }
        }
    }
    list.push(p);
}

/// One update record (§3.4.1.3).
fn read_change(rr: &RawRr) -> Result<Change, UpdateRefusal> {
    let s = Section::Update;
    let name = rr.owner.clone();
    let rtype = rr.rtype;
    match rr.class {
        Class::Zone => {
            if is_meta(rtype) {
                return Err(malformed(s, &name, Malformed::MetaType));
            }
            let rdata = canonical(s, rr, rr.rdata.as_deref().unwrap_or(&[]))?;
            Ok(Change::Add(Record {
                owner: name,
                rtype,
                ttl: rr.ttl,
                rdata,
            }))
        }
        Class::Any => {
            if rr.ttl != 0 || rr.rdata.is_some() || matches!(rtype.0, 251..=254) {
                return Err(malformed(s, &name, Malformed::DeleteForm));
            }
            if rtype == RType::ANY {
                Ok(Change::DeleteName(name))
            } else {
                Ok(Change::DeleteRrset { name, rtype })
            }
        }
        Class::None => {
            if rr.ttl != 0 {
                return Err(malformed(s, &name, Malformed::DeleteForm));
            }
            if is_meta(rtype) {
                return Err(malformed(s, &name, Malformed::MetaType));
            }
            let rdata = canonical(s, rr, rr.rdata.as_deref().unwrap_or(&[]))?;
            Ok(Change::DeleteRecord { name, rtype, rdata })
        }
        Class::Other(_) => Err(malformed(s, &name, Malformed::Class)),
    }
}
