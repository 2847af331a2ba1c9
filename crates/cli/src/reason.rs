//! The `reason` field of `--json` output. A reason the gate or the audit log also records is
//! the core's [`ReasonCode`] (one enum for every entrance); the CLI adds only the outcomes no
//! store step has: bad input, an internal error, and drift found by `--expect-no-changes`.
//! Scripts branch on this text, so it never changes.

use std::fmt;

use serde::{Serialize, Serializer};
use zonegate_core::gate::ReasonCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A code the gate and the audit log share: `missing`, `nothing-staged`, `stale`,
    /// `hash-mismatch`, `verdict`, `review`, a refusal's code.
    Gate(ReasonCode),
    /// Bad input: unreadable file, parse error, bad origin (exit 2).
    Input,
    /// Anything else that is not a gate outcome (exit 1).
    Internal,
    /// `plan --expect-no-changes` found changes.
    Changes,
}

impl From<ReasonCode> for Reason {
    fn from(code: ReasonCode) -> Reason {
        Reason::Gate(code)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Gate(code) => code.fmt(f),
            Reason::Input => f.write_str("input"),
            Reason::Internal => f.write_str("internal"),
            Reason::Changes => f.write_str("changes"),
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The serde form and the Display form are the same text, and the texts scripts branch
    /// on are the ones documented in the README.
    #[test]
    fn serde_and_display_agree() {
        let cases = [
            (Reason::Input, "input"),
            (Reason::Internal, "internal"),
            (Reason::Changes, "changes"),
            (ReasonCode::Missing.into(), "missing"),
            (ReasonCode::NothingStaged.into(), "nothing-staged"),
            (ReasonCode::Stale.into(), "stale"),
            (ReasonCode::HashMismatch.into(), "hash-mismatch"),
            (ReasonCode::Verdict.into(), "verdict"),
            (ReasonCode::Review.into(), "review"),
        ];
        for (r, text) in cases {
            assert_eq!(r.to_string(), text);
            assert_eq!(serde_json::to_value(&r).unwrap(), text);
        }
    }
}
