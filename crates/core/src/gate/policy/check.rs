//! The checks of a plan against its base: pure, over two validated contents and their diff.

use std::collections::BTreeMap;

use crate::deps::{self, DepMap};
use crate::dns::name::Name;
use crate::dns::record::{RType, Record, Soa};
use crate::gate::policy::config::ZonePolicy;
use crate::gate::policy::threshold::{Limit, SoaChange, Threshold, percent_of};
use crate::zone::Zone;
use crate::zone::diff::{Change, Diff};

/// How many records a change updates, deletes and adds; see the module docs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeCounts {
    pub before: usize,
    pub after: usize,
    pub updated: usize,
    pub deleted: usize,
    pub added: usize,
}

/// True if the two SOA records differ only in their serial.
fn serial_only(old: &Record, new: &Record) -> bool {
    match (old.soa(), new.soa()) {
        (Some(a), Some(b)) => {
            old.ttl == new.ttl
                && Soa {
                    serial: b.serial,
                    ..a
                } == b
        }
        _ => false,
    }
}

/// Counts a diff's records as updated, deleted and added.
pub fn count(diff: &Diff) -> ChangeCounts {
    let mut c = ChangeCounts {
        before: diff.records_before,
        after: diff.records_after,
        ..ChangeCounts::default()
    };
    for change in &diff.changes {
        match change {
            Change::Added { records, .. } => c.added += records.len(),
            Change::Removed { records, .. } => c.deleted += records.len(),
            Change::Changed {
                rtype,
                removed,
                added,
                ..
            } => {
                if *rtype == RType::SOA
                    && removed.len() == 1
                    && added.len() == 1
                    && serial_only(&removed[0], &added[0])
                {
                    continue;
                }
                let updated = removed.len().min(added.len());
                c.updated += updated;
                c.deleted += removed.len() - updated;
                c.added += added.len() - updated;
            }
        }
    }
    c
}

fn crosses(n: usize, before: usize, max_percent: f64, max_records: Option<u64>) -> Option<Limit> {
    if n == 0 {
        return None;
    }
    if percent_of(n, before) > max_percent {
        return Some(Limit::Percent(max_percent));
    }
    max_records.filter(|m| n as u64 > *m).map(Limit::Records)
}

fn rrset_sizes(zone: &Zone) -> BTreeMap<(&Name, RType), usize> {
    let mut sizes = BTreeMap::new();
    for r in zone.records() {
        *sizes.entry((&r.owner, r.rtype)).or_insert(0) += 1;
    }
    sizes
}

/// The apex NS set, as text. The apex's records come first in canonical order (every other
/// owner is below it), so only that leading run is read, not the whole zone.
fn apex_ns(zone: &Zone) -> Vec<String> {
    zone.records()
        .iter()
        .take_while(|r| r.owner == *zone.origin())
        .filter(|r| r.rtype == RType::NS)
        .map(|r| {
            let target = r
                .target_name()
                .map(|n| n.to_string())
                .unwrap_or_else(|| "?".into());
            format!("{target} ttl {}", r.ttl)
        })
        .collect()
}

fn soa_changes(old: &Zone, new: &Zone) -> Vec<SoaChange> {
    let (a, b) = (old.soa(), new.soa());
    let mut out: Vec<SoaChange> = Vec::new();
    let mut push = |field: &'static str, x: String, y: String| {
        if x != y {
            out.push((field, x, y));
        }
    };
    push("mname", a.mname.to_string(), b.mname.to_string());
    push("rname", a.rname.to_string(), b.rname.to_string());
    push("refresh", a.refresh.to_string(), b.refresh.to_string());
    push("retry", a.retry.to_string(), b.retry.to_string());
    push("expire", a.expire.to_string(), b.expire.to_string());
    push("minimum", a.minimum.to_string(), b.minimum.to_string());
    push(
        "ttl",
        old.soa_record().ttl.to_string(),
        new.soa_record().ttl.to_string(),
    );
    out
}

/// Every threshold the change from `base` to `plan` crosses under `policy`, in reason order
/// (shrink, floor, apex, dependency-share, single-target, delete, update). `diff` must be `Diff::between(base, plan)`.
pub fn check(policy: &ZonePolicy, base: &Zone, plan: &Zone, diff: &Diff) -> Vec<Threshold> {
    let mut out = Vec::new();
    let c = count(diff);

    if c.after < c.before && percent_of(c.before - c.after, c.before) > policy.shrink_max_percent {
        out.push(Threshold::Shrink {
            before: c.before,
            after: c.after,
            max_percent: policy.shrink_max_percent,
        });
    }

    if !policy.floors.is_empty() {
        let old = rrset_sizes(base);
        let new = rrset_sizes(plan);
        for ((owner, rtype), &before) in &old {
            let after = new.get(&(*owner, *rtype)).copied().unwrap_or(0);
            // A floor limits how fast a set shrinks; a set that was already below its floor
            // and did not shrink is not this plan's doing.
            if after >= before {
                continue;
            }
            let floor = policy.floors.iter().find(|f| {
                f.rtype == *rtype && f.name.matches(owner) && (after as u64) < u64::from(f.min)
            });
            if let Some(floor) = floor {
                out.push(Threshold::Floor {
                    owner: (*owner).clone(),
                    rtype: *rtype,
                    before,
                    after,
                    floor: floor.clone(),
                });
            }
        }
    }

    if policy.apex_guard {
        let (a, b) = (apex_ns(base), apex_ns(plan));
        if a != b {
            out.push(Threshold::ApexNs {
                before: a,
                after: b,
            });
        }
        let changes = soa_changes(base, plan);
        if !changes.is_empty() {
            out.push(Threshold::ApexSoa { changes });
        }
    }

    dependencies(policy, base, plan, diff, &mut out);

    if let Some(limit) = crosses(
        c.deleted,
        c.before,
        policy.delete_max_percent,
        policy.delete_max_records,
    ) {
        out.push(Threshold::Delete {
            deleted: c.deleted,
            before: c.before,
            limit,
        });
    }
    if let Some(limit) = crosses(
        c.updated,
        c.before,
        policy.update_max_percent,
        policy.update_max_records,
    ) {
        out.push(Threshold::Update {
            updated: c.updated,
            before: c.before,
            limit,
        });
    }
    out
}

/// The dependency-map checks, both off by default; neither map is built unless one is on and
/// the diff touches a record that points somewhere.
fn dependencies(
    policy: &ZonePolicy,
    base: &Zone,
    plan: &Zone,
    diff: &Diff,
    out: &mut Vec<Threshold>,
) {
    let share_max = policy.dependency_share_max_percent;
    let single = policy.dependency_floored_single_target && !policy.floors.is_empty();
    if (share_max.is_none() && !single) || !deps::touches(diff) {
        return;
    }
    let (old, new) = (DepMap::of(base), DepMap::of(plan));
    if let (Some(max), Some(top)) = (share_max, new.concentration()) {
        let before = old.concentration().map_or(0.0, |g| g.share_percent);
        if top.share_percent > max && top.share_percent > before {
            out.push(Threshold::DependencyShare {
                domain: top.domain.clone(),
                before_percent: before,
                after_percent: top.share_percent,
                max_percent: max,
            });
        }
    }
    if single {
        for (owner, target) in new.single_target() {
            let floored = policy.floors.iter().any(|f| f.name.matches(owner));
            let was = old.names.get(owner).and_then(|d| d.single_target());
            if floored && was != Some(target) {
                out.push(Threshold::SingleTarget {
                    owner: owner.clone(),
                    target: target.clone(),
                });
            }
        }
    }
}
