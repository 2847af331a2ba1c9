//! The cost of a one-record DNS UPDATE on a zone of a million records, in the core (issue 16):
//! before (the change copied into a full record list, appended and validated in full, as
//! `update::apply` and `plan_on_base` did) and after (`update::apply` gives a `ZoneDelta`,
//! `Zone::apply` validates it from the change), in the same run, interleaved.
//!
//! `cargo run --release -p zonegate-core --example update_1m [records] [rounds]`

use std::time::{Duration, Instant};

use zonegate_core::dns::record::{RType, Record};
use zonegate_core::update::{Applied, Class, RawRr, UpdateMessage, apply};
use zonegate_core::zone::delta::ZoneDelta;
use zonegate_core::zone::validate::validate;
use zonegate_core::{Limits, Name, ParsedZone, Zone};

fn name(s: &str) -> Name {
    Name::parse(s).expect("name")
}

fn zone_of(size: usize) -> Zone {
    let origin = name("big.example.");
    let text = "big.example. 300 IN SOA ns1.big.example. hm.big.example. 1 7200 3600 1209600 300\n\
                big.example. 300 IN NS ns1.big.example.\nns1.big.example. 300 IN A 192.0.2.1\n";
    let mut parsed = zonegate_core::zonefile::parse(text, None, "big").expect("parses");
    for i in 0..size.saturating_sub(3) {
        parsed.records.push(Record {
            owner: name(&format!("h{i}.big.example.")),
            rtype: RType::A,
            ttl: 300,
            rdata: Box::new([10, (i >> 16) as u8, (i >> 8) as u8, i as u8]).into(),
        });
    }
    assert_eq!(parsed.origin, origin);
    validate(parsed, &Limits::default()).expect("valid")
}

/// One UPDATE: add an A record at a new name.
fn message(round: usize) -> UpdateMessage {
    let zone = [(name("big.example."), RType::SOA, Class::Zone)];
    let add = RawRr {
        owner: name(&format!("new{round}.big.example.")),
        class: Class::Zone,
        rtype: RType::A,
        ttl: 300,
        rdata: Some(vec![192, 0, 2, 7]),
    };
    UpdateMessage::read(&zone, &[], &[add]).expect("message")
}

/// The path before: every record but the touched name's copied, the name's records appended,
/// everything validated (sorted again, every rule over every record).
fn before(zone: &Zone, delta: &ZoneDelta) -> Zone {
    let touched: Vec<&Name> = delta.added().iter().map(|r| &r.owner).collect();
    let mut records: Vec<Record> = zone
        .records()
        .iter()
        .filter(|r| !touched.contains(&&r.owner))
        .cloned()
        .collect();
    records.extend(delta.added().iter().cloned());
    let parsed = ParsedZone {
        origin: zone.origin().clone(),
        records,
    };
    validate(parsed, &Limits::default()).expect("valid")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let size = args.first().copied().unwrap_or(1_000_000);
    let rounds = args.get(1).copied().unwrap_or(7);
    let start = Instant::now();
    let zone = zone_of(size);
    println!(
        "zone of {} records built in {}",
        zone.len(),
        ms(start.elapsed())
    );
    let (mut old, mut new, mut judge, mut copy, mut hash, mut between) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        let msg = message(round);
        let t = Instant::now();
        let Ok(Applied::Changed(delta)) = apply(&zone, &msg) else {
            panic!("the update changes the zone");
        };
        judge.push(t.elapsed());
        let t = Instant::now();
        let after = zone.apply(&delta, &Limits::default()).expect("valid");
        new.push(t.elapsed() + judge[round]);
        let t = Instant::now();
        let was = before(&zone, &delta);
        old.push(t.elapsed() + judge[round]);
        assert_eq!(after, was);
        let t = Instant::now();
        let records = delta.apply_records(zone.records()).expect("fits");
        copy.push(t.elapsed());
        drop(records);
        let t = Instant::now();
        std::hint::black_box(after.hash());
        hash.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(ZoneDelta::between(&zone, &after));
        between.push(t.elapsed());
    }
    println!("{rounds} rounds, medians:");
    println!("  before: copy + full validation      {}", ms(median(old)));
    println!(
        "  after:  delta + Zone::apply         {}",
        ms(median(new.clone()))
    );
    println!(
        "    of which update::apply (delta)    {}",
        ms(median(judge.clone()))
    );
    println!(
        "    of which the records' copy        {}",
        ms(median(copy.clone()))
    );
    let check: Vec<Duration> = new
        .iter()
        .zip(&judge)
        .zip(&copy)
        .map(|((n, j), c)| n.saturating_sub(*j + *c))
        .collect();
    println!(
        "    the rest (the check), per round   {}",
        ms(median(check))
    );
    println!("  not in either (plan_on_base's rest):");
    println!("    Zone::hash of the new zone        {}", ms(median(hash)));
    println!(
        "    ZoneDelta::between (delta plan)   {}",
        ms(median(between))
    );
}
