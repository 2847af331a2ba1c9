//! Settings of the publish protocol: the zone limits, plan age, clean-up, pin lease and the
//! change policy. Kept apart from [`Limits`] so that the zone model does not depend on the
//! gate's policy.

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::dns::name::Name;
use crate::gate::policy::{Policy, PolicyError};
use crate::zone::limits::Limits;
use crate::zone::serial::SerialPolicy;

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
    /// How long a target's row (a server's record of the generation it holds) counts in
    /// clean-up's horizon without being renewed, in seconds. A live server renews it well
    /// within this; a server that is gone for good stops holding clean-up back once it ends.
    /// Default 3600.
    pub target_lease_s: u64,
    /// How the publishing step chooses each generation's SOA serial (`[serial]`).
    pub serial: SerialSettings,
    /// How plans are stored (`[store]`): full bodies and deltas (see `gate::chain`).
    pub store: StoreSettings,
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
            target_lease_s: 3600,
            serial: SerialSettings::default(),
            store: StoreSettings::default(),
            policy: Policy::default(),
        }
    }
}

/// The `[store]` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// A plan is stored as a delta against its base, with a full body (a checkpoint) every
    /// this many generations of a chain, or sooner when the chain's deltas pass a quarter of
    /// the checkpoint's body. `1` stores every plan whole. Default 16.
    pub checkpoint_every: u32,
    /// Set by the process, never by the file: the DNS UPDATE worker stages with
    /// `AfterPublish` and compacts after it answers (see `gate::chain::CheckpointWhen`).
    #[serde(skip)]
    pub checkpoint_when: crate::gate::chain::CheckpointWhen,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            checkpoint_every: crate::gate::chain::CHECKPOINT_EVERY_DEFAULT,
            checkpoint_when: crate::gate::chain::CheckpointWhen::InStage,
        }
    }
}

/// The `[serial]` section: the serial policy of every zone, and per-zone overrides in
/// `[serial.zones]` (`"example.com." = "dateserial"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SerialSettings {
    pub policy: SerialPolicy,
    /// Per-zone policies, keyed by origin (the trailing dot is optional).
    pub zones: BTreeMap<String, SerialPolicy>,
}

impl SerialSettings {
    /// The serial policy of `zone`.
    pub fn for_zone(&self, zone: &Name) -> SerialPolicy {
        self.zones
            .iter()
            .find(|(origin, _)| {
                let origin = origin.trim();
                let absolute = if origin.ends_with('.') {
                    Name::parse(origin)
                } else {
                    Name::parse(&format!("{origin}."))
                };
                absolute.is_ok_and(|o| o == *zone)
            })
            .map_or(self.policy, |(_, p)| *p)
    }
}

/// Settings that cannot work: refused when the config is loaded, not by every plan later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A key whose value makes every plan fail.
    #[error("{key} = {value} cannot work: {why}")]
    Unworkable {
        key: &'static str,
        value: u64,
        why: &'static str,
    },
    /// No TTL could pass both bounds.
    #[error(
        "limits.ttl_min = {min} is above limits.ttl_max = {max}, so no TTL could pass; make \
         ttl_min at most ttl_max"
    )]
    TtlRange { min: u32, max: u32 },
    /// A `[serial.zones]` key that is not a zone name.
    #[error(
        "[serial.zones] key {origin:?} is not a valid zone name; write it like \"example.com.\""
    )]
    SerialZone { origin: String },
    /// The `[policy]` section.
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

impl GateConfig {
    /// Refuses settings under which no plan could ever pass or publish.
    pub fn check(&self) -> Result<(), ConfigError> {
        let unworkable = |key, value: u64, why| Err(ConfigError::Unworkable { key, value, why });
        if self.store.checkpoint_every == 0 {
            return unworkable(
                "store.checkpoint_every",
                0,
                "every chain starts with a checkpoint; use 1 (every plan whole) or more",
            );
        }
        let l = &self.limits;
        if l.records_max < 2 {
            return unworkable(
                "limits.records_max",
                l.records_max as u64,
                "a zone holds at least its SOA and NS records; use 2 or more",
            );
        }
        if l.body_bytes_max == 0 {
            return unworkable(
                "limits.body_bytes_max",
                0,
                "no zone has an empty body; raise it",
            );
        }
        if l.ttl_min > l.ttl_max {
            return Err(ConfigError::TtlRange {
                min: l.ttl_min,
                max: l.ttl_max,
            });
        }
        if self.plan_age_max_s == 0 {
            return unworkable(
                "plan_age_max_s",
                0,
                "every plan would be stale the moment it is staged; use a number of seconds",
            );
        }
        if self.target_lease_s == 0 {
            return unworkable(
                "target_lease_s",
                0,
                "every server's row would lapse before it is renewed; use a number of seconds",
            );
        }
        if let Some(origin) = self
            .serial
            .zones
            .keys()
            .find(|o| Name::parse(&format!("{}.", o.trim().trim_end_matches('.'))).is_err())
        {
            return Err(ConfigError::SerialZone {
                origin: origin.clone(),
            });
        }
        if self.pin_lease_s == 0 {
            return unworkable(
                "pin_lease_s",
                0,
                "a publish's pin would expire before it is used; use a number of seconds",
            );
        }
        Ok(self.policy.check()?)
    }
}

#[cfg(test)]
mod tests {
    use super::{ConfigError, GateConfig};

    #[test]
    fn settings_that_cannot_work_are_refused() {
        assert_eq!(GateConfig::default().check(), Ok(()));
        let mut c = GateConfig::default();
        c.limits.ttl_min = 600;
        c.limits.ttl_max = 60;
        assert_eq!(c.check(), Err(ConfigError::TtlRange { min: 600, max: 60 }));
        let mut c = GateConfig::default();
        c.limits.records_max = 0;
        assert!(matches!(
            c.check(),
            Err(ConfigError::Unworkable {
                key: "limits.records_max",
                ..
            })
        ));
        let c = GateConfig {
            plan_age_max_s: 0,
            ..GateConfig::default()
        };
        assert!(matches!(
            c.check(),
            Err(ConfigError::Unworkable {
                key: "plan_age_max_s",
                ..
            })
        ));
    }
}
