//! Models for the loom suite and the contract tests: an in-memory [`MemStore`] and
//! [`MemTarget`] that run the very protocol code the binary runs, and the [`naive`] design
//! whose race the suite demonstrates.
//!
//! Compiled only under `cfg(loom)`, `cfg(test)` or the cargo feature `model` (test crates
//! enable it through their dev-dependencies), so the binary does not ship it.

pub mod memstore;
pub mod memtarget;
pub mod naive;
pub(crate) mod sync;

pub use memstore::MemStore;
pub use memtarget::MemTarget;
