//! The one place the core takes its synchronisation primitives from.
//!
//! Under `--cfg loom` these are loom's instrumented types, so the loom suite explores every
//! interleaving of the very code the binary runs; otherwise they are `std`'s. Code in the core
//! must import `Mutex` and friends from here, never from `std::sync` directly, or loom cannot
//! see the synchronisation it is meant to check.

#[cfg(loom)]
#[allow(unused_imports)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};

#[cfg(not(loom))]
#[allow(unused_imports)]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard};
