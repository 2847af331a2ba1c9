//! [`PgFollower`]: a server's ear on the store. It listens on [`PUBLISHED_CHANNEL`], which every
//! publish notifies inside its transaction, and says when its connection was lost: the
//! notifications sent meanwhile are gone, so the caller connects a new follower and then reads
//! everything published again. A lost notification without a lost connection cannot be
//! seen here; the caller's slow fallback poll bounds that.

use sqlx::postgres::{PgListener, PgPoolOptions};
use zonegate_core::Name;
use zonegate_core::gate::StoreError;

use super::{CONNECT_TIMEOUT_DEFAULT, PUBLISHED_CHANNEL, PgStore, store_error};
use crate::{PgLocation, name_from_sql};

/// A LISTEN connection of its own (never one of the store's pool).
pub struct PgFollower {
    listener: PgListener,
}

/// What [`PgFollower::next`] heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishedNotice {
    /// A publication of this zone committed.
    Published(Name),
    /// The connection was lost: notifications may have been missed. Connect a new follower,
    /// then read everything published again.
    Lost,
}

impl PgFollower {
    /// Connects and listens, within the connect timeout.
    pub async fn connect(location: &PgLocation) -> Result<PgFollower, StoreError> {
        let options = PgStore::options(location)?;
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(CONNECT_TIMEOUT_DEFAULT)
            .connect_lazy_with(options);
        let mut listener = PgListener::connect_with(&pool).await.map_err(store_error)?;
        // Reconnecting is the caller's (a new follower, with its backoff), so that it knows to
        // read everything again.
        listener.eager_reconnect(false);
        match tokio::time::timeout(CONNECT_TIMEOUT_DEFAULT, listener.listen(PUBLISHED_CHANNEL))
            .await
        {
            Ok(listened) => listened
                .map(|()| PgFollower { listener })
                .map_err(store_error),
            Err(_) => Err(StoreError::Backend {
                detail: format!(
                    "no answer from PostgreSQL within {} s",
                    CONNECT_TIMEOUT_DEFAULT.as_secs()
                ),
            }),
        }
    }

    /// Waits for the next notification, or for the connection to be lost.
    pub async fn next(&mut self) -> Result<PublishedNotice, StoreError> {
        match self.listener.try_recv().await.map_err(store_error)? {
            Some(notice) => Ok(PublishedNotice::Published(name_from_sql(notice.payload())?)),
            None => Ok(PublishedNotice::Lost),
        }
    }
}
