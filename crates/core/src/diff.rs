//! Differences between two zone contents, RRset by RRset.

use std::collections::BTreeMap;

use crate::name::Name;
use crate::record::{RType, Record};
use crate::zone::Zone;

/// One RRset-level change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A whole RRset appeared.
    Added {
        owner: Name,
        rtype: RType,
        records: Vec<Record>,
    },
    /// A whole RRset disappeared.
    Removed {
        owner: Name,
        rtype: RType,
        records: Vec<Record>,
    },
    /// An RRset's records changed; `removed` and `added` are the records that left and came.
    Changed {
        owner: Name,
        rtype: RType,
        removed: Vec<Record>,
        added: Vec<Record>,
    },
}

/// The difference between an old and a new zone content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub changes: Vec<Change>,
    /// Records only in the new content (a TTL change counts as one removed and one added).
    pub records_added: usize,
    /// Records only in the old content.
    pub records_removed: usize,
    /// Records present in both.
    pub records_unchanged: usize,
    /// Records in the old content (0 when there was none).
    pub records_before: usize,
    pub records_after: usize,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Diff against nothing: every RRset is added.
    pub fn from_nothing(new: &Zone) -> Diff {
        diff_records(&[], new.records())
    }

    pub fn between(old: &Zone, new: &Zone) -> Diff {
        diff_records(old.records(), new.records())
    }
}

type RRsets<'a> = BTreeMap<(&'a Name, RType), Vec<&'a Record>>;

fn group(records: &[Record]) -> RRsets<'_> {
    let mut map: RRsets<'_> = BTreeMap::new();
    for r in records {
        map.entry((&r.owner, r.rtype)).or_default().push(r);
    }
    map
}

/// Both inputs are in canonical order with no duplicates (as `Zone` guarantees).
pub fn diff_records(old: &[Record], new: &[Record]) -> Diff {
    let a = group(old);
    let b = group(new);
    let mut diff = Diff {
        records_before: old.len(),
        records_after: new.len(),
        ..Diff::default()
    };
    let mut keys: Vec<(&Name, RType)> = a.keys().chain(b.keys()).copied().collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let (owner, rtype) = (key.0.clone(), key.1);
        match (a.get(&key), b.get(&key)) {
            (Some(x), None) => {
                diff.records_removed += x.len();
                let records = x.iter().map(|r| (*r).clone()).collect();
                diff.changes.push(Change::Removed {
                    owner,
                    rtype,
                    records,
                });
            }
            (None, Some(y)) => {
                diff.records_added += y.len();
                let records = y.iter().map(|r| (*r).clone()).collect();
                diff.changes.push(Change::Added {
                    owner,
                    rtype,
                    records,
                });
            }
            (Some(x), Some(y)) => {
                let removed: Vec<Record> = x
                    .iter()
                    .filter(|r| !y.contains(r))
                    .map(|r| (*r).clone())
                    .collect();
                let added: Vec<Record> = y
                    .iter()
                    .filter(|r| !x.contains(r))
                    .map(|r| (*r).clone())
                    .collect();
                diff.records_unchanged += x.len() - removed.len();
                if !removed.is_empty() || !added.is_empty() {
                    diff.records_removed += removed.len();
                    diff.records_added += added.len();
                    diff.changes.push(Change::Changed {
                        owner,
                        rtype,
                        removed,
                        added,
                    });
                }
            }
            (None, None) => unreachable!("key came from one of the maps"),
        }
    }
    diff
}
