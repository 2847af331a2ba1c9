mod common;
use common::*;
use std::time::Instant;
use zonegate_core::lookup::ZoneIndex;
use zonegate_core::protocol::{Generation, Target};
use zonegate_core::RType;
use std::sync::Arc;
use zonegate_server::Catalog;
use hickory_proto::rr::RecordType;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench() {
    let nrec = 500_000u32;
    let mut recs = vec![a("ns1.example.", [1, 2, 3, 4])];
    for i in 0..nrec {
        recs.push(a(&format!("h{i}.d{}.example.", i % 1000), (i).to_be_bytes()));
    }
    let t = Instant::now();
    let z = zone("example.", 1, recs);
    eprintln!("validate {} records: {:?}", z.len(), t.elapsed());
    let t = Instant::now();
    let ix = ZoneIndex::new(z.clone());
    eprintln!("ZoneIndex::new: {:?}", t.elapsed());
    let names: Vec<_> = (0..100_000u32).map(|i| n(&format!("h{}.d{}.example.", i * 5 % nrec, (i * 5 % nrec) % 1000))).collect();
    let t = Instant::now();
    let mut c = 0;
    for q in &names { c += ix.resolve(q, RType::A).answer.len(); }
    eprintln!("100k positive resolves: {:?} ({c})", t.elapsed());
    let nx: Vec<_> = (0..100_000u32).map(|i| n(&format!("x{i}.y.d{}.example.", i % 1000))).collect();
    let t = Instant::now();
    for q in &nx { c += ix.resolve(q, RType::A).authority.len(); }
    eprintln!("100k NXDOMAIN resolves: {:?}", t.elapsed());
    let catalog = Arc::new(Catalog::new("b"));
    let t = Instant::now();
    catalog.install(Generation(1), z).await.unwrap();
    eprintln!("Catalog::install (index + hickory conversion): {:?}", t.elapsed());
    let server = Running::start(catalog).await;
    let t = Instant::now();
    let mut handles = vec![];
    for k in 0..4u32 {
        let addr = server.addr;
        handles.push(tokio::spawn(async move {
            let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let mut buf = vec![0u8; 4096];
            for i in 0..5000u32 {
                let j = (i * 7 + k) % nrec;
                let q = query(i as u16, &format!("h{j}.d{}.example.", j % 1000), RecordType::A).to_vec().unwrap();
                sock.send_to(&q, addr).await.unwrap();
                sock.recv_from(&mut buf).await.unwrap();
            }
        }));
    }
    for h in handles { h.await.unwrap(); }
    eprintln!("20k UDP queries (4 clients in lockstep): {:?}", t.elapsed());
    server.stop().await.unwrap();
}
