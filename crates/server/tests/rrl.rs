//! Response rate limiting over real UDP sockets: a burst from one source is limited as
//! configured (a share of `slip` answers truncated, the rest dropped), while a source in
//! another prefix is answered in full; TCP is never limited.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};
use tokio::net::UdpSocket;
use zonegate_core::gate::{Generation, Target};
use zonegate_server::{Catalog, RrlOptions, ServerOptions};
use zonegate_testkit::dns::*;
use zonegate_testkit::*;

const RATE: u32 = 10;
const BURST: u16 = 200;

async fn limited_server() -> (Arc<Catalog>, Running) {
    let options = ServerOptions {
        rrl: RrlOptions {
            responses_per_second: RATE,
            slip: 2,
            window: 5,
            ..RrlOptions::default()
        },
        ..ServerOptions::default()
    };
    let catalog = Arc::new(Catalog::with_options("rrl", options));
    let mut extra = vec![a("ns1.example.", [192, 0, 2, 53])];
    extra.extend((0..8).map(|i| a("www.example.", [192, 0, 2, i])));
    catalog
        .install(Generation(1), zone("example.", 1, extra))
        .await
        .unwrap();
    let server = Running::start(catalog.clone()).await;
    (catalog, server)
}

/// Sends `queries` from `sock` as fast as it can, then collects what comes back within
/// `wait` of the last send: (full answers, truncated answers).
async fn burst(
    sock: &UdpSocket,
    to: SocketAddr,
    queries: &[Message],
    wait: Duration,
) -> (usize, usize) {
    for q in queries {
        sock.send_to(&q.to_vec().unwrap(), to).await.unwrap();
    }
    let (mut full, mut truncated) = (0, 0);
    let mut buf = vec![0u8; 4096];
    while let Ok(Ok((len, _))) = tokio::time::timeout(wait, sock.recv_from(&mut buf)).await {
        let m = Message::from_vec(&buf[..len]).unwrap();
        if m.metadata.truncation {
            assert!(m.answers.is_empty() && m.additionals.is_empty(), "{m:?}");
            truncated += 1;
        } else {
            full += 1;
        }
    }
    (full, truncated)
}

#[tokio::test]
async fn a_burst_from_one_source_is_limited_while_another_is_answered_in_full() {
    let (catalog, server) = limited_server().await;
    let attacker = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // Another /24 (the default IPv4 prefix): a client of its own.
    let other = UdpSocket::bind("127.0.1.1:0").await.unwrap();

    // The prepared path (A, with and without EDNS).
    let queries: Vec<Message> = (0..BURST)
        .map(|i| {
            let q = query(i, "www.example.", RecordType::A);
            if i % 2 == 0 { with_edns(q, 1232, 0) } else { q }
        })
        .collect();
    let started = std::time::Instant::now();
    let (full, truncated) =
        burst(&attacker, server.addr, &queries, Duration::from_millis(500)).await;
    let took = started.elapsed().as_secs_f64();
    println!("burst of {BURST}: {full} answered, {truncated} truncated, in {took:.2} s");
    // The bucket starts full (RATE) and refills at RATE per second while the burst lasts.
    let allowed = RATE as usize + (took * f64::from(RATE)).ceil() as usize;
    assert!(full >= RATE as usize && full <= allowed, "{full} answered");
    let limited = usize::from(BURST) - full;
    // slip = 2: every second limited answer goes out truncated.
    assert!(
        truncated.abs_diff(limited / 2) <= 1,
        "{truncated} of {limited} truncated"
    );
    let counters = catalog.rrl_counters().expect("rate limiting is on");
    assert_eq!(counters.slipped.load(Ordering::Relaxed) as usize, truncated);
    assert_eq!(
        counters.dropped.load(Ordering::Relaxed) as usize,
        limited - truncated
    );

    // Meanwhile the other source gets every answer, prepared and general path alike.
    let mut asked: Vec<Message> = (0..(RATE as u16 / 2))
        .map(|i| query(1000 + i, "www.example.", RecordType::A))
        .collect();
    asked.extend(
        (0..(RATE as u16 / 2))
            .map(|i| with_class(query(2000 + i, "www.example.", RecordType::A), DNSClass::CH)),
    );
    let (full, truncated) = burst(&other, server.addr, &asked, Duration::from_millis(500)).await;
    assert_eq!((full, truncated), (asked.len(), 0));

    // The attacker is still limited over UDP (its debt lasts the window), never over TCP.
    let (full, _) = burst(
        &attacker,
        server.addr,
        &queries[..20],
        Duration::from_millis(300),
    )
    .await;
    assert!(full <= 5, "{full} answered after the burst");
    let m = tcp(server.addr, &query(5000, "www.example.", RecordType::A)).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 8);
    server.stop().await.unwrap();
}
