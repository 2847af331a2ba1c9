//! Following a PostgreSQL store: publications arrive by `LISTEN`/`NOTIFY`, which every publish
//! sends inside its transaction (`zonegate_store::PgFollower`), so a server hears of a
//! publication when it commits, without polling.
//!
//! - A notification names its zone, and only that zone is converged.
//! - After every (re)connect, everything published is read again: notifications sent while
//!   the connection was down are gone.
//! - A slow fallback poll ([`FALLBACK_POLL`]) reads everything published again in any case, so
//!   a notification lost without the connection dropping costs at most one period.
//! - A lost connection is retried with a doubling backoff from [`BACKOFF_MIN`] to
//!   [`BACKOFF_MAX`]. Meanwhile the server answers from what it holds (I7), and a server that
//!   started while PostgreSQL was down answers from its snapshots until the first connect.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use zonegate_core::GateConfig;
use zonegate_server::Catalog;
use zonegate_store::{AnyStore, PgFollower, PgLocation, PgStore, PublishedNotice};

use crate::snapshot::Snapshots;

/// How often everything published is read again even without a notification.
pub const FALLBACK_POLL: Duration = Duration::from_secs(5);

/// The first wait before connecting again after a failure; it doubles up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// What a server following PostgreSQL converges.
pub struct Follow {
    pub catalog: Arc<Catalog>,
    pub cfg: GateConfig,
    pub snapshots: Snapshots,
}

/// The store and its ear, both connected or not yet.
struct Connected {
    store: AnyStore,
    ear: PgFollower,
}

impl Follow {
    /// Follows `location` until `stop` turns true; `ready` is sent after the first attempt
    /// (connected and converged, or not reachable).
    pub async fn run(
        &self,
        location: PgLocation,
        ready: tokio::sync::oneshot::Sender<()>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut store: Option<AnyStore> = None;
        let mut connected = self.connect(&location, &mut store).await;
        let _ = ready.send(());
        let mut backoff = BACKOFF_MIN;
        let mut last_renew = Instant::now();
        let mut poll = tokio::time::interval_at(Instant::now() + FALLBACK_POLL, FALLBACK_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let Some(live) = connected.as_mut() else {
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return,
                }
                connected = self.connect(&location, &mut store).await;
                backoff = if connected.is_some() {
                    BACKOFF_MIN
                } else {
                    (backoff * 2).min(BACKOFF_MAX)
                };
                continue;
            };
            tokio::select! {
                heard = live.ear.next() => match heard {
                    Ok(PublishedNotice::Published(zone)) => {
                        super::sync_zone(&live.store, &self.catalog, &self.cfg, &self.snapshots, &zone).await;
                        super::refresh_catalog(&live.store, &self.catalog, &self.cfg, &self.snapshots).await;
                    }
                    Ok(PublishedNotice::Lost) | Err(_) => {
                        tracing::warn!(db = %location, "lost the connection to PostgreSQL; still serving the last good generations, reconnecting");
                        connected = None;
                    }
                },
                _ = poll.tick() => {
                    super::sync_all(&live.store, &self.catalog, &self.cfg, &self.snapshots).await;
                    if last_renew.elapsed() >= super::renew_every(self.cfg.target_lease_s) {
                        super::renew(&live.store, &self.catalog).await;
                        last_renew = Instant::now();
                    }
                }
                _ = stop.changed() => return,
            }
        }
    }

    /// Opens the store (once; its pool reconnects by itself) and a new ear, then reads
    /// everything published: whatever was published before the ear listened is read here,
    /// whatever after is heard.
    async fn connect(
        &self,
        location: &PgLocation,
        store: &mut Option<AnyStore>,
    ) -> Option<Connected> {
        if store.is_none() {
            match PgStore::open(location).await {
                Ok(opened) => *store = Some(opened.into()),
                Err(e) => {
                    tracing::error!(db = %location, error = %e, "cannot open the store; serving the last good snapshots and retrying");
                    return None;
                }
            }
        }
        let ear = match PgFollower::connect(location).await {
            Ok(ear) => ear,
            Err(e) => {
                tracing::warn!(db = %location, error = %e, "cannot listen for publications; serving the last good generations and retrying");
                return None;
            }
        };
        let store = store.clone()?;
        super::sync_all(&store, &self.catalog, &self.cfg, &self.snapshots).await;
        // Zones installed from snapshots and already up to date: recorded now (and renewed
        // with the fallback poll, at most every 5 s, from then on).
        super::renew(&store, &self.catalog).await;
        tracing::info!(db = %location, "following PostgreSQL by notification");
        Some(Connected { store, ear })
    }
}
