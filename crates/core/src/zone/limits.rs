//! Limits on zone content. Every limit has a documented default; exceeding one is a clear
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
