//! The catalog zone's reads and `retire` on PostgreSQL, as `crate::catalog` has them for
//! SQLite (the same member rules, from the same query and the same fold).

use zonegate_core::Name;
use zonegate_core::gate::{AuditAction, AuditEntry, Generation, StoreError};

use super::{PUBLISHED_CHANNEL, PgStore, insert_audit, lock_zone, store_error};
use crate::catalog::{CatalogMembers, RetireError, members_from, members_sql, retire_decision};

impl PgStore {
    /// The catalog zone's members and the count of member-set changes, in one read.
    pub async fn catalog_members(&self) -> Result<CatalogMembers, StoreError> {
        let rows = sqlx::query(&members_sql("$"))
            .bind(AuditAction::Retired.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        members_from(&rows)
    }

    /// Takes `zone` out of the catalog zone, in one transaction under the zone's row lock (so
    /// a publication on another host cannot slip between the check and the audit row), and
    /// notifies followers, who then make a new catalog zone.
    pub async fn retire(
        &self,
        zone: &Name,
        mut audit: AuditEntry,
    ) -> Result<Generation, RetireError> {
        let origin = zone.to_string();
        let mut tx = self.begin().await?;
        let published = lock_zone(&mut tx, &origin).await?.flatten();
        let retired_at: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(generation) FROM audit WHERE origin = $1 AND action = $2",
        )
        .bind(&origin)
        .bind(AuditAction::Retired.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
        let published = retire_decision(zone, published, retired_at)?;
        audit.zone = zone.clone();
        audit.action = AuditAction::Retired;
        audit.generation = Some(published);
        insert_audit(&mut tx, &audit).await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(PUBLISHED_CHANNEL)
            .bind(&origin)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(published)
    }
}
