//! Outside-in checks: what each server really answers for a zone, judged against what was
//! published. Pure: the binary reads the store and the server crate asks the questions
//! (`zonegate_server::probe`); this module only chooses what to ask ([`checks`]), judges the
//! answers ([`judge`]) and tells what changed between two rounds ([`StateChanges`]).
//!
//! # Design
//!
//! - A server's SOA serial says which generation it claims to serve. Under the default
//!   `increment` serial policy the served serial *is* the generation (modulo 2^32), so the
//!   claim is exact and the same on every zonegate server and every secondary fed by
//!   transfer. A server one publication behind is *lagging*, not *wrong*: its content is
//!   judged against the generation it claims, when the store still keeps it.
//! - The expected answer to every question is the core's own lookup ([`ZoneIndex::lookup`])
//!   over that generation: the same RRset with the same TTLs, AA set, the same response
//!   code. The SOA itself is checked by its serial only (its data is rewritten at install).
//! - *Blackholed* is the most serious finding: the published generation has records for the
//!   question, and the server answers NXDOMAIN, NODATA or nothing at all.

mod check;
mod judge;
mod state;
#[cfg(test)]
mod tests;

pub use check::{Check, checks};
pub use judge::{Claim, ClaimedContent, Judgement, ZoneView, disagreement, judge, soa_serial};
pub use state::{FindingKey, StateChanges};

use std::fmt;

use serde::Serialize;

use crate::dns::name::Name;
use crate::dns::record::{RType, Record};

/// What a server said to one question, as far as the checks care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// A response came back.
    Answer(ObservedAnswer),
    /// No response within the timeout, after every retry.
    Timeout,
}

/// A response: its RCODE, its AA bit and its answer section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedAnswer {
    /// The numeric RCODE (RFC 1035 §4.1.1).
    pub rcode: u16,
    pub authoritative: bool,
    pub answer: Vec<Record>,
}

/// What one server answered in one round for one zone: the SOA question first, then each
/// check. `answers` is empty when the SOA question failed (nothing else was asked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerObservation {
    pub soa: Observed,
    pub answers: Vec<(Check, Observed)>,
}

/// The kind of a finding, worst last. Its text is part of `watch --json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingKind {
    /// The server serves an older generation than the published one.
    Lag,
    /// The server answers differently from the generation it claims.
    Mismatch,
    /// The server does not answer at all.
    Unreachable,
    /// A name with records in the published generation answers NXDOMAIN, NODATA or nothing.
    Blackholed,
}

impl FindingKind {
    pub const ALL: [FindingKind; 4] = [
        FindingKind::Lag,
        FindingKind::Mismatch,
        FindingKind::Unreachable,
        FindingKind::Blackholed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Lag => "lag",
            FindingKind::Mismatch => "mismatch",
            FindingKind::Unreachable => "unreachable",
            FindingKind::Blackholed => "blackholed",
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One check that did not hold, on one server, for one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The server as the user named it (`ADDR:PORT`).
    pub server: String,
    pub zone: Name,
    pub name: Name,
    pub rtype: RType,
    pub kind: FindingKind,
    /// What the published (or claimed) generation says, in words.
    pub expected: String,
    /// What the server said, in words.
    pub got: String,
}

impl Finding {
    /// The identity of the finding across rounds (what it is about, not the details).
    pub fn key(&self) -> FindingKey {
        FindingKey {
            server: self.server.clone(),
            zone: self.zone.clone(),
            name: self.name.clone(),
            rtype: self.rtype,
            kind: self.kind,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}/{}: expected {}, got {}",
            self.kind, self.server, self.zone, self.name, self.rtype, self.expected, self.got
        )
    }
}
