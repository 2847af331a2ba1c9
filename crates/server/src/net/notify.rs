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
//!
//! A zone with `transfer_keys` signs its NOTIFY with the first of them (RFC 8945), and then
//! only believes a NOERROR answer that is signed with that key too; an error answer ends the
//! retries even unsigned, since RFC 8945 §5.2 sends BADKEY and BADSIG answers without a MAC.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Record as HRecord, RecordType, TSigner};
use tokio::net::UdpSocket;
use zonegate_core::Name;
use zonegate_core::gate::Generation;

use crate::convert::to_hickory_name;
use crate::options::ServerOptions;
use crate::stats::{NotifyOutcome, ServerStats};

/// Sends NOTIFY messages and remembers which generation of each zone is the newest notified.
#[derive(Debug)]
pub(crate) struct Notifier {
    retries: u32,
    timeout: Duration,
    /// For each zone's TSIG key, `transfer_keys` and `tsig_keys`.
    options: ServerOptions,
    newest: Arc<Mutex<HashMap<Name, Generation>>>,
    acknowledged: Arc<AtomicU64>,
    stats: Arc<ServerStats>,
}

impl Notifier {
    pub(crate) fn new(options: &ServerOptions, stats: Arc<ServerStats>) -> Self {
        Notifier {
            retries: options.notify_retries,
            timeout: options.notify_timeout,
            options: options.clone(),
            newest: Arc::new(Mutex::new(HashMap::new())),
            acknowledged: Arc::new(AtomicU64::new(0)),
            stats,
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
        let signer = self.signer(zone);
        for &target in targets {
            let job = Job {
                zone: zone.clone(),
                generation,
                soa: soa.clone(),
                target,
                signer: signer.clone(),
                retries: self.retries,
                timeout: self.timeout,
                newest: self.newest.clone(),
                acknowledged: self.acknowledged.clone(),
                stats: self.stats.clone(),
            };
            runtime.spawn(job.run());
        }
    }
}

impl Notifier {
    /// The signer of `zone`'s NOTIFY messages: its first transfer key, if it has one.
    fn signer(&self, zone: &Name) -> Option<TSigner> {
        let name = self.options.zone(zone).transfer_keys.first()?;
        let key = self.options.tsig_key(name);
        if key.is_none() {
            tracing::warn!(%zone, key = %name, "the zone's transfer key is not among tsig_keys; NOTIFY goes unsigned");
        }
        crate::answer::tsig::signer(key?)
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
    signer: Option<TSigner>,
    retries: u32,
    timeout: Duration,
    newest: Arc<Mutex<HashMap<Name, Generation>>>,
    acknowledged: Arc<AtomicU64>,
    stats: Arc<ServerStats>,
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
        let outcome = self.exchange().await;
        self.stats.notify(match &outcome {
            Ok(Outcome::Acknowledged) => NotifyOutcome::Acknowledged,
            Ok(Outcome::Refused(_)) => NotifyOutcome::Refused,
            Ok(Outcome::Superseded) => NotifyOutcome::Superseded,
            Ok(Outcome::NoAnswer) => NotifyOutcome::NoAnswer,
            Err(_) => NotifyOutcome::Error,
        });
        match outcome {
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
        let mut message = notify_message(id, &self.zone, &self.soa);
        let mut verifier = match &self.signer {
            Some(signer) => message
                .finalize(signer, crate::answer::tsig::now())
                .map_err(std::io::Error::other)?,
            None => None,
        };
        let bytes = message.to_vec().map_err(std::io::Error::other)?;
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
                if let Some(verifier) = verifier.as_mut()
                    && verifier.verify(&buf[..len]).is_err()
                {
                    if md.response_code == ResponseCode::NoError {
                        tracing::debug!(zone = %self.zone, target = %self.target, "NOTIFY answer without a valid TSIG ignored");
                        continue;
                    }
                    return Ok(Outcome::Refused(md.response_code));
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
