//! Settings of the publish protocol: the zone limits, plan age, clean-up, pin lease and the
//! change policy. Kept apart from [`Limits`] so that the zone model does not depend on the
//! gate's policy.

use serde::{Deserialize, Serialize};

use crate::gate::policy::Policy;
use crate::zone::limits::Limits;

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
    pub policy: Policy,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            limits: Limits::default(),
            plan_age_max_s: 3600,
            generations_keep: 10,
            pin_lease_s: 300,
            policy: Policy::default(),
        }
    }
}
