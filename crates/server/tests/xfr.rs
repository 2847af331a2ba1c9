//! Zone transfer out (AXFR, IXFR), SOA serial policies, NOTIFY and the EDNS/opcode rules,
//! all over real sockets on ephemeral loopback ports.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{Name as HName, rdata::SOA as HSOA};
use hickory_proto::rr::{RData, Record as HRecord, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use zonegate_core::gate::{Generation, Target};
use zonegate_core::{Record, Zone};
use zonegate_server::{Catalog, ServerOptions, ZoneOptions};
use zonegate_testkit::dns::*;
use zonegate_testkit::*;

/// [`zonegate_testkit::zone`] with the glue its apex NS needs.
fn zone(origin: &str, serial: u32, mut extra: Vec<Record>) -> Zone {
    extra.push(a(&format!("ns1.{origin}"), [192, 0, 2, 53]));
    zonegate_testkit::zone(origin, serial, extra)
}

/// Options that let loopback clients transfer every zone, with `f` applied on top.
fn options(f: impl FnOnce(&mut ServerOptions)) -> ServerOptions {
    let mut o = ServerOptions {
        default: ZoneOptions {
            allow_transfer: vec!["127.0.0.0/8".parse().unwrap()],
            ..ZoneOptions::default()
        },
        ..ServerOptions::default()
    };
    f(&mut o);
    o
}

async fn start(options: ServerOptions) -> (Arc<Catalog>, Running) {
    let catalog = Arc::new(Catalog::with_options("xfr", options));
    let server = Running::start(catalog.clone()).await;
    (catalog, server)
}

/// `count` A records under `big.example.`, plus the apex.
fn big_zone(serial: u32, count: u32, salt: u8) -> Zone {
    let records = (0..count)
        .map(|i| {
            let b = i.to_be_bytes();
            a(&format!("h{i}.big.example."), [10, b[1], b[2], b[3] ^ salt])
        })
        .collect();
    zone("example.", serial, records)
}

fn serial_of(r: &HRecord) -> Option<u32> {
    match &r.data {
        RData::SOA(soa) if r.record_type() == RecordType::SOA => Some(soa.serial),
        _ => None,
    }
}

/// True once `records` is a whole transfer: an AXFR (SOA ... SOA), an incremental IXFR (RFC
/// 1995 §4: SOA, then difference sequences, then the SOA again), or a lone SOA.
fn complete(records: &[HRecord], first_message_len: usize) -> bool {
    let Some(current) = records.first().and_then(serial_of) else {
        return !records.is_empty();
    };
    if first_message_len == 1 {
        return true;
    }
    if records.len() < 2 {
        return false;
    }
    if serial_of(&records[1]).is_none() {
        // AXFR, or IXFR answered with the whole zone.
        return records.len() >= 2 && serial_of(records.last().unwrap()) == Some(current);
    }
    // Incremental: (old SOA, deletions, new SOA, additions)*, current SOA.
    let mut i = 1;
    loop {
        i += 1; // the old SOA
        while i < records.len() && serial_of(&records[i]).is_none() {
            i += 1;
        }
        let Some(new) = records.get(i).and_then(serial_of) else {
            return false;
        };
        i += 1;
        while i < records.len() && serial_of(&records[i]).is_none() {
            i += 1;
        }
        if i >= records.len() {
            return false;
        }
        if new == current && i == records.len() - 1 {
            return true;
        }
    }
}

/// One transfer over a new TCP connection: every response message until the transfer is
/// complete or a message carries an error.
async fn transfer(addr: SocketAddr, q: &Message) -> Vec<Message> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    transfer_on(&mut stream, q, |_| async {}).await
}

/// As [`transfer`], calling `between` after the first message (to change the catalog while
/// the transfer is under way).
async fn transfer_on<F, Fut>(stream: &mut TcpStream, q: &Message, between: F) -> Vec<Message>
where
    F: FnOnce(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    stream.write_all(&framed(q)).await.unwrap();
    let mut messages: Vec<Message> = Vec::new();
    let mut records: Vec<HRecord> = Vec::new();
    let mut between = Some(between);
    loop {
        let body = read_frame(stream, Duration::from_secs(30)).await;
        let m = Message::from_vec(&body).unwrap();
        assert!(body.len() <= 65535);
        let error = m.metadata.response_code != ResponseCode::NoError;
        records.extend(m.answers.iter().cloned());
        messages.push(m);
        if let Some(f) = between.take() {
            f(messages.len()).await;
        }
        if error || complete(&records, messages[0].answers.len()) {
            return messages;
        }
    }
}

fn answers(messages: &[Message]) -> Vec<HRecord> {
    messages.iter().flat_map(|m| m.answers.clone()).collect()
}

fn ixfr_query(id: u16, zone: &str, client_serial: u32) -> Message {
    let mut q = query(id, zone, RecordType::IXFR);
    let soa = HSOA::new(
        HName::from_ascii("ns.").unwrap(),
        HName::from_ascii("h.").unwrap(),
        client_serial,
        0,
        0,
        0,
        0,
    );
    q.add_authority(HRecord::from_rdata(
        HName::from_ascii(zone).unwrap(),
        0,
        RData::SOA(soa),
    ));
    q
}

fn rcode(messages: &[Message]) -> ResponseCode {
    assert_eq!(messages.len(), 1);
    messages[0].metadata.response_code
}

impl std::cmp::Ord for Sorted {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.canonical_cmp(&other.0)
    }
}

/// Records ordered canonically, for sets.
#[derive(PartialEq, Eq, Clone, Debug)]
struct Sorted(Record);

impl std::cmp::PartialOrd for Sorted {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

fn set_of(records: impl IntoIterator<Item = Record>) -> BTreeSet<Sorted> {
    records.into_iter().map(Sorted).collect()
}

/// An AXFR of 100,000 records goes out in many messages, each within TCP's 65535 octets,
/// framed by the SOA, and carries exactly the served zone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axfr_of_100k_records_streams_in_many_messages() {
    let (catalog, server) = start(options(|_| {})).await;
    catalog
        .install(Generation(7), big_zone(1, 100_000, 0))
        .await
        .unwrap();
    let started = Instant::now();
    let messages = transfer(server.addr, &query(42, "example.", RecordType::AXFR)).await;
    let took = started.elapsed();
    let records = answers(&messages);
    eprintln!(
        "AXFR of {} records: {} messages in {took:?}",
        records.len(),
        messages.len()
    );
    assert!(messages.len() > 10, "{} messages", messages.len());
    for m in &messages {
        assert_eq!(m.metadata.id, 42);
        assert_eq!(m.metadata.message_type, MessageType::Response);
        assert!(m.metadata.authoritative);
        assert!(!m.metadata.truncation);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    }
    // The zone's own serial (decided at publish, arriving with the zone), not the generation.
    assert_eq!(serial_of(&records[0]), Some(1));
    assert_eq!(serial_of(records.last().unwrap()), Some(1));
    // Every record once, SOA framing aside: 100,000 A, the NS and its glue, the SOA twice.
    assert_eq!(records.len(), 100_000 + 2 + 2);
    let served = catalog.get(&n("example.")).unwrap();
    let got = set_of(core_records(&records[1..]));
    assert_eq!(got.len(), records.len() - 1, "no record twice");
    assert_eq!(got, set_of(served.index().records().iter().cloned()));
    server.stop().await.unwrap();
}

/// A transfer is one generation: a generation installed while the transfer streams does not
/// leak into it, and the next transfer carries the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_is_a_snapshot_of_one_generation() {
    // The client reuses one connection and checks 60,000 records (unoptimised, on a shared
    // machine) between the two transfers: more than the default 10 s the server lets a
    // connection idle between queries, which is not what this test is about.
    let (catalog, server) = start(options(|o| o.tcp.idle_timeout = Duration::from_secs(300))).await;
    let old = big_zone(1, 60_000, 0);
    let new = big_zone(1, 60_000, 0xff);
    catalog.install(Generation(1), old).await.unwrap();
    let old_records = catalog
        .get(&n("example."))
        .unwrap()
        .index()
        .records()
        .to_vec();
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let c = catalog.clone();
    let messages = transfer_on(
        &mut stream,
        &query(1, "example.", RecordType::AXFR),
        |_| async move {
            // The install runs beside the transfer, which waits only for the swap, not for
            // the prepared answers built after it: the server's write timeout must not pass
            // while this client stops reading.
            let installing = c.clone();
            tokio::spawn(async move { installing.install(Generation(2), new).await.unwrap() });
            while c.held(&n("example.")) != Some(Generation(2)) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        },
    )
    .await;
    // The same connection then gets the new generation (asked at once; the first transfer
    // is checked after).
    let second = transfer_on(
        &mut stream,
        &query(2, "example.", RecordType::AXFR),
        |_| async {},
    )
    .await;
    assert!(messages.len() > 2);
    assert_eq!(catalog.held(&n("example.")), Some(Generation(2)));
    let records = answers(&messages);
    assert_eq!(set_of(core_records(&records[1..])), set_of(old_records));
    let records = answers(&second);
    assert_eq!(serial_of(&records[0]), Some(2));
    let new_records = catalog
        .get(&n("example."))
        .unwrap()
        .index()
        .records()
        .to_vec();
    assert_eq!(set_of(core_records(&records[1..])), set_of(new_records));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn transfers_follow_the_acl_and_the_rfc_rules() {
    let small = || zone("example.", 1, vec![a("www.example.", [192, 0, 2, 1])]);
    // Default options: no transfers at all.
    let (catalog, server) = start(ServerOptions::default()).await;
    catalog.install(Generation(1), small()).await.unwrap();
    let q = query(1, "example.", RecordType::AXFR);
    assert_eq!(
        rcode(&transfer(server.addr, &q).await),
        ResponseCode::Refused
    );
    let q = ixfr_query(2, "example.", 0);
    assert_eq!(
        rcode(&transfer(server.addr, &q).await),
        ResponseCode::Refused
    );
    server.stop().await.unwrap();

    // An ACL that does not list the loopback client.
    let (catalog, server) = start(options(|o| {
        o.zones.insert(
            n("example."),
            ZoneOptions {
                allow_transfer: vec!["192.0.2.0/24".parse().unwrap()],
                ..ZoneOptions::default()
            },
        );
    }))
    .await;
    catalog.install(Generation(1), small()).await.unwrap();
    catalog
        .install(
            Generation(1),
            zone("other.", 1, vec![a("www.other.", [192, 0, 2, 1])]),
        )
        .await
        .unwrap();
    let q = query(3, "example.", RecordType::AXFR);
    assert_eq!(
        rcode(&transfer(server.addr, &q).await),
        ResponseCode::Refused
    );
    // The zone without its own entry takes the default, which allows loopback.
    let q = query(4, "other.", RecordType::AXFR);
    assert_eq!(answers(&transfer(server.addr, &q).await).len(), 5);
    // Not a zone apex, or no zone at all: NOTAUTH.
    let q = query(5, "www.other.", RecordType::AXFR);
    assert_eq!(
        rcode(&transfer(server.addr, &q).await),
        ResponseCode::NotAuth
    );
    let q = query(6, "nowhere.", RecordType::AXFR);
    assert_eq!(
        rcode(&transfer(server.addr, &q).await),
        ResponseCode::NotAuth
    );
    // AXFR over UDP is not defined (RFC 5936 §4.2).
    let q = query(7, "other.", RecordType::AXFR);
    assert_eq!(
        udp(server.addr, &q).await.metadata.response_code,
        ResponseCode::NotImp
    );
    // IXFR needs the client's SOA in the authority section (RFC 1995 §3).
    let q = query(8, "other.", RecordType::IXFR);
    assert_eq!(
        rcode(&transfer(server.addr, &q).await),
        ResponseCode::FormErr
    );
    server.stop().await.unwrap();
}

fn ixfr_zone(serial: u32, extra: Vec<Record>) -> Zone {
    let mut records: Vec<Record> = (0..1000u32)
        .map(|i| a(&format!("h{i}.example."), [10, 0, (i >> 8) as u8, i as u8]))
        .collect();
    records.extend(extra);
    zone("example.", serial, records)
}

/// (type, serial or A address last octet) of each transferred record, to read a sequence.
fn shape(records: &[HRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| match &r.data {
            RData::SOA(soa) => format!("SOA {}", soa.serial),
            other => format!("{} {} {other}", r.name, r.record_type()),
        })
        .collect()
}

/// After a small change, IXFR carries only the change; from an unknown serial it falls back to
/// the whole zone; a client that is current gets the SOA alone; over UDP, the SOA alone too.
#[tokio::test]
async fn ixfr_carries_only_the_changes() {
    let (catalog, server) = start(options(|_| {})).await;
    // Each zone arrives with the serial the store decided when it was published: 1, 2, 3.
    catalog
        .install(Generation(1), ixfr_zone(1, vec![]))
        .await
        .unwrap();
    let mut changed = ixfr_zone(2, vec![]).records().to_vec();
    changed.retain(|r| ![n("h7.example."), n("example."), n("ns1.example.")].contains(&r.owner));
    changed.push(a("h7.example.", [10, 9, 9, 9]));
    catalog
        .install(Generation(2), zone("example.", 2, changed))
        .await
        .unwrap();
    let mut third = catalog
        .get(&n("example."))
        .unwrap()
        .index()
        .records()
        .to_vec();
    third.retain(|r| r.owner != n("example.") && r.owner != n("ns1.example."));
    third.push(txt("new.example.", "hello"));
    catalog
        .install(Generation(3), zone("example.", 3, third))
        .await
        .unwrap();
    assert_eq!(catalog.serial(&n("example.")), Some(3));

    let got = shape(&answers(
        &transfer(server.addr, &ixfr_query(1, "example.", 1)).await,
    ));
    assert_eq!(
        got,
        vec![
            "SOA 3",
            "SOA 1",
            "h7.example. A 10.0.0.7",
            "SOA 2",
            "h7.example. A 10.9.9.9",
            "SOA 2",
            "SOA 3",
            "new.example. TXT hello",
            "SOA 3",
        ]
    );
    let got = shape(&answers(
        &transfer(server.addr, &ixfr_query(2, "example.", 2)).await,
    ));
    assert_eq!(
        got,
        vec!["SOA 3", "SOA 2", "SOA 3", "new.example. TXT hello", "SOA 3"]
    );
    // Up to date, or ahead: the SOA alone, in one message.
    for serial in [3, 4, 77] {
        let messages = transfer(server.addr, &ixfr_query(3, "example.", serial)).await;
        assert_eq!(messages.len(), 1);
        assert_eq!(shape(&answers(&messages)), vec!["SOA 3"]);
    }
    // An older serial the history does not know: the whole zone, AXFR-style. (4000000000 is
    // behind 3 in RFC 1982 sequence space; 77 would be ahead, and get the SOA alone.)
    let records = answers(&transfer(server.addr, &ixfr_query(4, "example.", 4_000_000_000)).await);
    // The A records, NS, glue, TXT, and the SOA at both ends.
    assert_eq!(records.len(), 1000 + 3 + 2);
    assert_eq!(serial_of(&records[0]), Some(3));
    assert_eq!(serial_of(records.last().unwrap()), Some(3));
    // Over UDP: the SOA alone, which tells the client to use TCP (RFC 1995 §2).
    let r = udp(server.addr, &ixfr_query(5, "example.", 1)).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(shape(&r.answers), vec!["SOA 3"]);
    server.stop().await.unwrap();
}

/// The history is bounded: older serials fall back to a full transfer.
#[tokio::test]
async fn ixfr_history_is_bounded() {
    let (catalog, server) = start(options(|o| o.default.history_deltas_max = 2)).await;
    for g in 1..=5u64 {
        let extra = vec![txt("t.example.", &format!("v{g}"))];
        catalog
            .install(Generation(g), ixfr_zone(1, extra))
            .await
            .unwrap();
    }
    let served = catalog.get(&n("example.")).unwrap();
    assert_eq!(served.history_serials(), vec![3, 4, 5]);
    let records = answers(&transfer(server.addr, &ixfr_query(1, "example.", 3)).await);
    assert_eq!(records.len(), 1 + 2 * 4 + 1);
    let records = answers(&transfer(server.addr, &ixfr_query(2, "example.", 2)).await);
    assert_eq!(records.len(), 1000 + 3 + 2, "a full transfer");
    server.stop().await.unwrap();
}

/// A server that starts with earlier published generations handed to it (each with the serial
/// it was published with) can answer IXFR from them at once.
#[tokio::test]
async fn history_is_seeded_from_earlier_generations() {
    let (catalog, server) = start(options(|_| {})).await;
    let v = |g: u64| ixfr_zone(g as u32, vec![txt("t.example.", &format!("v{g}"))]);
    catalog
        .install_with_history(
            Generation(9),
            v(9),
            vec![(Generation(4), v(4)), (Generation(6), v(6))],
        )
        .await
        .unwrap();
    assert_eq!(catalog.serial(&n("example.")), Some(9));
    let got = shape(&answers(
        &transfer(server.addr, &ixfr_query(1, "example.", 4)).await,
    ));
    assert_eq!(
        got,
        vec![
            "SOA 9",
            "SOA 4",
            "t.example. TXT v4",
            "SOA 6",
            "t.example. TXT v6",
            "SOA 6",
            "t.example. TXT v6",
            "SOA 9",
            "t.example. TXT v9",
            "SOA 9",
        ]
    );
    server.stop().await.unwrap();
}

async fn soa_serial(addr: SocketAddr) -> u32 {
    let r = udp(addr, &query(1, "example.", RecordType::SOA)).await;
    serial_of(&r.answers[0]).unwrap()
}

/// The server serves the serial a zone arrives with (the one decided and stored at publish),
/// whatever the generation, and never goes back: a serial that would not be above the served
/// one is raised to the served one plus one.
#[tokio::test]
async fn served_serials() {
    let (catalog, server) = start(options(|_| {})).await;
    catalog
        .install(Generation(1), zone("example.", 2_024_010_101, vec![]))
        .await
        .unwrap();
    assert_eq!(soa_serial(server.addr).await, 2_024_010_101);
    catalog
        .install(Generation(2), zone("example.", 2_024_010_102, vec![]))
        .await
        .unwrap();
    assert_eq!(soa_serial(server.addr).await, 2_024_010_102);
    // Only a serial that would go back (a store replaced under the server) is raised.
    catalog
        .install(Generation(3), zone("example.", 7, vec![]))
        .await
        .unwrap();
    assert_eq!(soa_serial(server.addr).await, 2_024_010_103);
    server.stop().await.unwrap();
}

/// Reads one NOTIFY from the fake secondary's socket.
async fn next_notify(secondary: &UdpSocket) -> (Message, SocketAddr) {
    let mut buf = vec![0u8; 4096];
    let (len, from) = tokio::time::timeout(Duration::from_secs(5), secondary.recv_from(&mut buf))
        .await
        .expect("a NOTIFY in time")
        .unwrap();
    (Message::from_vec(&buf[..len]).unwrap(), from)
}

fn check_notify(m: &Message, serial: u32) {
    assert_eq!(m.metadata.op_code, OpCode::Notify);
    assert_eq!(m.metadata.message_type, MessageType::Query);
    assert!(m.metadata.authoritative);
    assert_eq!(m.queries.len(), 1);
    assert_eq!(m.queries[0].name().to_ascii(), "example.");
    assert_eq!(m.queries[0].query_type(), RecordType::SOA);
    assert_eq!(serial_of(&m.answers[0]), Some(serial));
}

async fn acknowledge(secondary: &UdpSocket, m: &Message, to: SocketAddr) {
    let mut answer = Message::new(m.metadata.id, MessageType::Response, OpCode::Notify);
    answer.metadata.authoritative = true;
    answer.add_query(m.queries[0].clone());
    secondary
        .send_to(&answer.to_vec().unwrap(), to)
        .await
        .unwrap();
}

/// Every install sends NOTIFY to the configured secondaries, again until one answers.
#[tokio::test]
async fn notify_is_sent_on_install_and_retried() {
    let secondary = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = secondary.local_addr().unwrap();
    let (catalog, server) = start(options(|o| {
        o.default.notify = vec![target];
        o.notify_timeout = Duration::from_millis(200);
        o.notify_retries = 3;
    }))
    .await;
    catalog
        .install(Generation(1), zone("example.", 1, vec![]))
        .await
        .unwrap();
    let (first, from) = next_notify(&secondary).await;
    check_notify(&first, 1);
    // Not answered: it comes again, the same message.
    let (again, from_again) = next_notify(&secondary).await;
    assert_eq!(again.metadata.id, first.metadata.id);
    assert_eq!(from_again, from);
    check_notify(&again, 1);
    acknowledge(&secondary, &again, from).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while catalog.notifies_acknowledged() < 1 {
        assert!(
            Instant::now() < deadline,
            "the acknowledgement was not seen"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The next generation is notified too, and answered at once: no retries follow.
    catalog
        .install(Generation(2), zone("example.", 1, vec![]))
        .await
        .unwrap();
    let (next, from) = next_notify(&secondary).await;
    check_notify(&next, 2);
    acknowledge(&secondary, &next, from).await;
    let mut buf = [0u8; 512];
    let more =
        tokio::time::timeout(Duration::from_millis(600), secondary.recv_from(&mut buf)).await;
    assert!(more.is_err(), "no NOTIFY after the acknowledgement");
    assert_eq!(catalog.notifies_acknowledged(), 2);
    server.stop().await.unwrap();
}

/// A raw query for `www.example. A` with `opcode` and, if given, an OPT record with `version`,
/// `flags` and one option.
fn raw_query(opcode: u8, opt: Option<(u8, u16, u16)>) -> Vec<u8> {
    let mut m = vec![
        0x12,
        0x34,
        opcode << 3,
        0,
        0,
        1,
        0,
        0,
        0,
        0,
        0,
        u8::from(opt.is_some()),
    ];
    m.extend_from_slice(b"\x03www\x07example\x00\x00\x01\x00\x01");
    if let Some((version, flags, option)) = opt {
        m.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, version]);
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&[0, 6]);
        m.extend_from_slice(&option.to_be_bytes());
        m.extend_from_slice(&[0, 2, 0xab, 0xcd]);
    }
    m
}

/// RFC 6891 and RFC 8906 over a socket: unknown EDNS options are ignored and not echoed,
/// unknown EDNS flags are cleared, an unknown version gets BADVERS, and unknown opcodes NOTIMP.
#[tokio::test]
async fn edns_and_opcode_rules_over_the_wire() {
    let (catalog, server) = start(options(|_| {})).await;
    catalog
        .install(
            Generation(1),
            zone("example.", 1, vec![a("www.example.", [192, 0, 2, 1])]),
        )
        .await
        .unwrap();
    // Option 65001 and flag bit 0x4000 are unknown.
    let r = udp_bytes(server.addr, &raw_query(0, Some((0, 0x4000, 65001)))).await;
    let m = Message::from_vec(&r).unwrap();
    assert_eq!(m.metadata.id, 0x1234);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 1);
    // The response's OPT is the message's last 11 octets: root owner, type 41, our payload
    // size, extended rcode 0, version 0, every flag clear, and no options.
    assert_eq!(
        &r[r.len() - 11..],
        &[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0],
        "OPT of the response"
    );
    // DO (0x8000) is the one known flag; it is not echoed by a server that does not sign.
    let r = udp_bytes(server.addr, &raw_query(0, Some((0, 0x8000, 10)))).await;
    assert_eq!(
        Message::from_vec(&r).unwrap().metadata.response_code,
        ResponseCode::NoError
    );
    // EDNS version 1: BADVERS (16 = 1 << 4 | 0): extended rcode 1 in the OPT, 0 in the
    // header; the OPT says version 0, the one we speak.
    let r = udp_bytes(server.addr, &raw_query(0, Some((1, 0, 10)))).await;
    assert_eq!(r[3] & 0x0f, 0, "header rcode");
    assert_eq!(&r[r.len() - 11..r.len() - 4], &[0, 0, 41, 0x04, 0xd0, 1, 0]);
    let m = Message::from_vec(&r).unwrap();
    assert!(m.answers.is_empty());
    // Unknown opcodes (3 is unassigned, 15 too) and ones we do not implement: NOTIMP, with
    // and without EDNS, over UDP and TCP.
    for opcode in [3u8, 15, 2, 4, 5] {
        for opt in [None, Some((0, 0, 10))] {
            let r = udp_bytes(server.addr, &raw_query(opcode, opt)).await;
            assert_eq!(r[3] & 0x0f, 4, "opcode {opcode}: NOTIMP over UDP");
            assert_eq!(r[2] >> 3 & 0x0f, opcode, "the opcode is echoed");
        }
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let q = raw_query(opcode, None);
        stream.write_all(&frame(&q)).await.unwrap();
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.unwrap();
        let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
        stream.read_exact(&mut body).await.unwrap();
        assert_eq!(body[3] & 0x0f, 4, "opcode {opcode}: NOTIMP over TCP");
    }
    // A TCP message that is not DNS beyond its header: FORMERR, and the connection goes on.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let mut garbage = raw_query(0, None);
    garbage.truncate(14);
    stream.write_all(&frame(&garbage)).await.unwrap();
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.unwrap();
    let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).await.unwrap();
    assert_eq!(&body[..2], &[0x12, 0x34]);
    assert_eq!(body[3] & 0x0f, 1, "FORMERR");
    let r = tcp_on(&mut stream, &query(9, "www.example.", RecordType::A)).await;
    assert_eq!(r.answers.len(), 1);
    server.stop().await.unwrap();
}

/// An IXFR whose authority SOA belongs to another name is not read as the client's serial of
/// this zone: FORMERR (RFC 1995 §3: the SOA is the client's version of *this* zone). Before
/// the fix, serial 3 under `other.` made the server answer "up to date".
#[tokio::test]
async fn ixfr_with_another_names_soa_is_formerr() {
    let (catalog, server) = start(options(|_| {})).await;
    catalog
        .install(Generation(3), ixfr_zone(3, vec![]))
        .await
        .unwrap();
    let mut q = query(9, "example.", RecordType::IXFR);
    let soa = HSOA::new(
        HName::from_ascii("ns.").unwrap(),
        HName::from_ascii("h.").unwrap(),
        3,
        0,
        0,
        0,
        0,
    );
    q.add_authority(HRecord::from_rdata(
        HName::from_ascii("other.").unwrap(),
        0,
        RData::SOA(soa),
    ));
    assert_eq!(
        rcode(&transfer(server.addr, &q).await),
        ResponseCode::FormErr
    );
    // The same SOA under the zone's own name is the client's serial: up to date.
    let messages = transfer(server.addr, &ixfr_query(10, "example.", 3)).await;
    assert_eq!(shape(&answers(&messages)), vec!["SOA 3"]);
    server.stop().await.unwrap();
}
