//! What the catalog zone (RFC 9432) of `serve` is made from, and `zonegate retire`, which
//! takes a zone out of it.
//!
//! A zone is a **member** when it has a published generation and was not retired at that
//! generation: a retirement is an audit row (`retired`, with the generation published then),
//! and publishing a newer generation brings the zone back. There is no table of its own:
//! the audit log is append-only (its triggers), so what it says about retirements never goes
//! back, on any host that reads the same database.
//!
//! **Changes** counts every change of the member set since the store began: each zone's
//! first publication, each retirement and each return (a publication after a retirement).
//! Per published zone that is `1 + 2·retirements − (1 if retired now)`. It only grows, it
//! moves with the member set and with nothing else, and it is the same for every reader of
//! the same database, so every server makes the same catalog zone with the same serial, and
//! again after a restart.

use zonegate_core::Name;
use zonegate_core::gate::{AuditAction, AuditEntry, Generation, StoreError};

use crate::{
    SqliteStore, from_sql, generation_from_sql, get, insert_audit, name_from_sql,
    optional_generation_from_sql, store_error,
};

/// The catalog zone's members, and how many times the member set has changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogMembers {
    /// Every member, in canonical name order.
    pub members: Vec<Name>,
    /// Changes of the member set since the store began (see the module's notes). Only grows.
    pub changes: u64,
}

/// Why `retire` did nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RetireError {
    /// The zone has no published generation, so it is in no catalog.
    #[error("zone {zone} has never been published, so it is in no catalog zone; nothing to retire")]
    NotPublished { zone: Name },
    /// The zone was retired at its published generation already.
    #[error(
        "zone {zone} was already retired at its published generation {generation}; publish a \
         newer generation to bring it back"
    )]
    AlreadyRetired { zone: Name, generation: Generation },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Member count query: one row per published zone, with its retirements.
const MEMBERS: &str = "SELECT z.origin, z.published_generation,
        (SELECT COUNT(*) FROM audit a WHERE a.origin = z.origin AND a.action = ?1) AS retirements,
        (SELECT MAX(a.generation) FROM audit a WHERE a.origin = z.origin AND a.action = ?1)
            AS retired_at
     FROM zones z WHERE z.published_generation IS NOT NULL";

impl SqliteStore {
    /// The catalog zone's members and the count of member-set changes, in one read.
    pub async fn catalog_members(&self) -> Result<CatalogMembers, StoreError> {
        let rows = sqlx::query(MEMBERS)
            .bind(AuditAction::Retired.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        let mut out = CatalogMembers {
            members: Vec::new(),
            changes: 0,
        };
        for row in &rows {
            let published = generation_from_sql(get(row, "published_generation")?)?;
            let retirements: u64 = from_sql(get(row, "retirements")?, "retirement count")?;
            let retired_at = optional_generation_from_sql(get(row, "retired_at")?)?;
            let retired_now = retired_at == Some(published);
            out.changes += 1 + 2 * retirements - u64::from(retired_now);
            if !retired_now {
                out.members
                    .push(name_from_sql(&get::<String>(row, "origin")?)?);
            }
        }
        out.members.sort();
        Ok(out)
    }

    /// Takes `zone` out of the catalog zone, in one transaction: it must have a published
    /// generation that is not retired already; appends `audit` (its action and generation
    /// set here: `retired`, the published generation) and returns that generation. Nothing
    /// else changes: the published pointer, the plans and the targets stay as they are.
    pub async fn retire(
        &self,
        zone: &Name,
        mut audit: AuditEntry,
    ) -> Result<Generation, RetireError> {
        let mut tx = self.begin_write().await?;
        let published: Option<i64> =
            sqlx::query_scalar("SELECT published_generation FROM zones WHERE origin = ?1")
                .bind(zone.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_error)?
                .flatten();
        let Some(published) = optional_generation_from_sql(published)? else {
            return Err(RetireError::NotPublished { zone: zone.clone() });
        };
        let retired_at: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(generation) FROM audit WHERE origin = ?1 AND action = ?2",
        )
        .bind(zone.to_string())
        .bind(AuditAction::Retired.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
        if optional_generation_from_sql(retired_at)? == Some(published) {
            return Err(RetireError::AlreadyRetired {
                zone: zone.clone(),
                generation: published,
            });
        }
        audit.zone = zone.clone();
        audit.action = AuditAction::Retired;
        audit.generation = Some(published);
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(published)
    }
}
