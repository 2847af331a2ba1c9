//! DNS over UDP on a real socket: bursts from several clients at once, so that the server
//! receives and answers them in batches, each answer going back to the client that asked.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use tokio::net::UdpSocket;
use zonegate_core::gate::{Generation, Target};
use zonegate_server::Catalog;
use zonegate_testkit::dns::*;
use zonegate_testkit::*;

const CLIENTS: u16 = 4;
const PER_CLIENT: u16 = 60;

/// Every query of a burst from several sockets is answered once, to the socket that sent it,
/// with its own answer: prepared ones and general ones (ANY) alike.
#[tokio::test]
async fn bursts_from_several_clients_are_each_answered_to_their_sender() {
    let hosts: Vec<_> = (0..200u16)
        .map(|i| {
            let b = i.to_be_bytes();
            a(&format!("h{i}.example."), [10, 1, b[0], b[1]])
        })
        .chain([a("ns1.example.", [192, 0, 2, 53])])
        .collect();
    let catalog = Arc::new(Catalog::new("udp"));
    catalog
        .install(Generation(1), zone("example.", 1, hosts))
        .await
        .unwrap();
    let server = Running::start(catalog).await;

    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    }
    // What each client asked, by ID: the host number, and whether it was an ANY query.
    let mut asked: Vec<BTreeMap<u16, (u16, bool)>> = vec![BTreeMap::new(); CLIENTS as usize];
    // Interleave the clients' sends so that one batch holds datagrams from all of them.
    for k in 0..PER_CLIENT {
        for (c, sock) in clients.iter().enumerate() {
            let id = 1000 * c as u16 + k;
            let host = (id * 7) % 200;
            let any = k % 10 == 9;
            let qtype = if any { RecordType::ANY } else { RecordType::A };
            let mut q = query(id, &format!("h{host}.example."), qtype);
            if k % 3 == 0 {
                q = with_edns(q, 1232, 0);
            }
            sock.send_to(&q.to_vec().unwrap(), server.addr)
                .await
                .unwrap();
            asked[c].insert(id, (host, any));
        }
    }
    for (c, sock) in clients.iter().enumerate() {
        let mut buf = vec![0u8; 65535];
        let mut left = asked[c].clone();
        while !left.is_empty() {
            let (len, from) = tokio::time::timeout(TIMEOUT, sock.recv_from(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("client {c}: no answer to {:?}", left.keys()))
                .unwrap();
            assert_eq!(from, server.addr);
            let r = Message::from_vec(&buf[..len]).unwrap();
            let (host, any) = left.remove(&r.metadata.id).unwrap_or_else(|| {
                panic!(
                    "client {c}: an answer to ID {} it did not ask, or twice",
                    r.metadata.id
                )
            });
            assert_eq!(r.queries[0].name().to_ascii(), format!("h{host}.example."));
            if any {
                // ANY is left to the general path: answered, and to this client.
                assert_ne!(r.metadata.response_code, ResponseCode::ServFail);
                continue;
            }
            assert_eq!(r.metadata.response_code, ResponseCode::NoError);
            let b = host.to_be_bytes();
            match &r.answers[..] {
                [rec] => match &rec.data {
                    RData::A(ip) => assert_eq!(ip.0.octets(), [10, 1, b[0], b[1]]),
                    other => panic!("{other:?}"),
                },
                other => panic!("{other:?}"),
            }
        }
    }
    server.stop().await.unwrap();
}
