//! TSIG (RFC 8945): verifying signed requests and signing their responses, every message of a
//! zone transfer included.
//!
//! # Design
//!
//! hickory does the cryptography and the parts of the wire format it gets right for a server:
//! [`TSigner::verify_message_byte`] checks a request's MAC over the bytes it arrived in, and
//! [`TSigner::encode_response_tbs`] lays out what the first response's MAC covers (the request
//! MAC, the response, the TSIG variables). What it does not do, this module does:
//!
//! - the time check (RFC 8945 §5.2.3), with a BADTIME answer signed with the request's key;
//! - the error answers of §5.2: NOTAUTH with an unsigned TSIG whose error is BADKEY or BADSIG;
//! - the chain of a multi-message answer (§5.3.1): each later message's MAC covers the MAC of
//!   the message before, the message, and only the timers (time signed and fudge). hickory's
//!   response context signs each message as if it were the first, so [`ResponseSigner`] keeps
//!   the chain itself;
//! - signing what the handler sends: [`send`] encodes the response without its TSIG exactly as
//!   the UDP or TCP loop will (the same encoder, the same size limit), computes the MAC over
//!   those bytes and sends the response again with the TSIG appended, which changes nothing
//!   before it. A UDP answer that would not fit with its TSIG is sent as an empty, signed,
//!   truncated answer (TC), and the client asks again over TCP.
//!
//! Which key a zone's transfers need is the transfer code's business (`xfr.rs`); this module
//! only knows the server's key ring.

use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Metadata, ResponseCode};
use hickory_proto::rr::rdata::tsig::{
    TSIG, TsigAlgorithm as HAlgorithm, TsigError, make_tsig_record,
};
use hickory_proto::rr::{Name as HName, Record as HRecord, TSigner};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use hickory_server::net::NetError;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use zonegate_core::Name;

use crate::answer::question::reencoded;
use crate::convert::to_hickory_name;
use crate::options::{ServerOptions, TsigAlgorithm, TsigKey};

/// The fudge this server signs with and accepts: the clocks of the two ends may differ by this
/// many seconds (RFC 8945 §10 recommends 300).
pub const TSIG_FUDGE_SECS: u16 = 300;

/// Seconds since the epoch, as TSIG counts time.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn hickory_algorithm(a: TsigAlgorithm) -> HAlgorithm {
    match a {
        TsigAlgorithm::HmacSha256 => HAlgorithm::HmacSha256,
        TsigAlgorithm::HmacSha384 => HAlgorithm::HmacSha384,
        TsigAlgorithm::HmacSha512 => HAlgorithm::HmacSha512,
    }
}

/// hickory's signer for `key`. Every algorithm [`TsigAlgorithm`] names is one hickory
/// implements, so this does not fail in practice.
pub(crate) fn signer(key: &TsigKey) -> Option<TSigner> {
    TSigner::new(
        key.secret.clone(),
        hickory_algorithm(key.algorithm),
        to_hickory_name(&key.name),
        TSIG_FUDGE_SECS,
    )
    .ok()
}

/// What a request's TSIG record says.
pub(crate) enum Check {
    /// The request carries no TSIG.
    Unsigned,
    /// A valid signature by a known key, in time: answer signed with it.
    Signed(ResponseSigner),
    /// A TSIG that failed: answer NOTAUTH with this.
    Failed(Failure),
}

/// A TSIG that failed verification, and how to say so (RFC 8945 §5.2).
pub(crate) enum Failure {
    /// BADKEY or BADSIG: the answer carries this TSIG record, unsigned.
    Unsigned(Box<HRecord<TSIG>>),
    /// BADTIME: the answer is signed with the request's key and says our time.
    BadTime(ResponseSigner),
}

/// The unsigned TSIG of an error answer to a request signed with `record` (RFC 8945 §5.2.1,
/// §5.2.2): the request's key name and algorithm, our time, no MAC.
pub(crate) fn unsigned_failure(record: &HRecord<TSIG>, error: TsigError, now: u64) -> Failure {
    let tsig = TSIG::new(
        record.data.algorithm.clone(),
        now,
        TSIG_FUDGE_SECS,
        Vec::new(),
        record.data.oid,
        Some(error),
        Vec::new(),
    );
    Failure::Unsigned(Box::new(make_tsig_record(record.name.clone(), tsig)))
}

impl Failure {
    pub(crate) fn error(&self) -> TsigError {
        match self {
            Failure::Unsigned(r) => r.data.error.unwrap_or(TsigError::BadSig),
            Failure::BadTime(_) => TsigError::BadTime,
        }
    }
}

/// Verifies the TSIG of `request`, if it has one, against the keys of `options`, at `now`.
pub(crate) fn check(request: &Request, options: &ServerOptions, now: u64) -> Check {
    let Some(record) = request.signature.as_deref() else {
        return Check::Unsigned;
    };
    let tsig = &record.data;
    let unsigned_error = |error| Check::Failed(unsigned_failure(record, error, now));
    // 1. The key: known by name, with the algorithm the request names (§5.2.1).
    let key = Name::from_labels(record.name.iter())
        .ok()
        .and_then(|name| options.tsig_key(&name))
        .filter(|k| hickory_algorithm(k.algorithm) == tsig.algorithm);
    let Some(key) = key else {
        return unsigned_error(TsigError::BadKey);
    };
    let Some(signer) = signer(key) else {
        return unsigned_error(TsigError::BadKey);
    };
    if tsig.time < u64::from(tsig.fudge) {
        // Signed before 1970 plus the fudge: no real clock says that (and hickory's window
        // arithmetic would underflow).
        return unsigned_error(TsigError::BadTime);
    }
    // 2. The MAC, over the request as it arrived (§5.2.2). hickory refuses truncated MACs.
    let Ok((mac, time, window)) = signer.verify_message_byte(request.as_slice(), None, true) else {
        return unsigned_error(TsigError::BadSig);
    };
    let mut response = ResponseSigner {
        signer,
        key: key.name.clone(),
        prior_mac: mac,
        first: true,
        error: None,
        time: None,
        other: Vec::new(),
    };
    // 3. The time (§5.2.3): within the request's fudge of our clock. The error answer is signed
    // and carries our time in Other Data and the request's time as its Time Signed, so that the
    // client can verify it whatever the skew.
    if !window.contains(&now) && now != window.end {
        response.error = Some(TsigError::BadTime);
        response.time = Some(time);
        response.other = now.to_be_bytes()[2..].to_vec();
        return Check::Failed(Failure::BadTime(response));
    }
    Check::Signed(response)
}

/// Signs the responses to one signed request, in order, each MAC chained to the one before
/// (RFC 8945 §5.3 and §5.3.1).
pub(crate) struct ResponseSigner {
    signer: TSigner,
    key: Name,
    /// The request's MAC, then the MAC of the last response signed.
    prior_mac: Vec<u8>,
    first: bool,
    error: Option<TsigError>,
    /// The Time Signed to use instead of the clock (a BADTIME answer).
    time: Option<u64>,
    other: Vec<u8>,
}

impl ResponseSigner {
    /// The name of the key that signed the request.
    pub(crate) fn key(&self) -> &Name {
        &self.key
    }

    /// The TSIG record for `unsigned`, a response encoded without its TSIG, at `now`.
    pub(crate) fn sign(&mut self, unsigned: &[u8], now: u64) -> Result<HRecord<TSIG>, NetError> {
        let id = u16::from_be_bytes([unsigned[0], unsigned[1]]);
        let time = self.time.unwrap_or(now);
        let stub = TSIG::new(
            self.signer.algorithm().clone(),
            time,
            self.signer.fudge(),
            Vec::new(),
            id,
            self.error,
            self.other.clone(),
        );
        let tbs = if self.first {
            // Request MAC, response, TSIG variables (§5.3).
            self.signer
                .encode_response_tbs(&self.prior_mac, unsigned, &stub)
                .map_err(|e| NetError::from(format!("cannot sign a response: {e}")))?
        } else {
            // Prior MAC, message, timers only (§5.3.1).
            let mut tbs = Vec::with_capacity(2 + self.prior_mac.len() + unsigned.len() + 8);
            tbs.extend_from_slice(&(self.prior_mac.len() as u16).to_be_bytes());
            tbs.extend_from_slice(&self.prior_mac);
            tbs.extend_from_slice(unsigned);
            tbs.extend_from_slice(&time.to_be_bytes()[2..]);
            tbs.extend_from_slice(&self.signer.fudge().to_be_bytes());
            tbs
        };
        let mac = self
            .signer
            .sign(&tbs)
            .map_err(|e| NetError::from(format!("cannot sign a response: {e}")))?;
        self.prior_mac = mac.clone();
        self.first = false;
        Ok(make_tsig_record(
            self.signer.signer_name().clone(),
            stub.set_mac(mac),
        ))
    }

    /// Octets the TSIG record adds to a response: the key name, the fixed fields, the algorithm
    /// name, the MAC and the Other Data, with room to spare.
    fn overhead(&self) -> usize {
        let name = |n: &HName| {
            let mut buf = Vec::new();
            let _ = n.emit(&mut BinEncoder::new(&mut buf));
            buf.len()
        };
        name(self.signer.signer_name()) + name(&self.signer.algorithm().to_name()) + 10 + 16 + 64
    }
}

/// Sends the response `build` makes, signed with `signer` if there is one. `build` is called
/// once or twice and must make the same response each time.
pub(crate) async fn send<'q, 'a, A, N, S, D>(
    request: &Request,
    signer: Option<&mut ResponseSigner>,
    build: impl Fn() -> MessageResponse<'q, 'a, A, N, S, D>,
    response_handle: &mut impl ResponseHandler,
) -> Result<ResponseInfo, NetError>
where
    A: Iterator<Item = &'a HRecord> + Send + 'a,
    N: Iterator<Item = &'a HRecord> + Send + 'a,
    S: Iterator<Item = &'a HRecord> + Send + 'a,
    D: Iterator<Item = &'a HRecord> + Send + 'a,
{
    let Some(signer) = signer else {
        return response_handle.send_response(build()).await;
    };
    let udp = request.protocol() == Protocol::Udp;
    let probe = build();
    let max = if udp {
        let payload = usize::from(probe.edns().map_or(512, |e| e.max_payload()));
        payload.saturating_sub(signer.overhead()).max(12)
    } else {
        usize::from(u16::MAX) - signer.overhead()
    };
    let unsigned = encode(probe, max)?;
    const TC: u8 = 0x02;
    if udp && unsigned[2] & TC != 0 {
        // It does not fit with its TSIG: an empty truncated answer, signed.
        let probe = build();
        let mut metadata: Metadata = *probe.metadata();
        metadata.truncation = true;
        let edns = probe.edns();
        let queries = reencoded(request);
        let empty = || {
            hickory_server::zone_handler::MessageResponseBuilder::new(&queries, edns)
                .build_no_records(metadata)
        };
        let bytes = encode(empty(), max)?;
        let mut response = empty();
        response.set_signature(Box::new(signer.sign(&bytes, now())?));
        return response_handle.send_response(response).await;
    }
    let mut response = build();
    response.set_signature(Box::new(signer.sign(&unsigned, now())?));
    response_handle.send_response(response).await
}

/// Sends NOTAUTH for a request whose TSIG failed.
pub(crate) async fn send_failure(
    request: &Request,
    failure: Failure,
    edns: Option<&hickory_proto::op::Edns>,
    mut response_handle: impl ResponseHandler,
) -> Result<ResponseInfo, NetError> {
    let queries = reencoded(request);
    let build = || {
        hickory_server::zone_handler::MessageResponseBuilder::new(&queries, edns)
            .error_msg(&request.metadata, ResponseCode::NotAuth)
    };
    match failure {
        Failure::Unsigned(record) => {
            let mut response = build();
            response.set_signature(record);
            response_handle.send_response(response).await
        }
        Failure::BadTime(mut signer) => {
            send(request, Some(&mut signer), build, &mut response_handle).await
        }
    }
}

/// `response` encoded as the UDP and TCP loops encode it, at most `max` octets.
fn encode<'a>(
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a HRecord> + Send + 'a,
        impl Iterator<Item = &'a HRecord> + Send + 'a,
        impl Iterator<Item = &'a HRecord> + Send + 'a,
        impl Iterator<Item = &'a HRecord> + Send + 'a,
    >,
    max: usize,
) -> Result<Vec<u8>, NetError> {
    crate::wire::emit(response, u16::try_from(max).unwrap_or(u16::MAX)).map(|(bytes, _)| bytes)
}
