//! What to ask each round: every RRset a floor covers, every `--expect`, and a rotating
//! sample of the published names.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::dns::name::Name;
use crate::dns::record::RType;
use crate::gate::policy::Floor;
use crate::zone::Zone;

/// One question: a name and a type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Check {
    pub name: Name,
    pub rtype: RType,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.name, self.rtype)
    }
}

impl FromStr for Check {
    type Err = String;
    /// `NAME/TYPE`, the name absolute or not (a trailing dot is added).
    fn from_str(text: &str) -> Result<Self, String> {
        let (name, rtype) = text
            .rsplit_once('/')
            .ok_or_else(|| format!("{text:?} is not NAME/TYPE (for example www.example.com/A)"))?;
        let absolute = if name.ends_with('.') {
            name.to_string()
        } else {
            format!("{name}.")
        };
        let name = Name::parse(&absolute).map_err(|e| format!("{name:?} is not a name: {e}"))?;
        let rtype = rtype
            .parse()
            .map_err(|()| format!("{rtype:?} is not a record type"))?;
        Ok(Check { name, rtype })
    }
}

/// The checks of one round over `zone`: the RRsets covered by `floors`, the `expects` inside
/// the zone, and the RRsets (but the SOA, which the serial check covers) of a window of
/// `sample` owner names that moves by `sample` every round, so that every name is checked
/// in turn. A zone of at most `sample` names is checked in full every round. Sorted, without
/// duplicates.
pub fn checks(
    zone: &Zone,
    floors: &[Floor],
    expects: &[Check],
    sample: usize,
    round: u64,
) -> Vec<Check> {
    let mut out = BTreeSet::new();
    let records = zone.records();
    for r in records {
        if floors
            .iter()
            .any(|f| f.rtype == r.rtype && f.name.matches(&r.owner))
        {
            out.insert(Check {
                name: r.owner.clone(),
                rtype: r.rtype,
            });
        }
    }
    out.extend(
        expects
            .iter()
            .filter(|c| c.name.is_at_or_below(zone.origin()))
            .cloned(),
    );
    let mut owners: Vec<&Name> = records.iter().map(|r| &r.owner).collect();
    owners.dedup();
    let window: BTreeSet<&Name> = if owners.len() <= sample {
        owners.into_iter().collect()
    } else {
        let start = (round as usize).wrapping_mul(sample) % owners.len();
        owners
            .iter()
            .cycle()
            .skip(start)
            .take(sample)
            .copied()
            .collect()
    };
    for r in records {
        if r.rtype != RType::SOA && window.contains(&r.owner) {
            out.insert(Check {
                name: r.owner.clone(),
                rtype: r.rtype,
            });
        }
    }
    out.into_iter().collect()
}
