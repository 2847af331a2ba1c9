//! `zonegate serve`: answer from the published generations and follow new publications.
//!
//! The server is a target of the protocol: it converges each zone to the published generation
//! with [`protocol::converge`], the same step the loom suite checks. New publications, also
//! those made by other processes, are noticed by polling SQLite's `data_version`, which is
//! cheap, every `poll_ms`; a full pass also runs every few seconds as a safety net.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use zonegate_core::GateConfig;
use zonegate_core::protocol::{self, ConvergeOutcome};
use zonegate_server::Catalog;
use zonegate_store::SqliteStore;

/// How often a full pass runs even when `data_version` did not move.
const FULL_PASS_EVERY: Duration = Duration::from_secs(5);

pub async fn run(
    store: SqliteStore,
    cfg: GateConfig,
    listen: Vec<SocketAddr>,
    poll_ms: u64,
    target_id: Option<String>,
) -> anyhow::Result<()> {
    let id = target_id.unwrap_or_else(|| format!("serve@{}", listen[0]));
    let catalog = Arc::new(Catalog::new(id));
    // Load every published zone before answering anything, so a restart serves straight away.
    sync_all(&store, &catalog, &cfg).await;
    let poller = {
        let catalog = catalog.clone();
        tokio::spawn(async move {
            let mut last_version = None;
            let mut last_full = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_millis(poll_ms.max(10)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let version = match store.data_version().await {
                    Ok(v) => Some(v),
                    Err(e) => {
                        // The store is unreachable: keep serving what we hold (I7).
                        tracing::warn!(error = %e, "cannot poll the store; still serving the last good generations");
                        None
                    }
                };
                if version.is_some()
                    && (version != last_version || last_full.elapsed() >= FULL_PASS_EVERY)
                {
                    sync_all(&store, &catalog, &cfg).await;
                    last_version = version;
                    last_full = Instant::now();
                }
            }
        })
    };
    let result = zonegate_server::serve(&listen, catalog, shutdown_signal())
        .await
        .with_context(|| "the DNS server failed");
    poller.abort();
    result
}

async fn sync_all(store: &SqliteStore, catalog: &Catalog, cfg: &GateConfig) {
    let zones = match store.published_plans().await {
        Ok(z) => z,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list published zones; still serving the last good generations");
            return;
        }
    };
    for (zone, _generation, _version) in zones {
        match protocol::converge(store, catalog, &zone, cfg).await {
            Ok(ConvergeOutcome::Installed {
                generation,
                previous,
            }) => {
                tracing::info!(%zone, %generation, previous = %protocol::OptGen(previous), "serving new generation");
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
