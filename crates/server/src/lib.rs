//! Authoritative DNS over UDP and TCP, answering from the generations a [`Catalog`] holds,
//! with zone transfer out (AXFR, IXFR) and NOTIFY to secondaries.
//!
//! This is the only crate that knows hickory. UDP runs on our own loops (`net/udp.rs`), one
//! socket and thread per CPU, answering most queries by copying bytes prepared when the
//! generation was installed (`zone/served/prepared.rs`); hickory decodes and encodes
//! everything else (`answer/`, over the encoder in `wire.rs`). TCP runs on our own loop
//! (`net/tcp.rs`) so that a zone transfer can stream any number of messages. The answers come from
//! [`zonegate_core::lookup::ZoneIndex`], our own RFC 1034 §4.3.2 lookup, because hickory's
//! in-memory zone handler gets referrals, wildcard NODATA and DNAME wrong. What to transfer is
//! decided by [`zonegate_core::xfr`], and the SOA serial by [`zonegate_core::zone::serial`].
//!
//! - [`Catalog`]: the served zone set, a [`zonegate_core::gate::Target`]. Installing a
//!   generation swaps one pointer; a query or a transfer sees the old zone or the new one,
//!   never a mix. Installing also extends the zone's IXFR history; once the zone set
//!   (`zone/set.rs`) has swapped a generation in, the catalog sends NOTIFY.
//! - [`Handler`]: the hickory request handler over a catalog.
//! - [`ServerOptions`] / [`ZoneOptions`]: serial policy, transfer ACL and NOTIFY targets.
//! - [`ServerStats`]: what the server counts for `/metrics` (`stats.rs`).
//! - [`serve`] / [`Listeners`]: bind and run until shut down.
//! - [`probe`]: the bounded DNS client `zonegate watch` asks servers with.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::net::tcp_limits::TcpLimits;

mod answer;
mod catalog;
mod catalog_zone;
mod convert;
#[cfg(test)]
mod fast_tests;
#[cfg(test)]
mod incremental_tests;
// Also in the unit tests, whose prepared-versus-general checks share its `Capture`.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
mod net;
mod options;
pub mod probe;
mod sink;
mod stats;
mod wire;
mod zone;

pub use answer::handler::Handler;
pub use answer::tsig::TSIG_FUDGE_SECS;
pub use answer::xfr::XFR_MESSAGE_BYTES_MAX;
pub use catalog::Catalog;
pub use catalog_zone::{CatalogZoneError, catalog_zone, member_id};
pub use net::rrl::RrlCounters;
pub use net::tcp::{TCP_CONNECTIONS_MAX, TCP_WRITE_TIMEOUT};
pub use options::{
    AddressMatch, AddressMatchError, RrlOptions, ServerOptions, TSIG_SECRET_MIN, TcpOptions,
    TsigAlgorithm, TsigKey, TsigKeyError, ZoneOptions,
};
pub use sink::{UpdateCall, UpdateFuture, UpdateResult, UpdateSink};
pub use stats::{
    INSTALL_BUCKETS, InstallTimes, NotifyOutcome, Proto, ServerStats, StatsSnapshot, TransferKind,
    TransferOutcome, rcode_name,
};
pub use wire::UDP_PAYLOAD_MAX;
pub use zone::background::{BACKGROUND_NICE, lower_thread_priority};
pub use zone::history::HistorySeed;
pub use zone::served::ServedZone;

/// How long a TCP connection may stay idle between queries before the server closes it, by
/// default (`TcpOptions::idle_timeout`).
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

/// Bound UDP sockets and TCP listeners: per listen address, one TCP listener and one UDP
/// socket per CPU ([`udp_sockets_per_address`]), all on the same port.
#[derive(Debug)]
pub struct Listeners {
    udp: Vec<Vec<std::net::UdpSocket>>,
    tcp: Vec<TcpListener>,
}

/// How many UDP sockets (and receive threads) each listen address gets: one per CPU this
/// process may run on.
pub fn udp_sockets_per_address() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Listeners {
    /// Binds UDP and TCP on every address. With port 0, the TCP listener takes the port the
    /// system gave the UDP socket, so each address serves both on one port.
    ///
    /// The UDP sockets of one address share it with `SO_REUSEPORT`; the TCP listener does
    /// not, so a second server on the same address fails to start instead of splitting the
    /// traffic.
    pub async fn bind(addrs: &[SocketAddr]) -> Result<Self, ServerError> {
        if addrs.is_empty() {
            return Err(ServerError::NoListenAddress);
        }
        let count = udp_sockets_per_address();
        let mut udp = Vec::with_capacity(addrs.len());
        let mut tcp = Vec::with_capacity(addrs.len());
        for &addr in addrs {
            let (u, t) = if addr.port() == 0 {
                bind_ephemeral(addr, count).await?
            } else {
                bind_pair(addr, count).await?
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
            .filter_map(|s| s.first()?.local_addr().ok())
            .collect()
    }
}

fn udp_error(addr: SocketAddr) -> impl FnOnce(std::io::Error) -> ServerError {
    move |source| ServerError::Bind {
        addr,
        transport: "udp",
        source,
    }
}

/// One UDP socket on `addr` that others may share with `SO_REUSEPORT`.
fn bind_udp(addr: SocketAddr) -> Result<std::net::UdpSocket, ServerError> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(udp_error(addr))?;
    socket.set_reuse_port(true).map_err(udp_error(addr))?;
    // Room for bursts; the kernel caps it at net.core.rmem_max.
    let _ = socket.set_recv_buffer_size(4 << 20);
    never_fragment(&socket, addr);
    socket.bind(&addr.into()).map_err(udp_error(addr))?;
    Ok(socket.into())
}

/// Sends every answer on `socket` unfragmented (IPv4's don't-fragment bit, no IPv6 fragment
/// header), as RFC 9715 advises DNS responders: an answer is at most [`UDP_PAYLOAD_MAX`]
/// (1232) octets, which with its headers fits the 1280-octet IPv6 minimum MTU, and a path too
/// narrow for it ends in a timeout and a retry over TCP rather than in fragments. Linux's
/// `PROBE` mode also ignores the path MTU the kernel learned from ICMP, so that forged ICMP
/// cannot make the server refuse to send. Without a don't-fragment bit the kernel also
/// computes an IP identification for every datagram of an unconnected socket; with one it
/// does not. Best effort: a socket that refuses it still answers.
#[cfg(target_os = "linux")]
fn never_fragment(socket: &socket2::Socket, addr: SocketAddr) {
    use rustix::net::sockopt::{
        Ipv4PathMtuDiscovery, Ipv6PathMtuDiscovery, set_ip_mtu_discover, set_ipv6_mtu_discover,
    };
    let set = match addr {
        SocketAddr::V4(_) => set_ip_mtu_discover(socket, Ipv4PathMtuDiscovery::PROBE),
        SocketAddr::V6(_) => set_ipv6_mtu_discover(socket, Ipv6PathMtuDiscovery::PROBE),
    };
    if let Err(error) = set {
        tracing::debug!(%addr, %error, "cannot turn IP fragmentation off for UDP answers");
    }
}

#[cfg(not(target_os = "linux"))]
fn never_fragment(_socket: &socket2::Socket, _addr: SocketAddr) {}

/// `count` UDP sockets on `addr`, whose port is not 0.
fn bind_udp_group(addr: SocketAddr, count: usize) -> Result<Vec<std::net::UdpSocket>, ServerError> {
    (0..count).map(|_| bind_udp(addr)).collect()
}

async fn bind_pair(
    addr: SocketAddr,
    count: usize,
) -> Result<(Vec<std::net::UdpSocket>, TcpListener), ServerError> {
    let udp = bind_udp_group(addr, count.max(1))?;
    let tcp = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind {
            addr,
            transport: "tcp",
            source,
        })?;
    Ok((udp, tcp))
}

/// Port 0: let the system pick a UDP port, then take the same port for TCP and the other UDP
/// sockets, retrying a few times if another process holds it for TCP.
async fn bind_ephemeral(
    addr: SocketAddr,
    count: usize,
) -> Result<(Vec<std::net::UdpSocket>, TcpListener), ServerError> {
    let mut last = None;
    for _ in 0..16 {
        let first = bind_udp(addr)?;
        let port = first.local_addr().map_err(udp_error(addr))?.port();
        let bound = SocketAddr::new(addr.ip(), port);
        match TcpListener::bind(bound).await {
            Ok(tcp) => {
                let mut udp = vec![first];
                udp.extend(bind_udp_group(bound, count.saturating_sub(1))?);
                return Ok((udp, tcp));
            }
            Err(source) => {
                last = Some(ServerError::Bind {
                    addr: bound,
                    transport: "tcp",
                    source,
                })
            }
        }
    }
    Err(last.expect("at least one attempt"))
}

/// Stops the UDP loops on `sockets` when dropped.
struct StopUdp {
    sockets: Vec<Arc<std::net::UdpSocket>>,
    stop: Arc<AtomicBool>,
}

impl Drop for StopUdp {
    fn drop(&mut self) {
        net::udp::stop_all(&self.sockets, &self.stop);
    }
}

/// Raises this process's soft limit of open files to its hard limit, as BIND and NSD do at
/// start, so that the TCP connection limits are the ones that hold (each connection is a
/// file). Returns the limit now in force, if it could be read.
#[cfg(target_os = "linux")]
pub fn raise_open_files_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_some() && limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => return limit.maximum,
            Err(error) => tracing::debug!(%error, "cannot raise the open-files limit"),
        }
    }
    limit.current.or(limit.maximum)
}

/// Raises this process's soft limit of open files (nothing to do here off Linux).
#[cfg(not(target_os = "linux"))]
pub fn raise_open_files_limit() -> Option<u64> {
    None
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
    let open_files = raise_open_files_limit();
    let handler = Handler::new(catalog);
    let stop_udp = Arc::new(AtomicBool::new(false));
    let mut udp_loops = JoinSet::new();
    let rt = tokio::runtime::Handle::current();
    let udp_sockets: Vec<Arc<std::net::UdpSocket>> =
        listeners.udp.into_iter().flatten().map(Arc::new).collect();
    // The UDP loops are threads the runtime waits for when it shuts down: stop them if this
    // future is dropped before it completes, too.
    let _stop_udp_on_drop = StopUdp {
        sockets: udp_sockets.clone(),
        stop: stop_udp.clone(),
    };
    for socket in udp_sockets.iter().cloned() {
        let (handler, rt, stop) = (handler.clone(), rt.clone(), stop_udp.clone());
        udp_loops.spawn_blocking(move || net::udp::run(socket, handler, rt, stop));
    }
    let (stop_tcp, stopped) = watch::channel(false);
    let mut tcp_loops = JoinSet::new();
    let tcp_options = handler.catalog().options().tcp.clone();
    for listener in listeners.tcp {
        tcp_loops.spawn(net::tcp::run(
            listener,
            handler.clone(),
            TcpLimits::new(tcp_options.clone()),
            stopped.clone(),
        ));
    }
    tracing::info!(
        ?addrs,
        ?open_files,
        "answering DNS queries over UDP and TCP"
    );
    let outcome = tokio::select! {
        Some(result) = udp_loops.join_next() => {
            let detail = match result {
                Ok(Ok(())) => "a UDP listener closed".to_string(),
                Ok(Err(e)) => format!("a UDP listener failed: {e}"),
                Err(e) => format!("a UDP listener failed: {e}"),
            };
            Err(ServerError::Stopped { detail })
        }
        Some(result) = tcp_loops.join_next() => {
            let detail = match result {
                Ok(()) => "a TCP listener closed".to_string(),
                Err(e) => format!("a TCP listener failed: {e}"),
            };
            Err(ServerError::Stopped { detail })
        }
        () = shutdown => Ok(()),
    };
    net::udp::stop_all(&udp_sockets, &stop_udp);
    let _ = stop_tcp.send(true);
    while tcp_loops.join_next().await.is_some() {}
    while udp_loops.join_next().await.is_some() {}
    if outcome.is_ok() {
        tracing::info!(?addrs, "DNS server stopped");
    }
    outcome
}

#[cfg(all(test, target_os = "linux"))]
mod socket_tests {
    use rustix::net::sockopt::{
        Ipv4PathMtuDiscovery, Ipv6PathMtuDiscovery, ip_mtu_discover, ipv6_mtu_discover,
    };

    /// The server's UDP sockets never fragment an answer, on IPv4 and IPv6.
    #[test]
    fn udp_sockets_never_fragment() {
        let v4 = super::bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
        assert_eq!(ip_mtu_discover(&v4).unwrap(), Ipv4PathMtuDiscovery::PROBE);
        // A kernel without IPv6 cannot bind ::1; there is nothing to check there.
        if let Ok(v6) = super::bind_udp("[::1]:0".parse().unwrap()) {
            assert_eq!(ipv6_mtu_discover(&v6).unwrap(), Ipv6PathMtuDiscovery::PROBE);
        }
    }
}
