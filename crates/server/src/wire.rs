//! Encoding responses: the one encoder under the UDP loop, the TCP loop, TSIG signing and the
//! prepared answers, so that the octets prepared, signed and sent are the same octets; and the
//! header of an answer to a resolution.
//!
//! A leaf: it knows hickory's types and the core's lookup results, nothing of the server.

use hickory_proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::Record as HRecord;
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::NetError;
use hickory_server::server::ResponseInfo;
use hickory_server::zone_handler::MessageResponse;
use zonegate_core::lookup::{Rcode, Resolution};

/// Largest UDP response, whatever larger size a client offers: 1232 octets fit in one
/// IPv6 packet without fragmentation (DNS Flag Day 2020). Larger answers are truncated and
/// the client retries over TCP. Clients without EDNS get 512 (RFC 1035 §4.2.1).
pub const UDP_PAYLOAD_MAX: u16 = 1232;

/// `response` encoded on its own, at most `max` octets: hickory's encoder truncates the
/// sections that do not fit and sets TC. The one encoding the UDP loop, the TCP loop and TSIG
/// signing all use, so that the octets signed are the octets sent.
pub(crate) fn emit<'a>(
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a HRecord> + Send + 'a,
        impl Iterator<Item = &'a HRecord> + Send + 'a,
        impl Iterator<Item = &'a HRecord> + Send + 'a,
        impl Iterator<Item = &'a HRecord> + Send + 'a,
    >,
    max: u16,
) -> Result<(Vec<u8>, ResponseInfo), NetError> {
    let mut bytes = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_max_size(max);
    let info = response.destructive_emit(&mut encoder)?;
    Ok((bytes, info))
}

/// Encodes a UDP response as hickory's UDP loop does: at most the payload size of the
/// response's OPT record, or 512 octets without one, truncating the sections that do not fit;
/// SERVFAIL with no records if it cannot be encoded. The flag is false in that last case.
pub(crate) fn encode_udp<'a>(
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a HRecord> + Send + 'a,
        impl Iterator<Item = &'a HRecord> + Send + 'a,
        impl Iterator<Item = &'a HRecord> + Send + 'a,
        impl Iterator<Item = &'a HRecord> + Send + 'a,
    >,
) -> (Vec<u8>, bool) {
    let id = response.metadata().id;
    let edns = response.edns();
    let max = edns.map_or(512, |e| e.max_payload());
    // A caller that truncates on purpose (a signed answer too large for its TSIG) has
    // already emptied the answer.
    let truncated_by_caller = response.metadata().truncation;
    match emit(response, max) {
        Ok((bytes, _)) if !truncated_by_caller && bytes.get(2).is_some_and(|f| f & TC != 0) => {
            (truncated(&bytes, edns), true)
        }
        Ok((bytes, _)) => (bytes, true),
        Err(error) => {
            tracing::error!(%error, "cannot encode a DNS response");
            let mut bytes = Vec::with_capacity(12);
            let mut encoder = BinEncoder::new(&mut bytes);
            encoder.set_max_size(512);
            let mut metadata = Metadata::new(id, MessageType::Response, OpCode::Query);
            metadata.response_code = ResponseCode::ServFail;
            let header = Header {
                metadata,
                counts: HeaderCounts::default(),
            };
            let _ = hickory_proto::serialize::binary::BinEncodable::emit(&header, &mut encoder);
            (bytes, false)
        }
    }
}

/// The TC bit, in the third octet of a message.
const TC: u8 = 0x02;

/// A truncated answer as it goes out: header (TC set, no records counted but the OPT), the
/// question and the OPT record, no other record. hickory fills a truncated answer with every
/// record that fits, which only adds to what an attacker reflects (the client asks again
/// over TCP and ignores them anyway).
fn truncated(bytes: &[u8], edns: Option<&Edns>) -> Vec<u8> {
    let question_end = question_end(bytes).unwrap_or(bytes.len().min(12));
    let mut out = Vec::with_capacity(question_end + 11);
    out.extend_from_slice(&bytes[..question_end]);
    if out.len() >= 12 {
        let questions = if question_end > 12 { 1u16 } else { 0 };
        out[4..6].copy_from_slice(&questions.to_be_bytes());
        out[6..12].copy_from_slice(&[0, 0, 0, 0, 0, u8::from(edns.is_some())]);
    }
    if let Some(e) = edns {
        // RFC 6891 §6.1.2: root owner, type OPT, the payload size as class, extended RCODE,
        // version and the DO flag in the TTL, no options.
        out.push(0);
        out.extend_from_slice(&41u16.to_be_bytes());
        out.extend_from_slice(&e.max_payload().to_be_bytes());
        out.extend_from_slice(&[e.rcode_high(), e.version()]);
        let flags: u16 = if e.flags().dnssec_ok { 0x8000 } else { 0 };
        out.extend_from_slice(&flags.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
    }
    out
}

/// Where the first question of an encoded message ends, if it has one. The encoder writes
/// the first name uncompressed (nothing precedes it to point at).
pub(crate) fn question_end(bytes: &[u8]) -> Option<usize> {
    if bytes.get(4..6)? == [0, 0] {
        return Some(12);
    }
    let mut at = 12;
    loop {
        let len = usize::from(*bytes.get(at)?);
        if len > 63 {
            return None;
        }
        at += 1 + len;
        if len == 0 {
            break;
        }
    }
    (at + 4 <= bytes.len()).then_some(at + 4)
}

/// Encodes a TCP response with its length prefix, as it is written: nothing truncated, at
/// most 65535 octets.
pub(crate) fn encode_tcp<'a>(
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a HRecord> + Send + 'a,
        impl Iterator<Item = &'a HRecord> + Send + 'a,
        impl Iterator<Item = &'a HRecord> + Send + 'a,
        impl Iterator<Item = &'a HRecord> + Send + 'a,
    >,
) -> Result<(Vec<u8>, ResponseInfo), NetError> {
    // Compression pointers count from the message's first octet, so the message is encoded
    // on its own and the length prefix put in front afterwards.
    let (message, info) = emit(response, u16::MAX)?;
    let len = u16::try_from(message.len())
        .map_err(|_| NetError::from("a TCP response exceeds 65535 octets"))?;
    let mut frame = Vec::with_capacity(message.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&message);
    Ok((frame, info))
}

/// True if `message` has the QR bit set: it is a response, which is never answered, whatever
/// else it holds (RFC 1035 §4.1.1; answering one invites reflection loops).
pub(crate) fn is_response(message: &[u8]) -> bool {
    message.get(2).is_some_and(|flags| flags & 0x80 != 0)
}

fn response_code(rcode: Rcode) -> ResponseCode {
    match rcode {
        Rcode::NoError => ResponseCode::NoError,
        Rcode::FormErr => ResponseCode::FormErr,
        Rcode::ServFail => ResponseCode::ServFail,
        Rcode::NxDomain => ResponseCode::NXDomain,
        Rcode::NotImp => ResponseCode::NotImp,
        Rcode::Refused => ResponseCode::Refused,
        Rcode::YxDomain => ResponseCode::YXDomain,
        _ => ResponseCode::ServFail,
    }
}

/// The response header of an answer to a request with header `request`.
pub(crate) fn answer_metadata(request: &Metadata, res: &Resolution) -> Metadata {
    let mut metadata = Metadata::response_from_request(request);
    metadata.authoritative = res.authoritative;
    metadata.recursion_available = false;
    metadata.response_code = response_code(res.rcode);
    metadata
}
