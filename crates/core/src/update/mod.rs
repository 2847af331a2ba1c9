//! DNS UPDATE (RFC 2136) on zone content, without the wire: the model of a message, its
//! prescan, prerequisites, application, and the per-key grants.
//!
//! # Design
//!
//! The server turns each resource record of an UPDATE message into a [`RawRr`] (owner, class,
//! type, TTL, and its data in wire form, `None` when the data is empty) and hands the three
//! sections to [`UpdateMessage::read`], which runs the checks of RFC 2136 §3.1 (zone
//! section), §3.2.1 and §3.4.1 (prescan): what it returns is a message whose every part is
//! well-formed, a [`Prereq`] list and a [`Change`] list. [`apply`] then judges the
//! prerequisites (§3.2) against one published [`Zone`] and applies the changes (§3.4.2) to a
//! copy of its records: the result is the new content, [`Applied::Unchanged`] when it equals
//! the zone, or an [`UpdateRefusal`] whose [`UpdateRcode`] is the RFC's answer. Nothing is
//! half applied: the zone itself is never touched, and the new content goes to the gate as one
//! plan.
//!
//! The rules of §3.4.2 kept here: an SOA add replaces the apex SOA unless its serial is older;
//! the apex SOA and the apex NS RRset are never deleted (the last apex NS survives a
//! class-NONE delete); a CNAME add at a name with other data, or other data at a CNAME, is
//! ignored; adding a record that exists and deleting one that does not are no-ops; the TTL of
//! an added record becomes the TTL of its whole RRset.
//!
//! [`grant`] holds the per-key policy (in the manner of BIND's `update-policy` and Knot's
//! `update-owner`): which names and types a key may change.

mod apply;
pub mod grant;
mod message;
mod refusal;
#[cfg(test)]
mod tests;

pub use apply::{Applied, apply};
pub use grant::{GrantPatternError, UpdateGrant, UpdatePattern, check_grants};
pub use message::{Change, Class, Prereq, RawRr, UpdateMessage};
pub use refusal::{Malformed, Section, UpdateRcode, UpdateRefusal};
