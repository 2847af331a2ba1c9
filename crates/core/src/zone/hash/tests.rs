use super::*;
use crate::dns::record::RType;
use crate::testkit::{a, rec, txt, validated, xorshift, zone};
use crate::zone::Zone;
use crate::zone::limits::Limits;

/// A zone of `names` hosts, some with two or three records, so that leaves end between names
/// of one record and of several.
fn hosts(names: usize, seed: u64) -> Zone {
    let mut rand = xorshift(seed);
    let mut extra = vec![a("ns1.example.", [192, 0, 2, 53])];
    for i in 0..names {
        let owner = format!("h{i}.example.");
        for k in 0..=(rand() % 3) {
            extra.push(a(&owner, [10, (i >> 8) as u8, i as u8, k as u8]));
        }
    }
    zone("example.", 1, extra)
}

/// A random edit of `base`: records dropped, TTLs changed, records added to existing names and
/// new names, the serial moved. Returns the new content.
fn edited(base: &Zone, rand: &mut impl FnMut() -> u64) -> Zone {
    let keep_one_in = 2 + rand() % 200;
    let mut extra: Vec<Record> = Vec::new();
    for r in base.records().iter().filter(|r| r.rtype != RType::SOA) {
        if r.rtype == RType::NS || r.owner.to_string() == "ns1.example." {
            extra.push(r.clone());
            continue;
        }
        match rand() % keep_one_in {
            0 => {}
            1 => extra.push(Record {
                ttl: r.ttl + 1,
                ..r.clone()
            }),
            2 => {
                extra.push(r.clone());
                extra.push(txt(&r.owner.to_string(), &format!("beside {}", rand())));
            }
            _ => extra.push(r.clone()),
        }
    }
    for _ in 0..rand() % 4 {
        extra.push(txt(&format!("n{}.example.", rand() % 5000), "new"));
    }
    extra.sort_by(Record::canonical_cmp);
    extra.dedup();
    let serial = base.soa().serial + 1 + (rand() % 3) as u32;
    let mut records = vec![crate::testkit::soa("example.", serial)];
    records.extend(extra);
    validated("example.", records)
}

/// A fresh copy of a zone's content: its tree not computed.
fn fresh(z: &Zone) -> Zone {
    validated(&z.origin().to_string(), z.records().to_vec())
}

#[test]
fn the_tree_of_the_records_is_the_tree_of_their_body() {
    for seed in 1..6 {
        let z = hosts(3000, seed);
        let built = HashTree::build(z.records());
        let of_body = HashTree::of_body(&z.body()).unwrap();
        assert_eq!(built, of_body);
        assert!(built.leaf_count() > 3, "{} leaves", built.leaf_count());
        assert_eq!(ContentHash::tree(&z.body()).unwrap(), built.root());
        assert_eq!(z.hash(), built.root());
        // Leaves hold at least the minimum, except the last.
        for w in built.starts.windows(2) {
            assert!((w[1] - w[0]) as usize >= LEAF_RECORDS_MIN);
        }
    }
}

/// The root depends on the content only: every content reached by a chain of deltas (each
/// applied incrementally to the tree before it) has the root computed from scratch, and so
/// does the same content reached by another chain or by one delta from the start.
#[test]
fn the_root_is_independent_of_the_history_and_incremental_equals_from_scratch() {
    let limits = Limits::default();
    for seed in 1..9 {
        let mut rand = xorshift(seed * 7919);
        let start = hosts(2000, seed);
        start.hash();
        let mut current = start.clone();
        for step in 0..12 {
            let next = edited(&current, &mut rand);
            let delta = ZoneDelta::between(&current, &next);
            let applied = current.apply(&delta, &limits).unwrap();
            assert!(applied.tree.get().is_some(), "apply derives the tree");
            let scratch = fresh(&next);
            assert_eq!(
                applied.tree(),
                scratch.tree(),
                "seed {seed} step {step}: incremental tree differs"
            );
            assert_eq!(applied.hash(), ContentHash::tree(&next.body()).unwrap());
            current = applied;
        }
        // The last content straight from the first, in one delta: the same root.
        let direct = start
            .apply(&ZoneDelta::between(&start, &current), &limits)
            .unwrap();
        assert_eq!(direct.hash(), current.hash());
        // And back again to the first content: the first root.
        let back = current
            .apply(&ZoneDelta::between(&current, &start), &limits)
            .unwrap();
        assert_eq!(back.hash(), start.hash());
    }
}

/// Edits exactly at leaf boundaries: removing a leaf's first or last record, adding a record
/// of the last name of a leaf (which joins that leaf or moves its end), adding before the
/// first record and after the last.
#[test]
fn edits_at_leaf_boundaries_rehash_to_the_scratch_root() {
    let limits = Limits::default();
    let base = hosts(4000, 3);
    let tree = base.tree().clone();
    let records = base.records();
    let mut checked = 0;
    for (leaf, &start) in tree.starts.iter().enumerate() {
        let start = start as usize;
        let end = tree.leaf_end(leaf);
        for at in [start, end - 1] {
            let r = &records[at];
            if r.rtype == RType::SOA
                || r.rtype == RType::NS
                || r.owner.to_string() == "ns1.example."
            {
                continue;
            }
            let removed = ZoneDelta::new(vec![r.clone()], vec![]).unwrap();
            let joined = ZoneDelta::new(vec![], vec![txt(&r.owner.to_string(), "joins")]).unwrap();
            for delta in [removed, joined] {
                let applied = base.apply(&delta, &limits).unwrap();
                assert_eq!(
                    applied.tree(),
                    fresh(&applied).tree(),
                    "leaf {leaf} at {at}"
                );
                assert_ne!(applied.hash(), base.hash());
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "{checked} edits");
    // Before the first record (a name that sorts before the apex's children) and after the last.
    for owner in ["example.", "zzzz.example."] {
        let delta = ZoneDelta::new(vec![], vec![txt(owner, "edge")]).unwrap();
        let applied = base.apply(&delta, &limits).unwrap();
        assert_eq!(applied.tree(), fresh(&applied).tree(), "{owner}");
    }
}

/// One name with more records than a leaf holds: the cap splits it, an edit at its start
/// moves the cap's boundaries, and the incremental tree follows.
#[test]
fn a_name_with_more_records_than_the_cap_is_split_and_rehashed() {
    let mut extra = vec![a("ns1.example.", [192, 0, 2, 53])];
    for i in 0..(LEAF_RECORDS_MAX + 1500) {
        extra.push(txt("big.example.", &format!("{i:06}")));
    }
    let base = zone("example.", 1, extra);
    let tree = base.tree().clone();
    assert!(tree.leaf_count() >= 2);
    assert!(
        tree.starts
            .windows(2)
            .all(|w| ((w[1] - w[0]) as usize) <= LEAF_RECORDS_MAX)
    );
    let delta = ZoneDelta::new(vec![], vec![txt("big.example.", "000000 first")]).unwrap();
    let applied = base.apply(&delta, &Limits::default()).unwrap();
    assert_eq!(applied.tree(), fresh(&applied).tree());
}

/// Any change of any one record changes the root: dropping it, its TTL, one octet of its data.
#[test]
fn any_change_of_any_record_changes_the_root() {
    let base = hosts(600, 11);
    let root = base.hash();
    let mut rand = xorshift(5);
    let records = base.records();
    for i in 0..records.len() {
        let r = &records[i];
        let mut body_changes: Vec<Vec<Record>> = Vec::new();
        let mut without = records.to_vec();
        without.remove(i);
        body_changes.push(without);
        let mut ttl = records.to_vec();
        ttl[i].ttl ^= 1 << (rand() % 31);
        body_changes.push(ttl);
        if !r.rdata.is_empty() {
            let mut data = records.to_vec();
            let mut rdata = r.rdata.to_vec();
            let k = (rand() as usize) % rdata.len();
            rdata[k] ^= 1 << (rand() % 8);
            data[i].rdata = rdata.into();
            data.sort_by(Record::canonical_cmp);
            body_changes.push(data);
        }
        for changed in body_changes {
            assert_ne!(
                HashTree::build(&changed.into()).root(),
                root,
                "record {i}: {r:?}"
            );
        }
    }
}

#[test]
fn the_serial_is_replaced_in_the_tree() {
    let base = hosts(500, 2);
    base.hash();
    let moved = crate::zone::serial::with_serial(base, 77);
    assert_eq!(moved.soa().serial, 77);
    assert_eq!(moved.tree(), fresh(&moved).tree());
}

/// Old plans: a body recorded under its flat SHA-256 decodes, as one recorded under its tree
/// root does; any other hash is refused, naming the tree root.
#[test]
fn a_body_is_accepted_under_its_tree_root_or_its_flat_hash_only() {
    let z = hosts(300, 4);
    let body = z.body();
    let (tree, flat) = (ContentHash::tree(&body).unwrap(), ContentHash::flat(&body));
    assert_ne!(tree, flat);
    let limits = Limits::default();
    for recorded in [tree, flat] {
        assert!(recorded.matches_body(&body));
        let decoded = Zone::decode(z.origin(), &body, &recorded, &limits).unwrap();
        assert_eq!(decoded, z);
        // Decoding keeps the body's tree: the hash is the root either way.
        assert!(decoded.tree.get().is_some());
        assert_eq!(decoded.hash(), tree);
    }
    let other = ContentHash::flat(b"another body");
    assert!(!other.matches_body(&body));
    assert_eq!(
        Zone::decode(z.origin(), &body, &other, &limits),
        Err(DecodeError::HashMismatch {
            recorded: other,
            actual: tree
        })
    );
    // A body cut short has no tree, and matches only its own flat hash.
    let cut = &body[..body.len() - 1];
    assert!(ContentHash::tree(cut).is_err());
    assert!(!tree.matches_body(cut));
    assert!(ContentHash::flat(cut).matches_body(cut));
}

/// A body whose records are not in canonical order (never written by zonegate) still decodes
/// when its hash matches, and the zone's hash is then its canonical content's, not the body's.
#[test]
fn a_body_out_of_order_does_not_lend_its_tree_to_the_zone() {
    let z = hosts(40, 6);
    let mut shuffled = z.records().to_vec();
    shuffled.reverse();
    let mut body = Vec::new();
    for r in &shuffled {
        write_record(r, &mut body);
    }
    let recorded = ContentHash::tree(&body).unwrap();
    let decoded = Zone::decode(z.origin(), &body, &recorded, &Limits::default()).unwrap();
    assert_eq!(decoded.hash(), z.hash());
    assert_ne!(decoded.hash(), recorded);
}

/// Nor does a body in canonical order whose names are not lower case (found by
/// `fuzz/fuzz_targets/body.rs`): its records are lower-cased on decoding, so their body, and
/// so the zone's hash, is another one.
#[test]
fn a_body_with_upper_case_names_does_not_lend_its_tree_to_the_zone() {
    let z = hosts(40, 6);
    let mut body = z.body();
    // The last octet of the first label of the first record's owner, upper-cased.
    let at = usize::from(body[0]);
    body[at] = body[at].to_ascii_uppercase();
    assert_ne!(body, z.body());
    let recorded = ContentHash::flat(&body);
    let decoded = Zone::decode(z.origin(), &body, &recorded, &Limits::default()).unwrap();
    assert_eq!(decoded.hash(), z.hash());
    assert_eq!(decoded.hash(), ContentHash::tree(&decoded.body()).unwrap());
}

#[test]
fn the_tree_stays_small() {
    // 100k records here (the bench measures 1M): about 36 octets per leaf of ~256 names.
    let mut extra = vec![a("ns1.example.", [192, 0, 2, 53])];
    for i in 0..100_000u32 {
        let b = i.to_be_bytes();
        extra.push(rec(
            &format!("host-{i}.example."),
            300,
            RType::A,
            Box::new([10, b[1], b[2], b[3]]),
        ));
    }
    let z = zone("example.", 1, extra);
    let tree = z.tree();
    let per_leaf = z.len() / tree.leaf_count();
    assert!((150..400).contains(&per_leaf), "{per_leaf} records a leaf");
    assert!(
        tree.heap_size() < 36 * z.len() / 150,
        "{} octets",
        tree.heap_size()
    );
}
