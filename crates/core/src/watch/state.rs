//! What changed between two rounds, so that continuous mode says each change of state once
//! instead of repeating every finding every round.

use std::collections::BTreeSet;

use super::{Finding, FindingKind};
use crate::dns::name::Name;
use crate::dns::record::RType;

/// What a finding is about: the same key in two rounds is the same problem still there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FindingKey {
    pub server: String,
    pub zone: Name,
    pub name: Name,
    pub rtype: RType,
    pub kind: FindingKind,
}

/// The findings of the last round, remembered to compare the next one with.
#[derive(Debug, Clone, Default)]
pub struct StateChanges {
    open: BTreeSet<FindingKey>,
}

impl StateChanges {
    /// Takes a round's findings: returns the ones that are new since the last round and the
    /// keys of the ones that are gone (resolved), and remembers this round.
    pub fn update<'f>(&mut self, findings: &'f [Finding]) -> (Vec<&'f Finding>, Vec<FindingKey>) {
        let now: BTreeSet<FindingKey> = findings.iter().map(Finding::key).collect();
        let mut seen = BTreeSet::new();
        let appeared = findings
            .iter()
            .filter(|f| !self.open.contains(&f.key()) && seen.insert(f.key()))
            .collect();
        let cleared = self.open.difference(&now).cloned().collect();
        self.open = now;
        (appeared, cleared)
    }
}
