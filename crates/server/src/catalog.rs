//! The server's catalog: the served zone set, and the NOTIFY that announces each zone it swaps
//! in.
//!
//! The zone set ([`crate::zone::set`]) builds and swaps generations and sends nothing; the
//! notifier ([`crate::net::notify`]) sends NOTIFY and knows no zone set. A [`Catalog`] is the
//! one place that does both: it installs into the set, and once the set says a generation is
//! served, NOTIFYs that zone's secondaries, before the prepared answers are built (a secondary
//! that asks at once is answered by the general path, with the same bytes).

use std::sync::{Arc, OnceLock};

use zonegate_core::gate::{Generation, Target};
use zonegate_core::{Name, Zone};

use crate::convert::to_hickory;
use crate::net::notify::Notifier;
use crate::net::rrl::{Rrl, RrlCounters};
use crate::options::ServerOptions;
use crate::sink::UpdateSink;
use crate::stats::ServerStats;
use crate::zone::history::HistorySeed;
use crate::zone::served::ServedZone;
use crate::zone::served::prepared::Question;
use crate::zone::set::{Swapped, ZoneSet};

/// The zones a server answers for, swapped atomically as a whole, and the NOTIFY sender that
/// tells their secondaries about each installed generation.
pub struct Catalog {
    id: String,
    set: ZoneSet,
    notifier: Notifier,
    stats: Arc<ServerStats>,
    /// Response rate limiting of UDP answers, if configured.
    rrl: Option<Arc<Rrl>>,
    /// Where admitted DNS UPDATEs go; none until the binary sets one (UPDATE is then NOTIMP).
    updates: OnceLock<Arc<dyn UpdateSink>>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("id", &self.id)
            .field("zones", &self.zones())
            .finish()
    }
}

impl Catalog {
    /// An empty catalog recorded in the store as target `id`, with default options: serials
    /// by `increment`, no transfers, no NOTIFY.
    pub fn new(id: impl Into<String>) -> Self {
        Catalog::with_options(id, ServerOptions::default())
    }

    /// An empty catalog with the given serving options.
    pub fn with_options(id: impl Into<String>, options: ServerOptions) -> Self {
        let stats = Arc::new(ServerStats::default());
        let notifier = Notifier::new(&options, stats.clone());
        let rrl = Rrl::new(&options.rrl).map(Arc::new);
        Catalog {
            id: id.into(),
            set: ZoneSet::new(options),
            notifier,
            stats,
            rrl,
            updates: OnceLock::new(),
        }
    }

    /// The server's counters (queries, TCP connections, transfers, NOTIFY, installs), for
    /// `/metrics` and `/readyz`.
    pub fn stats(&self) -> &Arc<ServerStats> {
        &self.stats
    }

    /// Sets where admitted DNS UPDATEs go (once; false if one was set already).
    pub fn set_update_sink(&self, sink: Arc<dyn UpdateSink>) -> bool {
        self.updates.set(sink).is_ok()
    }

    /// The update sink, if one was set.
    pub(crate) fn update_sink(&self) -> Option<&Arc<dyn UpdateSink>> {
        self.updates.get()
    }

    pub fn options(&self) -> &ServerOptions {
        self.set.options()
    }

    /// How many UDP answers rate limiting truncated and dropped, if it is on.
    pub fn rrl_counters(&self) -> Option<&RrlCounters> {
        self.rrl.as_deref().map(Rrl::counters)
    }

    /// The rate limiter of UDP answers, if rate limiting is on.
    pub(crate) fn rrl(&self) -> Option<&Arc<Rrl>> {
        self.rrl.as_ref()
    }

    /// Every zone served, with its generation, in canonical name order.
    pub fn zones(&self) -> Vec<(Name, Generation)> {
        self.set.zones()
    }

    /// The served SOA serial of `zone`, if it is served.
    pub fn serial(&self, zone: &Name) -> Option<u32> {
        self.set.serial(zone)
    }

    /// The zone served under exactly this origin.
    pub fn get(&self, origin: &Name) -> Option<Arc<ServedZone>> {
        self.set.get(origin)
    }

    /// The served zone whose origin is the longest suffix of `qname` (the zone that is
    /// authoritative for it), if any.
    pub fn find(&self, qname: &Name) -> Option<Arc<ServedZone>> {
        self.set.find(qname)
    }

    /// Writes the prepared answer to `query` (parsed as `q`) into `out`, from the zone the
    /// general path would pick. False if the general path must answer. Inlined, so that the
    /// UDP loop's call costs what it did when the catalog was the set.
    #[inline]
    pub(crate) fn prepared_answer(&self, query: &[u8], q: &Question, out: &mut Vec<u8>) -> bool {
        self.set.prepared_answer(query, q, out)
    }

    /// [`Catalog::prepared_answer`] for a query that came over TCP (the message without its
    /// length prefix): appends the response, with its length prefix, to `out`.
    #[inline]
    pub(crate) fn prepared_answer_tcp(
        &self,
        query: &[u8],
        q: &Question,
        out: &mut Vec<u8>,
    ) -> bool {
        self.set.prepared_answer_tcp(query, q, out)
    }

    /// How many NOTIFY messages secondaries have acknowledged since the catalog was made.
    pub fn notifies_acknowledged(&self) -> u64 {
        self.notifier.acknowledged()
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
        let seed = self.set.seed_from(zone.origin(), older);
        self.install_after(generation, zone, seed, std::future::ready(()))
            .await
    }

    /// A seed for the IXFR history of `origin`'s first install, or `None` if that install
    /// would not use one: the zone's serial policy does not give every generation a fixed
    /// serial, or it keeps no history.
    pub fn history_seed(&self, origin: &Name) -> Option<HistorySeed> {
        self.set.history_seed(origin)
    }

    /// [`Catalog::install_with_history`] with the earlier generations already folded into
    /// `seed` (used only if the catalog holds nothing for the zone yet, and only the part
    /// below `generation`), swapping only once `before_swap` has completed too; it runs while
    /// the zone is built. The server writes its last-good snapshot there, so that the file is
    /// in place before the generation is served, without adding its time to the install's.
    ///
    /// The steps, all off the thread that calls this (on threads of their own at background
    /// priority): build the served zone (serial, IXFR history, lookup index), swap it in, NOTIFY
    /// the secondaries, and then prepare the fast answers (only those the change touched,
    /// over the replaced generation's, when it was prepared), which queries use from the moment
    /// they are ready; until then the general path answers them, with the same bytes. The
    /// replaced zone is freed on that thread too, never on a thread answering queries.
    /// Returns once the fast answers are ready.
    pub async fn install_after(
        &self,
        generation: Generation,
        zone: Zone,
        seed: Option<HistorySeed>,
        before_swap: impl std::future::Future<Output = ()>,
    ) -> Result<(), Generation> {
        self.install_published_after(generation, zone, None, seed, before_swap)
            .await
    }

    /// [`Catalog::install_after`] of content whose apex SOA serial as published was
    /// `published_serial` (before the served serial replaced it): the catalog can then give
    /// the content back as published ([`Catalog::held_content`]), the base the next
    /// generation is read onto from the store's deltas.
    pub async fn install_published_after(
        &self,
        generation: Generation,
        zone: Zone,
        published_serial: Option<u32>,
        seed: Option<HistorySeed>,
        before_swap: impl std::future::Future<Output = ()>,
    ) -> Result<(), Generation> {
        let started = std::time::Instant::now();
        let origin = zone.origin().clone();
        let swapped = self
            .set
            .swap_after(generation, zone, seed, published_serial, before_swap)
            .await?;
        self.announce(&swapped);
        swapped.finish().await;
        self.stats.installed(&origin, started.elapsed());
        Ok(())
    }

    /// The generation of `zone` held and its content as published (a copy), when it was
    /// installed with its published serial ([`Catalog::install_published_after`]).
    pub fn held_content(&self, zone: &Name) -> Option<(Generation, Zone)> {
        self.set.held_content(zone)
    }

    /// NOTIFYs the secondaries of the zone just swapped in that it is now at its generation.
    fn announce(&self, swapped: &Swapped) {
        let served = swapped.served();
        let soa = to_hickory(served.index().zone().soa_record());
        let targets = &self.options().zone(served.origin()).notify;
        self.notifier
            .notify(served.origin(), served.generation(), soa, targets);
    }
}

impl Target for Catalog {
    fn id(&self) -> &str {
        &self.id
    }

    fn held(&self, zone: &Name) -> Option<Generation> {
        self.set.held(zone)
    }

    async fn install(&self, generation: Generation, zone: Zone) -> Result<(), Generation> {
        self.install_with_history(generation, zone, Vec::new())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zonegate_core::RType;
    use zonegate_core::dns::record::Soa;
    use zonegate_testkit::{n, name_rdata, rec};

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
            rec("example.", 300, RType::SOA, soa.to_rdata()),
            rec("example.", 300, RType::NS, name_rdata("ns.other.")),
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

    /// Content installed as published is served with the served serial and given back as
    /// published; content installed as served is not given back.
    #[tokio::test]
    async fn content_installed_as_published_is_given_back_as_published() {
        let catalog = Catalog::new("published");
        let origin = n("example.");
        catalog
            .install_after(Generation(1), zone(7), None, std::future::ready(()))
            .await
            .unwrap();
        assert_eq!(catalog.held_content(&origin), None);
        let published = zone(3);
        catalog
            .install_published_after(
                Generation(2),
                zonegate_core::zone::serial::with_serial(published.clone(), 8),
                Some(3),
                None,
                std::future::ready(()),
            )
            .await
            .unwrap();
        assert_eq!(catalog.serial(&origin), Some(8));
        assert_eq!(
            catalog.held_content(&origin),
            Some((Generation(2), published))
        );
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
                    300,
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
