//! Zone transfer out: AXFR (RFC 5936) and IXFR (RFC 1995).
//!
//! A transfer loads the served zone once and streams from that one generation, so it is a
//! consistent snapshot even while newer generations are installed. The records are cut into
//! messages of at most [`XFR_MESSAGE_BYTES_MAX`] octets of uncompressed records, each sent as
//! soon as it is built; over TCP our own loop writes each one before the next is built, so a
//! transfer of any size holds one message in memory and a slow client slows only itself.
//!
//! Who may transfer is the zone's `allow_transfer` list; everyone else is REFUSED. A zone with
//! `transfer_keys` also needs a TSIG (RFC 8945) made with one of them: the handler has verified
//! the request's TSIG already (`tsig.rs`), so here an unsigned request is NOTAUTH and one signed
//! with another valid key is NOTAUTH with TSIG error BADKEY, as Knot answers. Every message
//! of a transfer answering a signed request is signed, each MAC chained to the previous one
//! (RFC 8945 §5.3.1), whether the zone asks for keys or not. A name that
//! is not the origin of a served zone is NOTAUTH (RFC 5936 §2.2.1 leaves the choice; BIND and
//! Knot answer NOTAUTH). AXFR is not defined over UDP (RFC 5936 §4.2): NOTIMP. IXFR over UDP
//! gets the current SOA alone, which tells the client to retry over TCP unless it is up to
//! date (RFC 1995 §2).

use std::borrow::Cow;
use std::sync::Arc;

use hickory_proto::op::{Edns, Metadata, ResponseCode};
use hickory_proto::rr::{RData, Record as HRecord, RecordType};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use zonegate_core::xfr::{IxfrReply, ixfr_reply, record_wire_len, split};
use zonegate_core::{Name, RType, Record};

use crate::answer::question::reencoded;
use crate::answer::respond::{failed, send_bad_key, send_error};
use crate::answer::tsig::{self, ResponseSigner};
use crate::catalog::Catalog;
use crate::convert::to_hickory;
use crate::zone::served::ServedZone;

/// Most octets of records, counted uncompressed, in one transfer message. Compression only
/// shrinks a message, so every message stays well under the 65535 octets TCP framing allows.
pub const XFR_MESSAGE_BYTES_MAX: usize = 32 * 1024;

/// One record of a transfer: in hickory's form already (the SOA), or one of the zone's or of
/// an IXFR history step's records, converted when its message is built and dropped with it. An AXFR of a
/// 1M-record zone through the served zone's runs would convert all of them and keep them as
/// long as the generation is served (280 MB, more than the rest of the zone).
#[derive(Clone, Copy)]
enum Item<'z> {
    Hickory(&'z HRecord),
    Core(&'z Record),
}

impl<'z> Item<'z> {
    fn record(self) -> Cow<'z, HRecord> {
        match self {
            Item::Hickory(r) => Cow::Borrowed(r),
            Item::Core(r) => Cow::Owned(to_hickory(r)),
        }
    }
}

/// Why a transfer is refused: an error answer with this code (signed if the request was), or
/// NOTAUTH with TSIG error BADKEY, unsigned.
enum Denied {
    Code(ResponseCode),
    BadKey,
}

/// The served zone `qname` if `request` may transfer it: the zone is served under exactly that
/// origin (else NOTAUTH), the client is in its `allow_transfer` (else REFUSED) and, if the
/// zone has `transfer_keys`, the request is signed (else NOTAUTH) with one of them (else
/// BADKEY).
fn admit(
    catalog: &Catalog,
    request: &Request,
    qname: &Name,
    qtype: RecordType,
    signer: Option<&ResponseSigner>,
) -> Result<Arc<ServedZone>, Denied> {
    let client = request.src();
    let zone = catalog
        .get(qname)
        .ok_or(Denied::Code(ResponseCode::NotAuth))?;
    let options = catalog.options().zone(qname);
    if !options.may_transfer(client.ip()) {
        tracing::info!(zone = %qname, %client, ?qtype, "zone transfer refused by allow_transfer");
        return Err(Denied::Code(ResponseCode::Refused));
    }
    if !options.transfer_keys.is_empty() {
        match signer {
            None => {
                tracing::info!(zone = %qname, %client, ?qtype, "unsigned zone transfer refused: the zone needs a TSIG key");
                return Err(Denied::Code(ResponseCode::NotAuth));
            }
            Some(s) if !options.transfer_keys.contains(s.key()) => {
                tracing::info!(zone = %qname, %client, ?qtype, key = %s.key(), "zone transfer refused: the key is not one of the zone's transfer_keys");
                return Err(Denied::BadKey);
            }
            Some(_) => {}
        }
    }
    Ok(zone)
}

/// Answers an AXFR or IXFR query for `qname`.
pub(crate) async fn transfer(
    catalog: &Catalog,
    request: &Request,
    qname: &Name,
    qtype: RecordType,
    edns: Option<&Edns>,
    mut signer: Option<ResponseSigner>,
    response_handle: impl ResponseHandler,
) -> ResponseInfo {
    let zone = match admit(catalog, request, qname, qtype, signer.as_ref()) {
        Ok(zone) => zone,
        Err(Denied::Code(code)) => {
            return send_error(request, code, edns, signer.as_mut(), response_handle).await;
        }
        Err(Denied::BadKey) => return send_bad_key(request, edns, response_handle).await,
    };
    let signer = signer.as_mut();
    if qtype == RecordType::AXFR {
        if request.protocol() == Protocol::Udp {
            return send_error(request, ResponseCode::NotImp, edns, signer, response_handle).await;
        }
        return send_full(request, &zone, edns, signer, response_handle, "AXFR").await;
    }
    ixfr(request, qname, &zone, edns, signer, response_handle).await
}

/// The serial of the client's version of zone `qname`: the SOA of the request's authority
/// section, if that section starts with an SOA owned by `qname`.
fn client_serial(request: &Request, qname: &Name) -> Option<u32> {
    let record = request.authorities.first()?;
    let owner = Name::from_labels(record.name.iter()).ok()?;
    match &record.data {
        RData::SOA(soa) if owner == *qname => Some(soa.serial),
        _ => None,
    }
}

/// Answers an IXFR query for `qname` from `zone`: the deltas from the client's serial if the
/// history reaches it, else the whole zone; over UDP, or to a client that is up to date, the
/// SOA alone.
async fn ixfr(
    request: &Request,
    qname: &Name,
    zone: &ServedZone,
    edns: Option<&Edns>,
    mut signer: Option<&mut ResponseSigner>,
    response_handle: impl ResponseHandler,
) -> ResponseInfo {
    let udp = request.protocol() == Protocol::Udp;
    let soa = soa_of(zone);
    // IXFR: the client's serial is in the SOA of the authority section (RFC 1995 §3), the
    // SOA of its version of this zone. One that belongs to another name says nothing about
    // this zone: the request is malformed (FORMERR, as BIND and Knot answer), never read as a
    // serial of this zone.
    let Some(client_serial) = client_serial(request, qname) else {
        return send_error(
            request,
            ResponseCode::FormErr,
            edns,
            signer,
            response_handle,
        )
        .await;
    };
    let steps: Vec<(u32, u32)> = zone.history().iter().map(|s| (s.from, s.to)).collect();
    let reply = ixfr_reply(&steps, zone.serial(), client_serial);
    let kind = match reply {
        IxfrReply::UpToDate => Some("IXFR up to date"),
        _ if udp => Some("IXFR over UDP, SOA only"),
        _ => None,
    };
    if let Some(kind) = kind {
        let only_soa = [(Item::Hickory(soa), soa_size(zone))];
        let (info, messages) = send_stream(
            request,
            edns,
            signer.as_deref_mut(),
            response_handle,
            &only_soa,
            XFR_MESSAGE_BYTES_MAX,
        )
        .await;
        log_transfer(request, qname, zone, kind, 1, messages);
        return info;
    }
    match reply {
        IxfrReply::UpToDate => unreachable!("answered above"),
        IxfrReply::Full => {
            send_full(request, zone, edns, signer, response_handle, "IXFR as AXFR").await
        }
        IxfrReply::Incremental(range) => {
            let history = &zone.history()[range];
            let mut items: Vec<(Item, usize)> = Vec::new();
            items.push((Item::Hickory(soa), soa_size(zone)));
            for step in history {
                items.extend(
                    step.records
                        .iter()
                        .map(Item::Core)
                        .zip(step.sizes.iter().copied()),
                );
            }
            items.push((Item::Hickory(soa), soa_size(zone)));
            let records = items.len();
            let (info, messages) = send_stream(
                request,
                edns,
                signer,
                response_handle,
                &items,
                XFR_MESSAGE_BYTES_MAX,
            )
            .await;
            log_transfer(request, qname, zone, "IXFR", records, messages);
            info
        }
    }
}

fn soa_of(zone: &ServedZone) -> &HRecord {
    let i = zone
        .index()
        .records()
        .iter()
        .position(|r| r.rtype == RType::SOA && r.owner == *zone.origin())
        .expect("a served zone has an apex SOA");
    zone.hickory_record(i)
}

fn soa_size(zone: &ServedZone) -> usize {
    record_wire_len(zone.index().zone().soa_record())
}

/// The whole zone: SOA, every other record, SOA (RFC 5936 §2.2).
async fn send_full(
    request: &Request,
    zone: &ServedZone,
    edns: Option<&Edns>,
    signer: Option<&mut ResponseSigner>,
    response_handle: impl ResponseHandler,
    kind: &str,
) -> ResponseInfo {
    let soa = soa_of(zone);
    let origin = zone.origin();
    let mut items: Vec<(Item, usize)> = Vec::with_capacity(zone.index().records().len() + 2);
    items.push((Item::Hickory(soa), soa_size(zone)));
    for r in zone.index().records() {
        if !(r.rtype == RType::SOA && r.owner == *origin) {
            items.push((Item::Core(r), record_wire_len(r)));
        }
    }
    items.push((Item::Hickory(soa), soa_size(zone)));
    let records = items.len();
    let (info, messages) = send_stream(
        request,
        edns,
        signer,
        response_handle,
        &items,
        XFR_MESSAGE_BYTES_MAX,
    )
    .await;
    log_transfer(request, origin, zone, kind, records, messages);
    info
}

fn log_transfer(
    request: &Request,
    qname: &Name,
    zone: &ServedZone,
    kind: &str,
    records: usize,
    messages: usize,
) {
    tracing::info!(
        zone = %qname,
        serial = zone.serial(),
        generation = %zone.generation(),
        client = %request.src(),
        kind,
        records,
        messages,
        "zone transfer sent"
    );
}

/// Sends `items` in messages of at most `budget` octets of records, each signed with `signer`
/// if given. Returns the last message's info and how many messages went out.
async fn send_stream(
    request: &Request,
    edns: Option<&Edns>,
    mut signer: Option<&mut ResponseSigner>,
    mut response_handle: impl ResponseHandler,
    items: &[(Item<'_>, usize)],
    budget: usize,
) -> (ResponseInfo, usize) {
    let parts = split(items.iter().map(|(_, size)| *size), budget);
    let mut last = failed(request);
    let mut sent = 0;
    let queries = reencoded(request);
    for part in parts {
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        metadata.recursion_available = false;
        metadata.response_code = ResponseCode::NoError;
        let records: Vec<Cow<HRecord>> = items[part].iter().map(|(r, _)| r.record()).collect();
        let build = || {
            MessageResponseBuilder::new(&queries, edns).build(
                metadata,
                records.iter().map(AsRef::as_ref),
                std::iter::empty(),
                std::iter::empty(),
                std::iter::empty(),
            )
        };
        let sent_one =
            tsig::send(request, signer.as_deref_mut(), build, &mut response_handle).await;
        match sent_one {
            Ok(info) => {
                last = info;
                sent += 1;
            }
            Err(error) => {
                tracing::warn!(%error, client = %request.src(), "zone transfer cut short");
                return (failed(request), sent);
            }
        }
    }
    (last, sent)
}
