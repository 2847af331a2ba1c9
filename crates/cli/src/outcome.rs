//! What a command's `--json` object says happened: its `outcome` field. Scripts branch on this
//! text (with the exit code), so it never changes.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The content is already published; nothing was staged.
    NoChanges,
    /// `plan --expect-no-changes`: the file differs from what is published.
    Changes,
    /// Staged with a publishable verdict.
    Staged,
    /// Staged and waiting for review.
    Held,
    /// Refused by the gate (or, for a staged plan, by the policy).
    Refused,
    /// Staged and rejected in review.
    Rejected,
    /// Published with one compare-and-swap.
    Published,
    /// The generation was published already; nothing to do.
    AlreadyPublished,
    /// What the command read has moved on: plan again.
    Stale,
    /// Old plans were cleaned up.
    Cleaned,
    /// `retire`: the zone left the catalog zone.
    Retired,
    /// `retire`: the zone was retired at its published generation already; nothing to do.
    AlreadyRetired,
    /// `check`: the zone file parses and is valid under the limits.
    Valid,
    /// Not a gate outcome: bad input or an internal failure.
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::NoChanges => "no-changes",
            Outcome::Changes => "changes",
            Outcome::Staged => "staged",
            Outcome::Held => "held",
            Outcome::Refused => "refused",
            Outcome::Rejected => "rejected",
            Outcome::Published => "published",
            Outcome::AlreadyPublished => "already-published",
            Outcome::Stale => "stale",
            Outcome::Cleaned => "cleaned",
            Outcome::Retired => "retired",
            Outcome::AlreadyRetired => "already-retired",
            Outcome::Valid => "valid",
            Outcome::Error => "error",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    /// The serde form and the Display form are the same text.
    #[test]
    fn serde_and_display_agree() {
        for o in [
            Outcome::NoChanges,
            Outcome::Changes,
            Outcome::Staged,
            Outcome::Held,
            Outcome::Refused,
            Outcome::Rejected,
            Outcome::Published,
            Outcome::AlreadyPublished,
            Outcome::Stale,
            Outcome::Cleaned,
            Outcome::Retired,
            Outcome::AlreadyRetired,
            Outcome::Valid,
            Outcome::Error,
        ] {
            assert_eq!(serde_json::to_value(o).unwrap(), o.to_string());
        }
    }
}
