//! TCP under one greedy client: it holds 2,000 connections with keep-alive queries, and
//! another client still gets its answers over TCP within 1 s; idle connections are reclaimed
//! once the listener is busy. Before the per-client cap, the greedy client took all 256 slots
//! and the other waited in the listen backlog until it gave up.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use zonegate_core::gate::{Generation, Target};
use zonegate_server::{Catalog, ServerOptions, TcpOptions};
use zonegate_testkit::dns::*;
use zonegate_testkit::*;

const GREEDY: usize = 2000;

async fn server(options: ServerOptions) -> Running {
    let catalog = Arc::new(Catalog::with_options("tcp-fairness", options));
    let extra = vec![
        a("ns1.example.", [192, 0, 2, 53]),
        a("www.example.", [192, 0, 2, 1]),
    ];
    catalog
        .install(Generation(1), zone("example.", 1, extra))
        .await
        .unwrap();
    Running::start(catalog).await
}

/// A connection from `source` to `to`.
async fn connect_from(source: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{source}:0").parse().unwrap())?;
    socket.connect(to).await
}

/// True if the server closes `stream` within `limit` (reads the end of the stream), false if
/// it is still open then.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 512];
    matches!(
        tokio::time::timeout(limit, stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// One answer read from `stream` within `limit`, if one comes.
async fn answer_within(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let read = async {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.ok()?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut body).await.ok()?;
        Some(body)
    };
    tokio::time::timeout(limit, read).await.ok().flatten()
}

/// One greedy connection: a query every 200 ms for as long as the server answers and `stop`
/// is not set. Counts itself in `alive` while it is answered.
async fn greedy(to: SocketAddr, stop: Arc<AtomicBool>, alive: Arc<AtomicUsize>) {
    let Ok(Ok(mut stream)) =
        tokio::time::timeout(Duration::from_secs(3), connect_from("127.0.0.1", to)).await
    else {
        return;
    };
    let bytes = framed(&query(1, "www.example.", RecordType::A));
    let mut counted = false;
    while !stop.load(Ordering::Relaxed) {
        if stream.write_all(&bytes).await.is_err() {
            break;
        }
        if answer_within(&mut stream, Duration::from_secs(2))
            .await
            .is_none()
        {
            break;
        }
        if !counted {
            counted = true;
            alive.fetch_add(1, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if counted {
        alive.fetch_sub(1, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_holding_2000_connections_does_not_starve_another() {
    let files = zonegate_server::raise_open_files_limit().expect("the open-files limit");
    assert!(files >= 2 * GREEDY as u64 + 200, "open-files limit {files}");
    let server = server(ServerOptions::default()).await;
    let stop = Arc::new(AtomicBool::new(false));
    let alive = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..GREEDY)
        .map(|_| tokio::spawn(greedy(server.addr, stop.clone(), alive.clone())))
        .collect();
    // Let the greedy client take what it can.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut slowest = Duration::ZERO;
    for i in 0..10u16 {
        let started = Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(1), async {
            let mut stream = connect_from("127.0.0.2", server.addr).await.unwrap();
            tcp_on(&mut stream, &query(100 + i, "www.example.", RecordType::A)).await
        })
        .await
        .unwrap_or_else(|_| panic!("query {i} of the other client not answered within 1 s"));
        assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
        assert_eq!(answer.metadata.id, 100 + i);
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let held = alive.load(Ordering::Relaxed);
    println!(
        "the greedy client holds {held} answered connections; the other's slowest answer took {slowest:?}"
    );
    assert!(held >= 1, "the greedy client is still served");
    assert!(
        held <= TcpOptions::default().connections_per_client_max,
        "{held} connections held by one client"
    );
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    server.stop().await.unwrap();
}

/// Once three quarters of the connections are open, idle ones are closed after the short idle
/// timeout, not the long one, until fewer are open.
#[tokio::test]
async fn idle_connections_are_reclaimed_when_the_listener_is_busy() {
    let server = server(ServerOptions {
        tcp: TcpOptions {
            connections_max: 8,
            connections_per_client_max: 8,
            idle_timeout: Duration::from_secs(30),
            idle_timeout_busy: Duration::from_millis(300),
        },
        ..ServerOptions::default()
    })
    .await;
    // Five idle connections: below three quarters, they stay open.
    let mut idle = Vec::new();
    for _ in 0..5 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        let m: Message = tcp_on(&mut s, &query(1, "www.example.", RecordType::A)).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        idle.push(s);
    }
    assert!(!closed_within(&mut idle[0], Duration::from_millis(800)).await);
    // The sixth makes the listener busy: idle connections are closed after the short timeout
    // until it is calm again (below three quarters).
    let _sixth = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    let mut closed = 0;
    while closed == 0 && started.elapsed() < Duration::from_secs(2) {
        for s in &mut idle {
            if closed_within(s, Duration::from_millis(50)).await {
                closed += 1;
            }
        }
    }
    let took = started.elapsed();
    assert!(closed >= 1, "no idle connection reclaimed in {took:?}");
    assert!(
        took < Duration::from_millis(1500),
        "reclaimed after {took:?}"
    );
    server.stop().await.unwrap();
}
