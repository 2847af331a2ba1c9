//! [`Store`] on PostgreSQL: each method one transaction, every writing one serialized with
//! every other step on its zone by the zone row lock ([`lock_zone`]).

use sqlx::PgConnection;
use zonegate_core::gate::cleanup_audit_entry;
use zonegate_core::gate::{
    AuditEntry, Generation, NewPlan, PlanStatus, Published, Store, StoreError, StoredPlan, Verdict,
};
use zonegate_core::{ContentHash, Name};

use super::{
    HORIZON, PUBLISH_CAS, PUBLISHED_CHANNEL, PgStore, generation, insert_audit, lock_zone,
    plan_exists, store_error,
};
use crate::{
    corrupt, from_sql, hash_from_sql, optional_generation_from_sql, rows, serial_from_sql, to_sql,
};
use crate::{rows::Columns, verdict_from_sql};
use zonegate_core::zone::serial::SerialRequest;

impl Store for PgStore {
    async fn published(&self, zone: &Name) -> Result<Option<Published>, StoreError> {
        let row = sqlx::query(
            "SELECT published_generation, version, published_serial FROM zones
             WHERE origin = $1 AND published_generation IS NOT NULL",
        )
        .bind(zone.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(|row| {
            Ok(Published {
                generation: generation(row.int("published_generation")?)?,
                publish_count: from_sql(row.int("version")?, "publish count")?,
                serial: row
                    .optional_int("published_serial")?
                    .map(serial_from_sql)
                    .transpose()?
                    .ok_or_else(|| corrupt("published serial"))?,
            })
        })
        .transpose()
    }

    async fn load_plan(
        &self,
        zone: &Name,
        generation: Generation,
    ) -> Result<Option<StoredPlan>, StoreError> {
        let row = sqlx::query(
            "SELECT base, hash, record_count, body, created_at, status, verdict, serial FROM plans
             WHERE origin = $1 AND generation = $2",
        )
        .bind(zone.to_string())
        .bind(to_sql(generation.0)?)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(|row| rows::stored_plan(zone, generation, &row))
            .transpose()
    }

    async fn newest_generation(&self, zone: &Name) -> Result<Option<Generation>, StoreError> {
        let newest = sqlx::query_scalar::<_, Option<i64>>(
            "SELECT MAX(generation) FROM plans WHERE origin = $1",
        )
        .bind(zone.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        optional_generation_from_sql(newest)
    }

    async fn stage(&self, plan: NewPlan, mut audit: AuditEntry) -> Result<Generation, StoreError> {
        let origin = plan.zone.to_string();
        let mut tx = self.begin().await?;
        // The zone's first plan: make the row to lock. A concurrent insert of the same zone
        // waits for the first to commit, then does nothing.
        sqlx::query("INSERT INTO zones (origin) VALUES ($1) ON CONFLICT (origin) DO NOTHING")
            .bind(&origin)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        lock_zone(&mut tx, &origin).await?;
        let taken = sqlx::query_scalar::<_, i64>(
            "UPDATE zones SET next_generation = next_generation + 1 WHERE origin = $1
             RETURNING next_generation - 1",
        )
        .bind(&origin)
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
        sqlx::query(
            "INSERT INTO plans (origin, generation, base, hash, record_count, body, created_at, status, verdict)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $9, $8)",
        )
        .bind(&origin)
        .bind(taken)
        .bind(plan.base.map(|b| to_sql(b.0)).transpose()?)
        .bind(plan.hash.to_string())
        .bind(to_sql(plan.record_count)?)
        .bind(plan.body)
        .bind(to_sql(plan.created_at)?)
        .bind(plan.verdict.as_str())
        .bind(PlanStatus::Staged.as_str())
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        let staged = generation(taken)?;
        audit.generation = Some(staged);
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(staged)
    }

    async fn publish_cas(
        &self,
        zone: &Name,
        generation: Generation,
        expected_base: Option<Generation>,
        serial: SerialRequest,
        mut audit: AuditEntry,
    ) -> Result<Published, StoreError> {
        let origin = zone.to_string();
        let g = to_sql(generation.0)?;
        let base = expected_base.map(|b| to_sql(b.0)).transpose()?;
        let mut tx = self.begin().await?;
        if lock_zone(&mut tx, &origin).await?.is_none() {
            return Err(StoreError::PlanMissing {
                zone: zone.clone(),
                generation,
            });
        }
        // Decided under the zone lock, from the serial published now: if the compare-and-swap
        // below succeeds, that is the serial of the generation it replaces.
        let previous = sqlx::query_scalar::<_, Option<i64>>(
            "SELECT published_serial FROM zones WHERE origin = $1",
        )
        .bind(&origin)
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?
        .flatten()
        .map(serial_from_sql)
        .transpose()?;
        let decided = serial.decide(previous, generation);
        let publish_count = sqlx::query_scalar::<_, i64>(&PUBLISH_CAS)
            .bind(g)
            .bind(&origin)
            .bind(base)
            .bind(to_sql(audit.at)?)
            .bind(i64::from(decided))
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        let Some(publish_count) = publish_count else {
            let error = why_lost(&mut tx, zone, generation, expected_base).await?;
            tx.rollback().await.map_err(store_error)?;
            return Err(error);
        };
        sqlx::query(
            "UPDATE plans SET status = $3
             WHERE origin = $1 AND status = $4 AND generation <> $2",
        )
        .bind(&origin)
        .bind(g)
        .bind(PlanStatus::Superseded.as_str())
        .bind(PlanStatus::Published.as_str())
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        sqlx::query(
            "UPDATE plans SET status = $3, serial = $4 WHERE origin = $1 AND generation = $2",
        )
        .bind(&origin)
        .bind(g)
        .bind(PlanStatus::Published.as_str())
        .bind(i64::from(decided))
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        audit.generation.get_or_insert(generation);
        insert_audit(&mut tx, &audit).await?;
        // Delivered to every listener when, and only if, this transaction commits.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(PUBLISHED_CHANNEL)
            .bind(&origin)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(Published {
            generation,
            publish_count: from_sql(publish_count, "publish count")?,
            serial: decided,
        })
    }

    async fn pin(
        &self,
        zone: &Name,
        generation: Generation,
        holder: &str,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let origin = zone.to_string();
        let mut tx = self.begin().await?;
        lock_zone(&mut tx, &origin).await?;
        let pinned = sqlx::query(
            "INSERT INTO pins (origin, generation, holder, expires_at)
             SELECT $1, $2, $3, $4
             WHERE EXISTS (SELECT 1 FROM plans WHERE origin = $1 AND generation = $2)
             ON CONFLICT (origin, generation, holder) DO UPDATE SET expires_at = excluded.expires_at",
        )
        .bind(&origin)
        .bind(to_sql(generation.0)?)
        .bind(holder)
        .bind(to_sql(expires_at)?)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?
        .rows_affected();
        if pinned == 0 {
            tx.rollback().await.map_err(store_error)?;
            return Err(StoreError::PlanMissing {
                zone: zone.clone(),
                generation,
            });
        }
        tx.commit().await.map_err(store_error)
    }

    async fn unpin(
        &self,
        zone: &Name,
        generation: Generation,
        holder: &str,
    ) -> Result<(), StoreError> {
        let origin = zone.to_string();
        let mut tx = self.begin().await?;
        lock_zone(&mut tx, &origin).await?;
        sqlx::query("DELETE FROM pins WHERE origin = $1 AND generation = $2 AND holder = $3")
            .bind(&origin)
            .bind(to_sql(generation.0)?)
            .bind(holder)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)
    }

    async fn record_target(
        &self,
        target: &str,
        zone: &Name,
        generation: Generation,
        now: u64,
    ) -> Result<(), StoreError> {
        let origin = zone.to_string();
        let g = to_sql(generation.0)?;
        let now_sql = to_sql(now)?;
        let mut tx = self.begin().await?;
        lock_zone(&mut tx, &origin).await?;
        let held = sqlx::query_scalar::<_, i64>(
            "SELECT generation FROM targets WHERE target = $1 AND origin = $2",
        )
        .bind(target)
        .bind(&origin)
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        let newer = |held: i64| -> Result<StoreError, StoreError> {
            Ok(StoreError::TargetNewer {
                target: target.to_string(),
                held: super::generation(held)?,
                offered: generation,
            })
        };
        if let Some(held) = held.filter(|held| *held > g) {
            return Err(newer(held)?);
        }
        if held == Some(g) {
            // The same generation again: the target is alive, its lease runs from now.
            sqlx::query("UPDATE targets SET updated_at = $3 WHERE target = $1 AND origin = $2")
                .bind(target)
                .bind(&origin)
                .bind(now_sql)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            return tx.commit().await.map_err(store_error);
        }
        if !plan_exists(&mut tx, &origin, g).await? {
            return Err(StoreError::PlanMissing {
                zone: zone.clone(),
                generation,
            });
        }
        let moved = sqlx::query(
            "INSERT INTO targets (target, origin, generation, updated_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (target, origin) DO UPDATE
                SET generation = excluded.generation, updated_at = excluded.updated_at
                WHERE excluded.generation > targets.generation",
        )
        .bind(target)
        .bind(&origin)
        .bind(g)
        .bind(now_sql)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?
        .rows_affected();
        if moved != 1 {
            return Err(newer(held.unwrap_or(g))?);
        }
        tx.commit().await.map_err(store_error)
    }

    async fn cleanup(
        &self,
        zone: &Name,
        keep: u32,
        target_lease_s: u64,
        now: u64,
    ) -> Result<u64, StoreError> {
        let origin = zone.to_string();
        let now_sql = to_sql(now)?;
        let mut tx = self.begin().await?;
        if lock_zone(&mut tx, &origin).await?.is_none() {
            return Ok(0);
        }
        // Under the zone lock no pin, target or publication of this zone can commit until this
        // transaction ends, so the horizon read below is the one the DELETE sees.
        sqlx::query("DELETE FROM pins WHERE origin = $1 AND expires_at <= $2")
            .bind(&origin)
            .bind(now_sql)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        // Targets that have not renewed their row within the lease are gone.
        if let Some(cutoff) = now.checked_sub(target_lease_s) {
            sqlx::query("DELETE FROM targets WHERE origin = $1 AND updated_at < $2")
                .bind(&origin)
                .bind(to_sql(cutoff)?)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
        }
        let horizon = sqlx::query_scalar::<_, Option<i64>>(&format!("SELECT {HORIZON}"))
            .bind(&origin)
            .bind(now_sql)
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
        let Some(horizon) = horizon else {
            tx.commit().await.map_err(store_error)?;
            return Ok(0);
        };
        let deleted = sqlx::query(&format!(
            "DELETE FROM plans
             WHERE origin = $1
               AND generation < {HORIZON}
               AND generation NOT IN (SELECT generation FROM plans WHERE origin = $1
                                      ORDER BY generation DESC LIMIT $3)"
        ))
        .bind(&origin)
        .bind(now_sql)
        .bind(i64::from(keep))
        .execute(&mut *tx)
        .await
        .map_err(store_error)?
        .rows_affected();
        if deleted > 0 {
            let entry = cleanup_audit_entry(zone, deleted, generation(horizon)?, keep, now);
            insert_audit(&mut tx, &entry).await?;
        }
        tx.commit().await.map_err(store_error)?;
        Ok(deleted)
    }

    async fn audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        insert_audit(&mut conn, &entry).await
    }

    async fn set_verdict(
        &self,
        zone: &Name,
        generation: Generation,
        hash: Option<ContentHash>,
        to: Verdict,
        mut audit: AuditEntry,
    ) -> Result<Verdict, StoreError> {
        let origin = zone.to_string();
        let g = to_sql(generation.0)?;
        let mut tx = self.begin().await?;
        lock_zone(&mut tx, &origin).await?;
        let row = sqlx::query(
            "SELECT hash, status, verdict FROM plans WHERE origin = $1 AND generation = $2",
        )
        .bind(&origin)
        .bind(g)
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        let Some(row) = row else {
            return Err(StoreError::PlanMissing {
                zone: zone.clone(),
                generation,
            });
        };
        let recorded = hash_from_sql(&row.text("hash")?)?;
        let status =
            PlanStatus::parse(&row.text("status")?).ok_or_else(|| corrupt("plan status"))?;
        let verdict = verdict_from_sql(&row.text("verdict")?)?;
        if let Some(offered) = hash.filter(|h| *h != recorded) {
            return Err(StoreError::HashMismatch {
                zone: zone.clone(),
                generation,
                recorded,
                offered,
            });
        }
        if status != PlanStatus::Staged || !verdict.may_become(to) {
            return Err(StoreError::VerdictLocked {
                zone: zone.clone(),
                generation,
                status,
                verdict,
                wanted: to,
            });
        }
        sqlx::query("UPDATE plans SET verdict = $3 WHERE origin = $1 AND generation = $2")
            .bind(&origin)
            .bind(g)
            .bind(to.as_str())
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        audit.generation.get_or_insert(generation);
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(verdict)
    }
}

/// Why the compare-and-swap changed nothing: `PlanMissing`, `Stale` or `Unpublishable`, in that
/// order, read under the zone lock.
async fn why_lost(
    conn: &mut PgConnection,
    zone: &Name,
    offered: Generation,
    base: Option<Generation>,
) -> Result<StoreError, StoreError> {
    let origin = zone.to_string();
    let g = to_sql(offered.0)?;
    if !plan_exists(conn, &origin, g).await? {
        return Ok(StoreError::PlanMissing {
            zone: zone.clone(),
            generation: offered,
        });
    }
    let published = sqlx::query_scalar::<_, Option<i64>>(
        "SELECT published_generation FROM zones WHERE origin = $1",
    )
    .bind(&origin)
    .fetch_optional(&mut *conn)
    .await
    .map_err(store_error)?
    .flatten();
    let published = optional_generation_from_sql(published)?;
    if published != base || published.is_some_and(|p| p >= offered) {
        return Ok(StoreError::Stale {
            offered,
            base,
            published,
        });
    }
    let verdict = sqlx::query_scalar::<_, String>(
        "SELECT verdict FROM plans WHERE origin = $1 AND generation = $2",
    )
    .bind(&origin)
    .bind(g)
    .fetch_one(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(StoreError::Unpublishable {
        zone: zone.clone(),
        generation: offered,
        verdict: verdict_from_sql(&verdict)?,
    })
}
