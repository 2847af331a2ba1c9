//! The content hash at scale (issue 16, item 2): a full hash of a zone against the incremental
//! re-hash after a one-record change, measured in the same run.
//!
//! ```sh
//! cargo run --release -p zonegate-core --example hash_tree            # 1M records
//! cargo run --release -p zonegate-core --example hash_tree -- 100000  # another size
//! ```
//!
//! It prints the medians of 5 rounds of each: the full tree (`HashTree::build`, every record
//! encoded and hashed), the flat SHA-256 plans had before the tree (for comparison), and the
//! incremental update of the tree after one record changes (`HashTree::apply`, what
//! `Zone::apply` does), their ratio, the leaves and the tree's heap size. Timing is for
//! reading, not asserted: no test depends on this machine's speed.

use std::time::{Duration, Instant};

use zonegate_core::dns::record::{RType, Record};
use zonegate_core::zone::delta::ZoneDelta;
use zonegate_core::zone::hash::HashTree;
use zonegate_core::zone::validate::validate;
use zonegate_core::{ContentHash, Limits, Name, ParsedZone};

const ROUNDS: usize = 5;

fn main() {
    let size: u32 = std::env::args()
        .nth(1)
        .map_or(1_000_000, |s| s.parse().expect("a record count"));
    let limits = Limits::default();
    let started = Instant::now();
    let zone = validate(hosts(size, None), &limits).expect("a valid zone");
    let changed = validate(hosts(size, Some(size / 2)), &limits).expect("a valid zone");
    println!(
        "zone: {} records, built and validated twice in {:.1} s",
        zone.len(),
        started.elapsed().as_secs_f64()
    );
    let delta = ZoneDelta::between(&zone, &changed);
    assert_eq!(delta.len(), 2, "one record changed: one removed, one added");

    let full = median(|| {
        std::hint::black_box(HashTree::build(zone.records()));
    });
    let body = zone.body();
    let flat = median(|| {
        std::hint::black_box(ContentHash::flat(&body));
    });
    let tree = HashTree::build(zone.records());
    let incremental = median(|| {
        std::hint::black_box(tree.apply(zone.records(), changed.records(), &delta));
    });
    let derived = tree.apply(zone.records(), changed.records(), &delta);
    assert_eq!(derived, HashTree::build(changed.records()));
    println!("full tree:   {:>10.3} ms", ms(full));
    println!(
        "flat sha256: {:>10.3} ms (the hash before the tree)",
        ms(flat)
    );
    println!("one record:  {:>10.3} ms (incremental)", ms(incremental));
    println!(
        "ratio full / incremental: {:.0}x",
        full.as_secs_f64() / incremental.as_secs_f64()
    );
    println!(
        "tree: {} leaves, {} KiB on the heap ({:.2} octets a record)",
        tree.leaf_count(),
        tree.heap_size() / 1024,
        tree.heap_size() as f64 / zone.len() as f64
    );
}

/// SOA, NS, glue and `size` A records `host-N.example.`; with `changed`, host N has another address.
fn hosts(size: u32, changed: Option<u32>) -> ParsedZone {
    let origin = Name::parse("example.").unwrap();
    let name = |s: &str| Name::parse(s).unwrap();
    let wire = |s: &str| {
        let mut v = Vec::new();
        name(s).write_wire(&mut v);
        v
    };
    let mut soa = wire("ns1.example.");
    soa.extend(wire("hostmaster.example."));
    for field in [1u32, 7200, 3600, 1_209_600, 300] {
        soa.extend(field.to_be_bytes());
    }
    let record = |owner: Name, rtype: RType, rdata: Vec<u8>| Record {
        owner,
        rtype,
        ttl: 300,
        rdata: rdata.into(),
    };
    let mut records = vec![
        record(origin.clone(), RType::SOA, soa),
        record(origin.clone(), RType::NS, wire("ns1.example.")),
        record(name("ns1.example."), RType::A, vec![192, 0, 2, 53]),
    ];
    for i in 0..size {
        let b = i.to_be_bytes();
        let last = if changed == Some(i) {
            b[3] ^ 0xff
        } else {
            b[3]
        };
        records.push(record(
            name(&format!("host-{i}.example.")),
            RType::A,
            vec![10, b[1], b[2], last],
        ));
    }
    ParsedZone { origin, records }
}

fn median(mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[ROUNDS / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
