//! What a server's `/metrics` and `/readyz` read from the store: the audit log's counts by
//! action and reason (the gate's store-wide counters) and a read-only probe with a fresh
//! connection, which sees what a restarted server or another process would.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use sqlx::ConnectOptions;
use sqlx::Connection;
use sqlx::sqlite::SqliteConnectOptions;
use zonegate_core::Name;
use zonegate_core::gate::{AuditAction, Generation, ReasonCode, StoreError, optional_reason};

use crate::rows::Columns;
use crate::{SqliteStore, audit_action, from_sql, rows, store_error};

/// How many audit rows have one action and one reason, over every zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditCount {
    pub action: AuditAction,
    #[serde(with = "optional_reason")]
    pub reason: Option<ReasonCode>,
    pub count: u64,
}

/// `action, reason, n`.
pub(crate) fn audit_count_row(row: &impl Columns) -> Result<AuditCount, StoreError> {
    Ok(AuditCount {
        action: audit_action(&row.text("action")?),
        reason: optional_reason::from_text(&row.text("reason")?),
        count: from_sql(row.int("n")?, "count")?,
    })
}

impl SqliteStore {
    /// The audit log counted by action and reason, over every zone and every writer (any CLI,
    /// any server, any host on the same file).
    pub async fn audit_counts(&self) -> Result<Vec<AuditCount>, StoreError> {
        let rows = sqlx::query(
            "SELECT action, reason, COUNT(*) AS n FROM audit GROUP BY action, reason
             ORDER BY action, reason",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(audit_count_row).collect()
    }

    /// Opens `path` read-only with a fresh connection (never creating or migrating it), reads
    /// every published zone as (zone, generation, publish count), and closes it, all within
    /// `timeout`. Fails if the file is missing, unreadable, locked or not a zonegate store.
    pub async fn probe(
        path: &Path,
        timeout: Duration,
    ) -> Result<Vec<(Name, Generation, u64)>, StoreError> {
        let work = async {
            let mut conn = SqliteConnectOptions::new()
                .filename(path)
                .read_only(true)
                .create_if_missing(false)
                .busy_timeout(timeout)
                .connect()
                .await
                .map_err(store_error)?;
            let rows = sqlx::query(
                "SELECT origin, published_generation, version FROM zones
                 WHERE published_generation IS NOT NULL ORDER BY origin",
            )
            .fetch_all(&mut conn)
            .await
            .map_err(store_error)?;
            let _ = conn.close().await;
            rows.iter()
                .map(rows::published_row)
                .collect::<Result<Vec<_>, StoreError>>()
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Backend {
                detail: format!(
                    "reading {} took longer than {} ms",
                    path.display(),
                    timeout.as_millis()
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zonegate_core::gate::{Actor, AuditEntry, Store};

    #[tokio::test]
    async fn counts_by_action_and_reason_and_a_probe_that_never_creates() {
        let dir = std::env::temp_dir().join(format!("zonegate-observe-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.db");
        assert!(
            SqliteStore::probe(&missing, Duration::from_secs(2))
                .await
                .is_err()
        );
        assert!(!missing.exists(), "a probe must not create the file");
        let db = dir.join("z.db");
        let store = SqliteStore::open(&db).await.unwrap();
        let zone = Name::parse("example.com.").unwrap();
        for reason in [ReasonCode::Empty, ReasonCode::Empty, ReasonCode::Stale] {
            store
                .audit(AuditEntry {
                    zone: zone.clone(),
                    generation: None,
                    action: AuditAction::Refused,
                    reason: Some(reason),
                    detail: String::new(),
                    actor: Actor::PLAN,
                    at: 1,
                })
                .await
                .unwrap();
        }
        let counts = store.audit_counts().await.unwrap();
        let n = |r: ReasonCode| {
            counts
                .iter()
                .find(|c| c.action == AuditAction::Refused && c.reason == Some(r.clone()))
                .map(|c| c.count)
        };
        assert_eq!(n(ReasonCode::Empty), Some(2));
        assert_eq!(n(ReasonCode::Stale), Some(1));
        let seen = SqliteStore::probe(&db, Duration::from_secs(2))
            .await
            .unwrap();
        assert!(seen.is_empty());
        std::fs::write(dir.join("garbage.db"), vec![0x5a; 8192]).unwrap();
        assert!(
            SqliteStore::probe(&dir.join("garbage.db"), Duration::from_secs(2))
                .await
                .is_err()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
