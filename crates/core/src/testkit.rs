//! The one set of test builders: records, zones and pseudo-random numbers.
//!
//! It lives in the core, not in `zonegate-testkit`, because the core's own unit tests
//! (`#[cfg(test)]` inside this crate) cannot use another crate's copy of the core's types.
//! Compiled for the core's unit tests and, through the `testkit` feature, for
//! `zonegate-testkit`, which re-exports it to every other test crate; the binary never has it.

use crate::dns::name::Name;
use crate::dns::record::{RType, Record, Soa};
use crate::zone::limits::Limits;
use crate::zone::validate::validate;
use crate::zone::{ParsedZone, Zone};

/// A xorshift64 generator from `seed` (not zero): cheap, repeatable pseudo-random numbers for
/// property tests, so that a failure reproduces from the seed in the test.
pub fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

/// Labels that make name-ordering code work hard: shared prefixes, octets 0, 253, 254 and
/// 255, and labels longer than an eight-octet sort key.
pub const HARD_LABELS: [&[u8]; 13] = [
    b"a",
    b"ab",
    b"abcdefghij",
    b"abcdefghik",
    b"b",
    b"\x00",
    b"a\x00",
    b"\xfd",
    b"\xfe",
    b"\xfe\x01",
    b"\xff",
    b"\xff\x00",
    b"\xfe\xfe\x02",
];

/// `s` as a name; panics on a malformed one, which is a mistake in the test.
pub fn n(s: &str) -> Name {
    Name::parse(s).unwrap()
}

/// The uncompressed wire form of the name `s`, as rdata (NS, CNAME, DNAME targets).
pub fn name_rdata(s: &str) -> crate::RecordData {
    let mut v = Vec::new();
    n(s).write_wire(&mut v);
    v.into()
}

/// A record of any type with the given canonical rdata.
pub fn rec(owner: &str, ttl: u32, rtype: RType, rdata: impl Into<crate::RecordData>) -> Record {
    Record {
        owner: n(owner),
        rtype,
        ttl,
        rdata: rdata.into(),
    }
}

/// An A record, TTL 300.
pub fn a(owner: &str, ip: [u8; 4]) -> Record {
    rec(owner, 300, RType::A, Box::new(ip))
}

/// An AAAA record for `2001::<last>`, TTL 300.
pub fn aaaa(owner: &str, last: u8) -> Record {
    let mut ip = [0u8; 16];
    ip[0] = 0x20;
    ip[1] = 0x01;
    ip[15] = last;
    rec(owner, 300, RType::AAAA, Box::new(ip))
}

/// An NS record, TTL 3600.
pub fn ns(owner: &str, target: &str) -> Record {
    rec(owner, 3600, RType::NS, name_rdata(target))
}

/// A CNAME record, TTL 600.
pub fn cname(owner: &str, target: &str) -> Record {
    rec(owner, 600, RType::CNAME, name_rdata(target))
}

/// A DNAME record, TTL 700.
pub fn dname(owner: &str, target: &str) -> Record {
    rec(owner, 700, RType::DNAME, name_rdata(target))
}

/// A TXT record of one string, TTL 300.
pub fn txt(owner: &str, text: &str) -> Record {
    let mut v = vec![text.len() as u8];
    v.extend_from_slice(text.as_bytes());
    rec(owner, 300, RType::TXT, v.into_boxed_slice())
}

/// An MX record, TTL 300.
pub fn mx(owner: &str, pref: u16, target: &str) -> Record {
    let mut v = pref.to_be_bytes().to_vec();
    n(target).write_wire(&mut v);
    rec(owner, 300, RType::MX, v.into_boxed_slice())
}

/// An SRV record (priority 1, weight 2, port 5060), TTL 300.
pub fn srv(owner: &str, target: &str) -> Record {
    let mut v = vec![0, 1, 0, 2, 0x13, 0xc4];
    n(target).write_wire(&mut v);
    rec(owner, 300, RType::SRV, v.into_boxed_slice())
}

/// The SOA fields every builder uses: `ns1.<origin>`, `hostmaster.<origin>`, refresh 3600,
/// retry 600, expire 86400.
pub fn soa_fields(origin: &str, serial: u32, minimum: u32) -> Soa {
    Soa {
        mname: n(&format!("ns1.{origin}")),
        rname: n(&format!("hostmaster.{origin}")),
        serial,
        refresh: 3600,
        retry: 600,
        expire: 86400,
        minimum,
    }
}

/// An apex SOA with serial `serial`, TTL 3600 and minimum 60.
pub fn soa(origin: &str, serial: u32) -> Record {
    rec(
        origin,
        3600,
        RType::SOA,
        soa_fields(origin, serial, 60).to_rdata(),
    )
}

/// A validated zone of `records` as they are; panics if it is not valid.
pub fn validated(origin: &str, records: Vec<Record>) -> Zone {
    validate(
        ParsedZone {
            origin: n(origin),
            records,
        },
        &Limits::default(),
    )
    .expect("valid zone")
}

/// A zone with an apex SOA (serial `serial`) and NS `ns1.<origin>`, plus `extra`.
pub fn zone(origin: &str, serial: u32, extra: Vec<Record>) -> Zone {
    let mut records = vec![soa(origin, serial), ns(origin, &format!("ns1.{origin}"))];
    records.extend(extra);
    validated(origin, records)
}
