//! The hickory [`RequestHandler`] that answers from a [`Catalog`].
//!
//! hickory decodes the message, drops responses, answers undecodable queries with FORMERR and
//! truncates UDP answers to the client's payload size. This handler does the rest: TSIG
//! verification (`tsig.rs`; a signed request gets signed answers), DNS UPDATE (`update.rs`),
//! EDNS version check, opcode and class checks, zone selection and the lookup.

use std::sync::Arc;

use hickory_proto::op::{Edns, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use zonegate_core::{Name, RType};

use crate::answer::any;
use crate::answer::question::reencoded;
use crate::answer::respond::{failed, send_error};
use crate::answer::tsig::{self, Check, ResponseSigner};
use crate::answer::update::update;
use crate::answer::xfr::transfer;
use crate::catalog::Catalog;
use crate::stats::TransferKind;
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

/// What a request that passed the checks asks for.
enum Asked {
    /// A zone transfer (AXFR or IXFR) of `qname`.
    Transfer { qname: Name, qtype: RecordType },
    /// An ordinary query, for the served zone that is authoritative for `qname`.
    Query {
        zone: Arc<ServedZone>,
        qname: Name,
        qtype: RType,
    },
}

impl Handler {
    /// The checks every request passes before it is answered, in order (EDNS version, opcode,
    /// one question, class, name, then the zone for an ordinary query): what it asks for, or
    /// the response code of the error answer it gets instead.
    fn precheck(&self, request: &Request, bad_version: bool) -> Result<Asked, ResponseCode> {
        if bad_version {
            return Err(ResponseCode::BADVERS);
        }
        if request.metadata.op_code != OpCode::Query {
            return Err(ResponseCode::NotImp);
        }
        let queries = request.queries.queries();
        if queries.len() != 1 {
            return Err(ResponseCode::FormErr);
        }
        let query = &queries[0];
        if query.query_class() != DNSClass::IN {
            return Err(ResponseCode::Refused);
        }
        let qtype = query.query_type();
        let qname = Name::from_labels(query.name().iter()).map_err(|_| ResponseCode::FormErr)?;
        if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            return Ok(Asked::Transfer { qname, qtype });
        }
        let zone = self.catalog.find(&qname).ok_or(ResponseCode::Refused)?;
        Ok(Asked::Query {
            zone,
            qname,
            qtype: RType(u16::from(qtype)),
        })
    }
}

/// The OPT record of the response (RFC 6891 §7: answer EDNS with EDNS), and whether the
/// request asked for an EDNS version this server does not speak. hickory truncates a UDP
/// response to the size the response's OPT record states, so that is the smaller of the
/// client's size and ours, and never below 512.
fn response_edns(request: &Request) -> (Option<Edns>, bool) {
    let Some(req) = request.edns.as_ref() else {
        return (None, false);
    };
    let mut resp_edns = Edns::new();
    resp_edns.set_max_payload(req.max_payload().clamp(512, UDP_PAYLOAD_MAX));
    resp_edns.set_version(EDNS_VERSION);
    (Some(resp_edns), req.version() > EDNS_VERSION)
}

/// Answers NOTAUTH to a request whose TSIG failed (RFC 8945 §5.2), and nothing else.
async fn refuse_signature(
    request: &Request,
    failure: tsig::Failure,
    edns: Option<&Edns>,
    response_handle: impl ResponseHandler,
) -> ResponseInfo {
    tracing::info!(
        client = %request.src(),
        error = ?failure.error(),
        "TSIG verification failed; answering NOTAUTH"
    );
    match tsig::send_failure(request, failure, edns, response_handle).await {
        Ok(info) => info,
        Err(error) => {
            tracing::warn!(%error, "cannot send a DNS response");
            failed(request)
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        let (resp_edns, bad_version) = response_edns(request);
        let edns = resp_edns.as_ref();
        // RFC 8945 §5.2: a TSIG that does not verify is answered NOTAUTH and nothing else; a
        // valid one makes every answer to this request signed, errors included.
        let mut signer = match tsig::check(request, self.catalog.options(), tsig::now()) {
            Check::Unsigned => None,
            Check::Signed(s) => Some(s),
            Check::Failed(failure) => {
                return refuse_signature(request, failure, edns, response_handle).await;
            }
        };
        if request.metadata.op_code == OpCode::Update && !bad_version {
            return update(&self.catalog, request, edns, signer, response_handle).await;
        }
        match self.precheck(request, bad_version) {
            Err(code) => send_error(request, code, edns, signer.as_mut(), response_handle).await,
            Ok(Asked::Transfer { qname, qtype }) => {
                let catalog = &self.catalog;
                let info = transfer(
                    catalog,
                    request,
                    &qname,
                    qtype,
                    edns,
                    signer,
                    response_handle,
                )
                .await;
                let kind = if qtype == RecordType::AXFR {
                    TransferKind::Axfr
                } else {
                    TransferKind::Ixfr
                };
                catalog
                    .stats()
                    .transfer(kind, u16::from(info.response_code));
                info
            }
            Ok(Asked::Query { zone, qname, qtype }) => {
                let signer = signer.as_mut();
                answer(request, &zone, &qname, qtype, edns, signer, response_handle).await
            }
        }
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
    let mut res = zone.index().resolve(qname, qtype);
    if qtype == RType::ANY {
        res = any::minimal(zone.index(), qname, res);
    }
    let made = made_records(zone, &res);
    let [answers, authorities, additionals] = sections(zone, &res, &made);
    let metadata = answer_metadata(&request.metadata, &res);
    let queries = reencoded(request);
    let build = || {
        MessageResponseBuilder::new(&queries, edns).build(
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
