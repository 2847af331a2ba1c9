//! Test support shared by every zonegate test crate, so that no test carries its own copy.
//!
//! - The record and zone builders ([`n`], [`rec`], [`a`], [`soa`], [`zone`], ...) and the
//!   seeded generator are the core's `testkit` module, re-exported: the core's own unit tests
//!   use the same ones.
//! - [`ferret`]: the one loader of the Ferret conformance data and its allow-list.
//! - [`dns`]: a small DNS client (UDP and TCP queries with hickory's message types).
//! - [`wait`]: polling until a condition holds.
//! - [`postgres`]: a throwaway PostgreSQL cluster per test process, a database per test.
//! - [`target`]: the `Target` contract suite, run against `MemTarget` and the server's
//!   `Catalog`.
//!
//! A dev-dependency only: nothing here is in the binary.

pub mod dns;
pub mod ferret;
mod ferret_allow;
pub mod postgres;
pub mod target;
pub mod wait;

pub use wait::{wait_until, wait_until_every};
pub use zonegate_core::testkit::*;
