//! Incremental preparation against preparation from scratch, byte for byte, over the Ferret
//! data (issue 16, item 4).
//!
//! Every Ferret zone is installed, then changed several times by random changes (records
//! added at existing, new, wildcard and delegated names, CNAMEs, DNAMEs, MX, records removed,
//! TTLs changed, always with a new SOA serial), each content that validates installed into
//! the same catalog, whose prepared answers are then an overlay over the first generation's,
//! and into a fresh catalog, which prepares everything. Each case's query and queries for
//! the names of both contents, their parents and missing children, in random forms and
//! types, must get the same bytes from both catalogs by the prepared path (UDP and TCP,
//! prepared or not alike) and by the general path.

use std::net::SocketAddr;
use std::sync::Arc;

use zonegate_core::dns::record::Soa;
use zonegate_core::gate::{Generation, Target};
use zonegate_core::testkit::name_rdata;
use zonegate_core::zone::validate::validate;
use zonegate_core::zonefile::parse;
use zonegate_core::{Limits, Name, ParsedZone, RType, Record, Zone};
use zonegate_testkit::ferret;

use crate::fast_tests::{Rng, TYPES, query_bytes, random_form};
use crate::fuzzing::Capture;
use crate::net::udp::general;
use crate::zone::served::prepared::{LAYERS_MAX, Question};
use crate::{Catalog, Handler};

/// Changed contents installed after each zone's first.
const STEPS: usize = 3;
/// Random queries per step, besides the Ferret cases'.
const QUERIES: usize = 24;

/// A random name near `owners`: one of them, a new child, a new grandchild (so a new empty
/// non-terminal), or a wildcard child.
fn near(rng: &mut Rng, owners: &[Name]) -> Option<Name> {
    let owner = &owners[rng.below(owners.len())];
    let text = match rng.below(5) {
        0 | 1 => return Some(owner.clone()),
        2 => format!("n{}.{owner}", rng.below(50)),
        3 => format!("g{}.e{}.{owner}", rng.below(50), rng.below(3)),
        _ => format!("*.{owner}"),
    };
    Name::parse(&text).ok()
}

/// One random change to `records` (canonical order is restored by validation).
fn change(rng: &mut Rng, origin: &Name, records: &mut Vec<Record>) {
    let owners: Vec<Name> = records.iter().map(|r| r.owner.clone()).collect();
    let Some(at) = near(rng, &owners) else {
        return;
    };
    let target = || owners[(at.wire_len() * 7 + records.len()) % owners.len()].to_string();
    let record = |rtype, rdata| Record {
        owner: at.clone(),
        rtype,
        ttl: 300,
        rdata,
    };
    match rng.below(9) {
        0 | 1 => {
            let i = rng.below(records.len());
            if records[i].rtype != RType::SOA {
                records.remove(i);
            }
        }
        2 => {
            let i = rng.below(records.len());
            if records[i].rtype != RType::SOA {
                records[i].ttl += 1;
            }
        }
        3 | 4 => records.push(record(
            RType::A,
            Box::new([192, 0, 2, rng.below(250) as u8]).into(),
        )),
        5 => records.push(record(RType::CNAME, name_rdata(&target()))),
        6 => {
            let mut rdata = vec![0, 10];
            rdata.extend_from_slice(&name_rdata(&target()));
            records.push(record(RType::MX, rdata.into()));
        }
        7 if at != *origin => {
            let ns = Name::parse(&format!("ns.{at}")).unwrap_or(at.clone());
            records.push(record(RType::NS, name_rdata(&ns.to_string())));
            records.push(Record {
                owner: ns,
                rtype: RType::A,
                ttl: 300,
                rdata: Box::new([198, 51, 100, rng.below(250) as u8]).into(),
            });
        }
        _ => records.push(record(RType::DNAME, name_rdata(&target()))),
    }
}

/// `zone` after one to three random changes and a serial one higher, if that validates
/// within a few tries.
fn changed(rng: &mut Rng, zone: &Zone) -> Option<Zone> {
    for _ in 0..8 {
        let mut records = zone.records().to_vec();
        for _ in 0..1 + rng.below(3) {
            change(rng, zone.origin(), &mut records);
        }
        let soa = records.iter_mut().find(|r| r.rtype == RType::SOA)?;
        let mut fields: Soa = soa.soa()?;
        fields.serial = fields.serial.wrapping_add(1);
        soa.rdata = fields.to_rdata();
        let parsed = ParsedZone {
            origin: zone.origin().clone(),
            records,
        };
        if let Ok(z) = validate(parsed, &Limits::default()) {
            return Some(z);
        }
    }
    None
}

#[derive(Debug, Default)]
struct Counts {
    steps: usize,
    incremental: usize,
    queries: usize,
    prepared: usize,
}

/// The same query to both catalogs, by every path.
async fn same(a: &Handler, b: &Handler, query: &[u8], counts: &mut Counts, what: &str) {
    counts.queries += 1;
    let q = Question::parse(query);
    let (mut pa, mut pb) = (Vec::new(), Vec::new());
    let ra = q
        .as_ref()
        .is_some_and(|q| a.catalog().prepared_answer(query, q, &mut pa));
    let rb = q
        .as_ref()
        .is_some_and(|q| b.catalog().prepared_answer(query, q, &mut pb));
    assert_eq!(ra, rb, "{what}: prepared by one catalog only");
    if ra {
        assert_eq!(pa, pb, "{what}: incremental (left) and full (right) differ");
        counts.prepared += 1;
    }
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    let ra = q
        .as_ref()
        .is_some_and(|q| a.catalog().prepared_answer_tcp(query, q, &mut ta));
    let rb = q
        .as_ref()
        .is_some_and(|q| b.catalog().prepared_answer_tcp(query, q, &mut tb));
    assert_eq!(ra, rb, "{what}: prepared over TCP by one catalog only");
    assert_eq!(ta, tb, "{what}: incremental and full differ over TCP");
    let src: SocketAddr = "192.0.2.53:5353".parse().unwrap();
    let (ca, cb) = (Capture::default(), Capture::default());
    general(a, query, src, ca.clone()).await;
    general(b, query, src, cb.clone()).await;
    assert_eq!(
        *ca.0.lock().unwrap(),
        *cb.0.lock().unwrap(),
        "{what}: the general paths differ"
    );
}

/// Queries for the names of `zones` and around them, and the Ferret cases'.
fn names_of(zones: &[&Zone], rng: &mut Rng) -> Vec<Name> {
    let mut names: Vec<Name> = Vec::new();
    for z in zones {
        for _ in 0..QUERIES / 2 {
            let owner = &z.records()[rng.below(z.records().len())].owner;
            names.push(match rng.below(4) {
                0 => Name::parse(&format!("zz.{owner}")).unwrap_or(owner.clone()),
                1 => owner.parent().unwrap_or(owner.clone()),
                _ => owner.clone(),
            });
        }
    }
    names
}

/// The Ferret cases' queries of `z` (a dataset entry).
fn cases_of(z: &serde_json::Value) -> Vec<(Name, u16)> {
    z["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| {
            let name = Name::parse(c["query"]["name"].as_str()?).ok()?;
            let t: hickory_proto::rr::RecordType = c["query"]["type"].as_str()?.parse().ok()?;
            Some((name, u16::from(t)))
        })
        .collect()
}

/// [`long_run`] of [`STEPS`] changes on every Ferret zone, with its cases' queries.
#[tokio::test]
async fn incremental_preparation_answers_as_a_full_one() {
    let mut rng = Rng(0x0F1E_2D3C_4B5A_6978);
    let mut counts = Counts::default();
    for z in ferret::load(ferret::VALID) {
        let parsed = parse(z["zone"].as_str().unwrap(), None, "ferret").unwrap();
        let zone = validate(parsed, &Limits::default()).unwrap();
        let run = Run {
            steps: STEPS,
            every: 0,
            cases: &cases_of(&z),
        };
        long_run(zone, &run, &mut rng, &mut counts).await;
    }
    eprintln!("{counts:?}");
    assert!(counts.steps >= 3000, "{counts:?}");
    // Nearly every step was prepared incrementally, and the prepared path really answered.
    assert!(counts.incremental * 10 >= counts.steps * 9, "{counts:?}");
    assert!(counts.prepared * 2 >= counts.queries, "{counts:?}");
}

/// How [`long_run`] changes a zone and what it asks after each change.
struct Run<'a> {
    /// Changes installed one after the other.
    steps: usize,
    /// Ask every name after each `every`th step (never when 0), some of them after the others.
    every: usize,
    /// Asked after every step as well.
    cases: &'a [(Name, u16)],
}

/// `run.steps` random changes to `zone` installed one after the other: a generation after the
/// first is prepared as overlay layers over the first one's answers (counted in
/// `counts.incremental`), never more than [`LAYERS_MAX`] of them, and after every
/// `run.every`th step each name of both generations (and a name below each) answers exactly
/// as a full preparation does; after the others, some of them ([`names_of`]); after each,
/// `run.cases` too. The most layers seen.
async fn long_run(mut zone: Zone, run: &Run<'_>, rng: &mut Rng, counts: &mut Counts) -> usize {
    let mut deepest = 0;
    let origin = zone.origin().clone();
    let inc = Arc::new(Catalog::new("incremental"));
    inc.install(Generation(1), zone.clone()).await.unwrap();
    let inc_handler = Handler::new(inc.clone());
    for step in 0..run.steps {
        let Some(next) = changed(rng, &zone) else {
            continue;
        };
        let generation = Generation(2 + step as u64);
        inc.install(generation, next.clone()).await.unwrap();
        let full = Arc::new(Catalog::new("full"));
        full.install(generation, next.clone()).await.unwrap();
        let full_handler = Handler::new(full);
        counts.steps += 1;
        let served = inc.get(&origin).unwrap();
        let fast = served.fast();
        counts.incremental += usize::from(fast.overlay_names().is_some());
        assert!(
            fast.layers() <= LAYERS_MAX,
            "{origin} step {step}: {fast:?}"
        );
        deepest = deepest.max(fast.layers());
        let names = if run.every != 0 && step % run.every == 0 {
            all_names(&[&zone, &next])
        } else {
            names_of(&[&zone, &next], rng)
        };
        let asked = names
            .into_iter()
            .map(|n| (n, TYPES[rng.below(TYPES.len())]));
        for (name, qtype) in run.cases.iter().cloned().chain(asked.collect::<Vec<_>>()) {
            let f = random_form(rng);
            let what = format!("{origin} step {step} {name} {qtype} {f:?}");
            let query = query_bytes(&name, qtype, f);
            same(&inc_handler, &full_handler, &query, counts, &what).await;
        }
        zone = next;
    }
    deepest
}

/// Every owner of `zones`, and a name below each.
fn all_names(zones: &[&Zone]) -> Vec<Name> {
    let mut names: Vec<Name> = zones
        .iter()
        .flat_map(|z| z.records().iter().map(|r| r.owner.clone()))
        .collect();
    names.sort();
    names.dedup();
    let below: Vec<Name> = names
        .iter()
        .filter_map(|n| Name::parse(&format!("zz.{n}")).ok())
        .collect();
    names.extend(below);
    names
}

/// [`long_run`] on the four largest Ferret zones: the layers merge (a small zone's changes
/// touch most of its names) and stack.
#[tokio::test]
async fn long_runs_on_ferret_zones_stay_layered_and_answer_as_a_full_one() {
    let mut rng = Rng(0x5EED_1A7E_0000_0016);
    let mut counts = Counts::default();
    let mut zones: Vec<Zone> = ferret::load(ferret::VALID)
        .into_iter()
        .filter_map(|z| {
            let parsed = parse(z["zone"].as_str()?, None, "ferret").ok()?;
            validate(parsed, &Limits::default()).ok()
        })
        .collect();
    zones.sort_by_key(|z| std::cmp::Reverse(z.records().len()));
    let mut deepest = 0;
    for zone in zones.into_iter().take(4) {
        let run = Run {
            steps: 60,
            every: 1,
            cases: &[],
        };
        deepest = deepest.max(long_run(zone, &run, &mut rng, &mut counts).await);
    }
    eprintln!("{counts:?}, deepest {deepest} layers");
    assert!(counts.steps >= 200, "{counts:?}");
    assert_eq!(counts.incremental, counts.steps, "{counts:?}");
    assert!(deepest >= 2, "the layers never stacked: {deepest}");
    // Many of the names below an owner do not exist, which the general path answers.
    assert!(counts.prepared * 3 >= counts.queries, "{counts:?}");
}

/// [`long_run`] on a zone of 150 hosts, where a change touches a few names of many: over 240
/// changes the layers stack to the most there may be.
#[tokio::test]
async fn long_runs_on_a_larger_zone_stack_layers_to_the_bound() {
    let mut text = String::from(
        "$ORIGIN big.test.\n$TTL 300\n@ SOA ns hostmaster 1 3600 900 1209600 300\n@ NS ns\n\
         ns A 192.0.2.1\n",
    );
    for i in 0..150 {
        text.push_str(&format!("h{i} A 10.0.{}.{}\n", i / 256, i % 256));
    }
    let zone = validate(parse(&text, None, "big").unwrap(), &Limits::default()).unwrap();
    let mut rng = Rng(0x5EED_1A7E_0000_0150);
    let mut counts = Counts::default();
    let run = Run {
        steps: 240,
        every: 10,
        cases: &[],
    };
    let deepest = long_run(zone, &run, &mut rng, &mut counts).await;
    eprintln!("{counts:?}, deepest {deepest} layers");
    assert!(counts.steps >= 200, "{counts:?}");
    assert_eq!(counts.incremental, counts.steps, "{counts:?}");
    assert_eq!(deepest, LAYERS_MAX, "the layers never reached the bound");
}
