//! The physical layout of SQLite's `plans` table: the body is its last column.
//!
//! SQLite stores a row's columns in order, and a body larger than a page spills into a chain of
//! overflow pages. To read a column that comes after the body, SQLite walks that whole chain
//! (it holds the next page's number at the head of each page), so reading a checkpoint's
//! `status`, `serial` or `parent` read its whole body: 12 ms for a 35 MB checkpoint of a
//! million records, and every statement that looks at the status of a zone's plans paid that
//! for each checkpoint kept. Migrations 0002 to 0004 added `verdict`, `serial` and `parent`
//! after the body (`ALTER TABLE ADD COLUMN` appends), so this step rebuilds the table once,
//! with the same columns, constraints, indexes and triggers and the body last.
//!
//! It runs after the migrations, on every open, and does nothing once the body is last. A
//! migration cannot do it: sqlx runs each one in a transaction, and the rebuild must run
//! with foreign keys off (the zones, targets and pins rows that reference plans would
//! otherwise stop the old table's drop), which SQLite allows only outside a transaction. The
//! whole rebuild is one `BEGIN IMMEDIATE` transaction, checked with `foreign_key_check`
//! before it commits, so a crash or an error leaves the old layout, never half of one.
//! PostgreSQL keeps large values out of line (TOAST), so its table needs no such step.

use sqlx::SqlitePool;
use sqlx::pool::PoolConnection;
use sqlx::{Row, Sqlite};

use zonegate_core::gate::StoreError;

/// What SQLite said, as the store's error (the caller names the file).
fn store_error(e: sqlx::Error) -> StoreError {
    StoreError::Backend {
        detail: format!("cannot move the plans table's bodies last: {e}"),
    }
}

/// The rebuilt table: the columns and constraints of migrations 0001 to 0004, the body last.
const TABLE: &str = "CREATE TABLE plans_rebuilt (
    origin       TEXT    NOT NULL REFERENCES zones (origin) ON DELETE RESTRICT,
    generation   INTEGER NOT NULL CHECK (generation > 0),
    base         INTEGER NULL CHECK (base IS NULL OR (base > 0 AND base < generation)),
    hash         TEXT    NOT NULL CHECK (length(hash) = 71 AND substr(hash, 1, 7) = 'sha256:'),
    record_count INTEGER NOT NULL CHECK (record_count > 0),
    created_at   INTEGER NOT NULL CHECK (created_at >= 0),
    status       TEXT    NOT NULL DEFAULT 'staged'
                 CHECK (status IN ('staged', 'published', 'superseded')),
    verdict      TEXT    NOT NULL DEFAULT 'pass'
                 CHECK (verdict IN ('pass', 'held', 'refused', 'approved', 'rejected')),
    serial       INTEGER NULL CHECK (serial IS NULL OR (serial >= 0 AND serial < 4294967296)),
    parent       INTEGER NULL CHECK (parent IS NULL OR parent = base),
    body         BLOB    NOT NULL CHECK (length(body) > 0),
    PRIMARY KEY (origin, generation)
) STRICT";

/// Every column, in the rebuilt order.
const COLUMNS: &str = "origin, generation, base, hash, record_count, created_at, status, verdict, serial, parent, body";

/// How many columns the table has; a schema with more (a later migration's) is left alone
/// rather than rebuilt without them.
const COLUMN_COUNT: usize = 11;

/// Rebuilds `plans` with the body last, unless it already is.
pub(crate) async fn body_last(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await.map_err(store_error)?;
    if !needs_rebuild(&mut conn).await? {
        return Ok(());
    }
    exec(&mut conn, "PRAGMA foreign_keys = OFF").await?;
    let rebuilt = rebuild(&mut conn).await;
    let restored = exec(&mut conn, "PRAGMA foreign_keys = ON").await;
    if restored.is_err() {
        // Never hand a connection without foreign keys back to the pool.
        conn.detach();
    }
    rebuilt.and(restored)
}

/// True if the table's last column is not the body (and it has the columns this step knows).
async fn needs_rebuild(conn: &mut PoolConnection<Sqlite>) -> Result<bool, StoreError> {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM pragma_table_info('plans') ORDER BY cid")
            .fetch_all(&mut **conn)
            .await
            .map_err(store_error)?;
    Ok(names.len() == COLUMN_COUNT && names.last().is_some_and(|n| n != "body"))
}

/// The rebuild, in one transaction that takes the write lock first; rolled back on any error.
async fn rebuild(conn: &mut PoolConnection<Sqlite>) -> Result<(), StoreError> {
    exec(conn, "BEGIN IMMEDIATE").await?;
    let done = rebuild_in(conn).await;
    match done {
        Ok(()) => exec(conn, "COMMIT").await,
        Err(e) => {
            let _ = exec(conn, "ROLLBACK").await;
            Err(e)
        }
    }
}

async fn rebuild_in(conn: &mut PoolConnection<Sqlite>) -> Result<(), StoreError> {
    // Another process may have rebuilt it since the first look.
    if !needs_rebuild(conn).await? {
        return Ok(());
    }
    // The table's own indexes and triggers go with it; they are made again as they are.
    let schema: Vec<String> = sqlx::query_scalar(
        "SELECT sql FROM sqlite_master
         WHERE tbl_name = 'plans' AND type IN ('index', 'trigger') AND sql IS NOT NULL
         ORDER BY rowid",
    )
    .fetch_all(&mut **conn)
    .await
    .map_err(store_error)?;
    exec(conn, TABLE).await?;
    let copy = format!("INSERT INTO plans_rebuilt ({COLUMNS}) SELECT {COLUMNS} FROM plans");
    exec(conn, &copy).await?;
    exec(conn, "DROP TABLE plans").await?;
    // The triggers of other tables that read plans (zones_publish_needs_verdict) name a table
    // that is gone until the rename: the legacy rename does not re-check them.
    exec(conn, "PRAGMA legacy_alter_table = ON").await?;
    let renamed = exec(conn, "ALTER TABLE plans_rebuilt RENAME TO plans").await;
    exec(conn, "PRAGMA legacy_alter_table = OFF").await?;
    renamed?;
    for sql in &schema {
        exec(conn, sql).await?;
    }
    let broken = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut **conn)
        .await
        .map_err(store_error)?;
    if let Some(row) = broken.first() {
        let table: String = row.try_get(0).map_err(store_error)?;
        return Err(StoreError::Backend {
            detail: format!(
                "rebuilding the plans table would break a reference from {table}; nothing was changed"
            ),
        });
    }
    Ok(())
}

async fn exec(conn: &mut PoolConnection<Sqlite>, sql: &str) -> Result<(), StoreError> {
    sqlx::query(sql)
        .execute(&mut **conn)
        .await
        .map(|_| ())
        .map_err(store_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    /// The names of the schema objects on `plans` and the columns' order.
    async fn shape(pool: &SqlitePool) -> (Vec<String>, Vec<String>) {
        let objects = sqlx::query_scalar(
            "SELECT type || ' ' || name FROM sqlite_master
             WHERE tbl_name = 'plans' OR sql LIKE '%FROM plans%' ORDER BY 1",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let columns =
            sqlx::query_scalar("SELECT name FROM pragma_table_info('plans') ORDER BY cid")
                .fetch_all(pool)
                .await
                .unwrap();
        (objects, columns)
    }

    /// A store migrated before this step, with a published plan, a delta on it, a target and
    /// a pin, is rebuilt with the body last: the same rows, the same indexes and triggers, and
    /// the schema still refuses what it refused (a target of a missing plan, deleting a live
    /// plan or a delta's parent, changing a body).
    #[tokio::test]
    async fn an_older_layout_is_rebuilt_with_the_body_last_and_the_same_rules() {
        let path = std::env::temp_dir().join(format!("zonegate-layout-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        crate::MIGRATOR.run(&pool).await.unwrap();
        let hash = format!("sha256:{}", "a".repeat(64));
        for sql in [
            "INSERT INTO zones (origin, next_generation) VALUES ('example.', 3)".to_string(),
            format!("INSERT INTO plans (origin, generation, hash, record_count, body, created_at, serial)
                     VALUES ('example.', 1, '{hash}', 2, x'0102', 5, 7)"),
            format!("INSERT INTO plans (origin, generation, base, parent, hash, record_count, body, created_at)
                     VALUES ('example.', 2, 1, 1, '{hash}', 3, x'03', 6)"),
            "UPDATE plans SET status = 'published' WHERE generation = 1".to_string(),
            "UPDATE zones SET published_generation = 1, published_serial = 7".to_string(),
            "INSERT INTO targets (target, origin, generation, updated_at) VALUES ('t', 'example.', 1, 9)".to_string(),
            "INSERT INTO pins (origin, generation, holder, expires_at) VALUES ('example.', 2, 'h', 99)".to_string(),
        ] {
            sqlx::query(&sql).execute(&pool).await.unwrap();
        }
        let (objects, columns) = shape(&pool).await;
        assert_ne!(columns.last().map(String::as_str), Some("body"));
        body_last(&pool).await.unwrap();
        let (objects_after, columns_after) = shape(&pool).await;
        assert_eq!(objects_after, objects);
        assert_eq!(columns_after.last().map(String::as_str), Some("body"));
        let mut sorted = (columns.clone(), columns_after.clone());
        sorted.0.sort();
        sorted.1.sort();
        assert_eq!(sorted.0, sorted.1);
        let text: Vec<String> = sqlx::query_scalar(
            "SELECT origin || generation || ifnull(base, '-') || ifnull(parent, '-') || hash
                    || record_count || hex(body) || created_at || status || verdict
                    || ifnull(serial, '-') FROM plans ORDER BY generation",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(
            text,
            vec![
                format!("example.1--{hash}201025publishedpass7"),
                format!("example.211{hash}3036stagedpass-"),
            ]
        );
        // Once rebuilt, opening again changes nothing.
        body_last(&pool).await.unwrap();
        assert_eq!(shape(&pool).await, (objects_after, columns_after));
        // The rules still hold.
        for refused in [
            "INSERT INTO targets (target, origin, generation, updated_at) VALUES ('u', 'example.', 9, 9)",
            "DELETE FROM plans WHERE generation = 1",
            "DELETE FROM plans WHERE generation = 2",
            "UPDATE plans SET body = x'09' WHERE generation = 1",
            "UPDATE plans SET serial = 8 WHERE generation = 1",
            "UPDATE plans SET verdict = 'approved' WHERE generation = 1",
        ] {
            let r = sqlx::query(refused).execute(&pool).await;
            assert!(r.is_err(), "{refused} was allowed");
        }
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(fk, 1);
        pool.close().await;
        let _ = std::fs::remove_file(&path);
    }
}
