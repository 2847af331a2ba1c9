//! Core records and names in hickory's form, for encoding.
//!
//! A leaf: it knows the core's types and hickory's, and nothing of the server.

use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{Name as HName, RData, Record as HRecord, RecordType};
use hickory_proto::serialize::binary::{
    BinDecoder, BinEncodable, BinEncoder, NameEncoding, Restrict,
};
use zonegate_core::{Name, Record};

/// A core name as a hickory name. Core names are valid wire names, so this cannot fail.
pub(crate) fn to_hickory_name(name: &Name) -> HName {
    HName::from_labels(name.labels()).expect("a core name is a valid wire name")
}

/// A core record as a hickory record. The rdata is decoded with hickory's decoder so that
/// names in it can be compressed on the wire; rdata that hickory's decoder does not accept is
/// carried as opaque bytes (RFC 3597), which is always a correct encoding.
pub(crate) fn to_hickory(record: &Record) -> HRecord {
    let rtype = RecordType::from(record.rtype.0);
    let rdata = decode_rdata(rtype, &record.rdata).unwrap_or_else(|| {
        // `NULL::with` refuses empty data; `NULL::new` is the empty rdata.
        let opaque = if record.rdata.is_empty() {
            NULL::new()
        } else {
            NULL::with(record.rdata.to_vec())
        };
        RData::Unknown {
            code: rtype,
            rdata: opaque,
        }
    });
    HRecord::from_rdata(to_hickory_name(&record.owner), record.ttl, rdata)
}

fn decode_rdata(rtype: RecordType, rdata: &[u8]) -> Option<RData> {
    let len = u16::try_from(rdata.len()).ok()?;
    if len == 0 {
        // Empty rdata only round-trips as opaque bytes (hickory reads it as an "update").
        return None;
    }
    let mut decoder = BinDecoder::new(rdata);
    let decoded = RData::read(&mut decoder, rtype, Restrict::new(len)).ok()?;
    // Use the decoded form only if it emits exactly the bytes we hold: what is served must be
    // what was published, whatever hickory normalises.
    let mut again = Vec::with_capacity(rdata.len());
    let mut encoder = BinEncoder::new(&mut again);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    decoded.emit(&mut encoder).ok()?;
    (again == rdata).then_some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zonegate_core::RType;
    use zonegate_core::dns::record::Soa;
    use zonegate_testkit::{n, name_rdata, rec};

    /// Emits the rdata uncompressed, as the canonical form.
    fn canonical_rdata(r: &HRecord) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = BinEncoder::new(&mut out);
        enc.set_canonical_form(true);
        r.data.emit(&mut enc).unwrap();
        out
    }

    #[test]
    fn conversion_round_trips_rdata() {
        let soa = Soa {
            mname: n("ns.example."),
            rname: n("h.example."),
            serial: 7,
            refresh: 1,
            retry: 2,
            expire: 3,
            minimum: 4,
        };
        let mut mx = vec![0, 10];
        n("mx.example.").write_wire(&mut mx);
        let records = [
            rec("a.example.", 300, RType::A, Box::new([192, 0, 2, 1])),
            rec(
                "a.example.",
                300,
                RType::AAAA,
                Box::new([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            ),
            rec("example.", 300, RType::NS, name_rdata("ns.example.")),
            rec("example.", 300, RType::SOA, soa.to_rdata()),
            rec("c.example.", 300, RType::CNAME, name_rdata("a.example.")),
            rec("d.example.", 300, RType::DNAME, name_rdata("other.test.")),
            rec("m.example.", 300, RType::MX, mx.into_boxed_slice()),
            rec("t.example.", 300, RType::TXT, Box::new(*b"\x05hello\x00")),
            rec("*.example.", 300, RType(65280), Box::new([1, 2, 3])),
            rec("e.example.", 300, RType(65281), Box::new([])),
            // Malformed for its type: carried as opaque bytes.
            rec("bad.example.", 300, RType::A, Box::new([1, 2, 3])),
        ];
        for r in &records {
            let h = to_hickory(r);
            assert_eq!(h.record_type(), RecordType::from(r.rtype.0), "{r:?}");
            assert_eq!(h.ttl, r.ttl);
            assert_eq!(h.name.to_ascii(), r.owner.to_string());
            assert_eq!(canonical_rdata(&h), r.rdata.to_vec(), "{r:?}");
            // Known types are decoded, so names in them can be compressed; the rest are opaque.
            let opaque = matches!(h.data, RData::Unknown { .. });
            let known = [
                RType::A,
                RType::AAAA,
                RType::NS,
                RType::SOA,
                RType::CNAME,
                RType::MX,
                RType::TXT,
            ];
            let expect_opaque = !known.contains(&r.rtype) || r.owner == n("bad.example.");
            assert_eq!(opaque, expect_opaque, "{r:?}");
        }
    }
}
