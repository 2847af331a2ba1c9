//! The server's own test helper: a server on an ephemeral loopback port. The builders and the
//! DNS client every test uses are `zonegate-testkit`'s.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use zonegate_server::{Catalog, Listeners, ServerError, serve_on};
use zonegate_testkit::dns::TIMEOUT;

/// A server answering from a catalog on an ephemeral loopback port.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl Running {
    pub async fn start(catalog: Arc<Catalog>) -> Running {
        Running::start_on(catalog, "127.0.0.1:0".parse().unwrap()).await
    }

    /// [`Running::start`] on `addr` (port 0 for an ephemeral one).
    pub async fn start_on(catalog: Arc<Catalog>, addr: SocketAddr) -> Running {
        let listeners = Listeners::bind(&[addr]).await.unwrap();
        let addr = listeners.local_addrs()[0];
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_on(listeners, catalog, async move {
            let _ = rx.await;
        }));
        Running {
            addr,
            stop: Some(tx),
            task,
        }
    }

    /// Asks for a graceful shutdown and waits for it.
    pub async fn stop(mut self) -> Result<(), ServerError> {
        let _ = self.stop.take().expect("not stopped yet").send(());
        tokio::time::timeout(TIMEOUT, self.task)
            .await
            .expect("shutdown in time")
            .expect("server task")
    }
}
