//! Limits and gate settings. Every limit has a documented default; exceeding one is a clear
//! refusal that changes nothing.

use serde::{Deserialize, Serialize};

/// Limits applied by validation and by the gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Most records one plan may hold. Default 5,000,000.
    pub records_max: usize,
    /// Largest canonical plan body in bytes. Default 512 MiB.
    pub body_bytes_max: usize,
    /// Smallest TTL accepted. Default 0.
    pub ttl_min: u32,
    /// Largest TTL accepted. Default 2,147,483,647 (RFC 2181 §8).
    pub ttl_max: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            records_max: 5_000_000,
            body_bytes_max: 512 * 1024 * 1024,
            ttl_min: 0,
            ttl_max: i32::MAX as u32,
        }
    }
}

/// Settings of the publish protocol.
///
/// Only `PartialEq`: the policy's percentages are floating point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GateConfig {
    pub limits: Limits,
    /// A plan older than this many seconds is stale and must be re-planned. Default 3600.
    pub plan_age_max_s: u64,
    /// How many of the newest generations clean-up keeps besides every live one. Default 10.
    pub generations_keep: u32,
    /// How long an enactor's pin on a plan lasts if it never releases it (a crashed enactor),
    /// in seconds. Default 300.
    pub pin_lease_s: u64,
    /// The change policy (`[policy]`): thresholds, floors, the apex guard and review. See
    /// `docs/policy.md`.
    pub policy: crate::policy::Policy,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            limits: Limits::default(),
            plan_age_max_s: 3600,
            generations_keep: 10,
            pin_lease_s: 300,
            policy: crate::policy::Policy::default(),
        }
    }
}
