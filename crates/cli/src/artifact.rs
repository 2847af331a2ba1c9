//! The plan artifact: the JSON document `plan --out` writes (and `plan --json` prints, and a
//! review command gets in `ZONEGATE_PLAN_FILE`), and [`SavedPlan`], what `publish --plan`
//! reads back from it.
//!
//! The file format is a contract: the same keys and values as before the types existed (keys
//! are written in sorted order), and an artifact written by any earlier version still loads.
//! Reading is therefore lenient on purpose: only the keys publishing needs are read, each
//! ignored when it has another type, and everything else in the file is left alone.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use zonegate_core::gate::policy::Threshold;
use zonegate_core::gate::{Generation, PlanOutcome, PublishOutcome, ReasonCode, Verdict};
use zonegate_core::{ContentHash, Name};

use crate::hints::approve_hint;
use crate::json::{diff_json, thresholds_json};
use crate::outcome::Outcome;

/// The plan artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PlanArtifact {
    Staged(StagedArtifact),
    NoChanges(NoChangesArtifact),
}

/// A staged plan: its generation, base, hash, diff and verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StagedArtifact {
    pub zone: String,
    pub outcome: Outcome,
    pub generation: u64,
    pub base: Option<u64>,
    pub hash: String,
    pub record_count: u64,
    /// The diff against the base, as `json::diff_json` writes it.
    pub diff: Value,
    /// The verdict after any review.
    pub verdict: Verdict,
    /// The thresholds crossed, as `json::thresholds_json` writes them.
    pub thresholds: Value,
    /// Set when the command also published the plan.
    pub published: Option<PublishedRef>,
    /// Why the plan may not be published yet: a threshold's reason code, or `review`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ReasonCode>,
    /// How to approve or reject the plan, when it waits for that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// What publishing a staged plan did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedRef {
    pub generation: u64,
    /// The publish count after the swap; absent when the plan was already published. Its
    /// key stays `version`, as artifacts have always written it.
    #[serde(rename = "version", default, skip_serializing_if = "Option::is_none")]
    pub publish_count: Option<u64>,
    /// The SOA serial the publication decided; absent when the plan was already published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u32>,
}

/// A plan that found the published content unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoChangesArtifact {
    pub zone: String,
    /// Always [`Outcome::NoChanges`].
    pub outcome: Outcome,
    /// The generation that is published with this content.
    pub published: u64,
    pub hash: String,
    pub record_count: u64,
    /// Always `pass`.
    pub verdict: Verdict,
}

impl PlanArtifact {
    /// The artifact of a plan outcome; `verdict` is the plan's verdict after any review,
    /// `published` what the command's publish step did, if it ran.
    pub fn new(
        origin: &Name,
        outcome: &PlanOutcome,
        verdict: Option<Verdict>,
        published: Option<&PublishOutcome>,
    ) -> PlanArtifact {
        match outcome {
            PlanOutcome::NoChanges {
                published: g,
                hash,
                record_count,
            } => PlanArtifact::NoChanges(NoChangesArtifact {
                zone: origin.to_string(),
                outcome: Outcome::NoChanges,
                published: g.0,
                hash: hash.to_string(),
                record_count: *record_count,
                verdict: Verdict::Pass,
            }),
            PlanOutcome::Staged { .. } => {
                PlanArtifact::Staged(StagedArtifact::new(origin, outcome, verdict, published))
            }
        }
    }

    /// The artifact as a JSON value (keys in sorted order, as every JSON output here).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("plan artifacts serialize")
    }

    /// Writes the artifact file `publish --plan` reads: pretty JSON, keys sorted (through a
    /// JSON value, as they always were), and a final newline.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(&self.to_value()).expect("JSON values serialize");
        std::fs::write(path, text + "\n")
    }
}

impl StagedArtifact {
    fn new(
        origin: &Name,
        outcome: &PlanOutcome,
        verdict: Option<Verdict>,
        published: Option<&PublishOutcome>,
    ) -> StagedArtifact {
        let PlanOutcome::Staged {
            generation,
            base,
            hash,
            record_count,
            diff,
            verdict: staged,
            thresholds,
        } = outcome
        else {
            unreachable!("StagedArtifact::new is called with a staged outcome")
        };
        let verdict = verdict.unwrap_or(*staged);
        let published = published.map(|p| match p {
            PublishOutcome::Published {
                generation,
                publish_count,
                serial,
                ..
            } => PublishedRef {
                generation: generation.0,
                publish_count: Some(*publish_count),
                serial: Some(*serial),
            },
            PublishOutcome::AlreadyPublished { generation } => PublishedRef {
                generation: generation.0,
                publish_count: None,
                serial: None,
            },
        });
        let outcome = match (published, verdict) {
            (Some(_), _) => Outcome::Published,
            (None, Verdict::Refused) => Outcome::Refused,
            (None, Verdict::Rejected) => Outcome::Rejected,
            (None, Verdict::Held) => Outcome::Held,
            (None, _) => Outcome::Staged,
        };
        let hint = || Some(approve_hint(origin, *generation, hash));
        let (reason, hint) = match verdict {
            Verdict::Refused => (thresholds.first().map(Threshold::reason), hint()),
            Verdict::Held => (Some(ReasonCode::Review), hint()),
            Verdict::Rejected => (Some(ReasonCode::Review), None),
            Verdict::Pass | Verdict::Approved => (None, None),
        };
        StagedArtifact {
            zone: origin.to_string(),
            outcome,
            generation: generation.0,
            base: base.map(|g| g.0),
            hash: hash.to_string(),
            record_count: *record_count,
            diff: diff_json(diff),
            verdict,
            thresholds: thresholds_json(thresholds),
            published,
            reason,
            hint,
        }
    }
}

/// What `publish --plan` needs from a saved plan artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedPlan {
    pub zone: String,
    /// `None` for a "no changes" plan.
    pub generation: Option<Generation>,
    pub hash: ContentHash,
    /// For a "no changes" plan, the generation that was published.
    pub published: Option<Generation>,
}

/// Why a file is not a saved plan. The texts say what to do; `{path}` is shown by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactError {
    NotJson(String),
    MissingKey { key: &'static str },
    MalformedHash { text: String },
    NoGeneration,
}

impl ArtifactError {
    /// The message, naming the file as `path`.
    pub fn message(&self, path: &Path) -> String {
        let path = path.display();
        match self {
            ArtifactError::NotJson(e) => format!("the saved plan {path} is not JSON: {e}"),
            ArtifactError::MissingKey { key } => {
                format!("the saved plan {path} has no {key:?}; write it with `zonegate plan --out`")
            }
            ArtifactError::MalformedHash { text } => {
                format!("the saved plan {path} has a malformed hash {text:?}")
            }
            ArtifactError::NoGeneration => format!("the saved plan {path} names no generation"),
        }
    }
}

/// The keys of an artifact that publishing reads; any of them may be missing or mistyped.
#[derive(Debug, Default, Deserialize)]
struct SavedKeys {
    #[serde(default, deserialize_with = "lenient")]
    zone: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    hash: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    generation: Option<u64>,
    #[serde(default, deserialize_with = "lenient")]
    outcome: Option<Outcome>,
    #[serde(default, deserialize_with = "lenient")]
    published: Option<PublishedKey>,
}

/// `published` is a generation in a "no changes" artifact and an object in a staged one.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PublishedKey {
    Generation(u64),
    Object { generation: u64 },
}

/// A key of another type than expected reads as absent, as it always has.
fn lenient<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    let value = Option::<Value>::deserialize(d)?;
    Ok(value.and_then(|v| T::deserialize(v).ok()))
}

impl SavedPlan {
    /// Reads a saved plan from the text of an artifact file.
    pub fn parse(text: &str) -> Result<SavedPlan, ArtifactError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ArtifactError::NotJson(e.to_string()))?;
        let keys = if value.is_object() {
            SavedKeys::deserialize(value).unwrap_or_default()
        } else {
            SavedKeys::default()
        };
        let zone = keys.zone.ok_or(ArtifactError::MissingKey { key: "zone" })?;
        let hash_text = keys.hash.ok_or(ArtifactError::MissingKey { key: "hash" })?;
        let hash = ContentHash::parse(&hash_text)
            .ok_or(ArtifactError::MalformedHash { text: hash_text })?;
        let generation = keys.generation.map(Generation);
        let published = keys.published.map(|p| match p {
            PublishedKey::Generation(g) | PublishedKey::Object { generation: g } => Generation(g),
        });
        if generation.is_none() && keys.outcome != Some(Outcome::NoChanges) {
            return Err(ArtifactError::NoGeneration);
        }
        Ok(SavedPlan {
            zone,
            generation,
            hash,
            published,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    /// An artifact as `plan --out` wrote it before the types existed.
    fn staged_text() -> String {
        format!(
            r#"{{
  "base": null,
  "diff": {{"changes": [], "records_added": 0, "records_after": 2, "records_before": 0,
            "records_removed": 0, "records_unchanged": 0}},
  "generation": 1,
  "hash": "{HASH}",
  "outcome": "staged",
  "published": null,
  "record_count": 2,
  "thresholds": [],
  "verdict": "pass",
  "zone": "example.com."
}}"#
        )
    }

    #[test]
    fn an_old_staged_artifact_loads_and_round_trips() {
        let text = staged_text();
        let typed: PlanArtifact = serde_json::from_str(&text).unwrap();
        assert!(matches!(typed, PlanArtifact::Staged(_)));
        let old: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(typed.to_value(), old);
        let saved = SavedPlan::parse(&text).unwrap();
        assert_eq!(saved.zone, "example.com.");
        assert_eq!(saved.generation, Some(Generation(1)));
        assert_eq!(saved.published, None);
    }

    #[test]
    fn a_no_changes_artifact_names_what_was_published() {
        let text = format!(
            r#"{{"hash": "{HASH}", "outcome": "no-changes", "published": 4, "record_count": 2, "verdict": "pass", "zone": "example.com."}}"#
        );
        let typed: PlanArtifact = serde_json::from_str(&text).unwrap();
        assert!(matches!(typed, PlanArtifact::NoChanges(_)));
        let saved = SavedPlan::parse(&text).unwrap();
        assert_eq!(saved.generation, None);
        assert_eq!(saved.published, Some(Generation(4)));
    }

    #[test]
    fn a_no_changes_plan_writes_the_keys_it_always_wrote() {
        let outcome = PlanOutcome::NoChanges {
            published: Generation(4),
            hash: ContentHash::parse(HASH).unwrap(),
            record_count: 2,
        };
        let origin = Name::parse("example.com.").unwrap();
        let written = PlanArtifact::new(&origin, &outcome, None, None).to_value();
        let expected = serde_json::json!({
            "zone": "example.com.", "outcome": "no-changes", "published": 4,
            "hash": HASH, "record_count": 2, "verdict": "pass",
        });
        assert_eq!(written, expected);
        assert_eq!(
            serde_json::to_string_pretty(&written).unwrap(),
            serde_json::to_string_pretty(&expected).unwrap()
        );
    }

    #[test]
    fn incomplete_artifacts_say_what_is_missing() {
        assert!(matches!(
            SavedPlan::parse("nope"),
            Err(ArtifactError::NotJson(_))
        ));
        assert_eq!(
            SavedPlan::parse("[1]"),
            Err(ArtifactError::MissingKey { key: "zone" })
        );
        assert_eq!(
            SavedPlan::parse(r#"{"zone": "a.", "hash": 5}"#),
            Err(ArtifactError::MissingKey { key: "hash" })
        );
        assert_eq!(
            SavedPlan::parse(r#"{"zone": "a.", "hash": "md5:x"}"#),
            Err(ArtifactError::MalformedHash {
                text: "md5:x".into()
            })
        );
        let text = format!(r#"{{"zone": "a.", "hash": "{HASH}", "outcome": "staged"}}"#);
        assert_eq!(SavedPlan::parse(&text), Err(ArtifactError::NoGeneration));
    }
}
