//! Tests of the lookup algorithm against small hand-built zones.

use super::*;
use crate::dns::record::Soa;
use crate::zone::ParsedZone;
use crate::zone::limits::Limits;
use crate::zone::validate::validate;

fn n(s: &str) -> Name {
    Name::parse(s).unwrap()
}

fn name_rdata(s: &str) -> Box<[u8]> {
    let mut v = Vec::new();
    n(s).write_wire(&mut v);
    v.into_boxed_slice()
}

fn rec(owner: &str, ttl: u32, rtype: RType, rdata: Box<[u8]>) -> Record {
    Record {
        owner: n(owner),
        rtype,
        ttl,
        rdata,
    }
}

fn a(owner: &str, ip: [u8; 4]) -> Record {
    rec(owner, 300, RType::A, Box::new(ip))
}

fn aaaa(owner: &str, last: u8) -> Record {
    let mut ip = [0u8; 16];
    ip[0] = 0x20;
    ip[1] = 0x01;
    ip[15] = last;
    rec(owner, 300, RType::AAAA, Box::new(ip))
}

fn ns(owner: &str, target: &str) -> Record {
    rec(owner, 3600, RType::NS, name_rdata(target))
}

fn cname(owner: &str, target: &str) -> Record {
    rec(owner, 600, RType::CNAME, name_rdata(target))
}

fn dname(owner: &str, target: &str) -> Record {
    rec(owner, 700, RType::DNAME, name_rdata(target))
}

fn txt(owner: &str, text: &str) -> Record {
    let mut v = vec![text.len() as u8];
    v.extend_from_slice(text.as_bytes());
    rec(owner, 300, RType::TXT, v.into_boxed_slice())
}

fn mx(owner: &str, pref: u16, target: &str) -> Record {
    let mut v = pref.to_be_bytes().to_vec();
    n(target).write_wire(&mut v);
    rec(owner, 300, RType::MX, v.into_boxed_slice())
}

fn srv(owner: &str, target: &str) -> Record {
    let mut v = vec![0, 1, 0, 2, 0x13, 0xc4];
    n(target).write_wire(&mut v);
    rec(owner, 300, RType::SRV, v.into_boxed_slice())
}

fn soa(origin: &str, ttl: u32, minimum: u32) -> Record {
    let s = Soa {
        mname: n(&format!("ns1.{origin}")),
        rname: n(&format!("hostmaster.{origin}")),
        serial: 1,
        refresh: 3600,
        retry: 600,
        expire: 86400,
        minimum,
    };
    rec(origin, ttl, RType::SOA, s.to_rdata())
}

fn index(origin: &str, extra: Vec<Record>) -> ZoneIndex {
    let ns1 = format!("ns1.{origin}");
    let mut records = vec![
        soa(origin, 3600, 300),
        ns(origin, &ns1),
        a(&ns1, [192, 0, 2, 53]),
    ];
    records.extend(extra);
    let zone = validate(
        ParsedZone {
            origin: n(origin),
            records,
        },
        &Limits::default(),
    )
    .expect("valid test zone");
    ZoneIndex::new(zone)
}

fn example() -> ZoneIndex {
    index(
        "example.",
        vec![
            a("www.example.", [192, 0, 2, 1]),
            a("www.example.", [192, 0, 2, 2]),
            aaaa("www.example.", 1),
            txt("a.b.c.example.", "deep"),
            // Delegation with in-bailiwick glue and an out-of-zone server.
            ns("sub.example.", "ns.sub.example."),
            ns("sub.example.", "ns.elsewhere.test."),
            a("ns.sub.example.", [192, 0, 2, 99]),
            aaaa("ns.sub.example.", 99),
            cname("alias.example.", "www.example."),
            cname("chain1.example.", "chain2.example."),
            cname("chain2.example.", "www.example."),
            cname("out.example.", "www.elsewhere.test."),
            cname("dangling.example.", "nothere.example."),
            cname("loop1.example.", "loop2.example."),
            cname("loop2.example.", "loop1.example."),
            cname("todeleg.example.", "host.sub.example."),
            dname("old.example.", "new.example."),
            a("host.new.example.", [192, 0, 2, 7]),
            dname("far.example.", "elsewhere.test."),
            a("*.wild.example.", [192, 0, 2, 42]),
            txt("*.wild.example.", "wild"),
            a("exists.wild.example.", [192, 0, 2, 43]),
            txt(
                "x.ent.wild.example.",
                "makes ent.wild an empty non-terminal",
            ),
            cname("*.cw.example.", "www.example."),
            mx("mail.example.", 10, "mx.example."),
            a("mx.example.", [192, 0, 2, 25]),
            srv("_sip._tcp.example.", "sip.example."),
            aaaa("sip.example.", 5),
        ],
    )
}

/// `shapes` says which query types share an answer; check it against `resolve` for every
/// name of the example zone, a spread of types, and a missing child of each name.
#[test]
fn shapes_agree_with_resolve() {
    let idx = example();
    let probe: Vec<RType> = [
        0u16, 1, 2, 5, 6, 12, 15, 16, 28, 33, 39, 43, 46, 99, 65280, 65535,
    ]
    .into_iter()
    .map(RType)
    .collect();
    let mut seen = 0;
    for (w, shape) in idx.shapes() {
        let (name, _) = Name::from_wire(w).unwrap();
        assert_eq!(w, name.wire());
        if let Some(other) = shape.others {
            assert!(!shape.types.contains(&other), "{name}");
            let shared = idx.resolve(&name, other);
            for &t in &probe {
                if shape.types.contains(&t) {
                    continue;
                }
                assert_eq!(idx.resolve(&name, t), shared, "{name} {t:?}");
            }
        }
        if shape.nxdomain_below {
            let missing = Name::parse(&format!("zz-missing.{name}")).unwrap();
            assert!(!idx.contains(&missing));
            for &t in &probe {
                assert_eq!(idx.resolve(&missing, t), idx.nxdomain(), "{missing} {t:?}");
            }
        }
        seen += 1;
    }
    assert_eq!(seen, idx.nodes.len());
    // The shapes that matter: a cut, a CNAME, a DNAME owner, a wildcard parent.
    let shape = |s: &str| {
        idx.shapes()
            .find(|(w, _)| *w == n(s).wire())
            .map(|(_, sh)| sh)
            .unwrap()
    };
    assert_eq!(shape("sub.example.").types, vec![DS]);
    assert!(shape("sub.example.").others.is_some());
    assert!(shape("ns.sub.example.").types.is_empty());
    assert!(shape("alias.example.").others.is_none());
    assert!(!shape("old.example.").nxdomain_below);
    assert!(!shape("wild.example.").nxdomain_below);
    assert!(shape("example.").nxdomain_below);
    assert!(shape("www.example.").nxdomain_below);
    assert!(shape("host.new.example.").nxdomain_below);
}

fn owners_types(records: &[Record]) -> Vec<(String, RType)> {
    records
        .iter()
        .map(|r| (r.owner.to_string(), r.rtype))
        .collect()
}

#[test]
fn exact_match_is_authoritative() {
    let ix = example();
    let ans = ix.lookup(&n("WWW.Example."), RType::A);
    assert_eq!(ans.rcode, Rcode::NoError);
    assert!(ans.authoritative);
    assert_eq!(ans.answer.len(), 2);
    assert!(
        ans.answer
            .iter()
            .all(|r| r.rtype == RType::A && r.owner == n("www.example."))
    );
    assert!(ans.authority.is_empty());
    let ans = ix.lookup(&n("example."), RType::SOA);
    assert_eq!(
        owners_types(&ans.answer),
        vec![("example.".into(), RType::SOA)]
    );
}

#[test]
fn outside_the_zone_is_refused() {
    let ix = example();
    let ans = ix.lookup(&n("www.other."), RType::A);
    assert_eq!(ans.rcode, Rcode::Refused);
    assert!(!ans.authoritative);
    assert!(ans.answer.is_empty() && ans.authority.is_empty());
}

#[test]
fn nxdomain_and_nodata_carry_the_soa_with_the_negative_ttl() {
    let ix = index("example.", vec![a("www.example.", [192, 0, 2, 1])]);
    // SOA TTL 3600, minimum 300: the negative TTL is 300.
    let nx = ix.lookup(&n("nope.example."), RType::A);
    assert_eq!(nx.rcode, Rcode::NxDomain);
    assert!(nx.authoritative);
    assert!(nx.answer.is_empty());
    assert_eq!(
        owners_types(&nx.authority),
        vec![("example.".into(), RType::SOA)]
    );
    assert_eq!(nx.authority[0].ttl, 300);
    let nodata = ix.lookup(&n("www.example."), RType::TXT);
    assert_eq!(nodata.rcode, Rcode::NoError);
    assert!(nodata.answer.is_empty());
    assert_eq!(
        owners_types(&nodata.authority),
        vec![("example.".into(), RType::SOA)]
    );
    // SOA TTL below the minimum: the SOA TTL wins.
    let mut records = vec![soa("low.", 60, 3600), ns("low.", "ns.other.")];
    records.push(a("a.low.", [1, 2, 3, 4]));
    let zone = validate(
        ParsedZone {
            origin: n("low."),
            records,
        },
        &Limits::default(),
    )
    .unwrap();
    let ix = ZoneIndex::new(zone);
    assert_eq!(ix.lookup(&n("b.low."), RType::A).authority[0].ttl, 60);
}

#[test]
fn empty_non_terminal_is_nodata_not_nxdomain() {
    let ix = example();
    for name in ["b.c.example.", "c.example."] {
        let ans = ix.lookup(&n(name), RType::A);
        assert_eq!(ans.rcode, Rcode::NoError, "{name}");
        assert!(ans.answer.is_empty());
        assert_eq!(
            owners_types(&ans.authority),
            vec![("example.".into(), RType::SOA)]
        );
    }
    assert_eq!(
        ix.lookup(&n("x.b.c.example."), RType::A).rcode,
        Rcode::NxDomain
    );
    assert!(ix.contains(&n("c.example.")));
}

#[test]
fn referral_below_a_delegation() {
    let ix = example();
    for (qname, qtype) in [
        ("sub.example.", RType::A),
        ("sub.example.", RType::NS),
        ("host.sub.example.", RType::A),
        ("ns.sub.example.", RType::A),
        ("deep.x.sub.example.", RType::TXT),
    ] {
        let ans = ix.lookup(&n(qname), qtype);
        assert_eq!(ans.rcode, Rcode::NoError, "{qname}");
        assert!(!ans.authoritative, "{qname} must be a referral");
        assert!(ans.answer.is_empty());
        assert_eq!(ans.authority.len(), 2);
        assert!(
            ans.authority
                .iter()
                .all(|r| r.rtype == RType::NS && r.owner == n("sub.example."))
        );
        // Glue for the in-zone server, nothing for the out-of-zone one.
        assert_eq!(
            owners_types(&ans.additional),
            vec![
                ("ns.sub.example.".into(), RType::A),
                ("ns.sub.example.".into(), RType::AAAA)
            ]
        );
    }
    assert!(ix.is_delegation(&n("sub.example.")));
    assert!(!ix.is_delegation(&n("example.")));
}

#[test]
fn ds_at_a_delegation_is_answered_by_the_parent() {
    let ix = example();
    let ans = ix.lookup(&n("sub.example."), DS);
    assert!(ans.authoritative);
    assert_eq!(ans.rcode, Rcode::NoError);
    assert!(ans.answer.is_empty());
    assert_eq!(
        owners_types(&ans.authority),
        vec![("example.".into(), RType::SOA)]
    );
    // DS below the cut is still a referral.
    assert!(!ix.lookup(&n("x.sub.example."), DS).authoritative);
    // A DS set the parent holds is returned.
    let ds = rec("sub.example.", 300, DS, Box::new([0, 1, 8, 2, 0xaa]));
    let ix = index(
        "example.",
        vec![ns("sub.example.", "ns.other."), ds.clone()],
    );
    let ans = ix.lookup(&n("sub.example."), DS);
    assert!(ans.authoritative);
    assert_eq!(ans.answer, vec![ds]);
}

#[test]
fn cname_is_chased_inside_the_zone() {
    let ix = example();
    let ans = ix.lookup(&n("chain1.example."), RType::A);
    assert!(ans.authoritative);
    assert_eq!(
        owners_types(&ans.answer),
        vec![
            ("chain1.example.".into(), RType::CNAME),
            ("chain2.example.".into(), RType::CNAME),
            ("www.example.".into(), RType::A),
            ("www.example.".into(), RType::A),
        ]
    );
    // Asking for the CNAME itself does not chase.
    let ans = ix.lookup(&n("alias.example."), RType::CNAME);
    assert_eq!(
        owners_types(&ans.answer),
        vec![("alias.example.".into(), RType::CNAME)]
    );
    // ANY at a CNAME returns the CNAME.
    let ans = ix.lookup(&n("alias.example."), RType::ANY);
    assert_eq!(
        owners_types(&ans.answer),
        vec![("alias.example.".into(), RType::CNAME)]
    );
    // A target outside the zone ends the chain.
    let ans = ix.lookup(&n("out.example."), RType::A);
    assert_eq!(ans.rcode, Rcode::NoError);
    assert_eq!(
        owners_types(&ans.answer),
        vec![("out.example.".into(), RType::CNAME)]
    );
    assert!(ans.authority.is_empty());
}

#[test]
fn cname_to_missing_name_or_type_is_negative_with_the_chain() {
    let ix = example();
    let ans = ix.lookup(&n("dangling.example."), RType::A);
    assert_eq!(ans.rcode, Rcode::NxDomain);
    assert!(ans.authoritative);
    assert_eq!(
        owners_types(&ans.answer),
        vec![("dangling.example.".into(), RType::CNAME)]
    );
    assert_eq!(
        owners_types(&ans.authority),
        vec![("example.".into(), RType::SOA)]
    );
    let ans = ix.lookup(&n("alias.example."), RType::TXT);
    assert_eq!(ans.rcode, Rcode::NoError);
    assert_eq!(
        owners_types(&ans.answer),
        vec![("alias.example.".into(), RType::CNAME)]
    );
    assert_eq!(
        owners_types(&ans.authority),
        vec![("example.".into(), RType::SOA)]
    );
}

#[test]
fn cname_loops_and_long_chains_stop() {
    let ix = example();
    let ans = ix.lookup(&n("loop1.example."), RType::A);
    assert_eq!(ans.rcode, Rcode::NoError);
    assert_eq!(
        owners_types(&ans.answer),
        vec![
            ("loop1.example.".into(), RType::CNAME),
            ("loop2.example.".into(), RType::CNAME)
        ]
    );
    // A self-loop.
    let ix2 = index("example.", vec![cname("self.example.", "self.example.")]);
    assert_eq!(ix2.lookup(&n("self.example."), RType::A).answer.len(), 1);
    // A chain of 40 CNAMEs stops after CHAIN_MAX redirections.
    let chain: Vec<Record> = (0..40)
        .map(|i| cname(&format!("c{i}.example."), &format!("c{}.example.", i + 1)))
        .collect();
    let ix3 = index("example.", chain);
    let ans = ix3.lookup(&n("c0.example."), RType::A);
    assert_eq!(ans.answer.len(), CHAIN_MAX + 1);
}

#[test]
fn cname_into_a_delegation_ends_in_a_referral() {
    let ix = example();
    let ans = ix.lookup(&n("todeleg.example."), RType::A);
    assert_eq!(
        owners_types(&ans.answer),
        vec![("todeleg.example.".into(), RType::CNAME)]
    );
    assert!(
        ans.authority
            .iter()
            .all(|r| r.rtype == RType::NS && r.owner == n("sub.example."))
    );
    assert_eq!(ans.authority.len(), 2);
}

#[test]
fn dname_substitutes_and_synthesises_a_cname() {
    let ix = example();
    let ans = ix.lookup(&n("host.old.example."), RType::A);
    assert_eq!(ans.rcode, Rcode::NoError);
    assert!(ans.authoritative);
    assert_eq!(
        owners_types(&ans.answer),
        vec![
            ("old.example.".into(), RType::DNAME),
            ("host.old.example.".into(), RType::CNAME),
            ("host.new.example.".into(), RType::A),
        ]
    );
    let synth = &ans.answer[1];
    assert_eq!(synth.ttl, 700, "the synthesised CNAME has the DNAME's TTL");
    assert_eq!(synth.target_name(), Some(n("host.new.example.")));
    // Deeper names are substituted too; a missing target is NXDOMAIN.
    let ans = ix.lookup(&n("a.b.old.example."), RType::A);
    assert_eq!(ans.rcode, Rcode::NxDomain);
    assert_eq!(ans.answer[1].target_name(), Some(n("a.b.new.example.")));
    // The DNAME owner itself is not redirected.
    let ans = ix.lookup(&n("old.example."), RType::A);
    assert!(ans.answer.is_empty());
    assert_eq!(
        owners_types(&ans.authority),
        vec![("example.".into(), RType::SOA)]
    );
    let ans = ix.lookup(&n("old.example."), RType::DNAME);
    assert_eq!(
        owners_types(&ans.answer),
        vec![("old.example.".into(), RType::DNAME)]
    );
    // A target outside the zone stops after the synthesised CNAME.
    let ans = ix.lookup(&n("www.far.example."), RType::A);
    assert_eq!(ans.answer.len(), 2);
    assert_eq!(ans.answer[1].target_name(), Some(n("www.elsewhere.test.")));
}

#[test]
fn dname_pointing_below_itself_is_applied_once() {
    let ix = index("example.", vec![dname("d.example.", "x.d.example.")]);
    let ans = ix.lookup(&n("q.d.example."), RType::A);
    assert_eq!(ans.rcode, Rcode::NoError);
    assert_eq!(
        owners_types(&ans.answer),
        vec![
            ("d.example.".into(), RType::DNAME),
            ("q.d.example.".into(), RType::CNAME)
        ]
    );
    assert_eq!(ans.answer[1].target_name(), Some(n("q.x.d.example.")));
    // A DNAME applied again after a CNAME leads back under it is followed normally.
    let ix = index(
        "example.",
        vec![
            dname("a.example.", "b.example."),
            cname("x.b.example.", "y.a.example."),
            txt("y.b.example.", "end"),
        ],
    );
    let ans = ix.lookup(&n("x.a.example."), RType::TXT);
    assert_eq!(ans.answer.len(), 6);
    assert_eq!(ans.answer[5].owner, n("y.b.example."));
}

#[test]
fn dname_substitution_that_is_too_long_is_yxdomain() {
    let long = format!(
        "{}.{}.{}.example.",
        "a".repeat(60),
        "b".repeat(60),
        "c".repeat(60)
    );
    let ix = index("example.", vec![dname("d.example.", &long)]);
    let q = format!("{}.d.example.", "q".repeat(63));
    let ans = ix.lookup(&n(&q), RType::A);
    assert_eq!(ans.rcode, Rcode::YxDomain);
    assert_eq!(
        owners_types(&ans.answer),
        vec![("d.example.".into(), RType::DNAME)]
    );
}

/// A wildcard that is an empty non-terminal synthesises NODATA; an origin whose first
/// label is `*` is not a wildcard of anything in the zone.
#[test]
fn wildcard_empty_non_terminal_and_wildcard_origin() {
    let idx = index(
        "example.",
        vec![txt("a.*.ent.example.", "below a wildcard ENT")],
    );
    let res = idx.lookup(&n("x.ent.example."), RType::A);
    assert_eq!(res.rcode, Rcode::NoError);
    assert!(res.answer.is_empty());
    assert_eq!(res.authority, vec![idx.negative_soa().unwrap().clone()]);
    let shape = idx
        .shapes()
        .find(|(w, _)| *w == n("ent.example.").wire())
        .unwrap()
        .1;
    assert!(!shape.nxdomain_below);

    let idx = index("*.example.", vec![a("www.*.example.", [192, 0, 2, 1])]);
    let res = idx.lookup(&n("nope.*.example."), RType::A);
    assert_eq!(res.rcode, Rcode::NxDomain);
    assert_eq!(idx.lookup(&n("www.*.example."), RType::A).answer.len(), 1);
}

#[test]
fn wildcards_synthesise_with_the_query_name() {
    let ix = example();
    let ans = ix.lookup(&n("anything.wild.example."), RType::A);
    assert!(ans.authoritative);
    assert_eq!(ans.rcode, Rcode::NoError);
    assert_eq!(
        owners_types(&ans.answer),
        vec![("anything.wild.example.".into(), RType::A)]
    );
    assert_eq!(&ans.answer[0].rdata[..], &[192, 0, 2, 42]);
    // Several labels below the closest encloser match too.
    let ans = ix.lookup(&n("a.b.wild.example."), RType::TXT);
    assert_eq!(
        owners_types(&ans.answer),
        vec![("a.b.wild.example.".into(), RType::TXT)]
    );
    // NODATA at a wildcard match when the type is missing.
    let ans = ix.lookup(&n("anything.wild.example."), RType::MX);
    assert_eq!(ans.rcode, Rcode::NoError);
    assert!(ans.answer.is_empty());
    assert_eq!(
        owners_types(&ans.authority),
        vec![("example.".into(), RType::SOA)]
    );
    // ANY at a wildcard match returns every set, renamed.
    let ans = ix.lookup(&n("q.wild.example."), RType::ANY);
    assert_eq!(ans.answer.len(), 2);
    assert!(ans.answer.iter().all(|r| r.owner == n("q.wild.example.")));
}

#[test]
fn no_wildcard_match_for_existing_names_or_below_them() {
    let ix = example();
    // The name exists: its own data, NODATA if the type is missing.
    let ans = ix.lookup(&n("exists.wild.example."), RType::TXT);
    assert!(ans.answer.is_empty());
    assert_eq!(ans.rcode, Rcode::NoError);
    // An empty non-terminal blocks the wildcard for itself...
    let ans = ix.lookup(&n("ent.wild.example."), RType::A);
    assert!(ans.answer.is_empty());
    assert_eq!(ans.rcode, Rcode::NoError);
    // ...and below it the closest encloser is ent.wild, which has no wildcard child.
    let ans = ix.lookup(&n("y.ent.wild.example."), RType::A);
    assert_eq!(ans.rcode, Rcode::NxDomain);
    // Below an existing name the closest encloser is that name: no `*.exists.wild`.
    let ans = ix.lookup(&n("z.exists.wild.example."), RType::A);
    assert_eq!(ans.rcode, Rcode::NxDomain);
    // The wildcard name itself is answered literally.
    let ans = ix.lookup(&n("*.wild.example."), RType::A);
    assert_eq!(
        owners_types(&ans.answer),
        vec![("*.wild.example.".into(), RType::A)]
    );
}

#[test]
fn wildcard_cname_is_synthesised_and_chased() {
    let ix = example();
    let ans = ix.lookup(&n("foo.cw.example."), RType::A);
    assert_eq!(
        owners_types(&ans.answer),
        vec![
            ("foo.cw.example.".into(), RType::CNAME),
            ("www.example.".into(), RType::A),
            ("www.example.".into(), RType::A),
        ]
    );
}

#[test]
fn additional_section_for_ns_mx_srv_targets() {
    let ix = example();
    let ans = ix.lookup(&n("example."), RType::NS);
    assert_eq!(
        owners_types(&ans.additional),
        vec![("ns1.example.".into(), RType::A)]
    );
    let ans = ix.lookup(&n("mail.example."), RType::MX);
    assert_eq!(
        owners_types(&ans.additional),
        vec![("mx.example.".into(), RType::A)]
    );
    let ans = ix.lookup(&n("_sip._tcp.example."), RType::SRV);
    assert_eq!(
        owners_types(&ans.additional),
        vec![("sip.example.".into(), RType::AAAA)]
    );
    // No additional records for plain address answers.
    assert!(
        ix.lookup(&n("www.example."), RType::A)
            .additional
            .is_empty()
    );
}

#[test]
fn any_returns_every_set_at_the_name() {
    let ix = example();
    let ans = ix.lookup(&n("www.example."), RType::ANY);
    assert_eq!(ans.answer.len(), 3);
    let ans = ix.lookup(&n("c.example."), RType::ANY);
    assert!(ans.answer.is_empty());
    assert_eq!(
        owners_types(&ans.authority),
        vec![("example.".into(), RType::SOA)]
    );
}

#[test]
fn resolve_items_point_into_the_zone() {
    let ix = example();
    let res = ix.resolve(&n("host.old.example."), RType::A);
    assert!(matches!(res.answer[0], Item::Stored(_)));
    assert!(matches!(res.answer[1], Item::Synthesized(_)));
    let res = ix.resolve(&n("q.wild.example."), RType::A);
    assert!(
        matches!(&res.answer[0], Item::Wildcard { owner, .. } if *owner == n("q.wild.example."))
    );
    let res = ix.resolve(&n("nope.example."), RType::A);
    assert_eq!(res.authority, vec![Item::NegativeSoa]);
}
