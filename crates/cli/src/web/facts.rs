//! The facts of `/metrics`, `/readyz` and the status page, read at each request: the store
//! through a fresh read-only probe (so a store that a restarted server could not read shows
//! as down even while this server's open connections still work) and the shared store's
//! zones and audit counts; the catalog's served generations and the server's counters.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use zonegate_core::gate::{AuditAction, StoreError};
use zonegate_http::{DnsCounts, Facts, GateCounts, Histogram, StoreFacts, ZoneFacts};
use zonegate_server::{INSTALL_BUCKETS, InstallTimes, RrlCounters, StatsSnapshot, rcode_name};
use zonegate_store::{AuditCount, ZoneRow};

use super::Web;
use crate::context::now;

/// How long one probe of the store may take before the store counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the store says: its zones and its audit counts.
struct StoreRead {
    zones: Vec<ZoneRow>,
    counts: Vec<AuditCount>,
}

async fn read_store(web: &Web) -> Result<StoreRead, StoreError> {
    zonegate_store::AnyStore::probe(&web.db, PROBE_TIMEOUT).await?;
    let store = web.store().await?;
    Ok(StoreRead {
        zones: store.zones().await?,
        counts: store.audit_counts().await?,
    })
}

/// Every fact, now.
pub async fn read(web: &Web) -> Facts {
    let now = now();
    let read = read_store(web).await;
    if read.is_ok() {
        web.last_read_ok.store(now, Ordering::Relaxed);
    }
    let last = web.last_read_ok.load(Ordering::Relaxed);
    let stats = web.catalog.stats().snapshot();
    let (rows, counts, error) = match read {
        Ok(r) => (r.zones, r.counts, None),
        Err(e) => (Vec::new(), Vec::new(), Some(e.to_string())),
    };
    Facts {
        now,
        store: StoreFacts {
            up: error.is_none(),
            error,
            last_read_ok: (last > 0).then_some(last),
            snapshot_age_seconds: snapshot_age(&web.snapshot_dir),
        },
        zones: zones(web, &rows, &stats),
        gate: gate(&counts),
        dns: dns(&stats, web.catalog.rrl_counters()),
        ready_lag_seconds: web.ready_lag_s.load(Ordering::Relaxed),
    }
}

/// The store's published zones and the catalog's served ones, by origin.
fn zones(web: &Web, rows: &[ZoneRow], stats: &StatsSnapshot) -> Vec<ZoneFacts> {
    let mut out: BTreeMap<zonegate_core::Name, ZoneFacts> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.published.is_some()) {
        out.insert(
            r.origin.clone(),
            ZoneFacts {
                origin: r.origin.to_string(),
                published: r.published.map(|g| g.0),
                records: r.record_count,
                published_at: r.published_at,
                ..ZoneFacts::default()
            },
        );
    }
    for (origin, generation) in web.catalog.zones() {
        let z = out.entry(origin.clone()).or_insert_with(|| ZoneFacts {
            origin: origin.to_string(),
            ..ZoneFacts::default()
        });
        z.served = Some(generation.0);
        z.serial = web.catalog.serial(&origin);
    }
    for (origin, z) in &mut out {
        z.install_failure = stats.install_failures.get(origin).cloned();
        if let Some(t) = stats.installs.get(origin) {
            z.installs = histogram(t);
        }
    }
    out.into_values().collect()
}

fn histogram(t: &InstallTimes) -> Histogram {
    let mut buckets: Vec<(f64, u64)> = INSTALL_BUCKETS.iter().copied().zip(t.buckets).collect();
    let within: u64 = t.buckets.iter().sum();
    buckets.push((f64::INFINITY, t.count.saturating_sub(within)));
    Histogram {
        buckets,
        sum: t.sum_seconds,
        count: t.count,
    }
}

/// The gate's counters from the audit log's counts.
fn gate(counts: &[AuditCount]) -> GateCounts {
    let mut g = GateCounts::default();
    let mut refusals: BTreeMap<String, u64> = BTreeMap::new();
    for c in counts {
        match &c.action {
            AuditAction::Staged | AuditAction::Held => g.plans += c.count,
            AuditAction::Published => g.publishes += c.count,
            AuditAction::Stale => g.stale += c.count,
            AuditAction::Refused => {
                let reason = c
                    .reason
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                *refusals.entry(reason).or_default() += c.count;
            }
            _ => {}
        }
    }
    g.refusals = refusals.into_iter().collect();
    g
}

fn dns(s: &StatsSnapshot, rrl: Option<&RrlCounters>) -> DnsCounts {
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    DnsCounts {
        queries: s
            .queries
            .iter()
            .map(|(p, r, n)| (p.as_str().to_string(), rcode_name(*r).to_string(), *n))
            .collect(),
        tcp_open: s.tcp_open,
        transfers: s
            .transfers
            .iter()
            .map(|(k, o, n)| (k.as_str().to_string(), o.as_str().to_string(), *n))
            .collect(),
        notifies: s
            .notifies
            .iter()
            .map(|(o, n)| (o.as_str().to_string(), *n))
            .collect(),
        updates: s
            .updates
            .iter()
            .map(|(o, n)| (o.as_str().to_string(), *n))
            .collect(),
        rrl_slipped: rrl.map_or(0, |r| load(&r.slipped)),
        rrl_dropped: rrl.map_or(0, |r| load(&r.dropped)),
    }
}

/// Age in seconds of the oldest zone's snapshot in `dir`, if there is one: a zone's snapshot
/// is as new as the later of its file and its journal's last append.
fn snapshot_age(dir: &std::path::Path) -> Option<f64> {
    let now = SystemTime::now();
    let modified = |p: &std::path::Path| std::fs::metadata(p).ok()?.modified().ok();
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "snapshot"))
        .filter_map(|p| modified(&p).max(modified(&p.with_extension("journal"))))
        .filter_map(|t| now.duration_since(t).ok())
        .map(|d| d.as_secs_f64())
        .reduce(f64::max)
}
