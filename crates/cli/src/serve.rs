//! `zonegate serve`: answer from the published generations and follow new publications.
//!
//! The server is a target of the protocol: it converges each zone to the published generation
//! with [`gate::converge`], the same step the loom suite checks. New publications, also
//! those made by other processes, are noticed by asking SQLite's `data_version`, which is
//! cheap, when the database's files are written (inotify on Linux, `serve/changes.rs`; at most
//! every `poll_ms`, default 10 ms) and every second anyway, or every `poll_ms` where inotify
//! cannot be had; a full pass also runs every few seconds as a safety net. On PostgreSQL they arrive by `LISTEN`/`NOTIFY` instead (`serve/postgres.rs`), with a
//! slow fallback poll. All of this (reading bodies, decoding and re-validating them, installing) runs on a
//! thread of its own with its own runtime, so it never holds up a thread or task that answers
//! queries.
//!
//! The first install of a zone (a server starting) also folds the zone's earlier published
//! generations that the store still keeps into the catalog's IXFR history, one at a time, with
//! the serials they were published with, so that IXFR works from them at once.
//!
//! The server is recorded in the store as a target (`serve@HOST/ADDR` unless `--target-id`
//! says otherwise: two hosts both on `0.0.0.0:53` are two targets). It renews its rows every
//! [`renew_every`] (a quarter of `target_lease_s`), so that clean-up, which stops counting a
//! row older than the lease, never mistakes a live server for one that is gone.
//! Serving options (serial policy, transfer ACL, NOTIFY targets) come from the `[server]`
//! section of the config file; see `config::server`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use zonegate_core::gate::{
    self, ConvergeOutcome, Generation, PlanStatus, Store, StoreError, Target,
};
use zonegate_core::zone::serial::with_serial;
use zonegate_core::{GateConfig, Name, Zone};
use zonegate_server::{Catalog, HistorySeed, ServerOptions};
use zonegate_store::{AnyStore, StoreLocation};

use crate::snapshot::Snapshots;

mod catalog_zone;
mod changes;
mod compact;
mod postgres;
mod replaced;
mod startup;
mod update;

/// How often `data_version` is asked even when the store's files look unchanged (see
/// `SqliteStore::change_stamp`): the bound on noticing a change the file stamp missed.
const DATA_VERSION_EVERY: Duration = Duration::from_millis(100);

/// How often the follower looks at the store when it hears of changes to the database's files
/// (`changes`): the bound on noticing a change it was not told of.
const WATCHED_LOOK_EVERY: Duration = Duration::from_secs(1);

/// How often a full pass runs even when `data_version` did not move.
const FULL_PASS_EVERY: Duration = Duration::from_secs(5);

/// Held while a generation is installed (see `Seeding::install`).
static INSTALLS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How often a server that could not open its store tries again.
const REOPEN_EVERY: Duration = Duration::from_secs(2);

/// Everything `serve` runs with (the flags, the `[server]` options, the snapshot directory
/// and the HTTP listener's settings).
pub struct ServeRun {
    pub db: StoreLocation,
    pub cfg: GateConfig,
    pub listen: Vec<SocketAddr>,
    pub poll_ms: u64,
    pub target_id: Option<String>,
    pub options: ServerOptions,
    pub snapshots: Snapshots,
    pub web: crate::web::WebStart,
}

pub async fn run(serve: ServeRun) -> anyhow::Result<()> {
    let ServeRun {
        db,
        cfg,
        listen,
        poll_ms,
        target_id,
        options,
        snapshots,
        web,
    } = serve;
    let id = target_id.unwrap_or_else(|| default_target_id(listen[0]));
    let catalog = Arc::new(Catalog::with_options(id, options));
    // Metrics, health, the API and the status page (off unless configured); SIGHUP.
    let _web = crate::web::start(web, catalog.clone()).await?;
    // Static stability (I7): answer from the last good snapshots first, so that a restart
    // serves at once even if the store is missing, locked or corrupt.
    snapshots.load_into(catalog.as_ref(), &cfg).await;
    update::start(update::Worker {
        db: db.clone(),
        catalog: catalog.clone(),
        cfg: cfg.clone(),
        snapshots: snapshots.clone(),
    })?;
    // Following the store (reading, decoding and validating bodies, building and installing
    // generations) runs on a thread of its own with its own small runtime, never on the
    // threads and tasks that answer queries, and at a lower priority than they
    // (`zonegate_server::lower_thread_priority`): a million-record install must not stall
    // them, even on a server pinned to one CPU.
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let follower = {
        let catalog = catalog.clone();
        std::thread::Builder::new()
            .name("zonegate-follow".into())
            .spawn(move || {
                // Below the answering threads: its polls and installs give way to queries.
                zonegate_server::lower_thread_priority();
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(rt) => rt.block_on(follow(
                        db, catalog, cfg, snapshots, poll_ms, ready_tx, stop_rx,
                    )),
                    Err(e) => tracing::error!(error = %e, "cannot start the runtime that follows the store"),
                }
            })
            .context("cannot start the thread that follows the store")?
    };
    // Bind, then answer from the snapshots if the store is slow to open (I7; `startup`).
    let listeners = zonegate_server::Listeners::bind(&listen)
        .await
        .context("the DNS server failed")?;
    if !startup::wait_first_pass(ready_rx, !catalog.zones().is_empty()).await {
        anyhow::bail!("the thread that follows the store stopped before its first pass");
    }
    let result = zonegate_server::serve_on(listeners, catalog, shutdown_signal())
        .await
        .with_context(|| "the DNS server failed");
    // The follower stops at its next tick; an install it is in the middle of is abandoned
    // with the process.
    let _ = stop_tx.send(true);
    drop(follower);
    result
}

/// `serve@HOST/ADDR`: the host name keeps two servers on two hosts with the same listen address
/// (`0.0.0.0:53`) from sharing one target row.
fn default_target_id(listen: SocketAddr) -> String {
    let uname = rustix::system::uname();
    let host = uname.nodename().to_string_lossy();
    let host = if host.is_empty() {
        "localhost".into()
    } else {
        host
    };
    format!("serve@{host}/{listen}")
}

/// How often a server renews its target rows: a quarter of the lease (at least a second, at
/// most five minutes), so three renewals in a row can fail before a live server's rows lapse.
fn renew_every(lease_s: u64) -> Duration {
    Duration::from_secs((lease_s / 4).clamp(1, 300))
}

/// Renews this server's row for every zone it serves (the same generation again: its lease
/// runs from now). A row clean-up already dropped (the server was cut off from the store for
/// longer than the lease) comes back if its plan is still stored; if not, the next converge
/// records the newer generation. Failures are logged; the next renewal tries again.
async fn renew<S: Store>(store: &S, catalog: &Catalog) {
    let now = crate::context::now();
    for (zone, held) in catalog.zones() {
        match store.record_target(catalog.id(), &zone, held, now).await {
            Ok(()) | Err(StoreError::TargetNewer { .. } | StoreError::PlanMissing { .. }) => {}
            Err(e) => {
                tracing::warn!(%zone, target = catalog.id(), error = %e, "cannot renew this server's target row; retrying later");
            }
        }
    }
}

/// Follows the store until `stop` turns true: SQLite by its `data_version`, PostgreSQL by
/// its notifications (`serve/postgres.rs`).
async fn follow(
    db: StoreLocation,
    catalog: Arc<Catalog>,
    cfg: GateConfig,
    snapshots: Snapshots,
    poll_ms: u64,
    ready: tokio::sync::oneshot::Sender<()>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    match db {
        StoreLocation::File(path) => {
            follow_file(path, catalog, cfg, snapshots, poll_ms, ready, stop).await;
        }
        StoreLocation::Postgres(pg) => {
            let follow = postgres::Follow {
                catalog,
                cfg,
                snapshots,
            };
            follow.run(pg, ready, stop).await;
        }
    }
}

/// Follows a SQLite file: one pass over every zone at once (then `ready` is sent), and another
/// whenever SQLite's `data_version` moves (asked when the files change, at most every
/// `poll_ms`, and every [`WATCHED_LOOK_EVERY`]; every `poll_ms` without inotify) or every
/// [`FULL_PASS_EVERY`], until `stop` turns true. Keeps serving what it holds while the store
/// is unreachable (I7), and reopens it every [`REOPEN_EVERY`] if it could not be opened.
async fn follow_file(
    db: PathBuf,
    catalog: Arc<Catalog>,
    cfg: GateConfig,
    snapshots: Snapshots,
    poll_ms: u64,
    ready: tokio::sync::oneshot::Sender<()>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut store = open(&db).await;
    let mut opened = replaced::Opened::new(&db);
    let mut last_version = None;
    if let Some(store) = &store {
        last_version = sqlite(store).data_version().await.ok();
        sync_all(store, &catalog, &cfg, &snapshots).await;
        // Zones installed from snapshots and already up to date were not recorded by the
        // pass: record them now, not a renewal period later.
        renew(store, &catalog).await;
    }
    let _ = ready.send(());
    let mut last_full = Instant::now();
    let mut last_renew = Instant::now();
    let mut last_open = Instant::now();
    let mut last_asked = Instant::now();
    let mut last_stamp = store.as_ref().and_then(|s| sqlite(s).change_stamp());
    let poll = Duration::from_millis(poll_ms.max(1));
    let mut changes = changes::FileChanges::watch(&db);
    let mut tick = tokio::time::interval(changes.as_ref().map_or(poll, |_| WATCHED_LOOK_EVERY));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_look = Instant::now();
    loop {
        let heard = tokio::select! {
            _ = tick.tick() => false,
            _ = changes::heard(changes.as_mut()) => true,
            _ = stop.changed() => return,
        };
        // Looks come at most every `poll` however often the files are written.
        if heard && !pause_until(last_look + poll, &mut stop).await {
            return;
        }
        last_look = Instant::now();
        if opened.replaced() {
            // Another file at the path: follow it from scratch (`replaced`), and its directory.
            store = open(&db).await;
            opened = replaced::Opened::new(&db);
            changes = changes::FileChanges::watch(&db);
            (last_version, last_stamp) = (None, None);
        }
        let Some(current) = &store else {
            // Keep serving the snapshots; try the store again now and then.
            if last_open.elapsed() >= REOPEN_EVERY {
                last_open = Instant::now();
                store = open(&db).await;
            }
            continue;
        };
        // Asking SQLite costs a round trip through its worker thread; a stat of its files
        // costs two system calls. Ask SQLite when the files moved, or now and then anyway.
        let stamp = sqlite(current).change_stamp();
        let unmoved = !heard && stamp.is_some() && stamp == last_stamp;
        if unmoved && last_asked.elapsed() < DATA_VERSION_EVERY {
            continue;
        }
        last_stamp = stamp;
        last_asked = Instant::now();
        let version = match sqlite(current).data_version().await {
            Ok(v) => Some(v),
            Err(e) => {
                // The store is unreachable: keep serving what we hold (I7).
                tracing::warn!(error = %e, "cannot poll the store; still serving the last good generations");
                None
            }
        };
        if version.is_some() && (version != last_version || last_full.elapsed() >= FULL_PASS_EVERY)
        {
            let pass = sync_all(current, &catalog, &cfg, &snapshots).await;
            // A deferred zone is looked at again `poll` from now, whatever is heard meanwhile.
            if pass == Pass::Deferred {
                tick.reset_after(poll);
            }
            last_version = version.filter(|_| pass == Pass::Done);
            last_stamp = last_stamp.filter(|_| pass == Pass::Done);
            last_full = Instant::now();
        }
        if version.is_some() && last_renew.elapsed() >= renew_every(cfg.target_lease_s) {
            renew(current, &catalog).await;
            last_renew = Instant::now();
        }
    }
}

/// Waits until `until`; false if `stop` turned true meanwhile.
async fn pause_until(until: Instant, stop: &mut tokio::sync::watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep_until(until.into()) => true,
        _ = stop.changed() => false,
    }
}

/// Opens the store, or says why not and returns `None`: the server keeps answering from what
/// it holds and tries again later.
async fn open(db: &Path) -> Option<AnyStore> {
    match zonegate_store::SqliteStore::open(db).await {
        Ok(s) => Some(s.into()),
        Err(e) => {
            tracing::error!(db = %db.display(), error = %e, "cannot open the store; serving the last good snapshots and retrying");
            None
        }
    }
}

/// The SQLite store inside a store `follow_file` opened (always one).
fn sqlite(store: &AnyStore) -> &zonegate_store::SqliteStore {
    store
        .as_sqlite()
        .expect("follow_file opens SQLite stores only")
}

/// The catalog as the protocol's target, seeding the IXFR history from the store on a zone's
/// first install.
struct Seeding<'a> {
    catalog: &'a Catalog,
    store: &'a AnyStore,
    cfg: &'a GateConfig,
    snapshots: &'a Snapshots,
    /// The follower's target counts a generation the DNS UPDATE worker is installing as held
    /// (`update::installing`), so that it does not read, decode and validate again what the
    /// worker installs from the content it holds.
    defer_to_updates: bool,
}

impl Target for Seeding<'_> {
    fn id(&self) -> &str {
        self.catalog.id()
    }

    fn held(&self, zone: &Name) -> Option<Generation> {
        let held = self.catalog.held(zone);
        match self.defer_to_updates {
            true => held.max(update::installing(zone)),
            false => held,
        }
    }

    async fn install(&self, generation: Generation, zone: Zone) -> Result<(), Generation> {
        self.install_as(generation, zone, None).await
    }

    async fn install_published(
        &self,
        generation: Generation,
        zone: Zone,
        serial: u32,
    ) -> Result<(), Generation> {
        let published = zone.soa().serial;
        self.install_as(generation, with_serial(zone, serial), Some(published))
            .await
    }

    fn held_content(&self, zone: &Name) -> Option<(Generation, Zone)> {
        self.catalog.held_content(zone)
    }
}

impl Seeding<'_> {
    /// Installs `zone` (served as it is), whose apex SOA serial as published was
    /// `published_serial` if that is known.
    async fn install_as(
        &self,
        generation: Generation,
        zone: Zone,
        published_serial: Option<u32>,
    ) -> Result<(), Generation> {
        // The follower and the DNS UPDATE worker both install: never a generation the catalog
        // already holds or has passed, and one at a time up to the snapshot write (so an older
        // snapshot never lands after a newer one); the prepared answers may build meanwhile.
        let one = INSTALLS.lock().await;
        if let Some(held) = self
            .catalog
            .held(zone.origin())
            .filter(|h| *h >= generation)
        {
            return Err(held);
        }
        // The snapshot is written while the catalog builds the generation, and the catalog
        // swaps it in only once the file is in place: it is the same validated content, and a
        // server that crashes right after installing must find it on restart (I7).
        let origin = zone.origin().clone();
        let dir = self.snapshots.dir().to_path_buf();
        let write = self.snapshots.writer(generation, &zone, published_serial);
        let snapshot = async move {
            if let Err(e) = write.await {
                tracing::warn!(zone = %origin, %generation, dir = %dir.display(), error = %format!("{e:#}"), "cannot write the last-good snapshot");
            }
            drop(one);
        };
        let seed = if self.catalog.held(zone.origin()).is_some() {
            None
        } else {
            earlier_published(
                self.store,
                self.catalog,
                self.cfg,
                zone.origin(),
                generation,
            )
            .await
        };
        self.catalog
            .install_published_after(generation, zone, published_serial, seed, snapshot)
            .await
    }
}

/// The zone's generations below `generation` that were once published and are still stored,
/// up to the history bound, each validated again, folded into a history seed one at a time
/// (oldest first), so that only one earlier version is held in memory at once. Anything
/// unreadable is skipped: history is an optimisation, and a full transfer is always correct.
async fn earlier_published(
    store: &AnyStore,
    catalog: &Catalog,
    cfg: &GateConfig,
    origin: &Name,
    generation: Generation,
) -> Option<HistorySeed> {
    let mut seed = catalog.history_seed(origin)?;
    let plans = match store.plans(origin).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(zone = %origin, error = %e, "cannot list earlier generations; IXFR starts from now");
            return None;
        }
    };
    let mut wanted: Vec<Generation> = plans
        .iter()
        .filter(|p| p.generation < generation)
        .filter(|p| matches!(p.status, PlanStatus::Published | PlanStatus::Superseded))
        .map(|p| p.generation)
        .collect();
    wanted.sort();
    let keep = wanted
        .len()
        .saturating_sub(catalog.options().zone(origin).history_deltas_max);
    for g in wanted.into_iter().skip(keep) {
        match store.load_plan(origin, g).await {
            // Each with the serial it was published with, which every server serves for it.
            Ok(Some(plan)) => match (
                Zone::decode(origin, &plan.body, &plan.hash, &cfg.limits),
                plan.serial,
            ) {
                (Ok(z), Some(serial)) => {
                    drop(plan);
                    seed.push(g, with_serial(z, serial));
                }
                (Ok(_), None) => {
                    tracing::warn!(zone = %origin, generation = %g, "skipping an earlier generation stored without its serial");
                }
                (Err(e), _) => {
                    tracing::warn!(zone = %origin, generation = %g, error = %e, "skipping an unreadable earlier generation")
                }
            },
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(zone = %origin, generation = %g, error = %e, "cannot load an earlier generation")
            }
        }
    }
    Some(seed)
}

async fn sync_all(
    store: &AnyStore,
    catalog: &Catalog,
    cfg: &GateConfig,
    snapshots: &Snapshots,
) -> Pass {
    let zones = match store.published_plans().await {
        Ok(z) => z,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list published zones; still serving the last good generations");
            return Pass::Done;
        }
    };
    let mut pass = Pass::Done;
    for (zone, _generation, _version) in zones {
        if sync_zone(store, catalog, cfg, snapshots, &zone).await == Pass::Deferred {
            pass = Pass::Deferred;
        }
    }
    refresh_catalog(store, catalog, cfg, snapshots).await;
    pass
}

/// Whether a pass looked at every zone, or left one to the DNS UPDATE worker, which was
/// publishing it (`update::updating`): the follower then passes again `--poll-ms` later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    Done,
    Deferred,
}

/// Installs a newer catalog zone (`[server] catalog`), if one is configured and its members
/// changed.
async fn refresh_catalog(
    store: &AnyStore,
    catalog: &Catalog,
    cfg: &GateConfig,
    snapshots: &Snapshots,
) {
    let Some(name) = catalog.options().catalog.clone() else {
        return;
    };
    let target = Seeding {
        catalog,
        store,
        cfg,
        snapshots,
        defer_to_updates: false,
    };
    catalog_zone::refresh(store, &target, &name).await;
}

/// Converges one zone to its published generation, and says what happened.
async fn sync_zone(
    store: &AnyStore,
    catalog: &Catalog,
    cfg: &GateConfig,
    snapshots: &Snapshots,
    zone: &Name,
) -> Pass {
    let target = Seeding {
        catalog,
        store,
        cfg,
        snapshots,
        defer_to_updates: true,
    };
    if catalog.options().catalog.as_ref() == Some(zone) {
        // Planned before `[server] catalog` named it: the catalog zone wins.
        tracing::error!(%zone, "a zone is published under the catalog zone's name; serving the catalog zone instead");
        return Pass::Done;
    }
    if update::updating(zone) {
        // The DNS UPDATE worker is publishing and installing this zone (`update::updating`).
        return Pass::Deferred;
    }
    {
        let started = Instant::now();
        match gate::converge(store, &target, zone, cfg, crate::context::now()).await {
            Ok(ConvergeOutcome::Installed {
                generation,
                previous,
            }) => {
                tracing::info!(
                    %zone, %generation, previous = %gate::OptGen(previous),
                    serial = catalog.serial(zone).unwrap_or(0),
                    took = ?started.elapsed(),
                    "serving new generation"
                );
            }
            Ok(_) => {}
            Err(e) => {
                catalog.stats().install_failed(zone, e.to_string());
                tracing::error!(%zone, error = %e, "cannot install the published generation; still serving the last good one");
            }
        }
    }
    Pass::Done
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutting down");
}
