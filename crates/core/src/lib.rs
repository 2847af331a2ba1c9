//! zonegate's pure core: the zone model, validation, diff, lookup and the
//! plan/publish/clean-up protocol. This crate does no I/O; the store, the server and the
//! binary bring the outside world in through the traits in [`gate`].
//!
//! The folders follow the layers, each using only those above it:
//! - [`dns`]: names, records and canonical record data, the DNS vocabulary.
//! - [`zone`]: validated zone content ([`Zone`]), its codec, validation, diff, limits and SOA
//!   serials.
//! - [`zonefile`]: master-file text in and out.
//! - [`lookup`] and [`xfr`]: what a server answers from a zone.
//! - [`update`]: DNS UPDATE (RFC 2136) on zone content: prescan, prerequisites, changes,
//!   per-key grants.
//! - [`gate`]: the publish protocol (types, the store and target traits, policy, one file per
//!   step).
//! - `model` (only under `cfg(loom)`, `cfg(test)` or the `model` feature): the in-memory store
//!   and target and the naive design the loom suite checks.

pub mod deps;
pub mod dns;
pub mod gate;
pub mod lookup;
#[cfg(any(loom, test, feature = "model"))]
pub mod model;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod update;
pub mod watch;
pub mod xfr;
pub mod zone;
pub mod zonefile;

pub use dns::name::Name;
pub use dns::record::{RType, Record};
pub use dns::record_data::RecordData;
pub use gate::GateConfig;
pub use zone::limits::Limits;
pub use zone::{ContentHash, ParsedZone, Zone};
