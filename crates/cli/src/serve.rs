//! `zonegate serve`: answer from the published generations and follow new publications.
//!
//! The server is a target of the protocol: it converges each zone to the published generation
//! with [`gate::converge`], the same step the loom suite checks. New publications, also
//! those made by other processes, are noticed by polling SQLite's `data_version`, which is
//! cheap, every `poll_ms` (default 10 ms); a full pass also runs every few seconds as a safety
//! net. All of this (reading bodies, decoding and re-validating them, installing) runs on a
//! thread of its own with its own runtime, so it never holds up a thread or task that answers
//! queries.
//!
//! The first install of a zone (a server starting) also folds the zone's earlier published
//! generations that the store still keeps into the catalog's IXFR history, one at a time, so
//! that IXFR works from them at once.
//! Serving options (serial policy, transfer ACL, NOTIFY targets) come from the `[server]`
//! section of the config file; see [`ServerSection`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Deserialize;
use zonegate_core::gate::{self, ConvergeOutcome, Generation, PlanStatus, Store, Target};
use zonegate_core::zone::serial::SerialPolicy;
use zonegate_core::{GateConfig, Name, Zone};
use zonegate_server::{AddressMatch, Catalog, HistorySeed, ServerOptions, TsigKey, ZoneOptions};
use zonegate_store::SqliteStore;

use crate::snapshot::Snapshots;

/// How often `data_version` is asked even when the store's files look unchanged (see
/// `SqliteStore::change_stamp`): the bound on noticing a change the file stamp missed.
const DATA_VERSION_EVERY: Duration = Duration::from_millis(100);

/// How often a full pass runs even when `data_version` did not move.
const FULL_PASS_EVERY: Duration = Duration::from_secs(5);

/// How often a server that could not open its store tries again.
const REOPEN_EVERY: Duration = Duration::from_secs(2);

/// The `[server]` section of the config file. Every key is optional:
///
/// ```toml
/// [server]
/// serial_policy = "increment"      # or "unixtime", "dateserial"
/// allow_transfer = ["127.0.0.1", "10.0.0.0/8"]
/// notify = ["127.0.0.1:5301"]
/// notify_retries = 5
/// notify_timeout_ms = 2000
/// history_versions_max = 10
/// transfer_keys = ["xfr-key."]     # transfers also need a TSIG with one of these keys
///
/// [[server.tsig_keys]]             # TSIG keys (RFC 8945), as many as needed
/// name = "xfr-key."
/// algorithm = "hmac-sha256"        # or "hmac-sha384", "hmac-sha512"
/// secret = "base64..."
///
/// [server.zones."example.com."]    # overrides for one zone
/// allow_transfer = ["192.0.2.53"]
/// notify = ["192.0.2.53:53"]
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    #[serde(flatten)]
    default: ZoneSection,
    notify_retries: Option<u32>,
    notify_timeout_ms: Option<u64>,
    #[serde(default)]
    zones: HashMap<String, ZoneSection>,
    #[serde(default)]
    tsig_keys: Vec<TsigKeySection>,
}

/// One `[[server.tsig_keys]]` entry. `Debug` does not show the secret.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TsigKeySection {
    name: String,
    algorithm: String,
    secret: String,
}

impl std::fmt::Debug for TsigKeySection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsigKeySection")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Serving options of one zone, or of every zone.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ZoneSection {
    serial_policy: Option<SerialPolicy>,
    allow_transfer: Option<Vec<String>>,
    transfer_keys: Option<Vec<String>>,
    notify: Option<Vec<SocketAddr>>,
    history_versions_max: Option<usize>,
}

impl ZoneSection {
    /// These options on top of `base`; key names must be among `keys`.
    fn apply(&self, base: &ZoneOptions, keys: &[TsigKey]) -> anyhow::Result<ZoneOptions> {
        let mut out = base.clone();
        if let Some(p) = self.serial_policy {
            out.serial_policy = p;
        }
        if let Some(list) = &self.allow_transfer {
            out.allow_transfer = list
                .iter()
                .map(|s| s.parse::<AddressMatch>())
                .collect::<Result<_, _>>()
                .context("allow_transfer")?;
        }
        if let Some(list) = &self.transfer_keys {
            out.transfer_keys = list
                .iter()
                .map(|name| {
                    let absolute = if name.ends_with('.') {
                        name.clone()
                    } else {
                        format!("{name}.")
                    };
                    Name::parse(&absolute)
                        .ok()
                        .filter(|n| keys.iter().any(|k| k.name == *n))
                        .with_context(|| {
                            format!("transfer_keys: {name:?} is not the name of a [[server.tsig_keys]] entry")
                        })
                })
                .collect::<anyhow::Result<_>>()?;
        }
        if let Some(list) = &self.notify {
            out.notify = list.clone();
        }
        if let Some(n) = self.history_versions_max {
            out.history_versions_max = n;
        }
        Ok(out)
    }
}

impl ServerSection {
    fn options(&self) -> anyhow::Result<ServerOptions> {
        let mut out = ServerOptions::default();
        for k in &self.tsig_keys {
            let key = TsigKey::parse(&k.name, &k.algorithm, &k.secret)
                .with_context(|| format!("[[server.tsig_keys]] {:?}", k.name))?;
            if out.tsig_key(&key.name).is_some() {
                anyhow::bail!(
                    "[[server.tsig_keys]]: the key {:?} is defined twice",
                    k.name
                );
            }
            out.tsig_keys.push(key);
        }
        out.default = self.default.apply(&out.default, &out.tsig_keys)?;
        if let Some(r) = self.notify_retries {
            out.notify_retries = r;
        }
        if let Some(ms) = self.notify_timeout_ms {
            out.notify_timeout = Duration::from_millis(ms.max(1));
        }
        for (zone, section) in &self.zones {
            let absolute = if zone.ends_with('.') {
                zone.clone()
            } else {
                format!("{zone}.")
            };
            let origin = Name::parse(&absolute)
                .with_context(|| format!("[server.zones.{zone:?}] is not a zone name"))?;
            let opts = section
                .apply(&out.default, &out.tsig_keys)
                .with_context(|| format!("[server.zones.{zone:?}]"))?;
            out.zones.insert(origin, opts);
        }
        Ok(out)
    }
}

/// The serving options in the config file's `[server]` section; the defaults without a file.
pub fn server_options(config: Option<&Path>) -> anyhow::Result<ServerOptions> {
    let Some(path) = config else {
        return Ok(ServerOptions::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let mut table: toml::Table = toml::from_str(&text)
        .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
    let Some(section) = table.remove("server") else {
        return Ok(ServerOptions::default());
    };
    let section: ServerSection = section
        .try_into()
        .with_context(|| format!("the [server] section of {} is not valid", path.display()))?;
    section
        .options()
        .with_context(|| format!("the [server] section of {} is not valid", path.display()))
}

/// The config file without its `[server]` section, which the gate settings do not know.
pub fn without_server_section(text: &str) -> Result<toml::Value, toml::de::Error> {
    let mut table: toml::Table = toml::from_str(text)?;
    table.remove("server");
    Ok(toml::Value::Table(table))
}

pub async fn run(
    db: PathBuf,
    cfg: GateConfig,
    listen: Vec<SocketAddr>,
    poll_ms: u64,
    target_id: Option<String>,
    options: ServerOptions,
    snapshots: Snapshots,
) -> anyhow::Result<()> {
    let id = target_id.unwrap_or_else(|| format!("serve@{}", listen[0]));
    let catalog = Arc::new(Catalog::with_options(id, options));
    // Static stability (I7): answer from the last good snapshots first, so that a restart
    // serves at once even if the store is missing, locked or corrupt.
    snapshots.load_into(catalog.as_ref(), &cfg).await;
    // Following the store (reading, decoding and validating bodies, building and installing
    // generations) runs on a thread of its own with its own small runtime, never on the
    // threads and tasks that answer queries: a million-record install must not stall them,
    // even on a server pinned to one CPU.
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let follower = {
        let catalog = catalog.clone();
        std::thread::Builder::new()
            .name("zonegate-follow".into())
            .spawn(move || {
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
    // Bring every zone up to the store's published generation before answering anything.
    ready_rx
        .await
        .context("the thread that follows the store stopped before its first pass")?;
    let result = zonegate_server::serve(&listen, catalog, shutdown_signal())
        .await
        .with_context(|| "the DNS server failed");
    // The follower stops at its next tick; an install it is in the middle of is abandoned
    // with the process.
    let _ = stop_tx.send(true);
    drop(follower);
    result
}

/// Follows the store: one pass over every zone at once (then `ready` is sent), and another
/// whenever SQLite's `data_version` moves (checked every `poll_ms`) or every
/// [`FULL_PASS_EVERY`], until `stop` turns true. Keeps serving what it holds while the store
/// is unreachable (I7), and reopens it every [`REOPEN_EVERY`] if it could not be opened.
async fn follow(
    db: PathBuf,
    catalog: Arc<Catalog>,
    cfg: GateConfig,
    snapshots: Snapshots,
    poll_ms: u64,
    ready: tokio::sync::oneshot::Sender<()>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut store = open(&db).await;
    let mut last_version = None;
    if let Some(store) = &store {
        last_version = store.data_version().await.ok();
        sync_all(store, &catalog, &cfg, &snapshots).await;
    }
    let _ = ready.send(());
    let mut last_full = Instant::now();
    let mut last_open = Instant::now();
    let mut last_asked = Instant::now();
    let mut last_stamp = store.as_ref().and_then(SqliteStore::change_stamp);
    let mut tick = tokio::time::interval(Duration::from_millis(poll_ms.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
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
        let stamp = current.change_stamp();
        if stamp.is_some() && stamp == last_stamp && last_asked.elapsed() < DATA_VERSION_EVERY {
            continue;
        }
        last_stamp = stamp;
        last_asked = Instant::now();
        let version = match current.data_version().await {
            Ok(v) => Some(v),
            Err(e) => {
                // The store is unreachable: keep serving what we hold (I7).
                tracing::warn!(error = %e, "cannot poll the store; still serving the last good generations");
                None
            }
        };
        if version.is_some() && (version != last_version || last_full.elapsed() >= FULL_PASS_EVERY)
        {
            sync_all(current, &catalog, &cfg, &snapshots).await;
            last_version = version;
            last_full = Instant::now();
        }
    }
}

/// Opens the store, or says why not and returns `None`: the server keeps answering from what
/// it holds and tries again later.
async fn open(db: &Path) -> Option<SqliteStore> {
    match SqliteStore::open(db).await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(db = %db.display(), error = %e, "cannot open the store; serving the last good snapshots and retrying");
            None
        }
    }
}

/// The catalog as the protocol's target, seeding the IXFR history from the store on a zone's
/// first install.
struct Seeding<'a> {
    catalog: &'a Catalog,
    store: &'a SqliteStore,
    cfg: &'a GateConfig,
    snapshots: &'a Snapshots,
}

impl Target for Seeding<'_> {
    fn id(&self) -> &str {
        self.catalog.id()
    }

    fn held(&self, zone: &Name) -> Option<Generation> {
        self.catalog.held(zone)
    }

    async fn install(&self, generation: Generation, zone: Zone) -> Result<(), Generation> {
        // The snapshot is written while the catalog builds the generation, and the catalog
        // swaps it in only once the file is in place: it is the same validated content, and a
        // server that crashes right after installing must find it on restart (I7).
        let origin = zone.origin().clone();
        let dir = self.snapshots.dir().to_path_buf();
        let write = self.snapshots.writer(generation, &zone);
        let snapshot = async move {
            if let Err(e) = write.await {
                tracing::warn!(zone = %origin, %generation, dir = %dir.display(), error = %format!("{e:#}"), "cannot write the last-good snapshot");
            }
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
            .install_after(generation, zone, seed, snapshot)
            .await
    }
}

/// The zone's generations below `generation` that were once published and are still stored,
/// up to the history bound, each validated again, folded into a history seed one at a time
/// (oldest first), so that only one earlier version is held in memory at once. Anything
/// unreadable is skipped: history is an optimisation, and a full transfer is always correct.
async fn earlier_published(
    store: &SqliteStore,
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
        .saturating_sub(catalog.options().zone(origin).history_versions_max);
    for g in wanted.into_iter().skip(keep) {
        match store.load_plan(origin, g).await {
            Ok(Some(plan)) => match Zone::decode(origin, &plan.body, &plan.hash, &cfg.limits) {
                Ok(z) => {
                    drop(plan);
                    seed.push(g, z);
                }
                Err(e) => {
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

async fn sync_all(store: &SqliteStore, catalog: &Catalog, cfg: &GateConfig, snapshots: &Snapshots) {
    let zones = match store.published_plans().await {
        Ok(z) => z,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list published zones; still serving the last good generations");
            return;
        }
    };
    let target = Seeding {
        catalog,
        store,
        cfg,
        snapshots,
    };
    for (zone, _generation, _version) in zones {
        let started = Instant::now();
        match gate::converge(store, &target, &zone, cfg).await {
            Ok(ConvergeOutcome::Installed {
                generation,
                previous,
            }) => {
                tracing::info!(
                    %zone, %generation, previous = %gate::OptGen(previous),
                    serial = catalog.serial(&zone).unwrap_or(0),
                    took = ?started.elapsed(),
                    "serving new generation"
                );
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(%zone, error = %e, "cannot install the published generation; still serving the last good one");
            }
        }
    }
}

async fn shutdown_signal() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<ServerOptions> {
        let mut table: toml::Table = toml::from_str(text)?;
        let section: ServerSection = table.remove("server").unwrap().try_into()?;
        section.options()
    }

    #[test]
    fn server_section_with_zone_overrides() {
        let o = parse(
            r#"
            [server]
            serial_policy = "dateserial"
            allow_transfer = ["127.0.0.1", "10.0.0.0/8"]
            notify = ["127.0.0.1:5301"]
            notify_retries = 2
            notify_timeout_ms = 300
            [server.zones."example.com"]
            allow_transfer = ["192.0.2.53"]
            "#,
        )
        .unwrap();
        assert_eq!(o.default.serial_policy, SerialPolicy::DateSerial);
        assert!(o.default.may_transfer("10.1.2.3".parse().unwrap()));
        assert_eq!(o.notify_retries, 2);
        assert_eq!(o.notify_timeout, Duration::from_millis(300));
        let z = o.zone(&Name::parse("example.com.").unwrap());
        // Overridden ACL, inherited policy and NOTIFY targets.
        assert!(!z.may_transfer("10.1.2.3".parse().unwrap()));
        assert!(z.may_transfer("192.0.2.53".parse().unwrap()));
        assert_eq!(z.serial_policy, SerialPolicy::DateSerial);
        assert_eq!(z.notify, vec!["127.0.0.1:5301".parse().unwrap()]);
    }

    #[test]
    fn tsig_keys_and_transfer_keys() {
        let o = parse(
            r#"
            [server]
            allow_transfer = ["127.0.0.1"]
            transfer_keys = ["xfr-key"]
            [[server.tsig_keys]]
            name = "xfr-key."
            algorithm = "hmac-sha256"
            secret = "c2VjcmV0"
            [[server.tsig_keys]]
            name = "other."
            algorithm = "hmac-sha512"
            secret = "b3RoZXI="
            [server.zones."example.com."]
            transfer_keys = ["other.", "xfr-key."]
            [server.zones."open.example."]
            transfer_keys = []
            "#,
        )
        .unwrap();
        let key = |s: &str| Name::parse(s).unwrap();
        assert_eq!(o.tsig_keys.len(), 2);
        assert_eq!(o.tsig_key(&key("other.")).unwrap().secret, b"other");
        assert_eq!(o.default.transfer_keys, vec![key("xfr-key.")]);
        assert_eq!(
            o.zone(&key("example.com.")).transfer_keys,
            vec![key("other."), key("xfr-key.")]
        );
        assert!(o.zone(&key("open.example.")).transfer_keys.is_empty());

        let unknown = parse("[server]\ntransfer_keys = [\"nope.\"]").unwrap_err();
        assert!(format!("{unknown:#}").contains("nope."), "{unknown:#}");
        let twice = "[server]\n[[server.tsig_keys]]\nname = \"k.\"\nalgorithm = \"hmac-sha256\"\nsecret = \"c2VjcmV0\"\n";
        let e = parse(&format!("{twice}{}", &twice[9..])).unwrap_err();
        assert!(format!("{e:#}").contains("twice"), "{e:#}");
        let bad = "[server]\n[[server.tsig_keys]]\nname = \"k.\"\nalgorithm = \"hmac-md5\"\nsecret = \"c2VjcmV0\"\n";
        let e = parse(bad).unwrap_err();
        assert!(format!("{e:#}").contains("hmac-md5"), "{e:#}");
    }

    #[test]
    fn server_section_errors_are_named() {
        let e = parse("[server]\nallow_transfer = [\"10.0.0.0/40\"]").unwrap_err();
        assert!(format!("{e:#}").contains("10.0.0.0/40"), "{e:#}");
        assert!(parse("[server]\nserial_policy = \"keep\"").is_err());
        assert!(parse("[server]\nallow_transfers = []").is_err());
        // The gate settings never see the section.
        let rest = without_server_section("plan_age_max_s = 5\n[server]\nnotify = []\n").unwrap();
        assert!(rest.get("server").is_none());
        assert!(rest.get("plan_age_max_s").is_some());
    }
}
