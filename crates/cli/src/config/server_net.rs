//! The `[server.rrl]` and `[server.tcp]` tables of the config file: response rate limiting
//! (BIND's `rate-limit` names) and the TCP connection limits, read into the server's
//! `RrlOptions` and `TcpOptions`. Every key is listed with its default in
//! docs/configuration.md; a value that cannot work is refused at load, naming the key.

use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use zonegate_server::{AddressMatch, RrlOptions, TcpOptions};

/// `[server.rrl]`:
///
/// ```toml
/// [server.rrl]
/// responses_per_second = 10   # 0 (the default) turns rate limiting off
/// slip = 2
/// window = 15
/// ipv4_prefix_length = 24
/// ipv6_prefix_length = 56
/// exempt = ["10.0.0.0/8"]
/// ```
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RrlSection {
    responses_per_second: Option<u32>,
    slip: Option<u32>,
    window: Option<u32>,
    ipv4_prefix_length: Option<u8>,
    ipv6_prefix_length: Option<u8>,
    exempt: Option<Vec<String>>,
}

impl RrlSection {
    pub(super) fn apply(&self, out: &mut RrlOptions) -> anyhow::Result<()> {
        set(&mut out.responses_per_second, self.responses_per_second);
        set(&mut out.slip, self.slip);
        if let Some(w) = self.window {
            if !(1..=3600).contains(&w) {
                bail!("[server.rrl] window = {w}: write a number of seconds from 1 to 3600");
            }
            out.window = w;
        }
        if let Some(p) = self.ipv4_prefix_length {
            if p > 32 {
                bail!("[server.rrl] ipv4_prefix_length = {p}: write 0 to 32");
            }
            out.ipv4_prefix_length = p;
        }
        if let Some(p) = self.ipv6_prefix_length {
            if p > 128 {
                bail!("[server.rrl] ipv6_prefix_length = {p}: write 0 to 128");
            }
            out.ipv6_prefix_length = p;
        }
        if let Some(list) = &self.exempt {
            out.exempt = list
                .iter()
                .map(|s| s.parse::<AddressMatch>())
                .collect::<Result<_, _>>()
                .context("[server.rrl] exempt")?;
        }
        Ok(())
    }
}

/// `[server.tcp]`:
///
/// ```toml
/// [server.tcp]
/// connections_max = 256
/// connections_per_client_max = 16
/// idle_timeout_ms = 10000
/// idle_timeout_busy_ms = 1000
/// ```
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TcpSection {
    connections_max: Option<usize>,
    connections_per_client_max: Option<usize>,
    idle_timeout_ms: Option<u64>,
    idle_timeout_busy_ms: Option<u64>,
}

impl TcpSection {
    pub(super) fn apply(&self, out: &mut TcpOptions) -> anyhow::Result<()> {
        set(&mut out.connections_max, self.connections_max);
        set(
            &mut out.connections_per_client_max,
            self.connections_per_client_max,
        );
        if let Some(ms) = self.idle_timeout_ms {
            out.idle_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = self.idle_timeout_busy_ms {
            out.idle_timeout_busy = Duration::from_millis(ms);
        }
        if out.connections_max == 0 || out.connections_per_client_max == 0 {
            bail!("[server.tcp] connections_max and connections_per_client_max must be at least 1");
        }
        if out.connections_per_client_max > out.connections_max {
            bail!(
                "[server.tcp] connections_per_client_max ({}) is above connections_max ({}): one client could take every connection",
                out.connections_per_client_max,
                out.connections_max
            );
        }
        if out.idle_timeout.is_zero() || out.idle_timeout_busy > out.idle_timeout {
            bail!(
                "[server.tcp] idle_timeout_ms must be at least 1 and idle_timeout_busy_ms at most idle_timeout_ms"
            );
        }
        Ok(())
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}
