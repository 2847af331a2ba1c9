//! Errors that are not gate outcomes, and how a protocol step's error becomes an exit code.

use zonegate_core::Name;
use zonegate_core::gate::{LimitKind, ReasonCode, StepError};

use crate::exit;
use crate::output::{self, Emit};
use crate::reason::Reason;

/// Errors that are not gate outcomes.
pub enum Failure {
    /// Bad input: unreadable file, parse error, bad origin. Exit 2.
    Input(anyhow::Error),
    /// Anything else: store unavailable, bind failure. Exit 1.
    Internal(anyhow::Error),
    /// Input over a limit, found before the gate saw it (a file larger than
    /// `body_bytes_max`, more records than `records_max`): refused, exit 3, reason `limit:…`.
    Limit { kind: LimitKind, message: String },
}

impl Failure {
    /// Bad input, said in words.
    pub fn input(e: impl std::fmt::Display) -> Failure {
        Failure::Input(anyhow::anyhow!("{e}"))
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Internal(e)
    }
}

/// Maps a protocol error to its exit code, printing the refusal with what to do next.
pub fn step_failure(emit: &Emit, origin: &Name, e: StepError) -> Result<u8, Failure> {
    match e {
        StepError::Refused(refusal) => {
            output::refusal(emit, origin, &refusal);
            Ok(if refusal.is_stale() {
                exit::STALE
            } else {
                exit::REFUSED
            })
        }
        StepError::PlanMissing { .. } => {
            output::failure(
                emit,
                origin,
                Reason::Gate(ReasonCode::Missing),
                &e.to_string(),
            );
            Ok(exit::STALE)
        }
        StepError::NothingStaged { .. } => {
            output::failure(
                emit,
                origin,
                Reason::Gate(ReasonCode::NothingStaged),
                &e.to_string(),
            );
            Ok(exit::INTERNAL)
        }
        other => Err(Failure::Internal(anyhow::anyhow!(other))),
    }
}
