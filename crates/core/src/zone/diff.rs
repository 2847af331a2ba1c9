//! Differences between two zone contents, RRset by RRset.

use std::cmp::Ordering;

use crate::dns::name::Name;
use crate::dns::record::{RType, Record};
use crate::zone::Zone;
use crate::zone::delta::ZoneDelta;
use crate::zone::records::Records;

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
        diff_records(&Records::default(), new.records())
    }

    pub fn between(old: &Zone, new: &Zone) -> Diff {
        diff_records(old.records(), new.records())
    }

    /// [`Diff::between`] for `new` made from `old` by `delta` ([`Zone::apply`]), reading only
    /// the RRsets the delta touches (found by binary search): the same diff, at the cost of the
    /// change rather than of the zone.
    pub fn of_change(old: &Zone, new: &Zone, delta: &ZoneDelta) -> Diff {
        let mut diff = Diff {
            records_before: old.len(),
            records_after: new.len(),
            ..Diff::default()
        };
        for key in touched_keys(delta) {
            let (x, y) = (rrset_at(old.records(), key), rrset_at(new.records(), key));
            match (x.is_empty(), y.is_empty()) {
                (true, true) => {}
                (false, true) => {
                    diff.records_removed += x.len();
                    diff.changes.push(Change::Removed {
                        owner: key.owner.clone(),
                        rtype: key.rtype,
                        records: x.to_vec(),
                    });
                }
                (true, false) => {
                    diff.records_added += y.len();
                    diff.changes.push(Change::Added {
                        owner: key.owner.clone(),
                        rtype: key.rtype,
                        records: y.to_vec(),
                    });
                }
                (false, false) => {
                    let (removed, added, _) = merge_rrset(x, y);
                    if !removed.is_empty() || !added.is_empty() {
                        diff.records_removed += removed.len();
                        diff.records_added += added.len();
                        diff.changes.push(Change::Changed {
                            owner: key.owner.clone(),
                            rtype: key.rtype,
                            removed,
                            added,
                        });
                    }
                }
            }
        }
        // Every old record is either still there or removed.
        diff.records_unchanged = old.len() - diff.records_removed;
        diff
    }
}

/// One record of each RRset (owner and type) `delta` touches, in canonical order, once each.
fn touched_keys(delta: &ZoneDelta) -> Vec<&Record> {
    let (mut a, mut b) = (
        delta.removed().iter().peekable(),
        delta.added().iter().peekable(),
    );
    let mut keys: Vec<&Record> = Vec::new();
    loop {
        let next = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (Some(x), Some(y)) if key_cmp(x, y).is_gt() => b.next(),
            (Some(_), Some(_)) => a.next(),
        }
        .expect("peeked");
        if keys.last().is_none_or(|last| key_cmp(last, next).is_ne()) {
            keys.push(next);
        }
    }
    keys
}

/// The RRset of `key`'s owner and type in `records` (canonical order); empty if none.
fn rrset_at<'r>(records: &'r Records, key: &Record) -> &'r [Record] {
    let start = records.partition_point(|r| key_cmp(r, key).is_lt());
    let end = records.partition_point(|r| key_cmp(r, key).is_le());
    records
        .run(start..end)
        .expect("an RRset's records are one chunk")
}

/// Splits records in canonical order into RRsets: the runs that share owner and type (each in
/// one chunk, as an owner's records are).
fn rrsets(records: &Records) -> impl Iterator<Item = &[Record]> {
    records
        .chunks()
        .flat_map(|c| c.chunk_by(|a, b| a.rtype == b.rtype && a.owner == b.owner))
}

/// Canonical order of two RRsets' keys (owner, then type). Owners are compared for equality
/// first: in a diff most RRsets are in both contents, and equal wire forms are one `memcmp`.
fn key_cmp(a: &Record, b: &Record) -> Ordering {
    if a.owner == b.owner {
        a.rtype.cmp(&b.rtype)
    } else {
        a.owner.cmp(&b.owner).then(a.rtype.cmp(&b.rtype))
    }
}

/// Both inputs are in canonical order with no duplicates (as `Zone` guarantees).
///
/// One pass over both lists at once: canonical order sorts by owner, then type, so each
/// content is a sorted sequence of RRsets, and the two sequences are merged like two sorted
/// lists. Inside an RRset the records are sorted by data, then TTL, which is again a total
/// order on records, so the records of an RRset that changed are merged the same way.
pub fn diff_records(old: &Records, new: &Records) -> Diff {
    let mut diff = Diff {
        records_before: old.len(),
        records_after: new.len(),
        ..Diff::default()
    };
    let (mut a, mut b) = (rrsets(old).peekable(), rrsets(new).peekable());
    loop {
        let order = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(x), Some(y)) => key_cmp(&x[0], &y[0]),
        };
        match order {
            Ordering::Less => {
                let x = a.next().expect("peeked");
                diff.records_removed += x.len();
                diff.changes.push(Change::Removed {
                    owner: x[0].owner.clone(),
                    rtype: x[0].rtype,
                    records: x.to_vec(),
                });
            }
            Ordering::Greater => {
                let y = b.next().expect("peeked");
                diff.records_added += y.len();
                diff.changes.push(Change::Added {
                    owner: y[0].owner.clone(),
                    rtype: y[0].rtype,
                    records: y.to_vec(),
                });
            }
            Ordering::Equal => {
                let (x, y) = (a.next().expect("peeked"), b.next().expect("peeked"));
                if x == y {
                    diff.records_unchanged += x.len();
                    continue;
                }
                let (removed, added, unchanged) = merge_rrset(x, y);
                diff.records_unchanged += unchanged;
                if !removed.is_empty() || !added.is_empty() {
                    diff.records_removed += removed.len();
                    diff.records_added += added.len();
                    diff.changes.push(Change::Changed {
                        owner: x[0].owner.clone(),
                        rtype: x[0].rtype,
                        removed,
                        added,
                    });
                }
            }
        }
    }
    diff
}

/// The records only in `x`, only in `y`, and how many are in both, for two versions of one
/// RRset in canonical order.
fn merge_rrset(x: &[Record], y: &[Record]) -> (Vec<Record>, Vec<Record>, usize) {
    let (mut removed, mut added, mut unchanged) = (Vec::new(), Vec::new(), 0);
    let (mut i, mut j) = (0, 0);
    while i < x.len() || j < y.len() {
        let order = match (x.get(i), y.get(j)) {
            (Some(r), Some(s)) => r.canonical_cmp(s),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match order {
            Ordering::Less => {
                removed.push(x[i].clone());
                i += 1;
            }
            Ordering::Greater => {
                added.push(y[j].clone());
                j += 1;
            }
            Ordering::Equal => {
                unchanged += 1;
                i += 1;
                j += 1;
            }
        }
    }
    (removed, added, unchanged)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn diff_of(old: &[Record], new: &[Record]) -> Diff {
        diff_records(&old.to_vec().into(), &new.to_vec().into())
    }

    /// The straightforward diff the merge replaced: group both contents into a map of RRsets,
    /// then compare key by key. The model the merge is checked against.
    fn model(old: &[Record], new: &[Record]) -> Diff {
        type RRsets<'a> = BTreeMap<(&'a Name, RType), Vec<&'a Record>>;
        fn group(records: &[Record]) -> RRsets<'_> {
            let mut map: RRsets<'_> = BTreeMap::new();
            for r in records {
                map.entry((&r.owner, r.rtype)).or_default().push(r);
            }
            map
        }
        let (a, b) = (group(old), group(new));
        let mut diff = Diff {
            records_before: old.len(),
            records_after: new.len(),
            ..Diff::default()
        };
        let mut keys: Vec<(&Name, RType)> = a.keys().chain(b.keys()).copied().collect();
        keys.sort();
        keys.dedup();
        let owned = |v: &[&Record]| v.iter().map(|r| (*r).clone()).collect::<Vec<_>>();
        for key in keys {
            let (owner, rtype) = (key.0.clone(), key.1);
            match (a.get(&key), b.get(&key)) {
                (Some(x), None) => {
                    diff.records_removed += x.len();
                    diff.changes.push(Change::Removed {
                        owner,
                        rtype,
                        records: owned(x),
                    });
                }
                (None, Some(y)) => {
                    diff.records_added += y.len();
                    diff.changes.push(Change::Added {
                        owner,
                        rtype,
                        records: owned(y),
                    });
                }
                (Some(x), Some(y)) => {
                    let removed: Vec<Record> =
                        owned(x).into_iter().filter(|r| !y.contains(&r)).collect();
                    let added: Vec<Record> =
                        owned(y).into_iter().filter(|r| !x.contains(&r)).collect();
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
                (None, None) => unreachable!(),
            }
        }
        diff
    }

    /// A random content in canonical order without duplicates, drawn from a small universe of
    /// owners (nested, so canonical order is not plain byte order), types, data and TTLs.
    fn content(next: &mut impl FnMut() -> u64, size: usize) -> Vec<Record> {
        let owners = [
            "ex.", "a.ex.", "b.ex.", "a.b.ex.", "z.a.ex.", "*.ex.", "aa.ex.", "b.aa.ex.",
        ];
        let types = [RType::A, RType::NS, RType::TXT, RType(65280)];
        let mut records: Vec<Record> = (0..size)
            .map(|_| Record {
                owner: Name::parse(owners[next() as usize % owners.len()]).unwrap(),
                rtype: types[next() as usize % types.len()],
                ttl: [60, 300][next() as usize % 2],
                rdata: vec![next() as u8 % 3, 7][..1 + next() as usize % 2].into(),
            })
            .collect();
        records.sort_by(Record::canonical_cmp);
        records.dedup();
        records
    }

    #[test]
    fn merge_matches_the_map_model() {
        let mut next = crate::testkit::xorshift(0x2545_f491_4f6c_dd1d);
        for round in 0..3000 {
            let size = (next() % 30) as usize;
            let old = content(&mut next, size);
            let new = if round % 3 == 0 {
                // Mostly the same content, a few records changed.
                let mut new = old.clone();
                for _ in 0..next() % 3 {
                    if new.is_empty() {
                        break;
                    }
                    let i = next() as usize % new.len();
                    new[i].ttl += 1;
                }
                new
            } else {
                let size = (next() % 30) as usize;
                content(&mut next, size)
            };
            let got = diff_of(&old, &new);
            assert_eq!(got, model(&old, &new), "old {old:?}\nnew {new:?}");
            assert_eq!(
                got.records_unchanged + got.records_removed,
                old.len(),
                "every old record is unchanged or removed"
            );
            assert_eq!(got.records_unchanged + got.records_added, new.len());
        }
    }

    #[test]
    fn rrset_changes_in_canonical_order() {
        let r = |owner: &str, rtype: RType, ttl: u32, data: u8| Record {
            owner: Name::parse(owner).unwrap(),
            rtype,
            ttl,
            rdata: Box::new([data]).into(),
        };
        let old = vec![
            r("ex.", RType::NS, 60, 1),
            r("a.ex.", RType::A, 60, 1),
            r("a.ex.", RType::A, 60, 2),
            r("b.ex.", RType::A, 60, 1),
        ];
        let new = vec![
            r("ex.", RType::NS, 60, 1),
            r("a.ex.", RType::A, 60, 2),
            r("a.ex.", RType::A, 60, 3),
            r("a.ex.", RType::TXT, 60, 1),
        ];
        let d = diff_of(&old, &new);
        assert_eq!(
            d.changes,
            vec![
                Change::Changed {
                    owner: Name::parse("a.ex.").unwrap(),
                    rtype: RType::A,
                    removed: vec![r("a.ex.", RType::A, 60, 1)],
                    added: vec![r("a.ex.", RType::A, 60, 3)],
                },
                Change::Added {
                    owner: Name::parse("a.ex.").unwrap(),
                    rtype: RType::TXT,
                    records: vec![r("a.ex.", RType::TXT, 60, 1)],
                },
                Change::Removed {
                    owner: Name::parse("b.ex.").unwrap(),
                    rtype: RType::A,
                    records: vec![r("b.ex.", RType::A, 60, 1)],
                },
            ]
        );
        assert_eq!(
            (d.records_added, d.records_removed, d.records_unchanged),
            (2, 2, 2)
        );
        assert!(diff_of(&old, &old).is_empty());
        assert_eq!(diff_of(&old, &old).records_unchanged, 4);
    }
}
