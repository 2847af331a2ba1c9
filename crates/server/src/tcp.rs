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
//! Every wait is bounded: reading a request by [`crate::TCP_IDLE_TIMEOUT`], writing a response
//! by [`TCP_WRITE_TIMEOUT`], and the number of open connections by [`TCP_CONNECTIONS_MAX`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Header, Metadata, ResponseCode};
use hickory_proto::rr::Record as HRecord;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncoder};
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

use crate::handler::Handler;

/// Longest a single response write may take before the connection is closed.
pub const TCP_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Most TCP connections served at once; further clients wait in the listen backlog.
pub const TCP_CONNECTIONS_MAX: usize = 256;

/// Accepts connections until `stop` turns true, then closes every connection.
pub(crate) async fn run(
    listener: TcpListener,
    handler: Handler,
    idle: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(TCP_CONNECTIONS_MAX));
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
        let handler = handler.clone();
        connections.spawn(async move {
            connection(stream, peer, handler, idle).await;
            drop(permit);
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

async fn connection(stream: TcpStream, peer: SocketAddr, handler: Handler, idle: Duration) {
    let _ = stream.set_nodelay(true);
    let (mut reader, writer) = stream.into_split();
    let responder = TcpResponder {
        writer: Arc::new(Mutex::new(writer)),
    };
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(idle, reader.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        match tokio::time::timeout(idle, reader.read_exact(&mut body)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        if body.len() < 12 {
            // Not even a header: nothing to answer.
            return;
        }
        let request = match Request::from_bytes(body.clone(), peer, Protocol::Tcp) {
            Ok(r) => r,
            Err(error) => {
                tracing::debug!(%peer, %error, "undecodable DNS message over TCP");
                if form_error(&body, responder.clone()).await.is_err() {
                    return;
                }
                continue;
            }
        };
        if request.metadata.message_type == hickory_proto::op::MessageType::Response {
            // Never answer a response (reflection).
            continue;
        }
        handler
            .handle_request::<_, TokioTime>(&request, responder.clone())
            .await;
    }
}

/// FORMERR for a message whose header could be read but the rest could not.
async fn form_error(body: &[u8], mut responder: TcpResponder) -> Result<ResponseInfo, NetError> {
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
        // Compression pointers count from the message's first octet, so the message is encoded
        // on its own and the length prefix put in front afterwards.
        let mut message = Vec::with_capacity(512);
        let info = {
            let mut encoder = BinEncoder::new(&mut message);
            encoder.set_max_size(u16::MAX);
            response.destructive_emit(&mut encoder)?
        };
        let len = u16::try_from(message.len())
            .map_err(|_| NetError::from("a TCP response exceeds 65535 octets"))?;
        let mut frame = Vec::with_capacity(message.len() + 2);
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(&message);
        let mut writer = self.writer.lock().await;
        tokio::time::timeout(TCP_WRITE_TIMEOUT, writer.write_all(&frame))
            .await
            .map_err(|_| NetError::from("timed out writing a TCP response"))??;
        Ok(info)
    }
}
