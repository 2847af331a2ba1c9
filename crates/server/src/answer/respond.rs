//! Sending the answers that carry no records: errors, signed like every answer to a signed
//! request, and the unsigned BADKEY answer.

use hickory_proto::op::{Edns, Header, HeaderCounts, Metadata, ResponseCode};
use hickory_proto::rr::rdata::tsig::TsigError;
use hickory_server::server::{Request, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use crate::answer::question::reencoded;
use crate::answer::tsig::{self, ResponseSigner};

/// Sends a response with no records and `code`, signed if `signer` is given.
pub(crate) async fn send_error(
    request: &Request,
    code: ResponseCode,
    edns: Option<&Edns>,
    signer: Option<&mut ResponseSigner>,
    mut response_handle: impl ResponseHandler,
) -> ResponseInfo {
    let mut with_high: Edns;
    let mut edns = edns;
    // RFC 6891 §6.1.3: the upper 8 bits of an extended RCODE travel in the OPT record.
    if let Some(e) = edns.filter(|_| code.high() != 0) {
        with_high = e.clone();
        with_high.set_rcode_high(code.high());
        edns = Some(&with_high);
    }
    let queries = reencoded(request);
    let build = || MessageResponseBuilder::new(&queries, edns).error_msg(&request.metadata, code);
    match tsig::send(request, signer, build, &mut response_handle).await {
        Ok(info) => info,
        Err(error) => {
            tracing::warn!(%error, "cannot send a DNS response");
            failed(request)
        }
    }
}

/// The response info to report when a response could not be sent.
pub(crate) fn failed(request: &Request) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = ResponseCode::ServFail;
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}

/// Sends NOTAUTH with TSIG error BADKEY, unsigned: the request's key is valid but not one the
/// zone accepts for transfers.
pub(crate) async fn send_bad_key(
    request: &Request,
    edns: Option<&Edns>,
    response_handle: impl ResponseHandler,
) -> ResponseInfo {
    let Some(record) = request.signature.as_deref() else {
        return send_error(request, ResponseCode::NotAuth, edns, None, response_handle).await;
    };
    let failure = tsig::unsigned_failure(record, TsigError::BadKey, tsig::now());
    match tsig::send_failure(request, failure, edns, response_handle).await {
        Ok(info) => info,
        Err(error) => {
            tracing::warn!(%error, "cannot send a DNS response");
            failed(request)
        }
    }
}
