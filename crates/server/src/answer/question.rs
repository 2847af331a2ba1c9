//! The question section of a response, encoded again from the parsed question.
//!
//! hickory keeps a request's question section as the octets the client sent and copies them
//! into every response. A question whose name holds a compression pointer (into the header,
//! say) would then be echoed with a pointer that means something else in the response. Here
//! the section is encoded from the names hickory parsed, uncompressed and in the client's
//! case, so a response never carries a byte of the request it did not parse.

use hickory_proto::serialize::binary::{BinDecoder, BinEncodable, BinEncoder, NameEncoding};
use hickory_server::server::Request;
use hickory_server::zone_handler::Queries;

/// The question section of `request`, encoded again from its parsed questions.
pub(crate) fn reencoded(request: &Request) -> Queries {
    let queries = request.queries.queries();
    let mut bytes = Vec::with_capacity(request.queries.as_bytes().len());
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    let emitted = queries
        .iter()
        .try_for_each(|q| q.original().emit(&mut encoder));
    let read = emitted
        .ok()
        .and_then(|()| Queries::read(&mut BinDecoder::new(&bytes), queries.len()).ok());
    // A question hickory parsed always encodes again; should it not, answer without one.
    read.unwrap_or_else(|| {
        Queries::read(&mut BinDecoder::new(&[]), 0).expect("no questions read from no octets")
    })
}

#[cfg(test)]
mod tests {
    use hickory_server::net::xfer::Protocol;

    use super::*;

    /// A question whose name is a pointer into the header (offset 5, where the question count's
    /// low octet 1 reads as a one-octet label holding the answer count's high octet 0, and
    /// the next octet 0 ends the name) is encoded again spelled out, not as the pointer.
    #[test]
    fn a_compression_pointer_is_spelled_out() {
        let mut msg = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        msg.extend_from_slice(&[0xC0, 5, 0, 1, 0, 1]);
        let request =
            Request::from_bytes(msg, "127.0.0.1:53".parse().unwrap(), Protocol::Udp).unwrap();
        assert_eq!(request.queries.as_bytes(), &[0xC0, 5, 0, 1, 0, 1]);
        let queries = reencoded(&request);
        assert_eq!(queries.as_bytes(), &[1, 0, 0, 0, 1, 0, 1]);
        assert_eq!(queries.queries(), request.queries.queries());
    }
}
