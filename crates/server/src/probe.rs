//! The question side of `zonegate watch`: a small, bounded DNS client that asks one server
//! questions over UDP (TCP when an answer is truncated), paced to at most a set number of
//! queries per second, with a timeout and a bounded retry, and returns the core's
//! [`Observed`] values for [`zonegate_core::watch::judge`] to judge.
//!
//! A leaf of this crate: it knows hickory and the core, nothing of the server.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name as HName, Record as HRecord, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Interval, MissedTickBehavior, interval, timeout};
use zonegate_core::dns::rdata::canonical_rdata;
use zonegate_core::watch::{Check, Observed, ObservedAnswer, ServerObservation};
use zonegate_core::{Name, RType, Record};

/// The bounds of one prober.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeLimits {
    /// How long to wait for one answer.
    pub timeout: Duration,
    /// How many times a question without an answer is asked again.
    pub retries: u32,
    /// Most queries per second sent to the server, retries included.
    pub qps: u32,
}

impl Default for ProbeLimits {
    fn default() -> Self {
        ProbeLimits {
            timeout: Duration::from_secs(2),
            retries: 1,
            qps: 100,
        }
    }
}

/// Asks one server, one question at a time, at most `qps` a second.
pub struct Prober {
    server: SocketAddr,
    limits: ProbeLimits,
    socket: UdpSocket,
    pace: Interval,
    next_id: u16,
}

impl Prober {
    /// A prober of `server` from an ephemeral local port of the same address family.
    pub async fn new(server: SocketAddr, limits: ProbeLimits) -> io::Result<Prober> {
        let local: SocketAddr = if server.is_ipv4() {
            "0.0.0.0:0".parse().expect("an address")
        } else {
            "[::]:0".parse().expect("an address")
        };
        let socket = UdpSocket::bind(local).await?;
        let period = Duration::from_secs(1) / limits.qps.max(1);
        let mut pace = interval(period);
        pace.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Ok(Prober {
            server,
            limits,
            socket,
            pace,
            // Any start will do; a response must echo it.
            next_id: (std::process::id() as u16).wrapping_mul(31),
        })
    }

    /// The SOA question for `zone`, then (if it was answered) every check.
    pub async fn observe(&mut self, zone: &Name, checks: &[Check]) -> ServerObservation {
        let soa = self.ask(zone, RType::SOA).await;
        let mut answers = Vec::new();
        if matches!(soa, Observed::Answer(_)) {
            for check in checks {
                let observed = self.ask(&check.name, check.rtype).await;
                answers.push((check.clone(), observed));
            }
        }
        ServerObservation { soa, answers }
    }

    /// Asks `name`/`rtype`, again up to `retries` times while no answer comes.
    pub async fn ask(&mut self, name: &Name, rtype: RType) -> Observed {
        for _ in 0..=self.limits.retries {
            self.pace.tick().await;
            self.next_id = self.next_id.wrapping_add(1);
            let query = query(self.next_id, name, rtype);
            let Ok(bytes) = query.to_vec() else {
                return Observed::Timeout;
            };
            let reply = match self.udp(&bytes, self.next_id).await {
                Some(m) if m.metadata.truncation => self.tcp(&bytes, self.next_id).await,
                other => other,
            };
            if let Some(reply) = reply {
                return observed(&reply);
            }
        }
        Observed::Timeout
    }

    async fn udp(&self, bytes: &[u8], id: u16) -> Option<Message> {
        self.socket.send_to(bytes, self.server).await.ok()?;
        let mut buf = vec![0u8; 4096];
        let wait = async {
            loop {
                let (len, from) = self.socket.recv_from(&mut buf).await.ok()?;
                if let Some(m) = reply_to(&buf[..len], id).filter(|_| from == self.server) {
                    return Some(m);
                }
            }
        };
        timeout(self.limits.timeout, wait).await.ok().flatten()
    }

    async fn tcp(&self, bytes: &[u8], id: u16) -> Option<Message> {
        let exchange = async {
            let mut stream = TcpStream::connect(self.server).await.ok()?;
            let mut framed = u16::try_from(bytes.len()).ok()?.to_be_bytes().to_vec();
            framed.extend_from_slice(bytes);
            stream.write_all(&framed).await.ok()?;
            let mut len = [0u8; 2];
            stream.read_exact(&mut len).await.ok()?;
            let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
            stream.read_exact(&mut body).await.ok()?;
            reply_to(&body, id)
        };
        timeout(self.limits.timeout, exchange).await.ok().flatten()
    }
}

/// A query for `name`/`rtype`, class IN, without RD, with EDNS (1232 octets, RFC 9715).
fn query(id: u16, name: &Name, rtype: RType) -> Message {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    let hname = HName::from_labels(name.labels()).expect("a core name is a valid wire name");
    m.add_query(Query::query(hname, RecordType::from(rtype.0)));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    m.set_edns(edns);
    m
}

/// The response in `bytes` if it decodes and answers query `id`.
fn reply_to(bytes: &[u8], id: u16) -> Option<Message> {
    let m = Message::from_vec(bytes).ok()?;
    (m.metadata.id == id && m.metadata.message_type == MessageType::Response).then_some(m)
}

fn observed(reply: &Message) -> Observed {
    Observed::Answer(ObservedAnswer {
        rcode: u16::from(reply.metadata.response_code),
        authoritative: reply.metadata.authoritative,
        answer: reply.answers.iter().filter_map(core_record).collect(),
    })
}

/// A hickory record as a core record, its rdata in canonical form (names lower-cased,
/// uncompressed), so that it compares byte for byte with the published record.
fn core_record(r: &HRecord) -> Option<Record> {
    let mut rdata = Vec::new();
    let mut enc = BinEncoder::new(&mut rdata);
    enc.set_canonical_form(true);
    r.data.emit(&mut enc).ok()?;
    let rtype = u16::from(r.record_type());
    // The core's canonical form, the form published records are kept in.
    let rdata = canonical_rdata(rtype, &rdata).unwrap_or(rdata);
    Some(Record {
        owner: Name::from_labels(r.name.iter()).ok()?,
        rtype: RType(rtype),
        ttl: r.ttl,
        rdata: rdata.into(),
    })
}
