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
//! Installing a generation builds the new [`ServedZone`] before taking any lock, off the
//! caller's thread: the SOA serial its policy gives (see [`zonegate_core::zone::serial`]), the IXFR
//! history (the previous version's history plus the delta from the previous version to this
//! one) and the lookup index. Then, under a mutex that only installers take, it checks the
//! held generation and swaps in a copy of the map with the new zone: the "is it newer" check
//! and the write are one step (invariant I1). If another install got in between, the build is
//! redone against the zone now held, so the history is always a chain and the serial always
//! grows. Queries never take that mutex.
//!
//! What is not needed to answer correctly comes after the swap: the prepared answers of the
//! fast path are built once the new version is served (its queries take the general path,
//! which answers the same bytes, until they are set), and the records' hickory form is made on
//! first use, a run at a time. So a generation is served as soon as its index exists.
//!
//! ```text
//!   install(g, zone) ──▶ serial = next_serial(held serial, policy(g, now))
//!                        zone' = zone with that serial
//!                        history = held.history + Delta(held, zone')   (trimmed)
//!                        index                    ‖ caller's before_swap (snapshot write)
//!                    ──▶ lock; held still the one built against and older than g? swap : retry
//!                    ──▶ NOTIFY the zone's secondaries; free the replaced version
//!                    ──▶ prepared answers (queries use them from then on)
//! ```

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{Name as HName, RData, Record as HRecord, RecordType};
use hickory_proto::serialize::binary::{
    BinDecoder, BinEncodable, BinEncoder, NameEncoding, Restrict,
};
use zonegate_core::gate::{Generation, Target};
use zonegate_core::lookup::ZoneIndex;
use zonegate_core::xfr::{Delta, history_start, record_wire_len};
use zonegate_core::zone::serial::{next_serial, with_serial};
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
    /// `index.records()` in hickory's form, same order, in runs of [`HICKORY_RUN`] records,
    /// each converted the first time one of its records is needed (by the general path, a
    /// transfer or the preparation of the fast answers), so that an install does not wait for
    /// a million conversions before it can swap.
    records: Box<[OnceLock<Box<[HRecord]>>]>,
    /// `index.negative_soa()` in hickory's form.
    negative_soa: Option<HRecord>,
    /// Deltas from older served versions up to this one, oldest first, forming a chain.
    history: Vec<Arc<HistoryStep>>,
    /// Answers prepared in wire form for the UDP hot path, set once after the zone is
    /// swapped in; until then every query takes the general path, which answers the same.
    fast: OnceLock<FastZone>,
    origin_wire_len: usize,
}

/// Records converted to hickory's form together, on first use.
const HICKORY_RUN: usize = 64;

/// The prepared answers of a zone whose own are not built yet: none, so the general path
/// answers everything.
static NO_FAST: LazyLock<FastZone> = LazyLock::new(FastZone::default);

/// What a new version is built against: the zone content it replaces, with that version's
/// served serial and IXFR history.
struct Base<'a> {
    zone: &'a Zone,
    serial: u32,
    history: &'a [Arc<HistoryStep>],
}

impl ServedZone {
    fn as_base(&self) -> Base<'_> {
        Base {
            zone: self.index.zone(),
            serial: self.serial,
            history: &self.history,
        }
    }
}

/// A version that is only the base of another's history: its content, serial and history.
struct SeedVersion {
    zone: Zone,
    serial: u32,
    history: Vec<Arc<HistoryStep>>,
}

impl SeedVersion {
    fn as_base(&self) -> Base<'_> {
        Base {
            zone: &self.zone,
            serial: self.serial,
            history: &self.history,
        }
    }
}

/// `history` extended with the delta from `previous` to `zone`, and trimmed to the bounds.
fn extend_history(
    previous: Option<&Base<'_>>,
    zone: &Zone,
    opts: &ZoneOptions,
) -> Vec<Arc<HistoryStep>> {
    let mut history = Vec::new();
    if let Some(prev) = previous {
        history.extend(prev.history.iter().cloned());
        let delta = Delta::between(prev.zone, zone);
        history.push(Arc::new(HistoryStep::new(&delta)));
    }
    let lens: Vec<usize> = history.iter().map(|s| s.records.len()).collect();
    history.drain(..history_start(&lens, opts.history_versions_max, zone.len()));
    history
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
    fn build(
        generation: Generation,
        zone: Zone,
        serial: u32,
        previous: Option<&Base<'_>>,
        opts: &ZoneOptions,
    ) -> Self {
        let zone = with_serial(zone, serial);
        let history = extend_history(previous, &zone, opts);
        let index = ZoneIndex::new(zone);
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
            origin_wire_len,
        }
    }

    /// Builds the prepared answers, if they are not built yet. This is the expensive part of
    /// an install; the zone answers correctly (by the general path) before it is done.
    fn prepare(&self) {
        self.fast.get_or_init(|| FastZone::build(self));
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
            all[run * HICKORY_RUN..end].iter().map(to_hickory).collect()
        })
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

    /// The serials IXFR can start from: the oldest version the history reaches back to, then
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
    fn into_zone(self) -> Zone {
        self.index.into_zone()
    }
}

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

/// The served zones by origin, and by the origin's wire form for the prepared path.
#[derive(Default)]
struct Zones {
    by_name: HashMap<Name, Arc<ServedZone>>,
    by_wire: HashMap<Box<[u8]>, Arc<ServedZone>>,
}

impl Zones {
    fn with(&self, zone: Arc<ServedZone>) -> Zones {
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
        zones
            .find_wire(q.name())
            .is_some_and(|zone| crate::fast::answer(zone, query, q, out))
    }

    /// [`Catalog::prepared_answer`] for a query that came over TCP (the message without its
    /// length prefix): appends the response, with its length prefix, to `out`.
    pub(crate) fn prepared_answer_tcp(
        &self,
        query: &[u8],
        q: &Question,
        out: &mut Vec<u8>,
    ) -> bool {
        let zones = self.zones.load();
        zones
            .find_wire(q.name())
            .is_some_and(|zone| crate::fast::answer_tcp(zone, query, q, out))
    }

    /// How many NOTIFY messages secondaries have acknowledged since the catalog was made.
    pub fn notifies_acknowledged(&self) -> u64 {
        self.notifier.acknowledged()
    }

    /// Puts a ready zone in place if it is newer than what is held and what is held is still
    /// `built_on`, the zone it was built against. Returns the zone as served and the zone set
    /// it replaced.
    fn swap_in(
        &self,
        served: ServedZone,
        built_on: Option<&Arc<ServedZone>>,
    ) -> Result<(Arc<ServedZone>, Arc<Zones>), SwapRefused> {
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
        let served = Arc::new(served);
        self.zones.store(Arc::new(current.with(served.clone())));
        Ok((served, current))
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
        mut older: Vec<(Generation, Zone)>,
    ) -> Result<(), Generation> {
        let seed = self.history_seed(zone.origin()).map(|mut seed| {
            older.sort_by_key(|(g, _)| *g);
            let keep = older.len().saturating_sub(seed.opts.history_versions_max);
            for (g, z) in older.into_iter().skip(keep) {
                seed.push(g, z);
            }
            seed
        });
        self.install_after(generation, zone, seed, std::future::ready(()))
            .await
    }

    /// A seed for the IXFR history of `origin`'s first install, or `None` if that install
    /// would not use one: the zone's serial policy does not give every generation a fixed
    /// serial, or it keeps no history.
    pub fn history_seed(&self, origin: &Name) -> Option<HistorySeed> {
        let opts = self.options.zone(origin);
        (opts.serial_policy.is_deterministic() && opts.history_versions_max > 0).then(|| {
            HistorySeed {
                origin: origin.clone(),
                opts: opts.clone(),
                now_s: now_s(),
                newest: None,
            }
        })
    }

    /// [`Catalog::install_with_history`] with the earlier generations already folded into
    /// `seed` (used only if the catalog holds nothing for the zone yet, and only the part
    /// below `generation`), swapping only once `before_swap` has completed too; it runs while
    /// the zone is built. The server writes its last-good snapshot there, so that the file is
    /// in place before the generation is served, without adding its time to the install's.
    ///
    /// The steps, all off the thread that calls this (on tokio's blocking pool when there is
    /// a runtime): build the version (serial, IXFR history, lookup index), swap it in, NOTIFY
    /// the secondaries, and then prepare the fast answers, which queries use from the moment
    /// they are ready; until then the general path answers them, with the same bytes. The
    /// replaced version is freed on that thread too, never on a thread answering queries.
    /// Returns once the fast answers are ready.
    pub async fn install_after(
        &self,
        generation: Generation,
        zone: Zone,
        seed: Option<HistorySeed>,
        before_swap: impl std::future::Future<Output = ()>,
    ) -> Result<(), Generation> {
        // Cheap early refusal, so a stale install does not pay for the index. The check that
        // counts is the one in `swap_in`, under the install lock.
        if let Some(held) = self.held(zone.origin()).filter(|h| *h >= generation) {
            return Err(held);
        }
        let origin = zone.origin().clone();
        let opts = self.options.zone(&origin).clone();
        let now_s = now_s();
        let mut zone = zone;
        let mut seed = seed.filter(|s| s.origin == origin);
        let mut before_swap = std::pin::pin!(before_swap);
        let mut waited = false;
        loop {
            let previous = self.zones.load().by_name.get(&origin).cloned();
            let seeded = match &previous {
                None => seed.take().and_then(|s| s.newest),
                Some(_) => None,
            }
            .filter(|(g, _)| *g < generation)
            .map(|(_, version)| version);
            let (prev, o) = (previous.clone(), opts.clone());
            let build = blocking(move || {
                let started = Instant::now();
                let base = prev
                    .as_deref()
                    .map(ServedZone::as_base)
                    .or(seeded.as_ref().map(SeedVersion::as_base));
                let candidate = o.serial_policy.candidate(generation, now_s);
                let serial = next_serial(base.as_ref().map(|p| p.serial), candidate);
                let served = ServedZone::build(generation, zone, serial, base.as_ref(), &o);
                (served, started.elapsed())
            });
            let (served, took) = if waited {
                build.await
            } else {
                waited = true;
                let (built, ()) = tokio::join!(build, before_swap.as_mut());
                built
            };
            let soa = to_hickory(served.index.zone().soa_record());
            match self.swap_in(served, previous.as_ref()) {
                Ok((served, replaced)) => {
                    drop(previous);
                    self.notifier.notify(&origin, generation, soa, &opts.notify);
                    let swapped = Instant::now();
                    blocking(move || {
                        free(replaced, &origin);
                        served.prepare();
                        tracing::debug!(
                            zone = %served.origin(), generation = %served.generation,
                            build = ?took, prepare = ?swapped.elapsed(),
                            "installed; prepared answers ready"
                        );
                    })
                    .await;
                    return Ok(());
                }
                Err(SwapRefused::Held(held)) => return Err(held),
                Err(SwapRefused::Moved(served)) => zone = served.into_zone(),
            }
        }
    }
}

/// Frees `replaced`, the zone set an install replaced, and with it the version of `origin` it
/// held, here rather than on whichever query thread happens to drop the last reference: a
/// large zone takes a while to free. A query or transfer still using that version keeps it;
/// this waits a little for queries to finish, and a transfer frees it when it ends.
fn free(replaced: Arc<Zones>, origin: &Name) {
    let Some(mut old) = replaced.by_name.get(origin).cloned() else {
        return;
    };
    drop(replaced);
    for _ in 0..FREE_WAIT_STEPS {
        match Arc::try_unwrap(old) {
            Ok(zone) => {
                drop(zone);
                return;
            }
            Err(shared) => old = shared,
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// How many milliseconds [`free`] waits for the queries still reading a replaced version.
const FREE_WAIT_STEPS: usize = 200;

/// Earlier published generations of one zone, folded one at a time, oldest first, into the
/// IXFR history a server's first install of the zone starts from (see
/// [`Catalog::history_seed`]). It holds one version's content at a time however many are
/// added, and builds only what the history needs: no lookup index, no prepared answers.
pub struct HistorySeed {
    origin: Name,
    opts: ZoneOptions,
    now_s: u64,
    /// The newest generation added, with the history leading up to it.
    newest: Option<(Generation, SeedVersion)>,
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
    /// Adds `zone` at `generation` as the newest version. A generation not newer than the
    /// newest one added, or of another zone, is ignored.
    pub fn push(&mut self, generation: Generation, zone: Zone) {
        if *zone.origin() != self.origin
            || self.newest.as_ref().is_some_and(|(g, _)| *g >= generation)
        {
            return;
        }
        let previous = self.newest.take().map(|(_, v)| v);
        let serial = next_serial(
            previous.as_ref().map(|v| v.serial),
            self.opts.serial_policy.candidate(generation, self.now_s),
        );
        let zone = with_serial(zone, serial);
        let history = extend_history(
            previous.as_ref().map(SeedVersion::as_base).as_ref(),
            &zone,
            &self.opts,
        );
        self.newest = Some((
            generation,
            SeedVersion {
                zone,
                serial,
                history,
            },
        ));
    }
}

/// Seconds since the Unix epoch, for the serial policies that use the time.
fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
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
    use zonegate_core::dns::record::Soa;

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
            rec("example.", RType::SOA, soa.to_rdata()),
            rec("example.", RType::NS, wire("ns.other.")),
        ];
        for i in 0..1000u32 {
            let [_, a, b, c] = i.to_be_bytes();
            let owner = format!("h{i}.example.");
            records.push(match i % 3 {
                0 => rec(&owner, RType::A, Box::new([10, a, b, c])),
                1 => rec(&owner, RType::NS, wire("ns.other.")),
                _ => rec(&owner, RType(65280), Box::new([a, b, c])),
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
        assert!(!crate::fast::answer(&built, &query, &q, &mut out));
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
        assert!(crate::fast::answer(&built, &query, &q, &mut out));
        assert_eq!(out[..2], [0x12, 0x34]);
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
        zonegate_core::zone::validate::validate(
            zonegate_core::ParsedZone {
                origin: n("example."),
                records,
            },
            &zonegate_core::Limits::default(),
        )
        .unwrap()
    }

    /// A history seed folds earlier generations one at a time, ignores those that are not
    /// newer or of another zone, and the first install chains its history through them.
    #[tokio::test]
    async fn a_history_seed_chains_the_first_install() {
        // Enough records that the history bound (no more records than the zone) keeps all.
        let zone = |serial: u32| {
            let mut records = zone(serial).records().to_vec();
            for i in 0..20u8 {
                records.push(rec(
                    &format!("h{i}.example."),
                    RType::A,
                    Box::new([10, 0, 0, i]),
                ));
            }
            zonegate_core::zone::validate::validate(
                zonegate_core::ParsedZone {
                    origin: n("example."),
                    records,
                },
                &zonegate_core::Limits::default(),
            )
            .unwrap()
        };
        let catalog = Catalog::new("seed");
        let origin = n("example.");
        let mut seed = catalog.history_seed(&origin).unwrap();
        seed.push(Generation(2), zone(2));
        seed.push(Generation(1), zone(1));
        seed.push(Generation(2), zone(2));
        seed.push(Generation(4), zone(4));
        catalog
            .install_after(Generation(6), zone(6), Some(seed), std::future::ready(()))
            .await
            .unwrap();
        let served = catalog.get(&origin).unwrap();
        assert_eq!(served.history_serials(), vec![2, 4, 6]);
        assert!(served.is_prepared());
        // A seed is used only by a first install, and only below the installed generation.
        let mut seed = catalog.history_seed(&origin).unwrap();
        seed.push(Generation(7), zone(7));
        catalog
            .install_after(Generation(8), zone(8), Some(seed), std::future::ready(()))
            .await
            .unwrap();
        assert_eq!(
            catalog.get(&origin).unwrap().history_serials(),
            vec![2, 4, 6, 8]
        );
        let fresh = Catalog::new("seed2");
        let mut seed = fresh.history_seed(&origin).unwrap();
        seed.push(Generation(9), zone(9));
        fresh
            .install_after(Generation(5), zone(5), Some(seed), std::future::ready(()))
            .await
            .unwrap();
        assert_eq!(fresh.get(&origin).unwrap().history_serials(), vec![5]);
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
            assert!(
                zonegate_core::zone::serial::serial_gt(*to, *from),
                "{steps:?}"
            );
        }
        if let Some(last) = steps.last() {
            assert_eq!(last.1, served.serial(), "{steps:?}");
        }
    }
}
