//! DNS over TCP (RFC 1035 §4.2.2, RFC 7766), our own loop.
//!
//! # Design
//!
//! hickory-server's TCP loop queues responses in a fixed-size channel that is drained only
//! between requests, so a handler that sends many messages for one request (a zone transfer)
//! overflows it after a few dozen. Here each response is written to the socket before the
//! handler builds the next: a transfer of any size holds one message in memory, and a client
//! that reads slowly slows down only its own transfer. Requests on one connection are answered
//! in order, one at a time, like hickory's loop does.
//!
//! A connection reads into one reused buffer as much as the client has sent and answers every
//! complete message in it before reading again. Ordinary queries are answered from the
//! prepared answers ([`crate::zone::served::prepared::answer_tcp`]: the same bytes the general path would
//! write), appended to one output buffer that is written once per batch; anything else goes
//! to the general path ([`general`], hickory's decoder, the handler and [`encode_tcp`]), after
//! the prepared answers before it have been written, so the answers leave in request order.
//!
//! Every wait is bounded: reading a request by the idle timeout (`TcpOptions`, shorter while the
//! listener is busy), writing a response by [`TCP_WRITE_TIMEOUT`], the number of open
//! connections by `connections_max` and those of one client by `connections_per_client_max`
//! (`tcp_limits.rs`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Header, Metadata, ResponseCode};
use hickory_proto::rr::Record as HRecord;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use hickory_server::net::NetError;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder, Queries};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::answer::handler::Handler;
use crate::net::tcp_limits::TcpLimits;
use crate::stats::LocalCounts;
use crate::wire::{encode_tcp, is_response};
use crate::zone::served::prepared::Question;

/// Longest a single response write may take before the connection is closed.
pub const TCP_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Most TCP connections served at once by default (`TcpOptions::connections_max`); further
/// clients wait in the listen backlog.
pub const TCP_CONNECTIONS_MAX: usize = 256;

/// Accepts connections until `stop` turns true, then closes every connection. A client over
/// its share of connections is closed as soon as it is accepted (`tcp_limits.rs`).
pub(crate) async fn run(
    listener: TcpListener,
    handler: Handler,
    limits: Arc<TcpLimits>,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(limits.connections_max()));
    let mut connections = JoinSet::new();
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            () = stopped(&mut stop) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(error) => {
                    tracing::debug!(%error, "cannot accept a TCP connection");
                    // Out of file descriptors and the like: do not spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let Some(slot) = limits.admit(peer.ip()) else {
            tracing::debug!(%peer, "closing a TCP connection over the client's share");
            drop(stream);
            continue;
        };
        let (handler, limits) = (handler.clone(), limits.clone());
        connections.spawn(async move {
            connection(stream, peer, handler, &limits).await;
            drop((slot, permit));
        });
        while connections.try_join_next().is_some() {}
    }
    connections.shutdown().await;
}

/// Completes once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Octets a connection reads at once at first; the buffer grows to hold a longer message,
/// up to 2 + 65535.
const READ_CHUNK: usize = 16 * 1024;

/// Prepared answers pending on a connection are written once they reach this many octets,
/// even in the middle of a batch.
const OUT_FLUSH: usize = 64 * 1024;

async fn connection(stream: TcpStream, peer: SocketAddr, handler: Handler, limits: &TcpLimits) {
    let _ = stream.set_nodelay(true);
    let (mut reader, writer) = stream.into_split();
    let responder = TcpResponder {
        writer: Arc::new(Mutex::new(writer)),
    };
    let catalog = handler.catalog().clone();
    let _open = catalog.stats().tcp_opened();
    let mut counts = LocalCounts::new();
    // Octets read and not yet answered are `buf[start..end]`; every complete message there
    // is answered, in order, before the next read.
    let mut buf = vec![0u8; READ_CHUNK];
    let (mut start, mut end) = (0, 0);
    // Prepared answers not yet written, each with its length prefix.
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    // A request's length must arrive within the idle timeout of the previous answer, and its
    // body within the idle timeout of its length, as with one timed read for each. The
    // timeout shortens while the listener is busy, also for a connection already waiting.
    let mut since = Instant::now();
    let mut busy = limits.watch_busy();
    loop {
        let mut answered = false;
        while end - start >= 2 {
            let len = usize::from(u16::from_be_bytes([buf[start], buf[start + 1]]));
            if end - start < 2 + len {
                break;
            }
            let body = &buf[start + 2..start + 2 + len];
            start += 2 + len;
            answered = true;
            if body.len() < 12 {
                // Not even a header: nothing to answer.
                let _ = flush(&responder.writer, &mut out).await;
                return;
            }
            let at = out.len();
            if let Some(q) = Question::parse(body)
                && catalog.prepared_answer_tcp(body, &q, &mut out)
            {
                // After the two-octet length prefix, the flags' second octet.
                counts.add(u16::from(out[at + 5] & 0x0f));
                if out.len() >= OUT_FLUSH && flush(&responder.writer, &mut out).await.is_err() {
                    return;
                }
                continue;
            }
            // The general path writes its own answers: the ones before it go first.
            if flush(&responder.writer, &mut out).await.is_err() {
                return;
            }
            match general(&handler, body, peer, responder.clone()).await {
                Ok(Some(rcode)) => counts.add(rcode),
                Ok(None) => {}
                Err(_) => return,
            }
        }
        counts.flush(catalog.stats().tcp_shard());
        if flush(&responder.writer, &mut out).await.is_err() {
            return;
        }
        let had_len = end - start >= 2;
        buf.copy_within(start..end, 0);
        end -= start;
        start = 0;
        if answered {
            since = Instant::now();
        }
        // Room for the whole of a message whose length is known; `end` is then below it, so
        // the read below never gets an empty buffer.
        if end >= 2 {
            let need = 2 + usize::from(u16::from_be_bytes([buf[0], buf[1]]));
            if buf.len() < need {
                buf.resize(need, 0);
            }
        }
        let read = loop {
            let deadline = since + limits.idle_timeout();
            tokio::select! {
                read = tokio::time::timeout_at(deadline, reader.read(&mut buf[end..])) => break read,
                // Reading is cancel-safe: nothing is lost when the timeout changes.
                Ok(()) = busy.changed() => {}
            }
        };
        match read {
            Ok(Ok(n)) if n > 0 => end += n,
            _ => return,
        }
        if !had_len && end >= 2 {
            since = Instant::now();
        }
    }
}

/// Writes the pending prepared answers in `out`, if any, and empties it.
async fn flush(writer: &Mutex<OwnedWriteHalf>, out: &mut Vec<u8>) -> Result<(), ()> {
    if out.is_empty() {
        return Ok(());
    }
    let mut writer = writer.lock().await;
    let written = tokio::time::timeout(TCP_WRITE_TIMEOUT, writer.write_all(out)).await;
    out.clear();
    match written {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// The general path for one message `body` (at least a header) from `peer` over TCP, as
/// hickory's TCP loop handles it: FORMERR if undecodable, responses dropped, the rest to the
/// handler, which writes its answers (any number, for a transfer) to `responder`. Returns the
/// response code answered; an error means the connection is to be closed.
pub(crate) async fn general(
    handler: &Handler,
    body: &[u8],
    peer: SocketAddr,
    responder: impl ResponseHandler,
) -> Result<Option<u16>, NetError> {
    if is_response(body) {
        // Never answer a response, however malformed.
        return Ok(None);
    }
    let request = match Request::from_bytes(body.to_vec(), peer, Protocol::Tcp) {
        Ok(r) => r,
        Err(error) => {
            tracing::debug!(%peer, %error, "undecodable DNS message over TCP");
            return form_error(body, responder)
                .await
                .map(|_| Some(u16::from(ResponseCode::FormErr)));
        }
    };
    if request.metadata.message_type == hickory_proto::op::MessageType::Response {
        // Never answer a response (reflection).
        return Ok(None);
    }
    let info = handler
        .handle_request::<_, TokioTime>(&request, responder)
        .await;
    Ok(Some(u16::from(info.response_code)))
}

/// FORMERR for a message whose header could be read but the rest could not.
async fn form_error(
    body: &[u8],
    mut responder: impl ResponseHandler,
) -> Result<ResponseInfo, NetError> {
    let mut decoder = BinDecoder::new(body);
    let header = Header::read(&mut decoder)?;
    let queries = Queries::read(&mut BinDecoder::new(&[]), 0)?;
    let mut metadata = Metadata::response_from_request(&header.metadata);
    metadata.response_code = ResponseCode::FormErr;
    let response = MessageResponseBuilder::new(&queries, None).build_no_records(metadata);
    responder.send_response(response).await
}

/// Writes each response to the connection as it is made.
#[derive(Clone)]
struct TcpResponder {
    writer: Arc<Mutex<OwnedWriteHalf>>,
}

#[async_trait::async_trait]
impl ResponseHandler for TcpResponder {
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
        let (frame, info) = encode_tcp(response)?;
        let mut writer = self.writer.lock().await;
        tokio::time::timeout(TCP_WRITE_TIMEOUT, writer.write_all(&frame))
            .await
            .map_err(|_| NetError::from("timed out writing a TCP response"))??;
        Ok(info)
    }
}
