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
//! caller's thread: the SOA serial its policy gives (see [`zonegate_core::serial`]), the IXFR
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
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use zonegate_core::protocol::{Generation, Target};
use zonegate_core::serial::next_serial;
use zonegate_core::{Name, Zone};

use crate::convert::to_hickory;
use crate::net::notify::Notifier;
use crate::options::ServerOptions;
use crate::zone::history::{HistorySeed, SeedVersion};
use crate::zone::served::ServedZone;
use crate::zone::served::prepared::Question;

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
            .map(|(name, z)| (name.clone(), z.generation()))
            .collect();
        out.sort();
        out
    }

    /// The served SOA serial of `zone`, if it is served.
    pub fn serial(&self, zone: &Name) -> Option<u32> {
        self.zones.load().by_name.get(zone).map(|z| z.serial())
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
            .is_some_and(|zone| crate::zone::served::prepared::answer(zone, query, q, out))
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
            .is_some_and(|zone| crate::zone::served::prepared::answer_tcp(zone, query, q, out))
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
        if let Some(held) = held.filter(|h| h.generation() >= served.generation()) {
            return Err(SwapRefused::Held(held.generation()));
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
            let soa = to_hickory(served.index().zone().soa_record());
            match self.swap_in(served, previous.as_ref()) {
                Ok((served, replaced)) => {
                    drop(previous);
                    self.notifier.notify(&origin, generation, soa, &opts.notify);
                    let swapped = Instant::now();
                    blocking(move || {
                        free(replaced, &origin);
                        served.prepare();
                        tracing::debug!(
                            zone = %served.origin(), generation = %served.generation(),
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
        self.zones.load().by_name.get(zone).map(|z| z.generation())
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
    use zonegate_core::record::Soa;
    use zonegate_core::{RType, Record};

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
            zonegate_core::validate::validate(
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
            assert!(zonegate_core::serial::serial_gt(*to, *from), "{steps:?}");
        }
        if let Some(last) = steps.last() {
            assert_eq!(last.1, served.serial(), "{steps:?}");
        }
    }
}
