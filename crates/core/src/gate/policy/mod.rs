//! The change policy: how much a plan may change compared with the published generation
//! before a human has to acknowledge it.
//!
//! # Design
//!
//! Validity (`validate.rs`) says whether a content is a zone at all. The policy says whether a
//! *change* is plausible: a valid zone that deletes most of its records is still most likely a
//! truncated source (external-dns deleting whole zones when its source briefly returned
//! nothing). Every check here compares a plan with its **base**, the generation that was
//! published when it was planned, and is pure: it takes two validated contents and their
//! [`Diff`] and returns every [`Threshold`] the change crosses, with the numbers.
//!
//! The checks, in the order their reason codes are reported:
//!
//! ```text
//!   shrink   the record count falls by more than shrink_max_percent    threshold:shrink
//!   floor    an RRset matching a floor drops below its minimum         threshold:floor
//!   apex     the apex NS set changes, or the SOA changes beyond serial threshold:apex
//!   delete   deleted records > delete_max_percent / _records of base   threshold:delete
//!   update   updated records > update_max_percent / _records of base   threshold:update
//! ```
//!
//! How changes are counted (the same as octoDNS, which counts updates and deletes as a share
//! of the existing records, except that small zones are not exempt):
//! - An RRset that vanished counts each of its records as deleted.
//! - An RRset that changed counts `min(removed, added)` records as updated and the rest of its
//!   removed records as deleted. A TTL change is an update.
//! - Added records are never limited.
//! - An SOA change that only moves the serial is bookkeeping, not an update: every edit of a
//!   zone file bumps it.
//! - A first plan (nothing published) has no base and passes every check.
//!
//! A plan that crosses a threshold is still staged, with the verdict `refused`, so that a human
//! can approve that exact plan (bound to its content hash) instead of turning the policy off.
//! The policy runs when a plan is staged and again when it is published, against the same
//! base: the publish compare-and-swap only succeeds if that base is still the published
//! generation, so the check and the write are one decision.
//!
//! Review hooks (`review = "command" | "manual"`) are configured here, but running a command
//! is I/O and lives in the binary.
//!
//! `config.rs` holds the settings (`[policy]`, per-zone overrides, review), `threshold.rs` what
//! a crossed check reports, `check.rs` the checks themselves.

mod check;
mod config;
#[cfg(test)]
mod tests;
mod threshold;

pub use check::{ChangeCounts, check, count};
pub use config::{Floor, NamePattern, Policy, PolicyError, Review, ZoneOverride, ZonePolicy};
pub use threshold::{Limit, SoaChange, Threshold};
