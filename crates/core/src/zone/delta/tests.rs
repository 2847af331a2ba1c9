use super::*;
use crate::testkit::{a, cname, txt, xorshift, zone};

/// The glue of the testkit zone's NS `ns1.example.`, then `count` hosts.
fn hosts(count: usize, seed: u64) -> Vec<Record> {
    let mut rand = xorshift(seed);
    let glue = a("ns1.example.", [192, 0, 2, 53]);
    std::iter::once(glue)
        .chain((0..count).map(|i| {
            let last = (rand() % 250) as u8;
            a(&format!("h{i}.example."), [192, 0, 2, last])
        }))
        .collect()
}

/// Random edits of a zone: records dropped, added and TTLs changed, the SOA serial bumped.
fn edited(base: &Zone, seed: u64) -> Zone {
    let mut rand = xorshift(seed);
    let mut extra: Vec<Record> = base
        .records()
        .iter()
        .filter(|r| {
            r.rtype == RType::A
                && (r.owner.to_string() == "ns1.example." || !rand().is_multiple_of(7))
        })
        .cloned()
        .collect();
    for r in extra.iter_mut().filter(|_| rand().is_multiple_of(11)) {
        r.ttl += 1;
    }
    for i in 0..(rand() % 5) {
        extra.push(txt(&format!("new{seed}-{i}.example."), "added"));
    }
    zone("example.", 2 + seed as u32, extra)
}

#[test]
fn a_delta_between_two_contents_applies_to_the_first_and_gives_the_second() {
    let base = zone("example.", 1, hosts(300, 7));
    for seed in 0..40 {
        let new = edited(&base, seed);
        let delta = ZoneDelta::between(&base, &new);
        // The SOA changed, so at least the two SOA records are in it.
        assert!(delta.len() >= 2);
        let applied = base.apply(&delta, &Limits::default()).expect("applies");
        assert_eq!(applied, new);
        assert_eq!(applied.hash(), new.hash());
        // The stored form rebuilds the same canonical body.
        let body = delta.apply_body(&base.body()).expect("applies to the body");
        assert_eq!(body, new.body());
        // And the encoding reads back to the same delta.
        assert_eq!(ZoneDelta::decode(&delta.encode()).unwrap(), delta);
    }
}

#[test]
fn the_delta_of_a_content_to_itself_is_empty_and_changes_nothing() {
    let base = zone("example.", 1, hosts(20, 3));
    let delta = ZoneDelta::between(&base, &base);
    assert!(delta.is_empty());
    assert_eq!(base.apply(&delta, &Limits::default()).unwrap(), base);
    assert_eq!(delta.apply_body(&base.body()).unwrap(), base.body());
    assert_eq!(delta.encode().len(), 12);
}

#[test]
fn a_delta_applies_only_to_the_content_it_was_made_from() {
    let base = zone("example.", 1, hosts(50, 1));
    let other = zone("example.", 1, hosts(50, 2));
    let new = edited(&base, 5);
    let delta = ZoneDelta::between(&base, &new);
    let err = other.apply(&delta, &Limits::default()).unwrap_err();
    assert!(matches!(
        err,
        ApplyError::Delta(DeltaError::Missing { .. } | DeltaError::Present { .. })
    ));
    // Applying twice: the removed records are gone the second time.
    let err = new.apply(&delta, &Limits::default()).unwrap_err();
    assert!(matches!(err, ApplyError::Delta(_)), "{err:?}");
    assert!(delta.apply_body(&other.body()).is_err());
}

#[test]
fn applying_validates_the_result() {
    let mut records = hosts(0, 1);
    records.push(a("www.example.", [192, 0, 2, 1]));
    let base = zone("example.", 1, records);
    // A CNAME beside the A record breaks a validity rule.
    let delta = ZoneDelta::new(vec![], vec![cname("www.example.", "other.example.")]).unwrap();
    let err = base.apply(&delta, &Limits::default()).unwrap_err();
    assert!(matches!(err, ApplyError::Invalid(_)), "{err:?}");
}

#[test]
fn lists_must_be_ordered_and_disjoint() {
    let (x, y) = (
        a("x.example.", [192, 0, 2, 1]),
        a("y.example.", [192, 0, 2, 1]),
    );
    assert_eq!(
        ZoneDelta::new(vec![y.clone(), x.clone()], vec![]),
        Err(DeltaError::Unordered {
            list: DeltaList::Removed,
            index: 1
        })
    );
    assert!(matches!(
        ZoneDelta::new(vec![], vec![x.clone(), x.clone()]),
        Err(DeltaError::Unordered {
            list: DeltaList::Added,
            ..
        })
    ));
    assert!(matches!(
        ZoneDelta::new(vec![x.clone()], vec![x.clone(), y]),
        Err(DeltaError::Overlap { .. })
    ));
}

#[test]
fn a_malformed_encoding_is_refused_without_panicking() {
    let base = zone("example.", 1, hosts(10, 1));
    let new = edited(&base, 3);
    let bytes = ZoneDelta::between(&base, &new).encode();
    for cut in 0..bytes.len() {
        assert!(ZoneDelta::decode(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(ZoneDelta::decode(&longer).is_err());
    let mut wrong_tag = bytes.clone();
    wrong_tag[3] = b'2';
    assert_eq!(
        ZoneDelta::decode(&wrong_tag),
        Err(DeltaError::Malformed { offset: 0 })
    );
    // A count far beyond the bytes is malformed, not an allocation.
    let mut huge = TAG.to_vec();
    huge.extend_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        ZoneDelta::decode(&huge),
        Err(DeltaError::Malformed { .. })
    ));
}

#[test]
fn composed_deltas_apply_as_the_sequence_does() {
    for seed in 0..30u64 {
        let mut zones = vec![zone("example.", 1, hosts(120, seed))];
        for step in 0..(2 + seed % 6) {
            let next = edited(zones.last().unwrap(), seed * 100 + step);
            zones.push(next);
        }
        let deltas: Vec<ZoneDelta> = zones
            .windows(2)
            .map(|w| ZoneDelta::between(&w[0], &w[1]))
            .collect();
        let mut composed = deltas[0].clone();
        for d in &deltas[1..] {
            composed = composed.then(d).unwrap();
        }
        let first = zones[0].body();
        let last = zones.last().unwrap();
        assert_eq!(
            composed.apply_body(&first).unwrap(),
            last.body(),
            "seed {seed}"
        );
        // The same through the chain's rebuild, from the stored bytes.
        let stored = std::iter::once(first.clone()).chain(deltas.iter().map(ZoneDelta::encode));
        assert_eq!(crate::gate::chain::rebuild(stored).unwrap(), last.body());
        // Applying a delta and then its undo composes to nothing.
        let undo = ZoneDelta::between(last, &zones[0]);
        assert!(composed.then(&undo).unwrap().is_empty(), "seed {seed}");
    }
}

#[test]
fn a_composition_refuses_what_the_sequence_could_not_apply() {
    let base = zone("example.", 1, hosts(20, 3));
    let next = edited(&base, 4);
    let d = ZoneDelta::between(&base, &next);
    assert!(!d.removed().is_empty() && !d.added().is_empty());
    // The same change twice: its removals are gone and its additions present the second time.
    assert!(matches!(d.then(&d), Err(DeltaError::Missing { .. })));
    let adds = ZoneDelta::new(vec![], d.added().to_vec()).unwrap();
    assert!(matches!(adds.then(&adds), Err(DeltaError::Present { .. })));
    // Sequential application agrees.
    let once = d.apply_body(&base.body()).unwrap();
    assert!(d.apply_body(&once).is_err());
}

/// Applying chunk by chunk gives the merge's records wherever the delta applies, and the
/// merge's first error wherever it does not: on random edits of random zones of several chunks,
/// applied to the content they were made from and to other contents.
#[test]
fn applying_by_chunks_agrees_with_the_merge() {
    let mut applied = 0;
    for seed in 0..40u64 {
        let size = 20 + seed as usize * 60;
        let base = zone("example.", 1, hosts(size, seed));
        let new = edited(&base, seed + 100);
        let delta = ZoneDelta::between(&base, &new);
        let other = zone("example.", 1, hosts(size, seed + 1));
        for target in [&base, &new, &other] {
            let merged = delta.apply_merged(&target.records().to_vec());
            let chunked = delta.apply_records(target.records());
            match (&merged, &chunked) {
                (Ok(m), Ok(c)) => {
                    assert_eq!(c, m, "seed {seed}");
                    applied += 1;
                }
                (Err(m), Err(c)) => assert_eq!(c, m, "seed {seed}"),
                _ => panic!("seed {seed}: merge {merged:?}, by chunks {chunked:?}"),
            }
        }
        assert_eq!(delta.apply_records(base.records()).unwrap(), *new.records());
        if size > 2 * crate::zone::records::CHUNK {
            assert!(base.records().chunk_count() > 1, "seed {seed}");
        }
    }
    assert!(applied >= 40, "{applied}");
}

/// A chain composed in pairs is the change from its first content to its last, whatever its
/// length; no deltas compose to none.
#[test]
fn a_chain_composes_to_the_change_from_its_first_content_to_its_last() {
    assert_eq!(ZoneDelta::compose(Vec::new()), Ok(None));
    let mut contents = vec![zone("example.", 1, hosts(60, 7))];
    for step in 0..9u64 {
        let next = edited(contents.last().unwrap(), step + 200);
        contents.push(next);
    }
    for len in 1..contents.len() {
        let deltas = contents[..=len]
            .windows(2)
            .map(|w| ZoneDelta::between(&w[0], &w[1]))
            .collect();
        let composed = ZoneDelta::compose(deltas).unwrap().unwrap();
        assert_eq!(
            composed,
            ZoneDelta::between(&contents[0], &contents[len]),
            "{len} deltas"
        );
    }
}
