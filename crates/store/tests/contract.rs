//! The store contract: one suite, run against the in-memory model (`MemStore`, which the loom
//! suite drives), against the SQLite store and against the PostgreSQL store, so that what loom
//! proves about the model holds for the stores the binary runs.
//!
//! Each `contract_*` function is generic over [`Store`]; the `contract!` macro instantiates it
//! three times, in `mem::`, `sqlite::` and `postgres::` (a database of its own per test, on the
//! test process's throwaway cluster from `zonegate_testkit::postgres`). The SQLite-only tests
//! at the end check what only a database can get wrong: its own constraints, several
//! connections and several processes; `tests/postgres.rs` has PostgreSQL's.

#![allow(clippy::too_many_lines)] // Long test functions: each walks one scenario end to end.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use zonegate_core::gate::{
    Actor, AuditAction, Generation, PlanBody, PlanStatus, ReasonCode, Store, StoreError, Verdict,
};
use zonegate_core::model::MemStore;
use zonegate_core::testkit::n;
use zonegate_core::zone::serial::{SerialPolicy, SerialRequest};
use zonegate_core::{ContentHash, Name};
use zonegate_store::{AnyStore, PgStore, SqliteStore, StoreLocation};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

mod fixtures;
use fixtures::{NOW, entry, g, gens, new_plan};

mod chains;
use chains::{
    contract_cleanup_keeps_the_closure_of_chains, contract_deferred_checkpoints_are_compacted,
    contract_delta_chain_rebuilds_and_checkpoints, contract_delta_checkpoints_past_the_byte_bound,
    contract_one_record_generations_store_little,
};

/// The target lease the contract's clean-ups run with, unless a test says otherwise.
const LEASE_S: u64 = 3_600;

/// The serial request of the contract's publications: the file serial of a zone taken over.
fn serial() -> SerialRequest {
    SerialRequest {
        policy: SerialPolicy::File,
        file_serial: 2_024_010_101,
        now_s: NOW,
    }
}

/// An audit row without an action, which both stores refuse.
fn no_action() -> AuditAction {
    AuditAction::Unrecognized(String::new())
}

async fn stage<S: Store>(s: &S, zone: &Name, base: Option<Generation>) -> Generation {
    s.stage(
        new_plan(zone, base, "plan"),
        entry(zone, AuditAction::Staged),
    )
    .await
    .expect("stage")
}

async fn publish<S: Store>(
    s: &S,
    zone: &Name,
    generation: Generation,
    base: Option<Generation>,
) -> Result<(Generation, u64), StoreError> {
    s.publish_cas(
        zone,
        generation,
        base,
        serial(),
        entry(zone, AuditAction::Published),
    )
    .await
    .map(|p| (p.generation, p.publish_count))
}

/// Stages g1 and publishes it, then stages g2..=g`n` on base g1.
async fn history<S: Store>(s: &S, zone: &Name, n: u64) {
    assert_eq!(stage(s, zone, None).await, g(1));
    publish(s, zone, g(1), None).await.expect("publish g1");
    for i in 2..=n {
        assert_eq!(stage(s, zone, Some(g(1))).await, g(i));
    }
}

/// What the contract needs to see beyond the `Store` trait: which plans exist and what the
/// audit log says. Both stores have inherent methods for it.
trait Inspect: Store {
    async fn generations(&self, zone: &Name) -> Vec<Generation>;
    /// (action, generation) of every audit row of `zone`, oldest first.
    async fn audit_actions(&self, zone: &Name) -> Vec<(AuditAction, Option<Generation>)>;
    /// The bytes `zone`'s plans store (full bodies and deltas).
    async fn stored_bytes(&self, zone: &Name) -> u64;
}

impl Inspect for MemStore {
    async fn generations(&self, zone: &Name) -> Vec<Generation> {
        MemStore::generations(self, zone)
    }
    async fn audit_actions(&self, zone: &Name) -> Vec<(AuditAction, Option<Generation>)> {
        self.audit_log()
            .into_iter()
            .filter(|e| &e.zone == zone)
            .map(|e| (e.action, e.generation))
            .collect()
    }
    async fn stored_bytes(&self, zone: &Name) -> u64 {
        MemStore::stored_bytes(self, zone)
    }
}

/// Both database stores answer through their read queries.
macro_rules! inspect_by_reads {
    ($($store:ty),*) => {
        $(
            impl Inspect for $store {
                async fn generations(&self, zone: &Name) -> Vec<Generation> {
                    self.plans(zone)
                        .await
                        .expect("plans")
                        .into_iter()
                        .map(|p| p.generation)
                        .collect()
                }
                async fn audit_actions(&self, zone: &Name) -> Vec<(AuditAction, Option<Generation>)> {
                    let mut rows = self.audit_log(Some(zone), 10_000).await.expect("audit log");
                    rows.reverse();
                    rows.into_iter().map(|r| (r.action, r.generation)).collect()
                }
                async fn stored_bytes(&self, zone: &Name) -> u64 {
                    self.plans(zone).await.expect("plans").iter().map(|p| p.body_bytes).sum()
                }
            }
        )*
    };
}

inspect_by_reads!(SqliteStore, PgStore);

/// A PostgreSQL store on a fresh database of the test process's cluster.
async fn pg_store(test: &str) -> PgStore {
    let url = zonegate_testkit::postgres::shared().fresh_database(test);
    let StoreLocation::Postgres(location) = StoreLocation::parse(&url) else {
        panic!("{url} is a PostgreSQL URL");
    };
    PgStore::open(&location)
        .await
        .expect("open the PostgreSQL store")
}

fn actions(list: &[(AuditAction, Option<u64>)]) -> Vec<(AuditAction, Option<Generation>)> {
    list.iter()
        .map(|(a, n)| (a.clone(), n.map(Generation)))
        .collect()
}

/// A database file in the temp directory, removed (with its WAL files) on drop.
struct TempDb {
    path: PathBuf,
}

impl TempDb {
    fn new(test: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "zonegate-contract-{}-{}-{test}.db",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let db = TempDb { path };
        db.remove();
        db
    }

    async fn open(&self) -> SqliteStore {
        SqliteStore::open(&self.path).await.expect("open the store")
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A raw connection, like an operator's sqlite3 shell or another program.
async fn raw(path: &Path, foreign_keys: bool) -> SqliteConnection {
    SqliteConnectOptions::new()
        .filename(path)
        .foreign_keys(foreign_keys)
        .busy_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("raw connection")
}

macro_rules! contract {
    ($($test:ident),* $(,)?) => {
        mod mem {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(&zonegate_core::model::MemStore::new()).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let db = super::TempDb::new(stringify!($test));
                    let store = db.open().await;
                    super::$test(&store).await;
                    store.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let store = super::pg_store(stringify!($test)).await;
                    super::$test(&store).await;
                    store.close().await;
                }
            )*
        }
    };
}

contract!(
    contract_stage_assigns_increasing_generations,
    contract_generations_never_reused_after_cleanup,
    contract_refused_stage_takes_no_generation,
    contract_publish_cas_succeeds,
    contract_stale_when_generation_not_above_published,
    contract_stale_when_base_moved,
    contract_october_race_is_refused,
    contract_plan_missing,
    contract_concurrent_publishes_exactly_one_wins,
    contract_failed_publish_changes_nothing,
    contract_cleanup_keeps_live_and_newest,
    contract_cleanup_without_publish_deletes_nothing,
    contract_record_target_never_goes_backwards,
    contract_pins_expire,
    contract_targets_that_stop_renewing_stop_holding_cleanup,
    contract_serial_is_decided_at_publish_and_stored,
    contract_audit_appends,
    contract_stage_records_the_verdict_and_refuses_final_ones,
    contract_publish_needs_a_publishable_verdict,
    contract_set_verdict_is_bound_to_hash_and_state,
    contract_delta_chain_rebuilds_and_checkpoints,
    contract_delta_checkpoints_past_the_byte_bound,
    contract_cleanup_keeps_the_closure_of_chains,
    contract_one_record_generations_store_little,
    contract_deferred_checkpoints_are_compacted,
);

// ---------------------------------------------------------------------------------------------
// The contract
// ---------------------------------------------------------------------------------------------

async fn contract_stage_assigns_increasing_generations<S: Inspect>(s: &S) {
    let a = n("a.example.");
    let b = n("b.example.");
    assert_eq!(s.newest_generation(&a).await.unwrap(), None);
    assert_eq!(s.published(&a).await.unwrap(), None);
    assert_eq!(stage(s, &a, None).await, g(1));
    assert_eq!(stage(s, &a, None).await, g(2));
    // Each zone counts on its own.
    assert_eq!(stage(s, &b, None).await, g(1));
    assert_eq!(stage(s, &a, None).await, g(3));
    assert_eq!(s.newest_generation(&a).await.unwrap(), Some(g(3)));
    assert_eq!(s.newest_generation(&b).await.unwrap(), Some(g(1)));
    assert_eq!(s.generations(&a).await, gens(&[1, 2, 3]));

    let staged = new_plan(&a, None, "fourth");
    let g4 = s
        .stage(staged.clone(), entry(&a, AuditAction::Staged))
        .await
        .unwrap();
    let plan = s.load_plan(&a, g4).await.unwrap().expect("staged plan");
    assert_eq!(plan.zone, a);
    assert_eq!(plan.generation, g(4));
    assert_eq!(plan.base, None);
    assert_eq!(plan.hash, staged.hash);
    assert_eq!(plan.body, staged.body.bytes());
    assert_eq!(plan.record_count, 3);
    assert_eq!(plan.created_at, NOW);
    assert_eq!(plan.status, PlanStatus::Staged);
    assert_eq!(s.load_plan(&a, g(5)).await.unwrap(), None);
    // Staging records its generation in the audit row, in the same step.
    assert_eq!(
        s.audit_actions(&a).await,
        actions(&[
            (AuditAction::Staged, Some(1)),
            (AuditAction::Staged, Some(2)),
            (AuditAction::Staged, Some(3)),
            (AuditAction::Staged, Some(4))
        ])
    );
    // Nothing is published by staging.
    assert_eq!(s.published(&a).await.unwrap(), None);
}

async fn contract_generations_never_reused_after_cleanup<S: Inspect>(s: &S) {
    let z = n("example.com.");
    history(s, &z, 5).await;
    publish(s, &z, g(5), Some(g(1))).await.unwrap();
    assert_eq!(s.cleanup(&z, 0, LEASE_S, NOW).await.unwrap(), 4);
    assert_eq!(s.generations(&z).await, gens(&[5]));
    assert_eq!(s.load_plan(&z, g(1)).await.unwrap(), None);
    // The numbers of deleted plans are not handed out again.
    assert_eq!(stage(s, &z, Some(g(5))).await, g(6));
    assert_eq!(s.newest_generation(&z).await.unwrap(), Some(g(6)));
}

async fn contract_refused_stage_takes_no_generation<S: Inspect>(s: &S) {
    let z = n("example.com.");
    let mut empty = new_plan(&z, None, "empty");
    empty.record_count = 0;
    assert!(matches!(
        s.stage(empty, entry(&z, AuditAction::Staged)).await,
        Err(StoreError::Constraint { .. })
    ));
    let mut bodiless = new_plan(&z, None, "bodiless");
    bodiless.body = PlanBody::Full(Vec::new());
    assert!(matches!(
        s.stage(bodiless, entry(&z, AuditAction::Staged)).await,
        Err(StoreError::Constraint { .. })
    ));
    // A base must be older than the plan it is the base of.
    assert!(matches!(
        s.stage(
            new_plan(&z, Some(g(1)), "future base"),
            entry(&z, AuditAction::Staged)
        )
        .await,
        Err(StoreError::Constraint { .. })
    ));
    assert!(matches!(
        s.stage(new_plan(&z, None, "no action"), entry(&z, no_action()))
            .await,
        Err(StoreError::Constraint { .. })
    ));
    // None of the refusals took a generation or left a trace.
    assert_eq!(s.newest_generation(&z).await.unwrap(), None);
    assert!(s.audit_actions(&z).await.is_empty());
    assert_eq!(stage(s, &z, None).await, g(1));
}

async fn contract_publish_cas_succeeds<S: Inspect>(s: &S) {
    let z = n("example.com.");
    let g1 = stage(s, &z, None).await;
    assert_eq!(publish(s, &z, g1, None).await.unwrap(), (g(1), 1));
    let published = s.published(&z).await.unwrap().expect("published");
    assert_eq!((published.generation, published.publish_count), (g(1), 1));
    assert_eq!(
        s.load_plan(&z, g1).await.unwrap().unwrap().status,
        PlanStatus::Published
    );

    let g2 = stage(s, &z, Some(g1)).await;
    assert_eq!(publish(s, &z, g2, Some(g1)).await.unwrap(), (g(2), 2));
    assert_eq!(
        s.load_plan(&z, g1).await.unwrap().unwrap().status,
        PlanStatus::Superseded
    );
    assert_eq!(
        s.load_plan(&z, g2).await.unwrap().unwrap().status,
        PlanStatus::Published
    );
    // Skipping generations is fine: g3 is never published, g4 is.
    let g3 = stage(s, &z, Some(g2)).await;
    let g4 = stage(s, &z, Some(g2)).await;
    assert_eq!(publish(s, &z, g4, Some(g2)).await.unwrap(), (g(4), 3));
    assert_eq!(
        s.load_plan(&z, g3).await.unwrap().unwrap().status,
        PlanStatus::Staged
    );
    assert_eq!(
        s.load_plan(&z, g2).await.unwrap().unwrap().status,
        PlanStatus::Superseded
    );
    assert_eq!(
        s.audit_actions(&z).await,
        actions(&[
            (AuditAction::Staged, Some(1)),
            (AuditAction::Published, Some(1)),
            (AuditAction::Staged, Some(2)),
            (AuditAction::Published, Some(2)),
            (AuditAction::Staged, Some(3)),
            (AuditAction::Staged, Some(4)),
            (AuditAction::Published, Some(4)),
        ])
    );
}

async fn contract_stale_when_generation_not_above_published<S: Inspect>(s: &S) {
    let z = n("example.com.");
    let g1 = stage(s, &z, None).await;
    let g2 = stage(s, &z, None).await;
    publish(s, &z, g2, None).await.unwrap();
    let audit_before = s.audit_actions(&z).await;
    // Older than the published generation, even with the current base.
    assert_eq!(
        publish(s, &z, g1, Some(g2)).await,
        Err(StoreError::Stale {
            offered: g1,
            base: Some(g2),
            published: Some(g2)
        })
    );
    // The published generation itself.
    assert_eq!(
        publish(s, &z, g2, Some(g2)).await,
        Err(StoreError::Stale {
            offered: g2,
            base: Some(g2),
            published: Some(g2)
        })
    );
    let p = s.published(&z).await.unwrap().unwrap();
    assert_eq!((p.generation, p.publish_count), (g2, 1));
    assert_eq!(
        s.load_plan(&z, g1).await.unwrap().unwrap().status,
        PlanStatus::Staged
    );
    // A lost CAS writes nothing, not even an audit row: the caller audits the refusal.
    assert_eq!(s.audit_actions(&z).await, audit_before);
}

async fn contract_stale_when_base_moved<S: Inspect>(s: &S) {
    let z = n("example.com.");
    let g1 = stage(s, &z, None).await;
    publish(s, &z, g1, None).await.unwrap();
    let g2 = stage(s, &z, Some(g1)).await;
    let g3 = stage(s, &z, Some(g1)).await;
    publish(s, &z, g2, Some(g1)).await.unwrap();
    // g3 is newer than g2, but it was planned on g1: what it changes may undo g2.
    assert_eq!(
        publish(s, &z, g3, Some(g1)).await,
        Err(StoreError::Stale {
            offered: g3,
            base: Some(g1),
            published: Some(g2)
        })
    );
    // Claiming "nothing was published" is stale too once something is.
    assert_eq!(
        publish(s, &z, g3, None).await,
        Err(StoreError::Stale {
            offered: g3,
            base: None,
            published: Some(g2)
        })
    );
    // And a base that was never published.
    assert_eq!(
        publish(s, &z, g3, Some(g3)).await,
        Err(StoreError::Stale {
            offered: g3,
            base: Some(g3),
            published: Some(g2)
        })
    );
    let p = s.published(&z).await.unwrap().unwrap();
    assert_eq!((p.generation, p.publish_count), (g2, 2));
    // Re-planned on the current base, it goes through.
    let g4 = stage(s, &z, Some(g2)).await;
    assert_eq!(publish(s, &z, g4, Some(g2)).await.unwrap(), (g4, 3));
}

/// The October 2025 DynamoDB outage, as a store-level regression test.
///
/// Enactor A picked up an old plan, checked that it was newer than what was applied, and
/// stalled. Enactor B applied a much newer plan and ran clean-up. A then woke up and applied
/// its old plan over B's, clean-up deleted that old plan as "significantly older", and the
/// endpoint's record went empty with no enactor able to recover.
///
/// Here A's check and write are one CAS, so A's late publish is refused as stale; the pointer
/// stays on B's plan; clean-up never deletes the live plan; and a later plan still publishes.
async fn contract_october_race_is_refused<S: Inspect>(s: &S) {
    let z = n("dynamodb.us-east-1.example.");
    let g1 = stage(s, &z, None).await;
    publish(s, &z, g1, None).await.unwrap();
    // A picks up g2 (planned on g1) and stalls.
    let old = stage(s, &z, Some(g1)).await;
    s.pin(&z, old, "enactor-a", NOW + 300).await.unwrap();
    // The planner moves on; B publishes the newest generation and cleans up.
    let mut newest = old;
    for _ in 0..5 {
        newest = stage(s, &z, Some(g1)).await;
    }
    publish(s, &z, newest, Some(g1)).await.unwrap();
    s.cleanup(&z, 1, LEASE_S, NOW).await.unwrap();
    // A wakes up: its plan is newer than g1, the base it saw, but no longer than what is live.
    assert_eq!(
        publish(s, &z, old, Some(g1)).await,
        Err(StoreError::Stale {
            offered: old,
            base: Some(g1),
            published: Some(newest)
        })
    );
    s.unpin(&z, old, "enactor-a").await.unwrap();
    // Clean-up, however eager, leaves the live plan alone.
    s.cleanup(&z, 0, LEASE_S, NOW).await.unwrap();
    assert_eq!(s.published(&z).await.unwrap().unwrap().generation, newest);
    assert!(s.load_plan(&z, newest).await.unwrap().is_some());
    assert_eq!(s.generations(&z).await, vec![newest]);
    // Nothing is wedged: the next plan publishes.
    let next = stage(s, &z, Some(newest)).await;
    assert_eq!(publish(s, &z, next, Some(newest)).await.unwrap().0, next);
}

async fn contract_plan_missing<S: Inspect>(s: &S) {
    let z = n("example.com.");
    let unknown = n("unknown.example.");
    assert_eq!(
        publish(s, &unknown, g(1), None).await,
        Err(StoreError::PlanMissing {
            zone: unknown.clone(),
            generation: g(1)
        })
    );
    assert_eq!(s.published(&unknown).await.unwrap(), None);
    history(s, &z, 3).await;
    assert_eq!(
        publish(s, &z, g(9), Some(g(1))).await,
        Err(StoreError::PlanMissing {
            zone: z.clone(),
            generation: g(9)
        })
    );
    publish(s, &z, g(3), Some(g(1))).await.unwrap();
    assert_eq!(s.cleanup(&z, 0, LEASE_S, NOW).await.unwrap(), 2);
    // A deleted plan is missing, which says more than "stale".
    assert_eq!(
        publish(s, &z, g(1), Some(g(3))).await,
        Err(StoreError::PlanMissing {
            zone: z.clone(),
            generation: g(1)
        })
    );
    assert_eq!(
        s.pin(&z, g(2), "enactor", NOW + 60).await,
        Err(StoreError::PlanMissing {
            zone: z.clone(),
            generation: g(2)
        })
    );
    assert_eq!(
        s.pin(&unknown, g(1), "enactor", NOW + 60).await,
        Err(StoreError::PlanMissing {
            zone: unknown.clone(),
            generation: g(1)
        })
    );
    assert_eq!(
        s.record_target("server-1", &z, g(2), NOW).await,
        Err(StoreError::PlanMissing {
            zone: z.clone(),
            generation: g(2)
        })
    );
    let p = s.published(&z).await.unwrap().unwrap();
    assert_eq!((p.generation, p.publish_count), (g(3), 2));
}

async fn contract_concurrent_publishes_exactly_one_wins<S: Inspect>(s: &S) {
    let z = n("example.com.");
    for round in 0..5u64 {
        let base = s.published(&z).await.unwrap().map(|p| p.generation);
        let left = stage(s, &z, base).await;
        let right = stage(s, &z, base).await;
        let (l, r) = tokio::join!(publish(s, &z, left, base), publish(s, &z, right, base));
        let winner = match (l, r) {
            (Ok((w, _)), Err(StoreError::Stale { offered, .. })) => {
                assert_eq!(offered, right);
                w
            }
            (Err(StoreError::Stale { offered, .. }), Ok((w, _))) => {
                assert_eq!(offered, left);
                w
            }
            other => panic!("round {round}: exactly one publish must win, got {other:?}"),
        };
        let p = s.published(&z).await.unwrap().unwrap();
        assert_eq!(p.generation, winner);
        assert_eq!(p.publish_count, round + 1, "one version bump per round");
    }
    let published_rows = s
        .audit_actions(&z)
        .await
        .into_iter()
        .filter(|(a, _)| *a == AuditAction::Published)
        .count();
    assert_eq!(published_rows, 5);
}

async fn contract_failed_publish_changes_nothing<S: Inspect>(s: &S) {
    let z = n("example.com.");
    let g1 = stage(s, &z, None).await;
    publish(s, &z, g1, None).await.unwrap();
    let g2 = stage(s, &z, Some(g1)).await;
    let audit_before = s.audit_actions(&z).await;
    // The audit row is refused (no action); the pointer and version must not move without it.
    assert!(matches!(
        s.publish_cas(&z, g2, Some(g1), serial(), entry(&z, no_action()))
            .await,
        Err(StoreError::Constraint { .. })
    ));
    let p = s.published(&z).await.unwrap().unwrap();
    assert_eq!((p.generation, p.publish_count), (g1, 1));
    assert_eq!(
        s.load_plan(&z, g1).await.unwrap().unwrap().status,
        PlanStatus::Published
    );
    assert_eq!(
        s.load_plan(&z, g2).await.unwrap().unwrap().status,
        PlanStatus::Staged
    );
    assert_eq!(s.audit_actions(&z).await, audit_before);
    // The same publish with a proper audit row goes through.
    assert_eq!(publish(s, &z, g2, Some(g1)).await.unwrap(), (g2, 2));
}

async fn contract_cleanup_keeps_live_and_newest<S: Inspect>(s: &S) {
    let z = n("example.com.");
    let other = n("other.example.");
    history(s, &z, 10).await;
    history(s, &other, 3).await;
    publish(s, &z, g(8), Some(g(1))).await.unwrap();
    s.record_target("server-1", &z, g(4), NOW).await.unwrap();
    s.record_target("server-2", &z, g(8), NOW).await.unwrap();
    s.pin(&z, g(6), "enactor", NOW + 500).await.unwrap();
    // Horizon min(g8, g4, g8, g6) = g4. Keeping the newest 9 (g2..g10) leaves only g1.
    assert_eq!(s.cleanup(&z, 9, LEASE_S, NOW).await.unwrap(), 1);
    assert_eq!(s.generations(&z).await, gens(&[2, 3, 4, 5, 6, 7, 8, 9, 10]));
    // Keeping 1: everything below the horizon g4 goes; the target's g4 stays.
    assert_eq!(s.cleanup(&z, 1, LEASE_S, NOW).await.unwrap(), 2);
    assert_eq!(s.generations(&z).await, gens(&[4, 5, 6, 7, 8, 9, 10]));
    // Idempotent.
    assert_eq!(s.cleanup(&z, 1, LEASE_S, NOW).await.unwrap(), 0);
    // server-1 moves on; now the pin on g6 is the lowest live plan.
    s.record_target("server-1", &z, g(8), NOW).await.unwrap();
    assert_eq!(s.cleanup(&z, 1, LEASE_S, NOW).await.unwrap(), 2);
    assert_eq!(s.generations(&z).await, gens(&[6, 7, 8, 9, 10]));
    // The pin expires; the published g8 is the horizon. Plans above it (staged, maybe about
    // to be published) are never clean-up's business.
    assert_eq!(s.cleanup(&z, 0, LEASE_S, NOW + 500).await.unwrap(), 2);
    assert_eq!(s.generations(&z).await, gens(&[8, 9, 10]));
    assert_eq!(s.published(&z).await.unwrap().unwrap().generation, g(8));
    assert_eq!(s.cleanup(&z, 0, LEASE_S, NOW + 10_000).await.unwrap(), 0);
    // Other zones are untouched.
    assert_eq!(s.generations(&other).await, gens(&[1, 2, 3]));
    // Each clean-up that deleted something left one audit row; the empty ones left none.
    let cleanups = s
        .audit_actions(&z)
        .await
        .into_iter()
        .filter(|(a, _)| *a == AuditAction::Cleanup)
        .count();
    assert_eq!(cleanups, 4);
}

async fn contract_cleanup_without_publish_deletes_nothing<S: Inspect>(s: &S) {
    let z = n("example.com.");
    for _ in 0..5 {
        stage(s, &z, None).await;
    }
    assert_eq!(s.cleanup(&z, 0, LEASE_S, NOW).await.unwrap(), 0);
    assert_eq!(s.generations(&z).await, gens(&[1, 2, 3, 4, 5]));
    assert_eq!(
        s.cleanup(&n("unknown.example."), 0, LEASE_S, NOW)
            .await
            .unwrap(),
        0
    );
    // The first publish may pick any of them, old or new.
    assert_eq!(publish(s, &z, g(2), None).await.unwrap(), (g(2), 1));
    assert_eq!(s.cleanup(&z, 0, LEASE_S, NOW).await.unwrap(), 1);
    assert_eq!(s.generations(&z).await, gens(&[2, 3, 4, 5]));
}

async fn contract_record_target_never_goes_backwards<S: Inspect>(s: &S) {
    let z = n("example.com.");
    let other = n("other.example.");
    history(s, &z, 4).await;
    history(s, &other, 1).await;
    s.record_target("server-1", &z, g(2), NOW).await.unwrap();
    assert_eq!(
        s.record_target("server-1", &z, g(1), NOW).await,
        Err(StoreError::TargetNewer {
            target: "server-1".into(),
            held: g(2),
            offered: g(1)
        })
    );
    // The same generation again renews the row (the target's lease), and is no error.
    s.record_target("server-1", &z, g(2), NOW + 1)
        .await
        .unwrap();
    s.record_target("server-1", &z, g(4), NOW).await.unwrap();
    assert_eq!(
        s.record_target("server-1", &z, g(3), NOW).await,
        Err(StoreError::TargetNewer {
            target: "server-1".into(),
            held: g(4),
            offered: g(3)
        })
    );
    // Targets and zones are independent of each other.
    s.record_target("server-2", &z, g(1), NOW).await.unwrap();
    s.record_target("server-1", &other, g(1), NOW)
        .await
        .unwrap();
    // server-2 holding g1 keeps g1 alive through clean-up.
    publish(s, &z, g(4), Some(g(1))).await.unwrap();
    assert_eq!(s.cleanup(&z, 0, LEASE_S, NOW).await.unwrap(), 0);
    s.record_target("server-2", &z, g(4), NOW).await.unwrap();
    assert_eq!(s.cleanup(&z, 0, LEASE_S, NOW).await.unwrap(), 3);
}

async fn contract_pins_expire<S: Inspect>(s: &S) {
    let z = n("example.com.");
    history(s, &z, 4).await;
    publish(s, &z, g(4), Some(g(1))).await.unwrap();
    s.pin(&z, g(2), "enactor-a", NOW + 100).await.unwrap();
    s.pin(&z, g(3), "enactor-b", NOW + 100).await.unwrap();
    // Unpinning what is not pinned is fine.
    s.unpin(&z, g(3), "someone-else").await.unwrap();
    s.unpin(&z, g(9), "enactor-b").await.unwrap();
    assert_eq!(s.cleanup(&z, 0, LEASE_S, NOW).await.unwrap(), 1);
    assert_eq!(s.generations(&z).await, gens(&[2, 3, 4]));
    // Re-pinning extends the lease.
    s.pin(&z, g(2), "enactor-a", NOW + 1_000).await.unwrap();
    // enactor-b releases its pin; enactor-a's lease runs out at NOW + 1000, not NOW + 100.
    s.unpin(&z, g(3), "enactor-b").await.unwrap();
    assert_eq!(s.cleanup(&z, 0, LEASE_S, NOW + 100).await.unwrap(), 0);
    assert_eq!(s.generations(&z).await, gens(&[2, 3, 4]));
    // A pin is expired at its expiry time.
    assert_eq!(s.cleanup(&z, 0, LEASE_S, NOW + 1_000).await.unwrap(), 2);
    assert_eq!(s.generations(&z).await, gens(&[4]));
}

/// Issue 11, item 6: a server that is gone for good must not hold clean-up back forever. Its
/// row counts while it was recorded or renewed within the lease; after that it no longer
/// counts, and is deleted, while a live target that renews keeps its plan.
async fn contract_targets_that_stop_renewing_stop_holding_cleanup<S: Inspect>(s: &S) {
    let z = n("example.com.");
    history(s, &z, 6).await;
    publish(s, &z, g(6), Some(g(1))).await.unwrap();
    let lease = 100;
    // "gone" holds g2 and never comes back; "live" holds g3 and renews.
    s.record_target("gone", &z, g(2), NOW).await.unwrap();
    s.record_target("live", &z, g(3), NOW).await.unwrap();
    // Within the lease both count: the horizon is g2, only g1 goes.
    assert_eq!(s.cleanup(&z, 0, lease, NOW + lease).await.unwrap(), 1);
    assert_eq!(s.generations(&z).await, gens(&[2, 3, 4, 5, 6]));
    // "live" renews (the same generation) just before the lease would run out.
    s.record_target("live", &z, g(3), NOW + lease)
        .await
        .unwrap();
    // One second past the lease, "gone" no longer counts; "live" still holds g3.
    assert_eq!(s.cleanup(&z, 0, lease, NOW + lease + 1).await.unwrap(), 1);
    assert_eq!(s.generations(&z).await, gens(&[3, 4, 5, 6]));
    // "gone"'s row went with it: coming back, it records what it holds as any first record
    // would, and a plan that is gone cannot be recorded.
    assert_eq!(
        s.record_target("gone", &z, g(2), NOW + lease + 2).await,
        Err(StoreError::PlanMissing {
            zone: z.clone(),
            generation: g(2)
        })
    );
    s.record_target("gone", &z, g(6), NOW + lease + 2)
        .await
        .unwrap();
    // "live" stops renewing too: after its lease only the published g6 holds.
    assert_eq!(s.cleanup(&z, 0, lease, NOW + 2 * lease).await.unwrap(), 0);
    assert_eq!(
        s.cleanup(&z, 0, lease, NOW + 2 * lease + 1).await.unwrap(),
        3
    );
    assert_eq!(s.generations(&z).await, gens(&[6]));
    // The published plan never goes, whatever the leases.
    assert_eq!(s.cleanup(&z, 0, lease, NOW + 100 * lease).await.unwrap(), 0);
    assert_eq!(s.published(&z).await.unwrap().unwrap().generation, g(6));
}

/// Issue 11, item 8: the compare-and-swap decides the serial from the one published before and
/// stores it with the generation, so every reader gets the same serial for the same generation.
async fn contract_serial_is_decided_at_publish_and_stored<S: Inspect>(s: &S) {
    let z = n("example.com.");
    for _ in 0..4 {
        stage(s, &z, None).await;
    }
    let file = |file_serial| SerialRequest {
        file_serial,
        ..serial()
    };
    let entry_z = || entry(&z, AuditAction::Published);
    // The first publication takes the file's serial.
    let p1 = s
        .publish_cas(&z, g(1), None, file(2_024_010_101), entry_z())
        .await
        .unwrap();
    assert_eq!(p1.serial, 2_024_010_101);
    // A file that still says the same: one more.
    let p2 = s
        .publish_cas(&z, g(2), Some(g(1)), file(2_024_010_101), entry_z())
        .await
        .unwrap();
    assert_eq!(p2.serial, 2_024_010_102);
    assert_eq!(
        s.published(&z).await.unwrap().unwrap().serial,
        2_024_010_102
    );
    // A lost compare-and-swap decides nothing and stores nothing.
    assert!(matches!(
        s.publish_cas(&z, g(3), Some(g(1)), file(2_030_000_000), entry_z())
            .await,
        Err(StoreError::Stale { .. })
    ));
    assert_eq!(
        s.published(&z).await.unwrap().unwrap().serial,
        2_024_010_102
    );
    assert_eq!(s.load_plan(&z, g(3)).await.unwrap().unwrap().serial, None);
    // Another policy: the generation, still never below the published serial.
    let increment = SerialRequest {
        policy: SerialPolicy::Increment,
        ..file(1)
    };
    let p4 = s
        .publish_cas(&z, g(4), Some(g(2)), increment, entry_z())
        .await
        .unwrap();
    assert_eq!(p4.serial, 2_024_010_103);
    // Each generation keeps the serial it was published with.
    let mut stored = Vec::new();
    for n in 1..=4 {
        stored.push(s.load_plan(&z, g(n)).await.unwrap().unwrap().serial);
    }
    assert_eq!(
        stored,
        vec![
            Some(2_024_010_101),
            Some(2_024_010_102),
            None,
            Some(2_024_010_103)
        ]
    );
}

async fn contract_audit_appends<S: Inspect>(s: &S) {
    let z = n("example.com.");
    let mut refused = entry(&z, AuditAction::Refused);
    refused.reason = Some(ReasonCode::Empty);
    s.audit(refused.clone()).await.unwrap();
    s.audit(entry(&z, AuditAction::Stale)).await.unwrap();
    s.audit(entry(&n("other.example."), AuditAction::Refused))
        .await
        .unwrap();
    assert!(matches!(
        s.audit(entry(&z, no_action())).await,
        Err(StoreError::Constraint { .. })
    ));
    assert_eq!(
        s.audit_actions(&z).await,
        actions(&[(AuditAction::Refused, None), (AuditAction::Stale, None)])
    );
    // Auditing does not create plans or generations.
    assert_eq!(s.newest_generation(&z).await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------------
// SQLite only: what the database itself enforces, and several connections and processes.
// ---------------------------------------------------------------------------------------------

async fn exec(conn: &mut SqliteConnection, sql: &str) -> Result<u64, sqlx::Error> {
    sqlx::query(sql)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
}

/// The catalog zone's members: published zones not retired at their published generation;
/// the change count grows by one at each first publication, retirement and return, and not
/// at an ordinary publication; `retire` refuses a zone never published or retired already,
/// and a second connection (another server) reads the same.
#[tokio::test]
async fn sqlite_catalog_members_and_retire() {
    let db = TempDb::new("catalog-members");
    catalog_members_and_retire(db.open().await.into(), db.open().await.into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_catalog_members_and_retire() {
    let url = zonegate_testkit::postgres::shared().fresh_database("catalog-members");
    let location = StoreLocation::parse(&url);
    let s = AnyStore::open(&location).await.unwrap();
    catalog_members_and_retire(s, AnyStore::open(&location).await.unwrap()).await;
}

/// `other` is a second store on the same database (another server).
async fn catalog_members_and_retire(s: AnyStore, other: AnyStore) {
    use zonegate_store::RetireError;
    let (a, b) = (n("a.example."), n("b.example."));
    let read = |s: AnyStore| async move {
        let m = s.catalog_members().await.unwrap();
        (m.members, m.changes)
    };
    assert_eq!(read(s.clone()).await, (vec![], 0));
    stage(&s, &a, None).await;
    assert_eq!(
        read(s.clone()).await,
        (vec![], 0),
        "staged is not published"
    );
    publish(&s, &a, g(1), None).await.unwrap();
    assert_eq!(read(s.clone()).await, (vec![a.clone()], 1));
    stage(&s, &b, None).await;
    publish(&s, &b, g(1), None).await.unwrap();
    assert_eq!(read(s.clone()).await, (vec![a.clone(), b.clone()], 2));
    // An ordinary publication changes no member.
    stage(&s, &a, Some(g(1))).await;
    publish(&s, &a, g(2), Some(g(1))).await.unwrap();
    assert_eq!(read(s.clone()).await.1, 2);
    let retired = s.retire(&a, entry(&a, no_action())).await.unwrap();
    assert_eq!(retired, g(2));
    assert_eq!(read(s.clone()).await, (vec![b.clone()], 3));
    assert_eq!(
        s.retire(&a, entry(&a, no_action())).await,
        Err(RetireError::AlreadyRetired {
            zone: a.clone(),
            generation: g(2)
        })
    );
    let never = n("never.example.");
    assert_eq!(
        s.retire(&never, entry(&never, no_action())).await,
        Err(RetireError::NotPublished { zone: never })
    );
    let audit = s.audit_log(Some(&a), 100).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.action == AuditAction::Retired && r.generation == Some(g(2))),
        "{audit:?}"
    );
    // Published again: back, one more change; retired again: one more.
    stage(&s, &a, Some(g(2))).await;
    publish(&s, &a, g(3), Some(g(2))).await.unwrap();
    assert_eq!(read(s.clone()).await, (vec![a.clone(), b.clone()], 4));
    s.retire(&a, entry(&a, no_action())).await.unwrap();
    assert_eq!(read(s.clone()).await, (vec![b.clone()], 5));
    assert_eq!(read(other).await, (vec![b.clone()], 5));
}

/// Delta retention in the schema itself (migrations 0004 to 0006), from raw connections with
/// foreign keys on and off: a plan that is the delta parent of another cannot be deleted, a
/// delta's parent must exist and be its base, a parent only ever goes to NULL, and a body
/// changes only while its plan is a delta.
#[tokio::test]
async fn sqlite_refuses_deleting_a_delta_parent() {
    let db = TempDb::new("refuses-deleting-delta-parent");
    let s = db.open().await;
    let z = n("example.com.");
    history(&s, &z, 3).await;
    for foreign_keys in [true, false] {
        let mut conn = raw(&db.path, foreign_keys).await;
        if foreign_keys {
            // g4, a delta on g2 (its base), as a store would write it: the body first. And
            // the bodies of two plans the schema refuses below.
            for sql in [
                "INSERT INTO plan_bodies (origin, generation, body)
                 VALUES ('example.com.', 4, X'5A474431'), ('example.com.', 9, X'01'),
                        ('example.com.', 10, X'01')",
                "INSERT INTO plans (origin, generation, base, hash, record_count, created_at,
                                    parent)
                 SELECT origin, 4, 2, hash, record_count, created_at, 2
                 FROM plans WHERE origin = 'example.com.' AND generation = 3",
            ] {
                exec(&mut conn, sql)
                    .await
                    .expect("a delta on an existing parent");
            }
        }
        let err = exec(
            &mut conn,
            "DELETE FROM plans WHERE origin = 'example.com.' AND generation = 2",
        )
        .await
        .expect_err("the parent of g4");
        assert!(err.to_string().contains("delta parent"), "{err}");
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
                "UPDATE plan_bodies SET body = X'01' WHERE generation = 3",
                "immutable",
            ),
            (
                "DELETE FROM plan_bodies WHERE generation = 4",
                "only with its plan",
            ),
            (
                "INSERT INTO plans (origin, generation, base, hash, record_count,
                                    created_at, parent)
                 SELECT origin, 9, 8, hash, record_count, created_at, 8
                 FROM plans WHERE origin = 'example.com.' AND generation = 3",
                "needs its parent",
            ),
            (
                "INSERT INTO plans (origin, generation, base, hash, record_count,
                                    created_at, parent)
                 SELECT origin, 10, 2, hash, record_count, created_at, 3
                 FROM plans WHERE origin = 'example.com.' AND generation = 3",
                "constraint",
            ),
            (
                "INSERT INTO plans (origin, generation, base, hash, record_count, created_at)
                 SELECT origin, 11, 2, hash, record_count, created_at
                 FROM plans WHERE origin = 'example.com.' AND generation = 3",
                "needs its body",
            ),
        ] {
            let err = exec(&mut conn, sql).await.expect_err(what);
            assert!(err.to_string().contains(what), "{what}: {err}");
        }
        conn.close().await.unwrap();
    }
    // The positive space: a delta becomes a checkpoint (the store checks the body's hash
    // first; the schema allows only this shape, body then parent), and then its old parent
    // can go, and the plan too, its body with it.
    let mut conn = raw(&db.path, true).await;
    for sql in [
        "UPDATE plan_bodies SET body = X'5A474432' WHERE generation = 4",
        "UPDATE plans SET parent = NULL WHERE generation = 4",
    ] {
        assert_eq!(
            exec(&mut conn, sql).await.expect("a compaction's rewrite"),
            1
        );
    }
    let again = exec(
        &mut conn,
        "UPDATE plan_bodies SET body = X'01' WHERE generation = 4",
    )
    .await;
    assert!(again.is_err(), "a checkpoint's body changed");
    for g in [2, 4] {
        let sql = format!("DELETE FROM plans WHERE origin = 'example.com.' AND generation = {g}");
        assert_eq!(exec(&mut conn, &sql).await.unwrap(), 1);
    }
    let sql = "SELECT count(*) FROM plan_bodies WHERE generation IN (2, 4)";
    let left: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
    assert_eq!(left, 0, "their bodies went too");
    conn.close().await.unwrap();
    assert_eq!(s.generations(&z).await, gens(&[1, 3]));
    s.close().await;
}

#[tokio::test]
async fn sqlite_refuses_deleting_live_plans() {
    let db = TempDb::new("refuses-deleting-live");
    let s = db.open().await;
    let z = n("example.com.");
    history(&s, &z, 5).await;
    s.record_target("server-1", &z, g(2), NOW).await.unwrap();
    s.pin(&z, g(3), "enactor", NOW + 60).await.unwrap();
    for foreign_keys in [true, false] {
        // With foreign keys off (the sqlite3 shell's default), the trigger still refuses.
        let mut conn = raw(&db.path, foreign_keys).await;
        for (live, what) in [(1, "published"), (2, "held by a target"), (3, "pinned")] {
            let sql =
                format!("DELETE FROM plans WHERE origin = 'example.com.' AND generation = {live}");
            let err = exec(&mut conn, &sql).await.expect_err(what);
            assert!(
                err.to_string().contains("constraint") || err.to_string().contains("live"),
                "{err}"
            );
        }
        // Deleting the published plan along with everything else fails as a whole.
        assert!(exec(&mut conn, "DELETE FROM plans").await.is_err());
        conn.close().await.unwrap();
    }
    assert_eq!(s.generations(&z).await, gens(&[1, 2, 3, 4, 5]));
    // The positive space: a plan nobody uses can be deleted.
    let mut conn = raw(&db.path, true).await;
    assert_eq!(
        exec(
            &mut conn,
            "DELETE FROM plans WHERE origin = 'example.com.' AND generation = 5"
        )
        .await
        .unwrap(),
        1
    );
    // The pointer cannot go back or be cleared by hand either.
    assert!(
        exec(&mut conn, "UPDATE zones SET published_generation = NULL")
            .await
            .is_err()
    );
    publish(&s, &z, g(4), Some(g(1))).await.unwrap();
    assert!(
        exec(&mut conn, "UPDATE zones SET published_generation = 1")
            .await
            .is_err()
    );
    assert!(
        exec(&mut conn, "UPDATE zones SET next_generation = 2")
            .await
            .is_err()
    );
    assert!(
        exec(&mut conn, "UPDATE targets SET generation = 1")
            .await
            .is_err()
    );
    assert!(
        exec(
            &mut conn,
            "UPDATE plan_bodies SET body = x'00' WHERE generation = 4"
        )
        .await
        .is_err()
    );
    conn.close().await.unwrap();
    s.close().await;
}

#[tokio::test]
async fn sqlite_refuses_zero_record_plans() {
    let db = TempDb::new("zero-record");
    let s = db.open().await;
    let z = n("example.com.");
    stage(&s, &z, None).await;
    let hash = ContentHash::flat(b"x").to_string();
    let mut conn = raw(&db.path, true).await;
    let insert = |generation: u32, count: u32| {
        format!(
            "INSERT INTO plans (origin, generation, base, hash, record_count, created_at, status)
             VALUES ('example.com.', {generation}, NULL, '{hash}', {count}, 0, 'staged')"
        )
    };
    let body = |generation: u32, body: &str| {
        format!(
            "INSERT INTO plan_bodies (origin, generation, body)
             VALUES ('example.com.', {generation}, {body})"
        )
    };
    for (refused, what) in [(body(7, "x''"), "CHECK"), (body(7, "NULL"), "NOT NULL")] {
        let err = exec(&mut conn, &refused).await.expect_err(what);
        assert!(err.to_string().contains(what), "{what}: {err}");
    }
    assert_eq!(exec(&mut conn, &body(7, "x'01'")).await.unwrap(), 1);
    let err = exec(&mut conn, &insert(7, 0))
        .await
        .expect_err("zero records");
    assert!(err.to_string().contains("CHECK"), "{err}");
    let err = exec(&mut conn, &insert(8, 1)).await.expect_err("no body");
    assert!(err.to_string().contains("needs its body"), "{err}");
    // The positive space: the same row with a record and its body goes in.
    assert_eq!(exec(&mut conn, &insert(7, 1)).await.unwrap(), 1);
    conn.close().await.unwrap();
    s.close().await;
}

#[tokio::test]
async fn sqlite_audit_rows_are_append_only() {
    let db = TempDb::new("audit-append-only");
    let s = db.open().await;
    let z = n("example.com.");
    history(&s, &z, 2).await;
    let before = s.audit_log(None, 100).await.unwrap();
    assert_eq!(before.len(), 3);
    for foreign_keys in [true, false] {
        let mut conn = raw(&db.path, foreign_keys).await;
        let err = exec(&mut conn, "UPDATE audit SET detail = 'rewritten'")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        let err = exec(&mut conn, "DELETE FROM audit").await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        conn.close().await.unwrap();
    }
    assert_eq!(s.audit_log(None, 100).await.unwrap(), before);
    s.close().await;
}

/// (published generation, version, number of `published` audit rows) of example.com.
async fn zone_state(conn: &mut SqliteConnection) -> (Option<i64>, i64, i64) {
    let (published, version): (Option<i64>, i64) = sqlx::query_as(
        "SELECT published_generation, version FROM zones WHERE origin = 'example.com.'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let audits: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit WHERE action = ?1 AND origin = 'example.com.'",
    )
    .bind(AuditAction::Published.as_str())
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    (published, version, audits)
}

#[tokio::test]
async fn sqlite_publish_commits_pointer_version_and_audit_together() {
    let db = TempDb::new("publish-atomic");
    let s = db.open().await;
    let z = n("example.com.");
    history(&s, &z, 3).await;
    let mut conn = raw(&db.path, true).await;
    assert_eq!(zone_state(&mut conn).await, (Some(1), 1, 1));
    publish(&s, &z, g(3), Some(g(1))).await.unwrap();
    assert_eq!(zone_state(&mut conn).await, (Some(3), 2, 2));
    let row = &s.audit_log(Some(&z), 1).await.unwrap()[0];
    assert_eq!(
        (&row.action, row.generation),
        (&AuditAction::Published, Some(g(3)))
    );
    // A lost CAS and a refused audit row both leave all three as they were.
    assert!(publish(&s, &z, g(2), Some(g(1))).await.is_err());
    let g4 = stage(&s, &z, Some(g(3))).await;
    assert!(matches!(
        s.publish_cas(&z, g4, Some(g(3)), serial(), entry(&z, no_action()))
            .await,
        Err(StoreError::Constraint { .. })
    ));
    assert_eq!(zone_state(&mut conn).await, (Some(3), 2, 2));
    // A writer holding the lock makes a publish wait; the reader sees the old state until the
    // publish commits, never a mix.
    exec(&mut conn, "BEGIN IMMEDIATE").await.unwrap();
    let publishing = {
        let s = s.clone();
        let z = z.clone();
        tokio::spawn(async move { publish(&s, &z, g4, Some(g(3))).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !publishing.is_finished(),
        "the publish waits for the write lock"
    );
    assert_eq!(zone_state(&mut conn).await, (Some(3), 2, 2));
    exec(&mut conn, "COMMIT").await.unwrap();
    assert_eq!(publishing.await.unwrap().unwrap(), (g4, 3));
    assert_eq!(zone_state(&mut conn).await, (Some(4), 3, 3));
    conn.close().await.unwrap();
    s.close().await;
}

#[tokio::test]
async fn sqlite_busy_database_is_a_backend_error() {
    let db = TempDb::new("busy");
    let s = SqliteStore::open_with(&db.path, Duration::from_millis(100))
        .await
        .unwrap();
    let z = n("example.com.");
    history(&s, &z, 2).await;
    let mut conn = raw(&db.path, true).await;
    exec(&mut conn, "BEGIN IMMEDIATE").await.unwrap();
    let err = s
        .publish_cas(
            &z,
            g(2),
            Some(g(1)),
            serial(),
            entry(&z, AuditAction::Published),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Backend { detail } if detail.contains("locked")),
        "{err:?}"
    );
    // Readers are not blocked by a writer (WAL).
    assert_eq!(s.published(&z).await.unwrap().unwrap().generation, g(1));
    exec(&mut conn, "ROLLBACK").await.unwrap();
    assert_eq!(publish(&s, &z, g(2), Some(g(1))).await.unwrap(), (g(2), 2));
    conn.close().await.unwrap();
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_instances_see_each_others_writes() {
    let db = TempDb::new("two-instances");
    let a = db.open().await;
    let b = db.open().await;
    let z = n("example.com.");
    let g1 = stage(&a, &z, None).await;
    assert_eq!(b.newest_generation(&z).await.unwrap(), Some(g1));
    publish(&b, &z, g1, None).await.unwrap();
    assert_eq!(a.published(&z).await.unwrap().unwrap().generation, g1);
    // Generation numbers come from the shared counter, whoever stages.
    assert_eq!(stage(&b, &z, Some(g1)).await, g(2));
    assert_eq!(stage(&a, &z, Some(g1)).await, g(3));
    publish(&a, &z, g(3), Some(g1)).await.unwrap();
    assert_eq!(
        publish(&b, &z, g(2), Some(g1)).await,
        Err(StoreError::Stale {
            offered: g(2),
            base: Some(g1),
            published: Some(g(3))
        })
    );
    assert_eq!(
        b.published_plans().await.unwrap(),
        vec![(z.clone(), g(3), 2)]
    );
    a.close().await;
    b.close().await;
}

/// Enactors in separate processes (separate stores on one file), racing on real threads: in
/// every round exactly one of the publishes from the same base wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_racing_processes_publish_exactly_once_per_round() {
    let db = TempDb::new("racing");
    let stores = [db.open().await, db.open().await, db.open().await];
    let z = n("example.com.");
    let rounds = 10u64;
    for round in 0..rounds {
        let base = stores[0].published(&z).await.unwrap().map(|p| p.generation);
        let mut tasks = Vec::new();
        for (i, s) in stores.iter().enumerate() {
            let generation = stage(s, &z, base).await;
            let (s, z) = (s.clone(), z.clone());
            tasks.push(tokio::spawn(async move {
                let mut published = entry(&z, AuditAction::Published);
                published.actor = Actor::new(&format!("enactor-{i}")).expect("a valid actor");
                s.publish_cas(&z, generation, base, serial(), published)
                    .await
            }));
        }
        let mut wins = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => wins += 1,
                Err(StoreError::Stale { .. }) => {}
                Err(other) => panic!("round {round}: unexpected {other:?}"),
            }
        }
        assert_eq!(wins, 1, "round {round}");
        assert_eq!(
            stores[1]
                .published(&z)
                .await
                .unwrap()
                .unwrap()
                .publish_count,
            round + 1
        );
    }
    let published = stores[2]
        .audit_log(Some(&z), 1_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action == AuditAction::Published && r.actor.as_str().starts_with("enactor-"))
        .count() as u64;
    assert_eq!(published, rounds);
    for s in &stores {
        s.close().await;
    }
}

#[tokio::test]
async fn sqlite_data_version_moves_when_others_commit() {
    let db = TempDb::new("data-version");
    let a = db.open().await;
    let b = db.open().await;
    let z = n("example.com.");
    let v0 = a.data_version().await.unwrap();
    // Reading does not move it.
    assert_eq!(a.published_plans().await.unwrap(), vec![]);
    assert_eq!(a.data_version().await.unwrap(), v0);
    // Another process commits.
    stage(&b, &z, None).await;
    let v1 = a.data_version().await.unwrap();
    assert_ne!(v1, v0);
    assert_eq!(a.data_version().await.unwrap(), v1);
    // This process's own writes go through other connections than the watcher's, so they
    // count too.
    publish(&a, &z, g(1), None).await.unwrap();
    let v2 = a.data_version().await.unwrap();
    assert_ne!(v2, v1);
    assert_eq!(
        a.published_plans().await.unwrap(),
        vec![(z.clone(), g(1), 1)]
    );
    // A lost CAS commits nothing, so a poller is not woken for it.
    let _ = publish(&b, &z, g(1), None).await.unwrap_err();
    assert_eq!(a.data_version().await.unwrap(), v2);
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn sqlite_read_models_for_the_cli() {
    let db = TempDb::new("read-models");
    let s = db.open().await;
    let z = n("example.com.");
    let a = n("a.example.");
    history(&s, &z, 3).await;
    stage(&s, &a, None).await;
    s.record_target("server-1", &z, g(1), NOW).await.unwrap();
    s.pin(&z, g(3), "enactor", NOW + 60).await.unwrap();
    let mut published_at = entry(&z, AuditAction::Published);
    published_at.at = 4_242;
    s.publish_cas(&z, g(3), Some(g(1)), serial(), published_at)
        .await
        .unwrap();

    let zones = s.zones().await.unwrap();
    assert_eq!(zones.len(), 2);
    // Canonical DNS order compares from the root: "com" sorts before "example".
    assert_eq!(zones[1].origin, a);
    assert_eq!(zones[1].published, None);
    assert_eq!(zones[1].hash, None);
    assert_eq!(zones[1].newest, Some(g(1)));
    let row = s.zone(&z).await.unwrap().unwrap();
    assert_eq!(row, zones[0]);
    assert_eq!(row.published, Some(g(3)));
    assert_eq!(row.publish_count, 2);
    assert_eq!(row.newest, Some(g(3)));
    assert_eq!(row.record_count, Some(3));
    assert_eq!(row.published_at, Some(4_242));
    let plan3 = s.load_plan(&z, g(3)).await.unwrap().unwrap();
    assert_eq!(row.hash, Some(plan3.hash));
    assert_eq!(s.zone(&n("unknown.example.")).await.unwrap(), None);

    let plans = s.plans(&z).await.unwrap();
    assert_eq!(
        plans.iter().map(|p| p.generation).collect::<Vec<_>>(),
        gens(&[1, 2, 3])
    );
    assert_eq!(
        plans.iter().map(|p| p.status).collect::<Vec<_>>(),
        vec![
            PlanStatus::Superseded,
            PlanStatus::Staged,
            PlanStatus::Published
        ]
    );
    assert_eq!(plans[2].body_bytes, plan3.body.len() as u64);
    assert_eq!(plans[1].base, Some(g(1)));

    let targets = s.targets(&z).await.unwrap();
    assert_eq!(targets.len(), 1);
    assert_eq!(
        (targets[0].target.as_str(), targets[0].generation),
        ("server-1", g(1))
    );
    assert_eq!(targets[0].updated_at, NOW, "the caller's clock");
    let pins = s.pins(&z).await.unwrap();
    assert_eq!(pins.len(), 1);
    assert_eq!(
        (
            pins[0].generation,
            pins[0].holder.as_str(),
            pins[0].expires_at
        ),
        (g(3), "enactor", NOW + 60)
    );

    let log = s.audit_log(Some(&z), 2).await.unwrap();
    assert_eq!(log.len(), 2);
    assert!(log[0].id > log[1].id, "newest first");
    assert_eq!(log[0].clone().into_entry().at, 4_242);
    assert_eq!(s.audit_log(None, 100).await.unwrap().len(), 6);
    let json = serde_json::to_value(&row).unwrap();
    assert_eq!(json["origin"], "example.com.");
    assert_eq!(json["published"], 3);
    assert_eq!(json["hash"], plan3.hash.to_string());

    assert_eq!(
        s.published_plans().await.unwrap(),
        vec![(z.clone(), g(3), 2)]
    );
    s.close().await;
}

#[tokio::test]
async fn sqlite_reopen_keeps_everything() {
    let db = TempDb::new("reopen");
    let z = n("example.com.");
    {
        let s = db.open().await;
        history(&s, &z, 2).await;
        s.close().await;
    }
    let s = db.open().await;
    assert_eq!(s.published(&z).await.unwrap().unwrap().generation, g(1));
    assert_eq!(stage(&s, &z, Some(g(1))).await, g(3));
    let mut conn = raw(&db.path, true).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    conn.close().await.unwrap();
    s.close().await;
}

/// Many writers in several processes whose operations read before they write. Each operation
/// takes the write lock at `BEGIN`, so none of them can fail on a lock upgrade (SQLite gives
/// up at once, without waiting, when a reader's snapshot went stale under it); they all queue
/// and all succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_read_then_write_operations_never_fail_under_contention() {
    let db = TempDb::new("contention");
    let stores = [db.open().await, db.open().await, db.open().await];
    let z = n("example.com.");
    history(&stores[0], &z, 8).await;
    let mut tasks = Vec::new();
    for (i, s) in stores.iter().enumerate() {
        for j in 0..8u64 {
            let (s, z) = (s.clone(), z.clone());
            tasks.push(tokio::spawn(async move {
                let target = format!("server-{i}-{j}");
                for generation in 1..=8 {
                    s.record_target(&target, &z, g(generation), NOW).await?;
                }
                s.cleanup(&z, 2, LEASE_S, NOW).await?;
                Ok::<_, StoreError>(())
            }));
        }
    }
    for task in tasks {
        task.await
            .unwrap()
            .expect("no operation fails under contention");
    }
    let targets = stores[1].targets(&z).await.unwrap();
    assert_eq!(targets.len(), 24);
    assert!(targets.iter().all(|t| t.generation == g(8)));
    for s in &stores {
        s.close().await;
    }
}

/// Generations are never reused, even when the newest plan disappears (an operator deleting a
/// staged plan by hand): the counter, not the plans, decides.
#[tokio::test]
async fn sqlite_generations_never_reused_after_newest_plan_deleted() {
    let db = TempDb::new("never-reused");
    let s = db.open().await;
    let z = n("example.com.");
    history(&s, &z, 3).await;
    let mut conn = raw(&db.path, true).await;
    let deleted = "DELETE FROM plans WHERE origin = 'example.com.' AND generation >= 2";
    assert_eq!(exec(&mut conn, deleted).await.unwrap(), 2);
    conn.close().await.unwrap();
    assert_eq!(s.newest_generation(&z).await.unwrap(), Some(g(1)));
    assert_eq!(stage(&s, &z, Some(g(1))).await, g(4));
    s.close().await;
}

#[tokio::test]
async fn mem_generations_never_reused_after_newest_plan_removed() {
    let s = MemStore::new();
    let z = n("example.com.");
    history(&s, &z, 3).await;
    assert!(s.remove_plan(&z, g(3)));
    assert!(s.remove_plan(&z, g(2)));
    assert!(!s.remove_plan(&z, g(2)));
    assert_eq!(s.newest_generation(&z).await.unwrap(), Some(g(1)));
    assert_eq!(stage(&s, &z, Some(g(1))).await, g(4));
}

/// The loom suite's fault injection: a lost body makes the plan undecodable, but the store
/// still publishes past it (I5).
#[tokio::test]
async fn mem_corrupt_body_does_not_block_later_plans() {
    let s = MemStore::new();
    let z = n("example.com.");
    history(&s, &z, 2).await;
    assert!(s.corrupt_body(&z, g(1)));
    assert!(!s.corrupt_body(&z, g(9)));
    let plan = s.load_plan(&z, g(1)).await.unwrap().unwrap();
    assert!(plan.body.is_empty());
    assert!(!plan.hash.matches_body(&plan.body));
    assert_eq!(publish(&s, &z, g(2), Some(g(1))).await.unwrap(), (g(2), 2));
    // Removing the published plan outright (what the October clean-up did) does not wedge
    // the zone either: the pointer still names g2, and a plan on base g2 publishes.
    assert!(s.remove_plan(&z, g(2)));
    let g3 = stage(&s, &z, Some(g(2))).await;
    assert_eq!(publish(&s, &z, g3, Some(g(2))).await.unwrap(), (g3, 3));
}

// ---------------------------------------------------------------------------------------------
// Verdicts: the gate's decision on each plan (issue 5)
// ---------------------------------------------------------------------------------------------

async fn stage_as<S: Store>(
    s: &S,
    zone: &Name,
    base: Option<Generation>,
    tag: &str,
    verdict: Verdict,
) -> Generation {
    let mut plan = new_plan(zone, base, tag);
    plan.verdict = verdict;
    s.stage(plan, entry(zone, AuditAction::Staged))
        .await
        .expect("stage")
}

async fn verdict_of<S: Store>(s: &S, zone: &Name, generation: Generation) -> Verdict {
    s.load_plan(zone, generation)
        .await
        .unwrap()
        .expect("plan")
        .verdict
}

async fn hash_of<S: Store>(s: &S, zone: &Name, generation: Generation) -> ContentHash {
    s.load_plan(zone, generation)
        .await
        .unwrap()
        .expect("plan")
        .hash
}

async fn contract_stage_records_the_verdict_and_refuses_final_ones<S: Inspect>(s: &S) {
    let z = n("example.com.");
    for (verdict, n) in [
        (Verdict::Pass, 1),
        (Verdict::Held, 2),
        (Verdict::Refused, 3),
    ] {
        let generation = stage_as(s, &z, None, &format!("v{n}"), verdict).await;
        assert_eq!(generation, g(n));
        assert_eq!(verdict_of(s, &z, generation).await, verdict);
    }
    // Approval and rejection are later steps with their own audit rows, never a starting point.
    for verdict in [Verdict::Approved, Verdict::Rejected] {
        let mut plan = new_plan(&z, None, "final");
        plan.verdict = verdict;
        assert!(
            matches!(
                s.stage(plan, entry(&z, AuditAction::Staged)).await,
                Err(StoreError::Constraint { .. })
            ),
            "{verdict}"
        );
    }
    assert_eq!(s.newest_generation(&z).await.unwrap(), Some(g(3)));
}

async fn contract_publish_needs_a_publishable_verdict<S: Inspect>(s: &S) {
    let z = n("example.com.");
    let held = stage_as(s, &z, None, "held", Verdict::Held).await;
    let refused = stage_as(s, &z, None, "refused", Verdict::Refused).await;
    let before = s.audit_actions(&z).await;
    for generation in [held, refused] {
        let err = publish(s, &z, generation, None).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Unpublishable { generation: gen_, .. } if gen_ == generation),
            "{err}"
        );
    }
    // A refused compare-and-swap changes nothing, audit included.
    assert_eq!(s.published(&z).await.unwrap(), None);
    assert_eq!(s.audit_actions(&z).await, before);

    // Approved with the right hash, the held plan publishes.
    let hash = hash_of(s, &z, held).await;
    let previous = s
        .set_verdict(
            &z,
            held,
            Some(hash),
            Verdict::Approved,
            entry(&z, AuditAction::Approved),
        )
        .await
        .unwrap();
    assert_eq!(previous, Verdict::Held);
    assert_eq!(publish(s, &z, held, None).await.unwrap(), (held, 1));

    // Staleness is reported before the verdict: approving a stale plan would not help.
    let late = stage_as(s, &z, None, "late", Verdict::Held).await;
    assert!(matches!(
        publish(s, &z, late, None).await,
        Err(StoreError::Stale { .. })
    ));
}

async fn contract_set_verdict_is_bound_to_hash_and_state<S: Inspect>(s: &S) {
    let z = n("example.com.");
    let refused = stage_as(s, &z, None, "refused", Verdict::Refused).await;
    let hash = hash_of(s, &z, refused).await;
    let other = ContentHash::flat(b"one byte different");
    let before = s.audit_actions(&z).await;

    // Another hash approves nothing, and leaves no trace in the store.
    let err = s
        .set_verdict(
            &z,
            refused,
            Some(other),
            Verdict::Approved,
            entry(&z, AuditAction::Approved),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::HashMismatch { recorded, offered, .. }
            if *recorded == hash && *offered == other),
        "{err}"
    );
    assert!(matches!(
        s.set_verdict(
            &z,
            g(9),
            Some(hash),
            Verdict::Approved,
            entry(&z, AuditAction::Approved)
        )
        .await,
        Err(StoreError::PlanMissing { .. })
    ));
    // Only approval and rejection are moves.
    assert!(matches!(
        s.set_verdict(
            &z,
            refused,
            Some(hash),
            Verdict::Pass,
            entry(&z, AuditAction::Approved)
        )
        .await,
        Err(StoreError::VerdictLocked { .. })
    ));
    assert_eq!(verdict_of(s, &z, refused).await, Verdict::Refused);
    assert_eq!(s.audit_actions(&z).await, before);

    // The right hash approves; the move and its audit row are one step.
    s.set_verdict(
        &z,
        refused,
        Some(hash),
        Verdict::Approved,
        entry(&z, AuditAction::Approved),
    )
    .await
    .unwrap();
    assert_eq!(verdict_of(s, &z, refused).await, Verdict::Approved);
    assert_eq!(
        s.audit_actions(&z).await.last().cloned(),
        Some((AuditAction::Approved, Some(refused)))
    );
    // Approving twice is not a move.
    assert!(matches!(
        s.set_verdict(
            &z,
            refused,
            Some(hash),
            Verdict::Approved,
            entry(&z, AuditAction::Approved)
        )
        .await,
        Err(StoreError::VerdictLocked {
            verdict: Verdict::Approved,
            ..
        })
    ));

    // A rejection is final, with or without a hash.
    let held = stage_as(s, &z, None, "held", Verdict::Held).await;
    assert_eq!(
        s.set_verdict(
            &z,
            held,
            None,
            Verdict::Rejected,
            entry(&z, AuditAction::Rejected)
        )
        .await
        .unwrap(),
        Verdict::Held
    );
    let held_hash = hash_of(s, &z, held).await;
    assert!(matches!(
        s.set_verdict(
            &z,
            held,
            Some(held_hash),
            Verdict::Approved,
            entry(&z, AuditAction::Approved)
        )
        .await,
        Err(StoreError::VerdictLocked {
            verdict: Verdict::Rejected,
            ..
        })
    ));
    assert!(matches!(
        publish(s, &z, held, None).await,
        Err(StoreError::Unpublishable {
            verdict: Verdict::Rejected,
            ..
        })
    ));

    // A published plan's verdict never moves again.
    publish(s, &z, refused, None).await.unwrap();
    assert!(matches!(
        s.set_verdict(
            &z,
            refused,
            None,
            Verdict::Rejected,
            entry(&z, AuditAction::Rejected)
        )
        .await,
        Err(StoreError::VerdictLocked {
            status: PlanStatus::Published,
            ..
        })
    ));
    assert_eq!(verdict_of(s, &z, refused).await, Verdict::Approved);
}

/// The schema refuses by hand what `set_verdict` and `publish_cas` refuse in code.
#[tokio::test]
async fn sqlite_refuses_publishing_or_reopening_by_hand() {
    let db = TempDb::new("verdict-triggers");
    let s = db.open().await;
    let z = n("example.com.");
    let refused = stage_as(&s, &z, None, "refused", Verdict::Refused).await;
    let rejected = stage_as(&s, &z, None, "rejected", Verdict::Held).await;
    s.set_verdict(
        &z,
        rejected,
        None,
        Verdict::Rejected,
        entry(&z, AuditAction::Rejected),
    )
    .await
    .unwrap();
    // The body of the plan the loop tries to stage as approved, so that what refuses it is
    // the verdict.
    let mut conn = raw(&db.path, true).await;
    let sql =
        "INSERT INTO plan_bodies (origin, generation, body) VALUES ('example.com.', 9, x'00')";
    assert_eq!(exec(&mut conn, sql).await.unwrap(), 1);
    conn.close().await.unwrap();
    for foreign_keys in [true, false] {
        let mut conn = raw(&db.path, foreign_keys).await;
        for sql in [
            format!(
                "UPDATE zones SET published_generation = {} WHERE origin = 'example.com.'",
                refused.0
            ),
            format!(
                "UPDATE plans SET status = 'published' WHERE generation = {}",
                refused.0
            ),
            format!(
                "UPDATE plans SET verdict = 'approved' WHERE generation = {}",
                rejected.0
            ),
            "INSERT INTO plans (origin, generation, hash, record_count, created_at, verdict)
             VALUES ('example.com.', 9, 'sha256:' || printf('%064d', 0), 1, 0, 'approved')"
                .to_string(),
        ] {
            assert!(exec(&mut conn, &sql).await.is_err(), "{sql}");
        }
        conn.close().await.unwrap();
    }
    // The positive space: approving a refused plan by hand is a legal move.
    let mut conn = raw(&db.path, true).await;
    assert_eq!(
        exec(
            &mut conn,
            &format!(
                "UPDATE plans SET verdict = 'approved' WHERE generation = {}",
                refused.0
            )
        )
        .await
        .unwrap(),
        1
    );
    conn.close().await.unwrap();
    assert_eq!(verdict_of(&s, &z, refused).await, Verdict::Approved);
    assert_eq!(verdict_of(&s, &z, rejected).await, Verdict::Rejected);
    s.close().await;
}

/// A database made by the first schema gets the verdict column with `pass` for every plan it
/// already holds, and keeps publishing.
/// A database at `db` with only the `migrations` (file names under `migrations/sqlite/`)
/// applied, the way sqlx applies them: a store of an earlier release.
async fn earlier_schema(db: &TempDb, migrations: &[&str]) -> sqlx::SqlitePool {
    let dir = std::env::temp_dir().join(format!(
        "zonegate-earlier-schema-{}-{}",
        std::process::id(),
        migrations.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for file in migrations {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../migrations/sqlite")
                .join(file),
            dir.join(file),
        )
        .unwrap();
    }
    let pool = sqlx::SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(&db.path)
            .create_if_missing(true)
            .foreign_keys(true),
    )
    .await
    .unwrap();
    sqlx::migrate::Migrator::new(dir.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    pool
}

#[tokio::test]
async fn sqlite_migration_keeps_existing_plans_publishable() {
    let db = TempDb::new("migrate-0002");
    let pool = earlier_schema(&db, &["0001_init.sql"]).await;
    for sql in [
        "INSERT INTO zones (origin) VALUES ('example.com.')",
        "INSERT INTO plans (origin, generation, hash, record_count, body, created_at)
         VALUES ('example.com.', 1, 'sha256:' || printf('%064d', 0), 1, x'00', 0)",
        "UPDATE zones SET next_generation = 2",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;

    // Opening the store applies the second migration only.
    let s = db.open().await;
    let z = n("example.com.");
    assert_eq!(verdict_of(&s, &z, g(1)).await, Verdict::Pass);
    assert_eq!(publish(&s, &z, g(1), None).await.unwrap(), (g(1), 1));
    s.close().await;
}

/// A database published under the previous schema, where every server served the generation as
/// its serial (`increment`, the default then): the migration gives each published generation
/// that serial, so servers restarted on the new release serve the same serials, and the next
/// publication continues from there.
#[tokio::test]
async fn sqlite_migration_gives_published_generations_their_served_serials() {
    let db = TempDb::new("migrate-0003");
    let pool = earlier_schema(&db, &["0001_init.sql", "0002_policy.sql"]).await;
    for sql in [
        "INSERT INTO zones (origin) VALUES ('example.com.')",
        "INSERT INTO plans (origin, generation, hash, record_count, body, created_at, status)
         VALUES ('example.com.', 1, 'sha256:' || printf('%064d', 0), 1, x'00', 0, 'superseded'),
                ('example.com.', 2, 'sha256:' || printf('%064d', 0), 1, x'00', 0, 'published'),
                ('example.com.', 3, 'sha256:' || printf('%064d', 0), 1, x'00', 0, 'staged')",
        "UPDATE zones SET next_generation = 4, published_generation = 2, version = 2",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;

    let s = db.open().await;
    let z = n("example.com.");
    assert_eq!(s.published(&z).await.unwrap().unwrap().serial, 2);
    let serials: Vec<Option<u32>> = s
        .plans(&z)
        .await
        .unwrap()
        .iter()
        .map(|p| p.serial)
        .collect();
    assert_eq!(serials, vec![Some(1), Some(2), None]);
    // The next publication of a file whose serial is older continues from 2.
    let p = s
        .publish_cas(
            &z,
            g(3),
            Some(g(2)),
            SerialRequest {
                file_serial: 1,
                ..serial()
            },
            entry(&z, AuditAction::Published),
        )
        .await
        .unwrap();
    assert_eq!(p.serial, 3);
    assert_eq!(s.zone(&z).await.unwrap().unwrap().serial, Some(3));
    s.close().await;
}
