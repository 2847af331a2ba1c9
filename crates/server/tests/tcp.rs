//! DNS over TCP on a real socket: several queries on one connection, in one write or split
//! across writes, prepared and general answers mixed, and a zone transfer among them.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, RData, RecordType};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use zonegate_core::Zone;
use zonegate_core::gate::{Generation, Target};
use zonegate_server::{Catalog, ServerOptions, ZoneOptions};
use zonegate_testkit::dns::*;
use zonegate_testkit::*;

/// `example.` with hosts, a TXT RRset too big for a UDP answer without EDNS, one too big for
/// any UDP answer, a delegation and a wildcard.
fn example(hosts: u32) -> Zone {
    let mut extra = vec![
        a("ns1.example.", [192, 0, 2, 53]),
        ns("sub.example.", "ns.sub.example."),
        a("ns.sub.example.", [192, 0, 2, 54]),
        a("*.wild.example.", [192, 0, 2, 9]),
    ];
    for i in 0..hosts {
        let b = i.to_be_bytes();
        extra.push(a(&format!("h{i}.example."), [10, b[1], b[2], b[3]]));
    }
    for i in 0..30 {
        extra.push(txt("mid.example.", &format!("{i:02}-{}", "m".repeat(20))));
    }
    for i in 0..60 {
        extra.push(txt("huge.example.", &format!("{i:02}-{}", "h".repeat(40))));
    }
    zone("example.", 1, extra)
}

async fn start(hosts: u32, options: ServerOptions) -> Running {
    let catalog = Arc::new(Catalog::with_options("tcp", options));
    catalog
        .install(Generation(1), example(hosts))
        .await
        .unwrap();
    Running::start(catalog).await
}

/// The response to `m` on a connection of its own, as bytes.
async fn alone(addr: std::net::SocketAddr, m: &Message) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&framed(m)).await.unwrap();
    next_frame(&mut stream, TIMEOUT).await.expect("an answer")
}

/// Queries of every kind: prepared answers (hosts, NXDOMAIN, referral, with and without EDNS,
/// one longer than 512 octets) and general ones (wildcard, ANY, class CH, a transfer the
/// default ACL refuses, an answer too big for UDP).
fn mixed_queries() -> Vec<Message> {
    let mut qs = Vec::new();
    let mut id = 100;
    let mut push = |m: Message| {
        let mut m = m;
        m.metadata.id = id;
        id += 1;
        qs.push(m);
    };
    for i in 0..12 {
        push(query(0, &format!("h{i}.example."), RecordType::A));
    }
    push(with_edns(query(0, "h3.example.", RecordType::A), 1232, 0));
    push(query(0, "nope.example.", RecordType::A));
    push(with_edns(
        query(0, "nope.example.", RecordType::AAAA),
        4096,
        0,
    ));
    push(query(0, "www.sub.example.", RecordType::A));
    push(query(0, "mid.example.", RecordType::TXT));
    push(with_edns(query(0, "mid.example.", RecordType::TXT), 600, 0));
    push(query(0, "x.wild.example.", RecordType::A));
    push(query(0, "h1.example.", RecordType::ANY));
    push(with_class(
        query(0, "h1.example.", RecordType::A),
        DNSClass::CH,
    ));
    push(query(0, "example.", RecordType::AXFR));
    push(query(0, "huge.example.", RecordType::TXT));
    push(query(0, "H5.Example.", RecordType::A));
    qs
}

/// Queries written back to back on one connection, in one write and split across writes at
/// awkward places, are all answered, in order, each exactly as on a connection of its own.
#[tokio::test]
async fn pipelined_queries_are_answered_in_order() {
    let server = start(50, ServerOptions::default()).await;
    let queries = mixed_queries();
    let mut expected = Vec::new();
    for q in &queries {
        expected.push(alone(server.addr, q).await);
    }
    // The answers do cover both paths and sizes beyond UDP's.
    let parsed: Vec<Message> = expected
        .iter()
        .map(|b| Message::from_vec(b).unwrap())
        .collect();
    assert!(expected.iter().any(|b| b.len() > 512));
    assert!(expected.iter().any(|b| b.len() > 1232));
    assert!(
        parsed
            .iter()
            .any(|m| m.metadata.response_code == ResponseCode::NXDomain)
    );
    assert!(
        parsed
            .iter()
            .any(|m| m.metadata.response_code == ResponseCode::Refused)
    );
    assert!(parsed.iter().all(|m| !m.metadata.truncation));

    let stream_of = |qs: &[Message]| qs.iter().flat_map(framed).collect::<Vec<u8>>();
    let all = stream_of(&queries);
    // Cut points: everything at once; one octet of a length prefix; the middle of a body;
    // right after a length prefix; many small pieces.
    let first = framed(&queries[0]).len();
    let plans: Vec<Vec<usize>> = vec![
        vec![],
        vec![first + 1],
        vec![first + 7, 3 * first + 2],
        vec![2, first + 2, 2 * first],
        (1..all.len()).step_by(29).collect(),
    ];
    for cuts in plans {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let mut from = 0;
        for &cut in cuts.iter().chain(std::iter::once(&all.len())) {
            stream.write_all(&all[from..cut]).await.unwrap();
            stream.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            from = cut;
        }
        for (i, want) in expected.iter().enumerate() {
            let got = next_frame(&mut stream, TIMEOUT).await.expect("an answer");
            assert_eq!(
                got[2..],
                want[2..],
                "answer {i} with cuts {cuts:?} differs from the one on its own connection"
            );
            assert_eq!(got[..2], queries[i].metadata.id.to_be_bytes(), "answer {i}");
        }
        // Nothing more, and the connection is still usable.
        let q = query(999, "h7.example.", RecordType::A);
        let r = tcp_on(&mut stream, &q).await;
        assert_eq!(r.metadata.id, 999);
        match &r.answers[0].data {
            RData::A(a) => assert_eq!(a.0.octets(), [10, 0, 0, 7]),
            other => panic!("{other:?}"),
        }
    }
    server.stop().await.unwrap();
}

/// A zone transfer among pipelined queries: the answer before it comes first, then every
/// message of the transfer, then the answer after it.
#[tokio::test]
async fn a_transfer_among_pipelined_queries_keeps_its_place() {
    let options = ServerOptions {
        default: ZoneOptions {
            allow_transfer: vec!["127.0.0.0/8".parse().unwrap()],
            ..ZoneOptions::default()
        },
        ..ServerOptions::default()
    };
    let server = start(3000, options).await;
    let mut before = query(1, "h1.example.", RecordType::A);
    before.metadata.id = 1;
    let axfr = query(2, "example.", RecordType::AXFR);
    let after = query(3, "h2.example.", RecordType::A);
    let mut bytes = framed(&before);
    bytes.extend(framed(&axfr));
    bytes.extend(framed(&after));
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(&bytes).await.unwrap();

    let first = Message::from_vec(&next_frame(&mut stream, TIMEOUT).await.unwrap()).unwrap();
    assert_eq!(first.metadata.id, 1);
    let mut messages = 0;
    let mut records = 0;
    let mut soas = 0;
    while soas < 2 {
        let m = Message::from_vec(&next_frame(&mut stream, TIMEOUT).await.unwrap()).unwrap();
        assert_eq!(m.metadata.id, 2, "a transfer message");
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        messages += 1;
        records += m.answers.len();
        soas += m
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::SOA)
            .count();
        assert!(messages < 1000, "the transfer does not end");
    }
    assert!(messages > 1, "{messages} messages");
    // SOA twice, the apex NS, ns1, the delegation and its glue, the wildcard, the TXTs and
    // the hosts.
    assert_eq!(records, 2 + 1 + 1 + 2 + 1 + 30 + 60 + 3000);
    let last = Message::from_vec(&next_frame(&mut stream, TIMEOUT).await.unwrap()).unwrap();
    assert_eq!(last.metadata.id, 3);
    match &last.answers[0].data {
        RData::A(a) => assert_eq!(a.0.octets(), [10, 0, 0, 2]),
        other => panic!("{other:?}"),
    }
    server.stop().await.unwrap();
}

/// A message too short for a header closes the connection, after the answers to the
/// queries before it.
#[tokio::test]
async fn a_runt_message_closes_the_connection_after_earlier_answers() {
    let server = start(10, ServerOptions::default()).await;
    let mut bytes = framed(&query(5, "h1.example.", RecordType::A));
    bytes.extend_from_slice(&[0, 3, 1, 2, 3]);
    bytes.extend(framed(&query(6, "h2.example.", RecordType::A)));
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(&bytes).await.unwrap();
    let first = Message::from_vec(&next_frame(&mut stream, TIMEOUT).await.unwrap()).unwrap();
    assert_eq!(first.metadata.id, 5);
    assert_eq!(next_frame(&mut stream, TIMEOUT).await, None);
    server.stop().await.unwrap();
}
