//! The schema's own copies of the state rules, held against the core's.
//!
//! The migrations are applied history (sqlx refuses a database whose applied migrations
//! changed), so their `CHECK` lists and triggers name verdicts and statuses as SQL text that
//! cannot be generated from the enums. These tests drive the raw schema with every value and
//! every move and fail when it disagrees with [`Verdict::is_initial`],
//! [`Verdict::may_become`], [`Verdict::is_publishable`] or [`PlanStatus::ALL`].

use std::path::{Path, PathBuf};

use sqlx::SqlitePool;
use zonegate_core::gate::{PlanStatus, Verdict};

use crate::SqliteStore;

/// A fresh database file, removed with its WAL files on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let path =
            std::env::temp_dir().join(format!("zonegate-schema-{tag}-{}.db", std::process::id()));
        remove(&path);
        Scratch(path)
    }
}

fn remove(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        remove(&self.0);
    }
}

/// Stages plan 1 of zone `origin` with `verdict` written straight into the table.
async fn insert(pool: &SqlitePool, origin: &str, verdict: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO zones (origin, next_generation) VALUES (?1, 2)")
        .bind(origin)
        .execute(pool)
        .await?;
    sqlx::query(
        "INSERT INTO plans (origin, generation, hash, record_count, body, created_at, verdict)
         VALUES (?1, 1, 'sha256:' || printf('%064d', 0), 1, x'00', 0, ?2)",
    )
    .bind(origin)
    .bind(verdict)
    .execute(pool)
    .await
    .map(drop)
}

/// A staged plan of its own zone holding `verdict`, reached the way the store reaches it.
async fn staged_with(pool: &SqlitePool, origin: &str, verdict: Verdict) {
    if verdict.is_initial() {
        insert(pool, origin, verdict.as_str()).await.unwrap();
    } else {
        insert(pool, origin, Verdict::Pass.as_str()).await.unwrap();
        set_verdict(pool, origin, verdict).await.unwrap();
    }
}

async fn set_verdict(pool: &SqlitePool, origin: &str, to: Verdict) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE plans SET verdict = ?2 WHERE origin = ?1")
        .bind(origin)
        .bind(to.as_str())
        .execute(pool)
        .await
        .map(drop)
}

async fn open(tag: &str) -> (Scratch, SqliteStore) {
    let scratch = Scratch::new(tag);
    let store = SqliteStore::open(&scratch.0).await.unwrap();
    (scratch, store)
}

#[tokio::test]
async fn the_schema_stages_exactly_the_initial_verdicts() {
    let (_db, store) = open("stage").await;
    for (i, v) in Verdict::ALL.into_iter().enumerate() {
        let staged = insert(&store.pool, &format!("z{i}.example."), v.as_str()).await;
        assert_eq!(staged.is_ok(), v.is_initial(), "{v}: {staged:?}");
    }
    let unknown = insert(&store.pool, "unknown.example.", "maybe").await;
    assert!(unknown.is_err(), "an unknown verdict is refused");
    store.close().await;
}

#[tokio::test]
async fn the_schema_moves_verdicts_as_may_become_says() {
    let (_db, store) = open("moves").await;
    for (i, from) in Verdict::ALL.into_iter().enumerate() {
        for (j, to) in Verdict::ALL.into_iter().enumerate() {
            let origin = format!("z{i}-{j}.example.");
            staged_with(&store.pool, &origin, from).await;
            let moved = set_verdict(&store.pool, &origin, to).await;
            let allowed = from == to || from.may_become(to);
            assert_eq!(moved.is_ok(), allowed, "{from} -> {to}: {moved:?}");
        }
    }
    store.close().await;
}

#[tokio::test]
async fn the_schema_publishes_exactly_the_publishable_verdicts() {
    let (_db, store) = open("publish").await;
    for (i, v) in Verdict::ALL.into_iter().enumerate() {
        let origin = format!("z{i}.example.");
        staged_with(&store.pool, &origin, v).await;
        let status = sqlx::query("UPDATE plans SET status = ?2, serial = 1 WHERE origin = ?1")
            .bind(&origin)
            .bind(PlanStatus::Published.as_str())
            .execute(&store.pool)
            .await;
        assert_eq!(
            status.is_ok(),
            v.is_publishable(),
            "status of {v}: {status:?}"
        );
        let pointer = sqlx::query(
            "UPDATE zones SET published_generation = 1, published_serial = 1 WHERE origin = ?1",
        )
        .bind(&origin)
        .execute(&store.pool)
        .await;
        assert_eq!(
            pointer.is_ok(),
            v.is_publishable(),
            "pointer to {v}: {pointer:?}"
        );
    }
    store.close().await;
}

#[tokio::test]
async fn the_schema_knows_exactly_the_plan_statuses() {
    let (_db, store) = open("status").await;
    insert(&store.pool, "example.com.", Verdict::Pass.as_str())
        .await
        .unwrap();
    for status in PlanStatus::ALL {
        let set = sqlx::query("UPDATE plans SET status = ?1, serial = 1")
            .bind(status.as_str())
            .execute(&store.pool)
            .await;
        assert!(set.is_ok(), "{status:?}: {set:?}");
    }
    let unknown = sqlx::query("UPDATE plans SET status = 'archived'")
        .execute(&store.pool)
        .await;
    assert!(unknown.is_err(), "an unknown status is refused");
    store.close().await;
}

#[test]
fn the_publishable_list_is_the_cores() {
    let listed: Vec<Verdict> = Verdict::ALL
        .into_iter()
        .filter(|v| crate::PUBLISHABLE.contains(&format!("'{v}'")))
        .collect();
    let publishable: Vec<Verdict> = Verdict::ALL
        .into_iter()
        .filter(|v| v.is_publishable())
        .collect();
    assert_eq!(listed, publishable);
}
