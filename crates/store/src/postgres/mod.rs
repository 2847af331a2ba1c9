//! The PostgreSQL store: the same [`Store`] trait, the same read models and the same
//! invariants as [`crate::SqliteStore`], for several hosts sharing one store.
//!
//! # Design
//!
//! ## One zone, one writer at a time: the zone row lock
//!
//! SQLite has one writer per file, so a transaction that reads and then writes sees nothing
//! change in between. PostgreSQL runs many transactions at once, and under its default READ
//! COMMITTED isolation a horizon computed in one statement can miss a pin another transaction
//! commits a moment later. Every method that decides and writes therefore starts its
//! transaction by locking the zone's row (`SELECT … FROM zones WHERE origin = $1 FOR
//! UPDATE`), and holds the lock to the commit:
//!
//! - every step on one zone (stage, publish, pin, unpin, record a target, clean up, set a
//!   verdict) takes the same lock first, so they run one after the other, exactly as in SQLite;
//! - under READ COMMITTED each statement after the lock reads a fresh snapshot, which includes
//!   every step that held the lock before, so what a step checks still holds when it writes;
//! - steps on different zones lock different rows and never wait for each other;
//! - nothing is retried: a lock wait is a queue, not a failure, whereas SERIALIZABLE would
//!   abort the losers of every race with 40001 and need a retry loop (and a bound on it) in
//!   every step. The lock is also what the October race needs: clean-up and a pin on the same
//!   zone can no longer interleave at all.
//!
//! The first plan of a zone has no row to lock yet: `stage` inserts it with `ON CONFLICT DO
//! NOTHING` (a concurrent insert of the same zone waits for the first to commit, then does
//! nothing) and then locks it. A zone row is never deleted, so the lock always finds it.
//!
//! The compare-and-swap stays one conditional `UPDATE` (freshness, verdict and pointer in one
//! statement) even under the lock: the lock makes the step atomic, the statement keeps the
//! check and the write in one place.
//!
//! ## Following publications
//!
//! A publish sends `NOTIFY zonegate_published, '<origin>'` inside its transaction, so the
//! notification is delivered exactly when (and only if) the publication commits.
//! [`PgFollower`] listens for it; see `follow.rs`.

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Postgres, Transaction};
use zonegate_core::gate::StoreError;

use crate::PgLocation;

mod catalog;
mod follow;
mod reads;
mod steps;

pub use follow::{PgFollower, PublishedNotice};

/// How long opening the store, or taking a connection from the pool, may take before the
/// operation fails with "store unavailable" ([`StoreError::Backend`]): a PostgreSQL that is
/// down or unreachable never makes a command hang.
pub const CONNECT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);

/// How long one statement may run (`statement_timeout`), lock waits included: a step queued
/// behind a stuck transaction on its zone fails instead of waiting forever.
pub const STATEMENT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);

/// Connections per process. Steps on different zones run in parallel on different connections.
const POOL_CONNECTIONS_MAX: u32 = 8;

/// The channel a publish notifies, with the zone's origin as the payload.
pub const PUBLISHED_CHANNEL: &str = "zonegate_published";

pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

/// The PostgreSQL store. Cheap to clone (the pool is shared); every method is safe to call
/// concurrently, from any number of processes and hosts.
#[derive(Debug, Clone)]
pub struct PgStore {
    location: PgLocation,
    pool: PgPool,
}

/// SQLSTATE classes and codes the store tells apart.
fn store_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            let message = db.message();
            if code.starts_with("23") {
                StoreError::Constraint {
                    detail: message.to_string(),
                }
            } else if code == "57014" {
                StoreError::Backend {
                    detail: format!(
                        "a statement took longer than the statement timeout: {message}"
                    ),
                }
            } else {
                StoreError::Backend {
                    detail: format!("PostgreSQL said: {message} (SQLSTATE {code})"),
                }
            }
        }
        sqlx::Error::PoolTimedOut => StoreError::Backend {
            detail: format!(
                "no connection to PostgreSQL within {} s",
                CONNECT_TIMEOUT_DEFAULT.as_secs()
            ),
        },
        // I/O, TLS and protocol errors name neither the URL nor the password.
        other => StoreError::Backend {
            detail: format!("cannot reach PostgreSQL: {other}"),
        },
    }
}

impl PgStore {
    /// Connects to `location` and brings its schema up to date (the migrations take
    /// PostgreSQL's advisory lock, so several hosts starting at once apply each one once). The
    /// password comes from the location, else `PGPASSWORD`, else libpq's passfile. Fails with
    /// [`StoreError::Backend`] ("store unavailable") within [`CONNECT_TIMEOUT_DEFAULT`].
    pub async fn open(location: &PgLocation) -> Result<PgStore, StoreError> {
        Self::connect(location, true).await
    }

    /// [`PgStore::open`] for commands that only read: the schema is not migrated.
    pub async fn open_existing(location: &PgLocation) -> Result<PgStore, StoreError> {
        Self::connect(location, false).await
    }

    pub(crate) fn options(location: &PgLocation) -> Result<PgConnectOptions, StoreError> {
        let mut options: PgConnectOptions =
            location.url().parse().map_err(|e| StoreError::Backend {
                detail: format!("{location} is not a PostgreSQL URL zonegate can use: {e}"),
            })?;
        if let Some(password) = location.password() {
            options = options.password(password);
        }
        let timeout_ms = STATEMENT_TIMEOUT_DEFAULT.as_millis().to_string();
        // client_min_messages: the migrations' `CREATE … IF NOT EXISTS` notices would
        // otherwise be logged at INFO by every command.
        Ok(options.application_name("zonegate").options([
            ("statement_timeout", timeout_ms.as_str()),
            ("client_min_messages", "warning"),
        ]))
    }

    async fn connect(location: &PgLocation, migrate: bool) -> Result<PgStore, StoreError> {
        let options = Self::options(location)?;
        let work = async {
            // One connection first, outside the pool: the pool retries a refused connection
            // until its timeout, so a server that is down would cost the whole timeout to
            // report; a lone connection fails at once.
            let first = PgConnection::connect_with(&options)
                .await
                .map_err(store_error)?;
            // Closing is courtesy: a failure here leaves nothing behind on the server.
            let _ = first.close().await;
            let pool = PgPoolOptions::new()
                .max_connections(POOL_CONNECTIONS_MAX)
                .acquire_timeout(CONNECT_TIMEOUT_DEFAULT)
                .connect_lazy_with(options);
            if migrate {
                MIGRATOR.run(&pool).await.map_err(|e| StoreError::Backend {
                    detail: format!("cannot bring the schema up to date: {e}"),
                })?;
            }
            Ok(pool)
        };
        let pool = match tokio::time::timeout(CONNECT_TIMEOUT_DEFAULT, work).await {
            Ok(pool) => pool?,
            Err(_) => {
                return Err(StoreError::Backend {
                    detail: format!(
                        "no answer from PostgreSQL within {} s",
                        CONNECT_TIMEOUT_DEFAULT.as_secs()
                    ),
                });
            }
        };
        Ok(PgStore {
            location: location.clone(),
            pool,
        })
    }

    /// Where the store is (print it: it has no password).
    pub fn location(&self) -> &PgLocation {
        &self.location
    }

    /// Closes every connection, waiting for operations in flight.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(store_error)
    }
}

/// Locks the zone's row until the transaction ends: THE serialization point of every step on
/// one zone (see the module notes). `None` if the store has never seen the zone.
async fn lock_zone(
    conn: &mut PgConnection,
    origin: &str,
) -> Result<Option<Option<i64>>, StoreError> {
    sqlx::query_scalar::<_, Option<i64>>(
        "SELECT published_generation FROM zones WHERE origin = $1 FOR UPDATE",
    )
    .bind(origin)
    .fetch_optional(conn)
    .await
    .map_err(store_error)
}

/// The statements both engines share (see `shared.rs`), for PostgreSQL.
mod statements {
    crate::shared::engine_statements!(sqlx::postgres::PgConnection, super::store_error);
}
use statements::{
    cleanup_in, compact_read_in, compact_write_in, insert_audit, load_deltas_in, load_head_in,
    load_plan_in, newest_in, pin_in, publish_in, published_in, record_target_in, set_verdict_in,
    stage_in, unpin_in,
};

#[cfg(test)]
pub(crate) fn pool(store: &PgStore) -> &PgPool {
    &store.pool
}
