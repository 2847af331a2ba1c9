//! RFC 1035 master files: text in ([`parse`]) and text out ([`record_to_text`],
//! [`rdata_to_text`]).
//!
//! # Design
//!
//! The text is read by the `zonefile::inplace` scanner of NLnet Labs' `domain` crate. We picked
//! it over hickory-proto 0.26, whose text parser refuses DNAME records and RFC 3597 `\#`
//! generic record data, both of which zonegate must accept (DNAME is in the Ferret data set;
//! `\#` is the only way to write types a parser does not know). `domain` handles `$ORIGIN`,
//! `$TTL`, `@`, relative names, parenthesised multi-line records, comments, omitted owners,
//! classes and TTLs, `TYPEnnn` and `\#` for known and unknown types.
//!
//! What this module adds on top:
//! - **Line numbers.** A small lexer of our own (`entry_spans`) finds where every entry
//!   starts, so an error found after `domain` accepted a record (a class other than IN,
//!   malformed `\#` data) still names its line.
//! - **Canonical record data.** Every record's data is composed to wire form, parsed back with
//!   `domain`'s typed record data when the type is known (so `\# 4 0a000001` for an A record
//!   is checked like `10.0.0.1`), and then the embedded names of the RFC 4034 §6.2 types are
//!   lower-cased by our own table ([`crate::dns::rdata::canonical_rdata`]). Two records DNS treats as equal thus
//!   have equal bytes, whatever the case or the notation of the source.
//! - **The origin.** With no origin given, the zone's origin is the owner of the first SOA
//!   record. Relative names then need a `$ORIGIN` first. A file with no SOA at all still
//!   parses (the missing SOA is a validation matter, reported as such): its origin is the
//!   closest common ancestor of the owner names.
//! - **A first record with a blank owner** (no previous owner to repeat) is owned by the
//!   zone's origin.
//! - **Class IN only**; any other class is a parse error naming the line.
//! - **Omitted TTLs** are the last explicitly stated TTL (RFC 1035 §5.1), or `$TTL` once one
//!   is given (RFC 2308 §4). Before either, `domain` uses 3600 seconds.
//!
//! Nothing here panics on any input: `domain`'s scanner is also run under `catch_unwind`, so
//! a bug in it becomes [`ParseError::Internal`] rather than a crash of the gate.
//!
//! Output goes the other way: [`rdata_to_text`] prints `domain`'s presentation format when
//! that text parses back to the very same bytes, and the RFC 3597 `\# len hex` form otherwise,
//! so `parse(record_to_text(r))` always gives `r` back.
//!
//! [`parse`] lives in `parse.rs`, the text out in `present.rs` (which reads its own output
//! back with the parser to check it).

mod parse;
mod present;
#[cfg(test)]
mod tests;

pub use parse::{ParseError, parse, parse_limited};
pub use present::{rdata_to_text, record_to_text};
