//! The read queries the CLI and the server use, as [`crate::SqliteStore`] has them.

use std::time::Duration;

use sqlx::{ConnectOptions, Connection};
use zonegate_core::Name;
use zonegate_core::gate::{Generation, StoreError};

use super::{CONNECT_TIMEOUT_DEFAULT, PgStore, store_error};
use crate::observe::{AuditCount, audit_count_row};
use crate::{AuditRow, PgLocation, PinRow, PlanRow, TargetRow, ZoneRow, rows};

const ZONE_SELECT: &str = "SELECT z.origin, z.published_generation, z.version, z.published_at,
            z.published_serial, p.hash, p.record_count,
            (SELECT MAX(generation) FROM plans WHERE origin = z.origin) AS newest
     FROM zones z
     LEFT JOIN plans p ON p.origin = z.origin AND p.generation = z.published_generation";

const PUBLISHED_SELECT: &str = "SELECT origin, published_generation, version FROM zones
     WHERE published_generation IS NOT NULL";

impl PgStore {
    /// Every zone with a published generation, as (zone, generation, publish count).
    pub async fn published_plans(&self) -> Result<Vec<(Name, Generation, u64)>, StoreError> {
        let rows = sqlx::query(PUBLISHED_SELECT)
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

    /// Every zone the store knows, in canonical name order.
    pub async fn zones(&self) -> Result<Vec<ZoneRow>, StoreError> {
        let rows = sqlx::query(ZONE_SELECT)
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
        let sql = format!("{ZONE_SELECT} WHERE z.origin = $1");
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
                    CAST(octet_length(b.body) AS BIGINT) AS body_bytes, p.created_at, p.status,
                    p.verdict, p.serial
             FROM plans p JOIN plan_bodies b ON b.origin = p.origin AND b.generation = p.generation
             WHERE p.origin = $1 ORDER BY p.generation",
        )
        .bind(origin.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(rows::plan_row).collect()
    }

    /// The newest `limit` audit rows, newest first; of one zone, or of all zones.
    pub async fn audit_log(
        &self,
        origin: Option<&Name>,
        limit: u32,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, origin, generation, action, reason, detail, actor FROM audit
             WHERE $1::text IS NULL OR origin = $1 ORDER BY id DESC LIMIT $2",
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
             WHERE origin = $1 ORDER BY target",
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
             WHERE origin = $1 ORDER BY generation, holder",
        )
        .bind(origin.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(rows::pin_row).collect()
    }

    /// The audit log counted by action and reason, over every zone and every writer.
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

    /// A fresh connection (never migrating anything) reads every published zone and closes,
    /// all within `timeout`: what `/readyz` asks.
    pub async fn probe(
        location: &PgLocation,
        timeout: Duration,
    ) -> Result<Vec<(Name, Generation, u64)>, StoreError> {
        let options = Self::options(location)?;
        let work = async {
            let mut conn = options.connect().await.map_err(store_error)?;
            let rows = sqlx::query(&format!("{PUBLISHED_SELECT} ORDER BY origin"))
                .fetch_all(&mut conn)
                .await
                .map_err(store_error)?;
            let _ = conn.close().await;
            rows.iter()
                .map(rows::published_row)
                .collect::<Result<Vec<_>, StoreError>>()
        };
        match tokio::time::timeout(timeout.min(CONNECT_TIMEOUT_DEFAULT), work).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Backend {
                detail: format!(
                    "reading {location} took longer than {} ms",
                    timeout.as_millis()
                ),
            }),
        }
    }
}
