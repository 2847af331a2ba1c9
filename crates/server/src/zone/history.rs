//! IXFR history: the chain of deltas a served zone keeps from older served serials to its own,
//! and the seed that folds earlier published generations into a first install's history.

use std::sync::Arc;

use zonegate_core::gate::Generation;
use zonegate_core::lookup::ZoneIndex;
use zonegate_core::xfr::{Delta, history_start, record_wire_len};
use zonegate_core::zone::delta::ZoneDelta;
use zonegate_core::zone::serial::{next_serial, with_serial};
use zonegate_core::{Name, Record, Zone};

use crate::options::ZoneOptions;

/// One step of IXFR history: the difference sequence from serial `from` to serial `to`
/// (RFC 1995 §4), in the core's form: a transfer converts each message's records to hickory's
/// form when it builds the message (280 octets a record there against the core's 48 and its
/// rdata, and a history may hold as many records as the zone).
#[derive(Debug)]
pub(crate) struct HistoryStep {
    pub(crate) from: u32,
    pub(crate) to: u32,
    /// Old SOA, deletions, new SOA, additions.
    pub(crate) records: Vec<Record>,
    /// The uncompressed wire size of each of `records`.
    pub(crate) sizes: Vec<usize>,
}

impl HistoryStep {
    fn new(delta: &Delta) -> Self {
        HistoryStep {
            from: delta.from_serial(),
            to: delta.to_serial(),
            records: delta.sequence().cloned().collect(),
            sizes: delta.sequence().map(record_wire_len).collect(),
        }
    }
}

/// What a new served zone is built against: the zone content it replaces, with that content's
/// served serial and IXFR history.
pub(super) struct Base<'a> {
    pub(super) zone: &'a Zone,
    /// The lookup index of `zone`, when it is served (a new index is patched from it).
    pub(super) index: Option<&'a ZoneIndex>,
    pub(super) serial: u32,
    pub(super) history: &'a [Arc<HistoryStep>],
}

/// An earlier generation that is only the base of another's history: its content, serial and
/// history.
pub(super) struct SeedZone {
    zone: Zone,
    serial: u32,
    history: Vec<Arc<HistoryStep>>,
}

impl SeedZone {
    pub(super) fn as_base(&self) -> Base<'_> {
        Base {
            zone: &self.zone,
            index: None,
            serial: self.serial,
            history: &self.history,
        }
    }
}

/// `history` extended with the delta from `previous` to `zone` (`change`, when the caller has
/// it), and trimmed to the bounds.
pub(super) fn extend_history(
    previous: Option<&Base<'_>>,
    zone: &Zone,
    change: Option<&ZoneDelta>,
    opts: &ZoneOptions,
) -> Vec<Arc<HistoryStep>> {
    let mut history = Vec::new();
    if let Some(prev) = previous {
        history.extend(prev.history.iter().cloned());
        let delta = match change {
            Some(change) => Delta::of_change(prev.zone, zone, change.clone()),
            None => Delta::between(prev.zone, zone),
        };
        history.push(Arc::new(HistoryStep::new(&delta)));
    }
    let lens: Vec<usize> = history.iter().map(|s| s.records.len()).collect();
    history.drain(..history_start(&lens, opts.history_deltas_max, zone.len()));
    history
}

/// Earlier published generations of one zone, folded one at a time, oldest first, into the
/// IXFR history a server's first install of the zone starts from (see
/// [`Catalog::history_seed`]). It holds one generation's content at a time however many are
/// added, and builds only what the history needs: no lookup index, no prepared answers.
pub struct HistorySeed {
    pub(super) origin: Name,
    pub(super) opts: ZoneOptions,
    /// The newest generation added, with the history leading up to it.
    pub(super) newest: Option<(Generation, SeedZone)>,
}

impl std::fmt::Debug for HistorySeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HistorySeed({} up to {:?})",
            self.origin,
            self.newest.as_ref().map(|(g, _)| *g)
        )
    }
}

impl HistorySeed {
    /// Adds `zone` at `generation` as the newest generation, served with the zone's own SOA
    /// serial (the caller gives it the serial stored with the generation at publish; one that
    /// would not grow is raised, as an install would). A generation not newer than the newest
    /// one added, or of another zone, is ignored.
    pub fn push(&mut self, generation: Generation, zone: Zone) {
        if *zone.origin() != self.origin
            || self.newest.as_ref().is_some_and(|(g, _)| *g >= generation)
        {
            return;
        }
        let previous = self.newest.take().map(|(_, v)| v);
        let serial = next_serial(previous.as_ref().map(|v| v.serial), zone.soa().serial);
        let zone = with_serial(zone, serial);
        let history = extend_history(
            previous.as_ref().map(SeedZone::as_base).as_ref(),
            &zone,
            None,
            &self.opts,
        );
        self.newest = Some((
            generation,
            SeedZone {
                zone,
                serial,
                history,
            },
        ));
    }
}
