//! What the binary tells this crate at each scrape, readiness check or page view: plain
//! values, already read from the store and the catalog. A leaf.

use serde::Serialize;

/// Everything `/metrics`, `/readyz` and the status page show, read at one moment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Facts {
    /// Unix seconds when these facts were read.
    pub now: u64,
    pub store: StoreFacts,
    /// Every zone the store publishes or this server serves, in canonical order.
    pub zones: Vec<ZoneFacts>,
    pub gate: GateCounts,
    pub dns: DnsCounts,
    /// How long a served generation may trail the store's published one before `/readyz`
    /// says the zone is lagging.
    pub ready_lag_seconds: u64,
}

/// The store as this server sees it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreFacts {
    /// The last read of the store succeeded.
    pub up: bool,
    /// Why it did not, if it did not.
    pub error: Option<String>,
    /// Unix seconds of the last successful read, if any since the server started.
    pub last_read_ok: Option<u64>,
    /// Age in seconds of the oldest last-good snapshot the server would fall back to.
    pub snapshot_age_seconds: Option<f64>,
}

/// One zone: what the store publishes and what this server serves.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ZoneFacts {
    pub origin: String,
    /// The store's published generation (`None` if the store is down or never published it).
    pub published: Option<u64>,
    /// The generation this server serves.
    pub served: Option<u64>,
    /// The served SOA serial.
    pub serial: Option<u32>,
    /// Records in the published generation.
    pub records: Option<u64>,
    /// Unix seconds of the last publication.
    pub published_at: Option<u64>,
    /// Why the last install of the published generation failed, until one succeeds.
    pub install_failure: Option<String>,
    /// Install durations of this zone on this server.
    pub installs: Histogram,
}

/// A histogram: non-cumulative counts per upper bound (the last bound may be infinite), sum
/// and count.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Histogram {
    pub buckets: Vec<(f64, u64)>,
    pub sum: f64,
    pub count: u64,
}

/// The gate's store-wide counts, from the audit log (every writer, every host).
#[derive(Debug, Clone, Default, Serialize)]
pub struct GateCounts {
    /// Plans staged with the verdict `pass` or `held`.
    pub plans: u64,
    pub publishes: u64,
    pub stale: u64,
    /// Refusals by reason code, the CLI's text.
    pub refusals: Vec<(String, u64)>,
}

/// This server's own DNS counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DnsCounts {
    /// (transport, response code, answers).
    pub queries: Vec<(String, String, u64)>,
    pub tcp_open: i64,
    /// (type, outcome, requests).
    pub transfers: Vec<(String, String, u64)>,
    /// (outcome, messages).
    pub notifies: Vec<(String, u64)>,
    /// DNS UPDATE messages: (outcome, messages).
    pub updates: Vec<(String, u64)>,
    /// UDP answers rate limiting sent truncated instead (slipped) or did not send (dropped);
    /// both zero while `[server.rrl]` is off.
    pub rrl_slipped: u64,
    pub rrl_dropped: u64,
}
