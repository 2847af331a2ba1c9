//! **Test-only** fault injection: random delays between an enactor's check and its act.
//!
//! When the environment variable `ZONEGATE_TEST_DELAY_MAX_MS` is set to N > 0, [`ChaosStore`]
//! sleeps a random 0..=N milliseconds before every `publish_cas` and every `cleanup`, so that
//! another process gets every chance to move the world between the moment a command read it
//! (pinned and re-validated its plan, read the published generation) and the moment it acts.
//! This is how the multi-process stress test (`tests/stress.rs`) widens the very window the
//! October 2025 outage fell through; it must find nothing there, because each act is a
//! compare-and-swap in one transaction that re-checks what was read.
//!
//! Unset, empty or 0, the wrapper adds nothing but a branch. No configuration file or flag
//! turns it on: it is not a feature, and operators have no reason to set the variable.
//!
//! The wrapper calls each inner operation exactly once, so the atomic steps the binary runs are
//! still exactly the SQLite store's; it only stretches the time between them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zonegate_core::Name;
use zonegate_core::gate::{
    AuditEntry, Compaction, DeltaStep, Generation, NewPlan, Published, Store, StoreError,
    StoredPlan, Verdict,
};
use zonegate_core::zone::ContentHash;
use zonegate_core::zone::serial::SerialRequest;

/// The environment variable that turns the delays on (milliseconds, upper bound).
pub const DELAY_VAR: &str = "ZONEGATE_TEST_DELAY_MAX_MS";

/// A [`Store`] that sleeps a random while before the operations that act.
pub struct ChaosStore<S> {
    inner: S,
    delay_max_ms: u64,
    /// xorshift64 state; a test-only delay needs no better randomness than this.
    rng: AtomicU64,
}

impl<S> ChaosStore<S> {
    /// Wraps `inner`, reading the delay bound from [`DELAY_VAR`].
    pub fn from_env(inner: S) -> Self {
        let delay_max_ms = std::env::var(DELAY_VAR)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let seed = (nanos ^ (u64::from(std::process::id()) << 32)) | 1;
        ChaosStore {
            inner,
            delay_max_ms,
            rng: AtomicU64::new(seed),
        }
    }

    fn next_random(&self) -> u64 {
        let step = |mut x: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let previous = self
            .rng
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| Some(step(x)))
            .unwrap_or(1);
        step(previous)
    }

    async fn pause(&self) {
        if self.delay_max_ms == 0 {
            return;
        }
        let ms = self.next_random() % (self.delay_max_ms + 1);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

impl<S: Store> Store for ChaosStore<S> {
    async fn published(&self, zone: &Name) -> Result<Option<Published>, StoreError> {
        self.inner.published(zone).await
    }

    async fn load_deltas(
        &self,
        zone: &Name,
        from: Generation,
        to: Generation,
    ) -> Result<Option<Vec<DeltaStep>>, StoreError> {
        self.inner.load_deltas(zone, from, to).await
    }

    async fn load_plan(
        &self,
        zone: &Name,
        generation: Generation,
    ) -> Result<Option<StoredPlan>, StoreError> {
        self.inner.load_plan(zone, generation).await
    }

    async fn newest_generation(&self, zone: &Name) -> Result<Option<Generation>, StoreError> {
        self.inner.newest_generation(zone).await
    }

    async fn stage(&self, plan: NewPlan, audit: AuditEntry) -> Result<Generation, StoreError> {
        self.inner.stage(plan, audit).await
    }

    async fn publish_cas(
        &self,
        zone: &Name,
        generation: Generation,
        expected_base: Option<Generation>,
        serial: SerialRequest,
        audit: AuditEntry,
    ) -> Result<Published, StoreError> {
        self.pause().await;
        self.inner
            .publish_cas(zone, generation, expected_base, serial, audit)
            .await
    }

    async fn pin(
        &self,
        zone: &Name,
        generation: Generation,
        holder: &str,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        self.inner.pin(zone, generation, holder, expires_at).await
    }

    async fn unpin(
        &self,
        zone: &Name,
        generation: Generation,
        holder: &str,
    ) -> Result<(), StoreError> {
        self.inner.unpin(zone, generation, holder).await
    }

    async fn record_target(
        &self,
        target: &str,
        zone: &Name,
        generation: Generation,
        now: u64,
    ) -> Result<(), StoreError> {
        self.inner
            .record_target(target, zone, generation, now)
            .await
    }

    async fn cleanup(
        &self,
        zone: &Name,
        keep: u32,
        target_lease_s: u64,
        now: u64,
    ) -> Result<u64, StoreError> {
        self.pause().await;
        self.inner.cleanup(zone, keep, target_lease_s, now).await
    }

    async fn compact(
        &self,
        zone: &Name,
        generation: Generation,
        checkpoint_every: u32,
    ) -> Result<Compaction, StoreError> {
        self.pause().await;
        self.inner.compact(zone, generation, checkpoint_every).await
    }

    async fn audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        self.inner.audit(entry).await
    }

    async fn set_verdict(
        &self,
        zone: &Name,
        generation: Generation,
        hash: Option<ContentHash>,
        to: Verdict,
        audit: AuditEntry,
    ) -> Result<Verdict, StoreError> {
        self.inner
            .set_verdict(zone, generation, hash, to, audit)
            .await
    }
}
