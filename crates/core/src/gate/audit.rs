//! The audit log's row (I8): every decision the gate takes is written with the step that
//! took it, in the same store operation. Its vocabulary: what happened ([`AuditAction`]), why
//! a step refused ([`ReasonCode`]) and who did it ([`Actor`]), each a type with one text form.
//!
//! # Design
//!
//! The text of each value is an interface: the store keeps it in the `audit` table, `zonegate
//! history` and `--json` print it and scripts match on it, so it is written in exactly one
//! place, the type's `as_str`/`Display`, and read back with `FromStr`. Reading back never
//! fails: a stored value this build does not know (written by a newer zonegate, or by hand
//! with the sqlite3 shell) comes back as an `Unrecognized` value holding the stored text, so
//! one odd row can make no log unreadable and no step wedge on it (I5).

use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::dns::name::Name;
use crate::gate::types::Generation;

/// One audit-log entry. The log is append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub zone: Name,
    pub generation: Option<Generation>,
    pub action: AuditAction,
    /// The reason code of a refusal; `None` (stored as `''`) for everything else.
    #[serde(with = "optional_reason")]
    pub reason: Option<ReasonCode>,
    /// Human-readable detail with the numbers.
    pub detail: String,
    /// Who did it: `plan`, `publish`, `cleanup`, a person named with `--by`, ...
    pub actor: Actor,
    /// Unix seconds.
    pub at: u64,
}

/// Serde through the text form: `Serialize` writes `Display`, `Deserialize` reads `FromStr`.
macro_rules! serde_as_text {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// An audit row of a step, for the step's own store operation.
pub(super) fn entry(
    zone: &Name,
    generation: Option<Generation>,
    action: AuditAction,
    reason: Option<ReasonCode>,
    detail: String,
    actor: &Actor,
    now: u64,
) -> AuditEntry {
    AuditEntry {
        zone: zone.clone(),
        generation,
        action,
        reason,
        detail,
        actor: actor.clone(),
        at: now,
    }
}

/// What an audit row records.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// A plan was staged with the verdict `pass`.
    Staged,
    /// A plan was staged with the verdict `held`: it waits for review.
    Held,
    /// The gate refused: invalid content, a crossed threshold, no approval, a hash mismatch.
    Refused,
    /// A publish lost to a newer one, or its plan was too old.
    Stale,
    /// The compare-and-swap moved the published pointer.
    Published,
    /// A staged plan was approved.
    Approved,
    /// A staged plan was rejected.
    Rejected,
    /// A review command ended without a decision; the plan stays held.
    Review,
    /// Clean-up deleted plans below the horizon.
    Cleanup,
    /// `zonegate retire` took a published zone out of the catalog zone (RFC 9432); its
    /// generation is the one published then. Publishing a newer generation brings it back.
    Retired,
    /// A stored action this build does not know, as it was stored.
    Unrecognized(String),
}

impl AuditAction {
    /// Every action this build writes.
    pub const KNOWN: [AuditAction; 10] = [
        AuditAction::Staged,
        AuditAction::Held,
        AuditAction::Refused,
        AuditAction::Stale,
        AuditAction::Published,
        AuditAction::Approved,
        AuditAction::Rejected,
        AuditAction::Review,
        AuditAction::Cleanup,
        AuditAction::Retired,
    ];

    /// The stored and printed text.
    pub fn as_str(&self) -> &str {
        match self {
            AuditAction::Staged => "staged",
            AuditAction::Held => "held",
            AuditAction::Refused => "refused",
            AuditAction::Stale => "stale",
            AuditAction::Published => "published",
            AuditAction::Approved => "approved",
            AuditAction::Rejected => "rejected",
            AuditAction::Review => "review",
            AuditAction::Cleanup => "cleanup",
            AuditAction::Retired => "retired",
            AuditAction::Unrecognized(text) => text,
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so `{:<10}` lines columns up in `zonegate history`.
        f.pad(self.as_str())
    }
}

impl FromStr for AuditAction {
    type Err = Infallible;
    fn from_str(text: &str) -> Result<Self, Infallible> {
        Ok(Self::KNOWN
            .into_iter()
            .find(|a| a.as_str() == text)
            .unwrap_or_else(|| AuditAction::Unrecognized(text.to_string())))
    }
}

serde_as_text!(AuditAction);

/// Which configured limit a zone is over, as in the reason code `limit:<which>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// `Limits::records_max`.
    RecordsMax,
    /// `Limits::body_bytes_max`.
    BodyBytesMax,
}

impl LimitKind {
    pub const ALL: [LimitKind; 2] = [LimitKind::RecordsMax, LimitKind::BodyBytesMax];

    /// The key's name in the config, as the reason code names it.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::RecordsMax => "records_max",
            LimitKind::BodyBytesMax => "body_bytes_max",
        }
    }
}

/// Which policy check a change crosses, as in the reason code `threshold:<kind>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThresholdKind {
    Update,
    Delete,
    Shrink,
    Floor,
    /// The apex NS set, or the SOA beyond its serial.
    Apex,
    /// The largest share of the zone's outside dependencies rose above its limit.
    DependencyShare,
    /// A floored name was left depending on a single outside target.
    SingleTarget,
}

impl ThresholdKind {
    pub const ALL: [ThresholdKind; 7] = [
        ThresholdKind::Update,
        ThresholdKind::Delete,
        ThresholdKind::Shrink,
        ThresholdKind::Floor,
        ThresholdKind::Apex,
        ThresholdKind::DependencyShare,
        ThresholdKind::SingleTarget,
    ];

    /// The check's name, as the reason code names it.
    pub fn as_str(self) -> &'static str {
        match self {
            ThresholdKind::Update => "update",
            ThresholdKind::Delete => "delete",
            ThresholdKind::Shrink => "shrink",
            ThresholdKind::Floor => "floor",
            ThresholdKind::Apex => "apex",
            ThresholdKind::DependencyShare => "dependency-share",
            ThresholdKind::SingleTarget => "single-target",
        }
    }
}

/// A text that names no value of the type it was parsed as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a known {what}")]
pub struct UnknownText {
    pub what: &'static str,
    pub text: String,
}

/// `Display`, `FromStr` and serde for a closed enum with `ALL` and `as_str`.
macro_rules! closed_text {
    ($t:ty, $what:literal) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl FromStr for $t {
            type Err = UnknownText;
            fn from_str(text: &str) -> Result<Self, UnknownText> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == text)
                    .ok_or_else(|| UnknownText {
                        what: $what,
                        text: text.to_string(),
                    })
            }
        }

        serde_as_text!($t);
    };
}

closed_text!(LimitKind, "limit");
closed_text!(ThresholdKind, "threshold kind");

/// Why a step refused, in the form the audit log stores, `--json` prints and scripts match:
///
/// ```text
///   empty                  the zone has no records
///   invalid:<rule>         the first validity rule broken (`Violation::rule`)
///   invalid:corrupt-body   a stored body that does not decode, or not to its hash
///   limit:<which>          over limits.records_max or limits.body_bytes_max
///   threshold:<kind>       a change-policy check: update, delete, shrink, floor, apex
///   review                 not approved (held, rejected, refused when staged, review on)
///   hash-mismatch          a saved plan or an approval names other content
///   stale                  lost to a newer publish, or older than plan_age_max_s
///   missing                the plan is gone (approve, reject)
///   nothing-staged         nothing to publish
///   verdict                the verdict cannot move that way (approve, reject)
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReasonCode {
    Empty,
    /// `invalid:<rule>`, the rule as `Violation::rule` names it.
    Invalid(Cow<'static, str>),
    /// `invalid:corrupt-body`.
    CorruptBody,
    Limit(LimitKind),
    Threshold(ThresholdKind),
    /// `threshold`: a policy refusal naming no check. The gate never makes one (a policy
    /// refusal lists what it crosses); it keeps the mapping from refusals total.
    ThresholdUnnamed,
    Review,
    HashMismatch,
    Stale,
    Missing,
    NothingStaged,
    Verdict,
    /// `update-policy`: a DNS UPDATE changes a name or type its key's grants do not cover.
    UpdatePolicy,
    /// A stored reason this build does not know, as it was stored.
    Unrecognized(String),
}

const INVALID: &str = "invalid:";
const LIMIT: &str = "limit:";
const THRESHOLD: &str = "threshold";
const CORRUPT_BODY: &str = "corrupt-body";

impl ReasonCode {
    /// The codes whose text is one fixed word.
    const WORDS: [(ReasonCode, &'static str); 9] = [
        (ReasonCode::Empty, "empty"),
        (ReasonCode::ThresholdUnnamed, THRESHOLD),
        (ReasonCode::Review, "review"),
        (ReasonCode::HashMismatch, "hash-mismatch"),
        (ReasonCode::Stale, "stale"),
        (ReasonCode::Missing, "missing"),
        (ReasonCode::NothingStaged, "nothing-staged"),
        (ReasonCode::Verdict, "verdict"),
        (ReasonCode::UpdatePolicy, "update-policy"),
    ];

    /// The code of a refusal for invalid content whose first broken rule is `rule`.
    pub fn invalid(rule: &'static str) -> ReasonCode {
        ReasonCode::Invalid(Cow::Borrowed(rule))
    }

    fn word(&self) -> Option<&'static str> {
        Self::WORDS
            .iter()
            .find(|(code, _)| code == self)
            .map(|(_, word)| *word)
    }
}

impl ReasonCode {
    /// The stored and printed text.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            ReasonCode::Invalid(rule) => format!("{INVALID}{rule}").into(),
            ReasonCode::CorruptBody => format!("{INVALID}{CORRUPT_BODY}").into(),
            ReasonCode::Limit(which) => format!("{LIMIT}{}", which.as_str()).into(),
            ReasonCode::Threshold(kind) => format!("{THRESHOLD}:{}", kind.as_str()).into(),
            ReasonCode::Unrecognized(text) => text.as_str().into(),
            word => word.word().unwrap_or_default().into(),
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.text())
    }
}

impl FromStr for ReasonCode {
    type Err = Infallible;
    fn from_str(text: &str) -> Result<Self, Infallible> {
        if let Some((code, _)) = Self::WORDS.iter().find(|(_, word)| *word == text) {
            return Ok(code.clone());
        }
        let known = if let Some(rule) = text.strip_prefix(INVALID) {
            Some(if rule == CORRUPT_BODY {
                ReasonCode::CorruptBody
            } else {
                ReasonCode::Invalid(Cow::Owned(rule.to_string()))
            })
        } else if let Some(which) = text.strip_prefix(LIMIT) {
            LimitKind::ALL
                .into_iter()
                .find(|k| k.as_str() == which)
                .map(ReasonCode::Limit)
        } else {
            text.strip_prefix(THRESHOLD)
                .and_then(|rest| rest.strip_prefix(':'))
                .and_then(|kind| ThresholdKind::ALL.into_iter().find(|k| k.as_str() == kind))
                .map(ReasonCode::Threshold)
        };
        Ok(known.unwrap_or_else(|| ReasonCode::Unrecognized(text.to_string())))
    }
}

serde_as_text!(ReasonCode);

/// An audit row's reason: a [`ReasonCode`] for refusals, nothing otherwise, stored and
/// serialized as the empty string as it always was.
pub mod optional_reason {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::ReasonCode;

    /// The stored text: the code, or the empty string.
    pub fn to_text(reason: &Option<ReasonCode>) -> String {
        reason
            .as_ref()
            .map(ReasonCode::to_string)
            .unwrap_or_default()
    }

    /// Reads stored text back: the empty string is no reason.
    pub fn from_text(text: &str) -> Option<ReasonCode> {
        (!text.is_empty()).then(|| text.parse().unwrap_or_else(|never| match never {}))
    }

    pub fn serialize<S: Serializer>(reason: &Option<ReasonCode>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_text(reason))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ReasonCode>, D::Error> {
        Ok(from_text(&String::deserialize(d)?))
    }
}

/// Who did what an audit row records: the person or pipeline named on the command line
/// (`--by`, else `$USER`), a TSIG key's or a token's name, or one of zonegate's own steps
/// ([`Actor::PLAN`], [`Actor::CLEANUP`], ...).
///
/// A validated name rather than an enum of kinds: the row keeps only the text, nothing
/// branches on the kind, and a person may be called `plan`, so an enum read back from the
/// text could not tell the kinds apart anyway. What the type does promise is that every
/// actor this build writes names someone: [`Actor::new`] refuses an empty or blank name and
/// the placeholder `unknown`. Rows read back ([`Actor::recorded`]) are taken as stored, since
/// databases written before this rule may hold either.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Actor(Cow<'static, str>);

/// Why a name cannot be an [`Actor`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActorError {
    #[error("an actor needs a name; say who with --by")]
    Blank,
    #[error("{name:?} does not name anyone; say who with --by")]
    Placeholder { name: String },
    #[error("the actor {name:?} contains a control character")]
    Control { name: String },
}

impl Actor {
    /// `zonegate plan`.
    pub const PLAN: Actor = Actor(Cow::Borrowed("plan"));
    /// `zonegate publish`.
    pub const PUBLISH: Actor = Actor(Cow::Borrowed("publish"));
    /// `zonegate apply`.
    pub const APPLY: Actor = Actor(Cow::Borrowed("apply"));
    /// The configured review command.
    pub const REVIEW_COMMAND: Actor = Actor(Cow::Borrowed("review-command"));
    /// The clean-up step.
    pub const CLEANUP: Actor = Actor(Cow::Borrowed("cleanup"));

    const PLACEHOLDER: &'static str = "unknown";

    /// `zonegate rollback --to <generation>`.
    pub fn rollback_to(generation: Generation) -> Actor {
        Actor(Cow::Owned(format!("rollback to {generation}")))
    }

    /// A named person, pipeline, key or token. The name is kept as given (it is what the
    /// audit row shows), but it must say who.
    pub fn new(name: &str) -> Result<Actor, ActorError> {
        if name.trim().is_empty() {
            return Err(ActorError::Blank);
        }
        if name.trim() == Self::PLACEHOLDER {
            return Err(ActorError::Placeholder { name: name.into() });
        }
        if name.chars().any(char::is_control) {
            return Err(ActorError::Control { name: name.into() });
        }
        Ok(Actor(Cow::Owned(name.to_string())))
    }

    /// An actor as a stored row names it, unchecked: rows written before [`Actor::new`]
    /// checked names must stay readable.
    pub fn recorded(text: String) -> Actor {
        Actor(Cow::Owned(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl Serialize for Actor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Actor::recorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_back_as_written() {
        for action in AuditAction::KNOWN {
            assert_eq!(action.to_string().parse::<AuditAction>(), Ok(action));
        }
        let odd = "installed".parse::<AuditAction>().unwrap();
        assert_eq!(odd, AuditAction::Unrecognized("installed".into()));
        assert_eq!(odd.to_string(), "installed");
        assert_eq!(format!("{:<10}|", AuditAction::Staged), "staged    |");
    }

    #[test]
    fn reason_codes_keep_their_text() {
        let codes = [
            (ReasonCode::Empty, "empty"),
            (ReasonCode::invalid("no-soa"), "invalid:no-soa"),
            (ReasonCode::CorruptBody, "invalid:corrupt-body"),
            (
                ReasonCode::Limit(LimitKind::RecordsMax),
                "limit:records_max",
            ),
            (
                ReasonCode::Limit(LimitKind::BodyBytesMax),
                "limit:body_bytes_max",
            ),
            (
                ReasonCode::Threshold(ThresholdKind::Update),
                "threshold:update",
            ),
            (
                ReasonCode::Threshold(ThresholdKind::Delete),
                "threshold:delete",
            ),
            (
                ReasonCode::Threshold(ThresholdKind::Shrink),
                "threshold:shrink",
            ),
            (
                ReasonCode::Threshold(ThresholdKind::Floor),
                "threshold:floor",
            ),
            (ReasonCode::Threshold(ThresholdKind::Apex), "threshold:apex"),
            (ReasonCode::ThresholdUnnamed, "threshold"),
            (ReasonCode::Review, "review"),
            (ReasonCode::HashMismatch, "hash-mismatch"),
            (ReasonCode::Stale, "stale"),
            (ReasonCode::Missing, "missing"),
            (ReasonCode::NothingStaged, "nothing-staged"),
            (ReasonCode::Verdict, "verdict"),
            (ReasonCode::UpdatePolicy, "update-policy"),
        ];
        for (code, text) in codes {
            assert_eq!(code.to_string(), text);
            assert_eq!(text.parse::<ReasonCode>(), Ok(code));
        }
        for odd in ["limit:nope", "threshold:ttl", "later"] {
            let code = odd.parse::<ReasonCode>().unwrap();
            assert_eq!(code, ReasonCode::Unrecognized(odd.into()));
            assert_eq!(code.to_string(), odd);
        }
    }

    #[test]
    fn no_reason_is_the_empty_string() {
        assert_eq!(optional_reason::to_text(&None), "");
        assert_eq!(optional_reason::from_text(""), None);
        assert_eq!(optional_reason::from_text("stale"), Some(ReasonCode::Stale));
    }

    #[test]
    fn an_actor_names_someone() {
        assert_eq!(Actor::new("alice").unwrap().as_str(), "alice");
        assert_eq!(Actor::new("  "), Err(ActorError::Blank));
        assert!(matches!(
            Actor::new("unknown"),
            Err(ActorError::Placeholder { .. })
        ));
        assert!(matches!(
            Actor::new("a\nb"),
            Err(ActorError::Control { .. })
        ));
        assert_eq!(Actor::recorded("unknown".into()).as_str(), "unknown");
        assert_eq!(Actor::rollback_to(Generation(3)).as_str(), "rollback to g3");
    }
}
