//! What the server counts for `/metrics`: queries by transport and response code, open TCP
//! connections, zone transfers and NOTIFY by outcome, install durations and the last install
//! failure of each zone.
//!
//! # Design
//!
//! Counting must not slow the UDP hot path. Each UDP loop counts into a plain array of its
//! own ([`LocalCounts`], no atomics, no sharing) and adds it to its own cache-line-aligned
//! shard of atomics once per received batch; a scrape sums every shard ([`ServerStats::snapshot`]).
//! TCP connections do the same once per read. Everything else (transfers, NOTIFY, installs)
//! is rare and counts with one relaxed atomic add or under a lock.
//!
//! A new kind of outcome (DNS UPDATE, say) is one more enum beside [`TransferOutcome`] and
//! [`NotifyOutcome`], one more array of counters in [`ServerStats`] and one more field of
//! [`StatsSnapshot`].
//!
//! A leaf: imports nothing of the crate.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zonegate_core::Name;

/// Response codes counted one by one: 0..=23 (the 4-bit header codes and the extended ones
/// up to BADCOOKIE); anything above is counted in the last slot.
pub const RCODE_SLOTS: usize = 24;

/// The upper bounds, in seconds, of the install duration histogram's buckets.
pub const INSTALL_BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0];

/// The transport a query came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proto {
    Udp,
    Tcp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
        }
    }
}

/// How a zone transfer request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferOutcome {
    /// Answered (a full transfer, deltas, or the SOA alone to a client that is current).
    Ok,
    /// Refused: not allowed by the ACL, a missing or unknown key, not a zone served here.
    Refused,
    /// Another error code (e.g. AXFR over UDP).
    Error,
}

impl TransferOutcome {
    pub const ALL: [TransferOutcome; 3] = [
        TransferOutcome::Ok,
        TransferOutcome::Refused,
        TransferOutcome::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransferOutcome::Ok => "ok",
            TransferOutcome::Refused => "refused",
            TransferOutcome::Error => "error",
        }
    }

    fn of(rcode: u16) -> TransferOutcome {
        match rcode {
            0 => TransferOutcome::Ok,
            5 | 9 | 17 => TransferOutcome::Refused,
            _ => TransferOutcome::Error,
        }
    }
}

/// The kind of transfer asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferKind {
    Axfr,
    Ixfr,
}

impl TransferKind {
    pub const ALL: [TransferKind; 2] = [TransferKind::Axfr, TransferKind::Ixfr];

    pub fn as_str(self) -> &'static str {
        match self {
            TransferKind::Axfr => "axfr",
            TransferKind::Ixfr => "ixfr",
        }
    }
}

/// How one NOTIFY to one secondary ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyOutcome {
    Acknowledged,
    /// The secondary answered with an error code.
    Refused,
    /// A newer generation made it pointless before it was acknowledged.
    Superseded,
    /// No answer after every retry.
    NoAnswer,
    /// It could not be sent.
    Error,
}

impl NotifyOutcome {
    pub const ALL: [NotifyOutcome; 5] = [
        NotifyOutcome::Acknowledged,
        NotifyOutcome::Refused,
        NotifyOutcome::Superseded,
        NotifyOutcome::NoAnswer,
        NotifyOutcome::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyOutcome::Acknowledged => "acknowledged",
            NotifyOutcome::Refused => "refused",
            NotifyOutcome::Superseded => "superseded",
            NotifyOutcome::NoAnswer => "no-answer",
            NotifyOutcome::Error => "error",
        }
    }
}

/// What became of an UPDATE, one word each, for logs and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpdateResult {
    /// NOERROR, a new generation published.
    Published,
    /// NOERROR, nothing to change.
    Unchanged,
    /// A failed prerequisite (YXDOMAIN, NXDOMAIN, YXRRSET, NXRRSET).
    Prerequisite,
    /// FORMERR or NOTZONE.
    Malformed,
    /// REFUSED or NOTAUTH before the gate: the address, the key, the zone.
    NotAllowed,
    /// REFUSED by the gate, the grants or the review setting.
    Refused,
    /// SERVFAIL: the store failed, or the retries ran out.
    Failed,
}

impl UpdateResult {
    pub const ALL: [UpdateResult; 7] = [
        UpdateResult::Published,
        UpdateResult::Unchanged,
        UpdateResult::Prerequisite,
        UpdateResult::Malformed,
        UpdateResult::NotAllowed,
        UpdateResult::Refused,
        UpdateResult::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UpdateResult::Published => "published",
            UpdateResult::Unchanged => "unchanged",
            UpdateResult::Prerequisite => "prerequisite",
            UpdateResult::Malformed => "malformed",
            UpdateResult::NotAllowed => "not-allowed",
            UpdateResult::Refused => "refused",
            UpdateResult::Failed => "failed",
        }
    }
}

/// One loop's share of the query counters, on its own cache line(s).
#[repr(align(128))]
pub(crate) struct Shard {
    proto: Proto,
    counts: [AtomicU64; RCODE_SLOTS],
}

/// Counts a loop keeps to itself between two flushes into its shard.
pub(crate) struct LocalCounts {
    counts: [u64; RCODE_SLOTS],
    any: bool,
}

impl LocalCounts {
    pub(crate) fn new() -> Self {
        LocalCounts {
            counts: [0; RCODE_SLOTS],
            any: false,
        }
    }

    /// One answer with response code `rcode`.
    #[inline]
    pub(crate) fn add(&mut self, rcode: u16) {
        self.counts[usize::from(rcode).min(RCODE_SLOTS - 1)] += 1;
        self.any = true;
    }

    /// Adds these counts to `shard` and starts again from zero.
    #[inline]
    pub(crate) fn flush(&mut self, shard: &Shard) {
        if !self.any {
            return;
        }
        for (local, shared) in self.counts.iter_mut().zip(&shard.counts) {
            if *local != 0 {
                shared.fetch_add(*local, Ordering::Relaxed);
                *local = 0;
            }
        }
        self.any = false;
    }
}

/// A histogram of install durations: counts per bucket of [`INSTALL_BUCKETS`] (not
/// cumulative), plus the sum and the count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstallTimes {
    pub buckets: [u64; INSTALL_BUCKETS.len()],
    pub sum_seconds: f64,
    pub count: u64,
}

impl InstallTimes {
    fn observe(&mut self, took: Duration) {
        let s = took.as_secs_f64();
        if let Some(i) = INSTALL_BUCKETS.iter().position(|&b| s <= b) {
            self.buckets[i] += 1;
        }
        self.sum_seconds += s;
        self.count += 1;
    }
}

/// Every counter of one server; shared by its loops through the catalog.
pub struct ServerStats {
    shards: Mutex<Vec<Arc<Shard>>>,
    tcp: Arc<Shard>,
    tcp_open: AtomicI64,
    transfers: [[AtomicU64; 3]; 2],
    notifies: [AtomicU64; 5],
    updates: [AtomicU64; 7],
    installs: Mutex<BTreeMap<Name, InstallTimes>>,
    failures: Mutex<BTreeMap<Name, String>>,
}

impl std::fmt::Debug for ServerStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerStats").finish_non_exhaustive()
    }
}

/// The counters at one moment, summed over the loops.
#[derive(Debug, Clone, Default)]
pub struct StatsSnapshot {
    /// (transport, response code, answers), only the non-zero ones.
    pub queries: Vec<(Proto, u16, u64)>,
    pub tcp_open: i64,
    pub transfers: Vec<(TransferKind, TransferOutcome, u64)>,
    pub notifies: Vec<(NotifyOutcome, u64)>,
    /// DNS UPDATE messages by outcome.
    pub updates: Vec<(UpdateResult, u64)>,
    pub installs: BTreeMap<Name, InstallTimes>,
    /// Per zone, why its last install failed, until one succeeds.
    pub install_failures: BTreeMap<Name, String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn new_shard(proto: Proto) -> Arc<Shard> {
    Arc::new(Shard {
        proto,
        counts: std::array::from_fn(|_| AtomicU64::new(0)),
    })
}

impl Default for ServerStats {
    fn default() -> Self {
        let tcp = new_shard(Proto::Tcp);
        ServerStats {
            shards: Mutex::new(vec![tcp.clone()]),
            tcp,
            tcp_open: AtomicI64::new(0),
            transfers: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            notifies: std::array::from_fn(|_| AtomicU64::new(0)),
            updates: std::array::from_fn(|_| AtomicU64::new(0)),
            installs: Mutex::new(BTreeMap::new()),
            failures: Mutex::new(BTreeMap::new()),
        }
    }
}

impl ServerStats {
    /// A new shard for one UDP loop.
    pub(crate) fn udp_shard(&self) -> Arc<Shard> {
        let shard = new_shard(Proto::Udp);
        lock(&self.shards).push(shard.clone());
        shard
    }

    /// The shard every TCP connection flushes into.
    pub(crate) fn tcp_shard(&self) -> &Shard {
        &self.tcp
    }

    /// A TCP connection opened; it counts as open until the guard is dropped.
    pub(crate) fn tcp_opened(self: &Arc<Self>) -> OpenConnection {
        self.tcp_open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.clone())
    }

    pub(crate) fn transfer(&self, kind: TransferKind, rcode: u16) {
        let k = TransferKind::ALL
            .iter()
            .position(|&x| x == kind)
            .unwrap_or(0);
        let o = TransferOutcome::ALL
            .iter()
            .position(|&x| x == TransferOutcome::of(rcode))
            .unwrap_or(0);
        self.transfers[k][o].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn notify(&self, outcome: NotifyOutcome) {
        let o = NotifyOutcome::ALL
            .iter()
            .position(|&x| x == outcome)
            .unwrap_or(0);
        self.notifies[o].fetch_add(1, Ordering::Relaxed);
    }

    /// One DNS UPDATE was answered with `result`.
    pub(crate) fn update(&self, result: UpdateResult) {
        let o = UpdateResult::ALL
            .iter()
            .position(|&x| x == result)
            .unwrap_or(0);
        self.updates[o].fetch_add(1, Ordering::Relaxed);
    }

    /// A generation of `zone` was installed in `took`: observed, and any failure noted for the
    /// zone is cleared.
    pub(crate) fn installed(&self, zone: &Name, took: Duration) {
        lock(&self.installs)
            .entry(zone.clone())
            .or_default()
            .observe(took);
        lock(&self.failures).remove(zone);
    }

    /// The follower could not install the published generation of `zone` (it could not be
    /// read, decoded or validated): shown by `/readyz` until an install of the zone succeeds.
    pub fn install_failed(&self, zone: &Name, why: String) {
        lock(&self.failures).insert(zone.clone(), why);
    }

    /// Every counter, summed over the loops.
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut sums: BTreeMap<(Proto, u16), u64> = BTreeMap::new();
        for shard in lock(&self.shards).iter() {
            for (code, n) in shard.counts.iter().enumerate() {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    let code = u16::try_from(code).unwrap_or(u16::MAX);
                    *sums.entry((shard.proto, code)).or_default() += n;
                }
            }
        }
        let mut transfers = Vec::new();
        for (k, kind) in TransferKind::ALL.iter().enumerate() {
            for (o, outcome) in TransferOutcome::ALL.iter().enumerate() {
                transfers.push((
                    *kind,
                    *outcome,
                    self.transfers[k][o].load(Ordering::Relaxed),
                ));
            }
        }
        StatsSnapshot {
            queries: sums.into_iter().map(|((p, c), n)| (p, c, n)).collect(),
            tcp_open: self.tcp_open.load(Ordering::Relaxed),
            transfers,
            notifies: NotifyOutcome::ALL
                .iter()
                .zip(&self.notifies)
                .map(|(o, n)| (*o, n.load(Ordering::Relaxed)))
                .collect(),
            updates: UpdateResult::ALL
                .iter()
                .zip(&self.updates)
                .map(|(o, n)| (*o, n.load(Ordering::Relaxed)))
                .collect(),
            installs: lock(&self.installs).clone(),
            install_failures: lock(&self.failures).clone(),
        }
    }
}

/// An open TCP connection, counted until dropped.
pub(crate) struct OpenConnection(Arc<ServerStats>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.tcp_open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The text form of a response code for a metric label (`NOERROR`, `NXDOMAIN`, ...); the
/// last slot reads `OTHER`.
pub fn rcode_name(code: u16) -> &'static str {
    const NAMES: [&str; 24] = [
        "NOERROR",
        "FORMERR",
        "SERVFAIL",
        "NXDOMAIN",
        "NOTIMP",
        "REFUSED",
        "YXDOMAIN",
        "YXRRSET",
        "NXRRSET",
        "NOTAUTH",
        "NOTZONE",
        "DSOTYPENI",
        "RCODE12",
        "RCODE13",
        "RCODE14",
        "RCODE15",
        "BADVERS",
        "BADKEY",
        "BADTIME",
        "BADMODE",
        "BADNAME",
        "BADALG",
        "BADTRUNC",
        "OTHER",
    ];
    NAMES[usize::from(code).min(RCODE_SLOTS - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_count_alone_and_a_snapshot_sums_them() {
        let stats = Arc::new(ServerStats::default());
        let (a, b) = (stats.udp_shard(), stats.udp_shard());
        let mut la = LocalCounts::new();
        let mut lb = LocalCounts::new();
        for _ in 0..3 {
            la.add(0);
        }
        lb.add(0);
        lb.add(3);
        lb.add(400);
        // Nothing shows before a flush.
        assert!(stats.snapshot().queries.is_empty());
        la.flush(&a);
        lb.flush(&b);
        let mut lt = LocalCounts::new();
        lt.add(5);
        lt.flush(stats.tcp_shard());
        let s = stats.snapshot();
        assert_eq!(
            s.queries,
            vec![
                (Proto::Udp, 0, 4),
                (Proto::Udp, 3, 1),
                (Proto::Udp, 23, 1),
                (Proto::Tcp, 5, 1)
            ]
        );
        assert_eq!(rcode_name(23), "OTHER");
        let open = stats.tcp_opened();
        assert_eq!(stats.snapshot().tcp_open, 1);
        drop(open);
        assert_eq!(stats.snapshot().tcp_open, 0);
    }

    #[test]
    fn installs_clear_failures_and_fill_buckets() {
        let stats = ServerStats::default();
        let z = Name::parse("example.com.").unwrap();
        stats.install_failed(&z, "bad".into());
        assert_eq!(stats.snapshot().install_failures.len(), 1);
        stats.installed(&z, Duration::from_millis(3));
        let s = stats.snapshot();
        assert!(s.install_failures.is_empty());
        let t = &s.installs[&z];
        assert_eq!((t.count, t.buckets[1]), (1, 1));
        stats.transfer(TransferKind::Axfr, 5);
        let s = stats.snapshot();
        assert!(
            s.transfers
                .contains(&(TransferKind::Axfr, TransferOutcome::Refused, 1))
        );
    }
}
