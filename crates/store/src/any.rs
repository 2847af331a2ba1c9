//! [`AnyStore`]: the one store type the binary holds, SQLite or PostgreSQL as `--db` says,
//! delegating every method to the engine, so no SQL and no engine choice leaks out.

use std::time::Duration;
use zonegate_core::zone::serial::SerialRequest;

use zonegate_core::gate::{
    AuditEntry, Compaction, DeltaStep, Generation, NewPlan, PlanHead, Published, Store, StoreError,
    StoredPlan, Verdict,
};
use zonegate_core::{ContentHash, Name};

use crate::{
    AuditCount, AuditRow, CatalogMembers, PgStore, PinRow, PlanRow, RetireError, SqliteStore,
    StoreLocation, TargetRow, ZoneRow,
};

/// SQLite or PostgreSQL, behind one type.
#[derive(Debug, Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// Calls the same method on whichever engine it is.
macro_rules! each {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($store) => $call,
            AnyStore::Postgres($store) => $call,
        }
    };
}

impl From<SqliteStore> for AnyStore {
    fn from(store: SqliteStore) -> AnyStore {
        AnyStore::Sqlite(store)
    }
}

impl From<PgStore> for AnyStore {
    fn from(store: PgStore) -> AnyStore {
        AnyStore::Postgres(store)
    }
}

impl AnyStore {
    /// Opens the store at `location`, creating (SQLite) or migrating (both) its schema.
    pub async fn open(location: &StoreLocation) -> Result<AnyStore, StoreError> {
        Ok(match location {
            StoreLocation::File(path) => SqliteStore::open(path).await?.into(),
            StoreLocation::Postgres(pg) => PgStore::open(pg).await?.into(),
        })
    }

    /// Opens for commands that only read: a missing SQLite file is never created, and
    /// PostgreSQL's schema is not migrated.
    pub async fn open_existing(location: &StoreLocation) -> Result<AnyStore, StoreError> {
        Ok(match location {
            StoreLocation::File(path) => SqliteStore::open_existing(path).await?.into(),
            StoreLocation::Postgres(pg) => PgStore::open_existing(pg).await?.into(),
        })
    }

    /// A fresh read-only look at every published zone, within `timeout` (`/readyz`).
    pub async fn probe(
        location: &StoreLocation,
        timeout: Duration,
    ) -> Result<Vec<(Name, Generation, u64)>, StoreError> {
        match location {
            StoreLocation::File(path) => SqliteStore::probe(path, timeout).await,
            StoreLocation::Postgres(pg) => PgStore::probe(pg, timeout).await,
        }
    }

    /// The SQLite store, if this is one (the serve follower's `data_version` path).
    pub fn as_sqlite(&self) -> Option<&SqliteStore> {
        match self {
            AnyStore::Sqlite(store) => Some(store),
            AnyStore::Postgres(_) => None,
        }
    }

    pub async fn close(&self) {
        each!(self, s => s.close().await)
    }

    pub async fn published_plans(&self) -> Result<Vec<(Name, Generation, u64)>, StoreError> {
        each!(self, s => s.published_plans().await)
    }

    pub async fn zones(&self) -> Result<Vec<ZoneRow>, StoreError> {
        each!(self, s => s.zones().await)
    }

    pub async fn zone(&self, origin: &Name) -> Result<Option<ZoneRow>, StoreError> {
        each!(self, s => s.zone(origin).await)
    }

    pub async fn plans(&self, origin: &Name) -> Result<Vec<PlanRow>, StoreError> {
        each!(self, s => s.plans(origin).await)
    }

    pub async fn audit_log(
        &self,
        origin: Option<&Name>,
        limit: u32,
    ) -> Result<Vec<AuditRow>, StoreError> {
        each!(self, s => s.audit_log(origin, limit).await)
    }

    pub async fn targets(&self, origin: &Name) -> Result<Vec<TargetRow>, StoreError> {
        each!(self, s => s.targets(origin).await)
    }

    pub async fn pins(&self, origin: &Name) -> Result<Vec<PinRow>, StoreError> {
        each!(self, s => s.pins(origin).await)
    }

    pub async fn audit_counts(&self) -> Result<Vec<AuditCount>, StoreError> {
        each!(self, s => s.audit_counts().await)
    }

    pub async fn catalog_members(&self) -> Result<CatalogMembers, StoreError> {
        each!(self, s => s.catalog_members().await)
    }

    pub async fn retire(&self, zone: &Name, audit: AuditEntry) -> Result<Generation, RetireError> {
        each!(self, s => s.retire(zone, audit).await)
    }
}

impl Store for AnyStore {
    async fn published(&self, zone: &Name) -> Result<Option<Published>, StoreError> {
        each!(self, s => s.published(zone).await)
    }

    async fn load_head(
        &self,
        zone: &Name,
        generation: Generation,
    ) -> Result<Option<PlanHead>, StoreError> {
        each!(self, s => s.load_head(zone, generation).await)
    }

    async fn load_deltas(
        &self,
        zone: &Name,
        from: Generation,
        to: Generation,
    ) -> Result<Option<Vec<DeltaStep>>, StoreError> {
        each!(self, s => s.load_deltas(zone, from, to).await)
    }

    async fn load_plan(
        &self,
        zone: &Name,
        generation: Generation,
    ) -> Result<Option<StoredPlan>, StoreError> {
        each!(self, s => s.load_plan(zone, generation).await)
    }

    async fn newest_generation(&self, zone: &Name) -> Result<Option<Generation>, StoreError> {
        each!(self, s => s.newest_generation(zone).await)
    }

    async fn stage(&self, plan: NewPlan, audit: AuditEntry) -> Result<Generation, StoreError> {
        each!(self, s => s.stage(plan, audit).await)
    }

    async fn publish_cas(
        &self,
        zone: &Name,
        generation: Generation,
        expected_base: Option<Generation>,
        serial: SerialRequest,
        audit: AuditEntry,
    ) -> Result<Published, StoreError> {
        each!(self, s => s.publish_cas(zone, generation, expected_base, serial, audit).await)
    }

    async fn pin(
        &self,
        zone: &Name,
        generation: Generation,
        holder: &str,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        each!(self, s => s.pin(zone, generation, holder, expires_at).await)
    }

    async fn unpin(
        &self,
        zone: &Name,
        generation: Generation,
        holder: &str,
    ) -> Result<(), StoreError> {
        each!(self, s => s.unpin(zone, generation, holder).await)
    }

    async fn record_target(
        &self,
        target: &str,
        zone: &Name,
        generation: Generation,
        now: u64,
    ) -> Result<(), StoreError> {
        each!(self, s => s.record_target(target, zone, generation, now).await)
    }

    async fn cleanup(
        &self,
        zone: &Name,
        keep: u32,
        target_lease_s: u64,
        now: u64,
    ) -> Result<u64, StoreError> {
        each!(self, s => s.cleanup(zone, keep, target_lease_s, now).await)
    }

    async fn compact(
        &self,
        zone: &Name,
        generation: Generation,
        checkpoint_every: u32,
    ) -> Result<Compaction, StoreError> {
        each!(self, s => s.compact(zone, generation, checkpoint_every).await)
    }

    async fn audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        each!(self, s => s.audit(entry).await)
    }

    async fn set_verdict(
        &self,
        zone: &Name,
        generation: Generation,
        hash: Option<ContentHash>,
        to: Verdict,
        audit: AuditEntry,
    ) -> Result<Verdict, StoreError> {
        each!(self, s => s.set_verdict(zone, generation, hash, to, audit).await)
    }
}
