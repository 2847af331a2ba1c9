//! The schema's own copies of the state rules, held against the core's, on both engines.
//!
//! The migrations are applied history (sqlx refuses a database whose applied migrations
//! changed), so their `CHECK` lists and triggers name verdicts and statuses as SQL text that
//! cannot be generated from the enums. These tests drive the raw schema of each engine
//! (`migrations/sqlite/` and `migrations/postgres/`) with every value and every move and fail
//! when it disagrees with [`Verdict::is_initial`], [`Verdict::may_become`],
//! [`Verdict::is_publishable`] or [`PlanStatus::ALL`]. PostgreSQL's run on the test
//! process's throwaway cluster (`zonegate_testkit::postgres`); a missing PostgreSQL fails them.

use std::path::{Path, PathBuf};

use sqlx::{PgPool, SqlitePool};
use zonegate_core::gate::{PlanStatus, Verdict};

use crate::{PgStore, StoreLocation};

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

/// The four raw writes the tests make, in each engine's dialect.
trait Raw {
    /// Stages plan 1 of zone `origin` with `verdict` written straight into the table.
    async fn insert(&self, origin: &str, verdict: &str) -> Result<(), sqlx::Error>;
    async fn set_verdict(&self, origin: &str, to: &str) -> Result<(), sqlx::Error>;
    /// Sets the status of every plan, or of `origin`'s.
    async fn set_status(&self, origin: Option<&str>, status: &str) -> Result<(), sqlx::Error>;
    /// Points `origin` at its plan 1.
    async fn set_pointer(&self, origin: &str) -> Result<(), sqlx::Error>;
}

/// The same four statements for both engines, written with `$1` placeholders; `$mark` is the
/// engine's (`?` for SQLite's `?1`).
macro_rules! raw_for {
    ($pool:ty, $mark:literal, $body:literal) => {
        impl Raw for $pool {
            async fn insert(&self, origin: &str, verdict: &str) -> Result<(), sqlx::Error> {
                sqlx::query(&"INSERT INTO zones (origin, next_generation) VALUES ($1, 2)".replace('$', $mark))
                    .bind(origin)
                    .execute(self)
                    .await?;
                // The body first (migration 0006); kept if the plan is refused.
                sqlx::query(&concat!(
                    "INSERT INTO plan_bodies (origin, generation, body) VALUES ($1, 1, ",
                    $body,
                    ") ON CONFLICT DO NOTHING"
                ).replace('$', $mark))
                .bind(origin)
                .execute(self)
                .await?;
                sqlx::query(&"INSERT INTO plans (origin, generation, hash, record_count, created_at, verdict)
                     VALUES ($1, 1, $3, 1, 0, $2)".replace('$', $mark))
                .bind(origin)
                .bind(verdict)
                .bind(format!("sha256:{}", "0".repeat(64)))
                .execute(self)
                .await
                .map(drop)
            }
            async fn set_verdict(&self, origin: &str, to: &str) -> Result<(), sqlx::Error> {
                sqlx::query(&"UPDATE plans SET verdict = $2 WHERE origin = $1".replace('$', $mark))
                    .bind(origin)
                    .bind(to)
                    .execute(self)
                    .await
                    .map(drop)
            }
            async fn set_status(
                &self,
                origin: Option<&str>,
                status: &str,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(&"UPDATE plans SET status = $2, serial = 1 WHERE $1 IS NULL OR origin = $1".replace('$', $mark))
                    .bind(origin)
                    .bind(status)
                    .execute(self)
                    .await
                    .map(drop)
            }
            async fn set_pointer(&self, origin: &str) -> Result<(), sqlx::Error> {
                sqlx::query(&"UPDATE zones SET published_generation = 1, published_serial = 1 WHERE origin = $1".replace('$', $mark))
                    .bind(origin)
                    .execute(self)
                    .await
                    .map(drop)
            }
        }
    };
}

raw_for!(SqlitePool, "?", "x'00'");
raw_for!(PgPool, "$", "'\\x00'::bytea");

/// A staged plan of its own zone holding `verdict`, reached the way the store reaches it.
async fn staged_with(raw: &impl Raw, origin: &str, verdict: Verdict) {
    if verdict.is_initial() {
        raw.insert(origin, verdict.as_str()).await.unwrap();
    } else {
        raw.insert(origin, Verdict::Pass.as_str()).await.unwrap();
        raw.set_verdict(origin, verdict.as_str()).await.unwrap();
    }
}

async fn stages_exactly_the_initial_verdicts(raw: &impl Raw) {
    for (i, v) in Verdict::ALL.into_iter().enumerate() {
        let staged = raw.insert(&format!("z{i}.example."), v.as_str()).await;
        assert_eq!(staged.is_ok(), v.is_initial(), "{v}: {staged:?}");
    }
    let unknown = raw.insert("unknown.example.", "maybe").await;
    assert!(unknown.is_err(), "an unknown verdict is refused");
}

async fn moves_verdicts_as_may_become_says(raw: &impl Raw) {
    for (i, from) in Verdict::ALL.into_iter().enumerate() {
        for (j, to) in Verdict::ALL.into_iter().enumerate() {
            let origin = format!("z{i}-{j}.example.");
            staged_with(raw, &origin, from).await;
            let moved = raw.set_verdict(&origin, to.as_str()).await;
            let allowed = from == to || from.may_become(to);
            assert_eq!(moved.is_ok(), allowed, "{from} -> {to}: {moved:?}");
        }
    }
}

async fn publishes_exactly_the_publishable_verdicts(raw: &impl Raw) {
    for (i, v) in Verdict::ALL.into_iter().enumerate() {
        let origin = format!("z{i}.example.");
        staged_with(raw, &origin, v).await;
        let status = raw
            .set_status(Some(&origin), PlanStatus::Published.as_str())
            .await;
        assert_eq!(
            status.is_ok(),
            v.is_publishable(),
            "status of {v}: {status:?}"
        );
        let pointer = raw.set_pointer(&origin).await;
        assert_eq!(
            pointer.is_ok(),
            v.is_publishable(),
            "pointer to {v}: {pointer:?}"
        );
    }
}

async fn knows_exactly_the_plan_statuses(raw: &impl Raw) {
    raw.insert("example.com.", Verdict::Pass.as_str())
        .await
        .unwrap();
    for status in PlanStatus::ALL {
        let set = raw.set_status(None, status.as_str()).await;
        assert!(set.is_ok(), "{status:?}: {set:?}");
    }
    let unknown = raw.set_status(None, "archived").await;
    assert!(unknown.is_err(), "an unknown status is refused");
}

/// Runs `check` on a fresh SQLite file and on a fresh PostgreSQL database.
macro_rules! on_both {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    let scratch = super::Scratch::new(stringify!($check));
                    let store = crate::SqliteStore::open(&scratch.0).await.unwrap();
                    super::$check(&store.pool).await;
                    store.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let store = super::pg_open(stringify!($check)).await;
                    super::$check(crate::postgres::pool(&store)).await;
                    store.close().await;
                }
            )*
        }
    };
}

on_both!(
    stages_exactly_the_initial_verdicts,
    moves_verdicts_as_may_become_says,
    publishes_exactly_the_publishable_verdicts,
    knows_exactly_the_plan_statuses,
);

async fn pg_open(tag: &str) -> PgStore {
    let url = zonegate_testkit::postgres::shared().fresh_database(&format!("schema-{tag}"));
    let StoreLocation::Postgres(location) = StoreLocation::parse(&url) else {
        panic!("{url} is a PostgreSQL URL");
    };
    PgStore::open(&location).await.unwrap()
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
