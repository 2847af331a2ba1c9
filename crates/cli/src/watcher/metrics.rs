//! `watch --http`: the listener bound before the first round, and each round's report handed
//! to the HTTP crate's gauges as plain values.

use std::net::SocketAddr;

use tokio::sync::oneshot;
use zonegate_core::watch::FindingKind;
use zonegate_http::{WatchMetrics, WatchRound, WatchedServer};

use super::round::RoundReport;

/// The metrics listener of a running watch; it stops when this is dropped.
pub struct Exporter {
    metrics: WatchMetrics,
    _stop: oneshot::Sender<()>,
}

impl Exporter {
    /// Binds `addr` (so a taken port is an error before the first round) and serves
    /// `/metrics` there in the background.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Exporter> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let metrics = WatchMetrics::default();
        let router = zonegate_http::registry_router(metrics.registry());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            if let Err(e) = zonegate_http::serve(listener, router, shutdown).await {
                tracing::error!("the metrics listener on {addr} stopped: {e}");
            }
        });
        Ok(Exporter {
            metrics,
            _stop: stop,
        })
    }

    /// Shows `report` in the metrics.
    pub fn record(&self, report: &RoundReport) {
        self.metrics.record(&values(report));
    }
}

/// The round in plain values: every kind of check, per server and zone, held or not.
fn values(report: &RoundReport) -> WatchRound {
    let servers = report
        .zones
        .iter()
        .flat_map(|z| {
            z.servers.iter().map(|s| WatchedServer {
                server: s.server.clone(),
                zone: z.zone.to_string(),
                lag_generations: s.judgement.lag_generations,
                checks: FindingKind::ALL
                    .iter()
                    .map(|k| {
                        let held = !s.judgement.findings.iter().any(|f| f.kind == *k);
                        (k.as_str(), held)
                    })
                    .collect(),
            })
        })
        .collect();
    WatchRound {
        at: report.now,
        store_readable: report.store_error.is_none(),
        servers,
    }
}
