//! The fuzz targets' way in (cargo feature `fuzzing`, off in the binary): one DNS message
//! through the whole answer path, prepared and general, over UDP and TCP (or once, through
//! the general path of one transport: a DNS UPDATE changes the zone each time it is sent),
//! and one TSIG check.
//! The fuzz workspace (`fuzz/`) asserts on what these return; nothing here decides anything.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hickory_proto::rr::Record as HRecord;
use hickory_server::net::NetError;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;

use crate::Handler;
use crate::answer::tsig::{self, Check};
use crate::options::ServerOptions;
use crate::wire::{encode_tcp, encode_udp};
use crate::zone::served::prepared::Question;

/// What both paths sent for one message.
#[derive(Debug, Default)]
pub struct Answers {
    /// The prepared UDP answer, if the prepared path took the query.
    pub prepared_udp: Option<Vec<u8>>,
    /// Every UDP datagram the general path sent.
    pub general_udp: Vec<Vec<u8>>,
    /// The prepared TCP answer (with its length prefix), if the prepared path took it.
    pub prepared_tcp: Option<Vec<u8>>,
    /// Every TCP message (with its length prefix) the general path wrote.
    pub general_tcp: Vec<Vec<u8>>,
}

/// Collects what the general path sends, encoded as the UDP loop (or, with the flag, the TCP
/// loop) would.
#[derive(Clone, Default)]
pub(crate) struct Capture(pub(crate) Arc<Mutex<Vec<Vec<u8>>>>, pub(crate) bool);

#[async_trait::async_trait]
impl ResponseHandler for Capture {
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
        let header = *response.metadata();
        let bytes = if self.1 {
            encode_tcp(response)?.0
        } else {
            encode_udp(response).0
        };
        if let Ok(mut sent) = self.0.lock() {
            sent.push(bytes);
        }
        Ok(ResponseInfo::from(hickory_proto::op::Header {
            metadata: header,
            counts: Default::default(),
        }))
    }
}

fn taken(capture: &Capture) -> Vec<Vec<u8>> {
    capture.0.lock().map(|s| s.clone()).unwrap_or_default()
}

/// Asks `query` (one message, without a TCP length prefix) of both paths over both transports
/// from `src`.
pub async fn answer_both(handler: &Handler, query: &[u8], src: SocketAddr) -> Answers {
    let question = Question::parse(query);
    let mut out = Vec::new();
    let prepared_udp = question
        .as_ref()
        .filter(|q| handler.catalog().prepared_answer(query, q, &mut out))
        .map(|_| out);
    let mut out = Vec::new();
    let prepared_tcp = question
        .as_ref()
        .filter(|q| handler.catalog().prepared_answer_tcp(query, q, &mut out))
        .map(|_| out);
    let udp = Capture::default();
    crate::net::udp::general(handler, query, src, udp.clone()).await;
    let tcp = Capture(Arc::default(), true);
    if query.len() >= 12 {
        // The TCP loop hands the general path only messages of at least a header.
        let _ = crate::net::tcp::general(handler, query, src, tcp.clone()).await;
    }
    Answers {
        prepared_udp,
        general_udp: taken(&udp),
        prepared_tcp,
        general_tcp: taken(&tcp),
    }
}

/// Sends `message` once through the general path, over UDP or (with `tcp`) over TCP, from
/// `src`; what it sent (over TCP with each message's length prefix).
pub async fn answer_once(
    handler: &Handler,
    message: &[u8],
    src: SocketAddr,
    tcp: bool,
) -> Vec<Vec<u8>> {
    let capture = Capture(Arc::default(), tcp);
    if !tcp {
        crate::net::udp::general(handler, message, src, capture.clone()).await;
    } else if message.len() >= 12 {
        // The TCP loop hands the general path only messages of at least a header.
        let _ = crate::net::tcp::general(handler, message, src, capture.clone()).await;
    }
    taken(&capture)
}

/// How a TSIG check of one message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsigOutcome {
    /// The message did not decode.
    Undecodable,
    /// It carried no TSIG.
    Unsigned,
    /// Its TSIG failed (the error answer's case).
    Failed,
    /// Its TSIG verified; the first answer was signed too.
    Signed,
}

/// Verifies the TSIG of `message` as the handler does, at `now`, and signs an answer when it
/// verified.
pub fn tsig_check(message: &[u8], options: &ServerOptions, now: u64) -> TsigOutcome {
    let src: SocketAddr = ([192, 0, 2, 1], 53).into();
    let Ok(request) = Request::from_bytes(message.to_vec(), src, Protocol::Udp) else {
        return TsigOutcome::Undecodable;
    };
    match tsig::check(&request, options, now) {
        Check::Unsigned => TsigOutcome::Unsigned,
        Check::Failed(failure) => {
            let _ = failure.error();
            TsigOutcome::Failed
        }
        Check::Signed(mut signer) => {
            let _ = signer.sign(message, now);
            TsigOutcome::Signed
        }
    }
}
