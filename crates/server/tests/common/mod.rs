//! Helpers shared by the server's integration tests: zones built without the zone-file
//! parser, a server on an ephemeral loopback port, and raw DNS queries over UDP and TCP.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name as HName, Record as HRecord, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use zonegate_core::dns::record::Soa;
use zonegate_core::zone::validate::validate;
use zonegate_core::{Limits, Name, ParsedZone, RType, Record, Zone};
use zonegate_server::{Catalog, Listeners, ServerError, serve_on};

pub const TIMEOUT: Duration = Duration::from_secs(5);

pub fn n(s: &str) -> Name {
    Name::parse(s).unwrap()
}

pub fn name_rdata(s: &str) -> Box<[u8]> {
    let mut v = Vec::new();
    n(s).write_wire(&mut v);
    v.into_boxed_slice()
}

pub fn rec(owner: &str, ttl: u32, rtype: RType, rdata: Box<[u8]>) -> Record {
    Record {
        owner: n(owner),
        rtype,
        ttl,
        rdata,
    }
}

pub fn a(owner: &str, ip: [u8; 4]) -> Record {
    rec(owner, 300, RType::A, Box::new(ip))
}

pub fn ns(owner: &str, target: &str) -> Record {
    rec(owner, 3600, RType::NS, name_rdata(target))
}

pub fn cname(owner: &str, target: &str) -> Record {
    rec(owner, 600, RType::CNAME, name_rdata(target))
}

pub fn dname(owner: &str, target: &str) -> Record {
    rec(owner, 700, RType::DNAME, name_rdata(target))
}

pub fn txt(owner: &str, text: &str) -> Record {
    let mut v = vec![text.len() as u8];
    v.extend_from_slice(text.as_bytes());
    rec(owner, 300, RType::TXT, v.into_boxed_slice())
}

pub fn soa(origin: &str, serial: u32) -> Record {
    let s = Soa {
        mname: n(&format!("ns1.{origin}")),
        rname: n(&format!("hostmaster.{origin}")),
        serial,
        refresh: 3600,
        retry: 600,
        expire: 86400,
        minimum: 60,
    };
    rec(origin, 3600, RType::SOA, s.to_rdata())
}

/// A zone with an apex SOA (serial `serial`) and NS, plus `extra`.
pub fn zone(origin: &str, serial: u32, extra: Vec<Record>) -> Zone {
    let mut records = vec![soa(origin, serial), ns(origin, &format!("ns1.{origin}"))];
    records.extend(extra);
    validate(
        ParsedZone {
            origin: n(origin),
            records,
        },
        &Limits::default(),
    )
    .expect("valid zone")
}

/// A server answering from a catalog on an ephemeral loopback port.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl Running {
    pub async fn start(catalog: Arc<Catalog>) -> Running {
        let listeners = Listeners::bind(&["127.0.0.1:0".parse().unwrap()])
            .await
            .unwrap();
        let addr = listeners.local_addrs()[0];
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_on(listeners, catalog, async move {
            let _ = rx.await;
        }));
        Running {
            addr,
            stop: Some(tx),
            task,
        }
    }

    /// Asks for a graceful shutdown and waits for it.
    pub async fn stop(mut self) -> Result<(), ServerError> {
        let _ = self.stop.take().expect("not stopped yet").send(());
        tokio::time::timeout(TIMEOUT, self.task)
            .await
            .expect("shutdown in time")
            .expect("server task")
    }
}

/// A query message, encoded.
pub fn query(id: u16, name: &str, qtype: RecordType) -> Message {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(HName::from_ascii(name).unwrap(), qtype));
    m
}

pub fn with_class(mut m: Message, class: DNSClass) -> Message {
    m.queries[0].set_query_class(class);
    m
}

pub fn with_edns(mut m: Message, payload: u16, version: u8) -> Message {
    let mut e = Edns::new();
    e.set_max_payload(payload);
    e.set_version(version);
    m.set_edns(e);
    m
}

pub async fn udp(addr: SocketAddr, m: &Message) -> Message {
    udp_raw(addr, &m.to_vec().unwrap()).await
}

pub async fn udp_raw(addr: SocketAddr, bytes: &[u8]) -> Message {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(bytes, addr).await.unwrap();
    let mut buf = vec![0u8; 65535];
    let (len, _) = tokio::time::timeout(TIMEOUT, sock.recv_from(&mut buf))
        .await
        .expect("UDP answer in time")
        .unwrap();
    Message::from_vec(&buf[..len]).unwrap()
}

/// Sends one query on an open TCP connection and reads one response.
pub async fn tcp_on(stream: &mut TcpStream, m: &Message) -> Message {
    let bytes = m.to_vec().unwrap();
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    stream.write_all(&framed).await.unwrap();
    let read = async {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.unwrap();
        let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
        stream.read_exact(&mut body).await.unwrap();
        body
    };
    let body = tokio::time::timeout(TIMEOUT, read)
        .await
        .expect("TCP answer in time");
    Message::from_vec(&body).unwrap()
}

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
        rdata: rdata.into_boxed_slice(),
    }
}

pub fn core_records(rs: &[HRecord]) -> Vec<Record> {
    rs.iter().map(core_record).collect()
}
