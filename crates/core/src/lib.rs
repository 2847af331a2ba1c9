//! zonegate's pure core: the zone model, validation, diff, lookup and the
//! plan/publish/clean-up protocol. This crate does no I/O; the store, the server and the
//! binary bring the outside world in through the traits in [`protocol`].

pub mod diff;
pub mod limits;
pub mod lookup;
pub mod memstore;
pub mod memtarget;
pub mod naive;
pub mod name;
pub mod policy;
pub mod protocol;
pub mod record;
pub mod serial;
mod sync;
/// The test builders; see the module. Never in the binary.
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod validate;
pub mod xfr;
pub mod zone;
pub mod zonefile;

pub use limits::{GateConfig, Limits};
pub use name::Name;
pub use record::{RType, Record};
pub use zone::{ContentHash, ParsedZone, Zone};
