//! Per-key update grants, in the manner of BIND's `update-policy` and Knot's `update-owner`:
//! which names and types a TSIG key may change in a zone.
//!
//! A key with no grant in a zone may change anything the zone lets it update; a key with at
//! least one may change only what one of its grants covers, every change of the message
//! checked before anything is applied.

use std::fmt;
use std::str::FromStr;

use crate::dns::name::Name;
use crate::dns::record::RType;
use crate::update::message::Change;
use crate::update::refusal::UpdateRefusal;

/// A name pattern: an absolute name whose `*` labels each stand for one or more labels.
/// `_acme-challenge.*.example.com.` covers `_acme-challenge.www.example.com.`;
/// `*.example.com.` every name below `example.com.` (not the apex itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatePattern {
    /// Labels from the root up, lower case; `None` is a `*`.
    labels: Vec<Option<Vec<u8>>>,
    text: String,
}

/// A pattern that is not a name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{text:?} is not a name pattern (write an absolute name such as \"_acme-challenge.*.example.com.\", where * stands for one or more labels)"
)]
pub struct GrantPatternError {
    pub text: String,
}

impl FromStr for UpdatePattern {
    type Err = GrantPatternError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || GrantPatternError {
            text: text.to_string(),
        };
        let t = text.trim();
        if !t.ends_with('.') {
            return Err(err());
        }
        // Each label is checked by parsing it as a name, `*` standing in for a wildcard label.
        let name = Name::parse(t).map_err(|_| err())?;
        let labels = name
            .labels()
            .rev()
            .filter(|l| !l.is_empty())
            .map(|l| (l != b"*").then(|| l.to_ascii_lowercase()))
            .collect();
        Ok(UpdatePattern {
            labels,
            text: t.to_string(),
        })
    }
}

impl fmt::Display for UpdatePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl UpdatePattern {
    /// True if `name` matches the pattern.
    pub fn matches(&self, name: &Name) -> bool {
        let labels: Vec<&[u8]> = name.labels().rev().filter(|l| !l.is_empty()).collect();
        glob(&self.labels, &labels)
    }
}

/// Label glob, both lists from the root up: `None` matches one or more labels.
fn glob(pattern: &[Option<Vec<u8>>], name: &[&[u8]]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((Some(label), rest)) => name
            .split_first()
            .is_some_and(|(l, more)| l.eq_ignore_ascii_case(label) && glob(rest, more)),
        Some((None, rest)) => (1..=name.len()).any(|n| glob(rest, &name[n..])),
    }
}

/// One grant: `key` may change names matching `name`, of the types `types` (every type when
/// empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateGrant {
    pub key: Name,
    pub name: UpdatePattern,
    pub types: Vec<RType>,
}

impl UpdateGrant {
    fn covers(&self, change: &Change) -> bool {
        let rtype = change.rtype();
        // Deleting every RRset at a name needs a grant of every type.
        let type_ok = self.types.is_empty() || (rtype != RType::ANY && self.types.contains(&rtype));
        type_ok && self.name.matches(change.name())
    }
}

/// Checks every change against the grants of `key` among `grants`: a key without grants is
/// unrestricted; otherwise the first change no grant of the key covers is refused
/// ([`UpdateRefusal::NotGranted`], REFUSED).
pub fn check_grants(
    grants: &[UpdateGrant],
    key: &Name,
    changes: &[Change],
) -> Result<(), UpdateRefusal> {
    let mine: Vec<&UpdateGrant> = grants.iter().filter(|g| g.key == *key).collect();
    if mine.is_empty() {
        return Ok(());
    }
    match changes.iter().find(|c| !mine.iter().any(|g| g.covers(c))) {
        None => Ok(()),
        Some(c) => Err(UpdateRefusal::NotGranted {
            key: key.clone(),
            name: c.name().clone(),
            rtype: c.rtype(),
        }),
    }
}
