//! Minimal answers to `ANY` (RFC 8482).
//!
//! An `ANY` query for a name with data gets one synthesised HINFO record, CPU "RFC8482" and
//! an empty OS (§4.2), instead of every record set at the name: the answer is about the size
//! of the query, so `ANY` cannot be used to amplify. The TTL is the smallest of the records it
//! stands for, so that no resolver keeps it longer than the data it replaces. An answer that
//! is a CNAME (`ANY` stops at one) is one record set already and stays; so do negative
//! answers, referrals and errors. The answer is the same over UDP and TCP (§4.1 lets a
//! responder answer minimally over either).

use zonegate_core::lookup::{Item, Rcode, Resolution, ZoneIndex};
use zonegate_core::{Name, RType, Record};

/// HINFO (RFC 1035 §3.3.2).
const HINFO: RType = RType(13);

/// The RDATA of the synthesised HINFO: CPU "RFC8482", OS "" (RFC 8482 §4.2).
const RFC8482_RDATA: &[u8] = b"\x07RFC8482\x00";

/// `res`, the full answer to `ANY` at `qname`, made minimal.
pub(crate) fn minimal(index: &ZoneIndex, qname: &Name, mut res: Resolution) -> Resolution {
    if res.rcode != Rcode::NoError || !res.authoritative || res.answer.is_empty() {
        return res;
    }
    let records: Vec<Record> = res.answer.iter().map(|i| index.materialize(i)).collect();
    if records.iter().all(|r| r.rtype == RType::CNAME) {
        return res;
    }
    let ttl = records.iter().map(|r| r.ttl).min().unwrap_or(0);
    res.answer = vec![Item::Synthesized(Record {
        owner: qname.clone(),
        rtype: HINFO,
        ttl,
        rdata: RFC8482_RDATA.into(),
    })];
    res.additional.clear();
    res
}

#[cfg(test)]
mod tests {
    use zonegate_testkit::{a, mx, n, txt, zone};

    use super::*;

    #[test]
    fn any_at_a_name_with_data_is_one_hinfo() {
        let zone = zone(
            "example.",
            1,
            vec![
                a("ns1.example.", [192, 0, 2, 53]),
                a("www.example.", [192, 0, 2, 1]),
                txt("www.example.", "hello"),
                mx("www.example.", 10, "mail.example."),
                a("mail.example.", [192, 0, 2, 2]),
            ],
        );
        let index = ZoneIndex::new(zone);
        let qname = n("www.example.");
        let res = minimal(&index, &qname, index.resolve(&qname, RType::ANY));
        assert_eq!(res.rcode, Rcode::NoError);
        assert!(res.additional.is_empty());
        let [Item::Synthesized(r)] = res.answer.as_slice() else {
            panic!("one synthesised record, got {:?}", res.answer);
        };
        assert_eq!((r.rtype, &*r.rdata), (HINFO, RFC8482_RDATA));
        // A missing name is still NXDOMAIN.
        let missing = n("nope.example.");
        let res = minimal(&index, &missing, index.resolve(&missing, RType::ANY));
        assert_eq!(res.rcode, Rcode::NxDomain);
    }
}
