//! The served zone set and its atomic replacement.
//!
//! # Design
//!
//! The whole zone set is one immutable map behind an [`ArcSwap`]. A query loads the pointer
//! once, takes the [`ServedZone`] it needs (an `Arc`), and answers from it alone, so a response
//! is wholly from one generation. A zone transfer does the same and streams from that one
//! `Arc` however long it takes, so it is a consistent snapshot even while newer generations
//! are installed.
//!
//! Installing a generation builds the new [`ServedZone`] before taking any lock: the SOA
//! serial its policy gives (see [`zonegate_core::serial`]), the lookup index, every record
//! already converted to hickory's form, and the IXFR history: the previous version's history
//! plus the delta from the previous version to this one. Then, under a mutex that only
//! installers take, it checks the held generation and swaps in a copy of the map with the new
//! zone: the "is it newer" check and the write are one step (invariant I1). If another
//! install got in between, the build is redone against the zone now held, so the history is
//! always a chain and the serial always grows. Queries never take that mutex.
//!
//! ```text
//!   install(g, zone) ──▶ serial = next_serial(held serial, policy(g, now))
//!                        zone' = zone with that serial
//!                        history = held.history + Delta(held, zone')   (trimmed)
//!                        index, hickory records
//!                    ──▶ lock; held still the one built against and older than g? swap : retry
//!                    ──▶ NOTIFY the zone's secondaries
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{Name as HName, RData, Record as HRecord, RecordType};
use hickory_proto::serialize::binary::{
    BinDecoder, BinEncodable, BinEncoder, NameEncoding, Restrict,
};
use zonegate_core::lookup::ZoneIndex;
use zonegate_core::protocol::{Generation, Target};
use zonegate_core::serial::{next_serial, with_serial};
use zonegate_core::xfr::{Delta, history_start, record_wire_len};
use zonegate_core::{Name, Record, Zone};

use crate::fast::{FastZone, Question};
use crate::notify::Notifier;
use crate::options::{ServerOptions, ZoneOptions};

/// One step of IXFR history: the difference sequence from serial `from` to serial `to`
/// (RFC 1995 §4), already in hickory's form.
#[derive(Debug)]
pub(crate) struct HistoryStep {
    pub(crate) from: u32,
    pub(crate) to: u32,
    /// Old SOA, deletions, new SOA, additions.
    pub(crate) records: Vec<HRecord>,
    /// The uncompressed wire size of each of `records`.
    pub(crate) sizes: Vec<usize>,
}

impl HistoryStep {
    fn new(delta: &Delta) -> Self {
        HistoryStep {
            from: delta.from_serial(),
            to: delta.to_serial(),
            records: delta.sequence().map(to_hickory).collect(),
            sizes: delta.sequence().map(record_wire_len).collect(),
        }
    }
}

/// One zone at one generation, ready to answer from.
pub struct ServedZone {
    generation: Generation,
    /// The served SOA serial, which the policy derived from the generation.
    serial: u32,
    index: ZoneIndex,
    /// `index.records()` in hickory's form, same order.
    records: Vec<HRecord>,
    /// `index.negative_soa()` in hickory's form.
    negative_soa: Option<HRecord>,
    /// Deltas from older served versions up to this one, oldest first, forming a chain.
    history: Vec<Arc<HistoryStep>>,
    /// Answers prepared in wire form for the UDP hot path; empty for a version that is only
    /// the base of another's history.
    fast: FastZone,
    origin_wire_len: usize,
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
    /// it extends). This is the expensive part of an install.
    fn build(
        generation: Generation,
        zone: Zone,
        serial: u32,
        previous: Option<&ServedZone>,
        opts: &ZoneOptions,
        prepare: bool,
    ) -> Self {
        let zone = with_serial(zone, serial);
        let mut history = Vec::new();
        if let Some(prev) = previous {
            history.extend(prev.history.iter().cloned());
            let delta = Delta::between(prev.index.zone(), &zone);
            history.push(Arc::new(HistoryStep::new(&delta)));
        }
        let lens: Vec<usize> = history.iter().map(|s| s.records.len()).collect();
        history.drain(..history_start(&lens, opts.history_versions_max, zone.len()));
        let index = ZoneIndex::new(zone);
        let records = to_hickory_all(
            index.records(),
            crate::fast::build_threads(index.records().len()),
        );
        let negative_soa = index.negative_soa().map(to_hickory);
        let origin_wire_len = index.origin().wire_len();
        let mut served = ServedZone {
            generation,
            serial,
            index,
            records,
            negative_soa,
            history,
            fast: FastZone::default(),
            origin_wire_len,
        };
        if prepare {
            served.fast = FastZone::build(&served);
        }
        served
    }

    pub(crate) fn fast(&self) -> &FastZone {
        &self.fast
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

    /// The serials IXFR can start from: the oldest version the history reaches back to, then
    /// every later one, ending with this one's.
    pub fn history_serials(&self) -> Vec<u32> {
        let mut out: Vec<u32> = self.history.iter().map(|s| s.from).collect();
        out.push(self.serial);
        out
    }

    /// The hickory form of `index().records()[i]`.
    pub(crate) fn hickory_record(&self, i: usize) -> &HRecord {
        &self.records[i]
    }

    pub(crate) fn hickory_records(&self) -> &[HRecord] {
        &self.records
    }

    pub(crate) fn hickory_negative_soa(&self) -> Option<&HRecord> {
        self.negative_soa.as_ref()
    }

    pub(crate) fn history(&self) -> &[Arc<HistoryStep>] {
        &self.history
    }

    /// Gives the zone content back, for a rebuild.
    fn into_zone(self) -> Zone {
        self.index.into_zone()
    }
}

/// A core name as a hickory name. Core names are valid wire names, so this cannot fail.
pub(crate) fn to_hickory_name(name: &Name) -> HName {
    HName::from_labels(name.labels()).expect("a core name is a valid wire name")
}

/// `records` as hickory records, in order, converted by `threads` threads each taking a run.
fn to_hickory_all(records: &[Record], threads: usize) -> Vec<HRecord> {
    if threads <= 1 || records.is_empty() {
        return records.iter().map(to_hickory).collect();
    }
    // Filled in place: each thread overwrites its run of placeholders.
    let placeholder = HRecord::from_rdata(HName::root(), 0, RData::NULL(NULL::new()));
    let mut out = vec![placeholder; records.len()];
    let run = records.len().div_ceil(threads);
    std::thread::scope(|s| {
        for (dst, src) in out.chunks_mut(run).zip(records.chunks(run)) {
            s.spawn(move || {
                for (d, r) in dst.iter_mut().zip(src) {
                    *d = to_hickory(r);
                }
            });
        }
    });
    out
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

/// The served zones by origin, and by the origin's wire form for the prepared path.
#[derive(Default)]
struct Zones {
    by_name: HashMap<Name, Arc<ServedZone>>,
    by_wire: HashMap<Box<[u8]>, Arc<ServedZone>>,
}

impl Zones {
    fn with(&self, zone: ServedZone) -> Zones {
        let zone = Arc::new(zone);
        let mut by_name = self.by_name.clone();
        by_name.insert(zone.origin().clone(), zone.clone());
        let by_wire = by_name
            .iter()
            .map(|(name, z)| {
                let mut w = Vec::with_capacity(name.wire_len());
                name.write_wire(&mut w);
                (w.into_boxed_slice(), z.clone())
            })
            .collect();
        Zones { by_name, by_wire }
    }

    /// The zone whose origin is the longest suffix of the lower-cased wire name `name`.
    fn find_wire(&self, name: &[u8]) -> Option<&ServedZone> {
        if self.by_wire.len() == 1 {
            let (origin, zone) = self.by_wire.iter().next()?;
            let at = name.len().checked_sub(origin.len())?;
            // The suffix must start at a label boundary.
            let mut i = 0;
            while i < at {
                i += 1 + name[i] as usize;
            }
            return (i == at && name[at..] == origin[..]).then_some(&**zone);
        }
        let mut i = 0;
        while i < name.len() {
            if let Some(z) = self.by_wire.get(&name[i..]) {
                return Some(z);
            }
            i += 1 + name[i] as usize;
        }
        None
    }
}

/// The zones a server answers for, swapped atomically as a whole.
pub struct Catalog {
    id: String,
    zones: ArcSwap<Zones>,
    /// Serialises installs so that checking the held generation and swapping are one step.
    install: Mutex<()>,
    options: ServerOptions,
    notifier: Notifier,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("id", &self.id)
            .field("zones", &self.zones())
            .finish()
    }
}

/// Why a built zone was not swapped in.
enum SwapRefused {
    /// The catalog holds this generation, which is at least as new.
    Held(Generation),
    /// Another install changed the zone since the build started; build again.
    Moved(Box<ServedZone>),
}

impl Catalog {
    /// An empty catalog recorded in the store as target `id`, with default options: serials
    /// by `increment`, no transfers, no NOTIFY.
    pub fn new(id: impl Into<String>) -> Self {
        Catalog::with_options(id, ServerOptions::default())
    }

    /// An empty catalog with the given serving options.
    pub fn with_options(id: impl Into<String>, options: ServerOptions) -> Self {
        let notifier = Notifier::new(&options);
        Catalog {
            id: id.into(),
            zones: ArcSwap::from_pointee(Zones::default()),
            install: Mutex::new(()),
            options,
            notifier,
        }
    }

    pub fn options(&self) -> &ServerOptions {
        &self.options
    }

    /// Every zone served, with its generation, in canonical name order.
    pub fn zones(&self) -> Vec<(Name, Generation)> {
        let map = self.zones.load();
        let mut out: Vec<(Name, Generation)> = map
            .by_name
            .iter()
            .map(|(name, z)| (name.clone(), z.generation))
            .collect();
        out.sort();
        out
    }

    /// The served SOA serial of `zone`, if it is served.
    pub fn serial(&self, zone: &Name) -> Option<u32> {
        self.zones.load().by_name.get(zone).map(|z| z.serial)
    }

    /// The zone served under exactly this origin.
    pub fn get(&self, origin: &Name) -> Option<Arc<ServedZone>> {
        self.zones.load().by_name.get(origin).cloned()
    }

    /// The served zone whose origin is the longest suffix of `qname` (the zone that is
    /// authoritative for it), if any.
    pub fn find(&self, qname: &Name) -> Option<Arc<ServedZone>> {
        let zones = self.zones.load();
        let map = &zones.by_name;
        if map.is_empty() {
            return None;
        }
        if let Some(z) = map.get(qname) {
            return Some(z.clone());
        }
        (0..qname.label_count()).rev().find_map(|k| {
            let anc = qname.ancestor_with_labels(k)?;
            map.get(&anc).cloned()
        })
    }

    /// Writes the prepared answer to `query` (parsed as `q`) into `out`, from the zone the
    /// general path would pick. False if the general path must answer.
    pub(crate) fn prepared_answer(&self, query: &[u8], q: &Question, out: &mut Vec<u8>) -> bool {
        let zones = self.zones.load();
        match zones.find_wire(q.name()) {
            Some(zone) => crate::fast::answer(zone, query, q, out),
            None => false,
        }
    }

    /// How many NOTIFY messages secondaries have acknowledged since the catalog was made.
    pub fn notifies_acknowledged(&self) -> u64 {
        self.notifier.acknowledged()
    }

    /// Puts a ready zone in place if it is newer than what is held and what is held is still
    /// `built_on`, the zone it was built against.
    fn swap_in(
        &self,
        served: ServedZone,
        built_on: Option<&Arc<ServedZone>>,
    ) -> Result<(), SwapRefused> {
        let _guard = self
            .install
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = self.zones.load_full();
        let held = current.by_name.get(served.origin());
        if let Some(held) = held.filter(|h| h.generation >= served.generation) {
            return Err(SwapRefused::Held(held.generation));
        }
        let same = match (held, built_on) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        if !same {
            return Err(SwapRefused::Moved(Box::new(served)));
        }
        self.zones.store(Arc::new(current.with(served)));
        Ok(())
    }

    /// Installs `zone` at `generation`, as [`Target::install`] does. When the catalog holds
    /// nothing for the zone yet (a server starting) and the zone's serial policy gives every
    /// generation a fixed serial, `older` (earlier published generations of the zone, in any
    /// order) seeds the IXFR history, so that secondaries that were current before a restart
    /// still get incremental transfers. Otherwise `older` is not used.
    pub async fn install_with_history(
        &self,
        generation: Generation,
        zone: Zone,
        older: Vec<(Generation, Zone)>,
    ) -> Result<(), Generation> {
        // Cheap early refusal, so a stale install does not pay for the index. The check that
        // counts is the one in `swap_in`, under the install lock.
        if let Some(held) = self.held(zone.origin()).filter(|h| *h >= generation) {
            return Err(held);
        }
        let origin = zone.origin().clone();
        let opts = self.options.zone(&origin).clone();
        let now_s = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut zone = zone;
        let mut older = Some(older);
        loop {
            let previous = self.zones.load().by_name.get(&origin).cloned();
            let seed = match (&previous, opts.serial_policy.is_deterministic()) {
                (None, true) => older.take().unwrap_or_default(),
                _ => Vec::new(),
            };
            let (prev, o, origin_of_seed) = (previous.clone(), opts.clone(), origin.clone());
            let served = blocking(move || {
                let seeded = seed_history(&origin_of_seed, generation, seed, &o, now_s);
                let base = prev.as_deref().or(seeded.as_ref());
                let candidate = o.serial_policy.candidate(generation, now_s);
                let serial = next_serial(base.map(|p| p.serial), candidate);
                ServedZone::build(generation, zone, serial, base, &o, true)
            })
            .await;
            let soa = to_hickory(served.index.zone().soa_record());
            match self.swap_in(served, previous.as_ref()) {
                Ok(()) => {
                    self.notifier.notify(&origin, generation, soa, &opts.notify);
                    return Ok(());
                }
                Err(SwapRefused::Held(held)) => return Err(held),
                Err(SwapRefused::Moved(served)) => zone = served.into_zone(),
            }
        }
    }
}

/// The newest of `older` generations below `generation` as a served zone whose history chains
/// through the others, or `None` if there are none.
fn seed_history(
    origin: &Name,
    generation: Generation,
    mut older: Vec<(Generation, Zone)>,
    opts: &ZoneOptions,
    now_s: u64,
) -> Option<ServedZone> {
    older.retain(|(g, z)| *g < generation && z.origin() == origin);
    older.sort_by_key(|(g, _)| *g);
    let keep = older.len().saturating_sub(opts.history_versions_max);
    let mut served: Option<ServedZone> = None;
    for (g, z) in older.into_iter().skip(keep) {
        let serial = next_serial(
            served.as_ref().map(|s| s.serial),
            opts.serial_policy.candidate(g, now_s),
        );
        served = Some(ServedZone::build(
            g,
            z,
            serial,
            served.as_ref(),
            opts,
            false,
        ));
    }
    served
}

impl Target for Catalog {
    fn id(&self) -> &str {
        &self.id
    }

    fn held(&self, zone: &Name) -> Option<Generation> {
        self.zones.load().by_name.get(zone).map(|z| z.generation)
    }

    async fn install(&self, generation: Generation, zone: Zone) -> Result<(), Generation> {
        self.install_with_history(generation, zone, Vec::new())
            .await
    }
}

/// Runs `f` on tokio's blocking pool when there is a runtime, so that building a large zone
/// does not stall the tasks answering queries.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => match handle.spawn_blocking(f).await {
            Ok(out) => out,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("building the zone index was cancelled: {e}"),
        },
        Err(_) => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zonegate_core::RType;
    use zonegate_core::record::Soa;

    fn n(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    fn wire(name: &str) -> Box<[u8]> {
        let mut v = Vec::new();
        n(name).write_wire(&mut v);
        v.into_boxed_slice()
    }

    fn rec(owner: &str, rtype: RType, rdata: Box<[u8]>) -> Record {
        Record {
            owner: n(owner),
            rtype,
            ttl: 300,
            rdata,
        }
    }

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
            rec("a.example.", RType::A, Box::new([192, 0, 2, 1])),
            rec(
                "a.example.",
                RType::AAAA,
                Box::new([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            ),
            rec("example.", RType::NS, wire("ns.example.")),
            rec("example.", RType::SOA, soa.to_rdata()),
            rec("c.example.", RType::CNAME, wire("a.example.")),
            rec("d.example.", RType::DNAME, wire("other.test.")),
            rec("m.example.", RType::MX, mx.into_boxed_slice()),
            rec("t.example.", RType::TXT, Box::new(*b"\x05hello\x00")),
            rec("*.example.", RType(65280), Box::new([1, 2, 3])),
            rec("e.example.", RType(65281), Box::new([])),
            // Malformed for its type: carried as opaque bytes.
            rec("bad.example.", RType::A, Box::new([1, 2, 3])),
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

    /// Converting in runs on several threads gives the same records in the same order.
    #[test]
    fn conversion_in_parallel_keeps_the_order() {
        let records: Vec<Record> = (0..1000u32)
            .map(|i| {
                let [_, a, b, c] = i.to_be_bytes();
                let owner = format!("h{i}.example.");
                match i % 3 {
                    0 => rec(&owner, RType::A, Box::new([10, a, b, c])),
                    1 => rec(&owner, RType::NS, wire("ns.example.")),
                    _ => rec(&owner, RType(65280), Box::new([a, b, c])),
                }
            })
            .collect();
        let one = to_hickory_all(&records, 1);
        assert_eq!(one.len(), records.len());
        for threads in [2, 3, 7, 2000] {
            assert!(
                to_hickory_all(&records, threads) == one,
                "{threads} threads"
            );
        }
        assert!(to_hickory_all(&[], 4).is_empty());
    }

    fn zone(serial: u32) -> Zone {
        let soa = Soa {
            mname: n("ns.other."),
            rname: n("h.other."),
            serial,
            refresh: 1,
            retry: 1,
            expire: 1,
            minimum: 1,
        };
        let records = vec![
            rec("example.", RType::SOA, soa.to_rdata()),
            rec("example.", RType::NS, wire("ns.other.")),
        ];
        zonegate_core::validate::validate(
            zonegate_core::ParsedZone {
                origin: n("example."),
                records,
            },
            &zonegate_core::Limits::default(),
        )
        .unwrap()
    }

    /// Installers race with generations in opposite orders: the held generation only ever
    /// grows, ends at the newest, and every refusal names a generation at least as new.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_installs_never_go_back() {
        let catalog = Arc::new(Catalog::new("race"));
        let origin = n("example.");
        let up = (1..=200u64).collect::<Vec<_>>();
        let down = up.iter().rev().copied().collect::<Vec<_>>();
        let mut tasks = Vec::new();
        for order in [up, down] {
            let catalog = catalog.clone();
            tasks.push(tokio::spawn(async move {
                for g in order {
                    if let Err(held) = catalog.install(Generation(g), zone(g as u32)).await {
                        assert!(held >= Generation(g), "refused {g} for an older {held}");
                    }
                }
            }));
        }
        let watcher = {
            let catalog = catalog.clone();
            let origin = origin.clone();
            tokio::spawn(async move {
                let mut last = None;
                while last != Some(Generation(200)) {
                    let now = catalog.held(&origin);
                    assert!(now >= last, "held went back from {last:?} to {now:?}");
                    if let Some(z) = catalog.find(&origin) {
                        // The served content is the generation's own.
                        assert_eq!(z.index().zone().soa().serial as u64, z.generation().0);
                    }
                    last = now;
                    tokio::task::yield_now().await;
                }
            })
        };
        for t in tasks {
            t.await.unwrap();
        }
        watcher.await.unwrap();
        assert_eq!(catalog.held(&origin), Some(Generation(200)));
        assert_eq!(catalog.zones(), vec![(origin.clone(), Generation(200))]);
        // Whatever interleaving the installs took, the IXFR history is one chain of growing
        // serials that ends at the served one.
        let served = catalog.find(&origin).unwrap();
        let steps: Vec<(u32, u32)> = served.history().iter().map(|s| (s.from, s.to)).collect();
        // The history is empty when generation 200 happened to be installed first.
        for w in steps.windows(2) {
            assert_eq!(w[0].1, w[1].0, "{steps:?}");
        }
        for (from, to) in &steps {
            assert!(zonegate_core::serial::serial_gt(*to, *from), "{steps:?}");
        }
        if let Some(last) = steps.last() {
            assert_eq!(last.1, served.serial(), "{steps:?}");
        }
    }
}
