//! Incremental validation against full validation (issue 16): random change sequences applied
//! with [`Zone::apply`] must give exactly what [`validate`] gives for the same records: the
//! same zone, or the same violations in the same order. And the incremental check alone must
//! accept exactly the changes full validation accepts (it runs full validation only on a
//! refusal, never on a change that passes). The diff the gate measures, read from the change
//! alone ([`Diff::of_change`]), must be [`Diff::between`] the two contents, and the change
//! found between them with their hash trees ([`ZoneDelta::between`]) the change made.
//!
//! Seeds: every zone of Ferret's valid set, and generated zones with delegations, glue,
//! CNAMEs, DNAMEs and wildcards. `ZONEGATE_DELTA_MODEL_ROUNDS` (default 1) multiplies the
//! sequences per seed.

// Not part of the loom build: the test kit needs tokio, whose sockets loom leaves out.
#![cfg(not(loom))]

use zonegate_core::dns::name::Name;
use zonegate_core::dns::record::{RType, Record};
use zonegate_core::zone::delta::{ApplyError, ZoneDelta};
use zonegate_core::zone::diff::Diff;
use zonegate_core::zone::validate::validate;
use zonegate_core::zonefile::parse;
use zonegate_core::{Limits, ParsedZone, Zone};

use zonegate_testkit::{ferret, soa_fields, xorshift};

type Rng = Box<dyn FnMut() -> u64>;

fn rounds() -> usize {
    std::env::var("ZONEGATE_DELTA_MODEL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

fn pick<'a, T>(rng: &mut Rng, list: &'a [T]) -> &'a T {
    &list[rng() as usize % list.len()]
}

fn wire(name: &Name) -> zonegate_core::RecordData {
    let mut v = Vec::new();
    name.write_wire(&mut v);
    v.into()
}

fn child(name: &Name, label: &[u8]) -> Option<Name> {
    let mut labels: Vec<&[u8]> = vec![label];
    labels.extend(name.labels());
    Name::from_labels(labels).ok()
}

/// Names a change is likely to matter at: the zone's owners and NS targets, their parents,
/// children and wildcards, the apex, and names outside the origin.
fn names_of(zone: &Zone, rng: &mut Rng) -> Vec<Name> {
    let origin = zone.origin().clone();
    let mut names = vec![origin.clone()];
    for r in zone.records() {
        names.push(r.owner.clone());
        if let Some(t) = r.target_name() {
            names.push(t);
        }
    }
    names.sort();
    names.dedup();
    let mut extra = Vec::new();
    for _ in 0..6 {
        let base = pick(rng, &names).clone();
        extra.extend(base.parent());
        let labels: [&[u8]; 4] = [b"x", b"ns", b"*", b"y"];
        let label = labels[rng() as usize % labels.len()];
        extra.extend(child(&base, label));
    }
    extra.extend(Name::parse("out.other.").ok());
    extra.extend(Name::parse("x.out.other.").ok());
    names.extend(extra);
    names
}

/// One random record at a name the change is likely to matter at.
fn random_record(zone: &Zone, names: &[Name], rng: &mut Rng) -> Record {
    let owner = pick(rng, names).clone();
    let target = pick(rng, names).clone();
    let ttl = *pick(rng, &[0u32, 60, 300, 3600, 86_400]);
    let (rtype, rdata): (RType, zonegate_core::RecordData) = match rng() % 12 {
        0 | 1 => (RType::A, Box::new([192, 0, 2, (rng() % 4) as u8]).into()),
        2 => (
            RType::AAAA,
            (0..16).map(|i| (i * (rng() % 2)) as u8).collect(),
        ),
        3 | 4 => (RType::NS, wire(&target)),
        5 => (RType::CNAME, wire(&target)),
        6 => (RType::DNAME, wire(&target)),
        7 => (RType::TXT, Box::new([1, b'a' + (rng() % 3) as u8]).into()),
        8 => {
            let mut d = vec![0, (rng() % 3) as u8];
            d.extend_from_slice(&wire(&target));
            (RType::MX, d.into())
        }
        9 => {
            let soa = soa_fields(&zone.origin().to_string(), (rng() % 5) as u32, 60);
            (RType::SOA, soa.to_rdata())
        }
        // Malformed: an address of three octets, or a name in upper case.
        10 if rng().is_multiple_of(4) => (RType::A, Box::new([192, 0, 2]).into()),
        10 => (RType::CNAME, Box::new(*b"\x01X\x00").into()),
        _ => (RType::AAAA, (0..16).map(|_| (rng() % 2) as u8).collect()),
    };
    Record {
        owner,
        rtype,
        ttl,
        rdata,
    }
}

/// A random change to `zone`: some of its records removed (or given another TTL), some added.
fn random_delta(zone: &Zone, rng: &mut Rng) -> ZoneDelta {
    let records = zone.records().to_vec();
    let names = names_of(zone, rng);
    let mut removed = Vec::new();
    let mut added = Vec::new();
    for _ in 0..rng() % 3 {
        removed.push(pick(rng, &records).clone());
    }
    for _ in 0..rng() % 4 {
        added.push(random_record(zone, &names, rng));
    }
    if rng().is_multiple_of(3) {
        // A TTL change, or the same record with another TTL beside it (a duplicate).
        let r = pick(rng, &records).clone();
        if rng().is_multiple_of(2) {
            removed.push(r.clone());
        }
        added.push(Record {
            ttl: r.ttl.wrapping_add(1 + (rng() % 100) as u32),
            ..r
        });
    }
    if rng().is_multiple_of(4) {
        // A new serial, as every real change brings.
        let soa = zone.soa_record().clone();
        let mut fields = zone.soa();
        fields.serial = fields.serial.wrapping_add(1);
        removed.push(soa.clone());
        added.push(Record {
            rdata: fields.to_rdata(),
            ..soa
        });
    }
    removed.sort_by(Record::canonical_cmp);
    removed.dedup();
    added.sort_by(Record::canonical_cmp);
    added.dedup();
    added.retain(|a| {
        removed.binary_search_by(|r| r.canonical_cmp(a)).is_err()
            && records.binary_search_by(|r| r.canonical_cmp(a)).is_err()
    });
    ZoneDelta::new(removed, added).expect("a delta built in order")
}

/// Limits that are sometimes right at the zone's figures, so that a change crosses them.
fn random_limits(zone: &Zone, rng: &mut Rng) -> Limits {
    let mut limits = Limits::default();
    match rng() % 8 {
        0 => limits.records_max = zone.len() + (rng() % 3) as usize - 1,
        1 => limits.body_bytes_max = zone.body_len() + (rng() % 40) as usize - 20,
        2 => limits.ttl_min = *pick(rng, &[1, 60, 301]),
        3 => limits.ttl_max = *pick(rng, &[300, 3600, 86_400]),
        _ => {}
    }
    limits
}

#[derive(Default)]
struct Tally {
    applied: usize,
    accepted: usize,
    refused: usize,
    /// Refusals by their first rule.
    first_rules: std::collections::BTreeMap<&'static str, usize>,
}

impl Tally {
    /// Every rule a change can break was the first one broken in some refusal.
    fn assert_every_rule_seen(&self) {
        let wanted = [
            "records-max",
            "body-bytes-max",
            "ttl-range",
            "malformed-rdata",
            "duplicate",
            "no-soa",
            "extra-soa",
            "no-apex-ns",
            "out-of-zone",
            "cname-conflict",
            "multiple-dname",
            "dname-and-ns",
            "below-dname",
            "nested-delegation",
            "missing-glue",
        ];
        for rule in wanted {
            assert!(
                self.first_rules.contains_key(rule),
                "no change was refused first for {rule}: {:?}",
                self.first_rules
            );
        }
    }
}

/// Applies `steps` random changes from `seed` zone, comparing the two ways at every step.
fn run_sequence(seed: &Zone, steps: usize, rng: &mut Rng, tally: &mut Tally, label: &str) {
    let mut zone = seed.clone();
    for step in 0..steps {
        let delta = random_delta(&zone, rng);
        let limits = random_limits(&zone, rng);
        let records = delta
            .apply_records(zone.records())
            .expect("delta fits its base");
        let full = validate(
            ParsedZone {
                origin: zone.origin().clone(),
                records: records.to_vec(),
            },
            &limits,
        );
        let incremental = zone.apply(&delta, &limits);
        let alone = zone.apply_incrementally(&delta, &limits).expect("fits");
        let context = || format!("{label} step {step}: {delta:?} under {limits:?} on {zone:?}");
        match (&full, &incremental) {
            (Ok(f), Ok(i)) => {
                assert_eq!(f.records(), i.records(), "{}", context());
                // Both hash trees computed, the merge steps over equal leaves: the change
                // found is still exactly the change made.
                let _ = (zone.hash(), i.hash());
                assert_eq!(ZoneDelta::between(&zone, i), delta, "{}", context());
                // The diff the gate measures, read from the change alone, is the full one.
                assert_eq!(
                    Diff::of_change(&zone, i, &delta),
                    Diff::between(&zone, i),
                    "{}",
                    context()
                );
                assert_eq!(f.body_len(), i.body_len(), "{}", context());
                assert_eq!(f.body().len(), i.body_len(), "{}", context());
            }
            (Err(f), Err(ApplyError::Invalid(i))) => assert_eq!(f, i, "{}", context()),
            _ => panic!("{}: full {full:?}, incremental {incremental:?}", context()),
        }
        assert_eq!(
            alone.is_some(),
            full.is_ok(),
            "the check alone disagrees: {}: full {full:?}",
            context()
        );
        tally.applied += 1;
        match incremental {
            Ok(next) => {
                tally.accepted += 1;
                zone = next;
            }
            Err(e) => {
                tally.refused += 1;
                if let ApplyError::Invalid(i) = e {
                    *tally.first_rules.entry(i.first_rule()).or_default() += 1;
                }
            }
        }
    }
}

#[test]
fn incremental_validation_decides_as_full_validation_on_ferret_zones() {
    let cases = ferret::load(ferret::VALID);
    let mut rng: Rng = Box::new(xorshift(0x9e37_79b9_7f4a_7c15));
    let mut tally = Tally::default();
    let mut seeds = 0;
    for case in &cases {
        let text = case["zone"].as_str().expect("zone");
        let Ok(parsed) = parse(text, None, "ferret") else {
            continue;
        };
        let Ok(zone) = validate(parsed, &Limits::default()) else {
            continue;
        };
        seeds += 1;
        let id = case["id"].as_str().unwrap_or("?");
        for _ in 0..rounds() {
            run_sequence(&zone, 3, &mut rng, &mut tally, id);
        }
    }
    assert!(seeds > 8000, "only {seeds} valid Ferret zones");
    assert!(tally.accepted > 1000 && tally.refused > 1000);
    eprintln!(
        "{seeds} Ferret seeds: {} changes, {} accepted, {} refused {:?}",
        tally.applied, tally.accepted, tally.refused, tally.first_rules
    );
    tally.assert_every_rule_seen();
}

/// A valid zone of `size` names with delegations and glue, CNAMEs, DNAMEs and wildcards.
fn generated(size: usize, rng: &mut Rng) -> Zone {
    let origin = "gen.example.";
    let mut text = format!(
        "{origin} 300 IN SOA ns1.{origin} hm.{origin} 1 7200 3600 1209600 300\n\
         {origin} 300 IN NS ns1.{origin}\nns1.{origin} 300 IN A 192.0.2.1\n"
    );
    for i in 0..size {
        let line = match rng() % 7 {
            0 => {
                format!("d{i}.{origin} 300 NS ns.d{i}.{origin}\nns.d{i}.{origin} 300 A 192.0.2.2\n")
            }
            1 => format!("c{i}.{origin} 300 CNAME h{}.{origin}\n", rng() % 5),
            2 => format!("r{i}.{origin} 300 DNAME other.\n"),
            3 => format!("*.w{i}.{origin} 300 A 192.0.2.3\nx.w{i}.{origin} 300 TXT t\n"),
            4 => format!("o{i}.{origin} 300 NS ns1.{origin}\n"),
            _ => format!(
                "h{i}.{origin} 300 A 192.0.2.{}\nh{i}.{origin} 300 AAAA 2001:db8::1\n",
                i % 200
            ),
        };
        text.push_str(&line);
    }
    validate(
        parse(&text, None, "gen").expect("parses"),
        &Limits::default(),
    )
    .expect("valid")
}

#[test]
fn incremental_validation_decides_as_full_validation_on_generated_zones() {
    let mut rng: Rng = Box::new(xorshift(0x2545_f491_4f6c_dd1d));
    let mut tally = Tally::default();
    for i in 0..200 * rounds() {
        let zone = generated(1 + i % 40, &mut rng);
        run_sequence(&zone, 10, &mut rng, &mut tally, &format!("generated {i}"));
    }
    assert!(tally.accepted > 300 && tally.refused > 300);
    eprintln!(
        "generated seeds: {} changes, {} accepted, {} refused {:?}",
        tally.applied, tally.accepted, tally.refused, tally.first_rules
    );
    tally.assert_every_rule_seen();
}
