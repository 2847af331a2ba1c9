//! The prepared path against the general path, byte for byte, over the Ferret data.
//!
//! Every Ferret zone is installed through the product path (`zonefile::parse`, `validate`,
//! `Catalog::install`). Then each case's query, and queries for random names and types of the
//! zone, are asked in several forms (mixed case, RD and CD, with and without EDNS, payload
//! sizes from 512 up, DO) of both paths, over UDP and over TCP: whenever the prepared path
//! answers, its response must be exactly the general path's.

// The comparison over the Ferret data is one long scenario.
#![allow(clippy::too_many_lines)]

use std::net::SocketAddr;
use std::sync::Arc;

use zonegate_core::gate::{Generation, Target};
use zonegate_core::zone::validate::validate;
use zonegate_core::zonefile::parse;
use zonegate_core::{Limits, Name};
use zonegate_testkit::ferret;

use crate::fuzzing::Capture;
use crate::net::udp::general;
use crate::zone::served::prepared::Question;
use crate::{Catalog, Handler};

/// xorshift64*: reproducible randomness without a dependency.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// How a query is asked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Form {
    id: u16,
    rd: bool,
    cd: bool,
    ad: bool,
    /// EDNS payload size and DO bit.
    edns: Option<(u16, bool)>,
    /// Flip the case of these label octets (bit i: octet i mod 64).
    case: u64,
}

pub(crate) fn query_bytes(name: &Name, qtype: u16, f: Form) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend_from_slice(&f.id.to_be_bytes());
    q.push(u8::from(f.rd));
    q.push(if f.cd { 0x10 } else { 0 } | if f.ad { 0x20 } else { 0 });
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(f.edns.is_some())]);
    let start = q.len();
    name.write_wire(&mut q);
    for (i, b) in q[start..].iter_mut().enumerate() {
        if f.case >> (i % 64) & 1 == 1 && b.is_ascii_lowercase() {
            *b = b.to_ascii_uppercase();
        }
    }
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    if let Some((payload, dnssec_ok)) = f.edns {
        q.extend_from_slice(&[0, 0, 41]);
        q.extend_from_slice(&payload.to_be_bytes());
        q.extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
    }
    q
}

pub(crate) fn random_form(rng: &mut Rng) -> Form {
    let edns = match rng.below(4) {
        0 => None,
        1 => Some((1232, false)),
        2 => Some((4096, rng.below(2) == 0)),
        _ => Some((
            [0, 100, 512, 513, 600, 1000, 1231][rng.below(7)],
            rng.below(2) == 0,
        )),
    };
    Form {
        id: rng.next() as u16,
        rd: rng.below(2) == 0,
        cd: rng.below(4) == 0,
        ad: rng.below(4) == 0,
        edns,
        case: rng.next(),
    }
}

pub(crate) const TYPES: &[u16] = &[
    1, 2, 5, 6, 12, 13, 15, 16, 28, 33, 35, 39, 43, 44, 46, 47, 52, 64, 65, 99, 257, 65280, 65535,
    255, 252, 251, 41, 0,
];

#[derive(Debug, Default)]
struct Counts {
    prepared: usize,
    general: usize,
    nxdomain: usize,
    referral: usize,
    edns: usize,
    truncated: usize,
    tcp_prepared: usize,
    tcp_general: usize,
    /// Prepared TCP answers longer than the 512 octets of a UDP answer without EDNS.
    tcp_long: usize,
}

async fn compare(handler: &Handler, query: &[u8], counts: &mut Counts, what: &str) {
    let mut out = Vec::new();
    let prepared = Question::parse(query)
        .filter(|q| handler.catalog().prepared_answer(query, q, &mut out))
        .is_some();
    if !prepared {
        counts.general += 1;
        return;
    }
    let capture = Capture::default();
    let src: SocketAddr = "192.0.2.53:5353".parse().unwrap();
    general(handler, query, src, capture.clone()).await;
    let sent = capture.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{what}: the general path sent {sent:?}");
    assert_eq!(
        out, sent[0],
        "{what}: prepared (left) and general (right) differ for query {query:?}"
    );
    counts.prepared += 1;
    counts.nxdomain += usize::from(out[3] & 0x0F == 3);
    counts.referral += usize::from(out[2] & 0x04 == 0 && out[3] & 0x0F == 0);
    counts.edns += usize::from(query[11] == 1);
    counts.truncated += usize::from(out[2] & 0x02 != 0);
}

/// [`compare`] over TCP: the prepared answer appended to what is pending, with its length
/// prefix, against what the TCP loop's general path writes.
async fn compare_tcp(handler: &Handler, query: &[u8], counts: &mut Counts, what: &str) {
    let pending = [0xA5, 0x5A, 0x00];
    let mut out = pending.to_vec();
    let prepared = Question::parse(query)
        .filter(|q| handler.catalog().prepared_answer_tcp(query, q, &mut out))
        .is_some();
    assert_eq!(out[..3], pending, "{what}: what was pending changed");
    if !prepared {
        assert_eq!(out.len(), 3, "{what}: a declined TCP answer left octets");
        counts.tcp_general += 1;
        return;
    }
    let capture = Capture(Arc::default(), true);
    let peer: SocketAddr = "192.0.2.53:5353".parse().unwrap();
    crate::net::tcp::general(handler, query, peer, capture.clone())
        .await
        .unwrap();
    let sent = capture.0.lock().unwrap().clone();
    assert_eq!(
        sent.len(),
        1,
        "{what}: the general path sent {sent:?} over TCP"
    );
    assert_eq!(
        out[3..],
        sent[0][..],
        "{what}: prepared (left) and general (right) differ over TCP for query {query:?}"
    );
    assert_eq!(out[7] & 0x02, 0, "{what}: a TCP answer is truncated");
    counts.tcp_prepared += 1;
    counts.tcp_long += usize::from(out.len() - 5 > 512);
}

/// Both comparisons.
async fn compare_both(handler: &Handler, query: &[u8], counts: &mut Counts, what: &str) {
    compare(handler, query, counts, what).await;
    compare_tcp(handler, query, counts, what).await;
}

#[tokio::test]
async fn prepared_answers_are_the_general_paths_byte_for_byte() {
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    let mut counts = Counts::default();
    let mut zones = 0;
    for z in ferret::load(ferret::VALID) {
        let id = z["id"].as_u64().unwrap();
        let parsed = parse(z["zone"].as_str().unwrap(), None, "ferret").unwrap();
        let zone = validate(parsed, &Limits::default()).unwrap();
        let origin = zone.origin().clone();
        let owners: Vec<Name> = zone.records().iter().map(|r| r.owner.clone()).collect();
        let catalog = Arc::new(Catalog::new("compare"));
        catalog
            .install(Generation(u64::from(zone.soa().serial)), zone)
            .await
            .unwrap();
        let handler = Handler::new(catalog);
        zones += 1;

        // Each case's own query, as the reference servers were asked and in other forms.
        for case in z["cases"].as_array().unwrap() {
            let Ok(qname) = Name::parse(case["query"]["name"].as_str().unwrap()) else {
                continue;
            };
            let qtype: hickory_proto::rr::RecordType =
                case["query"]["type"].as_str().unwrap().parse().unwrap();
            let qtype = u16::from(qtype);
            let plain = Form {
                id: id as u16,
                rd: false,
                cd: false,
                ad: false,
                edns: None,
                case: 0,
            };
            let what = format!("zone {id} {qname} {qtype}");
            compare_both(
                &handler,
                &query_bytes(&qname, qtype, plain),
                &mut counts,
                &what,
            )
            .await;
            for _ in 0..6 {
                let f = random_form(&mut rng);
                let what = format!("{what} {f:?}");
                compare_both(&handler, &query_bytes(&qname, qtype, f), &mut counts, &what).await;
            }
        }

        // Random names of the zone, children of them that may not exist, random types.
        for _ in 0..12 {
            let owner = &owners[rng.below(owners.len())];
            let name =
                match rng.below(4) {
                    0 => Name::parse(&format!("zz{}.{owner}", rng.below(1000)))
                        .unwrap_or(owner.clone()),
                    1 => Name::parse(&format!("a.b{}.{origin}", rng.below(10)))
                        .unwrap_or(owner.clone()),
                    _ => owner.clone(),
                };
            let qtype = TYPES[rng.below(TYPES.len())];
            let f = random_form(&mut rng);
            let what = format!("zone {id} random {name} {qtype} {f:?}");
            compare_both(&handler, &query_bytes(&name, qtype, f), &mut counts, &what).await;
        }
    }
    // Answers around the truncation limits: RRsets of every size up to past 1232 octets.
    let mut text = String::from("$ORIGIN big.example.\n$TTL 300\n@ SOA ns h 1 1 1 1 1\n@ NS ns\n");
    text.push_str("ns A 192.0.2.1\n");
    for n in [20, 28, 30, 32, 40, 60, 70, 80] {
        for i in 0..n {
            text.push_str(&format!("a{n} A 10.0.{n}.{i}\n"));
            text.push_str(&format!("t{n} TXT \"{}\"\n", "x".repeat(i + 5)));
        }
    }
    let zone = validate(parse(&text, None, "big").unwrap(), &Limits::default()).unwrap();
    let catalog = Arc::new(Catalog::new("big"));
    catalog.install(Generation(1), zone).await.unwrap();
    let handler = Handler::new(catalog);
    for n in [20, 28, 30, 32, 40, 60, 70, 80] {
        for (label, qtype) in [("a", 1), ("t", 16)] {
            let name = Name::parse(&format!("{label}{n}.big.example.")).unwrap();
            for payload in [
                None,
                Some(0),
                Some(512),
                Some(700),
                Some(1000),
                Some(1231),
                Some(1232),
                Some(4096),
            ] {
                let f = Form {
                    id: n,
                    rd: true,
                    cd: false,
                    ad: false,
                    edns: payload.map(|p| (p, false)),
                    case: rng.next(),
                };
                let what = format!("{name} {qtype} {f:?}");
                compare_both(&handler, &query_bytes(&name, qtype, f), &mut counts, &what).await;
            }
        }
    }
    eprintln!("{zones} zones: {counts:?}");
    assert!(zones >= 1000, "only {zones} Ferret zones were read");
    // Both paths were really exercised, and the prepared one on every kind of answer.
    assert!(counts.prepared > counts.general, "{counts:?}");
    assert!(counts.general > 1000, "{counts:?}");
    for n in [counts.nxdomain, counts.referral, counts.edns] {
        assert!(n > 1000, "{counts:?}");
    }
    assert!(counts.truncated >= 20, "{counts:?}");
    // Over TCP too, and with answers no UDP answer without EDNS could carry.
    assert!(counts.tcp_prepared > counts.tcp_general, "{counts:?}");
    assert!(counts.tcp_general > 1000, "{counts:?}");
    assert!(counts.tcp_long >= 20, "{counts:?}");
}

/// Queries the prepared path must leave to the general path.
#[tokio::test]
async fn unusual_queries_take_the_general_path() {
    let text = "$ORIGIN example.\n$TTL 300\n@ SOA ns h 1 1 1 1 1\n@ NS ns\nns A 192.0.2.1\n";
    let zone = validate(parse(text, None, "t").unwrap(), &Limits::default()).unwrap();
    let catalog = Arc::new(Catalog::new("unusual"));
    catalog.install(Generation(1), zone).await.unwrap();
    let ns = Name::parse("ns.example.").unwrap();
    let base = Form {
        id: 7,
        rd: true,
        cd: false,
        ad: false,
        edns: None,
        case: 0,
    };
    // The answer is small: the prepared path takes a query over UDP exactly when over TCP.
    let prepared = |q: &[u8]| {
        let mut out = Vec::new();
        let udp = Question::parse(q).is_some_and(|p| catalog.prepared_answer(q, &p, &mut out));
        out.clear();
        let tcp = Question::parse(q).is_some_and(|p| catalog.prepared_answer_tcp(q, &p, &mut out));
        assert_eq!(udp, tcp, "{q:?}");
        udp
    };
    let good = query_bytes(&ns, 1, base);
    assert!(prepared(&good));
    let mut edns = base;
    edns.edns = Some((1232, true));
    assert!(prepared(&query_bytes(&ns, 1, edns)));
    // Not in any zone served, or a meta type.
    assert!(!prepared(&query_bytes(
        &Name::parse("ns.example.net.").unwrap(),
        1,
        base
    )));
    for qtype in [0, 41, 251, 252, 255] {
        assert!(!prepared(&query_bytes(&ns, qtype, base)), "{qtype}");
    }
    let tweak = |at: usize, value: u8| {
        let mut q = query_bytes(&ns, 1, edns);
        q[at] = value;
        q
    };
    // A response, another opcode, a second question, class CH, EDNS version 1, an option,
    // a trailing octet.
    let qclass = good.len() - 1;
    let opt = query_bytes(&ns, 1, edns).len() - OPT;
    for q in [
        tweak(2, 0x80),
        tweak(2, 0x08),
        tweak(5, 2),
        tweak(qclass, 3),
        tweak(opt + 6, 1),
        tweak(opt + 10, 4),
    ] {
        assert!(!prepared(&q), "{q:?}");
    }
    let mut long = good.clone();
    long.push(0);
    assert!(!prepared(&long));
    let mut compressed = good[..12].to_vec();
    compressed.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
    assert!(!prepared(&compressed));
}

/// Octets of the OPT record at the end of a query.
const OPT: usize = 11;
