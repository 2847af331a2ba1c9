//! [`UpdateSink`]: where the server hands a DNS UPDATE it admitted, and what comes back.
//!
//! The server knows the wire and who may update; deciding and publishing is the gate's, which
//! the binary runs against its store (`gate::update`). The sink is that port: it takes the
//! message in the core's model and answers with the gate's outcome, which the server maps to a
//! response code and an Extended DNS Error. A leaf: it uses only the core.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use zonegate_core::Name;
use zonegate_core::gate::{UpdateError, UpdateOutcome};
use zonegate_core::update::{UpdateGrant, UpdateMessage};

/// One admitted UPDATE.
#[derive(Debug, Clone)]
pub struct UpdateCall {
    pub message: UpdateMessage,
    /// The TSIG key that signed the request, if one did: the actor.
    pub key: Option<Name>,
    /// The client: the actor when no key signed.
    pub client: SocketAddr,
    /// The zone's per-key grants.
    pub grants: Vec<UpdateGrant>,
}

/// The future an [`UpdateSink`] answers with.
pub type UpdateFuture<'a> =
    Pin<Box<dyn Future<Output = Result<UpdateOutcome, UpdateError>> + Send + 'a>>;

/// Runs admitted UPDATEs through the gate. It must answer only once the outcome is durable:
/// a published generation committed in the store, and installed in the catalog the server
/// answers from.
pub trait UpdateSink: Send + Sync {
    fn update(&self, call: UpdateCall) -> UpdateFuture<'_>;
}

/// What became of an UPDATE, one word each, for logs and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpdateResult {
    /// NOERROR, a new generation published.
    Published,
    /// NOERROR, nothing to change.
    Unchanged,
    /// A failed prerequisite (YXDOMAIN, NXDOMAIN, YXRRSET, NXRRSET).
    Prerequisite,
    /// FORMERR or NOTZONE.
    Malformed,
    /// REFUSED or NOTAUTH before the gate: the address, the key, the zone.
    NotAllowed,
    /// REFUSED by the gate, the grants or the review setting.
    Refused,
    /// SERVFAIL: the store failed, or the retries ran out.
    Failed,
}

impl UpdateResult {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateResult::Published => "published",
            UpdateResult::Unchanged => "unchanged",
            UpdateResult::Prerequisite => "prerequisite",
            UpdateResult::Malformed => "malformed",
            UpdateResult::NotAllowed => "not-allowed",
            UpdateResult::Refused => "refused",
            UpdateResult::Failed => "failed",
        }
    }
}
