//! The patched index against the index built anew, over random change sequences: the same
//! nodes, RRsets, negative SOA and name lookups after every step, whichever path a step took,
//! and both paths taken.

use super::*;
use crate::dns::record::{RType, Record};
use crate::testkit::{a, n, ns, rec, soa_fields, txt};
use crate::zone::ParsedZone;
use crate::zone::limits::Limits;
use crate::zone::validate::validate;

const ORIGIN: &str = "p.example.";

fn zone_of(records: Vec<Record>) -> Zone {
    validate(
        ParsedZone {
            origin: n(ORIGIN),
            records,
        },
        &Limits::default(),
    )
    .expect("a valid test zone")
}

fn soa(serial: u32) -> Record {
    rec(
        ORIGIN,
        3600,
        RType::SOA,
        soa_fields(ORIGIN, serial, 60).to_rdata(),
    )
}

/// A zone with owners, an empty non-terminal (`sub`), a delegation with glue and a wildcard.
fn seed() -> Zone {
    let mut records = vec![
        soa(1),
        ns(ORIGIN, "ns1.p.example."),
        a("ns1.p.example.", [192, 0, 2, 1]),
        a("www.p.example.", [192, 0, 2, 2]),
        a("www.p.example.", [192, 0, 2, 3]),
        txt("www.p.example.", "v=1"),
        a("deep.sub.p.example.", [192, 0, 2, 4]),
        a("other.sub.p.example.", [192, 0, 2, 5]),
        ns("deleg.p.example.", "ns.deleg.p.example."),
        a("ns.deleg.p.example.", [192, 0, 2, 6]),
        a("*.wild.p.example.", [192, 0, 2, 7]),
        a("wild.p.example.", [192, 0, 2, 8]),
    ];
    records.extend((0..40u8).map(|i| a(&format!("h{i}.p.example."), [10, 0, 0, i])));
    zone_of(records)
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// One random change of `zone`'s records: mostly ones the patch takes, some it must refuse.
fn change(zone: &Zone, step: usize, rng: &mut Rng) -> Vec<Record> {
    let mut records = zone.records().to_vec();
    let owners: Vec<Name> = {
        let mut o: Vec<Name> = records.iter().map(|r| r.owner.clone()).collect();
        o.dedup();
        o
    };
    let pick = owners[rng.below(owners.len())].clone();
    let ip = [10, 1, (step >> 8) as u8, step as u8];
    match rng.below(10) {
        // A new leaf under the apex, or under an owner.
        0 | 1 => records.push(a(&format!("n{step}.{ORIGIN}"), ip)),
        2 if !pick.is_wildcard() => records.push(a(&format!("x{step}.{pick}"), ip)),
        // More records at an owner (the apex's SOA owner included).
        3 => records.push(txt(&pick.to_string(), &format!("t{step}"))),
        // One record less at an owner that has several, or an owner gone.
        4 | 5 => {
            let i = rng.below(records.len());
            if records[i].rtype != RType::SOA
                && !(records[i].rtype == RType::NS && records[i].owner == n(ORIGIN))
            {
                records.remove(i);
            }
        }
        6 => records.retain(|r| r.owner != pick || pick == n(ORIGIN)),
        // The serial, as every publication changes it.
        7 => {
            let serial = zone.soa().serial + 1;
            records.retain(|r| r.rtype != RType::SOA);
            records.push(soa(serial));
        }
        // Changes that move structure: below an empty non-terminal, a new cut, a wildcard.
        8 => records.push(a(&format!("y{step}.sub.{ORIGIN}"), ip)),
        _ => match rng.below(3) {
            0 => records.push(ns(&format!("d{step}.{ORIGIN}"), "ns1.p.example.")),
            1 => records.push(a(&format!("*.h{}.{ORIGIN}", step % 40), ip)),
            _ => records.retain(|r| r.owner != n(&format!("deep.sub.{ORIGIN}"))),
        },
    }
    records
}

/// What a node answers from: its name, the cut above it, its wildcard child and its RRsets
/// (types and record indices).
type View = (
    Vec<u8>,
    Option<Cut>,
    bool,
    Vec<(RType, std::ops::Range<usize>)>,
);

fn view(index: &ZoneIndex, node: &Node) -> View {
    let sets = index
        .sets(node)
        .iter()
        .map(|s| (s.rtype, index.range(s)))
        .collect();
    (
        name_of(&index.zone, node).to_vec(),
        node.above,
        node.wild_child,
        sets,
    )
}

/// The two indexes hold the same names with the same cuts, wildcard children and RRsets, and
/// the patched one finds each of its names at its own node.
fn assert_same(patched: &ZoneIndex, built: &ZoneIndex, context: &str) {
    assert_eq!(patched.nodes.len(), built.nodes.len(), "names: {context}");
    assert_eq!(
        patched.negative_soa, built.negative_soa,
        "negative SOA: {context}"
    );
    for node in built.nodes.iter() {
        let w = name_of(&built.zone, node);
        let found = patched
            .find(w)
            .unwrap_or_else(|| panic!("{w:?} missing: {context}"));
        assert_eq!(view(patched, found), view(built, node), "{context}");
    }
    for (i, node) in patched.nodes.iter().enumerate() {
        let w = name_of(&patched.zone, node);
        let at = find_in(
            &patched.zone,
            &patched.nodes,
            &patched.slots,
            patched.seed,
            w,
        );
        assert_eq!(at, Some(i), "{w:?}: {context}");
    }
    for absent in ["nothere.p.example.", "a.b.c.p.example.", "h1x.p.example."] {
        let w = n(absent);
        assert_eq!(
            patched.find(w.wire()).is_some(),
            built.find(w.wire()).is_some(),
            "{absent}: {context}"
        );
    }
}

/// Runs random change sequences from `seed`, patching and building anew at each step:
/// returns the steps patched, the steps rebuilt and the touches planned by kind.
fn run(seed: fn() -> Zone, seeds: u64, steps: usize) -> (usize, usize, [usize; 3]) {
    let (mut patched_steps, mut rebuilt_steps) = (0, 0);
    // Touches planned: modified, added, removed owners.
    let mut kinds = [0; 3];
    for seed_no in 1..=seeds {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed_no);
        let mut index = ZoneIndex::new(seed());
        for step in 0..steps {
            let records = change(index.zone(), step, &mut rng);
            let Ok(next) = validate(
                ParsedZone {
                    origin: n(ORIGIN),
                    records,
                },
                &Limits::default(),
            ) else {
                continue;
            };
            let delta = ZoneDelta::between(index.zone(), &next);
            let plan = Patch::plan(&index, &next, &delta);
            for t in plan.iter().flat_map(|p| &p.touches) {
                match t {
                    Touch::Modified { .. } => kinds[0] += 1,
                    Touch::Added { .. } => kinds[1] += 1,
                    Touch::Removed { .. } => kinds[2] += 1,
                }
            }
            let patchable = plan.is_some_and(|p| p.apply(&index, next.clone()).is_ok());
            if patchable {
                patched_steps += 1;
            } else {
                rebuilt_steps += 1;
            }
            let patched = index.updated(next.clone(), &delta);
            let built = ZoneIndex::new(next);
            assert_same(
                &patched,
                &built,
                &format!("seed {seed_no} step {step}: {delta:?}"),
            );
            index = patched;
        }
    }
    (patched_steps, rebuilt_steps, kinds)
}

/// [`seed`] with 3,000 more names, so that its records are several chunks.
fn large_seed() -> Zone {
    let mut records = seed().records().to_vec();
    records.extend((0..3000u32).map(|i| {
        a(
            &format!("g{i}.p.example."),
            [10, 2, (i >> 8) as u8, i as u8],
        )
    }));
    zone_of(records)
}

#[test]
fn a_patched_index_of_several_chunks_answers_as_the_index_built_anew_and_shares_its_pages() {
    let (patched, rebuilt, kinds) = run(large_seed, 4, 40);
    assert!(
        patched > 2 * rebuilt,
        "{patched} patched, {rebuilt} rebuilt"
    );
    assert!(kinds.iter().all(|&k| k > 5), "touches: {kinds:?}");
    // One record more at one name: most pages of every table are shared.
    let zone = large_seed();
    assert!(zone.records().chunk_count() > 4);
    let index = ZoneIndex::new(zone.clone());
    let mut records = zone.records().to_vec();
    records.push(txt("g1500.p.example.", "one more"));
    let next = zone_of(records);
    let delta = ZoneDelta::between(&zone, &next);
    let next = zone.apply(&delta, &Limits::default()).unwrap();
    let patched = index.updated(next, &delta);
    let shared = patched.nodes.shared_pages(&index.nodes);
    assert!(
        shared + 1 >= index.nodes.len().div_ceil(1024),
        "{shared} node pages shared"
    );
    assert!(patched.slots.shared_pages(&index.slots) + 1 >= index.slots.len() / 1024);
}

/// 800 new names inserted one at a time into one place of the large seed, each an edit of
/// the record list as an UPDATE makes it: the chunk they go into is split, and every step is
/// patched, the split too (chunks keep their ids, so a split moves only the nodes of the
/// split chunk), answering as the index built anew. (Past about 1,040 new names the hash
/// table is full and the index is built anew, as it should.)
#[test]
fn inserts_that_split_chunks_are_patched_and_answer_as_the_index_built_anew() {
    let mut zone = large_seed();
    let mut index = ZoneIndex::new(zone.clone());
    let (mut split_and_patched, mut rebuilt) = (0, 0);
    for i in 0..800u32 {
        let mut records = zone.records().to_vec();
        records.push(a(
            &format!("g1500x{i}.p.example."),
            [10, 3, (i >> 8) as u8, i as u8],
        ));
        let next = zone_of(records);
        let delta = ZoneDelta::between(&zone, &next);
        let next = zone.apply(&delta, &Limits::default()).unwrap();
        let split = next.records().chunk_count() != zone.records().chunk_count();
        let plan = Patch::plan(&index, &next, &delta).expect("a new leaf is planned");
        let patched = match plan.apply(&index, next.clone()) {
            Ok(patched) => {
                split_and_patched += usize::from(split);
                patched
            }
            Err(next) => {
                assert!(
                    (index.nodes.len() + 1) * 2 > index.slots.len(),
                    "step {i} rebuilt"
                );
                rebuilt += 1;
                ZoneIndex::new(next)
            }
        };
        if i % 100 == 99 || split {
            assert_same(
                &patched,
                &ZoneIndex::new(next.clone()),
                &format!("step {i}"),
            );
        }
        (zone, index) = (next, patched);
    }
    assert!(split_and_patched >= 1, "no split was patched");
    assert_eq!(rebuilt, 0);
}

#[test]
fn a_patched_index_is_the_index_built_anew() {
    let (patched_steps, rebuilt_steps, kinds) = run(seed, 20, 60);
    // Both paths ran, the patch most of the time.
    assert!(
        patched_steps > 2 * rebuilt_steps,
        "{patched_steps} patched, {rebuilt_steps} rebuilt"
    );
    assert!(rebuilt_steps > 0);
    assert!(
        kinds.iter().all(|&k| k > 20),
        "touches planned (modified, added, removed): {kinds:?}"
    );
}
