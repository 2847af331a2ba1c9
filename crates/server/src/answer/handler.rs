//! The hickory [`RequestHandler`] that answers from a [`Catalog`].
//!
//! hickory decodes the message, drops responses, answers undecodable queries with FORMERR and
//! truncates UDP answers to the client's payload size. This handler does the rest: TSIG
//! verification (`tsig.rs`; a signed request gets signed answers), EDNS version check, opcode
//! and class checks, zone selection and the lookup.

use std::sync::Arc;

use hickory_proto::op::{Edns, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use zonegate_core::{Name, RType};

use crate::answer::respond::{failed, send_error};
use crate::answer::tsig::{self, Check, ResponseSigner};
use crate::catalog::Catalog;
use crate::wire::{UDP_PAYLOAD_MAX, answer_metadata};
use crate::zone::served::{ServedZone, made_records, sections};

/// The EDNS version this server speaks (RFC 6891 §6.1.3).
const EDNS_VERSION: u8 = 0;

/// Answers queries from the zones of a [`Catalog`].
#[derive(Clone, Debug)]
pub struct Handler {
    catalog: Arc<Catalog>,
}

impl Handler {
    pub fn new(catalog: Arc<Catalog>) -> Self {
        Handler { catalog }
    }

    pub(crate) fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        // RFC 6891 §7: answer EDNS with EDNS. hickory truncates a UDP response to the size
        // the response's OPT record states, so that is the smaller of the client's size and
        // ours, and never below 512.
        let mut resp_edns = Edns::new();
        let mut bad_version = false;
        let edns = match request.edns.as_ref() {
            Some(req) => {
                resp_edns.set_max_payload(req.max_payload().clamp(512, UDP_PAYLOAD_MAX));
                resp_edns.set_version(EDNS_VERSION);
                bad_version = req.version() > EDNS_VERSION;
                Some(&resp_edns)
            }
            None => None,
        };

        // RFC 8945 §5.2: a TSIG that does not verify is answered NOTAUTH and nothing else; a
        // valid one makes every answer to this request signed, errors included.
        let mut signer = match tsig::check(request, self.catalog.options(), tsig::now()) {
            Check::Unsigned => None,
            Check::Signed(s) => Some(s),
            Check::Failed(failure) => {
                tracing::info!(
                    client = %request.src(),
                    error = ?failure.error(),
                    "TSIG verification failed; answering NOTAUTH"
                );
                return match tsig::send_failure(request, failure, edns, response_handle).await {
                    Ok(info) => info,
                    Err(error) => {
                        tracing::warn!(%error, "cannot send a DNS response");
                        failed(request)
                    }
                };
            }
        };
        if bad_version {
            return send_error(
                request,
                ResponseCode::BADVERS,
                edns,
                signer.as_mut(),
                response_handle,
            )
            .await;
        }
        if request.metadata.op_code != OpCode::Query {
            return send_error(
                request,
                ResponseCode::NotImp,
                edns,
                signer.as_mut(),
                response_handle,
            )
            .await;
        }
        let queries = request.queries.queries();
        if queries.len() != 1 {
            return send_error(
                request,
                ResponseCode::FormErr,
                edns,
                signer.as_mut(),
                response_handle,
            )
            .await;
        }
        let query = &queries[0];
        if query.query_class() != DNSClass::IN {
            return send_error(
                request,
                ResponseCode::Refused,
                edns,
                signer.as_mut(),
                response_handle,
            )
            .await;
        }
        let qtype = query.query_type();
        let Ok(qname) = Name::from_labels(query.name().iter()) else {
            return send_error(
                request,
                ResponseCode::FormErr,
                edns,
                signer.as_mut(),
                response_handle,
            )
            .await;
        };
        if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            return crate::answer::xfr::transfer(
                &self.catalog,
                request,
                &qname,
                qtype,
                edns,
                signer,
                response_handle,
            )
            .await;
        }
        let Some(zone) = self.catalog.find(&qname) else {
            return send_error(
                request,
                ResponseCode::Refused,
                edns,
                signer.as_mut(),
                response_handle,
            )
            .await;
        };
        answer(
            request,
            &zone,
            &qname,
            RType(u16::from(qtype)),
            edns,
            signer.as_mut(),
            response_handle,
        )
        .await
    }
}

/// Looks `qname` up in `zone` and sends the answer. Everything comes from this one
/// [`ServedZone`], so from one generation.
async fn answer(
    request: &Request,
    zone: &ServedZone,
    qname: &Name,
    qtype: RType,
    edns: Option<&Edns>,
    signer: Option<&mut ResponseSigner>,
    mut response_handle: impl ResponseHandler,
) -> ResponseInfo {
    let res = zone.index().resolve(qname, qtype);
    let made = made_records(zone, &res);
    let [answers, authorities, additionals] = sections(zone, &res, &made);
    let metadata = answer_metadata(&request.metadata, &res);
    let build = || {
        MessageResponseBuilder::new(&request.queries, edns).build(
            metadata,
            answers.iter().copied(),
            authorities.iter().copied(),
            std::iter::empty(),
            additionals.iter().copied(),
        )
    };
    match tsig::send(request, signer, build, &mut response_handle).await {
        Ok(info) => info,
        Err(error) => {
            tracing::warn!(%error, "cannot send a DNS response");
            failed(request)
        }
    }
}
