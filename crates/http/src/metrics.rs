//! `/metrics`: the facts in the Prometheus text format, through prometheus-client with an
//! explicit registry built for each scrape (no process-global recorder).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::facts::Facts;

/// The facts of one scrape, as a collector.
#[derive(Debug)]
struct FactsCollector(Facts);

type Labels<'a> = Vec<(&'static str, &'a str)>;

fn gauge<V: prometheus_client::encoding::EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    values: Vec<(Labels<'_>, V)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in values {
        if labels.is_empty() {
            // One sample without labels: `name value`, not `name{} value`.
            return ConstGauge::new(v).encode(metric);
        }
        ConstGauge::new(v).encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    values: Vec<(Labels<'_>, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in values {
        if labels.is_empty() {
            return ConstCounter::new(v).encode(metric);
        }
        ConstCounter::new(v).encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

impl FactsCollector {
    fn zones(&self, e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let z = &self.0.zones;
        let per = |f: &dyn Fn(&crate::facts::ZoneFacts) -> Option<f64>| {
            z.iter()
                .filter_map(|zone| f(zone).map(|v| (vec![("zone", zone.origin.as_str())], v)))
                .collect::<Vec<_>>()
        };
        let as_f = |v: u64| v as f64;
        gauge(
            e,
            "zonegate_zone_published_generation",
            "The store's published generation of the zone.",
            per(&|z| z.published.map(as_f)),
        )?;
        gauge(
            e,
            "zonegate_zone_served_generation",
            "The generation this server serves.",
            per(&|z| z.served.map(as_f)),
        )?;
        gauge(
            e,
            "zonegate_zone_serial",
            "The SOA serial this server serves.",
            per(&|z| z.serial.map(f64::from)),
        )?;
        gauge(
            e,
            "zonegate_zone_records",
            "Records in the published generation.",
            per(&|z| z.records.map(as_f)),
        )?;
        gauge(
            e,
            "zonegate_zone_last_publish_timestamp_seconds",
            "When the published generation was published (unix seconds).",
            per(&|z| z.published_at.map(as_f)),
        )?;
        let mut metric = e.encode_descriptor(
            "zonegate_zone_install_duration_seconds",
            "How long installing a generation took on this server (build, swap, prepared answers).",
            None,
            MetricType::Histogram,
        )?;
        for zone in z {
            let labels = vec![("zone", zone.origin.as_str())];
            let h = &zone.installs;
            metric
                .encode_family(&labels)?
                .encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                    h.sum, h.count, &h.buckets, None,
                )?;
        }
        Ok(())
    }

    fn gate(&self, e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let g = &self.0.gate;
        let store_wide = " Store-wide, from the audit log: every server reports the same count (use max, not sum).";
        counter(
            e,
            "zonegate_gate_plans",
            &format!("Plans staged with the verdict pass or held.{store_wide}"),
            vec![(vec![], g.plans)],
        )?;
        counter(
            e,
            "zonegate_gate_publishes",
            &format!("Publications (compare-and-swap moved the pointer).{store_wide}"),
            vec![(vec![], g.publishes)],
        )?;
        counter(
            e,
            "zonegate_gate_stale",
            &format!("Publishes refused as stale.{store_wide}"),
            vec![(vec![], g.stale)],
        )?;
        counter(
            e,
            "zonegate_gate_refusals",
            &format!("Gate refusals by reason code (the CLI's codes).{store_wide}"),
            g.refusals
                .iter()
                .map(|(r, n)| (vec![("reason", r.as_str())], *n))
                .collect(),
        )
    }

    fn store(&self, e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.0.store;
        gauge(
            e,
            "zonegate_store_up",
            "1 if the last read of the store succeeded.",
            vec![(vec![], i64::from(s.up))],
        )?;
        if let Some(t) = s.last_read_ok {
            gauge(
                e,
                "zonegate_store_last_read_timestamp_seconds",
                "When this server last read the store successfully (unix seconds).",
                vec![(vec![], t as f64)],
            )?;
        }
        if let Some(age) = s.snapshot_age_seconds {
            gauge(
                e,
                "zonegate_store_snapshot_age_seconds",
                "Age of the oldest last-good snapshot this server would fall back to.",
                vec![(vec![], age)],
            )?;
        }
        Ok(())
    }

    fn dns(&self, e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let d = &self.0.dns;
        counter(
            e,
            "zonegate_dns_queries",
            "DNS answers by transport and response code.",
            d.queries
                .iter()
                .map(|(p, r, n)| (vec![("proto", p.as_str()), ("rcode", r.as_str())], *n))
                .collect(),
        )?;
        gauge(
            e,
            "zonegate_dns_tcp_connections",
            "Open DNS TCP connections.",
            vec![(vec![], d.tcp_open)],
        )?;
        counter(
            e,
            "zonegate_dns_transfers",
            "Zone transfer requests by type and outcome.",
            d.transfers
                .iter()
                .map(|(t, o, n)| (vec![("type", t.as_str()), ("outcome", o.as_str())], *n))
                .collect(),
        )?;
        counter(
            e,
            "zonegate_dns_notifies",
            "NOTIFY messages to secondaries by outcome.",
            d.notifies
                .iter()
                .map(|(o, n)| (vec![("outcome", o.as_str())], *n))
                .collect(),
        )?;
        counter(
            e,
            "zonegate_dns_updates",
            "DNS UPDATE messages by outcome.",
            d.updates
                .iter()
                .map(|(o, n)| (vec![("outcome", o.as_str())], *n))
                .collect(),
        )?;
        counter(
            e,
            "zonegate_rrl_answers",
            "UDP answers response rate limiting slipped (sent truncated) or dropped.",
            vec![
                (vec![("action", "slipped")], d.rrl_slipped),
                (vec![("action", "dropped")], d.rrl_dropped),
            ],
        )
    }
}

impl Collector for FactsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.zones(&mut encoder)?;
        self.gate(&mut encoder)?;
        self.store(&mut encoder)?;
        self.dns(&mut encoder)
    }
}

/// The facts in the Prometheus text format.
pub fn render(facts: Facts) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(FactsCollector(facts)));
    encode(&registry)
}

/// Any registry in the Prometheus text format.
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, registry);
    out
}
