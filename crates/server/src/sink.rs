//! [`UpdateSink`]: where the server hands a DNS UPDATE it admitted, and what comes back.
//!
//! The server knows the wire and who may update; deciding and publishing is the gate's, which
//! the binary runs against its store (`gate::update`). The sink is that port: it takes the
//! message in the core's model and answers with the gate's outcome, which the server maps to a
//! response code and an Extended DNS Error. A leaf: it uses only the core.

pub use crate::stats::UpdateResult;
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
