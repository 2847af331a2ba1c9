//! The server over real sockets: UDP and TCP on an ephemeral loopback port, queries encoded
//! with hickory-proto, zones installed through the `Target` trait.

mod common;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, RData, RecordType};
use tokio::net::TcpStream;
use zonegate_core::gate::{Generation, Target};
use zonegate_core::{RType, Zone};
use zonegate_server::{Catalog, Listeners, ServerError, serve};
use zonegate_testkit::dns::*;
use zonegate_testkit::*;

fn example(serial: u32) -> Zone {
    zone(
        "example.",
        serial,
        vec![
            a("ns1.example.", [192, 0, 2, 53]),
            a("www.example.", [192, 0, 2, 1]),
            a("www.example.", [192, 0, 2, 2]),
            txt("www.example.", "hello"),
            cname("alias.example.", "www.example."),
            ns("sub.example.", "ns.sub.example."),
            a("ns.sub.example.", [192, 0, 2, 99]),
            a("*.wild.example.", [192, 0, 2, 42]),
            dname("old.example.", "www.example."),
        ],
    )
}

fn ipv4s(m: &Message) -> BTreeSet<Ipv4Addr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

async fn started(zones: Vec<Zone>) -> (Arc<Catalog>, Running) {
    let catalog = Arc::new(Catalog::new("test"));
    for z in zones {
        catalog.install(Generation(1), z).await.unwrap();
    }
    let server = Running::start(catalog.clone()).await;
    (catalog, server)
}

/// Checks the header of an authoritative response to `q`.
fn assert_header(q: &Message, r: &Message, aa: bool, rcode: ResponseCode) {
    assert_eq!(r.metadata.id, q.metadata.id);
    assert_eq!(r.metadata.message_type, MessageType::Response);
    assert_eq!(r.metadata.authoritative, aa, "AA");
    assert_eq!(r.metadata.response_code, rcode);
    assert_eq!(
        r.metadata.recursion_desired, q.metadata.recursion_desired,
        "RD is copied"
    );
    assert!(!r.metadata.recursion_available, "RA is clear");
    assert_eq!(r.queries, q.queries, "the question is echoed");
}

#[tokio::test]
async fn answers_over_udp_and_tcp() {
    let (_catalog, server) = started(vec![example(1)]).await;
    let mut q = query(7, "www.example.", RecordType::A);
    q.metadata.recursion_desired = true;
    for r in [udp(server.addr, &q).await, tcp(server.addr, &q).await] {
        assert_header(&q, &r, true, ResponseCode::NoError);
        assert_eq!(
            ipv4s(&r),
            [Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2)].into()
        );
        assert!(r.authorities.is_empty());
    }
    // Several queries on one TCP connection, and the query name's case is kept in the question.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    for (i, name) in ["WWW.Example.", "alias.example."].into_iter().enumerate() {
        let q = query(100 + i as u16, name, RecordType::A);
        let r = tcp_on(&mut stream, &q).await;
        assert_header(&q, &r, true, ResponseCode::NoError);
        assert_eq!(ipv4s(&r).len(), 2);
    }
    server.stop().await.unwrap();
}

/// The UDP loop reads sources as its socket's family: an IPv6 socket answers its clients, and
/// so does an IPv4 one next to it.
#[tokio::test]
async fn answers_over_udp_on_ipv6_and_ipv4() {
    let catalog = Arc::new(Catalog::new("test"));
    catalog.install(Generation(1), example(1)).await.unwrap();
    let v6 = Running::start_on(catalog.clone(), "[::1]:0".parse().unwrap()).await;
    let v4 = Running::start_on(catalog, "127.0.0.1:0".parse().unwrap()).await;
    for server in [&v6, &v4] {
        let q = query(9, "www.example.", RecordType::A);
        let r = udp(server.addr, &q).await;
        assert_header(&q, &r, true, ResponseCode::NoError);
        assert_eq!(ipv4s(&r).len(), 2, "{}", server.addr);
        let q = query(10, "alias.example.", RecordType::AAAA);
        let r = udp(server.addr, &q).await;
        assert_header(&q, &r, true, ResponseCode::NoError);
        assert_eq!(r.answers.len(), 1, "{}: {r:?}", server.addr);
    }
    v6.stop().await.unwrap();
    v4.stop().await.unwrap();
}

#[tokio::test]
async fn negative_answers_carry_the_soa() {
    let (_catalog, server) = started(vec![example(5)]).await;
    // SOA TTL 3600 and minimum 60: negative answers say 60.
    for (name, qtype, rcode) in [
        ("nope.example.", RecordType::A, ResponseCode::NXDomain),
        ("www.example.", RecordType::AAAA, ResponseCode::NoError),
    ] {
        let q = query(1, name, qtype);
        let r = udp(server.addr, &q).await;
        assert_header(&q, &r, true, rcode);
        assert!(r.answers.is_empty());
        assert_eq!(r.authorities.len(), 1);
        let soa = &r.authorities[0];
        assert_eq!(soa.record_type(), RecordType::SOA);
        assert_eq!(soa.name.to_ascii(), "example.");
        assert_eq!(soa.ttl, 60);
        let RData::SOA(fields) = &soa.data else {
            panic!("SOA rdata")
        };
        // The served serial is the zone's own (5), which the store decided at publish and
        // which arrives with the zone, not the generation (1).
        assert_eq!(fields.serial, 5);
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn referral_wildcard_and_dname_over_the_wire() {
    let (_catalog, server) = started(vec![example(1)]).await;
    let q = query(2, "host.sub.example.", RecordType::A);
    let r = udp(server.addr, &q).await;
    assert_header(&q, &r, false, ResponseCode::NoError);
    assert!(r.answers.is_empty());
    assert_eq!(r.authorities.len(), 1);
    assert_eq!(r.authorities[0].record_type(), RecordType::NS);
    assert_eq!(r.authorities[0].name.to_ascii(), "sub.example.");
    assert_eq!(r.additionals.len(), 1, "glue");
    assert_eq!(r.additionals[0].name.to_ascii(), "ns.sub.example.");

    let q = query(3, "Any.Wild.example.", RecordType::A);
    let r = udp(server.addr, &q).await;
    assert_header(&q, &r, true, ResponseCode::NoError);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].name.to_ascii(), "any.wild.example.");
    assert_eq!(ipv4s(&r), [Ipv4Addr::new(192, 0, 2, 42)].into());

    let q = query(4, "a.old.example.", RecordType::A);
    let r = udp(server.addr, &q).await;
    assert_header(&q, &r, true, ResponseCode::NXDomain);
    let got: Vec<(String, u16)> = core_records(&r.answers)
        .iter()
        .map(|r| (r.owner.to_string(), r.rtype.0))
        .collect();
    assert_eq!(
        got,
        vec![
            ("old.example.".into(), RType::DNAME.0),
            ("a.old.example.".into(), RType::CNAME.0)
        ]
    );
    assert_eq!(r.answers[1].ttl, 700);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn refusals_and_errors() {
    let (_catalog, server) = started(vec![example(1)]).await;
    // Outside every served zone.
    let q = query(1, "www.other.test.", RecordType::A);
    let r = udp(server.addr, &q).await;
    assert_header(&q, &r, false, ResponseCode::Refused);
    assert!(r.answers.is_empty() && r.authorities.is_empty());
    // Class CH.
    let q = with_class(query(2, "www.example.", RecordType::TXT), DNSClass::CH);
    let r = udp(server.addr, &q).await;
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    // No question.
    let q = Message::new(3, MessageType::Query, OpCode::Query);
    let r = udp(server.addr, &q).await;
    assert_eq!(r.metadata.id, 3);
    assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
    // An opcode we do not implement.
    let mut q = query(4, "www.example.", RecordType::A);
    q.metadata.op_code = OpCode::Status;
    let r = udp(server.addr, &q).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NotImp);
    // Zone transfer is refused without an allow_transfer entry (the default).
    let q = query(5, "example.", RecordType::AXFR);
    let r = tcp(server.addr, &q).await;
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    // EDNS is answered with EDNS; an unknown EDNS version is BADVERS.
    let q = with_edns(query(6, "www.example.", RecordType::A), 1232, 0);
    let r = udp(server.addr, &q).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.edns.is_some());
    let q = with_edns(query(7, "www.example.", RecordType::A), 1232, 1);
    let r = udp(server.addr, &q).await;
    // BADVERS shares its code, 16, with BADSIG; hickory decodes it as the latter.
    assert_eq!(
        u16::from(r.metadata.response_code),
        u16::from(ResponseCode::BADVERS)
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn large_answers_truncate_over_udp_only() {
    // `mid` is about 800 octets: over 512, under UDP_PAYLOAD_MAX. `big` is about 1600.
    let mut records = vec![a("ns1.example.", [192, 0, 2, 53])];
    for i in 0..12 {
        records.push(txt("mid.example.", &format!("{i:02}{}", "x".repeat(60))));
    }
    for i in 0..24 {
        records.push(txt("big.example.", &format!("{i:02}{}", "x".repeat(60))));
    }
    let (_catalog, server) = started(vec![zone("example.", 1, records)]).await;
    let q = query(1, "mid.example.", RecordType::TXT);
    let r = udp(server.addr, &q).await;
    assert!(r.metadata.truncation, "over 512 octets without EDNS");
    let r = udp(server.addr, &with_edns(q.clone(), 4096, 0)).await;
    assert!(!r.metadata.truncation, "fits the EDNS payload size");
    assert_eq!(r.answers.len(), 12);
    assert_eq!(
        r.edns.as_ref().unwrap().max_payload(),
        zonegate_server::UDP_PAYLOAD_MAX
    );
    let r = tcp(server.addr, &q).await;
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 12);

    let q = query(2, "big.example.", RecordType::TXT);
    let r = udp(server.addr, &with_edns(q.clone(), 4096, 0)).await;
    assert!(
        r.metadata.truncation,
        "over UDP_PAYLOAD_MAX even though the client offers 4096"
    );
    let r = tcp(server.addr, &q).await;
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 24);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn newer_generations_replace_and_older_are_refused() {
    let (catalog, server) = started(vec![]).await;
    let q = query(1, "www.example.", RecordType::A);
    assert_eq!(
        udp(server.addr, &q).await.metadata.response_code,
        ResponseCode::Refused
    );

    let gen_zone = |g: u8| {
        zone(
            "example.",
            g as u32,
            vec![
                a("ns1.example.", [192, 0, 2, 53]),
                a("www.example.", [10, 0, 0, g]),
            ],
        )
    };
    catalog.install(Generation(3), gen_zone(3)).await.unwrap();
    assert_eq!(catalog.held(&n("example.")), Some(Generation(3)));
    assert_eq!(
        ipv4s(&udp(server.addr, &q).await),
        [Ipv4Addr::new(10, 0, 0, 3)].into()
    );

    catalog.install(Generation(4), gen_zone(4)).await.unwrap();
    assert_eq!(
        ipv4s(&udp(server.addr, &q).await),
        [Ipv4Addr::new(10, 0, 0, 4)].into()
    );

    // Older and equal generations are refused with the held generation, and change nothing.
    assert_eq!(
        catalog.install(Generation(2), gen_zone(2)).await,
        Err(Generation(4))
    );
    assert_eq!(
        catalog.install(Generation(4), gen_zone(9)).await,
        Err(Generation(4))
    );
    assert_eq!(catalog.held(&n("example.")), Some(Generation(4)));
    assert_eq!(
        ipv4s(&tcp(server.addr, &q).await),
        [Ipv4Addr::new(10, 0, 0, 4)].into()
    );
    assert_eq!(catalog.zones(), vec![(n("example."), Generation(4))]);
    assert_eq!(catalog.id(), "test");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn several_zones_in_one_catalog() {
    let parent = example(1);
    let child = zone(
        "sub.example.",
        1,
        vec![
            a("ns1.sub.example.", [192, 0, 2, 54]),
            a("host.sub.example.", [10, 9, 9, 9]),
        ],
    );
    let other = zone(
        "other.test.",
        1,
        vec![
            a("ns1.other.test.", [192, 0, 2, 55]),
            a("www.other.test.", [10, 8, 8, 8]),
        ],
    );
    let (catalog, server) = started(vec![parent, child, other]).await;
    assert_eq!(
        catalog.zones(),
        vec![
            (n("example."), Generation(1)),
            (n("sub.example."), Generation(1)),
            (n("other.test."), Generation(1))
        ]
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
    // The longest matching origin answers: the child zone, not the parent's referral.
    assert_eq!(
        catalog.find(&n("a.b.host.sub.example.")).unwrap().origin(),
        &n("sub.example.")
    );
    assert_eq!(
        catalog.find(&n("example.")).unwrap().origin(),
        &n("example.")
    );
    assert!(catalog.find(&n("test.")).is_none());
    let q = query(1, "host.sub.example.", RecordType::A);
    let r = udp(server.addr, &q).await;
    assert_header(&q, &r, true, ResponseCode::NoError);
    assert_eq!(ipv4s(&r), [Ipv4Addr::new(10, 9, 9, 9)].into());
    let q = query(2, "www.other.test.", RecordType::A);
    assert_eq!(
        ipv4s(&udp(server.addr, &q).await),
        [Ipv4Addr::new(10, 8, 8, 8)].into()
    );
    let q = query(3, "www.example.", RecordType::A);
    assert_eq!(ipv4s(&udp(server.addr, &q).await).len(), 2);
    // Installing one zone leaves the others alone.
    catalog
        .install(
            Generation(2),
            zone(
                "other.test.",
                2,
                vec![a("ns1.other.test.", [192, 0, 2, 55])],
            ),
        )
        .await
        .unwrap();
    assert_eq!(catalog.held(&n("sub.example.")), Some(Generation(1)));
    assert_eq!(catalog.held(&n("other.test.")), Some(Generation(2)));
    let q = query(4, "www.other.test.", RecordType::A);
    assert_eq!(
        udp(server.addr, &q).await.metadata.response_code,
        ResponseCode::NXDomain
    );
    server.stop().await.unwrap();
}

/// A generation's zone: every A record, the TXT record and the SOA serial encode `g`.
fn marked(g: u32) -> Zone {
    let [_, _, hi, lo] = g.to_be_bytes();
    let mut records: Vec<_> = (1..=12u8)
        .map(|i| a("www.example.", [10, hi, lo, i]))
        .collect();
    records.push(a("ns1.example.", [10, hi, lo, 200]));
    records.push(txt("www.example.", &format!("generation {g}")));
    zone("example.", g, records)
}

/// The generation a response is from, checking that everything in it agrees.
fn generation_of(r: &Message) -> u32 {
    let mut seen = BTreeSet::new();
    for rec in r.answers.iter().chain(&r.authorities).chain(&r.additionals) {
        match &rec.data {
            RData::A(a) => {
                let [_, hi, lo, _] = a.0.octets();
                seen.insert(u32::from(u16::from_be_bytes([hi, lo])));
            }
            RData::TXT(t) => {
                let text = String::from_utf8(t.txt_data[0].to_vec()).unwrap();
                seen.insert(text.strip_prefix("generation ").unwrap().parse().unwrap());
            }
            RData::SOA(s) => {
                seen.insert(s.serial);
            }
            // The NS set is the same in every generation.
            RData::NS(_) => {}
            other => panic!("unexpected record {other:?}"),
        }
    }
    assert_eq!(seen.len(), 1, "a response mixes generations: {seen:?}");
    seen.into_iter().next().unwrap()
}

/// Queries race installs; every response is wholly from one generation, and a client asking
/// one query after another never sees the generation go back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_never_mix_generations() {
    const GENERATIONS: u32 = 300;
    let catalog = Arc::new(Catalog::new("hammer"));
    catalog.install(Generation(1), marked(1)).await.unwrap();
    let server = Running::start(catalog.clone()).await;
    let done = Arc::new(AtomicBool::new(false));

    let installer = {
        let (catalog, done) = (catalog.clone(), done.clone());
        tokio::spawn(async move {
            for g in 2..=GENERATIONS {
                catalog
                    .install(Generation(g as u64), marked(g))
                    .await
                    .unwrap();
                // A stale installer racing along is always refused.
                assert!(
                    catalog
                        .install(Generation(g as u64 - 1), marked(g - 1))
                        .await
                        .is_err()
                );
                tokio::task::yield_now().await;
            }
            done.store(true, Ordering::SeqCst);
        })
    };

    let addr = server.addr;
    let queriers: Vec<_> = (0..2)
        .map(|client| {
            let done = done.clone();
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                let questions = [
                    ("www.example.", RecordType::A),
                    // (ANY is answered with one synthesised HINFO, RFC 8482, which carries
                    // no generation: TXT, the general path's other subject, instead.)
                    ("www.example.", RecordType::TXT),
                    ("example.", RecordType::NS),
                    ("nope.example.", RecordType::A),
                ];
                let (mut last, mut count, mut distinct) = (0u32, 0u32, BTreeSet::new());
                let mut i = 0usize;
                while !done.load(Ordering::SeqCst) || count < 50 {
                    let (name, qtype) = questions[i % questions.len()];
                    let q = query(i as u16, name, qtype);
                    // Alternate transports; the two clients are out of step.
                    let r = if (i + client) % 2 == 1 {
                        tcp_on(&mut stream, &q).await
                    } else {
                        udp(addr, &q).await
                    };
                    assert!(!r.metadata.truncation);
                    let g = generation_of(&r);
                    assert!(g >= last, "generation went back from {last} to {g}");
                    last = g;
                    distinct.insert(g);
                    count += 1;
                    i += 1;
                }
                (count, distinct.len())
            })
        })
        .collect();

    installer.await.unwrap();
    let mut total = 0;
    for q in queriers {
        let (count, distinct) = q.await.unwrap();
        eprintln!("client: {count} responses from {distinct} distinct generations");
        assert!(distinct > 1, "the queries saw installs happen");
        total += count;
    }
    assert!(total > 100, "{total} queries");
    assert_eq!(
        catalog.held(&n("example.")),
        Some(Generation(GENERATIONS as u64))
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn bind_errors_name_the_address() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = taken.local_addr().unwrap();
    let catalog = Arc::new(Catalog::new("bind"));
    let err = serve(&[addr], catalog.clone(), async {}).await.unwrap_err();
    match &err {
        ServerError::Bind {
            addr: a, transport, ..
        } => {
            assert_eq!(*a, addr);
            assert_eq!(*transport, "udp");
        }
        other => panic!("expected a bind error, got {other:?}"),
    }
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    assert!(matches!(
        serve(&[], catalog, async {}).await,
        Err(ServerError::NoListenAddress)
    ));
}

#[tokio::test]
async fn shutdown_is_graceful_and_frees_the_port() {
    let catalog = Arc::new(Catalog::new("stop"));
    catalog.install(Generation(1), example(1)).await.unwrap();
    let server = Running::start(catalog.clone()).await;
    let addr = server.addr;
    assert_eq!(
        udp(addr, &query(1, "www.example.", RecordType::A))
            .await
            .answers
            .len(),
        2
    );
    server.stop().await.unwrap();
    // Both ports can be bound again.
    let again = Listeners::bind(&[addr]).await.unwrap();
    assert_eq!(again.local_addrs(), vec![addr]);
    // serve() itself returns once its shutdown future completes.
    drop(again);
    serve(&[addr], catalog, async {}).await.unwrap();
}
