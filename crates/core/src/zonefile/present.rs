//! Master-file text out: [`record_to_text`] and [`rdata_to_text`], which always read back to
//! the same bytes.

use std::fmt::Write as _;

use domain::base::ParseRecordData;
use domain::base::iana::Rtype;
use domain::base::zonefile_fmt::{DisplayKind, ZonefileFmt};
use domain::dep::octseq::Parser;
use domain::rdata::ZoneRecordData;

use crate::dns::name::Name;
use crate::dns::rdata::WireData;
use crate::dns::record::{RType, Record};
use crate::zonefile::parse::parse;

/// The presentation format of record data of type `rtype`, as it appears after the type in a
/// master file: `domain`'s format for types it knows, when that text reads back to the same
/// data; otherwise RFC 3597's `\# <length> <hex>`.
pub fn rdata_to_text(rtype: RType, rdata: &[u8]) -> String {
    let mut out = String::new();
    write_rdata_text(&mut out, rtype, rdata);
    out
}

/// Appends [`rdata_to_text`] to `out`.
fn write_rdata_text(out: &mut String, rtype: RType, rdata: &[u8]) {
    // Addresses, most of any large zone, print as `domain` prints them (the standard library's
    // address formats), which always read back: no round trip through the parser needed.
    if let Ok(octets) = <[u8; 4]>::try_from(rdata)
        && rtype == RType::A
    {
        let _ = write!(out, "{}", std::net::Ipv4Addr::from(octets));
    } else if let Ok(octets) = <[u8; 16]>::try_from(rdata)
        && rtype == RType::AAAA
    {
        let _ = write!(out, "{}", std::net::Ipv6Addr::from(octets));
    } else {
        out.push_str(&rdata_to_text_checked(rtype, rdata));
    }
}

/// [`rdata_to_text`] for every type: `domain`'s presentation format, checked by parsing it back.
fn rdata_to_text_checked(rtype: RType, rdata: &[u8]) -> String {
    let mut parser = Parser::from_ref(rdata);
    match WireData::parse_rdata(Rtype::from_int(rtype.0), &mut parser) {
        Ok(Some(ZoneRecordData::Unknown(_))) | Ok(None) | Err(_) => {}
        Ok(Some(data)) => {
            if parser.remaining() == 0 {
                let text = data.display_zonefile(DisplayKind::Simple).to_string();
                if reads_back(rtype, &text, rdata) {
                    return text;
                }
            }
        }
    }
    generic_rdata_text(rdata)
}

/// RFC 3597 §5 generic record data.
fn generic_rdata_text(rdata: &[u8]) -> String {
    let mut out = String::with_capacity(8 + rdata.len() * 2);
    let _ = write!(out, "\\# {}", rdata.len());
    if !rdata.is_empty() {
        out.push(' ');
        for b in rdata {
            let _ = write!(out, "{b:02x}");
        }
    }
    out
}

/// True if `text` parses as data of `rtype` giving exactly the canonical `rdata`.
fn reads_back(rtype: RType, text: &str, rdata: &[u8]) -> bool {
    if text.contains('\n') {
        return false;
    }
    let line = format!(". 0 IN {} {}\n", rtype_text(rtype), text);
    match parse(&line, Some(&Name::root()), "") {
        Ok(zone) => zone.records.len() == 1 && &zone.records[0].rdata[..] == rdata,
        Err(_) => false,
    }
}

/// The type's mnemonic as master files write it (`TYPEnnn` for types without one).
fn rtype_text(rtype: RType) -> String {
    Rtype::from_int(rtype.0).to_string()
}

/// One master-file line for a record: `owner TTL IN TYPE rdata`, with an absolute owner.
pub fn record_to_text(r: &Record) -> String {
    // One string, written in place: a diff of a large zone prints many of these.
    let mut out = String::with_capacity(r.owner.wire_len() + 32 + 2 * r.rdata.len());
    let _ = write!(
        out,
        "{} {} IN {} ",
        r.owner,
        r.ttl,
        Rtype::from_int(r.rtype.0)
    );
    write_rdata_text(&mut out, r.rtype, &r.rdata);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_text_is_the_checked_text() {
        let mut next = crate::testkit::xorshift(0x1234_5678_9abc_def1);
        let mut samples: Vec<Vec<u8>> = vec![
            vec![0; 4],
            vec![255; 4],
            vec![0; 16],
            vec![255; 16],
            // IPv4-mapped and -compatible IPv6, runs of zeros in several places.
            [&[0u8; 10][..], &[255, 255, 192, 0, 2, 1]].concat(),
            [&[0u8; 12][..], &[192, 0, 2, 1]].concat(),
            [&[0x20, 0x01, 0x0d, 0xb8][..], &[0; 11], &[1]].concat(),
            [&[0u8, 1][..], &[0; 14]].concat(),
        ];
        for _ in 0..2000 {
            let len = if next().is_multiple_of(2) { 4 } else { 16 };
            // Sparse octets, so that the IPv6 zero-run compression is exercised.
            samples.push(
                (0..len)
                    .map(|_| next().is_multiple_of(3) as u8 * next() as u8)
                    .collect(),
            );
        }
        for rdata in samples {
            for rtype in [RType::A, RType::AAAA] {
                assert_eq!(
                    rdata_to_text(rtype, &rdata),
                    rdata_to_text_checked(rtype, &rdata),
                    "{rtype} {rdata:?}"
                );
            }
        }
    }
}
