//! The UPDATE model: prescan, every prerequisite kind, the §3.4.2 special cases, grants, and
//! random messages against a plain reference model.

use std::collections::BTreeSet;

use crate::dns::name::Name;
use crate::dns::record::{RType, Record};
use crate::testkit::{a, cname, n, ns, soa, txt, validated, xorshift, zone};
use crate::update::*;
use crate::zone::Zone;
use crate::zone::limits::Limits;
use crate::zone::validate::validate;

const Z: &str = "example.com.";

fn base() -> Zone {
    zone(
        Z,
        10,
        vec![
            a("www.example.com.", [192, 0, 2, 1]),
            a("www.example.com.", [192, 0, 2, 2]),
            txt("t.example.com.", "hello"),
            cname("alias.example.com.", "www.example.com."),
            a("ns1.example.com.", [192, 0, 2, 53]),
        ],
    )
}

fn raw(r: &Record, class: Class) -> RawRr {
    RawRr {
        owner: r.owner.clone(),
        class,
        rtype: r.rtype,
        ttl: if class == Class::Zone { r.ttl } else { 0 },
        rdata: Some(r.rdata.to_vec()),
    }
}

fn empty(owner: &str, class: Class, rtype: RType) -> RawRr {
    RawRr {
        owner: n(owner),
        class,
        rtype,
        ttl: 0,
        rdata: None,
    }
}

fn zone_q() -> Vec<(Name, RType, Class)> {
    vec![(n(Z), RType::SOA, Class::Zone)]
}

fn read(prereqs: &[RawRr], updates: &[RawRr]) -> Result<UpdateMessage, UpdateRefusal> {
    UpdateMessage::read(&zone_q(), prereqs, updates)
}

/// Applies and validates: the new zone, `None` when unchanged.
fn run(z: &Zone, prereqs: &[RawRr], updates: &[RawRr]) -> Result<Option<Zone>, UpdateRefusal> {
    let msg = read(prereqs, updates)?;
    Ok(match apply(z, &msg)? {
        Applied::Unchanged => None,
        Applied::Changed(delta) => Some(changed(z, &delta)),
    })
}

/// The zone a change gives, both ways: the incremental [`Zone::apply`] and full validation of
/// the same records agree.
fn changed(z: &Zone, delta: &crate::zone::delta::ZoneDelta) -> Zone {
    let records = delta
        .apply_records(z.records())
        .expect("delta fits its base");
    let full = validate(
        crate::zone::ParsedZone {
            origin: z.origin().clone(),
            records: records.to_vec(),
        },
        &Limits::default(),
    );
    let incremental = z.apply(delta, &Limits::default());
    assert_eq!(full.clone().map_err(Into::into), incremental);
    full.expect("valid result")
}

fn has(z: &Zone, r: &Record) -> bool {
    z.records().iter().any(|x| x.same_record(r))
}

#[test]
fn zone_section_is_checked() {
    let bad_type = UpdateMessage::read(&[(n(Z), RType::A, Class::Zone)], &[], &[]);
    assert_eq!(bad_type.unwrap_err().rcode(), UpdateRcode::FormErr);
    let two = UpdateMessage::read(
        &[
            (n(Z), RType::SOA, Class::Zone),
            (n(Z), RType::SOA, Class::Zone),
        ],
        &[],
        &[],
    );
    assert_eq!(two.unwrap_err().rcode(), UpdateRcode::FormErr);
    let outside = read(
        &[],
        &[raw(&a("www.example.net.", [1, 2, 3, 4]), Class::Zone)],
    );
    assert!(matches!(outside, Err(UpdateRefusal::NotZone { .. })));
    assert_eq!(outside.unwrap_err().rcode(), UpdateRcode::NotZone);
}

#[test]
fn prescan_refuses_malformed_records() {
    let mut ttl = empty("www.example.com.", Class::Any, RType::A);
    ttl.ttl = 5;
    assert_eq!(
        read(&[ttl.clone()], &[]).unwrap_err().rcode(),
        UpdateRcode::FormErr
    );
    assert_eq!(read(&[], &[ttl]).unwrap_err().rcode(), UpdateRcode::FormErr);
    let meta = empty("www.example.com.", Class::Zone, RType::AXFR);
    assert_eq!(
        read(&[], &[meta]).unwrap_err().rcode(),
        UpdateRcode::FormErr
    );
    let mut bad = raw(&a("x.example.com.", [1, 2, 3, 4]), Class::Zone);
    bad.rdata = Some(vec![1, 2, 3]);
    assert!(matches!(
        read(&[], &[bad]),
        Err(UpdateRefusal::Malformed {
            what: Malformed::Rdata,
            ..
        })
    ));
    let other = raw(&a("x.example.com.", [1, 2, 3, 4]), Class::Other(3));
    assert_eq!(
        read(&[], &[other]).unwrap_err().rcode(),
        UpdateRcode::FormErr
    );
}

#[test]
fn each_prerequisite_kind_has_its_rcode() {
    let z = base();
    let www = "www.example.com.";
    let cases = [
        (
            empty("nope.example.com.", Class::Any, RType::ANY),
            UpdateRcode::NxDomain,
        ),
        (empty(www, Class::None, RType::ANY), UpdateRcode::YxDomain),
        (empty(www, Class::Any, RType::TXT), UpdateRcode::NxRrset),
        (empty(www, Class::None, RType::A), UpdateRcode::YxRrset),
        (
            raw(&a(www, [192, 0, 2, 1]), Class::Zone),
            UpdateRcode::NxRrset,
        ),
    ];
    for (p, code) in cases {
        let mut p = p;
        p.ttl = 0;
        let got = run(&z, &[p.clone()], &[]).unwrap_err();
        assert_eq!(got.rcode(), code, "{p:?}: {got}");
    }
    // And each holds when it should.
    let mut both: Vec<RawRr> = [a(www, [192, 0, 2, 1]), a(www, [192, 0, 2, 2])]
        .iter()
        .map(|r| raw(r, Class::Zone))
        .collect();
    both.iter_mut().for_each(|r| r.ttl = 0);
    let holds = [
        vec![empty(www, Class::Any, RType::ANY)],
        vec![empty("nope.example.com.", Class::None, RType::ANY)],
        vec![empty(www, Class::Any, RType::A)],
        vec![empty(www, Class::None, RType::TXT)],
        both,
    ];
    for p in holds {
        assert!(run(&z, &p, &[]).unwrap().is_none(), "{p:?}");
    }
}

#[test]
fn add_replace_delete() {
    let z = base();
    let new = a("new.example.com.", [198, 51, 100, 1]);
    let added = run(&z, &[], &[raw(&new, Class::Zone)]).unwrap().unwrap();
    assert!(has(&added, &new));
    assert_eq!(added.len(), z.len() + 1);
    // Replace as external-dns sends it: class-NONE delete of the old record plus the add.
    let old = a("www.example.com.", [192, 0, 2, 1]);
    let repl = a("www.example.com.", [192, 0, 2, 9]);
    let replaced = run(&z, &[], &[raw(&old, Class::None), raw(&repl, Class::Zone)])
        .unwrap()
        .unwrap();
    assert!(!has(&replaced, &old) && has(&replaced, &repl));
    // Delete an RRset, and a name.
    let gone = run(&z, &[], &[empty("www.example.com.", Class::Any, RType::A)])
        .unwrap()
        .unwrap();
    assert!(
        !gone
            .records()
            .iter()
            .any(|r| r.owner == n("www.example.com."))
    );
    let gone = run(&z, &[], &[empty("t.example.com.", Class::Any, RType::ANY)])
        .unwrap()
        .unwrap();
    assert_eq!(gone.len(), z.len() - 1);
}

#[test]
fn no_ops_take_no_change() {
    let z = base();
    let dup = raw(&a("www.example.com.", [192, 0, 2, 1]), Class::Zone);
    let absent = raw(&a("www.example.com.", [203, 0, 113, 1]), Class::None);
    let absent_set = empty("nope.example.com.", Class::Any, RType::A);
    assert!(run(&z, &[], &[dup, absent, absent_set]).unwrap().is_none());
}

#[test]
fn ttl_applies_to_the_whole_rrset() {
    let z = base();
    let mut r = a("www.example.com.", [192, 0, 2, 1]);
    r.ttl = 60;
    let out = run(&z, &[], &[raw(&r, Class::Zone)]).unwrap().unwrap();
    let ttls: BTreeSet<u32> = out
        .records()
        .iter()
        .filter(|x| x.owner == n("www.example.com.") && x.rtype == RType::A)
        .map(|x| x.ttl)
        .collect();
    assert_eq!(ttls, BTreeSet::from([60]));
}

#[test]
fn cname_conflicts_are_ignored() {
    let z = base();
    // A CNAME where other data lives, and data where a CNAME lives.
    let c = cname("www.example.com.", "t.example.com.");
    let d = a("alias.example.com.", [1, 2, 3, 4]);
    assert!(
        run(&z, &[], &[raw(&c, Class::Zone), raw(&d, Class::Zone)])
            .unwrap()
            .is_none()
    );
    // A CNAME replaces a CNAME.
    let c2 = cname("alias.example.com.", "t.example.com.");
    let out = run(&z, &[], &[raw(&c2, Class::Zone)]).unwrap().unwrap();
    assert!(has(&out, &c2));
    assert!(!has(&out, &cname("alias.example.com.", "www.example.com.")));
}

#[test]
fn apex_soa_and_ns_are_kept() {
    let z = base();
    let apex = [
        empty(Z, Class::Any, RType::SOA),
        empty(Z, Class::Any, RType::NS),
        empty(Z, Class::Any, RType::ANY),
        raw(&ns(Z, "ns1.example.com."), Class::None),
        raw(&soa(Z, 10), Class::None),
    ];
    assert!(run(&z, &[], &apex).unwrap().is_none());
    // An older SOA is ignored, a newer one replaces it.
    assert!(
        run(&z, &[], &[raw(&soa(Z, 9), Class::Zone)])
            .unwrap()
            .is_none()
    );
    let newer = run(&z, &[], &[raw(&soa(Z, 11), Class::Zone)])
        .unwrap()
        .unwrap();
    assert_eq!(newer.soa().serial, 11);
    // With a second NS, one of them may go.
    let two = run(&z, &[], &[raw(&ns(Z, "ns2.example.net."), Class::Zone)])
        .unwrap()
        .unwrap();
    let one = run(&two, &[], &[raw(&ns(Z, "ns1.example.com."), Class::None)])
        .unwrap()
        .unwrap();
    assert!(has(&one, &ns(Z, "ns2.example.net.")));
    assert!(!has(&one, &ns(Z, "ns1.example.com.")));
}

#[test]
fn a_failed_prerequisite_applies_nothing() {
    let z = base();
    let add = raw(&a("new.example.com.", [1, 2, 3, 4]), Class::Zone);
    let fail = empty("www.example.com.", Class::None, RType::ANY);
    assert!(run(&z, &[fail], &[add]).is_err());
}

#[test]
fn grants_limit_names_and_types() {
    let key = n("acme.");
    let grant = UpdateGrant {
        key: key.clone(),
        name: "_acme-challenge.*.example.com.".parse().unwrap(),
        types: vec![RType::TXT],
    };
    let apex = UpdateGrant {
        key: key.clone(),
        name: "_acme-challenge.example.com.".parse().unwrap(),
        types: vec![RType::TXT],
    };
    let grants = [grant, apex];
    let msg = |r: Record| read(&[], &[raw(&r, Class::Zone)]).unwrap().changes;
    let ok = msg(txt("_acme-challenge.www.example.com.", "tok"));
    assert!(check_grants(&grants, &key, &ok).is_ok());
    assert!(
        check_grants(
            &grants,
            &key,
            &msg(txt("_acme-challenge.example.com.", "t"))
        )
        .is_ok()
    );
    assert!(
        check_grants(
            &grants,
            &key,
            &msg(txt("_acme-challenge.a.b.example.com.", "t"))
        )
        .is_ok()
    );
    let wrong_type = msg(a("_acme-challenge.www.example.com.", [1, 2, 3, 4]));
    let e = check_grants(&grants, &key, &wrong_type).unwrap_err();
    assert_eq!(e.rcode(), UpdateRcode::Refused);
    assert!(e.to_string().contains("acme."), "{e}");
    let wrong_name = msg(txt("www.example.com.", "tok"));
    assert!(check_grants(&grants, &key, &wrong_name).is_err());
    let any = read(
        &[],
        &[empty(
            "_acme-challenge.www.example.com.",
            Class::Any,
            RType::ANY,
        )],
    )
    .unwrap()
    .changes;
    assert!(check_grants(&grants, &key, &any).is_err());
    // Another key has no grants: unrestricted.
    assert!(check_grants(&grants, &n("ops."), &wrong_name).is_ok());
    for bad in ["relative", "", "a..b."] {
        assert!(bad.parse::<UpdatePattern>().is_err(), "{bad}");
    }
    let below: UpdatePattern = "*.example.com.".parse().unwrap();
    assert!(below.matches(&n("a.b.example.com.")));
    assert!(!below.matches(&n("example.com.")));
}

/// Random messages of adds and deletes on a small zone, against a reference that keeps the
/// zone as a set of (name, type, data) and follows RFC 2136 §3.4.2 for the cases generated
/// (no CNAME, SOA or apex changes).
#[test]
fn random_messages_match_a_reference() {
    let names = ["a.example.com.", "b.example.com.", "c.b.example.com."];
    let mut next = xorshift(0x2136);
    for round in 0..300 {
        let z = base();
        let mut reference: BTreeSet<(Name, RType, crate::RecordData)> = z
            .records()
            .iter()
            .map(|r| (r.owner.clone(), r.rtype, r.rdata.clone()))
            .collect();
        let mut updates = Vec::new();
        for _ in 0..(next() % 8 + 1) {
            let owner = names[(next() % 3) as usize];
            let r = a(owner, [10, 0, 0, (next() % 4) as u8]);
            let key = (r.owner.clone(), r.rtype, r.rdata.clone());
            match next() % 4 {
                0 | 1 => {
                    reference.insert(key);
                    updates.push(raw(&r, Class::Zone));
                }
                2 => {
                    reference.remove(&key);
                    updates.push(raw(&r, Class::None));
                }
                _ => {
                    reference.retain(|(o, t, _)| !(*o == r.owner && *t == RType::A));
                    updates.push(empty(owner, Class::Any, RType::A));
                }
            }
        }
        let out = run(&z, &[], &updates).unwrap().unwrap_or(z);
        let got: BTreeSet<_> = out
            .records()
            .iter()
            .map(|r| (r.owner.clone(), r.rtype, r.rdata.clone()))
            .collect();
        assert_eq!(got, reference, "round {round}: {updates:?}");
    }
}

#[test]
fn the_zone_builder_is_valid() {
    // The base zone the tests share is itself a valid zone (glue for ns1 included).
    let z = base();
    assert_eq!(validated(Z, z.records().to_vec()), z);
}
