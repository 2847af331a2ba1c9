//! The catalog zone (RFC 9432): one zone that lists every member zone a server publishes, so
//! that secondaries (Knot's `catalog-role: interpret`, BIND's `catalog-zones`, NSD's
//! `catalog-consumer-zone`) learn about new zones and drop removed ones without a change to
//! their configuration.
//!
//! Its content is a function of its name, its generation and the set of members alone, so
//! every server that reads the same members makes the same zone:
//! - the apex SOA (`invalid.` as primary and mailbox, the generation as serial) and one NS
//!   `invalid.` (§4.1: the NS is never used);
//! - `version.NAME. TXT "2"` (§4.2.1, schema version 2);
//! - one `<id>.zones.NAME. PTR <member>.` per member (§4.2.2). The id is the first 8 octets
//!   of the SHA-256 of the member's lower-cased wire name, in hex: stable for a member, so a
//!   zone that leaves and comes back has the same id, and a secondary does not see it as a
//!   new zone with a reset (§5.4).
//!
//! A leaf: it uses only the core.

use sha2::{Digest, Sha256};
use zonegate_core::dns::record::Soa;
use zonegate_core::gate::Generation;
use zonegate_core::zone::validate::{Invalid, validate};
use zonegate_core::{Limits, Name, ParsedZone, RType, Record, RecordData, Zone};

/// The TTL of every record of the catalog zone. A catalog is read by transfer, never by
/// resolvers (RFC 9432 §4.1 suggests 0).
const TTL: u32 = 0;

/// Why a catalog zone could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogZoneError {
    /// A member name with the catalog's `<id>.zones.` prefix is longer than 255 octets: the
    /// catalog's name is too long. Choose a shorter `[server] catalog`.
    #[error(
        "the catalog zone name {catalog} is too long to list members under it (a member's \
         name <id>.zones.{catalog} must fit in 255 octets); choose a shorter [server] catalog"
    )]
    NameTooLong { catalog: Name },
    /// The content failed the zone rules; a bug if it ever happens.
    #[error("the catalog zone {catalog} is not a valid zone: {detail}")]
    Invalid { catalog: Name, detail: String },
}

/// The member's unique id (RFC 9432 §4.2.2): 16 hex digits of the SHA-256 of its wire name.
pub fn member_id(member: &Name) -> String {
    let digest = Sha256::digest(member.wire());
    data_encoding::HEXLOWER.encode(&digest[..8])
}

/// The catalog zone `catalog` at `generation` listing `members` (the catalog itself, if
/// among them, is left out: a catalog is never its own member).
pub fn catalog_zone(
    catalog: &Name,
    generation: Generation,
    members: &[Name],
) -> Result<Zone, CatalogZoneError> {
    let name = |text: String| {
        Name::parse(&text).map_err(|_| CatalogZoneError::NameTooLong {
            catalog: catalog.clone(),
        })
    };
    let invalid = Name::parse("invalid.").expect("a valid name");
    let soa = Soa {
        mname: invalid.clone(),
        rname: invalid.clone(),
        // The served serial: a server serves the serial a zone arrives with (raised only if it
        // would go back), so every server serves the catalog's generation.
        serial: generation.0 as u32,
        refresh: 60,
        retry: 10,
        expire: 2_419_200,
        minimum: 0,
    };
    let mut version_txt = vec![1u8];
    version_txt.extend_from_slice(b"2");
    let mut records = vec![
        record(catalog.clone(), RType::SOA, soa.to_rdata()),
        record(catalog.clone(), RType::NS, invalid.wire()),
        record(
            name(format!("version.{catalog}"))?,
            RType::TXT,
            version_txt.into_boxed_slice(),
        ),
    ];
    for member in members.iter().filter(|m| *m != catalog) {
        let owner = name(format!("{}.zones.{catalog}", member_id(member)))?;
        records.push(record(owner, RType::PTR, member.wire()));
    }
    let parsed = ParsedZone {
        origin: catalog.clone(),
        records,
    };
    validate(parsed, &Limits::default()).map_err(|e: Invalid| CatalogZoneError::Invalid {
        catalog: catalog.clone(),
        detail: e.to_string(),
    })
}

fn record(owner: Name, rtype: RType, rdata: impl Into<RecordData>) -> Record {
    Record {
        owner,
        rtype,
        ttl: TTL,
        rdata: rdata.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zonegate_testkit::n;

    fn lines(zone: &Zone) -> Vec<(String, RType)> {
        zone.records()
            .iter()
            .map(|r| (r.owner.to_string(), r.rtype))
            .collect()
    }

    /// The RFC 9432 layout: SOA and NS `invalid.` at the apex, the version, one PTR per
    /// member under `zones.`, pointing at the member.
    #[test]
    fn lists_every_member_in_the_rfc_9432_layout() {
        let cat = n("catalog.zonegate.test.");
        let members = [n("b.example."), n("a.example.")];
        let zone = catalog_zone(&cat, Generation(7), &members).unwrap();
        assert_eq!(zone.origin(), &cat);
        assert_eq!(zone.soa().serial, 7);
        assert_eq!(zone.soa().mname, n("invalid."));
        let have = lines(&zone);
        assert!(have.contains(&("catalog.zonegate.test.".into(), RType::NS)));
        assert!(have.contains(&("version.catalog.zonegate.test.".into(), RType::TXT)));
        let version = zone
            .records()
            .iter()
            .find(|r| r.rtype == RType::TXT)
            .unwrap();
        assert_eq!(&*version.rdata, b"\x012");
        let mut ptrs: Vec<(String, Name)> = zone
            .records()
            .iter()
            .filter(|r| r.rtype == RType::PTR)
            .map(|r| {
                (
                    r.owner.to_string(),
                    Name::from_wire(&r.rdata).expect("a name").0,
                )
            })
            .collect();
        ptrs.sort_by(|x, y| x.1.cmp(&y.1));
        assert_eq!(
            ptrs,
            vec![
                (
                    format!("{}.zones.catalog.zonegate.test.", member_id(&members[1])),
                    members[1].clone()
                ),
                (
                    format!("{}.zones.catalog.zonegate.test.", member_id(&members[0])),
                    members[0].clone()
                ),
            ]
        );
        assert_eq!(zone.records().len(), 5);
    }

    /// The id depends on the member alone (so a zone that comes back keeps it, and every
    /// server agrees), and differs between members; the content depends only on the inputs.
    #[test]
    fn ids_are_stable_and_content_is_a_function_of_the_members() {
        assert_eq!(member_id(&n("a.example.")), member_id(&n("A.Example.")));
        assert_ne!(member_id(&n("a.example.")), member_id(&n("b.example.")));
        assert_eq!(member_id(&n("a.example.")).len(), 16);
        let cat = n("cat.");
        let one = catalog_zone(&cat, Generation(3), &[n("a."), n("b.")]).unwrap();
        let two = catalog_zone(&cat, Generation(3), &[n("b."), n("a.")]).unwrap();
        assert_eq!(one.hash(), two.hash());
        let fewer = catalog_zone(&cat, Generation(4), &[n("b.")]).unwrap();
        assert_eq!(fewer.records().len(), 4);
    }

    /// An empty catalog is still a zone (SOA, NS, version); the catalog never lists itself.
    #[test]
    fn empty_catalog_and_never_its_own_member() {
        let cat = n("cat.");
        let zone = catalog_zone(&cat, Generation(1), std::slice::from_ref(&cat)).unwrap();
        assert_eq!(zone.records().len(), 3);
        assert!(zone.records().iter().all(|r| r.rtype != RType::PTR));
    }

    /// A catalog name so long that no member fits under it is refused with what to do.
    #[test]
    fn a_catalog_name_too_long_is_refused() {
        let long = format!("{}.", vec!["a".repeat(60); 4].join("."));
        let cat = n(&long);
        let err = catalog_zone(&cat, Generation(1), &[n("a.")]).unwrap_err();
        assert!(matches!(err, CatalogZoneError::NameTooLong { .. }));
        assert!(err.to_string().contains("shorter [server] catalog"));
    }
}
