//! One served zone: one generation's content with its lookup index, its records in hickory's
//! form (made on first use, a run at a time), its IXFR history and its prepared answers.

use std::sync::{Arc, LazyLock, OnceLock};

use hickory_proto::rr::Record as HRecord;
use zonegate_core::gate::Generation;
use zonegate_core::lookup::{Item, Resolution, ZoneIndex};
use zonegate_core::zone::delta::ZoneDelta;
use zonegate_core::zone::serial::with_serial;
use zonegate_core::{Name, Zone};

use crate::convert::{to_hickory, to_hickory_name};
use crate::options::ZoneOptions;
use crate::zone::history::{Base, HistoryStep, extend_history};

mod affected;
pub(crate) mod prepared;

use prepared::FastZone;

/// One zone at one generation, ready to answer from.
pub struct ServedZone {
    generation: Generation,
    /// The served SOA serial: the one decided when the generation was published.
    serial: u32,
    index: ZoneIndex,
    /// `index.records()` in hickory's form, same order, in runs of [`HICKORY_RUN`] records,
    /// each converted the first time one of its records is needed by the general path (a
    /// transfer and the preparation of the fast answers convert their own and keep none, see
    /// [`owned_sections`]), so that an install does not wait for a million conversions before
    /// it can swap, and a prepared zone does not hold them all.
    records: Box<[OnceLock<Box<[HRecord]>>]>,
    /// `index.negative_soa()` in hickory's form.
    negative_soa: Option<HRecord>,
    /// Deltas from older served serials up to this one, oldest first, forming a chain.
    history: Vec<Arc<HistoryStep>>,
    /// Answers prepared in wire form for the UDP hot path, set once after the zone is
    /// swapped in; until then every query takes the general path, which answers the same.
    fast: OnceLock<FastZone>,
    /// The records that lead to other names, for preparing the next generation's answers over
    /// these ([`affected::Pointers`]): made when first needed, or from the previous
    /// generation's and the change.
    pointers: OnceLock<affected::Pointers>,
    origin_wire_len: usize,
    /// The apex SOA serial of the content as published (before the served serial), when the
    /// installer gave the content that way: then the content can be given back as published
    /// ([`ServedZone::published_content`]), the base of an incremental read.
    published_serial: Option<u32>,
}

/// Records converted to hickory's form together, on first use.
const HICKORY_RUN: usize = 64;

/// The prepared answers of a zone whose own are not built yet: none, so the general path
/// answers everything.
static NO_FAST: LazyLock<FastZone> = LazyLock::new(FastZone::default);

impl ServedZone {
    pub(in crate::zone) fn as_base(&self) -> Base<'_> {
        Base {
            zone: self.index.zone(),
            index: Some(&self.index),
            serial: self.serial,
            history: &self.history,
        }
    }
}

impl std::fmt::Debug for ServedZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ServedZone({} at {}, serial {})",
            self.index.origin(),
            self.generation,
            self.serial
        )
    }
}

impl ServedZone {
    /// Serves `zone` at `generation` with SOA serial `serial`, after `previous` (whose history
    /// it extends). The answers for the prepared path are built later, by
    /// [`ServedZone::prepare`], once the zone is being served.
    pub(in crate::zone) fn build(
        generation: Generation,
        zone: Zone,
        serial: u32,
        previous: Option<&Base<'_>>,
        opts: &ZoneOptions,
    ) -> Self {
        let zone = with_serial(zone, serial);
        // One merge pass finds the change; the history and the index are made from it.
        let change = previous.map(|p| ZoneDelta::between(p.zone, &zone));
        let history = extend_history(previous, &zone, change.as_ref(), opts);
        let index = match (previous.and_then(|p| p.index), &change) {
            (Some(index), Some(change)) => index.updated(zone, change),
            _ => ZoneIndex::new(zone),
        };
        let runs = index.records().len().div_ceil(HICKORY_RUN);
        let records = (0..runs).map(|_| OnceLock::new()).collect();
        let negative_soa = index.negative_soa().map(to_hickory);
        let origin_wire_len = index.origin().wire_len();
        ServedZone {
            generation,
            serial,
            index,
            records,
            negative_soa,
            history,
            fast: OnceLock::new(),
            pointers: OnceLock::new(),
            origin_wire_len,
            published_serial: None,
        }
    }

    /// This zone, its content known to be the published content with apex SOA serial
    /// `published_serial` (see [`ServedZone::published_content`]).
    pub(in crate::zone) fn with_published_serial(mut self, published_serial: Option<u32>) -> Self {
        self.published_serial = published_serial;
        self
    }

    /// The content as published (the served serial put back to the published one; a copy),
    /// if the installer gave it as published.
    pub(crate) fn published_content(&self) -> Option<Zone> {
        let serial = self.published_serial?;
        Some(with_serial(self.index.zone().clone(), serial))
    }

    /// Builds the prepared answers, if they are not built yet. This is the expensive part of
    /// an install; the zone answers correctly (by the general path) before it is done.
    pub(in crate::zone) fn prepare(&self) {
        self.fast.get_or_init(|| FastZone::build(self));
    }

    /// [`ServedZone::prepare`] for a zone that replaced `previous`: only the answers the
    /// change may touch are prepared again, over `previous`'s (see [`FastZone::build_after`]).
    pub(in crate::zone) fn prepare_after(&self, previous: &ServedZone) {
        self.fast
            .get_or_init(|| FastZone::build_after(self, previous));
    }

    /// Prepares the answers before the swap, so that the zone is swapped in with them: over
    /// `previous`'s if that is cheap (an overlay of the names the change touched, see
    /// [`FastZone::incremental`]), else in full when `previous` is prepared. A zone swapped in
    /// unprepared answers everything by the general path, at a fraction of the prepared path's
    /// rate, until its answers are built; while `previous` answers by its prepared path it
    /// stays in, so a large change costs time to be served, not answering throughput. A
    /// zone whose predecessor is not prepared either is left to
    /// [`ServedZone::prepare_after`], after the swap.
    pub(in crate::zone) fn prepare_before_swap(&self, previous: &ServedZone) {
        if let Some(fast) = FastZone::incremental(self, previous) {
            let _ = self.fast.set(fast);
        } else if previous.is_prepared() {
            self.prepare();
        }
    }

    /// True once the prepared answers are built.
    pub fn is_prepared(&self) -> bool {
        self.fast.get().is_some()
    }

    /// The run of hickory records that holds record `i`, converted on first use.
    fn run_of(&self, i: usize) -> &[HRecord] {
        let run = i / HICKORY_RUN;
        self.records[run].get_or_init(|| {
            let all = self.index.records();
            let end = ((run + 1) * HICKORY_RUN).min(all.len());
            all.range(run * HICKORY_RUN..end).map(to_hickory).collect()
        })
    }

    /// The records of this generation that lead to other names, made from every record the
    /// first time they are asked for.
    fn pointers(&self) -> &affected::Pointers {
        self.pointers
            .get_or_init(|| affected::Pointers::of(self.index.records().iter()))
    }

    /// The prepared answers; none (everything goes to the general path) until they are built.
    pub(crate) fn fast(&self) -> &FastZone {
        self.fast.get().unwrap_or(&NO_FAST)
    }

    /// The length of the origin's wire form.
    pub(crate) fn origin_wire_len(&self) -> usize {
        self.origin_wire_len
    }

    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// The SOA serial served for this generation.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    pub fn origin(&self) -> &Name {
        self.index.origin()
    }

    pub fn index(&self) -> &ZoneIndex {
        &self.index
    }

    /// The serials IXFR can start from: the oldest serial the history reaches back to, then
    /// every later one, ending with this one's.
    pub fn history_serials(&self) -> Vec<u32> {
        let mut out: Vec<u32> = self.history.iter().map(|s| s.from).collect();
        out.push(self.serial);
        out
    }

    /// The hickory form of `index().records()[i]`.
    pub(crate) fn hickory_record(&self, i: usize) -> &HRecord {
        &self.run_of(i)[i % HICKORY_RUN]
    }

    /// The hickory form of every record of `index().records()`, in order.
    #[cfg(test)]
    pub(crate) fn hickory_records(&self) -> impl Iterator<Item = &HRecord> + '_ {
        (0..self.records.len()).flat_map(move |run| self.run_of(run * HICKORY_RUN).iter())
    }

    pub(crate) fn hickory_negative_soa(&self) -> Option<&HRecord> {
        self.negative_soa.as_ref()
    }

    pub(crate) fn history(&self) -> &[Arc<HistoryStep>] {
        &self.history
    }

    /// Gives the zone content back, for a rebuild.
    pub(in crate::zone) fn into_zone(self) -> Zone {
        self.index.into_zone()
    }
}

/// The records of `res` that are not stored as such (renamed by a wildcard, synthesised from
/// a DNAME), converted, in the order [`sections`] takes them.
pub(crate) fn made_records(zone: &ServedZone, res: &Resolution) -> Vec<HRecord> {
    let mut made: Vec<HRecord> = Vec::new();
    for item in res
        .answer
        .iter()
        .chain(&res.authority)
        .chain(&res.additional)
    {
        match item {
            Item::Wildcard { index, owner } => {
                let mut r = zone.hickory_record(*index).clone();
                r.name = to_hickory_name(owner);
                made.push(r);
            }
            Item::Synthesized(r) => made.push(to_hickory(r)),
            Item::Stored(_) | Item::NegativeSoa => {}
        }
    }
    made
}

/// The answer, authority and additional sections of `res` converted afresh, owned: what the
/// preparation of the fast answers encodes. Unlike [`sections`] it leaves the zone's runs of
/// hickory records alone, so a prepared zone does not hold every record twice (the core's
/// form and hickory's, which at 1M records was more than half the server's memory); the
/// records are the same, so the encoded answers are too.
pub(crate) fn owned_sections(zone: &ServedZone, res: &Resolution) -> [Vec<HRecord>; 3] {
    let records = zone.index.records();
    let one = |item: &Item| -> Option<HRecord> {
        match item {
            Item::Stored(i) => Some(to_hickory(&records[*i])),
            Item::NegativeSoa => zone.negative_soa.clone(),
            Item::Wildcard { index, owner } => {
                let mut r = to_hickory(&records[*index]);
                r.name = to_hickory_name(owner);
                Some(r)
            }
            Item::Synthesized(r) => Some(to_hickory(r)),
        }
    };
    [&res.answer, &res.authority, &res.additional]
        .map(|items| items.iter().filter_map(one).collect())
}

/// The answer, authority and additional sections of `res`: records converted on first use
/// and kept, and `made` (from [`made_records`]) for the rest.
pub(crate) fn sections<'z>(
    zone: &'z ServedZone,
    res: &Resolution,
    made: &'z [HRecord],
) -> [Vec<&'z HRecord>; 3] {
    let mut made_iter = made.iter();
    let mut refs = |items: &[Item]| -> Vec<&'z HRecord> {
        items
            .iter()
            .filter_map(|item| match item {
                Item::Stored(i) => Some(zone.hickory_record(*i)),
                Item::NegativeSoa => zone.hickory_negative_soa(),
                Item::Wildcard { .. } | Item::Synthesized(_) => made_iter.next(),
            })
            .collect()
    };
    let answers = refs(&res.answer);
    let authorities = refs(&res.authority);
    let additionals = refs(&res.additional);
    [answers, authorities, additionals]
}

#[cfg(test)]
mod tests {
    use super::*;
    use zonegate_core::RType;
    use zonegate_core::dns::record::Soa;
    use zonegate_testkit::{n, name_rdata, rec};

    use crate::zone::served::prepared::Question;

    /// The hickory records converted on demand, in runs, are the records converted one by
    /// one, in the same order, however they are first reached; and the zone answers (by the
    /// general path) before its prepared answers exist.
    #[tokio::test]
    async fn records_are_converted_on_demand_in_order() {
        let soa = Soa {
            mname: n("ns.example."),
            rname: n("h.example."),
            serial: 1,
            refresh: 1,
            retry: 1,
            expire: 1,
            minimum: 1,
        };
        let mut records = vec![
            rec("example.", 300, RType::SOA, soa.to_rdata()),
            rec("example.", 300, RType::NS, name_rdata("ns.other.")),
        ];
        for i in 0..1000u32 {
            let [_, a, b, c] = i.to_be_bytes();
            let owner = format!("h{i}.example.");
            records.push(match i % 3 {
                0 => rec(&owner, 300, RType::A, Box::new([10, a, b, c])),
                1 => rec(&owner, 300, RType::NS, name_rdata("ns.other.")),
                _ => rec(&owner, 300, RType(65280), Box::new([a, b, c])),
            });
        }
        let zone = zonegate_core::zone::validate::validate(
            zonegate_core::ParsedZone {
                origin: n("example."),
                records,
            },
            &zonegate_core::Limits::default(),
        )
        .unwrap();
        let one_by_one: Vec<HRecord> = zone.records().iter().map(to_hickory).collect();
        let built = ServedZone::build(Generation(1), zone, 1, None, &ZoneOptions::default());
        assert!(!built.is_prepared());
        let mut query = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        n("h0.example.").write_wire(&mut query);
        query.extend_from_slice(&[0, 1, 0, 1]);
        let q = Question::parse(&query).unwrap();
        let mut out = Vec::new();
        assert!(!crate::zone::served::prepared::answer(
            &built, &query, &q, &mut out
        ));
        // Reached out of order first: the last record, one in the middle, then all.
        let last = one_by_one.len() - 1;
        assert!(*built.hickory_record(last) == one_by_one[last]);
        assert!(*built.hickory_record(HICKORY_RUN + 3) == one_by_one[HICKORY_RUN + 3]);
        let all: Vec<&HRecord> = built.hickory_records().collect();
        assert_eq!(all.len(), one_by_one.len());
        for (i, (a, b)) in all.iter().zip(&one_by_one).enumerate() {
            assert!(*a == b, "record {i}");
        }
        built.prepare();
        assert!(built.is_prepared());
        // Preparing converted no run of its own: the runs are the general path's cache.
        let fresh = ServedZone::build(
            Generation(2),
            built.index().zone().clone(),
            2,
            None,
            &ZoneOptions::default(),
        );
        fresh.prepare();
        assert!(fresh.is_prepared());
        assert!(fresh.records.iter().all(|run| run.get().is_none()));
        assert!(crate::zone::served::prepared::answer(
            &built, &query, &q, &mut out
        ));
        assert_eq!(out[..2], [0x12, 0x34]);
    }
}
