//! The `[watch]` section of the config file: which servers `zonegate watch` asks for each
//! zone, what it expects, and its bounds. Every key is listed with its default in
//! docs/configuration.md.
//!
//! ```toml
//! [watch]
//! servers = ["127.0.0.1:5300"]        # asked for every zone without its own list
//! expect = ["www.example.com/A"]      # always checked, besides floors and the sample
//! sample = 1000                       # names checked per round (a smaller zone: all)
//! qps = 100                           # queries per second per server, retries included
//! timeout_ms = 2000                   # wait for one answer
//! retries = 1                         # asks again after a timeout
//! interval_s = 60                     # between rounds in continuous mode
//!
//! [watch.zones."example.com."]        # one zone's servers (secondaries included)
//! servers = ["127.0.0.1:5300", "192.0.2.53:53"]
//! expect = ["api.example.com/AAAA"]
//! ```

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;
use zonegate_core::Name;
use zonegate_core::watch::Check;
use zonegate_server::probe::ProbeLimits;

/// The `[watch]` section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WatchSection {
    #[serde(default)]
    servers: Vec<SocketAddr>,
    #[serde(default)]
    expect: Vec<String>,
    sample: Option<usize>,
    qps: Option<u32>,
    timeout_ms: Option<u64>,
    retries: Option<u32>,
    interval_s: Option<u64>,
    #[serde(default)]
    zones: HashMap<String, ZoneWatch>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ZoneWatch {
    #[serde(default)]
    servers: Vec<SocketAddr>,
    #[serde(default)]
    expect: Vec<String>,
}

/// What `[watch]` says, with the defaults filled in.
#[derive(Debug, Clone)]
pub struct WatchSettings {
    /// Servers for every zone without its own list.
    pub servers: Vec<SocketAddr>,
    pub expect: Vec<Check>,
    pub sample: usize,
    pub limits: ProbeLimits,
    pub interval: Duration,
    /// Per-zone servers and expectations.
    pub zones: BTreeMap<Name, (Vec<SocketAddr>, Vec<Check>)>,
}

impl Default for WatchSettings {
    fn default() -> Self {
        WatchSettings {
            servers: Vec::new(),
            expect: Vec::new(),
            sample: 1000,
            limits: ProbeLimits::default(),
            interval: Duration::from_secs(60),
            zones: BTreeMap::new(),
        }
    }
}

fn checks(list: &[String]) -> anyhow::Result<Vec<Check>> {
    list.iter()
        .map(|s| s.parse::<Check>().map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<_>>()
        .context("expect")
}

impl WatchSection {
    fn settings(self) -> anyhow::Result<WatchSettings> {
        let d = WatchSettings::default();
        let mut zones = BTreeMap::new();
        for (zone, z) in self.zones {
            let absolute = if zone.ends_with('.') {
                zone.clone()
            } else {
                format!("{zone}.")
            };
            let origin = Name::parse(&absolute)
                .with_context(|| format!("[watch.zones.{zone:?}] is not a zone name"))?;
            let expect = checks(&z.expect).with_context(|| format!("[watch.zones.{zone:?}]"))?;
            zones.insert(origin, (z.servers, expect));
        }
        let qps = self.qps.unwrap_or(d.limits.qps);
        anyhow::ensure!(qps > 0, "qps must be at least 1");
        Ok(WatchSettings {
            servers: self.servers,
            expect: checks(&self.expect)?,
            sample: self.sample.unwrap_or(d.sample),
            limits: ProbeLimits {
                timeout: self
                    .timeout_ms
                    .map_or(d.limits.timeout, |ms| Duration::from_millis(ms.max(1))),
                retries: self.retries.unwrap_or(d.limits.retries),
                qps,
            },
            interval: self
                .interval_s
                .map_or(d.interval, |s| Duration::from_secs(s.max(1))),
            zones,
        })
    }
}

/// The `[watch]` section of the config file; the defaults without a file or section.
pub fn watch_settings(config: Option<&Path>) -> anyhow::Result<WatchSettings> {
    let Some(path) = config else {
        return Ok(WatchSettings::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let mut table: toml::Table = toml::from_str(&text)
        .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
    let Some(section) = table.remove("watch") else {
        return Ok(WatchSettings::default());
    };
    let section: WatchSection = section
        .try_into()
        .with_context(|| format!("the [watch] section of {} is not valid", path.display()))?;
    section
        .settings()
        .with_context(|| format!("the [watch] section of {} is not valid", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<WatchSettings> {
        let mut table: toml::Table = toml::from_str(text)?;
        let section: WatchSection = table.remove("watch").unwrap().try_into()?;
        section.settings()
    }

    #[test]
    fn watch_section_with_zones() {
        let w = parse(
            r#"
            [watch]
            servers = ["127.0.0.1:5300"]
            expect = ["www.example.com/A"]
            sample = 10
            qps = 5
            timeout_ms = 300
            retries = 0
            interval_s = 2
            [watch.zones."example.com"]
            servers = ["127.0.0.1:5301", "[::1]:5302"]
            expect = ["api.example.com./AAAA"]
            "#,
        )
        .unwrap();
        assert_eq!(w.servers, vec!["127.0.0.1:5300".parse().unwrap()]);
        assert_eq!(w.expect[0].to_string(), "www.example.com./A");
        assert_eq!((w.sample, w.limits.qps, w.limits.retries), (10, 5, 0));
        assert_eq!(w.limits.timeout, Duration::from_millis(300));
        assert_eq!(w.interval, Duration::from_secs(2));
        let (servers, expect) = &w.zones[&Name::parse("example.com.").unwrap()];
        assert_eq!(servers.len(), 2);
        assert_eq!(expect[0].to_string(), "api.example.com./AAAA");
    }

    #[test]
    fn defaults_and_refusals() {
        let w = parse("[watch]\n").unwrap();
        assert_eq!((w.sample, w.limits.qps), (1000, 100));
        assert_eq!(w.interval, Duration::from_secs(60));
        assert!(parse("[watch]\nqps = 0\n").is_err());
        assert!(parse("[watch]\nexpect = [\"www\"]\n").is_err());
        assert!(
            parse("[watch]\nserver = []\n").is_err(),
            "unknown keys are refused"
        );
    }
}
