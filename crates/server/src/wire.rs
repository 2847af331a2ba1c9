//! Encoding responses: the one encoder under the UDP loop, the TCP loop, TSIG signing and the
//! prepared answers, so that the octets prepared, signed and sent are the same octets; and the
//! header of an answer to a resolution.
//!
//! A leaf: it knows hickory's types and the core's lookup results, nothing of the server.

use hickory_proto::op::{Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
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
    let max = response.edns().map_or(512, |e| e.max_payload());
    match emit(response, max) {
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
