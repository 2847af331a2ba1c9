//! Checkpoints written after the answer: the DNS UPDATE worker stages with
//! `CheckpointWhen::AfterPublish`, so a chain that is due a checkpoint is not rebuilt and
//! written whole (seconds at a million records) while a client waits. After it has answered,
//! the worker hands the generation it published to this thread, which runs `Store::compact`
//! on its own connection: the rebuild reads without the write lock, and only the row's rewrite
//! takes it. Requests that queue up while one runs are coalesced to the newest generation of
//! each zone. A compaction that fails or never runs only leaves a longer chain, and the stage
//! writes the checkpoint itself at twice the usual bound (`gate::chain`). The thread runs at
//! background priority (nice 10), so the next UPDATE and the answers come first.

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
                // Below the answering threads and the update worker, like the follower: a
                // million-record rebuild (about a second of CPU) takes what they leave. The
                // store's connection thread and blocking threads started from here inherit it.
                zonegate_server::lower_thread_priority();
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(run(db, checkpoint_every, rx)),
                    Err(e) => tracing::error!(error = %e, "cannot start the compaction runtime"),
                }
            })
            .context("cannot start the thread that writes checkpoints")?;
        Ok(Compactor { queue })
    }

    /// Asks for `generation` of `zone` to be compacted if it is due (see `gate::chain::due`).
    pub fn published(&self, zone: &Name, generation: Generation) {
        if self.queue.send((zone.clone(), generation)).is_err() {
            tracing::warn!(%zone, %generation, "the compaction thread is gone; the stage writes checkpoints at twice the bound");
        }
    }
}

async fn run(
    db: StoreLocation,
    checkpoint_every: u32,
    mut rx: mpsc::UnboundedReceiver<(Name, Generation)>,
) {
    let mut store: Option<AnyStore> = None;
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
