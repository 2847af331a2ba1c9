//! Zone transfer logic without the wire: IXFR deltas between served generations (RFC 1995), the
//! choice between an incremental and a full answer, and how a transfer splits into messages.
//!
//! # Design
//!
//! A server keeps, per zone, the [`Delta`]s between the generations it served, oldest first: each
//! one is what RFC 1995 §4 calls a difference sequence, the old SOA, the records deleted, the
//! new SOA and the records added. [`ixfr_reply`] picks the deltas that lead from a client's
//! serial to the current one, or says a full transfer is needed because the history does not
//! reach back that far. [`history_start`] bounds the history: beyond a number of deltas, or
//! once the deltas hold more records than the zone itself, a full transfer is cheaper.
//!
//! Messages are cut by [`split`] on the uncompressed wire size of their records, so that no
//! message can exceed the budget whatever compression achieves.

use std::ops::Range;

use crate::dns::record::{RType, Record};
use crate::zone::Zone;
use crate::zone::delta::ZoneDelta;
use crate::zone::serial::serial_gt;

/// The changes from one served generation of a zone to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    /// The apex SOA of the older generation.
    pub old_soa: Record,
    /// The apex SOA of the newer generation.
    pub new_soa: Record,
    /// Records of the older generation that the newer one lacks, SOA excluded.
    pub removed: Vec<Record>,
    /// Records of the newer generation that the older one lacks, SOA excluded.
    pub added: Vec<Record>,
}

impl Delta {
    /// The records that leave and come between `old` and `new`, two generations of one zone. A
    /// record whose TTL changed leaves and comes back.
    pub fn between(old: &Zone, new: &Zone) -> Delta {
        Delta::of_change(old, new, ZoneDelta::between(old, new))
    }

    /// [`Delta::between`] when the change from `old` to `new` is at hand: `new` is `old` with
    /// `change` applied.
    pub fn of_change(old: &Zone, new: &Zone, change: ZoneDelta) -> Delta {
        let is_soa = |r: &Record| r.rtype == RType::SOA && r.owner == *old.origin();
        let (mut removed, mut added) = change.into_parts();
        removed.retain(|r| !is_soa(r));
        added.retain(|r| !is_soa(r));
        Delta {
            old_soa: old.soa_record().clone(),
            new_soa: new.soa_record().clone(),
            removed,
            added,
        }
    }

    pub fn from_serial(&self) -> u32 {
        serial_of(&self.old_soa)
    }

    pub fn to_serial(&self) -> u32 {
        serial_of(&self.new_soa)
    }

    /// Records this delta puts on the wire: both SOAs and every change.
    pub fn len(&self) -> usize {
        2 + self.removed.len() + self.added.len()
    }

    /// Never true: a delta always carries its two SOAs.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The difference sequence in RFC 1995 §4 order: old SOA, deletions, new SOA, additions.
    pub fn sequence(&self) -> impl Iterator<Item = &Record> {
        std::iter::once(&self.old_soa)
            .chain(&self.removed)
            .chain(std::iter::once(&self.new_soa))
            .chain(&self.added)
    }
}

fn serial_of(soa: &Record) -> u32 {
    soa.soa().expect("a delta's SOA is well formed").serial
}

/// How to answer an IXFR whose client holds `client` while `current` is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IxfrReply {
    /// The client is up to date (or ahead): answer with the current SOA alone (RFC 1995 §2).
    UpToDate,
    /// Send these deltas, in order, between two copies of the current SOA.
    Incremental(Range<usize>),
    /// The history does not reach the client's serial: send the whole zone (RFC 1995 §4).
    Full,
}

/// Chooses the answer to an IXFR from a history of `steps`, each the (from, to) serials of a
/// [`Delta`], oldest first; each step starts where the previous ended and the last ends at
/// `current`.
pub fn ixfr_reply(steps: &[(u32, u32)], current: u32, client: u32) -> IxfrReply {
    if client == current || serial_gt(client, current) {
        return IxfrReply::UpToDate;
    }
    let Some(start) = steps.iter().position(|(from, _)| *from == client) else {
        return IxfrReply::Full;
    };
    let chained = steps[start..].windows(2).all(|w| w[0].1 == w[1].0);
    let reaches = steps.last().is_some_and(|(_, to)| *to == current);
    if chained && reaches {
        IxfrReply::Incremental(start..steps.len())
    } else {
        IxfrReply::Full
    }
}

/// Which steps of a history to keep: the index of the first kept one, given each step's
/// [`Delta::len`], oldest first. The oldest are dropped until at most `deltas_max` remain and
/// together they hold no more than `records_max` records (usually the zone's size: past that a
/// full transfer is smaller).
pub fn history_start(lens: &[usize], deltas_max: usize, records_max: usize) -> usize {
    let mut total: usize = lens.iter().sum();
    let mut start = 0;
    while start < lens.len() && (lens.len() - start > deltas_max || total > records_max) {
        total -= lens[start];
        start += 1;
    }
    start
}

/// The uncompressed wire size of a record: owner, type, class, TTL, length and data.
pub fn record_wire_len(r: &Record) -> usize {
    r.owner.wire_len() + 10 + r.rdata.len()
}

/// Cuts a sequence of records, given by their wire sizes, into consecutive messages of at most
/// `budget` octets of records each. A record larger than the budget gets a message alone.
pub fn split(sizes: impl IntoIterator<Item = usize>, budget: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut used, mut i) = (0, 0, 0);
    for size in sizes {
        if i > start && used + size > budget {
            out.push(start..i);
            (start, used) = (i, 0);
        }
        used += size;
        i += 1;
    }
    if i > start {
        out.push(start..i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::record::Soa;
    use crate::testkit::n;
    use crate::zone::serial::with_serial;
    use crate::zone::validate::validate;
    use crate::{Limits, ParsedZone};

    fn a(owner: &str, last: u8, ttl: u32) -> Record {
        Record {
            owner: n(owner),
            rtype: RType::A,
            ttl,
            rdata: Box::new([192, 0, 2, last]).into(),
        }
    }

    fn zone(serial: u32, extra: Vec<Record>) -> Zone {
        let soa = Soa {
            mname: n("ns.other."),
            rname: n("h.other."),
            serial,
            refresh: 1,
            retry: 1,
            expire: 1,
            minimum: 1,
        };
        let mut ns = Vec::new();
        n("ns.other.").write_wire(&mut ns);
        let mut records = vec![
            Record {
                owner: n("example."),
                rtype: RType::SOA,
                ttl: 60,
                rdata: soa.to_rdata(),
            },
            Record {
                owner: n("example."),
                rtype: RType::NS,
                ttl: 60,
                rdata: ns.into(),
            },
        ];
        records.extend(extra);
        validate(
            ParsedZone {
                origin: n("example."),
                records,
            },
            &Limits::default(),
        )
        .unwrap()
    }

    #[test]
    fn delta_holds_only_the_changes() {
        let old = zone(1, vec![a("a.example.", 1, 60), a("b.example.", 2, 60)]);
        let new = zone(
            2,
            vec![
                a("b.example.", 2, 60),
                a("c.example.", 3, 60),
                a("a.example.", 1, 120),
            ],
        );
        let d = Delta::between(&old, &new);
        assert_eq!((d.from_serial(), d.to_serial()), (1, 2));
        assert_eq!(d.removed, vec![a("a.example.", 1, 60)]);
        assert_eq!(
            d.added,
            vec![a("a.example.", 1, 120), a("c.example.", 3, 60)]
        );
        assert_eq!(d.len(), 5);
        let seq: Vec<RType> = d.sequence().map(|r| r.rtype).collect();
        assert_eq!(
            seq,
            vec![RType::SOA, RType::A, RType::SOA, RType::A, RType::A]
        );
        // Only the serial changed: the delta is the two SOAs.
        let same = Delta::between(&new, &with_serial(new.clone(), 3));
        assert!(same.removed.is_empty() && same.added.is_empty());
        assert_eq!(same.len(), 2);
    }

    #[test]
    fn applying_the_deltas_gives_the_new_zone() {
        let old = zone(1, (0..50).map(|i| a("x.example.", i, 60)).collect());
        let new = zone(9, (25..80).map(|i| a("x.example.", i, 60)).collect());
        let d = Delta::between(&old, &new);
        let mut records: Vec<Record> = old.records().to_vec();
        records.retain(|r| !d.removed.contains(r) && *r != d.old_soa);
        records.extend(d.added.iter().cloned());
        records.push(d.new_soa.clone());
        records.sort_by(Record::canonical_cmp);
        assert_eq!(*new.records(), records);
    }

    fn steps(serials: &[u32]) -> Vec<(u32, u32)> {
        serials.windows(2).map(|w| (w[0], w[1])).collect()
    }

    #[test]
    fn ixfr_reply_picks_the_deltas_from_the_client_serial() {
        let history = steps(&[3, 4, 7, 8]);
        assert_eq!(ixfr_reply(&history, 8, 3), IxfrReply::Incremental(0..3));
        assert_eq!(ixfr_reply(&history, 8, 7), IxfrReply::Incremental(2..3));
        assert_eq!(ixfr_reply(&history, 8, 8), IxfrReply::UpToDate);
        assert_eq!(ixfr_reply(&history, 8, 9), IxfrReply::UpToDate);
        assert_eq!(ixfr_reply(&history, 8, 2), IxfrReply::Full);
        assert_eq!(ixfr_reply(&history, 8, 5), IxfrReply::Full);
        assert_eq!(ixfr_reply(&[], 8, 7), IxfrReply::Full);
        // History that does not end at the current serial is not used.
        assert_eq!(ixfr_reply(&history, 10, 3), IxfrReply::Full);
        // A gap in the history is not crossed.
        assert_eq!(ixfr_reply(&[(1, 2), (3, 4)], 4, 1), IxfrReply::Full);
        // Serials wrap around.
        let history = steps(&[u32::MAX - 1, u32::MAX, 0, 1]);
        assert_eq!(
            ixfr_reply(&history, 1, u32::MAX - 1),
            IxfrReply::Incremental(0..3)
        );
        assert_eq!(
            ixfr_reply(&history, 1, u32::MAX),
            IxfrReply::Incremental(1..3)
        );
    }

    #[test]
    fn history_is_bounded_by_deltas_and_records() {
        assert_eq!(history_start(&[2, 2, 2, 2], 2, usize::MAX), 2);
        assert_eq!(history_start(&[2, 2, 2, 2], 10, 5), 2);
        assert_eq!(history_start(&[2, 2, 2, 2], 10, 8), 0);
        assert_eq!(history_start(&[9], 10, 8), 1);
        assert_eq!(history_start(&[], 10, 8), 0);
    }

    #[test]
    fn split_respects_the_budget() {
        assert_eq!(split([10, 10, 10, 10], 25), vec![0..2, 2..4]);
        assert_eq!(split([10, 30, 10], 25), vec![0..1, 1..2, 2..3]);
        assert_eq!(split([5; 10], 100), vec![0..10]);
        assert!(split([], 100).is_empty());
        let sizes: Vec<usize> = (0..1000).map(|i| 20 + i % 37).collect();
        let parts = split(sizes.iter().copied(), 512);
        assert_eq!(parts.first().unwrap().start, 0);
        assert_eq!(parts.last().unwrap().end, 1000);
        for w in parts.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        for p in &parts {
            assert!(sizes[p.clone()].iter().sum::<usize>() <= 512);
        }
    }
}
