//! Migration 0006 on a database that version 5 wrote: the bodies move from `plans` to
//! `plan_bodies`, every plan reads as it did, and the schema refuses what it refused.

use std::borrow::Cow;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{PgPool, SqlitePool};

/// Each plan's stored chain size, by generation (the same text on both engines).
const CHAIN_SIZES: &str = "SELECT chain_generations, chain_checkpoint_bytes, chain_delta_bytes
     FROM plans ORDER BY generation";

/// The migrations of `all` up to and including `version`.
fn up_to(all: &Migrator, version: i64) -> Migrator {
    Migrator {
        migrations: Cow::Owned(
            all.iter()
                .filter(|m| m.version <= version)
                .cloned()
                .collect(),
        ),
        ..Migrator::DEFAULT
    }
}

async fn run(pool: &SqlitePool, sql: &str) -> Result<u64, sqlx::Error> {
    sqlx::query(sql)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
}

/// Every plan as one line of text, its body from wherever the schema keeps it.
async fn plan_text(pool: &SqlitePool, body_from: &str) -> Vec<String> {
    sqlx::query_scalar(&format!(
        "SELECT p.origin || p.generation || ifnull(p.base, '-') || ifnull(p.parent, '-')
                || p.hash || p.record_count || hex(b.body) || p.created_at || p.status
                || p.verdict || ifnull(p.serial, '-')
         FROM plans p JOIN {body_from} b ON b.origin = p.origin AND b.generation = p.generation
         ORDER BY p.generation"
    ))
    .fetch_all(pool)
    .await
    .unwrap()
}

/// A store at version 5 with a published checkpoint (g1), a pinned delta on it (g2), another
/// delta (g3) and a target on g1.
async fn version_5_store(path: &std::path::Path) -> SqlitePool {
    let _ = std::fs::remove_file(path);
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    up_to(&crate::MIGRATOR, 5).run(&pool).await.unwrap();
    let hash = format!("sha256:{}", "a".repeat(64));
    for sql in [
        "INSERT INTO zones (origin, next_generation) VALUES ('example.', 4)".to_string(),
        format!("INSERT INTO plans (origin, generation, hash, record_count, body, created_at, serial)
                 VALUES ('example.', 1, '{hash}', 2, x'0102', 5, 7)"),
        format!("INSERT INTO plans (origin, generation, base, parent, hash, record_count, body, created_at)
                 VALUES ('example.', 2, 1, 1, '{hash}', 3, x'03', 6)"),
        format!("INSERT INTO plans (origin, generation, base, parent, hash, record_count, body, created_at)
                 VALUES ('example.', 3, 1, 1, '{hash}', 3, x'04', 6)"),
        "UPDATE plans SET status = 'published' WHERE generation = 1".to_string(),
        "UPDATE zones SET published_generation = 1, published_serial = 7".to_string(),
        "INSERT INTO targets (target, origin, generation, updated_at) VALUES ('t', 'example.', 1, 9)".to_string(),
        "INSERT INTO pins (origin, generation, holder, expires_at) VALUES ('example.', 2, 'h', 99)".to_string(),
    ] {
        run(&pool, &sql).await.unwrap();
    }
    pool
}

/// What version 6 refuses of that store, with foreign keys on and off.
async fn assert_refusals(pool: &SqlitePool) {
    for foreign_keys in ["ON", "OFF"] {
        run(pool, &format!("PRAGMA foreign_keys = {foreign_keys}"))
            .await
            .unwrap();
        for (refused, what) in [
            // Published, and the parent of g2 and g3.
            (
                "DELETE FROM plans WHERE generation = 1",
                "cannot be deleted",
            ),
            ("DELETE FROM plans WHERE generation = 2", "is live"),
            (
                "DELETE FROM plan_bodies WHERE generation = 3",
                "only with its plan",
            ),
            (
                "UPDATE plan_bodies SET body = x'09' WHERE generation = 1",
                "immutable",
            ),
            (
                "UPDATE plan_bodies SET generation = 9 WHERE generation = 3",
                "immutable",
            ),
            (
                "UPDATE plans SET parent = 2 WHERE generation = 3",
                "immutable",
            ),
            (
                "UPDATE plans SET hash = 'x' WHERE generation = 3",
                "immutable",
            ),
            (
                "INSERT INTO plans (origin, generation, base, hash, record_count, created_at)
                 SELECT origin, 7, 1, hash, record_count, created_at FROM plans
                 WHERE generation = 1",
                "needs its body",
            ),
            (
                "INSERT INTO plan_bodies (origin, generation, body) VALUES ('example.', 8, x'')",
                "CHECK",
            ),
        ] {
            let err = run(pool, refused).await.expect_err(refused);
            assert!(err.to_string().contains(what), "{refused}: {err}");
        }
    }
    run(pool, "PRAGMA foreign_keys = ON").await.unwrap();
}

/// Version 6 on that store: the same plans with the same bodies, no body column left in
/// `plans`, and the rules (a live plan stays, a body goes only with its plan and changes only
/// in a compaction of a delta, no plan without a body) hold.
#[tokio::test]
async fn version_6_moves_the_bodies_and_keeps_every_plan_and_rule() {
    let path = std::env::temp_dir().join(format!("zonegate-upgrade6-{}.db", std::process::id()));
    let pool = version_5_store(&path).await;
    let before = plan_text(&pool, "plans").await;
    assert_eq!(before.len(), 3);
    crate::MIGRATOR.run(&pool).await.unwrap();
    assert_eq!(plan_text(&pool, "plan_bodies").await, before);
    let columns: Vec<String> =
        sqlx::query_scalar("SELECT name FROM pragma_table_info('plans') ORDER BY cid")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(!columns.iter().any(|c| c == "body"), "{columns:?}");
    // Each plan's chain size, worked out from the chains: g1 a 2-octet checkpoint, g2 and g3
    // one-octet deltas on it.
    let sizes: Vec<(i64, i64, i64)> = sqlx::query_as(CHAIN_SIZES).fetch_all(&pool).await.unwrap();
    assert_eq!(sizes, [(1, 2, 0), (2, 2, 1), (2, 2, 1)]);
    assert_refusals(&pool).await;
    // A compaction of the unpinned delta g3: its body, then its parent; then it can go, and
    // its body with it.
    let compacted = "UPDATE plan_bodies SET body = x'0506' WHERE generation = 3";
    assert_eq!(run(&pool, compacted).await.unwrap(), 1);
    let checkpoint = "UPDATE plans SET parent = NULL WHERE generation = 3";
    assert_eq!(run(&pool, checkpoint).await.unwrap(), 1);
    let again = run(
        &pool,
        "UPDATE plan_bodies SET body = x'07' WHERE generation = 3",
    )
    .await;
    assert!(again.is_err(), "a checkpoint's body changed");
    assert_eq!(
        run(&pool, "DELETE FROM plans WHERE generation = 3")
            .await
            .unwrap(),
        1
    );
    let bodies: i64 = sqlx::query_scalar("SELECT count(*) FROM plan_bodies")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(bodies, 2);
    pool.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

/// The same on PostgreSQL: a version 5 database with a checkpoint and a delta on it reads the
/// same plans after version 6, and a plan without its body is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_6_on_postgres_moves_the_bodies_and_keeps_every_plan() {
    let url = zonegate_testkit::postgres::shared().fresh_database("upgrade-6");
    let pool = PgPool::connect(&url).await.unwrap();
    up_to(&crate::postgres::MIGRATOR, 5)
        .run(&pool)
        .await
        .unwrap();
    let hash = format!("sha256:{}", "a".repeat(64));
    for sql in [
        "INSERT INTO zones (origin, next_generation) VALUES ('example.', 3)".to_string(),
        format!("INSERT INTO plans (origin, generation, hash, record_count, body, created_at, serial)
                 VALUES ('example.', 1, '{hash}', 2, '\\x0102'::bytea, 5, 7)"),
        format!("INSERT INTO plans (origin, generation, base, parent, hash, record_count, body, created_at)
                 VALUES ('example.', 2, 1, 1, '{hash}', 3, '\\x03'::bytea, 6)"),
        "UPDATE plans SET status = 'published' WHERE generation = 1".to_string(),
        "UPDATE zones SET published_generation = 1, published_serial = 7".to_string(),
    ] {
        sqlx::query(&sql).execute(&pool).await.unwrap();
    }
    let text = |from: &'static str| {
        let pool = pool.clone();
        async move {
            let rows: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT p.origin || p.generation || coalesce(p.parent::text, '-') || p.hash
                        || p.record_count || encode(b.body, 'hex') || p.status
                        || coalesce(p.serial::text, '-')
                 FROM plans p JOIN {from} b
                      ON b.origin = p.origin AND b.generation = p.generation
                 ORDER BY p.generation"
            ))
            .fetch_all(&pool)
            .await
            .unwrap();
            rows
        }
    };
    let before = text("plans").await;
    assert_eq!(before.len(), 2);
    crate::postgres::MIGRATOR.run(&pool).await.unwrap();
    assert_eq!(text("plan_bodies").await, before);
    let body_column: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns
         WHERE table_name = 'plans' AND column_name = 'body'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(body_column, 0);
    let sizes: Vec<(i64, i64, i64)> = sqlx::query_as(CHAIN_SIZES).fetch_all(&pool).await.unwrap();
    assert_eq!(sizes, [(1, 2, 0), (2, 2, 1)]);
    let err = sqlx::query(&format!(
        "INSERT INTO plans (origin, generation, hash, record_count, created_at)
         VALUES ('example.', 5, '{hash}', 1, 0)"
    ))
    .execute(&pool)
    .await
    .expect_err("a plan without its body");
    assert!(err.to_string().contains("plans_body_fkey"), "{err}");
    pool.close().await;
}
