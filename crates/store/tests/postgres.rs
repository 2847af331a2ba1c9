//! What only the PostgreSQL store can get wrong: its own constraints and triggers (driven with
//! psql-like raw connections), and many connections deciding at the same instant, which SQLite
//! (one writer per file) cannot have. The shared contract runs on PostgreSQL in
//! `tests/contract.rs`; the cluster comes from `zonegate_testkit::postgres` (a throwaway one
//! per test process, or `ZONEGATE_TEST_PG_URL`), and a missing PostgreSQL fails these tests.

#![allow(clippy::too_many_lines)] // Long test functions: each walks one scenario end to end.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use zonegate_core::zone::serial::{SerialPolicy, SerialRequest};

use sqlx::postgres::PgConnection;
use sqlx::{Connection, Executor};
use zonegate_core::gate::{Actor, AuditAction, Generation, Store, StoreError};
use zonegate_core::testkit::n;
use zonegate_core::{ContentHash, Name};
use zonegate_store::{PgFollower, PgLocation, PgStore, PublishedNotice, StoreLocation};

mod fixtures;
use fixtures::{NOW, entry, g, new_plan};

/// Generous bounds on waits that must end: a deadlock or a lost notification fails the test
/// instead of hanging it. Not timing targets.
const BOUND: Duration = Duration::from_secs(30);

/// A fresh database: its URL (with the password) and its location.
fn database(test: &str) -> (String, PgLocation) {
    let url = zonegate_testkit::postgres::shared().fresh_database(test);
    let StoreLocation::Postgres(location) = StoreLocation::parse(&url) else {
        panic!("{url} is a PostgreSQL URL");
    };
    (url, location)
}

async fn stage(s: &PgStore, zone: &Name, base: Option<Generation>, tag: &str) -> Generation {
    s.stage(new_plan(zone, base, tag), entry(zone, AuditAction::Staged))
        .await
        .expect("stage")
}

/// Stages g1 and publishes it, then stages g2..=g`n` on base g1.
async fn history(s: &PgStore, zone: &Name, n: u64) {
    assert_eq!(stage(s, zone, None, "1").await, g(1));
    s.publish_cas(
        zone,
        g(1),
        None,
        serial(),
        entry(zone, AuditAction::Published),
    )
    .await
    .expect("publish g1");
    for i in 2..=n {
        assert_eq!(stage(s, zone, Some(g(1)), &i.to_string()).await, g(i));
    }
}

/// A raw connection, like an operator's psql.
async fn raw(url: &str) -> PgConnection {
    PgConnection::connect(url).await.expect("raw connection")
}

async fn exec(conn: &mut PgConnection, sql: &str) -> Result<u64, sqlx::Error> {
    conn.execute(sql).await.map(|r| r.rows_affected())
}

fn generations(plans: &[zonegate_store::PlanRow]) -> Vec<u64> {
    plans.iter().map(|p| p.generation.0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_deleting_live_plans_and_moving_back() {
    let (url, location) = database("refuses-live");
    let s = PgStore::open(&location).await.unwrap();
    let z = n("example.com.");
    history(&s, &z, 5).await;
    s.record_target("server-1", &z, g(2), NOW).await.unwrap();
    s.pin(&z, g(3), "enactor", NOW + 60).await.unwrap();
    let mut conn = raw(&url).await;
    for (live, what) in [(1, "published"), (2, "held by a target"), (3, "pinned")] {
        let sql =
            format!("DELETE FROM plans WHERE origin = 'example.com.' AND generation = {live}");
        let err = exec(&mut conn, &sql).await.expect_err(what);
        assert!(
            err.to_string().contains("live") || err.to_string().contains("foreign key"),
            "{what}: {err}"
        );
    }
    assert!(exec(&mut conn, "DELETE FROM plans").await.is_err());
    assert!(exec(&mut conn, "TRUNCATE plans CASCADE").await.is_err());
    assert_eq!(generations(&s.plans(&z).await.unwrap()), [1, 2, 3, 4, 5]);
    // The positive space: a plan nobody uses can be deleted.
    assert_eq!(
        exec(
            &mut conn,
            "DELETE FROM plans WHERE origin = 'example.com.' AND generation = 5"
        )
        .await
        .unwrap(),
        1
    );
    assert!(
        exec(&mut conn, "UPDATE zones SET published_generation = NULL")
            .await
            .is_err()
    );
    s.publish_cas(
        &z,
        g(4),
        Some(g(1)),
        serial(),
        entry(&z, AuditAction::Published),
    )
    .await
    .unwrap();
    for refused in [
        "UPDATE zones SET published_generation = 1",
        "UPDATE zones SET next_generation = 2",
        "UPDATE targets SET generation = 1",
        "UPDATE plan_bodies SET body = '\\x00'::bytea WHERE generation = 4",
    ] {
        let err = exec(&mut conn, refused).await.expect_err(refused);
        assert!(!err.to_string().is_empty());
    }
    // Every refusal above is a constraint to the store too.
    let err = s
        .publish_cas(
            &z,
            g(2),
            Some(g(4)),
            serial(),
            entry(&z, AuditAction::Published),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Stale { .. }), "{err:?}");
    conn.close().await.unwrap();
    s.close().await;
}

/// Delta retention in the schema itself (migrations 0004 to 0006), from a raw connection: the
/// parent column is a foreign key with ON DELETE RESTRICT, must be the base, and only ever
/// goes to NULL; a body changes only while its plan is a delta, and goes only with its plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_deleting_a_delta_parent() {
    let (url, location) = database("refuses_deleting_a_delta_parent");
    let s = PgStore::open(&location).await.unwrap();
    let z = n("example.com.");
    history(&s, &z, 3).await;
    let mut conn = raw(&url).await;
    // g4, a delta on g2, as a store writes it (the body first), and the bodies of three plans
    // the schema refuses below.
    for sql in [
        "INSERT INTO plan_bodies (origin, generation, body)
         VALUES ('example.com.', 4, '\\x5a474431'::bytea), ('example.com.', 9, '\\x01'::bytea),
                ('example.com.', 10, '\\x01'::bytea)",
        "INSERT INTO plans (origin, generation, base, hash, record_count, created_at, parent)
         SELECT origin, 4, 2, hash, record_count, created_at, 2
         FROM plans WHERE origin = 'example.com.' AND generation = 3",
    ] {
        exec(&mut conn, sql)
            .await
            .expect("a delta on an existing parent");
    }
    let err = exec(
        &mut conn,
        "DELETE FROM plans WHERE origin = 'example.com.' AND generation = 2",
    )
    .await
    .expect_err("the parent of g4");
    assert!(err.to_string().contains("plans_parent_fkey"), "{err}");
    for (sql, what) in [
        (
            "UPDATE plans SET parent = 3 WHERE generation = 4",
            "immutable",
        ),
        // A compaction keeps everything but the body and the parent.
        (
            "UPDATE plans SET parent = NULL, hash = 'x' WHERE generation = 4",
            "immutable",
        ),
        (
            "UPDATE plan_bodies SET body = '\\x01'::bytea WHERE generation = 3",
            "immutable",
        ),
        (
            "DELETE FROM plan_bodies WHERE generation = 4",
            "plans_body_fkey",
        ),
        (
            "INSERT INTO plans (origin, generation, base, hash, record_count, created_at, parent)
             SELECT origin, 9, 8, hash, record_count, created_at, 8
             FROM plans WHERE origin = 'example.com.' AND generation = 3",
            "plans_parent_fkey",
        ),
        (
            "INSERT INTO plans (origin, generation, base, hash, record_count, created_at, parent)
             SELECT origin, 10, 2, hash, record_count, created_at, 3
             FROM plans WHERE origin = 'example.com.' AND generation = 3",
            "check constraint",
        ),
        (
            "INSERT INTO plans (origin, generation, base, hash, record_count, created_at)
             SELECT origin, 11, 2, hash, record_count, created_at
             FROM plans WHERE origin = 'example.com.' AND generation = 3",
            "plans_body_fkey",
        ),
    ] {
        let err = exec(&mut conn, sql).await.expect_err(what);
        assert!(err.to_string().contains(what), "{what}: {err}");
    }
    // The positive space: a delta becomes a checkpoint (the store checks the body's hash
    // first; the schema allows only this shape, body then parent), and then its old parent
    // can go, and the plan too, its body with it.
    for sql in [
        "UPDATE plan_bodies SET body = '\\x5a474432'::bytea WHERE generation = 4",
        "UPDATE plans SET parent = NULL WHERE generation = 4",
    ] {
        assert_eq!(
            exec(&mut conn, sql).await.expect("a compaction's rewrite"),
            1
        );
    }
    let again = "UPDATE plan_bodies SET body = '\\x01'::bytea WHERE generation = 4";
    assert!(
        exec(&mut conn, again).await.is_err(),
        "a checkpoint's body changed"
    );
    for g in [2, 4] {
        let sql = format!("DELETE FROM plans WHERE origin = 'example.com.' AND generation = {g}");
        assert_eq!(exec(&mut conn, &sql).await.unwrap(), 1);
    }
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM plan_bodies WHERE generation IN (2, 4)")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(left, 0, "their bodies went too");
    let plans = s.plans(&z).await.unwrap();
    assert_eq!(generations(&plans), vec![1, 3]);
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_zero_record_plans_and_rewriting_the_audit_log() {
    let (url, location) = database("zero-record");
    let s = PgStore::open(&location).await.unwrap();
    let z = n("example.com.");
    history(&s, &z, 2).await;
    let hash = ContentHash::flat(b"x").to_string();
    let mut conn = raw(&url).await;
    let insert = |generation: u32, count: u32| {
        format!(
            "INSERT INTO plans (origin, generation, base, hash, record_count, created_at, status)
             VALUES ('example.com.', {generation}, NULL, '{hash}', {count}, 0, 'staged')"
        )
    };
    let body = |body: &str| {
        format!(
            "INSERT INTO plan_bodies (origin, generation, body) VALUES ('example.com.', 7, {body})"
        )
    };
    for (refused, what) in [
        (body("''::bytea"), "check constraint"),
        (body("NULL"), "not-null"),
    ] {
        let err = exec(&mut conn, &refused).await.expect_err(what);
        assert!(err.to_string().contains(what), "{what}: {err}");
    }
    assert_eq!(exec(&mut conn, &body("'\\x01'::bytea")).await.unwrap(), 1);
    let err = exec(&mut conn, &insert(7, 0))
        .await
        .expect_err("zero records");
    assert!(err.to_string().contains("check constraint"), "{err}");
    let err = exec(&mut conn, &insert(8, 1)).await.expect_err("no body");
    assert!(err.to_string().contains("plans_body_fkey"), "{err}");
    assert_eq!(exec(&mut conn, &insert(7, 1)).await.unwrap(), 1);
    let before = s.audit_log(None, 100).await.unwrap();
    assert_eq!(before.len(), 3);
    for sql in [
        "UPDATE audit SET detail = 'rewritten'",
        "DELETE FROM audit",
        "TRUNCATE audit",
    ] {
        let err = exec(&mut conn, sql).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(s.audit_log(None, 100).await.unwrap(), before);
    conn.close().await.unwrap();
    s.close().await;
}

/// Sixteen enactors, each with a store (a pool) of its own as on sixteen hosts, stage on the
/// same base and publish at the same instant, round after round: exactly one wins each round,
/// every other one is refused as stale, generations are never handed out twice, and the
/// pointer and the audit log agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sixteen_enactors_publish_exactly_once_per_round() {
    const ENACTORS: usize = 16;
    const ROUNDS: u64 = 5;
    let (_, location) = database("sixteen");
    let mut stores = Vec::new();
    for _ in 0..ENACTORS {
        stores.push(PgStore::open(&location).await.unwrap());
    }
    let z = n("example.com.");
    let mut staged = BTreeSet::new();
    for round in 0..ROUNDS {
        let base = stores[0].published(&z).await.unwrap().map(|p| p.generation);
        let barrier = Arc::new(tokio::sync::Barrier::new(ENACTORS));
        let mut tasks = Vec::new();
        for (i, s) in stores.iter().enumerate() {
            let (s, z, barrier) = (s.clone(), z.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let generation = s
                    .stage(
                        new_plan(&z, base, &format!("{round}-{i}")),
                        entry(&z, AuditAction::Staged),
                    )
                    .await
                    .expect("stage");
                let mut published = entry(&z, AuditAction::Published);
                published.actor = Actor::new(&format!("enactor-{i}")).expect("a valid actor");
                (
                    generation,
                    s.publish_cas(&z, generation, base, serial(), published)
                        .await,
                )
            }));
        }
        let mut wins = Vec::new();
        for task in tasks {
            let (generation, outcome) = tokio::time::timeout(BOUND, task).await.unwrap().unwrap();
            assert!(
                staged.insert(generation),
                "generation {generation} handed out twice"
            );
            match outcome {
                Ok(p) => wins.push(p.generation),
                Err(StoreError::Stale { .. }) => {}
                Err(other) => panic!("round {round}: unexpected {other:?}"),
            }
        }
        assert_eq!(wins.len(), 1, "round {round}: {wins:?}");
        let now = stores[1].published(&z).await.unwrap().unwrap();
        assert_eq!(now.generation, wins[0]);
        assert_eq!(now.publish_count, round + 1);
    }
    let published = stores[2]
        .audit_log(Some(&z), 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action == AuditAction::Published)
        .count() as u64;
    assert_eq!(published, ROUNDS);
    assert_eq!(staged.len(), ENACTORS * ROUNDS as usize);
    for s in &stores {
        s.close().await;
    }
}

/// The horizon under READ COMMITTED: clean-up racing pins, from many connections at once. A
/// pin that succeeded must keep its plan (the plan exists after every clean-up), and a
/// clean-up never deletes the published plan or a target's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cleanup_racing_pins_never_deletes_a_pinned_plan() {
    const PLANS: u64 = 40;
    let (_, location) = database("cleanup-pins");
    let mut stores = Vec::new();
    for _ in 0..8 {
        stores.push(PgStore::open(&location).await.unwrap());
    }
    let z = n("example.com.");
    history(&stores[0], &z, PLANS).await;
    stores[0]
        .record_target("server-1", &z, g(1), NOW)
        .await
        .unwrap();
    // The target moves up so the horizon rises, and clean-up has something to delete.
    stores[0]
        .publish_cas(
            &z,
            g(PLANS),
            Some(g(1)),
            serial(),
            entry(&z, AuditAction::Published),
        )
        .await
        .unwrap();
    stores[0]
        .record_target("server-1", &z, g(PLANS), NOW)
        .await
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(stores.len()));
    let mut tasks = Vec::new();
    for (i, s) in stores.iter().enumerate() {
        let (s, z, barrier) = (s.clone(), z.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut pinned = Vec::new();
            let mut deleted = 0;
            for k in 0..PLANS / 2 {
                if i % 2 == 0 {
                    let generation = g(2 + (k * 7 + i as u64) % (PLANS - 2));
                    match s
                        .pin(&z, generation, &format!("enactor-{i}"), NOW + 3_600)
                        .await
                    {
                        Ok(()) => pinned.push(generation),
                        Err(StoreError::PlanMissing { .. }) => {}
                        Err(other) => panic!("pin: {other:?}"),
                    }
                } else {
                    deleted += s.cleanup(&z, 0, 3_600, NOW).await.expect("cleanup");
                }
            }
            (pinned, deleted)
        }));
    }
    let mut pinned = BTreeSet::new();
    let mut deleted = 0;
    for task in tasks {
        let (p, d) = tokio::time::timeout(BOUND, task).await.unwrap().unwrap();
        pinned.extend(p);
        deleted += d;
    }
    deleted += stores[0].cleanup(&z, 0, 3_600, NOW).await.unwrap();
    let left: BTreeSet<u64> = generations(&stores[0].plans(&z).await.unwrap())
        .into_iter()
        .collect();
    for generation in &pinned {
        assert!(
            left.contains(&generation.0),
            "pinned {generation} was deleted; left {left:?}"
        );
    }
    assert!(
        left.contains(&PLANS),
        "the published and held plan was deleted"
    );
    assert!(
        deleted > 0,
        "clean-up deleted nothing: the race was not run"
    );
    assert_eq!(
        left.len() as u64 + deleted,
        PLANS,
        "left {left:?}, deleted {deleted}"
    );
    for s in &stores {
        s.close().await;
    }
}

/// The row lock: a step on a zone waits for a transaction holding that zone's row, and a step
/// on another zone does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_steps_on_one_zone_queue_and_on_others_do_not_wait() {
    let (url, location) = database("row-lock");
    let s = PgStore::open(&location).await.unwrap();
    let (a, b) = (n("a.example."), n("b.example."));
    history(&s, &a, 2).await;
    history(&s, &b, 2).await;
    let mut holder = raw(&url).await;
    exec(&mut holder, "BEGIN").await.unwrap();
    exec(
        &mut holder,
        "SELECT 1 FROM zones WHERE origin = 'a.example.' FOR UPDATE",
    )
    .await
    .unwrap();
    let waiting = {
        let (s, a) = (s.clone(), a.clone());
        tokio::spawn(async move {
            s.publish_cas(
                &a,
                g(2),
                Some(g(1)),
                serial(),
                entry(&a, AuditAction::Published),
            )
            .await
        })
    };
    // The other zone goes ahead while a is locked.
    let other = tokio::time::timeout(
        BOUND,
        s.publish_cas(
            &b,
            g(2),
            Some(g(1)),
            serial(),
            entry(&b, AuditAction::Published),
        ),
    )
    .await
    .expect("a step on another zone must not wait")
    .unwrap();
    assert_eq!(other.generation, g(2));
    assert!(!waiting.is_finished(), "a step on a locked zone went ahead");
    assert_eq!(s.published(&a).await.unwrap().unwrap().generation, g(1));
    exec(&mut holder, "COMMIT").await.unwrap();
    let published = tokio::time::timeout(BOUND, waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(published.generation, g(2));
    holder.close().await.unwrap();
    s.close().await;
}

/// A publish notifies inside its transaction: a follower hears the zone once it committed, and
/// a refused publish sends nothing (the next notice is the next real publication).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_publish_notifies_followers_when_it_commits() {
    let (_, location) = database("notify");
    let s = PgStore::open(&location).await.unwrap();
    let mut follower = PgFollower::connect(&location).await.unwrap();
    let (a, b) = (n("a.example."), n("b.example."));
    history(&s, &a, 3).await;
    let heard = tokio::time::timeout(BOUND, follower.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(heard, PublishedNotice::Published(a.clone()));
    // Refused: nothing is sent.
    let stale = s
        .publish_cas(&a, g(2), None, serial(), entry(&a, AuditAction::Published))
        .await;
    assert!(matches!(stale, Err(StoreError::Stale { .. })), "{stale:?}");
    history(&s, &b, 1).await;
    let heard = tokio::time::timeout(BOUND, follower.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(heard, PublishedNotice::Published(b.clone()));
    s.close().await;
}

/// PostgreSQL not there: opening fails as "store unavailable" within the connect timeout,
/// without the password in the message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_is_store_unavailable_without_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://zonegate:hunter2-secret@127.0.0.1:{port}/zonegate");
    let StoreLocation::Postgres(location) = StoreLocation::parse(&url) else {
        panic!("a URL");
    };
    let err = tokio::time::timeout(BOUND, PgStore::open(&location))
        .await
        .expect("open must give up within the connect timeout")
        .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("store unavailable"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(matches!(err, StoreError::Backend { .. }), "{err:?}");
}

/// The serial request of these publications: the zone file's serial.
fn serial() -> SerialRequest {
    SerialRequest {
        policy: SerialPolicy::File,
        file_serial: 1,
        now_s: NOW,
    }
}
