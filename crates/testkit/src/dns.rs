//! A small DNS client for tests: queries built with hickory's message types, asked over UDP
//! or TCP (RFC 1035 §4.2.2 length prefix), and answers read back as core records.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name as HName, Record as HRecord, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use zonegate_core::{Name, RType, Record};

/// How long a test waits for one answer.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// A query message for `name` and `qtype`, class IN, without RD or EDNS.
pub fn query(id: u16, name: &str, qtype: RecordType) -> Message {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(HName::from_ascii(name).unwrap(), qtype));
    m
}

/// `m` with its question's class replaced.
pub fn with_class(mut m: Message, class: DNSClass) -> Message {
    m.queries[0].set_query_class(class);
    m
}

/// `m` with an OPT record of `payload` octets and EDNS version `version`.
pub fn with_edns(mut m: Message, payload: u16, version: u8) -> Message {
    let mut e = Edns::new();
    e.set_max_payload(payload);
    e.set_version(version);
    m.set_edns(e);
    m
}

/// Asks `m` over UDP and decodes the answer.
pub async fn udp(addr: SocketAddr, m: &Message) -> Message {
    udp_raw(addr, &m.to_vec().unwrap()).await
}

/// Sends `bytes` as one UDP datagram and decodes the answer.
pub async fn udp_raw(addr: SocketAddr, bytes: &[u8]) -> Message {
    Message::from_vec(&udp_bytes(addr, bytes).await).unwrap()
}

/// Sends `bytes` as one UDP datagram and returns the answer's octets.
pub async fn udp_bytes(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let local = if addr.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    };
    let sock = UdpSocket::bind(local).await.unwrap();
    sock.send_to(bytes, addr).await.unwrap();
    let mut buf = vec![0u8; 65535];
    let (len, _) = tokio::time::timeout(TIMEOUT, sock.recv_from(&mut buf))
        .await
        .expect("UDP answer in time")
        .unwrap();
    buf.truncate(len);
    buf
}

/// Asks `m` over a blocking UDP socket, for tests that run threads without a runtime: sends
/// it to `server` and waits up to `limit` for a response from `server` with the query's ID
/// (others are skipped). `None` if none comes, the socket fails or its read timeout passes.
pub fn ask_blocking(
    socket: &std::net::UdpSocket,
    server: SocketAddr,
    m: &Message,
    limit: Duration,
) -> Option<Message> {
    socket.send_to(&m.to_vec().ok()?, server).ok()?;
    let mut buf = [0u8; 1500];
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let (len, from) = socket.recv_from(&mut buf).ok()?;
        if from == server
            && let Ok(reply) = Message::from_vec(&buf[..len])
            && reply.metadata.id == m.metadata.id
            && reply.metadata.message_type == MessageType::Response
        {
            return Some(reply);
        }
    }
    None
}

/// `bytes` with their two-octet TCP length prefix.
pub fn frame(bytes: &[u8]) -> Vec<u8> {
    let mut f = (bytes.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(bytes);
    f
}

/// `m` encoded with its two-octet TCP length prefix.
pub fn framed(m: &Message) -> Vec<u8> {
    frame(&m.to_vec().unwrap())
}

/// Reads one length-prefixed message (without its prefix) within `limit`, or `None` at the
/// end of the stream; panics if neither comes in time.
pub async fn next_frame(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let read = async {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.ok()?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut body).await.ok()?;
        Some(body)
    };
    tokio::time::timeout(limit, read)
        .await
        .expect("a TCP message or the end of the stream in time")
}

/// [`next_frame`], where the end of the stream is a failure.
pub async fn read_frame(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    next_frame(stream, limit)
        .await
        .expect("a TCP message, not the end of the stream")
}

/// Sends one query on an open TCP connection and reads one response.
pub async fn tcp_on(stream: &mut TcpStream, m: &Message) -> Message {
    stream.write_all(&framed(m)).await.unwrap();
    let body = read_frame(stream, TIMEOUT).await;
    Message::from_vec(&body).unwrap()
}

/// Asks `m` on a new TCP connection.
pub async fn tcp(addr: SocketAddr, m: &Message) -> Message {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    tcp_on(&mut stream, m).await
}

/// A hickory record as a core record: owner, type, TTL and canonical rdata.
pub fn core_record(r: &HRecord) -> Record {
    let mut rdata = Vec::new();
    let mut enc = BinEncoder::new(&mut rdata);
    enc.set_canonical_form(true);
    r.data.emit(&mut enc).unwrap();
    Record {
        owner: Name::from_labels(r.name.iter()).unwrap(),
        rtype: RType(u16::from(r.record_type())),
        ttl: r.ttl,
        rdata: rdata.into(),
    }
}

/// [`core_record`] of each.
pub fn core_records(rs: &[HRecord]) -> Vec<Record> {
    rs.iter().map(core_record).collect()
}
