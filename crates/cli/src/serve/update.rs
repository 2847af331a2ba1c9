//! The binary's [`UpdateSink`]: DNS UPDATEs the server admitted, run through the gate against
//! the store, one at a time, on a thread of their own.
//!
//! Each message is one `gate::update` (judged on the published generation, planned on it,
//! published with the compare-and-swap, judged again if another publication got in between,
//! at most [`ATTEMPTS_MAX`] times). The actor is the TSIG key's name, else the client's
//! address. After a publication the new generation is installed into the running catalog at
//! once (`gate::converge_known`, with the follower's own target, so snapshots and IXFR
//! history are kept as for any publication), and the answer waits until the catalog serves
//! it: NOERROR means durably published and served. The fast answers of that generation go on
//! building after the answer (queries take the general path, with the same bytes, meanwhile).
//! Then the generation goes to the compaction thread (`compact`), which writes the checkpoint
//! the stage left due, off the answer's path; and the clean-up step runs, keeping `generations_keep` and every live or pinned plan, so
//! that a stream of updates does not grow the store.
//!
//! While the worker installs a generation it published, it holds a claim on it
//! ([`installing`]): the follower counts that generation as held, rather than reading it from
//! the store and decoding and validating it a second time meanwhile (a second of work at a
//! million records, and a race for the install).
//!
//! One worker serialises the updates this server receives: they would serialise on SQLite's
//! write lock anyway, and in order they never race each other, only other publishers.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{mpsc, oneshot};
use zonegate_core::gate::chain::CheckpointWhen;
use zonegate_core::gate::{
    self, Actor, Generation, KnownContent, StepError, StoreError, Target, UpdateError,
    UpdateOutcome, UpdateRequest,
};
use zonegate_core::{GateConfig, Name};
use zonegate_server::{Catalog, UpdateCall, UpdateFuture, UpdateSink};
use zonegate_store::AnyStore;

use super::Seeding;
use super::compact::Compactor;
use crate::context::now;
use crate::snapshot::Snapshots;

/// How many times one message is judged before a race with other publishers is given up
/// (SERVFAIL, with a log line).
pub const ATTEMPTS_MAX: u32 = 5;

/// Updates waiting for the worker; a client beyond this waits for room.
const QUEUE: usize = 256;

type Reply = oneshot::Sender<Result<UpdateOutcome, UpdateError>>;

/// The sink the catalog hands admitted UPDATEs to.
pub struct StoreSink {
    queue: mpsc::Sender<(UpdateCall, Reply)>,
}

impl UpdateSink for StoreSink {
    fn update(&self, call: UpdateCall) -> UpdateFuture<'_> {
        Box::pin(async move {
            let (tx, rx) = oneshot::channel();
            let gone = || {
                UpdateError::Step(StepError::Store(StoreError::Backend {
                    detail: "the update worker stopped".into(),
                }))
            };
            self.queue.send((call, tx)).await.map_err(|_| gone())?;
            rx.await.map_err(|_| gone())?
        })
    }
}

/// What the worker needs.
pub struct Worker {
    pub db: zonegate_store::StoreLocation,
    pub catalog: Arc<Catalog>,
    pub cfg: GateConfig,
    pub snapshots: Snapshots,
}

/// Starts the worker thread and sets its sink on the catalog, with the thread that writes
/// the checkpoints its stages leave due ([`Compactor`]).
pub fn start(mut worker: Worker) -> anyhow::Result<()> {
    let (queue, rx) = mpsc::channel(QUEUE);
    worker.cfg.store.checkpoint_when = CheckpointWhen::AfterPublish;
    let compactor = Compactor::start(worker.db.clone(), worker.cfg.store.checkpoint_every)?;
    let catalog = worker.catalog.clone();
    std::thread::Builder::new()
        .name("zonegate-update".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                // A local set: the installs the worker starts borrow its state.
                Ok(rt) => {
                    rt.block_on(tokio::task::LocalSet::new().run_until(work(worker, compactor, rx)))
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the runtime that runs DNS UPDATEs")
                }
            }
        })
        .context("cannot start the thread that runs DNS UPDATEs")?;
    catalog.set_update_sink(Arc::new(StoreSink { queue }));
    Ok(())
}

/// Runs each queued update and answers it, until every sender is gone.
async fn work(w: Worker, compactor: Compactor, mut rx: mpsc::Receiver<(UpdateCall, Reply)>) {
    let w = Arc::new(w);
    // Opened before the first update arrives (connecting and checking the schema is not the
    // first client's wait); one that cannot be opened now is tried again at each update.
    let mut store: Option<AnyStore> = AnyStore::open(&w.db).await.ok();
    // What this worker last published of each zone (at first, what the catalog serves): the
    // next update's base while it is still the published generation, so it is not decoded and
    // validated again.
    let mut known: HashMap<Name, KnownContent> = HashMap::new();
    while let Some((call, reply)) = rx.recv().await {
        if store.is_none() {
            store = match AnyStore::open(&w.db).await {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::error!(db = %w.db, error = %e, "cannot open the store for a DNS UPDATE");
                    let _ = reply.send(Err(UpdateError::Step(StepError::Store(e))));
                    continue;
                }
            };
        }
        let Some(s) = &store else { continue };
        let zone = call.message.zone.clone();
        let busy = Updating::new(&zone);
        let mut kept = known.remove(&zone).or_else(|| held(&w, &zone));
        let outcome = one(&w, s, &call, &mut kept).await;
        // The generation a publication superseded (its base) is the one compacted, not the
        // one it published: a superseded row's status never changes again, and SQLite writes
        // a row anew when a column of it changes size, so the next publication would rewrite
        // a published checkpoint whole (35 MB at a million records, about 110 ms).
        let superseded = match &outcome {
            Ok(UpdateOutcome::Published { base, .. }) => Some(*base),
            _ => None,
        };
        let _ = reply.send(outcome);
        drop(busy);
        if let Some(k) = kept {
            known.insert(zone.clone(), k);
        }
        if let Some(generation) = superseded {
            compactor.superseded(&zone, generation);
            match gate::cleanup(s, &zone, &w.cfg, now()).await {
                Ok(0) => {}
                Ok(deleted) => tracing::debug!(%zone, deleted, "cleaned up after a DNS UPDATE"),
                Err(e) => tracing::warn!(%zone, error = %e, "clean-up after a DNS UPDATE failed"),
            }
        }
    }
}

/// What the catalog serves of `zone`, as published: the base of the first update after a
/// start (the follower installed it from the store or a snapshot, hash-checked and validated
/// under the same limits), so that one is not a whole read of the published plan. The gate
/// uses it only while it is the published generation with that hash.
fn held(w: &Worker, zone: &Name) -> Option<KnownContent> {
    let (generation, content) = w.catalog.held_content(zone)?;
    Some(KnownContent::held(generation, content, &w.cfg.limits))
}

/// The actor of an update: the key's name, else the client's address.
fn actor(call: &UpdateCall) -> Actor {
    let name = call
        .key
        .as_ref()
        .map_or_else(|| call.client.ip().to_string(), Name::to_string);
    Actor::new(&name).unwrap_or_else(|_| Actor::recorded(name))
}

/// One update through the gate; after a publication, the install started and waited for until
/// the catalog serves the new generation (the prepared answers go on building after that).
async fn one(
    w: &Arc<Worker>,
    store: &AnyStore,
    call: &UpdateCall,
    known: &mut Option<KnownContent>,
) -> Result<UpdateOutcome, UpdateError> {
    let actor = actor(call);
    let req = UpdateRequest {
        message: &call.message,
        key: call.key.as_ref(),
        grants: &call.grants,
        attempts_max: ATTEMPTS_MAX,
    };
    let zone = &call.message.zone;
    let started = std::time::Instant::now();
    let outcome = gate::update(store, known, req, &w.cfg, now(), &actor).await;
    let gate_ms = started.elapsed().as_millis();
    if let Err(UpdateError::Raced { attempts, .. }) = &outcome {
        tracing::error!(%zone, attempts, actor = %actor, "DNS UPDATE gave up: other publications kept moving the zone");
    }
    let Ok(UpdateOutcome::Published { generation, .. }) = outcome else {
        return outcome;
    };
    let claim = Claim::new(zone, generation);
    let install = tokio::task::spawn_local(install(w.clone(), store.clone(), claim, known.clone()));
    // Served once the catalog holds it; an install that fails or is overtaken ends the wait too.
    let waited = tokio::time::timeout(SERVED_WAIT, async {
        while w.catalog.held(zone).is_none_or(|held| held < generation) && !install.is_finished() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    if waited.is_err() {
        tracing::warn!(%zone, %generation, "published by DNS UPDATE, not served within {SERVED_WAIT:?}; answering anyway");
    }
    let served_ms = started.elapsed().as_millis() - gate_ms;
    tracing::info!(%zone, %generation, actor = %actor, serial = w.catalog.serial(zone).unwrap_or(0), gate_ms, served_ms, "published by DNS UPDATE");
    outcome
}

/// The zones the worker is running an update of now (see [`updating`]).
static UPDATING: Mutex<BTreeSet<Name>> = Mutex::new(BTreeSet::new());

/// True while the worker runs an update of `zone`, from before it reads the published
/// generation until it answers: the follower skips the zone meanwhile. Otherwise it would see
/// the worker's publication in the moment between its commit and the worker's [`Claim`], and
/// read and validate that generation while the worker installs the same one (seen at a
/// million records on nearly every update, about 130 ms of CPU each). The follower's next pass
/// after the update brings the zone to whatever is published then (I6).
pub(super) fn updating(zone: &Name) -> bool {
    UPDATING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .contains(zone)
}

/// The worker's mark on a zone while it runs one update of it.
struct Updating(Name);

impl Updating {
    fn new(zone: &Name) -> Updating {
        UPDATING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(zone.clone());
        Updating(zone.clone())
    }
}

impl Drop for Updating {
    fn drop(&mut self) {
        UPDATING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.0);
    }
}

/// The generation of each zone the worker is installing now (see [`installing`]).
static INSTALLING: Mutex<BTreeMap<Name, Generation>> = Mutex::new(BTreeMap::new());

/// The generation of `zone` this worker is installing now, if any: the follower counts it as
/// held, so it does not read the same generation from the store, decode and validate it while
/// the worker installs it from the content it holds. An install that fails ends its claim, and
/// the follower's next pass installs the generation (I6).
pub(super) fn installing(zone: &Name) -> Option<Generation> {
    INSTALLING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(zone)
        .copied()
}

/// The worker's claim on installing one generation, from its publication until its install
/// ends.
struct Claim {
    zone: Name,
    generation: Generation,
}

impl Claim {
    fn new(zone: &Name, generation: Generation) -> Claim {
        let mut all = INSTALLING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = all.entry(zone.clone()).or_insert(generation);
        *at = (*at).max(generation);
        Claim {
            zone: zone.clone(),
            generation,
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut all = INSTALLING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if all.get(&self.zone) == Some(&self.generation) {
            all.remove(&self.zone);
        }
    }
}

/// How long an update that was published waits for the catalog to serve it before answering.
const SERVED_WAIT: Duration = Duration::from_secs(60);

/// Installs what was just published into the catalog, with the follower's own target; the
/// claim ends with it, installed or not.
async fn install(w: Arc<Worker>, store: AnyStore, claim: Claim, known: Option<KnownContent>) {
    let zone = claim.zone.clone();
    let target = Seeding {
        catalog: &w.catalog,
        store: &store,
        cfg: &w.cfg,
        snapshots: &w.snapshots,
        defer_to_updates: false,
    };
    let installed = match known {
        Some(k) => gate::converge_known(&store, &target, &zone, k, &w.cfg, now()).await,
        None => gate::converge(&store, &target, &zone, &w.cfg, now()).await,
    };
    if let Err(e) = installed {
        // Published durably; the follower installs it at its next pass.
        tracing::warn!(%zone, error = %e, "published by DNS UPDATE but not installed yet");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_lasts_until_its_install_ends_and_a_newer_one_outlives_it() {
        let zone = Name::parse("claims.example.").unwrap();
        assert_eq!(installing(&zone), None);
        let first = Claim::new(&zone, Generation(4));
        assert_eq!(installing(&zone), Some(Generation(4)));
        // The next update published before the first install ended.
        let second = Claim::new(&zone, Generation(5));
        assert_eq!(installing(&zone), Some(Generation(5)));
        drop(first);
        assert_eq!(installing(&zone), Some(Generation(5)));
        drop(second);
        assert_eq!(installing(&zone), None);
    }

    #[test]
    fn a_zone_is_marked_updating_until_its_mark_is_dropped() {
        let zone = Name::parse("marks.example.").unwrap();
        let other = Name::parse("other.example.").unwrap();
        assert!(!updating(&zone));
        let mark = Updating::new(&zone);
        assert!(updating(&zone) && !updating(&other));
        drop(mark);
        assert!(!updating(&zone));
    }
}
