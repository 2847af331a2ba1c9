//! The policy's settings: `[policy]` in the config, per-zone overrides, floors and review.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::dns::name::Name;
use crate::dns::record::RType;

/// How plans of a zone are reviewed before they may be published.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Review {
    /// No review: a plan that passes the policy may be published.
    #[default]
    Off,
    /// The binary runs `review_command`; exit status 0 approves the plan, any other status
    /// rejects it, and a timeout leaves it held.
    Command,
    /// The plan is held until `zonegate approve` or `zonegate reject`.
    Manual,
}

impl Review {
    pub fn as_str(self) -> &'static str {
        match self {
            Review::Off => "off",
            Review::Command => "command",
            Review::Manual => "manual",
        }
    }
}

/// Which owner names a floor covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamePattern {
    /// Exactly this name.
    Exact(Name),
    /// `*.<name>`: every name strictly below this one.
    Below(Name),
}

impl NamePattern {
    pub fn matches(&self, owner: &Name) -> bool {
        match self {
            NamePattern::Exact(n) => owner == n,
            NamePattern::Below(n) => owner.is_below(n),
        }
    }
}

impl fmt::Display for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NamePattern::Exact(n) => write!(f, "{n}"),
            NamePattern::Below(n) if n.is_root() => f.write_str("*."),
            NamePattern::Below(n) => write!(f, "*.{n}"),
        }
    }
}

/// Parses an absolute name, accepting a missing trailing dot (config files are written by
/// people; a floor never means a relative name).
fn absolute(text: &str) -> Result<Name, String> {
    let text = text.trim();
    let full = if text.ends_with('.') {
        text.to_string()
    } else {
        format!("{text}.")
    };
    Name::parse(&full).map_err(|e| format!("{text:?} is not a valid name: {e}"))
}

impl FromStr for NamePattern {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "*" | "*." => Ok(NamePattern::Below(Name::root())),
            t => match t.strip_prefix("*.") {
                Some(rest) => absolute(rest).map(NamePattern::Below),
                None => absolute(t).map(NamePattern::Exact),
            },
        }
    }
}

/// An RRset floor: RRsets of type `rtype` at names matching `name` may not drop below `min`
/// records. Written `{ name = "api.example.com.", type = "A", min = 2 }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FloorSpec", into = "FloorSpec")]
pub struct Floor {
    pub name: NamePattern,
    pub rtype: RType,
    pub min: u32,
}

impl fmt::Display for Floor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} >= {}", self.name, self.rtype, self.min)
    }
}

/// The TOML form of a [`Floor`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FloorSpec {
    name: String,
    #[serde(rename = "type")]
    rtype: String,
    min: u32,
}

impl TryFrom<FloorSpec> for Floor {
    type Error = String;
    fn try_from(spec: FloorSpec) -> Result<Self, String> {
        let name = spec.name.parse()?;
        let rtype = spec
            .rtype
            .parse()
            .map_err(|_| format!("{:?} is not a record type", spec.rtype))?;
        Ok(Floor {
            name,
            rtype,
            min: spec.min,
        })
    }
}

impl From<Floor> for FloorSpec {
    fn from(f: Floor) -> Self {
        FloorSpec {
            name: f.name.to_string(),
            rtype: f.rtype.to_string(),
            min: f.min,
        }
    }
}

/// The policy of one zone: the defaults with that zone's overrides applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ZonePolicy {
    pub update_max_percent: f64,
    pub update_max_records: Option<u64>,
    pub delete_max_percent: f64,
    pub delete_max_records: Option<u64>,
    pub shrink_max_percent: f64,
    pub apex_guard: bool,
    pub floors: Vec<Floor>,
    pub dependency_share_max_percent: Option<f64>,
    pub dependency_floored_single_target: bool,
    pub review: Review,
    pub review_command: Vec<String>,
    pub review_timeout_s: u64,
}

/// The `[policy]` section of the config: defaults for every zone, plus per-zone overrides in
/// `[policy.zones."example.com."]`. See `docs/policy.md` for every key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Most records one plan may update, as a percentage of the base's records. Default 30.
    pub update_max_percent: f64,
    /// Most records one plan may update, as a count. Default: no count limit.
    pub update_max_records: Option<u64>,
    /// Most records one plan may delete, as a percentage of the base's records. Default 30.
    pub delete_max_percent: f64,
    /// Most records one plan may delete, as a count. Default: no count limit.
    pub delete_max_records: Option<u64>,
    /// Largest fall of the record count, as a percentage of the base's records; beyond it the
    /// source looks empty or truncated. Holds whatever the delete limit says. Default 50.
    pub shrink_max_percent: f64,
    /// Whether a change to the apex NS set, or to the SOA other than its serial, needs
    /// acknowledgement. Default true.
    pub apex_guard: bool,
    /// RRset floors. Default none.
    pub floors: Vec<Floor>,
    /// Largest share (percent) of the zone's names with outside targets that may depend on
    /// one registrable domain (`zonegate deps`); a plan that raises the largest share above
    /// it crosses a threshold. Default none (off).
    pub dependency_share_max_percent: Option<f64>,
    /// Whether a plan that leaves a name covered by a floor depending on a single outside
    /// target (no second choice) crosses a threshold. Default false (off).
    pub dependency_floored_single_target: bool,
    /// How plans are reviewed. Default off.
    pub review: Review,
    /// The program (and its arguments) `review = "command"` runs. Default none.
    pub review_command: Vec<String>,
    /// How long a review command may run before it is stopped and the plan stays held.
    /// Default 300.
    pub review_timeout_s: u64,
    /// Per-zone overrides, keyed by origin.
    pub zones: BTreeMap<String, ZoneOverride>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            update_max_percent: 30.0,
            update_max_records: None,
            delete_max_percent: 30.0,
            delete_max_records: None,
            shrink_max_percent: 50.0,
            apex_guard: true,
            floors: Vec::new(),
            dependency_share_max_percent: None,
            dependency_floored_single_target: false,
            review: Review::Off,
            review_command: Vec::new(),
            review_timeout_s: 300,
            zones: BTreeMap::new(),
        }
    }
}

/// One zone's overrides. A key that is not set takes the default; `floors` are added to the
/// default floors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZoneOverride {
    pub update_max_percent: Option<f64>,
    pub update_max_records: Option<u64>,
    pub delete_max_percent: Option<f64>,
    pub delete_max_records: Option<u64>,
    pub shrink_max_percent: Option<f64>,
    pub apex_guard: Option<bool>,
    pub floors: Vec<Floor>,
    pub dependency_share_max_percent: Option<f64>,
    pub dependency_floored_single_target: Option<bool>,
    pub review: Option<Review>,
    pub review_command: Option<Vec<String>>,
    pub review_timeout_s: Option<u64>,
}

/// A policy section that cannot work as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy {key}: {problem}")]
pub struct PolicyError {
    /// The key, e.g. `zones."example.com.".delete_max_percent`.
    pub key: String,
    pub problem: String,
}

impl Policy {
    /// The policy of `zone`: the defaults with its overrides, if it has any.
    pub fn for_zone(&self, zone: &Name) -> ZonePolicy {
        let mut p = ZonePolicy {
            update_max_percent: self.update_max_percent,
            update_max_records: self.update_max_records,
            delete_max_percent: self.delete_max_percent,
            delete_max_records: self.delete_max_records,
            shrink_max_percent: self.shrink_max_percent,
            apex_guard: self.apex_guard,
            floors: self.floors.clone(),
            dependency_share_max_percent: self.dependency_share_max_percent,
            dependency_floored_single_target: self.dependency_floored_single_target,
            review: self.review,
            review_command: self.review_command.clone(),
            review_timeout_s: self.review_timeout_s,
        };
        let over = self
            .zones
            .iter()
            .find(|(key, _)| absolute(key).is_ok_and(|k| &k == zone));
        if let Some((_, o)) = over {
            p.update_max_percent = o.update_max_percent.unwrap_or(p.update_max_percent);
            p.update_max_records = o.update_max_records.or(p.update_max_records);
            p.delete_max_percent = o.delete_max_percent.unwrap_or(p.delete_max_percent);
            p.delete_max_records = o.delete_max_records.or(p.delete_max_records);
            p.shrink_max_percent = o.shrink_max_percent.unwrap_or(p.shrink_max_percent);
            p.apex_guard = o.apex_guard.unwrap_or(p.apex_guard);
            p.floors.extend(o.floors.iter().cloned());
            p.dependency_share_max_percent = o
                .dependency_share_max_percent
                .or(p.dependency_share_max_percent);
            p.dependency_floored_single_target = o
                .dependency_floored_single_target
                .unwrap_or(p.dependency_floored_single_target);
            p.review = o.review.unwrap_or(p.review);
            if let Some(c) = &o.review_command {
                p.review_command = c.clone();
            }
            p.review_timeout_s = o.review_timeout_s.unwrap_or(p.review_timeout_s);
        }
        p
    }

    /// Checks that every setting can work: percentages in `[0, 100]`, zone keys that are
    /// names, no zone twice, a command wherever `review = "command"`.
    pub fn check(&self) -> Result<(), PolicyError> {
        fn percent(key: String, value: Option<f64>) -> Result<(), PolicyError> {
            match value {
                Some(v) if !(0.0..=100.0).contains(&v) => Err(PolicyError {
                    key,
                    problem: format!("{v} is not a percentage between 0 and 100"),
                }),
                _ => Ok(()),
            }
        }
        fn review(key: String, review: Review, command: &[String]) -> Result<(), PolicyError> {
            if review == Review::Command && command.first().is_none_or(|c| c.is_empty()) {
                return Err(PolicyError {
                    key,
                    problem: "review = \"command\" needs review_command = [\"program\", ...]"
                        .into(),
                });
            }
            Ok(())
        }
        percent("update_max_percent".into(), Some(self.update_max_percent))?;
        percent("delete_max_percent".into(), Some(self.delete_max_percent))?;
        percent("shrink_max_percent".into(), Some(self.shrink_max_percent))?;
        percent(
            "dependency_share_max_percent".into(),
            self.dependency_share_max_percent,
        )?;
        let mut seen: Vec<Name> = Vec::new();
        for (key, o) in &self.zones {
            let zone = absolute(key).map_err(|problem| PolicyError {
                key: format!("zones.{key:?}"),
                problem,
            })?;
            if seen.contains(&zone) {
                return Err(PolicyError {
                    key: format!("zones.{key:?}"),
                    problem: format!("zone {zone} is configured twice"),
                });
            }
            let k = |field: &str| format!("zones.{key:?}.{field}");
            percent(k("update_max_percent"), o.update_max_percent)?;
            percent(k("delete_max_percent"), o.delete_max_percent)?;
            percent(k("shrink_max_percent"), o.shrink_max_percent)?;
            percent(
                k("dependency_share_max_percent"),
                o.dependency_share_max_percent,
            )?;
            let resolved = self.for_zone(&zone);
            review(k("review"), resolved.review, &resolved.review_command)?;
            seen.push(zone);
        }
        review("review".into(), self.review, &self.review_command)?;
        Ok(())
    }
}
