//! The CLI's own reason codes: the `reason` field of `--json` output for outcomes that are not
//! a core refusal or threshold (those carry the core's codes), and the reason audited when an
//! approval or rejection does not go through. Scripts branch on this text, so it never changes.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Bad input: unreadable file, parse error, bad origin (exit 2).
    Input,
    /// Anything else that is not a gate outcome (exit 1).
    Internal,
    /// The plan is gone: never staged, or cleaned up.
    Missing,
    /// `publish ORIGIN` found no staged plan.
    NothingStaged,
    /// A saved "no changes" plan no longer matches what is published.
    Stale,
    /// An approval names other content than the stored plan.
    HashMismatch,
    /// The plan's verdict can no longer change (published, or rejected).
    Verdict,
    /// The plan waits for, or failed, review.
    Review,
    /// `plan --expect-no-changes` found changes.
    Changes,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Input => "input",
            Reason::Internal => "internal",
            Reason::Missing => "missing",
            Reason::NothingStaged => "nothing-staged",
            Reason::Stale => "stale",
            Reason::HashMismatch => "hash-mismatch",
            Reason::Verdict => "verdict",
            Reason::Review => "review",
            Reason::Changes => "changes",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Reason;

    /// The serde form and the Display form are the same text.
    #[test]
    fn serde_and_display_agree() {
        for r in [
            Reason::Input,
            Reason::Internal,
            Reason::Missing,
            Reason::NothingStaged,
            Reason::Stale,
            Reason::HashMismatch,
            Reason::Verdict,
            Reason::Review,
            Reason::Changes,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.to_string());
        }
    }
}
