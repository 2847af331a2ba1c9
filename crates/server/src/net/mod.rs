//! The sockets: the UDP and TCP loops that receive queries and send answers, and NOTIFY out.

pub(crate) mod notify;
pub(crate) mod rrl;
pub(crate) mod tcp;
pub(crate) mod tcp_limits;
pub(crate) mod udp;
