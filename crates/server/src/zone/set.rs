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
//! caller's thread: the SOA serial the zone arrives with (decided and stored at publish, see
//! [`zonegate_core::zone::serial`]; raised above the served one only if it would go back), the IXFR
//! history (the replaced zone's history plus the delta from the replaced zone to this one)
//! and the lookup index. Then, under a mutex that only installers take, it checks the
//! held generation and swaps in a copy of the map with the new zone: the "is it newer" check
//! and the write are one step (invariant I1). If another install got in between, the build is
//! redone against the zone now held, so the history is always a chain and the serial always
//! grows. Queries never take that mutex.
//!
//! What is not needed to answer correctly comes after the swap: the prepared answers of the
//! fast path are built once the new zone is served (its queries take the general path,
//! which answers the same bytes, until they are set), and the records' hickory form is made on
//! first use, a run at a time. So a generation is served as soon as its index exists. The
//! exception is prepared answers that cost only the change (an overlay over the replaced
//! generation's, see [`crate::zone::served::prepared`]): those are made before the swap, so
//! that queries never take the slower general path after a small change.
//!
//! ```text
//!   install(g, zone) ──▶ serial = next_serial(held serial, zone's own serial)
//!                        zone' = zone with that serial
//!                        history = held.history + Delta(held, zone')   (trimmed)
//!                        index; prepared answers if only an overlay
//!                                                 ‖ caller's before_swap (snapshot write)
//!                    ──▶ lock; held still the one built against and older than g? swap : retry
//!                    ──▶ return what changed ([`Swapped`]): the caller announces it (NOTIFY)
//!                    ──▶ Swapped::finish: free the replaced zone; prepared answers
//!                        (queries use them from then on)
//! ```
//!
//! The set sends nothing itself: whoever swaps a zone in announces it (the server's
//! [`crate::Catalog`] sends NOTIFY), between the swap and the prepared answers, as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use zonegate_core::gate::Generation;
use zonegate_core::zone::serial::next_serial;
use zonegate_core::{Name, Zone};

use crate::options::ServerOptions;
use crate::zone::background::background;
use crate::zone::history::{HistorySeed, SeedZone};
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
pub(crate) struct ZoneSet {
    zones: ArcSwap<Zones>,
    /// Serialises installs so that checking the held generation and swapping are one step.
    install: Mutex<()>,
    options: ServerOptions,
}

/// Why a built zone was not swapped in.
enum SwapRefused {
    /// The catalog holds this generation, which is at least as new.
    Held(Generation),
    /// Another install changed the zone since the build started; build again.
    Moved(Box<ServedZone>),
}

impl ZoneSet {
    /// An empty set with the given serving options.
    pub(crate) fn new(options: ServerOptions) -> Self {
        ZoneSet {
            zones: ArcSwap::from_pointee(Zones::default()),
            install: Mutex::new(()),
            options,
        }
    }

    pub(crate) fn options(&self) -> &ServerOptions {
        &self.options
    }

    /// Every zone served, with its generation, in canonical name order.
    pub(crate) fn zones(&self) -> Vec<(Name, Generation)> {
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
    pub(crate) fn serial(&self, zone: &Name) -> Option<u32> {
        self.zones.load().by_name.get(zone).map(|z| z.serial())
    }

    /// The zone served under exactly this origin.
    pub(crate) fn get(&self, origin: &Name) -> Option<Arc<ServedZone>> {
        self.zones.load().by_name.get(origin).cloned()
    }

    /// The served zone whose origin is the longest suffix of `qname` (the zone that is
    /// authoritative for it), if any.
    pub(crate) fn find(&self, qname: &Name) -> Option<Arc<ServedZone>> {
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

    /// [`ZoneSet::prepared_answer`] for a query that came over TCP (the message without its
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

    /// The generation of `zone` served, if any.
    pub(crate) fn held(&self, zone: &Name) -> Option<Generation> {
        self.zones.load().by_name.get(zone).map(|z| z.generation())
    }

    /// The generation of `zone` held and its content as published, when it was installed as
    /// published ([`ZoneSet::swap_after`] with its serial).
    pub(crate) fn held_content(&self, zone: &Name) -> Option<(Generation, Zone)> {
        let served = self.zones.load().by_name.get(zone).cloned()?;
        Some((served.generation(), served.published_content()?))
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

    /// A seed for `origin`'s first install made of `older` (earlier published generations of
    /// the zone, in any order), keeping the newest the history bound allows; `None` where
    /// [`ZoneSet::history_seed`] gives none.
    pub(crate) fn seed_from(
        &self,
        origin: &Name,
        mut older: Vec<(Generation, Zone)>,
    ) -> Option<HistorySeed> {
        self.history_seed(origin).map(|mut seed| {
            older.sort_by_key(|(g, _)| *g);
            let keep = older.len().saturating_sub(seed.opts.history_deltas_max);
            for (g, z) in older.into_iter().skip(keep) {
                seed.push(g, z);
            }
            seed
        })
    }

    /// A seed for the IXFR history of `origin`'s first install, or `None` if that install
    /// would not use one (the zone keeps no history). The seed's generations must come with
    /// the serials they were published with, which every server serves for them.
    pub(crate) fn history_seed(&self, origin: &Name) -> Option<HistorySeed> {
        let opts = self.options.zone(origin);
        (opts.history_deltas_max > 0).then(|| HistorySeed {
            origin: origin.clone(),
            opts: opts.clone(),
            newest: None,
        })
    }

    /// Builds `zone` at `generation` and swaps it in, with the earlier generations folded into
    /// `seed` (used only if the set holds nothing for the zone yet, and only the part below
    /// `generation`), swapping only once `before_swap` has completed too; it runs while the
    /// zone is built.
    ///
    /// The build (serial, IXFR history, lookup index) runs off the thread that calls this (on
    /// a thread of its own at background priority, see [`crate::zone::background`]). Returns once the generation is served,
    /// with what changed; its prepared answers are built by [`Swapped::finish`].
    pub(crate) async fn swap_after(
        &self,
        generation: Generation,
        zone: Zone,
        seed: Option<HistorySeed>,
        published_serial: Option<u32>,
        before_swap: impl std::future::Future<Output = ()>,
    ) -> Result<Swapped, Generation> {
        // Cheap early refusal, so a stale install does not pay for the index. The check that
        // counts is the one in `swap_in`, under the install lock.
        if let Some(held) = self.held(zone.origin()).filter(|h| *h >= generation) {
            return Err(held);
        }
        let origin = zone.origin().clone();
        let opts = self.options.zone(&origin).clone();
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
            .map(|(_, seeded)| seeded);
            let (prev, o) = (previous.clone(), opts.clone());
            let build = background(move || {
                let started = Instant::now();
                let base = prev
                    .as_deref()
                    .map(ServedZone::as_base)
                    .or(seeded.as_ref().map(SeedZone::as_base));
                // The serial decided at publish, unless it would not be above the served one
                // (a store replaced under the server): the served serial never goes back.
                let serial = next_serial(base.as_ref().map(|p| p.serial), zone.soa().serial);
                let served = ServedZone::build(generation, zone, serial, base.as_ref(), &o)
                    .with_published_serial(published_serial);
                // The answers are ready before the swap while the zone it replaces answers
                // by its prepared path, so that queries never fall to the general path.
                if let Some(prev) = prev.as_deref() {
                    served.prepare_before_swap(prev);
                }
                (served, started.elapsed())
            });
            let (served, took) = if waited {
                build.await
            } else {
                waited = true;
                let (built, ()) = tokio::join!(build, before_swap.as_mut());
                built
            };
            match self.swap_in(served, previous.as_ref()) {
                Ok((served, replaced)) => {
                    return Ok(Swapped {
                        served,
                        replaced,
                        took,
                    });
                }
                Err(SwapRefused::Held(held)) => return Err(held),
                Err(SwapRefused::Moved(served)) => zone = served.into_zone(),
            }
        }
    }
}

/// A generation just swapped in: what changed, for whoever swapped it in to announce, and the
/// work left (freeing the zone it replaced, preparing its answers).
pub(crate) struct Swapped {
    served: Arc<ServedZone>,
    replaced: Arc<Zones>,
    /// How long the build took.
    took: Duration,
}

impl Swapped {
    /// The zone as now served.
    pub(crate) fn served(&self) -> &ServedZone {
        &self.served
    }

    /// Frees the replaced zone and prepares the new one's fast answers, off the calling
    /// thread (on a thread of its own at background priority, see
    /// [`crate::zone::background`]), never on a thread answering queries. Queries use the prepared answers from the moment they are ready; until then
    /// the general path answers them, with the same bytes.
    pub(crate) async fn finish(self) {
        let Swapped {
            served,
            replaced,
            took,
        } = self;
        let swapped = Instant::now();
        background(move || {
            match replaced.by_name.get(served.origin()) {
                Some(previous) => served.prepare_after(previous),
                None => served.prepare(),
            }
            free(replaced, served.origin());
            tracing::debug!(
                zone = %served.origin(), generation = %served.generation(),
                build = ?took, prepare = ?swapped.elapsed(),
                "installed; prepared answers ready"
            );
        })
        .await;
    }
}

/// Frees `replaced`, the zone set an install replaced, and with it the served zone of `origin`
/// it held, here rather than on whichever query thread happens to drop the last reference: a
/// large zone takes a while to free. A query or transfer still using that zone keeps it;
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

/// How many milliseconds [`free`] waits for the queries still reading a replaced zone.
const FREE_WAIT_STEPS: usize = 200;
