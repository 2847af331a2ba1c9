//! The metrics of `zonegate watch --http`: the binary hands over what each round found, in
//! plain values, and this module keeps them in gauges of a registry of its own (no globals).

use std::sync::Arc;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// One server's state for one zone in a round.
#[derive(Debug, Clone)]
pub struct WatchedServer {
    /// The server as the user named it (`ADDR:PORT`).
    pub server: String,
    pub zone: String,
    /// Generations behind the published one; `None` when the server did not say its serial.
    pub lag_generations: Option<u64>,
    /// Each kind of check (`lag`, `mismatch`, ...) and whether it held this round.
    pub checks: Vec<(&'static str, bool)>,
}

/// What one round found, as the metrics show it.
#[derive(Debug, Clone)]
pub struct WatchRound {
    /// When the round ran, seconds since the Unix epoch.
    pub at: u64,
    /// Whether the store could be read this round (if not, the last state read was used).
    pub store_readable: bool,
    pub servers: Vec<WatchedServer>,
}

/// The gauges of `watch --http`, updated once per round.
#[derive(Debug, Clone, Default)]
pub struct WatchMetrics {
    check_ok: Family<Labels, Gauge>,
    lag: Family<Labels, Gauge>,
    last_round: Gauge,
    store_readable: Gauge,
}

fn as_gauge(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl WatchMetrics {
    /// A fresh registry holding these gauges, for [`crate::serve_registry`].
    pub fn registry(&self) -> Arc<Registry> {
        let mut r = Registry::default();
        r.register(
            "zonegate_watch_check_ok",
            "1 if the check held on the server for the zone in the last round, 0 if not",
            self.check_ok.clone(),
        );
        r.register(
            "zonegate_watch_serial_lag_generations",
            "Generations the server is behind the published one, in the last round",
            self.lag.clone(),
        );
        r.register(
            "zonegate_watch_last_round_timestamp_seconds",
            "When the last round ran, seconds since the Unix epoch",
            self.last_round.clone(),
        );
        r.register(
            "zonegate_watch_store_readable",
            "1 if the store was readable in the last round, 0 if watch checked against the last state it read",
            self.store_readable.clone(),
        );
        Arc::new(r)
    }

    /// Records what a round found.
    pub fn record(&self, round: &WatchRound) {
        for s in &round.servers {
            let base = vec![("server", s.server.clone()), ("zone", s.zone.clone())];
            for (check, ok) in &s.checks {
                let mut labels = base.clone();
                labels.push(("check", (*check).to_string()));
                self.check_ok.get_or_create(&labels).set(i64::from(*ok));
            }
            match s.lag_generations {
                Some(g) => {
                    self.lag.get_or_create(&base).set(as_gauge(g));
                }
                None => {
                    self.lag.remove(&base);
                }
            }
        }
        self.last_round.set(as_gauge(round.at));
        self.store_readable.set(i64::from(round.store_readable));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_shows_in_the_text() {
        let m = WatchMetrics::default();
        let registry = m.registry();
        let server = |lag| WatchedServer {
            server: "127.0.0.1:53".into(),
            zone: "example.test.".into(),
            lag_generations: lag,
            checks: vec![("lag", lag == Some(0)), ("mismatch", true)],
        };
        m.record(&WatchRound {
            at: 1_700_000_000,
            store_readable: true,
            servers: vec![server(Some(2))],
        });
        let text = crate::metrics::encode(&registry);
        let l = r#"server="127.0.0.1:53",zone="example.test.""#;
        assert!(
            text.contains(&format!("zonegate_watch_check_ok{{{l},check=\"lag\"}} 0")),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "zonegate_watch_check_ok{{{l},check=\"mismatch\"}} 1"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!("zonegate_watch_serial_lag_generations{{{l}}} 2")),
            "{text}"
        );
        assert!(
            text.contains("zonegate_watch_last_round_timestamp_seconds 1700000000"),
            "{text}"
        );
        assert!(text.contains("zonegate_watch_store_readable 1"), "{text}");
        m.record(&WatchRound {
            at: 1_700_000_060,
            store_readable: false,
            servers: vec![server(None)],
        });
        let text = crate::metrics::encode(&registry);
        assert!(
            !text.contains("zonegate_watch_serial_lag_generations{"),
            "{text}"
        );
        assert!(text.contains("zonegate_watch_store_readable 0"), "{text}");
    }
}
