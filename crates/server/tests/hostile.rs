//! What a hostile network sends: responses (QR=1), compression pointers in the question,
//! `ANY` for amplification, answers too large for UDP. Each test failed before its fix.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::net::UdpSocket;
use zonegate_core::gate::{Generation, Target};
use zonegate_server::Catalog;
use zonegate_testkit::dns::*;
use zonegate_testkit::*;

/// A zone with many record sets at `www.example.` and 60 addresses at `big.example.`.
async fn server() -> Running {
    let mut extra = vec![a("ns1.example.", [192, 0, 2, 53])];
    for i in 0..20u8 {
        extra.push(txt(
            "www.example.",
            &format!("text record number {i} at www"),
        ));
        extra.push(a("www.example.", [192, 0, 2, i]));
        extra.push(aaaa("www.example.", i));
    }
    extra.push(mx("www.example.", 10, "mail.example."));
    for i in 0..60u8 {
        extra.push(a("big.example.", [10, 0, 0, i]));
    }
    let catalog = Arc::new(Catalog::new("hostile"));
    catalog
        .install(Generation(1), zone("example.", 1, extra))
        .await
        .unwrap();
    Running::start(catalog).await
}

/// Sends `bytes` and returns what comes back within `wait`, if anything.
async fn reply_within(
    sock: &UdpSocket,
    to: std::net::SocketAddr,
    bytes: &[u8],
    wait: Duration,
) -> Option<Vec<u8>> {
    sock.send_to(bytes, to).await.unwrap();
    let mut buf = vec![0u8; 65535];
    match tokio::time::timeout(wait, sock.recv_from(&mut buf)).await {
        Ok(Ok((len, _))) => Some(buf[..len].to_vec()),
        _ => None,
    }
}

/// No packet with QR=1 is answered, well formed or not, over UDP or TCP; a query after them
/// still is.
#[tokio::test]
async fn responses_are_never_answered() {
    let server = server().await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut rng = xorshift(0x5eed_1234);
    let mut answered = 0;
    for i in 0..300u32 {
        let len = 12 + (rng() % 60) as usize;
        let mut packet: Vec<u8> = (0..len).map(|_| rng() as u8).collect();
        packet[2] |= 0x80;
        if i % 3 == 0 {
            // A well-formed response to a real query.
            packet = query(i as u16, "www.example.", RecordType::A)
                .to_vec()
                .unwrap();
            packet[2] |= 0x80;
        }
        sock.send_to(&packet, server.addr).await.unwrap();
    }
    let mut buf = vec![0u8; 4096];
    while let Ok(Ok(_)) =
        tokio::time::timeout(Duration::from_millis(500), sock.recv_from(&mut buf)).await
    {
        answered += 1;
    }
    assert_eq!(answered, 0, "responses were answered");
    // Over TCP: the response is dropped, the query after it answered.
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut bad = query(7, "www.example.", RecordType::A).to_vec().unwrap();
    bad[2] |= 0x80;
    bad.truncate(20);
    tokio::io::AsyncWriteExt::write_all(&mut stream, &frame(&bad))
        .await
        .unwrap();
    let ok = tcp_on(&mut stream, &query(8, "www.example.", RecordType::A)).await;
    assert_eq!(ok.metadata.id, 8);
    assert_eq!(ok.metadata.response_code, ResponseCode::NoError);
    server.stop().await.unwrap();
}

/// A question whose name is a compression pointer into the header is answered with the name
/// spelled out, never with the pointer (which would point into the response's own header).
#[tokio::test]
async fn the_question_is_encoded_again_not_echoed() {
    let server = server().await;
    // Offset 5 reads as a one-octet label (the question count's low octet is 1, then the
    // answer count's high octet 0) and the root (the answer count's low octet 0).
    let mut msg = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    msg.extend_from_slice(&[0xC0, 5, 0, 1, 0, 1]);
    let reply = udp_bytes(server.addr, &msg).await;
    assert_eq!(&reply[..2], &[0x12, 0x34]);
    assert_eq!(
        &reply[12..19],
        &[1, 0, 0, 0, 1, 0, 1],
        "question: {:x?}",
        &reply[12..]
    );
    server.stop().await.unwrap();
}

/// `ANY` is answered with one HINFO "RFC8482" (RFC 8482), over UDP and TCP, and with EDNS the
/// answer is under 3 times the query's size.
#[tokio::test]
async fn any_is_answered_minimally() {
    let server = server().await;
    let q = with_edns(query(1, "www.example.", RecordType::ANY), 1232, 0);
    let bytes = q.to_vec().unwrap();
    let reply = udp_bytes(server.addr, &bytes).await;
    let ratio = reply.len() as f64 / bytes.len() as f64;
    println!(
        "ANY with EDNS: {} octets in, {} out, {ratio:.2}x",
        bytes.len(),
        reply.len()
    );
    assert!(ratio < 3.0, "amplification {ratio:.2}x");
    for m in [
        Message::from_vec(&reply).unwrap(),
        tcp(server.addr, &q).await,
    ] {
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(m.answers.len(), 1, "{m:?}");
        assert_eq!(m.answers[0].record_type(), RecordType::HINFO);
        assert!(m.answers[0].data.to_string().contains("RFC8482"), "{m:?}");
    }
    // A missing name is still NXDOMAIN.
    let m = udp(server.addr, &query(2, "nope.example.", RecordType::ANY)).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    server.stop().await.unwrap();
}

/// An answer truncated for UDP (TC=1) carries no records, only the question (and the OPT
/// record with EDNS); over TCP the full answer comes.
#[tokio::test]
async fn truncated_answers_carry_no_records() {
    let server = server().await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for edns in [false, true] {
        let mut q = query(3, "big.example.", RecordType::A);
        if edns {
            q = with_edns(q, 512, 0);
        }
        let reply = reply_within(&sock, server.addr, &q.to_vec().unwrap(), TIMEOUT)
            .await
            .expect("an answer");
        let m = Message::from_vec(&reply).unwrap();
        assert!(m.metadata.truncation, "{m:?}");
        assert!(m.answers.is_empty() && m.authorities.is_empty(), "{m:?}");
        assert!(m.additionals.is_empty(), "{m:?}");
        assert_eq!(m.edns.is_some(), edns);
        assert!(reply.len() < 64, "{} octets", reply.len());
    }
    let full = tcp(server.addr, &query(4, "big.example.", RecordType::A)).await;
    assert_eq!(full.answers.len(), 60);
    server.stop().await.unwrap();
}
