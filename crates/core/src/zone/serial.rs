//! SOA serials: the number secondaries compare to decide whether to transfer a zone.
//!
//! # Design
//!
//! A serial is not a generation. The generation is the store's count of plans; the serial is
//! what the served SOA says, in RFC 1982 sequence-space arithmetic, where numbers wrap around
//! at 2^32 and `a > b` means "a is less than 2^31 ahead of b".
//!
//! The serial is decided ONCE, when a generation is published, inside the store's
//! compare-and-swap, and stored with the generation ([`SerialRequest::decide`], over the
//! serial of the generation it replaces). Every server on every host, and after every restart,
//! then serves that stored serial for that generation; a target only guards that what it
//! serves never goes back ([`next_serial`] over what it served before), which with stored
//! serials never changes anything in ordinary operation. The [`SerialPolicy`] says what the
//! publishing step proposes (the policies of Knot's `serial-policy` and BIND's
//! `serial-update-method`, plus the zone file's own serial):
//!
//! - `file` (the default): the zone file's serial. Taking over a zone whose secondaries hold
//!   2024010101 serves 2024010101; publishing a file that still says 2024010101 serves
//!   2024010102 (the rule below), as BIND, NSD and Knot users expect.
//! - `increment`: the generation itself, modulo 2^32 (what every server derived before serials
//!   were stored, so a zone keeps its numbers across the upgrade).
//! - `unixtime`: the publish time in seconds since 1970.
//! - `dateserial`: `YYYYMMDDnn` of the publish day (UTC), `nn` counting from 00.
//!
//! Whatever the candidate, [`next_serial`] never lets the serial go backwards or stand still
//! against the serial published before: if the candidate is not greater (RFC 1982 §3.2), the
//! previous serial plus one is used instead (RFC 1982 §3.1 addition). So two publications in
//! one second, one day, or of one unchanged file still get two serials.
//!
//! The time is an argument: the core never reads the clock.

use serde::{Deserialize, Serialize};

use crate::dns::record::{RType, Record, Soa};
use crate::gate::Generation;
use crate::zone::Zone;

/// How a published generation's SOA serial is chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SerialPolicy {
    /// The zone file's own serial (when it is newer than the published one).
    #[default]
    File,
    /// The generation, modulo 2^32.
    Increment,
    /// Seconds since 1970 at install time, modulo 2^32.
    UnixTime,
    /// `YYYYMMDDnn` of the install day in UTC.
    DateSerial,
}

impl SerialPolicy {
    /// The policy's name in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            SerialPolicy::File => "file",
            SerialPolicy::Increment => "increment",
            SerialPolicy::UnixTime => "unixtime",
            SerialPolicy::DateSerial => "dateserial",
        }
    }

    /// Parses `increment`, `unixtime` or `dateserial`.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "file" => SerialPolicy::File,
            "increment" => SerialPolicy::Increment,
            "unixtime" => SerialPolicy::UnixTime,
            "dateserial" => SerialPolicy::DateSerial,
            _ => return None,
        })
    }

    /// The serial this policy proposes for `generation`, whose zone file says `file_serial`,
    /// published at `now_s` (unix seconds), before [`next_serial`] makes it monotonic.
    pub fn candidate(self, file_serial: u32, generation: Generation, now_s: u64) -> u32 {
        match self {
            SerialPolicy::File => file_serial,
            SerialPolicy::Increment => generation.0 as u32,
            SerialPolicy::UnixTime => now_s as u32,
            SerialPolicy::DateSerial => {
                let (y, m, d) = civil_date(now_s / 86_400);
                // Years past 4293 do not fit; they wrap, and `next_serial` keeps order.
                ((y * 10_000 + m * 100 + d) as u32).wrapping_mul(100)
            }
        }
    }
}

/// What the publishing step hands the store's compare-and-swap so that the store decides the
/// serial in the same atomic step as the pointer write, from the serial published before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SerialRequest {
    pub policy: SerialPolicy,
    /// The serial of the plan's own apex SOA (what the zone file said).
    pub file_serial: u32,
    /// The publish time, unix seconds.
    pub now_s: u64,
}

impl SerialRequest {
    /// The serial `generation` is published with, after `previous` (the serial of the
    /// generation it replaces; `None` for a zone's first publication). Always greater than
    /// `previous` in RFC 1982 terms.
    pub fn decide(self, previous: Option<u32>, generation: Generation) -> u32 {
        next_serial(
            previous,
            self.policy
                .candidate(self.file_serial, generation, self.now_s),
        )
    }
}

/// RFC 1982 §3.2: `a` is greater than `b` in sequence space. Two serials exactly 2^31 apart
/// are incomparable; this says "not greater" for them.
pub fn serial_gt(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 1 << 31
}

/// The serial to serve: `candidate` if it is greater than `previous` (or there is none),
/// otherwise `previous + 1`. The result is always greater than `previous`.
pub fn next_serial(previous: Option<u32>, candidate: u32) -> u32 {
    match previous {
        Some(p) if !serial_gt(candidate, p) => p.wrapping_add(1),
        _ => candidate,
    }
}

/// `zone` with its apex SOA's serial replaced. Only the SOA's data changes, so the canonical
/// order and every validity rule still hold.
pub fn with_serial(zone: Zone, serial: u32) -> Zone {
    let index = zone
        .records
        .iter()
        .position(|r| r.rtype == RType::SOA && r.owner == zone.origin)
        .expect("a validated zone has exactly one apex SOA");
    let soa = &zone.records[index];
    let mut fields: Soa = soa.soa().expect("a validated zone's SOA is well formed");
    if fields.serial == serial {
        // Unchanged: the records stay shared with every clone.
        return zone;
    }
    fields.serial = serial;
    let record = Record {
        rdata: fields.to_rdata(),
        ..soa.clone()
    };
    zone.replaced(index, record)
}

/// The proleptic Gregorian date (year, month, day) of a day counted from 1970-01-01.
fn civil_date(days: u64) -> (u64, u64, u64) {
    // Days are shifted to start on 0000-03-01, so that the leap day ends a year; then 400-year
    // eras of 146097 days, 100-year centuries of 36524, 4-year cycles of 1461.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::name::Name;
    use crate::zone::validate::validate;
    use crate::{Limits, ParsedZone};

    #[test]
    fn rfc1982_comparison() {
        assert!(serial_gt(2, 1));
        assert!(!serial_gt(1, 2));
        assert!(!serial_gt(5, 5));
        // Wrapping: 0 follows u32::MAX, and 100 is ahead of 4294967200.
        assert!(serial_gt(0, u32::MAX));
        assert!(serial_gt(100, 4_294_967_200));
        assert!(!serial_gt(4_294_967_200, 100));
        // Exactly 2^31 apart: undefined, and neither is "greater".
        assert!(!serial_gt(1 << 31, 0));
        assert!(!serial_gt(0, 1 << 31));
        assert!(serial_gt((1 << 31) - 1, 0));
    }

    #[test]
    fn next_serial_never_goes_back_or_stands_still() {
        assert_eq!(next_serial(None, 7), 7);
        assert_eq!(next_serial(Some(7), 9), 9);
        assert_eq!(next_serial(Some(7), 7), 8);
        assert_eq!(next_serial(Some(2_024_010_101), 3), 2_024_010_102);
        assert_eq!(next_serial(Some(u32::MAX), 5), 5);
        assert_eq!(next_serial(Some(u32::MAX), u32::MAX), 0);
        // Any sequence of candidates gives a strictly increasing sequence in RFC 1982 terms.
        let mut prev = None;
        let mut x: u32 = 12345;
        for _ in 0..10_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let s = next_serial(prev, x);
            if let Some(p) = prev {
                assert!(serial_gt(s, p), "{s} after {p}");
            }
            prev = Some(s);
        }
    }

    #[test]
    fn candidates_of_each_policy() {
        assert_eq!(SerialPolicy::Increment.candidate(7, Generation(42), 0), 42);
        assert_eq!(
            SerialPolicy::Increment.candidate(7, Generation((1 << 32) + 3), 0),
            3
        );
        assert_eq!(
            SerialPolicy::UnixTime.candidate(7, Generation(1), 1_700_000_000),
            1_700_000_000
        );
        // 2023-11-14T22:13:20Z.
        assert_eq!(
            SerialPolicy::DateSerial.candidate(7, Generation(1), 1_700_000_000),
            2_023_111_400
        );
        assert_eq!(
            SerialPolicy::DateSerial.candidate(7, Generation(1), 0),
            1_970_010_100
        );
        // A leap day.
        assert_eq!(
            SerialPolicy::DateSerial.candidate(7, Generation(1), 951_782_400),
            2_000_022_900
        );
        // Two publications on one day: 00, then 01.
        let day = SerialPolicy::DateSerial.candidate(7, Generation(1), 1_700_000_000);
        let first = next_serial(Some(2_023_111_300), day);
        assert_eq!(first, 2_023_111_400);
        assert_eq!(next_serial(Some(first), day), 2_023_111_401);
        assert_eq!(SerialPolicy::File.candidate(7, Generation(42), 9), 7);
        for p in [
            SerialPolicy::File,
            SerialPolicy::Increment,
            SerialPolicy::UnixTime,
            SerialPolicy::DateSerial,
        ] {
            assert_eq!(SerialPolicy::parse(p.as_str()), Some(p));
        }
        assert_eq!(SerialPolicy::parse("keep"), None);
    }

    #[test]
    fn the_file_serial_when_newer_else_the_published_one_plus_one() {
        let file = |file_serial| SerialRequest {
            policy: SerialPolicy::File,
            file_serial,
            now_s: 0,
        };
        // Taking over a zone: the file's serial is served as it is.
        assert_eq!(
            file(2_024_010_101).decide(None, Generation(1)),
            2_024_010_101
        );
        // The same file again: one more.
        assert_eq!(
            file(2_024_010_101).decide(Some(2_024_010_101), Generation(2)),
            2_024_010_102
        );
        // An older file serial never takes the serial back.
        assert_eq!(
            file(5).decide(Some(2_024_010_102), Generation(3)),
            2_024_010_103
        );
        // A newer one is taken.
        assert_eq!(
            file(2_024_020_100).decide(Some(2_024_010_103), Generation(4)),
            2_024_020_100
        );
        let increment = SerialRequest {
            policy: SerialPolicy::Increment,
            ..file(2_024_010_101)
        };
        assert_eq!(increment.decide(Some(3), Generation(4)), 4);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(59), (1970, 3, 1));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
        assert_eq!(civil_date(19_722), (2023, 12, 31));
        assert_eq!(civil_date(19_723), (2024, 1, 1));
    }

    #[test]
    fn with_serial_replaces_only_the_serial() {
        let n = |s: &str| Name::parse(s).unwrap();
        let soa = Soa {
            mname: n("ns.example."),
            rname: n("h.example."),
            serial: 2_024_010_101,
            refresh: 1,
            retry: 2,
            expire: 3,
            minimum: 4,
        };
        let mut ns = Vec::new();
        n("ns.other.").write_wire(&mut ns);
        let zone = validate(
            ParsedZone {
                origin: n("example."),
                records: vec![
                    Record {
                        owner: n("example."),
                        rtype: RType::NS,
                        ttl: 60,
                        rdata: ns.into(),
                    },
                    Record {
                        owner: n("example."),
                        rtype: RType::SOA,
                        ttl: 60,
                        rdata: soa.to_rdata(),
                    },
                ],
            },
            &Limits::default(),
        )
        .unwrap();
        let changed = with_serial(zone.clone(), 3);
        assert_eq!(changed.soa(), Soa { serial: 3, ..soa });
        assert_eq!(changed.len(), zone.len());
        // Still what validation would build from the same records.
        let again = validate(
            ParsedZone {
                origin: n("example."),
                records: changed.records().to_vec(),
            },
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(again, changed);
    }
}
