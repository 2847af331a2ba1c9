//! The stores: plans, the published pointer, targets, pins and the audit log, on SQLite
//! ([`SqliteStore`], embedded, the default) or PostgreSQL ([`PgStore`], shared by several
//! hosts; its design notes are in `postgres/mod.rs`), and [`AnyStore`], which the binary holds.
//! This is the only crate that speaks SQL.
//!
//! # Design
//!
//! [`SqliteStore`] implements [`zonegate_core::gate::Store`]. Every trait method is ONE
//! transaction, and every method that writes opens it with `BEGIN IMMEDIATE`, which takes the
//! database's write lock up front. A deferred transaction that reads first and writes later
//! would have to upgrade its lock, and two processes doing that at once fail with
//! `SQLITE_BUSY` without the busy timeout ever helping; taking the lock at `BEGIN` makes the
//! second writer wait its turn instead. Since the lock is held from the first read to the
//! commit, whatever a method checks still holds when it writes.
//!
//! The publish step is one conditional `UPDATE` (the compare-and-swap of invariant I1): the
//! "is it newer and is the base still current" check and the pointer write are the same
//! statement, so there is no gap between them for another enactor to slip into. The plan
//! statuses and the audit row are written in the same transaction (I4).
//!
//! ## Structure
//!
//! ```text
//!   zones ──published_generation──▶ plans ◀──(origin, generation)── targets
//!     ▲                               │  ▲
//!     └────────────origin─────────────┘  └──(origin, generation)──── pins
//!   audit (append-only, no foreign keys: it outlives the plans it mentions)
//! ```
//!
//! Every arrow into `plans` is a foreign key with `ON DELETE RESTRICT`, backed by a trigger
//! that holds even on connections with foreign keys off: the database itself refuses to delete
//! a plan that is published, held by a target or pinned (I2). The schema lives in the
//! top-level `migrations/sqlite/` directory, embedded at compile time and applied by [`SqliteStore::open`].
//!
//! ## Clean-up
//!
//! The horizon is `min(published, every live target's generation for the zone, every
//! unexpired pin)`. A target row is live while it was recorded or renewed within the target
//! lease; older rows (servers that are gone) are deleted first, like expired pins. Clean-up deletes, in one `DELETE`, the plans below the horizon that are not among the
//! zone's newest `keep` plans (counted over all of the zone's plans, whatever their status).
//! A zone that never published anything has no horizon, and clean-up deletes nothing from it:
//! every plan it has may still be the first one published.
//!
//! ## Watching for change
//!
//! [`SqliteStore::data_version`] reads `PRAGMA data_version` on a dedicated connection that
//! never writes. SQLite changes that number whenever another connection, in this process or
//! another, commits; a server's poll loop compares it with the last value it saw and only
//! re-reads [`SqliteStore::published_plans`] when it moved.
//!
//! ## Words
//!
//! - A **generation** numbers a zone's plans; it only grows and is never reused.
//! - The **publish count** of a zone is bumped by every successful publish
//!   ([`zonegate_core::gate::Published::publish_count`]). Its column is still called `version`:
//!   renaming it takes a migration, and a server of the previous release still running on the
//!   same database file (several processes share it) would then fail every poll; a word no
//!   user sees is not worth that. The Rust side calls it the publish count everywhere, and
//!   `--json` keeps printing `version`.
//! - **`data_version`** is SQLite's own counter of commits by other connections, and only
//!   [`SqliteStore::data_version`] says it.
//! - Every state the SQL names (a plan's status, its verdict) is bound from its core enum or,
//!   for the publishable verdicts, generated from [`Verdict::is_publishable`]; the
//!   migrations' copies are held to the enums by `schema_tests`.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use serde::{Serialize, Serializer};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, Row, Sqlite, Transaction};
use zonegate_core::gate::{
    Actor, AuditAction, AuditEntry, Compaction, DeltaStep, Generation, NewPlan, PlanHead,
    PlanStatus, Published, ReasonCode, Store, StoreError, StoredPlan, Verdict, optional_reason,
};
use zonegate_core::zone::serial::SerialRequest;
use zonegate_core::{ContentHash, Name};

/// How long a writer waits for another writer's lock before giving up with
/// [`StoreError::Backend`].
pub const BUSY_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);

/// Connections in the main pool. SQLite has one writer at a time anyway; a few connections let
/// readers proceed while a writer holds the lock (WAL mode).
const POOL_CONNECTIONS_MAX: u32 = 4;

/// A plan body at least this large checkpoints the write-ahead log before it is staged (see
/// [`Store::stage`] on [`SqliteStore`]): smaller ones grow the log by less than this, and
/// skipping the checkpoint keeps small stages (DNS UPDATE) at one fsync.
const CHECKPOINT_BEFORE_BYTES: usize = 1024 * 1024;

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// The SQLite store. Cheap to share by reference; every method is safe to call concurrently,
/// and several processes may open the same file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: PathBuf,
    pool: SqlitePool,
    /// One connection that is only ever used for `PRAGMA data_version`, which is only
    /// meaningful when asked of the same connection each time.
    watch: SqlitePool,
}

/// What [`SqliteStore::change_stamp`] reads: compare two for equality, nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeStamp {
    db: (u64, Option<std::time::SystemTime>),
    wal: Option<(u64, Option<std::time::SystemTime>)>,
}

/// One zone's summary, for `zonegate status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneRow {
    pub origin: Name,
    /// The published generation, if anything was ever published.
    pub published: Option<Generation>,
    /// Bumped by every successful publish (the `version` column; see [`Published`]). Still
    /// `version` in `--json`.
    #[serde(rename = "version")]
    pub publish_count: u64,
    /// The newest plan still stored.
    pub newest: Option<Generation>,
    /// Hash of the published plan.
    #[serde(serialize_with = "serialize_optional_hash")]
    pub hash: Option<ContentHash>,
    /// Records in the published plan.
    pub record_count: Option<u64>,
    /// When the published generation was published, unix seconds.
    pub published_at: Option<u64>,
    /// The SOA serial the published generation is served with (decided at publish).
    pub serial: Option<u32>,
}

/// One plan without its body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanRow {
    pub origin: Name,
    pub generation: Generation,
    pub base: Option<Generation>,
    #[serde(serialize_with = "serialize_hash")]
    pub hash: ContentHash,
    pub record_count: u64,
    /// The octets stored for it: its whole body for a checkpoint, the change from
    /// `delta_parent` for a delta.
    pub body_bytes: u64,
    /// The plan it is stored as a change from (its base); `None` for a checkpoint.
    pub delta_parent: Option<Generation>,
    /// Unix seconds.
    pub created_at: u64,
    pub status: PlanStatus,
    /// Whether the gate lets it be published (pass, held, refused, approved, rejected).
    pub verdict: Verdict,
    /// The SOA serial it was published with; `None` if it never was.
    pub serial: Option<u32>,
}

/// One audit-log row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    /// Grows with every append; the log's order.
    pub id: i64,
    /// Unix seconds.
    pub at: u64,
    pub origin: Name,
    pub generation: Option<Generation>,
    pub action: AuditAction,
    /// Stored and serialized as `''` when the row is not a refusal.
    #[serde(with = "optional_reason")]
    pub reason: Option<ReasonCode>,
    pub detail: String,
    pub actor: Actor,
}

impl AuditRow {
    /// The entry as it was appended.
    pub fn into_entry(self) -> AuditEntry {
        AuditEntry {
            zone: self.origin,
            generation: self.generation,
            action: self.action,
            reason: self.reason,
            detail: self.detail,
            actor: self.actor,
            at: self.at,
        }
    }
}

/// Which generation of a zone a target recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetRow {
    pub target: String,
    pub origin: Name,
    pub generation: Generation,
    /// When the target last recorded or renewed its generation, unix seconds (the target's
    /// clock); clean-up ignores the row once it is older than the target lease.
    pub updated_at: u64,
}

/// A pin an enactor holds on a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PinRow {
    pub origin: Name,
    pub generation: Generation,
    pub holder: String,
    /// Unix seconds.
    pub expires_at: u64,
}

fn serialize_hash<S: Serializer>(hash: &ContentHash, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(hash)
}

fn serialize_optional_hash<S: Serializer>(
    hash: &Option<ContentHash>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match hash {
        Some(hash) => s.collect_str(hash),
        None => s.serialize_none(),
    }
}

// SQLite primary result codes (the low byte of an extended code).
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_CONSTRAINT: i32 = 19;

/// Maps a sqlx error: constraint violations (CHECK, foreign key, trigger `RAISE(ABORT)`) are
/// [`StoreError::Constraint`]; everything else, busy and locked included, is
/// [`StoreError::Backend`].
fn store_error(error: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &error {
        let code = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
        let message = db.message();
        return match code & 0xff {
            SQLITE_CONSTRAINT => StoreError::Constraint {
                detail: message.to_string(),
            },
            SQLITE_BUSY | SQLITE_LOCKED => StoreError::Backend {
                detail: format!("the database stayed locked by another writer: {message}"),
            },
            _ => StoreError::Backend {
                detail: message.to_string(),
            },
        };
    }
    StoreError::Backend {
        detail: error.to_string(),
    }
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Backend {
        detail: format!("the database holds an unreadable {what}"),
    }
}

/// A number going into an INTEGER column.
fn to_sql(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Constraint {
        detail: format!("{value} does not fit in a database integer"),
    })
}

/// A number coming out of an INTEGER column.
fn from_sql(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt(what))
}

fn serial_from_sql(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| corrupt("serial"))
}

fn generation_from_sql(value: i64) -> Result<Generation, StoreError> {
    from_sql(value, "generation").map(Generation)
}

fn optional_generation_from_sql(value: Option<i64>) -> Result<Option<Generation>, StoreError> {
    value.map(generation_from_sql).transpose()
}

fn name_from_sql(text: &str) -> Result<Name, StoreError> {
    Name::parse(text).map_err(|_| corrupt(&format!("zone name {text:?}")))
}

fn hash_from_sql(text: &str) -> Result<ContentHash, StoreError> {
    ContentHash::parse(text).ok_or_else(|| corrupt(&format!("plan hash {text:?}")))
}

fn verdict_from_sql(text: &str) -> Result<Verdict, StoreError> {
    Verdict::parse(text).ok_or_else(|| corrupt(&format!("plan verdict {text:?}")))
}

fn audit_action(text: &str) -> AuditAction {
    text.parse().unwrap_or_else(|never| match never {})
}

fn get<'r, T>(row: &'r SqliteRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(column).map_err(store_error)
}

/// Brings the schema up to date. Two processes opening a fresh file at once may both try to
/// apply a migration; the loser's transaction fails and a later run finds it applied. With
/// several migrations that can happen once per migration, so it tries a bounded number of times.
async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    const ATTEMPTS: u32 = 20;
    let mut first = None;
    for _ in 0..ATTEMPTS {
        match MIGRATOR.run(pool).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                first.get_or_insert_with(|| e.to_string());
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    }
    let last = MIGRATOR.run(pool).await;
    last.map_err(|e| StoreError::Backend {
        detail: format!(
            "cannot bring the schema up to date: {e} (first attempt: {})",
            first.unwrap_or_default()
        ),
    })?;
    Ok(())
}

/// Opens a pool, trying again (a bounded number of times) when SQLite answers busy at once.
/// Opening a fresh file sets its journal mode, and while another process is opening or
/// migrating the same file SQLite can refuse that without calling the busy handler, so the
/// busy timeout alone does not cover it (seen with `serve` reopening a replaced file while
/// `apply` created it).
async fn connect_pool(
    pool: SqlitePoolOptions,
    options: &SqliteConnectOptions,
) -> Result<SqlitePool, sqlx::Error> {
    const ATTEMPTS: u32 = 20;
    let mut attempt = 1;
    loop {
        match pool.clone().connect_with(options.clone()).await {
            Err(error) if attempt < ATTEMPTS && is_busy(&error) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            other => return other,
        }
    }
}

fn is_busy(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = error else {
        return false;
    };
    let code = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
    matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED)
}

/// The horizon below which clean-up may delete, as one SQL expression over `$1` (the origin)
/// and `$2` (now), the same on both engines. NULL when nothing was ever published, which makes
/// every comparison with it false, so nothing is deleted.
const HORIZON: &str =
    "(SELECT CASE WHEN (SELECT published_generation FROM zones WHERE origin = $1) IS NULL
             THEN NULL
             ELSE (SELECT MIN(h) FROM (
                       SELECT published_generation AS h FROM zones WHERE origin = $1
                       UNION ALL SELECT generation FROM targets WHERE origin = $1
                       UNION ALL SELECT generation FROM pins WHERE origin = $1 AND expires_at > $2)
                   AS candidates)
        END)";

/// Every plan on the chain of plan `$2` of zone `$1` (`$2` itself, its parent, and so on to the
/// checkpoint), with what a [`StoredPlan`] needs: one recursive statement on both engines. The
/// recursion walks the small `plans` rows; only the chain's bodies are read.
const CHAIN_PLANS: &str = "WITH RECURSIVE chain (generation, parent) AS (
        SELECT generation, parent FROM plans WHERE origin = $1 AND generation = $2
        UNION ALL
        SELECT p.generation, p.parent
        FROM plans p JOIN chain c ON p.origin = $1 AND p.generation = c.parent)
    SELECT p.generation, p.parent, p.base, p.hash, p.record_count, b.body, p.created_at,
           p.status, p.verdict, p.serial
    FROM chain c
    JOIN plans p ON p.origin = $1 AND p.generation = c.generation
    JOIN plan_bodies b ON b.origin = $1 AND b.generation = c.generation";

/// The chain of plan `$2` of zone `$1` down to, not including, generation `$3`: the deltas an
/// incremental reader holding `$3` applies (a checkpoint older than `$3` is never read).
const CHAIN_DELTAS: &str = "WITH RECURSIVE chain (generation, parent) AS (
        SELECT generation, parent
        FROM plans WHERE origin = $1 AND generation = $2 AND generation > $3
        UNION ALL
        SELECT p.generation, p.parent
        FROM plans p JOIN chain c
             ON p.origin = $1 AND p.generation = c.parent AND p.generation > $3)
    SELECT c.generation, c.parent, p.hash, b.body
    FROM chain c
    JOIN plans p ON p.origin = $1 AND p.generation = c.generation
    JOIN plan_bodies b ON b.origin = $1 AND b.generation = c.generation";

/// The verdicts the compare-and-swap publishes, as an SQL list (`'pass', 'approved'`) made
/// from [`Verdict::is_publishable`], so the statement cannot disagree with the core. The
/// migrations' triggers keep their own copy (applied migrations never change);
/// `schema_tests` holds them to the same rule.
static PUBLISHABLE: LazyLock<String> = LazyLock::new(|| {
    Verdict::ALL
        .into_iter()
        .filter(|v| v.is_publishable())
        .map(|v| format!("'{}'", v.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
});

/// THE compare-and-swap, one statement on both engines: `$1` the generation, `$2` the origin,
/// `$3` the expected base, `$4` now, `$5` the serial decided for the generation. The freshness
/// check, the verdict check and the pointer write are the same `UPDATE`.
static PUBLISH_CAS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE zones SET published_generation = $1, version = version + 1, published_at = $4,
                          published_serial = $5
         WHERE origin = $2
           AND published_generation IS NOT DISTINCT FROM $3
           AND COALESCE(published_generation, 0) < $1
           AND EXISTS (SELECT 1 FROM plans WHERE origin = $2 AND generation = $1
                                             AND verdict IN ({}))
         RETURNING version",
        *PUBLISHABLE
    )
});

impl SqliteStore {
    /// Opens (creating it if missing) the database at `path` and brings its schema up to date.
    /// WAL journal, `synchronous = NORMAL`, foreign keys on, and writers wait up to
    /// [`BUSY_TIMEOUT_DEFAULT`] for each other.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        Self::open_with(path, BUSY_TIMEOUT_DEFAULT).await
    }

    /// [`SqliteStore::open`] with another busy timeout: how long an operation waits for another
    /// connection's write lock before failing with [`StoreError::Backend`].
    pub async fn open_with(path: &Path, busy_timeout: Duration) -> Result<SqliteStore, StoreError> {
        Self::connect(path, busy_timeout, true).await
    }

    /// [`SqliteStore::open`] for commands that only read: a missing file is an error, never
    /// created.
    pub async fn open_existing(path: &Path) -> Result<SqliteStore, StoreError> {
        Self::connect(path, BUSY_TIMEOUT_DEFAULT, false).await
    }

    async fn connect(
        path: &Path,
        busy_timeout: Duration,
        create: bool,
    ) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(busy_timeout);
        // The caller names the file; the detail says only what SQLite said, once.
        let opening = |e: sqlx::Error| match store_error(e) {
            StoreError::Backend { detail } | StoreError::Constraint { detail } => {
                StoreError::Backend { detail }
            }
            other => other,
        };
        let pool = connect_pool(
            SqlitePoolOptions::new().max_connections(POOL_CONNECTIONS_MAX),
            &options,
        )
        .await
        .map_err(opening)?;
        migrate(&pool).await?;
        let watch = connect_pool(
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None),
            &options,
        )
        .await
        .map_err(opening)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            pool,
            watch,
        })
    }

    /// SQLite's own checks of the file (`PRAGMA integrity_check`) and of every foreign key
    /// (`PRAGMA foreign_key_check`): the problems found, none when the file is sound.
    pub async fn integrity_problems(&self) -> Result<Vec<String>, StoreError> {
        let mut problems: Vec<String> = sqlx::query_scalar::<_, String>("PRAGMA integrity_check")
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?
            .into_iter()
            .filter(|line| line != "ok")
            .collect();
        let dangling = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        for row in dangling {
            let table: String = get(&row, "table")?;
            problems.push(format!(
                "a row of {table} refers to a row that does not exist"
            ));
        }
        Ok(problems)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes every connection, waiting for operations in flight.
    pub async fn close(&self) {
        self.pool.close().await;
        self.watch.close().await;
    }

    /// `PRAGMA wal_checkpoint(TRUNCATE)`: copies every committed frame of the write-ahead log
    /// into the database file and cuts the log to zero bytes. It waits up to the busy timeout
    /// for readers and writers; true when it cut the log. Best effort: a failure is logged.
    async fn checkpoint_truncate(&self, when: &'static str) -> bool {
        match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.pool)
            .await
        {
            Ok((0, _, _)) => true,
            Ok(_) => {
                tracing::debug!(
                    when,
                    "the write-ahead log stayed busy; it is cut at its next checkpoint"
                );
                false
            }
            Err(e) => {
                tracing::warn!(when, error = %e, "cannot truncate the write-ahead log");
                false
            }
        }
    }

    /// One attempt at [`Store::stage`]: the zone row, the generation and the plan with its
    /// audit row, in one transaction, on a connection of its own.
    ///
    /// When any statement or the `COMMIT` fails, that connection is closed instead of going
    /// back to the pool. SQLite may keep a transaction open after a failed `COMMIT` (it does
    /// after `SQLITE_FULL`), and may already have rolled it back after a failed statement, so
    /// a `ROLLBACK` can fail either way and leave sqlx's idea of the connection wrong; closing
    /// it rolls back whatever is open and releases its hold on the write-ahead log, so that
    /// [`SqliteStore::stage`] can cut the log right after.
    async fn stage_once(&self, plan: NewPlan, audit: AuditEntry) -> Result<Generation, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let staged = async {
            let mut tx = Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE")
                .await
                .map_err(store_error)?;
            let generation = stage_zone(&mut tx, plan, audit).await?;
            tx.commit().await.map_err(store_error)?;
            Ok(generation)
        }
        .await;
        if staged.is_err() {
            let _ = conn.close().await;
        }
        staged
    }
}

/// The statements of [`SqliteStore::stage_once`], inside its transaction: the zone's row on
/// its first plan, then the statements both engines share.
async fn stage_zone(
    conn: &mut SqliteConnection,
    plan: NewPlan,
    audit: AuditEntry,
) -> Result<Generation, StoreError> {
    sqlx::query("INSERT INTO zones (origin) VALUES ($1) ON CONFLICT (origin) DO NOTHING")
        .bind(plan.zone.to_string())
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    stage_in(conn, plan, audit).await
}

impl SqliteStore {
    /// A write transaction holding the database's write lock from its first statement.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)
    }

    /// A cheap hint that the database may have changed, read from the file system without
    /// touching SQLite: the size and modification time of the database file and of its
    /// write-ahead log. A commit appends to the log, so the stamp usually moves with it; but
    /// two commits within one tick of the file system's clock that leave the log the same size
    /// can leave it unchanged, so it only says when to ask [`SqliteStore::data_version`]
    /// sooner, never that nothing changed. `None` if the files cannot be read.
    pub fn change_stamp(&self) -> Option<ChangeStamp> {
        let stamp = |path: &Path| {
            std::fs::metadata(path)
                .ok()
                .map(|m| (m.len(), m.modified().ok()))
        };
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        Some(ChangeStamp {
            db: stamp(&self.path)?,
            wal: stamp(Path::new(&wal)),
        })
    }

    /// A number that changes whenever another connection commits to the database (in this
    /// process or any other). Compare it with the last value seen; its absolute value means
    /// nothing.
    pub async fn data_version(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar::<_, i64>("PRAGMA data_version")
            .fetch_one(&self.watch)
            .await
            .map_err(store_error)
    }

    /// Every zone with a published generation, as (zone, generation, publish count). Cheap enough
    /// for a poll loop.
    pub async fn published_plans(&self) -> Result<Vec<(Name, Generation, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT origin, published_generation, version FROM zones
             WHERE published_generation IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let mut out = rows
            .iter()
            .map(rows::published_row)
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.sort();
        Ok(out)
    }

    const ZONE_SELECT: &str = "SELECT z.origin, z.published_generation, z.version, z.published_at,
                z.published_serial, p.hash, p.record_count,
                (SELECT MAX(generation) FROM plans WHERE origin = z.origin) AS newest
         FROM zones z
         LEFT JOIN plans p ON p.origin = z.origin AND p.generation = z.published_generation";

    /// Every zone the store knows, in canonical name order.
    pub async fn zones(&self) -> Result<Vec<ZoneRow>, StoreError> {
        let rows = sqlx::query(Self::ZONE_SELECT)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        let mut out = rows
            .iter()
            .map(rows::zone_row)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.origin.cmp(&b.origin));
        Ok(out)
    }

    /// One zone, if the store knows it.
    pub async fn zone(&self, origin: &Name) -> Result<Option<ZoneRow>, StoreError> {
        let sql = format!("{} WHERE z.origin = ?1", Self::ZONE_SELECT);
        let row = sqlx::query(&sql)
            .bind(origin.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(rows::zone_row).transpose()
    }

    /// The zone's stored plans without their bodies, oldest first.
    pub async fn plans(&self, origin: &Name) -> Result<Vec<PlanRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.origin, p.generation, p.base, p.hash, p.record_count, p.parent,
                    length(b.body) AS body_bytes, p.created_at, p.status, p.verdict, p.serial
             FROM plans p JOIN plan_bodies b ON b.origin = p.origin AND b.generation = p.generation
             WHERE p.origin = ?1 ORDER BY p.generation",
        )
        .bind(origin.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(rows::plan_row).collect()
    }

    /// The newest `limit` audit rows, newest first; of one zone, or of all zones if `origin`
    /// is `None`.
    pub async fn audit_log(
        &self,
        origin: Option<&Name>,
        limit: u32,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, origin, generation, action, reason, detail, actor FROM audit
             WHERE ?1 IS NULL OR origin = ?1 ORDER BY id DESC LIMIT ?2",
        )
        .bind(origin.map(Name::to_string))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(rows::audit_row).collect()
    }

    /// The generations every target recorded for the zone, by target.
    pub async fn targets(&self, origin: &Name) -> Result<Vec<TargetRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT target, origin, generation, updated_at FROM targets
             WHERE origin = ?1 ORDER BY target",
        )
        .bind(origin.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(rows::target_row).collect()
    }

    /// The pins on the zone's plans, expired ones included until clean-up drops them.
    pub async fn pins(&self, origin: &Name) -> Result<Vec<PinRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT origin, generation, holder, expires_at FROM pins
             WHERE origin = ?1 ORDER BY generation, holder",
        )
        .bind(origin.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(rows::pin_row).collect()
    }
}

impl Store for SqliteStore {
    async fn published(&self, zone: &Name) -> Result<Option<Published>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        published_in(&mut conn, zone).await
    }

    async fn load_plan(
        &self,
        zone: &Name,
        generation: Generation,
    ) -> Result<Option<StoredPlan>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        load_plan_in(&mut conn, zone, generation).await
    }

    async fn load_head(
        &self,
        zone: &Name,
        generation: Generation,
    ) -> Result<Option<PlanHead>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        load_head_in(&mut conn, zone, generation).await
    }

    async fn load_deltas(
        &self,
        zone: &Name,
        from: Generation,
        to: Generation,
    ) -> Result<Option<Vec<DeltaStep>>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        load_deltas_in(&mut conn, zone, from, to).await
    }

    async fn newest_generation(&self, zone: &Name) -> Result<Option<Generation>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        newest_in(&mut conn, zone).await
    }

    /// A failed stage (a body too large for the disk, typically) leaves the write-ahead log at
    /// the size the failed transaction gave it, and a full disk full. Only a `TRUNCATE`
    /// checkpoint cuts it, and that checkpoint first copies every committed frame still in the
    /// log into the database file, which grows it: on a full disk that copy fails with
    /// `SQLITE_FULL` and the log stays. So a large body checkpoints first, while there is room
    /// ([`CHECKPOINT_BEFORE_BYTES`]); after a failure the log then holds nothing committed (but
    /// what another process committed in between) and the checkpoint only has to cut it.
    async fn stage(&self, plan: NewPlan, audit: AuditEntry) -> Result<Generation, StoreError> {
        if plan.body.bytes().len() >= CHECKPOINT_BEFORE_BYTES {
            self.checkpoint_truncate("before a large write").await;
        }
        let staged = self.stage_once(plan, audit).await;
        if staged.is_err() {
            self.checkpoint_truncate("after a failed write").await;
        }
        staged
    }

    async fn publish_cas(
        &self,
        zone: &Name,
        generation: Generation,
        expected_base: Option<Generation>,
        serial: SerialRequest,
        audit: AuditEntry,
    ) -> Result<Published, StoreError> {
        let mut tx = self.begin_write().await?;
        // Under the write lock from here to the commit; a lost race commits nothing.
        let published = publish_in(&mut tx, zone, generation, expected_base, serial, audit).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(published)
    }

    async fn pin(
        &self,
        zone: &Name,
        generation: Generation,
        holder: &str,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        pin_in(&mut tx, zone, generation, holder, expires_at).await?;
        tx.commit().await.map_err(store_error)
    }

    async fn unpin(
        &self,
        zone: &Name,
        generation: Generation,
        holder: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        unpin_in(&mut tx, zone, generation, holder).await?;
        tx.commit().await.map_err(store_error)
    }

    async fn record_target(
        &self,
        target: &str,
        zone: &Name,
        generation: Generation,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        record_target_in(&mut tx, target, zone, generation, now).await?;
        tx.commit().await.map_err(store_error)
    }

    async fn cleanup(
        &self,
        zone: &Name,
        keep: u32,
        target_lease_s: u64,
        now: u64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let deleted = cleanup_in(&mut tx, zone, keep, target_lease_s, now).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(deleted)
    }

    async fn compact(
        &self,
        zone: &Name,
        generation: Generation,
        checkpoint_every: u32,
    ) -> Result<Compaction, StoreError> {
        // The rebuild reads without the write lock; only the row's rewrite takes it.
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let read = compact_read_in(&mut conn, zone, generation, checkpoint_every).await?;
        drop(conn);
        let (parent, body) = match read {
            Ok(found) => found,
            Err(done) => return Ok(done),
        };
        let started = std::time::Instant::now();
        let mut tx = self.begin_write().await?;
        let locked = started.elapsed();
        let done = compact_write_in(&mut tx, zone, generation, parent, body).await?;
        tx.commit().await.map_err(store_error)?;
        tracing::debug!(%zone, %generation, lock_wait = ?locked, held = ?(started.elapsed() - locked), "compaction written");
        Ok(done)
    }

    async fn audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_audit(&mut tx, &entry).await?;
        tx.commit().await.map_err(store_error)
    }

    async fn set_verdict(
        &self,
        zone: &Name,
        generation: Generation,
        hash: Option<ContentHash>,
        to: Verdict,
        audit: AuditEntry,
    ) -> Result<Verdict, StoreError> {
        // The write lock is held from the first read to the commit, so what is read still
        // holds when the UPDATE runs.
        let mut tx = self.begin_write().await?;
        let previous = set_verdict_in(&mut tx, zone, generation, hash, to, audit).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(previous)
    }
}

/// The statements both engines share (see `shared.rs`), for SQLite.
mod statements {
    crate::shared::engine_statements!(sqlx::sqlite::SqliteConnection, crate::store_error);
}
use statements::{
    cleanup_in, compact_read_in, compact_write_in, insert_audit, load_deltas_in, load_head_in,
    load_plan_in, newest_in, pin_in, publish_in, published_in, record_target_in, set_verdict_in,
    stage_in, unpin_in,
};

mod catalog;
mod shared;
#[cfg(test)]
mod upgrade_tests;
pub use catalog::{CatalogMembers, RetireError};
mod observe;
pub use observe::AuditCount;
mod rows;

mod location;
pub use location::{PgLocation, StoreLocation};
mod postgres;
pub use postgres::{
    CONNECT_TIMEOUT_DEFAULT, PUBLISHED_CHANNEL, PgFollower, PgStore, PublishedNotice,
    STATEMENT_TIMEOUT_DEFAULT,
};
mod any;
pub use any::AnyStore;

#[cfg(test)]
mod schema_tests;
