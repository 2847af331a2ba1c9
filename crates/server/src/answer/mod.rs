//! Answering a decoded request: the handler, zone transfers out, TSIG.

pub(crate) mod any;
pub(crate) mod handler;
pub(crate) mod question;
pub(crate) mod respond;
pub(crate) mod tsig;
pub(crate) mod xfr;
