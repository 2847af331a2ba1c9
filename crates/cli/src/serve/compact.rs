//! Checkpoints written after the answer: the DNS UPDATE worker stages with
//! `CheckpointWhen::AfterPublish`, so a chain that is due a checkpoint is not rebuilt and
//! written whole (seconds at a million records) while a client waits. After it has answered,
//! the worker hands the generation its publication superseded (its base: a row whose status
//! no longer changes, see `serve/update.rs`) to this thread, which runs `Store::compact`
//! on its own connection: the rebuild reads without the write lock, and only the row's rewrite
//! takes it. Requests that queue up while one runs are coalesced to the newest generation of
//! each zone. A compaction that fails or never runs only leaves a longer chain, and the stage
//! writes the checkpoint itself at the hard bound (`gate::chain`). The thread runs at
//! background priority (nice 10), so the next UPDATE and the answers come first; its store
//! connection's thread, which runs the rewrite under the write lock, does not.

use std::collections::BTreeMap;

use anyhow::Context;
use tokio::sync::mpsc;
use zonegate_core::Name;
use zonegate_core::gate::{Compaction, Generation, Store};
use zonegate_store::{AnyStore, StoreLocation};

/// The handle the update worker sends published generations to.
pub struct Compactor {
    queue: mpsc::UnboundedSender<(Name, Generation)>,
}

impl Compactor {
    /// Starts the compaction thread for the store at `db`.
    pub fn start(db: StoreLocation, checkpoint_every: u32) -> anyhow::Result<Compactor> {
        let (queue, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("zonegate-compact".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot start the compaction runtime");
                        return;
                    }
                };
                // The store is opened first, at normal priority, so that its connection's
                // thread, which runs the row's rewrite while it holds the database's write lock,
                // is not starved while an UPDATE waits for that lock. Then this thread goes
                // below the answering threads and the update worker, like the follower: the
                // million-record rebuild (about a second of CPU) runs here and takes what they
                // leave; blocking threads started from here inherit that.
                let store = rt.block_on(AnyStore::open(&db)).ok();
                zonegate_server::lower_thread_priority();
                rt.block_on(run(db, store, checkpoint_every, rx));
            })
            .context("cannot start the thread that writes checkpoints")?;
        Ok(Compactor { queue })
    }

    /// Asks for `generation` of `zone`, which a publication just superseded, to be compacted
    /// if it is due (see `gate::chain::due`).
    pub fn superseded(&self, zone: &Name, generation: Generation) {
        if self.queue.send((zone.clone(), generation)).is_err() {
            tracing::warn!(%zone, %generation, "the compaction thread is gone; the stage writes checkpoints at the hard bound");
        }
    }
}

/// Compacts what `rx` asks for, with `store` (opened before the first request, like the
/// update worker's, so that the first compaction after a start does not open and check the
/// store while UPDATEs run; opened again here if that failed).
async fn run(
    db: StoreLocation,
    mut store: Option<AnyStore>,
    checkpoint_every: u32,
    mut rx: mpsc::UnboundedReceiver<(Name, Generation)>,
) {
    while let Some((zone, generation)) = rx.recv().await {
        let mut newest = BTreeMap::from([(zone, generation)]);
        while let Ok((zone, generation)) = rx.try_recv() {
            newest.insert(zone, generation);
        }
        if store.is_none() {
            store = AnyStore::open(&db)
                .await
                .inspect_err(|e| tracing::warn!(db = %db, error = %e, "cannot open the store to write checkpoints"))
                .ok();
        }
        let Some(s) = &store else { continue };
        for (zone, generation) in newest {
            compact_one(s, &zone, generation, checkpoint_every).await;
        }
    }
}

async fn compact_one(s: &AnyStore, zone: &Name, generation: Generation, every: u32) {
    let started = std::time::Instant::now();
    match s.compact(zone, generation, every).await {
        Ok(Compaction::Written { bytes }) => tracing::info!(
            %zone, %generation, bytes, elapsed_ms = started.elapsed().as_millis() as u64,
            "wrote a checkpoint after a DNS UPDATE"
        ),
        Ok(Compaction::NotDue | Compaction::Gone) => {}
        Err(e) => tracing::warn!(
            %zone, %generation, error = %e,
            "could not write a checkpoint; the chain stays longer until the next one"
        ),
    }
}
