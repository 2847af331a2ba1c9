//! RFC 1035 master files: text in and text out.

mod parse;

pub use parse::{ParseError, canonical_rdata, parse, rdata_to_text, record_to_text};
