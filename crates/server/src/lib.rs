//! Authoritative DNS over UDP and TCP, answering from the generations a [`Catalog`] holds,
//! with zone transfer out (AXFR, IXFR) and NOTIFY to secondaries.
//!
//! This is the only crate that knows hickory. hickory-server runs the UDP loop, decodes
//! messages and truncates UDP responses; TCP runs on our own loop (`tcp.rs`) so that a zone
//! transfer can stream any number of messages. The answers come from
//! [`zonegate_core::lookup::ZoneIndex`], our own RFC 1034 §4.3.2 lookup, because hickory's
//! in-memory zone handler gets referrals, wildcard NODATA and DNAME wrong. What to transfer is
//! decided by [`zonegate_core::xfr`], and the SOA serial by [`zonegate_core::serial`].
//!
//! - [`Catalog`]: the served zone set, a [`zonegate_core::protocol::Target`]. Installing a
//!   generation swaps one pointer; a query or a transfer sees the old zone or the new one,
//!   never a mix. Installing also extends the zone's IXFR history and sends NOTIFY.
//! - [`Handler`]: the hickory request handler over a catalog.
//! - [`ServerOptions`] / [`ZoneOptions`]: serial policy, transfer ACL and NOTIFY targets.
//! - [`serve`] / [`Listeners`]: bind and run until shut down.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;

mod catalog;
mod handler;
mod notify;
mod options;
mod tcp;
mod xfr;

pub use catalog::{Catalog, ServedZone};
pub use handler::{Handler, UDP_PAYLOAD_MAX};
pub use options::{AddressMatch, AddressMatchError, ServerOptions, ZoneOptions};
pub use tcp::{TCP_CONNECTIONS_MAX, TCP_WRITE_TIMEOUT};
pub use xfr::XFR_MESSAGE_BYTES_MAX;
pub use zonegate_core::serial::SerialPolicy;

/// How long a TCP connection may stay idle between queries before the server closes it.
pub const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A listen address could not be bound.
    #[error("cannot listen on {addr} ({transport}): {source}")]
    Bind {
        addr: SocketAddr,
        /// `"udp"` or `"tcp"`.
        transport: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// No listen address was given.
    #[error("no listen address given")]
    NoListenAddress,
    /// A listener stopped on its own before shutdown was asked for.
    #[error("the DNS server stopped unexpectedly: {detail}")]
    Stopped { detail: String },
}

/// Bound UDP sockets and TCP listeners, one of each per listen address.
#[derive(Debug)]
pub struct Listeners {
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
}

impl Listeners {
    /// Binds UDP and TCP on every address. With port 0, the TCP listener takes the port the
    /// system gave the UDP socket, so each address serves both on one port.
    pub async fn bind(addrs: &[SocketAddr]) -> Result<Self, ServerError> {
        if addrs.is_empty() {
            return Err(ServerError::NoListenAddress);
        }
        let mut udp = Vec::with_capacity(addrs.len());
        let mut tcp = Vec::with_capacity(addrs.len());
        for &addr in addrs {
            let (u, t) = if addr.port() == 0 {
                bind_ephemeral(addr).await?
            } else {
                bind_pair(addr).await?
            };
            udp.push(u);
            tcp.push(t);
        }
        Ok(Listeners { udp, tcp })
    }

    /// The bound addresses, in the order given to [`Listeners::bind`]; UDP and TCP share them.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.udp
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .collect()
    }
}

async fn bind_pair(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), ServerError> {
    let udp = UdpSocket::bind(addr)
        .await
        .map_err(|source| ServerError::Bind {
            addr,
            transport: "udp",
            source,
        })?;
    let tcp = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind {
            addr,
            transport: "tcp",
            source,
        })?;
    Ok((udp, tcp))
}

/// Port 0: let the system pick a UDP port, then take the same port for TCP, retrying a few
/// times if another process holds it for TCP.
async fn bind_ephemeral(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), ServerError> {
    let mut last = None;
    for _ in 0..16 {
        let udp = UdpSocket::bind(addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr,
                transport: "udp",
                source,
            })?;
        let port = udp
            .local_addr()
            .map_err(|source| ServerError::Bind {
                addr,
                transport: "udp",
                source,
            })?
            .port();
        let tcp_addr = SocketAddr::new(addr.ip(), port);
        match TcpListener::bind(tcp_addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(source) => {
                last = Some(ServerError::Bind {
                    addr: tcp_addr,
                    transport: "tcp",
                    source,
                })
            }
        }
    }
    Err(last.expect("at least one attempt"))
}

/// Binds UDP and TCP on every address in `listen` and answers from `catalog` until `shutdown`
/// completes, then stops accepting and waits for the listeners to finish.
pub async fn serve(
    listen: &[SocketAddr],
    catalog: Arc<Catalog>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let listeners = Listeners::bind(listen).await?;
    serve_on(listeners, catalog, shutdown).await
}

/// [`serve`] on sockets already bound, e.g. on port 0 to learn the port first.
pub async fn serve_on(
    listeners: Listeners,
    catalog: Arc<Catalog>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let addrs = listeners.local_addrs();
    let handler = Handler::new(catalog);
    let mut server = hickory_server::Server::new(handler.clone());
    for socket in listeners.udp {
        server.register_socket(socket);
    }
    let (stop_tcp, stopped) = watch::channel(false);
    let mut tcp_loops = JoinSet::new();
    for listener in listeners.tcp {
        tcp_loops.spawn(tcp::run(
            listener,
            handler.clone(),
            TCP_IDLE_TIMEOUT,
            stopped.clone(),
        ));
    }
    tracing::info!(?addrs, "answering DNS queries over UDP and TCP");
    tokio::select! {
        result = server.block_until_done() => {
            let detail = match result {
                Ok(()) => "all listeners closed".to_string(),
                Err(e) => e.to_string(),
            };
            return Err(ServerError::Stopped { detail });
        }
        Some(result) = tcp_loops.join_next() => {
            let detail = match result {
                Ok(()) => "a TCP listener closed".to_string(),
                Err(e) => format!("a TCP listener failed: {e}"),
            };
            return Err(ServerError::Stopped { detail });
        }
        () = shutdown => {}
    }
    let _ = stop_tcp.send(true);
    while tcp_loops.join_next().await.is_some() {}
    server
        .shutdown_gracefully()
        .await
        .map_err(|e| ServerError::Stopped {
            detail: e.to_string(),
        })?;
    tracing::info!(?addrs, "DNS server stopped");
    Ok(())
}
