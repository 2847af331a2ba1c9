//! What a change adds to or removes from a zone's dependency map, for `plan` and `diff`:
//! "adds a dependency on example-cloud.com (elb.example-cloud.com) for 40 names".

use std::collections::BTreeSet;
use std::fmt;

use super::DepMap;
use crate::dns::name::Name;

/// How one group's dependents change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepChange {
    pub domain: Name,
    /// Outside names under the domain that the new content points to and the old did not.
    pub targets_added: BTreeSet<Name>,
    /// Names that newly depend on the domain.
    pub names_added: BTreeSet<Name>,
    /// Names that no longer depend on it.
    pub names_removed: BTreeSet<Name>,
    /// Whether the old content depended on the domain at all.
    pub new_domain: bool,
}

/// The groups whose dependents change from `old` to `new`, by domain.
pub fn changes(old: &DepMap, new: &DepMap) -> Vec<DepChange> {
    let domains: BTreeSet<&Name> = old
        .groups
        .iter()
        .chain(new.groups.iter())
        .map(|g| &g.domain)
        .collect();
    let empty = BTreeSet::new();
    let mut out = Vec::new();
    for d in domains {
        let before = old.groups.iter().find(|g| &g.domain == d);
        let after = new.groups.iter().find(|g| &g.domain == d);
        let (old_names, old_targets) = before.map_or((&empty, &empty), |g| (&g.names, &g.targets));
        let (new_names, new_targets) = after.map_or((&empty, &empty), |g| (&g.names, &g.targets));
        let change = DepChange {
            domain: d.clone(),
            targets_added: new_targets.difference(old_targets).cloned().collect(),
            names_added: new_names.difference(old_names).cloned().collect(),
            names_removed: old_names.difference(new_names).cloned().collect(),
            new_domain: before.is_none(),
        };
        if !change.names_added.is_empty() || !change.names_removed.is_empty() {
            out.push(change);
        }
    }
    out
}

impl fmt::Display for DepChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let targets: Vec<String> = self.targets_added.iter().map(Name::to_string).collect();
        let via = if targets.is_empty() {
            String::new()
        } else {
            format!(" ({})", targets.join(", "))
        };
        let mut parts = Vec::new();
        if !self.names_added.is_empty() {
            let what = if self.new_domain {
                "adds a dependency"
            } else {
                "adds dependents"
            };
            parts.push(format!(
                "{what} on {}{via} for {} name(s)",
                self.domain,
                self.names_added.len()
            ));
        }
        if !self.names_removed.is_empty() {
            parts.push(format!(
                "removes the dependency on {} of {} name(s)",
                self.domain,
                self.names_removed.len()
            ));
        }
        f.write_str(&parts.join("; "))
    }
}
