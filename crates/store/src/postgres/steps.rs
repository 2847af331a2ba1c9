//! [`Store`] on PostgreSQL: each method one transaction, every writing one serialized with
//! every other step on its zone by the zone row lock ([`lock_zone`]).

use zonegate_core::gate::{
    AuditEntry, Compaction, DeltaStep, Generation, NewPlan, PlanHead, Published, Store, StoreError,
    StoredPlan, Verdict,
};
use zonegate_core::zone::serial::SerialRequest;
use zonegate_core::{ContentHash, Name};

use super::{
    PUBLISHED_CHANNEL, PgStore, cleanup_in, compact_read_in, compact_write_in, insert_audit,
    load_deltas_in, load_head_in, load_plan_in, lock_zone, newest_in, pin_in, publish_in,
    published_in, record_target_in, set_verdict_in, stage_in, store_error, unpin_in,
};

impl Store for PgStore {
    async fn published(&self, zone: &Name) -> Result<Option<Published>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        published_in(&mut conn, zone).await
    }

    async fn load_plan(
        &self,
        zone: &Name,
        generation: Generation,
    ) -> Result<Option<StoredPlan>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        load_plan_in(&mut conn, zone, generation).await
    }

    async fn load_head(
        &self,
        zone: &Name,
        generation: Generation,
    ) -> Result<Option<PlanHead>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        load_head_in(&mut conn, zone, generation).await
    }

    async fn load_deltas(
        &self,
        zone: &Name,
        from: Generation,
        to: Generation,
    ) -> Result<Option<Vec<DeltaStep>>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        load_deltas_in(&mut conn, zone, from, to).await
    }

    async fn newest_generation(&self, zone: &Name) -> Result<Option<Generation>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        newest_in(&mut conn, zone).await
    }

    async fn stage(&self, plan: NewPlan, audit: AuditEntry) -> Result<Generation, StoreError> {
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
        let staged = stage_in(&mut tx, plan, audit).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(staged)
    }

    async fn publish_cas(
        &self,
        zone: &Name,
        generation: Generation,
        expected_base: Option<Generation>,
        serial: SerialRequest,
        audit: AuditEntry,
    ) -> Result<Published, StoreError> {
        let origin = zone.to_string();
        let mut tx = self.begin().await?;
        if lock_zone(&mut tx, &origin).await?.is_none() {
            return Err(StoreError::PlanMissing {
                zone: zone.clone(),
                generation,
            });
        }
        // Under the zone lock; a lost race rolls back when `tx` drops.
        let published = publish_in(&mut tx, zone, generation, expected_base, serial, audit).await?;
        // Delivered to every listener when, and only if, this transaction commits.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(PUBLISHED_CHANNEL)
            .bind(&origin)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(published)
    }

    async fn pin(
        &self,
        zone: &Name,
        generation: Generation,
        holder: &str,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        lock_zone(&mut tx, &zone.to_string()).await?;
        pin_in(&mut tx, zone, generation, holder, expires_at).await?;
        tx.commit().await.map_err(store_error)
    }

    async fn unpin(
        &self,
        zone: &Name,
        generation: Generation,
        holder: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        lock_zone(&mut tx, &zone.to_string()).await?;
        unpin_in(&mut tx, zone, generation, holder).await?;
        tx.commit().await.map_err(store_error)
    }

    async fn record_target(
        &self,
        target: &str,
        zone: &Name,
        generation: Generation,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        lock_zone(&mut tx, &zone.to_string()).await?;
        record_target_in(&mut tx, target, zone, generation, now).await?;
        tx.commit().await.map_err(store_error)
    }

    async fn cleanup(
        &self,
        zone: &Name,
        keep: u32,
        target_lease_s: u64,
        now: u64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        if lock_zone(&mut tx, &zone.to_string()).await?.is_none() {
            return Ok(0);
        }
        // Under the zone lock no pin, target or publication of this zone can commit until this
        // transaction ends, so the horizon clean-up reads is the one its DELETE sees.
        let deleted = cleanup_in(&mut tx, zone, keep, target_lease_s, now).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(deleted)
    }

    async fn compact(
        &self,
        zone: &Name,
        generation: Generation,
        checkpoint_every: u32,
    ) -> Result<Compaction, StoreError> {
        // The rebuild reads without the write lock; only the row's rewrite takes it.
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let read = compact_read_in(&mut conn, zone, generation, checkpoint_every).await?;
        drop(conn);
        let (parent, body) = match read {
            Ok(found) => found,
            Err(done) => return Ok(done),
        };
        let mut tx = self.begin().await?;
        let done = compact_write_in(&mut tx, zone, generation, parent, body).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(done)
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
        audit: AuditEntry,
    ) -> Result<Verdict, StoreError> {
        let mut tx = self.begin().await?;
        lock_zone(&mut tx, &zone.to_string()).await?;
        let previous = set_verdict_in(&mut tx, zone, generation, hash, to, audit).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(previous)
    }
}
