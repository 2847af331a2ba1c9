//! DNS UPDATE (RFC 2136) in: opcode 5 over UDP and TCP.
//!
//! The zone section must name a zone served here under exactly that origin (else NOTAUTH),
//! and not the catalog zone (REFUSED: the server makes its content);
//! the client must be in the zone's `allow_update` and, when the zone has `update_keys`, the
//! request signed with one of them (else REFUSED). The handler has verified the request's
//! TSIG already (`tsig.rs`: a failed one is NOTAUTH with its TSIG error), so here a signed
//! request is signed by the key it names. The message is read into the core's model, whose
//! prescan answers FORMERR and NOTZONE, and handed to the catalog's [`UpdateSink`], which runs
//! it through the gate and returns only once the outcome is durable. A refusal by the gate,
//! the grants or the review setting is REFUSED with an Extended DNS Error (RFC 8914) whose
//! EXTRA-TEXT is the gate's reason code and its words, when the request speaks EDNS (RFC 6891
//! §7 forbids an OPT record in the answer to a request without one); the same words go to the
//! log either way.

use std::net::SocketAddr;

use hickory_proto::op::{Edns, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{RData, Record as HRecord};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};
use hickory_server::server::{Request, ResponseHandler, ResponseInfo};
use zonegate_core::gate::{UpdateError, UpdateOutcome};
use zonegate_core::update::{Class, RawRr, UpdateMessage, UpdateRcode, UpdateRefusal};
use zonegate_core::{Name, RType};

use crate::answer::respond::send_error;
use crate::answer::tsig::ResponseSigner;
use crate::catalog::Catalog;
use crate::sink::{UpdateCall, UpdateResult};

/// The EDNS option code of an Extended DNS Error (RFC 8914 §2).
const EDE_OPTION: u16 = 15;
/// INFO-CODE 0, Other Error: a gate refusal, explained in EXTRA-TEXT.
const EDE_OTHER: u16 = 0;
/// INFO-CODE 18, Prohibited: the key's grants do not allow the change.
const EDE_PROHIBITED: u16 = 18;

/// The answer to one UPDATE: the response code, the Extended DNS Error if any, and the word
/// for logs and counters.
struct Answer {
    code: ResponseCode,
    ede: Option<(u16, String)>,
    result: UpdateResult,
}

impl Answer {
    fn plain(code: ResponseCode, result: UpdateResult) -> Answer {
        Answer {
            code,
            ede: None,
            result,
        }
    }
}

/// Answers an UPDATE request.
pub(crate) async fn update(
    catalog: &Catalog,
    request: &Request,
    edns: Option<&Edns>,
    mut signer: Option<ResponseSigner>,
    response_handle: impl ResponseHandler,
) -> ResponseInfo {
    let key = signer.as_ref().map(|s| s.key().clone());
    let answer = decide(catalog, request, key).await;
    catalog.stats().update(answer.result);
    tracing::info!(
        client = %request.src(),
        key = ?signer.as_ref().map(|s| s.key().to_string()),
        result = answer.result.as_str(),
        rcode = %answer.code,
        ede = answer.ede.as_ref().map_or("", |e| e.1.as_str()),
        "DNS UPDATE"
    );
    let with_ede;
    let edns = match (&answer.ede, edns) {
        (Some((info, text)), Some(e)) => {
            let mut e = e.clone();
            let mut data = info.to_be_bytes().to_vec();
            data.extend_from_slice(text.as_bytes());
            e.options_mut()
                .insert(EdnsOption::Unknown(EDE_OPTION, data));
            with_ede = e;
            Some(&with_ede)
        }
        (_, e) => e,
    };
    send_error(request, answer.code, edns, signer.as_mut(), response_handle).await
}

/// Admits the request, reads it and hands it to the sink.
async fn decide(catalog: &Catalog, request: &Request, key: Option<Name>) -> Answer {
    // A server without a sink does not implement UPDATE at all.
    let Some(sink) = catalog.update_sink() else {
        return Answer::plain(ResponseCode::NotImp, UpdateResult::NotAllowed);
    };
    let queries = request.queries.queries();
    let [zq] = queries else {
        return Answer::plain(ResponseCode::FormErr, UpdateResult::Malformed);
    };
    let Ok(origin) = Name::from_labels(zq.name().iter()) else {
        return Answer::plain(ResponseCode::FormErr, UpdateResult::Malformed);
    };
    if catalog.get(&origin).is_none() {
        return Answer::plain(ResponseCode::NotAuth, UpdateResult::NotAllowed);
    }
    // The catalog zone's content is made by the server from the zones it publishes; an
    // UPDATE would stage an ordinary plan under its name.
    if catalog.options().catalog.as_ref() == Some(&origin) {
        return Answer::plain(ResponseCode::Refused, UpdateResult::NotAllowed);
    }
    let options = catalog.options().zone(&origin);
    if !options.may_update(request.src().ip(), key.as_ref()) {
        return Answer::plain(ResponseCode::Refused, UpdateResult::NotAllowed);
    }
    let zone = [(
        origin,
        RType(u16::from(zq.query_type())),
        Class::from(u16::from(zq.query_class())),
    )];
    let read = raw_records(&request.answers)
        .and_then(|prereqs| raw_records(&request.authorities).map(|updates| (prereqs, updates)));
    let Some((prereqs, updates)) = read else {
        return Answer::plain(ResponseCode::FormErr, UpdateResult::Malformed);
    };
    let message = match UpdateMessage::read(&zone, &prereqs, &updates) {
        Ok(m) => m,
        Err(refusal) => return refused(&refusal),
    };
    let call = UpdateCall {
        message,
        key,
        client: request.src(),
        grants: options.update_policy.clone(),
    };
    outcome(sink.update(call).await, request.src())
}

/// The records of a section in the core's raw form; `None` if a name or data cannot be read.
fn raw_records(records: &[HRecord]) -> Option<Vec<RawRr>> {
    records.iter().map(raw).collect()
}

fn raw(record: &HRecord) -> Option<RawRr> {
    let rdata = match &record.data {
        RData::Update0(_) => None,
        data => {
            let mut out = Vec::new();
            let mut encoder = BinEncoder::new(&mut out);
            encoder.set_name_encoding(NameEncoding::Uncompressed);
            data.emit(&mut encoder).ok()?;
            Some(out)
        }
    };
    Some(RawRr {
        owner: Name::from_labels(record.name.iter()).ok()?,
        class: Class::from(u16::from(record.dns_class)),
        rtype: RType(u16::from(record.record_type())),
        ttl: record.ttl,
        rdata,
    })
}

fn rcode(code: UpdateRcode) -> ResponseCode {
    ResponseCode::from(0, code.code() as u8)
}

/// The answer to an RFC 2136 refusal.
fn refused(refusal: &UpdateRefusal) -> Answer {
    let result = match refusal.rcode() {
        UpdateRcode::FormErr | UpdateRcode::NotZone => UpdateResult::Malformed,
        UpdateRcode::Refused | UpdateRcode::NotAuth => UpdateResult::Refused,
        _ => UpdateResult::Prerequisite,
    };
    let ede = matches!(refusal, UpdateRefusal::NotGranted { .. })
        .then(|| (EDE_PROHIBITED, format!("update-policy: {refusal}")));
    Answer {
        code: rcode(refusal.rcode()),
        ede,
        result,
    }
}

/// The answer to what the gate did.
fn outcome(result: Result<UpdateOutcome, UpdateError>, client: SocketAddr) -> Answer {
    let error = match result {
        Ok(UpdateOutcome::Published { .. }) => {
            return Answer::plain(ResponseCode::NoError, UpdateResult::Published);
        }
        Ok(UpdateOutcome::Unchanged { .. }) => {
            return Answer::plain(ResponseCode::NoError, UpdateResult::Unchanged);
        }
        Err(e) => e,
    };
    match &error {
        UpdateError::Update(r) => refused(r),
        UpdateError::NotPublished { .. } => {
            Answer::plain(ResponseCode::NotAuth, UpdateResult::NotAllowed)
        }
        UpdateError::Review { .. } | UpdateError::Gate(_) => Answer {
            code: ResponseCode::Refused,
            ede: Some((
                EDE_OTHER,
                format!(
                    "{}: {error}",
                    error.reason().map(|r| r.to_string()).unwrap_or_default()
                ),
            )),
            result: UpdateResult::Refused,
        },
        _ => {
            tracing::error!(%client, error = %error, "DNS UPDATE failed; answering SERVFAIL");
            Answer::plain(ResponseCode::ServFail, UpdateResult::Failed)
        }
    }
}
