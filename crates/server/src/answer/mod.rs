//! Answering a decoded request: the handler, zone transfers out, DNS UPDATE in, TSIG.

pub(crate) mod any;
pub(crate) mod handler;
pub(crate) mod question;
pub(crate) mod respond;
pub(crate) mod tsig;
pub(crate) mod update;
pub(crate) mod xfr;
