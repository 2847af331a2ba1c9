//! TSIG (RFC 8945) on zone transfers, queries and NOTIFY, over real sockets on ephemeral
//! loopback ports. The client side is hickory's own TSIG code (`Message::finalize` to sign,
//! `TSigVerifier` to check each answer and the chain of a multi-message transfer), so the
//! server is checked against an implementation it does not share its chaining code with.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::tsig::{TsigAlgorithm as HAlgorithm, TsigError};
use hickory_proto::rr::{Name as HName, RecordType, TSigResponseContext, TSigner};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use zonegate_core::gate::{Generation, Target};
use zonegate_core::{Name, Record, Zone};
use zonegate_server::{
    Catalog, ServerOptions, TSIG_FUDGE_SECS, TsigAlgorithm, TsigKey, ZoneOptions,
};
use zonegate_testkit::dns::*;
use zonegate_testkit::*;

const SECRET: &[u8] = b"zonegate transfer key, 32 octets";
const OTHER_SECRET: &[u8] = b"another key the zone does not ac";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn key(name: &str, algorithm: TsigAlgorithm, secret: &[u8]) -> TsigKey {
    TsigKey {
        name: Name::parse(name).unwrap(),
        algorithm,
        secret: secret.to_vec(),
    }
}

fn signer(name: &str, algorithm: HAlgorithm, secret: &[u8]) -> TSigner {
    TSigner::new(
        secret.to_vec(),
        algorithm,
        HName::from_ascii(name).unwrap(),
        TSIG_FUDGE_SECS,
    )
    .unwrap()
}

fn xfr_signer() -> TSigner {
    signer("xfr.key.", HAlgorithm::HmacSha256, SECRET)
}

/// Loopback may transfer; transfers of every zone need `xfr.key.`; `other.key.` (SHA-512) is
/// known but allowed for no zone.
fn options(f: impl FnOnce(&mut ServerOptions)) -> ServerOptions {
    let mut o = ServerOptions {
        default: ZoneOptions {
            allow_transfer: vec!["127.0.0.0/8".parse().unwrap()],
            transfer_keys: vec![Name::parse("xfr.key.").unwrap()],
            ..ZoneOptions::default()
        },
        tsig_keys: vec![
            key("xfr.key.", TsigAlgorithm::HmacSha256, SECRET),
            key("other.key.", TsigAlgorithm::HmacSha512, OTHER_SECRET),
        ],
        ..ServerOptions::default()
    };
    f(&mut o);
    o
}

async fn start(options: ServerOptions, zone: Zone) -> (Arc<Catalog>, Running) {
    let catalog = Arc::new(Catalog::with_options("tsig", options));
    catalog.install(Generation(1), zone).await.unwrap();
    let server = Running::start(catalog.clone()).await;
    (catalog, server)
}

/// `count` A records under `big.example.`, plus the apex and its glue.
fn big_zone(serial: u32, count: u32) -> Zone {
    let mut records: Vec<Record> = (0..count)
        .map(|i| {
            let b = i.to_be_bytes();
            a(&format!("h{i}.big.example."), [10, b[1], b[2], b[3]])
        })
        .collect();
    records.push(a("ns1.example.", [192, 0, 2, 53]));
    zone("example.", serial, records)
}

fn signed(mut m: Message, signer: &TSigner, time: u64) -> (Message, Vec<u8>) {
    m.finalize(signer, time).unwrap();
    let bytes = m.to_vec().unwrap();
    (m, bytes)
}

/// Sends `bytes` over TCP and reads messages until the transfer's closing SOA (the second SOA
/// seen, or the first message if it has an error or a single record, or answers no transfer).
async fn tcp_exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&frame(bytes)).await.unwrap();
    let mut out = Vec::new();
    let mut soas = 0;
    loop {
        let body = read_frame(&mut stream, Duration::from_secs(30)).await;
        let m = Message::from_vec(&body).unwrap();
        soas += m
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::SOA)
            .count();
        let transfer = m
            .queries
            .first()
            .is_some_and(|q| matches!(q.query_type(), RecordType::AXFR | RecordType::IXFR));
        let done = !transfer
            || m.metadata.response_code != ResponseCode::NoError
            || (out.is_empty() && m.answers.len() <= 1)
            || soas >= 2;
        out.push(body);
        if done {
            return out;
        }
    }
}

async fn udp_exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(bytes, addr).await.unwrap();
    let mut buf = vec![0u8; 65535];
    let (len, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
        .await
        .expect("UDP answer in time")
        .unwrap();
    buf.truncate(len);
    buf
}

fn tsig_error(m: &Message) -> Option<TsigError> {
    m.signature().and_then(|s| s.data.error)
}

/// A signed AXFR of a zone big enough for several messages: every message carries a TSIG,
/// hickory's verifier accepts each one in order (so each MAC covers the one before, RFC 8945
/// §5.3.1), and the records are the whole zone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_axfr_is_signed_in_every_message() {
    let zone = big_zone(1, 5000);
    let (_catalog, server) = start(options(|_| {}), zone.clone()).await;
    let mut q = query(7, "example.", RecordType::AXFR);
    let t = now();
    let mut verifier = q.finalize(&xfr_signer(), t).unwrap().unwrap();
    let messages = tcp_exchange(server.addr, &q.to_vec().unwrap()).await;
    assert!(messages.len() >= 4, "{} messages", messages.len());
    let mut records = 0;
    for (i, body) in messages.iter().enumerate() {
        let m = verifier
            .verify(body)
            .unwrap_or_else(|e| panic!("message {i} of {}: {e}", messages.len()));
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.signature().is_some(), "message {i} is signed");
        records += m.answers.len();
    }
    // The zone, plus the closing SOA.
    assert_eq!(records, zone.records().len() + 1);

    // A message whose chain is broken does not verify: the second message checked as if it
    // were the first answer to the query.
    let mut fresh = query(7, "example.", RecordType::AXFR)
        .finalize(&xfr_signer(), t)
        .unwrap()
        .unwrap();
    assert!(fresh.verify(&messages[1]).is_err());

    // An IXFR over TCP from an unknown serial (answered in full) is signed the same way.
    let mut ixfr = query(8, "example.", RecordType::IXFR);
    ixfr.add_authority(soa_record("example.", 0));
    let mut verifier = ixfr.finalize(&xfr_signer(), now()).unwrap().unwrap();
    let messages = tcp_exchange(server.addr, &ixfr.to_vec().unwrap()).await;
    assert!(messages.len() >= 4);
    for body in &messages {
        verifier.verify(body).unwrap();
    }
    server.stop().await.unwrap();
}

fn soa_record(origin: &str, serial: u32) -> hickory_proto::rr::Record {
    use hickory_proto::rr::{RData, rdata::SOA};
    hickory_proto::rr::Record::from_rdata(
        HName::from_ascii(origin).unwrap(),
        0,
        RData::SOA(SOA::new(
            HName::from_ascii("ns.").unwrap(),
            HName::from_ascii("h.").unwrap(),
            serial,
            0,
            0,
            0,
            0,
        )),
    )
}

/// What RFC 8945 §5.2 asks for each kind of bad request, and what the zone's key list asks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_or_missing_signatures_are_refused() {
    let (_catalog, server) = start(options(|_| {}), big_zone(1, 10)).await;
    let addr = server.addr;
    let axfr = || query(9, "example.", RecordType::AXFR);
    let one = |messages: Vec<Vec<u8>>| {
        assert_eq!(messages.len(), 1);
        Message::from_vec(&messages[0]).unwrap()
    };

    // Unsigned: NOTAUTH, and nothing to sign it with.
    let m = one(tcp_exchange(addr, &axfr().to_vec().unwrap()).await);
    assert_eq!(m.metadata.response_code, ResponseCode::NotAuth);
    assert!(m.signature().is_none());
    assert!(m.answers.is_empty());

    // A key name the server does not know: NOTAUTH, BADKEY, unsigned.
    let unknown = signer("nobody.key.", HAlgorithm::HmacSha256, SECRET);
    let m = one(tcp_exchange(addr, &signed(axfr(), &unknown, now()).1).await);
    assert_eq!(m.metadata.response_code, ResponseCode::NotAuth);
    assert_eq!(tsig_error(&m), Some(TsigError::BadKey));
    assert!(m.signature().unwrap().data.mac.is_empty());

    // The right name with another algorithm is another key: BADKEY.
    let wrong_alg = signer("xfr.key.", HAlgorithm::HmacSha512, SECRET);
    let m = one(tcp_exchange(addr, &signed(axfr(), &wrong_alg, now()).1).await);
    assert_eq!(tsig_error(&m), Some(TsigError::BadKey));

    // The right name with the wrong secret: NOTAUTH, BADSIG, unsigned.
    let wrong_secret = signer("xfr.key.", HAlgorithm::HmacSha256, OTHER_SECRET);
    let m = one(tcp_exchange(addr, &signed(axfr(), &wrong_secret, now()).1).await);
    assert_eq!(m.metadata.response_code, ResponseCode::NotAuth);
    assert_eq!(tsig_error(&m), Some(TsigError::BadSig));
    assert!(m.signature().unwrap().data.mac.is_empty());
    assert!(m.answers.is_empty());

    // A good signature with one MAC octet changed: BADSIG. The request's TSIG ends with the
    // MAC, the original ID, the error and an empty Other Data (6 octets).
    let (_, mut bytes) = signed(axfr(), &xfr_signer(), now());
    let at = bytes.len() - 7;
    bytes[at] ^= 0x01;
    let m = one(tcp_exchange(addr, &bytes).await);
    assert_eq!(tsig_error(&m), Some(TsigError::BadSig));
    // A changed question under a good MAC: BADSIG too.
    let (_, mut bytes) = signed(axfr(), &xfr_signer(), now());
    bytes[13] ^= 0x20; // the case of the first letter of "example"
    let m = one(tcp_exchange(addr, &bytes).await);
    assert_eq!(tsig_error(&m), Some(TsigError::BadSig));

    // Signed 1000 s ago, beyond the 300 s fudge: NOTAUTH, BADTIME, signed with the key (the
    // client's verifier accepts it), with the server's time in Other Data.
    let skewed = now() - 1000;
    let mut q = axfr();
    let mut verifier = q.finalize(&xfr_signer(), skewed).unwrap().unwrap();
    let messages = tcp_exchange(addr, &q.to_vec().unwrap()).await;
    assert_eq!(messages.len(), 1);
    let m = verifier.verify(&messages[0]).expect("a signed BADTIME");
    assert_eq!(m.metadata.response_code, ResponseCode::NotAuth);
    let tsig = &m.signature().unwrap().data;
    assert_eq!(tsig.error, Some(TsigError::BadTime));
    assert_eq!(tsig.time, skewed);
    assert_eq!(tsig.other.len(), 6);
    let mut t = [0u8; 8];
    t[2..].copy_from_slice(&tsig.other);
    assert!(u64::from_be_bytes(t).abs_diff(now()) <= 5);
    // From the future too.
    let m = one(tcp_exchange(addr, &signed(axfr(), &xfr_signer(), now() + 1000).1).await);
    assert_eq!(tsig_error(&m), Some(TsigError::BadTime));
    // Within the fudge: fine.
    let mut q = axfr();
    let mut verifier = q.finalize(&xfr_signer(), now() - 200).unwrap().unwrap();
    let messages = tcp_exchange(addr, &q.to_vec().unwrap()).await;
    for body in &messages {
        let m = verifier.verify(body).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    }

    // A valid key that is not one of the zone's transfer keys: NOTAUTH, BADKEY.
    let other = signer("other.key.", HAlgorithm::HmacSha512, OTHER_SECRET);
    let m = one(tcp_exchange(addr, &signed(axfr(), &other, now()).1).await);
    assert_eq!(m.metadata.response_code, ResponseCode::NotAuth);
    assert_eq!(tsig_error(&m), Some(TsigError::BadKey));

    // Bad TSIGs on ordinary queries get the same answers, over UDP too.
    let soa_q = || query(10, "example.", RecordType::SOA);
    let m = Message::from_vec(&udp_exchange(addr, &signed(soa_q(), &wrong_secret, now()).1).await)
        .unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NotAuth);
    assert_eq!(tsig_error(&m), Some(TsigError::BadSig));
    server.stop().await.unwrap();
}

/// The address ACL still applies to signed requests, and a zone without transfer keys takes
/// unsigned transfers but signs its answers to signed ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_addresses_both_count() {
    let (_catalog, server) = start(
        options(|o| {
            o.default.allow_transfer = vec!["192.0.2.0/24".parse().unwrap()];
        }),
        big_zone(1, 10),
    )
    .await;
    let mut q = query(11, "example.", RecordType::AXFR);
    let mut verifier = q.finalize(&xfr_signer(), now()).unwrap().unwrap();
    let messages = tcp_exchange(server.addr, &q.to_vec().unwrap()).await;
    assert_eq!(messages.len(), 1);
    let m = verifier.verify(&messages[0]).expect("a signed REFUSED");
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    server.stop().await.unwrap();

    let (_catalog, server) = start(
        options(|o| o.default.transfer_keys.clear()),
        big_zone(1, 10),
    )
    .await;
    let q = query(12, "example.", RecordType::AXFR);
    let unsigned = tcp_exchange(server.addr, &q.to_vec().unwrap()).await;
    let m = Message::from_vec(&unsigned[0]).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.signature().is_none());
    let mut q = query(12, "example.", RecordType::AXFR);
    let mut verifier = q.finalize(&other_signer(), now()).unwrap().unwrap();
    for body in tcp_exchange(server.addr, &q.to_vec().unwrap()).await {
        verifier.verify(&body).unwrap();
    }
    server.stop().await.unwrap();
}

async fn recv(secondary: &UdpSocket) -> Result<(Vec<u8>, SocketAddr), tokio::time::error::Elapsed> {
    let mut buf = vec![0u8; 4096];
    let (len, from) = tokio::time::timeout(Duration::from_secs(5), secondary.recv_from(&mut buf))
        .await?
        .unwrap();
    buf.truncate(len);
    Ok((buf, from))
}

fn other_signer() -> TSigner {
    signer("other.key.", HAlgorithm::HmacSha512, OTHER_SECRET)
}

/// A secondary's signed SOA query (its refresh check) gets a signed answer, over UDP and TCP;
/// a signed answer too big for the client's UDP size is an empty, signed, truncated one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_queries_get_signed_answers() {
    let mut extra = vec![a("ns1.example.", [192, 0, 2, 53])];
    for i in 0..60 {
        extra.push(txt("big.example.", &format!("text number {i} of many")));
    }
    let (_catalog, server) = start(options(|_| {}), zone("example.", 1, extra)).await;
    let mut q = query(13, "example.", RecordType::SOA);
    let mut verifier = q.finalize(&xfr_signer(), now()).unwrap().unwrap();
    let m = verifier
        .verify(&udp_exchange(server.addr, &q.to_vec().unwrap()).await)
        .unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 1);
    assert!(m.metadata.authoritative);

    let mut q = query(14, "big.example.", RecordType::TXT);
    let mut verifier = q.finalize(&xfr_signer(), now()).unwrap().unwrap();
    let m = verifier
        .verify(&udp_exchange(server.addr, &q.to_vec().unwrap()).await)
        .unwrap();
    assert!(m.metadata.truncation);
    assert!(m.answers.is_empty());

    let mut q = query(14, "big.example.", RecordType::TXT);
    let mut verifier = q.finalize(&xfr_signer(), now()).unwrap().unwrap();
    let messages = tcp_exchange(server.addr, &q.to_vec().unwrap()).await;
    let m = verifier.verify(&messages[0]).unwrap();
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 60);
    server.stop().await.unwrap();
}

/// NOTIFY of a zone with transfer keys is signed with the first; only a NOERROR answer signed
/// with that key counts as an acknowledgement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_is_signed() {
    let secondary = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = secondary.local_addr().unwrap();
    let catalog = Arc::new(Catalog::with_options(
        "tsig-notify",
        options(|o| {
            o.default.notify = vec![target];
            o.notify_timeout = Duration::from_millis(200);
            o.notify_retries = 3;
        }),
    ));
    catalog
        .install(Generation(1), big_zone(1, 3))
        .await
        .unwrap();

    let (bytes, from) = recv(&secondary).await.expect("a NOTIFY");
    let m = Message::from_vec(&bytes).unwrap();
    assert_eq!(m.metadata.op_code, OpCode::Notify);
    let (request_mac, _, window) = xfr_signer()
        .verify_message_byte(&bytes, None, true)
        .expect("NOTIFY signed with the zone's key");
    assert!(window.contains(&now()));

    // An unsigned NOERROR answer is not believed: the NOTIFY comes again.
    let mut answer = Message::new(m.metadata.id, MessageType::Response, OpCode::Notify);
    answer.metadata.authoritative = true;
    answer.add_queries(m.queries.clone());
    secondary
        .send_to(&answer.to_vec().unwrap(), from)
        .await
        .unwrap();
    let (again, from) = recv(&secondary).await.expect("a retry");
    assert_eq!(
        Message::from_vec(&again).unwrap().metadata.id,
        m.metadata.id
    );
    assert_eq!(catalog.notifies_acknowledged(), 0);

    // A signed one is.
    let unsigned = answer.to_vec().unwrap();
    let tsig = TSigResponseContext::new(m.metadata.id, now(), xfr_signer(), request_mac, None)
        .sign(&unsigned)
        .unwrap();
    answer.set_signature(tsig);
    secondary
        .send_to(&answer.to_vec().unwrap(), from)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while catalog.notifies_acknowledged() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "acknowledged in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
