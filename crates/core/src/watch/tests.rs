//! The watch checks: choosing questions, judging answers, remembering state.

use super::*;
use crate::gate::Generation;
use crate::gate::policy::Floor;
use crate::lookup::ZoneIndex;
use crate::testkit::{a, cname, mx, n, ns, soa, zone};

fn example() -> ZoneIndex {
    ZoneIndex::new(zone(
        "example.test.",
        1,
        vec![
            a("ns1.example.test.", [192, 0, 2, 53]),
            a("www.example.test.", [192, 0, 2, 1]),
            a("www.example.test.", [192, 0, 2, 2]),
            cname("alias.example.test.", "www.example.test."),
            mx("example.test.", 10, "mail.elsewhere.test."),
        ],
    ))
}

fn answer(rcode: u16, aa: bool, answer: Vec<crate::Record>) -> Observed {
    Observed::Answer(ObservedAnswer {
        rcode,
        authoritative: aa,
        answer,
    })
}

fn check(name: &str, rtype: crate::RType) -> Check {
    Check {
        name: n(name),
        rtype,
    }
}

/// Generation 3, published with the zone file's serial 2024010103 (generation 2 had
/// 2024010102): serials are not generations.
const VIEW: ZoneView = ZoneView {
    published: Generation(3),
    serial: SERIAL_G3,
    published_at: Some(1_000),
};

const SERIAL_G3: u32 = 2_024_010_103;

/// The generation published with `serial`, as the store knows it.
fn generation_of(serial: u32) -> Option<Generation> {
    match serial {
        SERIAL_G3 => Some(Generation(3)),
        2_024_010_102 => Some(Generation(2)),
        _ => None,
    }
}

fn run(index: &ZoneIndex, soa_serial: u32, answers: Vec<(Check, Observed)>) -> Judgement {
    let obs = ServerObservation {
        soa: answer(0, true, vec![soa("example.test.", soa_serial)]),
        answers,
    };
    judge(
        "127.0.0.1:53",
        &n("example.test."),
        &VIEW,
        &obs,
        |serial| Claim {
            generation: generation_of(serial),
            content: ClaimedContent::Kept(index),
        },
        1_030,
    )
}

#[test]
fn the_same_answers_are_healthy() {
    let index = example();
    let www = index
        .lookup(&n("www.example.test."), crate::RType::A)
        .answer;
    let alias = index
        .lookup(&n("alias.example.test."), crate::RType::A)
        .answer;
    let j = run(
        &index,
        SERIAL_G3,
        vec![
            (
                check("www.example.test.", crate::RType::A),
                answer(0, true, www),
            ),
            (
                check("alias.example.test.", crate::RType::A),
                answer(0, true, alias),
            ),
        ],
    );
    assert_eq!(j.findings, vec![]);
    assert_eq!(
        (j.serial, j.lag_generations, j.lag_seconds),
        (Some(SERIAL_G3), Some(0), Some(0))
    );
}

#[test]
fn each_difference_is_its_finding() {
    let index = example();
    let www = check("www.example.test.", crate::RType::A);
    let cases = [
        (
            answer(0, true, vec![a("www.example.test.", [192, 0, 2, 9])]),
            FindingKind::Mismatch,
        ),
        (
            answer(0, false, index.lookup(&www.name, www.rtype).answer),
            FindingKind::Mismatch,
        ),
        (answer(2, false, vec![]), FindingKind::Mismatch),
        (answer(3, true, vec![]), FindingKind::Blackholed),
        (answer(0, true, vec![]), FindingKind::Blackholed),
        (Observed::Timeout, FindingKind::Blackholed),
    ];
    for (observed, kind) in cases {
        let j = run(&index, SERIAL_G3, vec![(www.clone(), observed.clone())]);
        assert_eq!(j.findings.len(), 1, "{observed:?}");
        let f = &j.findings[0];
        assert_eq!((f.kind, &f.name), (kind, &www.name), "{observed:?}");
        assert!(
            f.expected.contains("192.0.2.1") && f.expected.contains("192.0.2.2"),
            "{f}"
        );
    }
    // A changed TTL is a mismatch too.
    let mut longer = index.lookup(&www.name, www.rtype).answer;
    longer[0].ttl += 1;
    let j = run(
        &index,
        SERIAL_G3,
        vec![(www.clone(), answer(0, true, longer))],
    );
    assert_eq!(j.findings[0].kind, FindingKind::Mismatch);
}

#[test]
fn a_lagging_server_is_lagging_not_wrong() {
    let index = example();
    let www = check("www.example.test.", crate::RType::A);
    let right = answer(0, true, index.lookup(&www.name, www.rtype).answer);
    let obs = ServerObservation {
        soa: answer(0, true, vec![soa("example.test.", 2_024_010_102)]),
        answers: vec![(www.clone(), right.clone())],
    };
    let mut asked = None;
    let j = judge(
        "s",
        &n("example.test."),
        &VIEW,
        &obs,
        |serial| {
            asked = Some(serial);
            Claim {
                generation: generation_of(serial),
                content: ClaimedContent::Kept(&index),
            }
        },
        1_030,
    );
    assert_eq!(
        asked,
        Some(2_024_010_102),
        "judged against the generation its serial claims"
    );
    assert_eq!((j.lag_generations, j.lag_seconds), (Some(1), Some(30)));
    let kinds: Vec<_> = j.findings.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, vec![FindingKind::Lag]);
    assert!(
        j.findings[0]
            .got
            .contains("serial 2024010102: 1 generation(s) behind"),
        "{}",
        j.findings[0]
    );
    // A serial of a generation the store no longer keeps: lagging, by an unknown amount,
    // and its answers are not judged.
    let obs = ServerObservation {
        soa: answer(0, true, vec![soa("example.test.", 2_024_010_001)]),
        answers: vec![(www, answer(0, true, vec![]))],
    };
    let j = judge(
        "s",
        &n("example.test."),
        &VIEW,
        &obs,
        |serial| Claim {
            generation: generation_of(serial),
            content: ClaimedContent::Gone,
        },
        1_030,
    );
    assert_eq!((j.lag_generations, j.lag_seconds), (None, Some(30)));
    let kinds: Vec<_> = j.findings.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, vec![FindingKind::Lag]);
}

#[test]
fn no_soa_answer_is_unreachable_and_nothing_else_is_judged() {
    let index = example();
    let obs = ServerObservation {
        soa: Observed::Timeout,
        answers: vec![],
    };
    let j = judge(
        "s",
        &n("example.test."),
        &VIEW,
        &obs,
        |_| Claim {
            generation: None,
            content: ClaimedContent::Kept(&index),
        },
        0,
    );
    assert_eq!(j.serial, None);
    assert_eq!(j.findings.len(), 1);
    assert_eq!(j.findings[0].kind, FindingKind::Unreachable);
    let refused = ServerObservation {
        soa: answer(5, false, vec![]),
        answers: vec![],
    };
    let j = judge(
        "s",
        &n("example.test."),
        &VIEW,
        &refused,
        |_| Claim {
            generation: None,
            content: ClaimedContent::Gone,
        },
        0,
    );
    assert_eq!(j.findings[0].kind, FindingKind::Mismatch);
    assert_eq!(j.findings[0].got, "REFUSED");
}

#[test]
fn checks_cover_floors_expects_and_a_rotating_sample() {
    let z = zone(
        "example.test.",
        1,
        (0..10)
            .map(|i| a(&format!("h{i}.example.test."), [192, 0, 2, i]))
            .chain([
                a("ns1.example.test.", [192, 0, 2, 53]),
                ns("sub.example.test.", "ns.elsewhere.test."),
            ])
            .collect(),
    );
    let floors: Vec<Floor> = vec![
        toml::from_str::<Floor>(
            r#"name = "h9.example.test."
type = "A"
min = 1"#,
        )
        .unwrap(),
    ];
    let expects = vec![
        check("nothere.example.test.", crate::RType::AAAA),
        check("other.test.", crate::RType::A),
    ];
    // 13 owner names: the apex, ns1, h0..h9, sub; all fit in a sample of 100, and the SOA is
    // left out.
    let all = checks(&z, &floors, &expects, 100, 0);
    assert_eq!(all.len(), 1 + 1 + 10 + 1 + 1, "{all:?}");
    assert!(all.contains(&check("example.test.", crate::RType::NS)));
    assert!(!all.iter().any(|c| c.rtype == crate::RType::SOA));
    assert!(all.contains(&check("nothere.example.test.", crate::RType::AAAA)));
    assert!(
        !all.iter().any(|c| c.name == n("other.test.")),
        "outside the zone"
    );
    // A sample of 3 moves every round and always keeps the floor and the expectation.
    let mut seen = std::collections::BTreeSet::new();
    for round in 0..5 {
        let some = checks(&z, &floors, &expects, 3, round);
        assert!(some.contains(&check("h9.example.test.", crate::RType::A)));
        assert!(some.contains(&check("nothere.example.test.", crate::RType::AAAA)));
        assert!(some.len() <= 3 + 2, "{some:?}");
        seen.extend(some);
    }
    assert_eq!(seen.len(), all.len(), "five rounds of 3 cover all 13 names");
}

#[test]
fn state_changes_are_said_once() {
    let f = |server: &str, kind| Finding {
        server: server.into(),
        zone: n("example.test."),
        name: n("www.example.test."),
        rtype: crate::RType::A,
        kind,
        expected: "x".into(),
        got: "y".into(),
    };
    let mut s = StateChanges::default();
    let one = [f("a", FindingKind::Lag)];
    let (new, gone) = s.update(&one);
    assert_eq!((new.len(), gone.len()), (1, 0));
    let (new, gone) = s.update(&one);
    assert_eq!(
        (new.len(), gone.len()),
        (0, 0),
        "the same state says nothing"
    );
    let two = [f("b", FindingKind::Blackholed)];
    let (new, gone) = s.update(&two);
    assert_eq!(new.len(), 1);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].server, "a");
}

#[test]
fn disagreeing_servers_are_grouped_by_serial() {
    assert_eq!(
        disagreement([("a", Some(3)), ("b", Some(3)), ("c", None)]),
        None
    );
    let d = disagreement([("a", Some(3)), ("b", Some(2))]).unwrap();
    assert_eq!(d[&2], vec!["b".to_string()]);
    assert_eq!(d[&3], vec!["a".to_string()]);
}

#[test]
fn expect_parses_name_slash_type() {
    let c: Check = "www.example.test/AAAA".parse().unwrap();
    assert_eq!(c, check("www.example.test.", crate::RType::AAAA));
    assert!("www.example.test".parse::<Check>().is_err());
    assert!("www/NOPE".parse::<Check>().is_err());
}
