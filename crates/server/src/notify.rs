//! NOTIFY (RFC 1996): telling secondaries that a zone changed, so they ask for it at once
//! instead of waiting for their SOA refresh timer.
//!
//! # Design
//!
//! Each installed generation sends one NOTIFY per configured secondary over UDP, from its own
//! ephemeral socket, each in its own task so a dead secondary delays no one. A secondary that
//! does not answer gets the same message again after the timeout, which doubles at each retry
//! (RFC 1996 §3.6 asks for retransmission with a growing interval). Retries stop as soon as a
//! newer generation of the zone was installed, because that one sends its own NOTIFY. An answer
//! with an error code (a secondary that does not know the zone, or refuses us) ends the retries
//! too: asking again would get the same answer. Sending failures are logged, never fatal: the
//! secondary still refreshes on its own timer.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Record as HRecord, RecordType};
use tokio::net::UdpSocket;
use zonegate_core::Name;
use zonegate_core::protocol::Generation;

use crate::catalog::to_hickory_name;

/// Sends NOTIFY messages and remembers which generation of each zone is the newest notified.
#[derive(Debug)]
pub(crate) struct Notifier {
    retries: u32,
    timeout: Duration,
    newest: Arc<Mutex<HashMap<Name, Generation>>>,
    acknowledged: Arc<AtomicU64>,
}

impl Notifier {
    pub(crate) fn new(retries: u32, timeout: Duration) -> Self {
        Notifier {
            retries,
            timeout,
            newest: Arc::new(Mutex::new(HashMap::new())),
            acknowledged: Arc::new(AtomicU64::new(0)),
        }
    }

    pub(crate) fn acknowledged(&self) -> u64 {
        self.acknowledged.load(Ordering::Relaxed)
    }

    /// Starts notifying `targets` that `zone` is now at `generation`, whose SOA is `soa`.
    /// Returns at once; the sending happens in background tasks.
    pub(crate) fn notify(
        &self,
        zone: &Name,
        generation: Generation,
        soa: HRecord,
        targets: &[SocketAddr],
    ) {
        if targets.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(%zone, "no async runtime; cannot send NOTIFY");
            return;
        };
        lock(&self.newest).insert(zone.clone(), generation);
        for &target in targets {
            let job = Job {
                zone: zone.clone(),
                generation,
                soa: soa.clone(),
                target,
                retries: self.retries,
                timeout: self.timeout,
                newest: self.newest.clone(),
                acknowledged: self.acknowledged.clone(),
            };
            runtime.spawn(job.run());
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One NOTIFY to one secondary, with its retries.
struct Job {
    zone: Name,
    generation: Generation,
    soa: HRecord,
    target: SocketAddr,
    retries: u32,
    timeout: Duration,
    newest: Arc<Mutex<HashMap<Name, Generation>>>,
    acknowledged: Arc<AtomicU64>,
}

/// What one NOTIFY ended with.
enum Outcome {
    Acknowledged,
    /// The secondary answered with an error code.
    Refused(ResponseCode),
    Superseded,
    NoAnswer,
}

impl Job {
    fn superseded(&self) -> bool {
        lock(&self.newest)
            .get(&self.zone)
            .is_some_and(|g| *g > self.generation)
    }

    async fn run(self) {
        let serial = match &self.soa.data {
            hickory_proto::rr::RData::SOA(soa) => soa.serial,
            _ => 0,
        };
        let (zone, target) = (&self.zone, self.target);
        match self.exchange().await {
            Ok(Outcome::Acknowledged) => {
                self.acknowledged.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%zone, serial, %target, "NOTIFY acknowledged");
            }
            Ok(Outcome::Refused(rcode)) => {
                tracing::warn!(%zone, serial, %target, %rcode, "secondary refused NOTIFY");
            }
            Ok(Outcome::Superseded) => {
                tracing::debug!(%zone, serial, %target, "NOTIFY superseded by a newer generation");
            }
            Ok(Outcome::NoAnswer) => {
                tracing::warn!(
                    %zone, serial, %target, attempts = self.retries + 1,
                    "secondary did not answer NOTIFY; it will refresh on its SOA timer"
                );
            }
            Err(error) => {
                tracing::warn!(%zone, serial, %target, %error, "cannot send NOTIFY");
            }
        }
    }

    async fn exchange(&self) -> std::io::Result<Outcome> {
        let local: SocketAddr = if self.target.is_ipv4() {
            "0.0.0.0:0".parse().expect("an address")
        } else {
            "[::]:0".parse().expect("an address")
        };
        let socket = UdpSocket::bind(local).await?;
        let id = random_id();
        let bytes = notify_message(id, &self.zone, &self.soa)
            .to_vec()
            .map_err(std::io::Error::other)?;
        let mut wait = self.timeout;
        let mut buf = vec![0u8; 4096];
        for _ in 0..=self.retries {
            if self.superseded() {
                return Ok(Outcome::Superseded);
            }
            socket.send_to(&bytes, self.target).await?;
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                let received = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await;
                let Ok(received) = received else { break };
                let (len, from) = received?;
                if from != self.target {
                    continue;
                }
                let Ok(answer) = Message::from_vec(&buf[..len]) else {
                    continue;
                };
                let md = &answer.metadata;
                if md.id != id
                    || md.message_type != MessageType::Response
                    || md.op_code != OpCode::Notify
                {
                    continue;
                }
                return Ok(match md.response_code {
                    ResponseCode::NoError => Outcome::Acknowledged,
                    rcode => Outcome::Refused(rcode),
                });
            }
            wait = wait.saturating_mul(2);
        }
        Ok(Outcome::NoAnswer)
    }
}

/// A NOTIFY for `zone` (RFC 1996 §3.7): opcode NOTIFY, AA set, the zone's SOA as the question
/// and, as a hint, the new SOA in the answer section.
pub(crate) fn notify_message(id: u16, zone: &Name, soa: &HRecord) -> Message {
    let mut m = Message::new(id, MessageType::Query, OpCode::Notify);
    m.metadata.authoritative = true;
    m.add_query(Query::query(to_hickory_name(zone), RecordType::SOA));
    m.add_answer(soa.clone());
    m
}

/// A message id an off-path attacker cannot guess from the previous one.
fn random_id() -> u16 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() as u16
}
