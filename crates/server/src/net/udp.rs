//! DNS over UDP: our own receive loops, one per socket, several sockets per address.
//!
//! # Design
//!
//! Each listen address gets one UDP socket per CPU the process may run on, all bound to the
//! same address with `SO_REUSEPORT`, so that the kernel spreads clients over them. Each socket
//! has its own thread running a blocking loop: receive datagrams, answer them, send the
//! answers. On Linux the loop takes a batch per system call: `recvmmsg` returns every datagram
//! queued (up to [`BATCH`], waiting only for the first) and one `sendmmsg` sends the batch's
//! prepared answers; elsewhere it takes one datagram at a time. Nothing is shared between
//! loops but the catalog, which a query reads with one atomic pointer load: no lock and no
//! allocation on the hot path, where the answer is copied from bytes prepared at install time
//! ([`crate::zone::served::prepared`]) into buffers the loop reuses.
//!
//! Queries the prepared path does not take are decoded by hickory and answered by the general
//! path, [`Handler`], exactly as hickory's own UDP loop would: dropped if shorter than a
//! header or a response, FORMERR if undecodable, and each response encoded with hickory's
//! encoder, truncated to the payload size the response's OPT record states (512 octets
//! without EDNS). [`encode_udp`] is that encoding, shared with the prepared path so that both
//! truncate alike. A general-path answer is sent as soon as it is made, so within a batch it
//! may overtake prepared answers to earlier queries; each answer still goes to the client
//! that asked, and UDP promises no order.
//!
//! Shutdown sets a flag and shuts the sockets down for reading, which wakes a blocked
//! receive; the receive timeout [`POLL`] bounds the wait where that does not.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use hickory_proto::op::{Header, HeaderCounts, MessageType, ResponseCode};
use hickory_proto::rr::Record as HRecord;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use hickory_server::net::NetError;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder, Queries};

use crate::answer::handler::Handler;
use crate::net::rrl::Rrl;
use crate::stats::LocalCounts;
use crate::wire::{encode_udp, is_response};
use crate::zone::served::prepared::Question;

/// How long a receive loop waits for a datagram before it checks for shutdown.
pub(crate) const POLL: Duration = Duration::from_millis(250);

/// Largest query read; longer datagrams are cut here, as hickory's loop does.
const RECEIVE_MAX: usize = 4096;

/// Most datagrams one receive takes, and answers one send gives, on Linux.
#[cfg(target_os = "linux")]
const BATCH: usize = 32;

/// Room reserved in each answer buffer: the largest UDP answer and a margin for the header
/// and question, so that answering never grows it.
const OUT_CAPACITY: usize = crate::wire::UDP_PAYLOAD_MAX as usize + 512;

/// Sends general-path responses to one client from one socket.
#[derive(Clone)]
struct UdpResponder {
    socket: Arc<UdpSocket>,
    dst: SocketAddr,
    /// The rate limiter that charges the answer, if rate limiting is on.
    rrl: Option<Arc<Rrl>>,
}

#[async_trait::async_trait]
impl ResponseHandler for UdpResponder {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a HRecord> + Send + 'a,
            impl Iterator<Item = &'a HRecord> + Send + 'a,
            impl Iterator<Item = &'a HRecord> + Send + 'a,
            impl Iterator<Item = &'a HRecord> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let mut header = *response.metadata();
        let (mut bytes, _) = encode_udp(response);
        if let Some(rrl) = &self.rrl
            && !rrl.admit(self.dst.ip(), &mut bytes)
        {
            return Ok(ResponseInfo::from(Header {
                metadata: header,
                counts: HeaderCounts::default(),
            }));
        }
        if let Ok(h) = Header::read(&mut BinDecoder::new(&bytes)) {
            header = h.metadata;
        }
        self.socket.send_to(&bytes, self.dst)?;
        Ok(ResponseInfo::from(Header {
            metadata: header,
            counts: HeaderCounts::default(),
        }))
    }
}

/// True if a response may be sent to `src`: not port 0, not an unspecified or broadcast
/// address (hickory's rule).
fn answerable(src: SocketAddr) -> bool {
    src.port() != 0
        && match src.ip() {
            IpAddr::V4(a) => !a.is_unspecified() && !a.is_broadcast(),
            IpAddr::V6(a) => !a.is_unspecified(),
        }
}

/// Stops the loops of [`run`] on `sockets`, which share `stop`: sets it, then shuts the
/// sockets down for reading, which wakes a blocked receive on Linux; elsewhere the receive
/// timeout [`POLL`] bounds the wait.
pub(crate) fn stop_all(sockets: &[Arc<UdpSocket>], stop: &AtomicBool) {
    stop.store(true, Ordering::Relaxed);
    for s in sockets {
        let _ = socket2::SockRef::from(&**s).shutdown(std::net::Shutdown::Read);
    }
}

/// What a failed receive means: `Ok` to go on receiving (a timeout, an interruption, an ICMP
/// error from an earlier send reported on this socket, memory pressure after a pause), or the
/// error if the socket failed for good.
fn receive_failed(e: std::io::Error) -> Result<(), std::io::Error> {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted => Ok(()),
        ErrorKind::ConnectionRefused
        | ErrorKind::ConnectionReset
        | ErrorKind::HostUnreachable
        | ErrorKind::NetworkUnreachable => Ok(()),
        ErrorKind::OutOfMemory => {
            std::thread::sleep(Duration::from_millis(10));
            Ok(())
        }
        _ => Err(e),
    }
}

/// Receives and answers on `socket` until `stop` is set. Runs on its own thread; `rt` runs
/// the general path. Returns an error only if the socket fails for good.
///
/// A batch of up to [`BATCH`] datagrams is received with one `recvmmsg` (blocking for the
/// first only, `MSG_WAITFORONE`), the general path answers its queries as it meets them, and
/// the prepared answers of the batch go out with one `sendmmsg`.
///
/// Each datagram's source is read as the socket's own family (`SockaddrIn`, 16 octets, or
/// `SockaddrIn6`, 28), not as a 128-octet `SockaddrStorage`, which the receive copied once per
/// datagram: about 24 instructions a query.
#[cfg(target_os = "linux")]
pub(crate) fn run(
    socket: Arc<UdpSocket>,
    handler: Handler,
    rt: tokio::runtime::Handle,
    stop: Arc<AtomicBool>,
) -> Result<(), std::io::Error> {
    use nix::sys::socket::{SockaddrIn, SockaddrIn6};
    match socket.local_addr()? {
        SocketAddr::V4(_) => receive::<SockaddrIn>(socket, handler, rt, stop),
        SocketAddr::V6(_) => receive::<SockaddrIn6>(socket, handler, rt, stop),
    }
}

/// A datagram source address as `recvmmsg` fills it in, of one address family.
#[cfg(target_os = "linux")]
trait Source: nix::sys::socket::SockaddrLike + Copy {
    fn socket_addr(&self) -> SocketAddr;
}

#[cfg(target_os = "linux")]
impl Source for nix::sys::socket::SockaddrIn {
    fn socket_addr(&self) -> SocketAddr {
        SocketAddr::V4((*self).into())
    }
}

#[cfg(target_os = "linux")]
impl Source for nix::sys::socket::SockaddrIn6 {
    fn socket_addr(&self) -> SocketAddr {
        SocketAddr::V6((*self).into())
    }
}

/// [`run`] for a socket whose sources are `S`.
#[cfg(target_os = "linux")]
fn receive<S: Source>(
    socket: Arc<UdpSocket>,
    handler: Handler,
    rt: tokio::runtime::Handle,
    stop: Arc<AtomicBool>,
) -> Result<(), std::io::Error> {
    use nix::sys::socket::{MsgFlags, MultiHeaders, recvmmsg};
    use std::io::IoSliceMut;
    use std::os::fd::AsRawFd;

    socket.set_read_timeout(Some(POLL))?;
    let catalog = handler.catalog().clone();
    let shard = catalog.stats().udp_shard();
    let mut counts = LocalCounts::new();
    let fd = socket.as_raw_fd();
    let mut bufs = vec![0u8; BATCH * RECEIVE_MAX];
    let mut outs: Vec<Vec<u8>> = (0..BATCH)
        .map(|_| Vec::with_capacity(OUT_CAPACITY))
        .collect();
    // Per datagram received: its length and source.
    let mut received: [(usize, Option<SocketAddr>); BATCH] = [(0, None); BATCH];
    // Per prepared answer in `outs`: its destination.
    let mut to: [Option<SocketAddr>; BATCH] = [None; BATCH];
    let mut headers = MultiHeaders::<S>::preallocate(BATCH, None);
    while !stop.load(Ordering::Relaxed) {
        let count = {
            let mut chunks = bufs.chunks_exact_mut(RECEIVE_MAX);
            let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] = std::array::from_fn(|_| {
                [IoSliceMut::new(
                    chunks.next().expect("BATCH buffers of RECEIVE_MAX octets"),
                )]
            });
            match recvmmsg(
                fd,
                &mut headers,
                iovs.iter_mut(),
                MsgFlags::MSG_WAITFORONE,
                None,
            ) {
                Ok(messages) => {
                    let mut count = 0;
                    for (slot, m) in received.iter_mut().zip(messages) {
                        *slot = (m.bytes, m.address.as_ref().map(S::socket_addr));
                        count += 1;
                    }
                    count
                }
                Err(_) if stop.load(Ordering::Relaxed) => break,
                Err(errno) => {
                    receive_failed(errno.into())?;
                    continue;
                }
            }
        };
        // Shutting the socket down for reading ends a receive with empty datagrams.
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let mut ready = 0;
        for (k, &(len, from)) in received[..count].iter().enumerate() {
            let Some(src) = from.filter(|&src| answerable(src)) else {
                continue;
            };
            let query = &bufs[k * RECEIVE_MAX..k * RECEIVE_MAX + len.min(RECEIVE_MAX)];
            if let Some(q) = Question::parse(query)
                && catalog.prepared_answer(query, &q, &mut outs[ready])
            {
                if let Some(rrl) = catalog.rrl()
                    && !rrl.admit(src.ip(), &mut outs[ready])
                {
                    continue;
                }
                counts.add(u16::from(outs[ready][3] & 0x0f));
                to[ready] = Some(src);
                ready += 1;
                continue;
            }
            let responder = UdpResponder {
                socket: socket.clone(),
                dst: src,
                rrl: catalog.rrl().cloned(),
            };
            if let Some(rcode) = answer_general(&handler, &rt, query, src, responder) {
                counts.add(rcode);
            }
        }
        send_batch(&socket, &outs[..ready], &to[..ready]);
        counts.flush(&shard);
    }
    Ok(())
}

/// Sends `outs[i]` to `to[i]` with as few `sendmmsg` calls as the kernel takes them in. An
/// answer the kernel refuses is dropped (logged), and the rest still go.
#[cfg(target_os = "linux")]
fn send_batch(socket: &UdpSocket, outs: &[Vec<u8>], to: &[Option<SocketAddr>]) {
    use rustix::net::{MMsgHdr, SendAncillaryBuffer, SendFlags, SocketAddrAny, sendmmsg};
    use std::io::IoSlice;

    let n = outs.len();
    if n == 0 {
        return;
    }
    let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
    let addrs: [SocketAddrAny; BATCH] = std::array::from_fn(|i| {
        SocketAddrAny::from(to.get(i).copied().flatten().unwrap_or(unspecified))
    });
    let iovs: [[IoSlice<'_>; 1]; BATCH] =
        std::array::from_fn(|i| [IoSlice::new(outs.get(i).map_or(&[][..], |o| &o[..]))]);
    let mut controls: [SendAncillaryBuffer<'_, '_, '_>; BATCH] =
        std::array::from_fn(|_| SendAncillaryBuffer::default());
    let mut messages: [MMsgHdr<'_>; BATCH] = {
        let mut controls = controls.iter_mut();
        std::array::from_fn(|i| {
            let control = controls.next().expect("BATCH control buffers");
            MMsgHdr::new_with_addr(&addrs[i], &iovs[i], control)
        })
    };
    let mut at = 0;
    // Each round sends at least one answer or drops one.
    while at < n {
        match sendmmsg(socket, &mut messages[at..n], SendFlags::empty()) {
            Ok(sent) => at += sent.max(1),
            Err(error) => {
                tracing::debug!(%error, to = ?to[at], "cannot send a DNS response");
                at += 1;
            }
        }
    }
}

/// Receives and answers on `socket` until `stop` is set, one datagram per system call.
#[cfg(not(target_os = "linux"))]
pub(crate) fn run(
    socket: Arc<UdpSocket>,
    handler: Handler,
    rt: tokio::runtime::Handle,
    stop: Arc<AtomicBool>,
) -> Result<(), std::io::Error> {
    socket.set_read_timeout(Some(POLL))?;
    let catalog = handler.catalog().clone();
    let shard = catalog.stats().udp_shard();
    let mut counts = LocalCounts::new();
    let mut buf = vec![0u8; RECEIVE_MAX];
    let mut out: Vec<u8> = Vec::with_capacity(OUT_CAPACITY);
    while !stop.load(Ordering::Relaxed) {
        let (len, src) = match socket.recv_from(&mut buf) {
            Ok(r) => r,
            Err(_) if stop.load(Ordering::Relaxed) => break,
            Err(e) => {
                receive_failed(e)?;
                continue;
            }
        };
        if len == 0 && stop.load(Ordering::Relaxed) {
            break;
        }
        if !answerable(src) {
            continue;
        }
        let query = &buf[..len];
        if let Some(q) = Question::parse(query)
            && catalog.prepared_answer(query, &q, &mut out)
        {
            if let Some(rrl) = catalog.rrl()
                && !rrl.admit(src.ip(), &mut out)
            {
                continue;
            }
            if let Err(error) = socket.send_to(&out, src) {
                tracing::debug!(%error, %src, "cannot send a DNS response");
            }
            counts.add(u16::from(out[3] & 0x0f));
            counts.flush(&shard);
            continue;
        }
        let responder = UdpResponder {
            socket: socket.clone(),
            dst: src,
            rrl: catalog.rrl().cloned(),
        };
        if let Some(rcode) = answer_general(&handler, &rt, query, src, responder) {
            counts.add(rcode);
            counts.flush(&shard);
        }
    }
    Ok(())
}

/// DNS UPDATEs answered on the runtime at once, beyond which this loop waits for them itself.
const UPDATES_IN_FLIGHT_MAX: usize = 64;

static UPDATES_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// True if the datagram's header says opcode UPDATE (RFC 2136 §2.2).
fn is_update(query: &[u8]) -> bool {
    query.len() > 2 && (query[2] >> 3) & 0x0f == 5
}

/// Runs the general path for one datagram. An UPDATE waits for the store and the gate (the
/// largest zones take seconds), so it runs as a task of its own, up to
/// [`UPDATES_IN_FLIGHT_MAX`] at once, and this loop goes on answering queries; everything
/// else, and an UPDATE beyond the bound, is answered before the next datagram.
fn answer_general(
    handler: &Handler,
    rt: &tokio::runtime::Handle,
    query: &[u8],
    src: SocketAddr,
    responder: UdpResponder,
) -> Option<u16> {
    if is_update(query) && UPDATES_IN_FLIGHT.fetch_add(1, Ordering::Relaxed) < UPDATES_IN_FLIGHT_MAX
    {
        let (handler, query) = (handler.clone(), query.to_vec());
        rt.spawn(async move {
            general(&handler, &query, src, responder).await;
            UPDATES_IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
        });
        return None;
    }
    if is_update(query) {
        UPDATES_IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
    rt.block_on(general(handler, query, src, responder))
}

/// The general path for one datagram from `src`, as hickory's UDP loop handles it; the
/// response, if any, goes to `responder`. Returns the response code answered, if any.
pub(crate) async fn general(
    handler: &Handler,
    query: &[u8],
    src: SocketAddr,
    mut responder: impl ResponseHandler,
) -> Option<u16> {
    if is_response(query) {
        // Never answer a response, however malformed (reflection loops).
        return None;
    }
    let Ok(header) = Header::read(&mut BinDecoder::new(query)) else {
        // Not even a header: nothing to answer.
        return None;
    };
    let request = match Request::from_bytes(query.to_vec(), src, Protocol::Udp) {
        Ok(r) => r,
        Err(error) => {
            tracing::debug!(%src, %error, "undecodable DNS message over UDP");
            let Ok(queries) = Queries::read(&mut BinDecoder::new(&[]), 0) else {
                return None;
            };
            let response = MessageResponseBuilder::new(&queries, None)
                .error_msg(&header.metadata, ResponseCode::FormErr);
            if let Err(error) = responder.send_response(response).await {
                tracing::debug!(%src, %error, "cannot send a DNS response");
            }
            return Some(u16::from(ResponseCode::FormErr));
        }
    };
    if request.metadata.message_type == MessageType::Response {
        // Never answer a response (reflection).
        return None;
    }
    let info = handler
        .handle_request::<_, TokioTime>(&request, responder)
        .await;
    Some(u16::from(info.response_code))
}
