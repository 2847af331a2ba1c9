//! Who may hold a TCP connection, and for how long it may idle.
//!
//! # Design
//!
//! One global limit alone lets one client starve every other: it opens as many connections as
//! the limit allows and keeps each alive with a query now and then. So each client (one IPv4
//! address, one IPv6 /64) may hold at most `connections_per_client_max` connections; one over
//! that is closed as soon as it is accepted, before it takes a slot. And once three quarters
//! of `connections_max` are open, the idle timeout drops from `idle_timeout` to
//! `idle_timeout_busy`, so that connections that only idle are reclaimed for new clients;
//! every connection waiting for a query is woken to apply the shorter timeout at once. The
//! global limit itself stays the listener loop's semaphore (connections beyond it wait in the
//! listen backlog, as with NSD's default).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::options::{TcpOptions, prefix_of};

/// The per-client counts and the busy state of one listener's connections.
#[derive(Debug)]
pub(crate) struct TcpLimits {
    options: TcpOptions,
    state: Mutex<State>,
    busy: watch::Sender<bool>,
}

#[derive(Debug, Default)]
struct State {
    open: usize,
    per_client: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it gives its slot back.
#[derive(Debug)]
pub(crate) struct Slot {
    limits: Arc<TcpLimits>,
    client: IpAddr,
}

impl TcpLimits {
    pub(crate) fn new(options: TcpOptions) -> Arc<TcpLimits> {
        Arc::new(TcpLimits {
            options,
            state: Mutex::new(State::default()),
            busy: watch::Sender::new(false),
        })
    }

    pub(crate) fn connections_max(&self) -> usize {
        self.options.connections_max.max(1)
    }

    /// A slot for a connection from `peer`, or `None` if that client already holds its most.
    pub(crate) fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<Slot> {
        let client = prefix_of(peer, 32, 64);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let held = state.per_client.entry(client).or_insert(0);
        if *held >= self.options.connections_per_client_max.max(1) {
            return None;
        }
        *held += 1;
        state.open += 1;
        self.update_busy(state.open);
        Some(Slot {
            limits: self.clone(),
            client,
        })
    }

    fn release(&self, client: IpAddr) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = state.per_client.get_mut(&client) {
            *held -= 1;
            if *held == 0 {
                state.per_client.remove(&client);
            }
        }
        state.open = state.open.saturating_sub(1);
        self.update_busy(state.open);
    }

    /// Busy from three quarters of the limit on.
    fn update_busy(&self, open: usize) {
        let busy = open * 4 >= self.connections_max() * 3;
        self.busy
            .send_if_modified(|b| std::mem::replace(b, busy) != busy);
    }

    /// How long a connection may idle now.
    pub(crate) fn idle_timeout(&self) -> Duration {
        if *self.busy.borrow() {
            self.options.idle_timeout_busy
        } else {
            self.options.idle_timeout
        }
    }

    /// Changes when the listener turns busy or calm.
    pub(crate) fn watch_busy(&self) -> watch::Receiver<bool> {
        self.busy.subscribe()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.limits.release(self.client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize, per_client: usize) -> Arc<TcpLimits> {
        TcpLimits::new(TcpOptions {
            connections_max: max,
            connections_per_client_max: per_client,
            ..TcpOptions::default()
        })
    }

    #[test]
    fn one_client_holds_at_most_its_share() {
        let l = limits(100, 3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let slots: Vec<Slot> = (0..3).map(|_| l.admit(a).unwrap()).collect();
        assert!(l.admit(a).is_none());
        // Another address is another client; another address in the same IPv6 /64 is not.
        assert!(l.admit("192.0.2.2".parse().unwrap()).is_some());
        let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
        let _six: Vec<Slot> = (0..3)
            .map(|i| l.admit(v6(&format!("2001:db8::{i}"))).unwrap())
            .collect();
        assert!(l.admit(v6("2001:db8::ffff")).is_none());
        assert!(l.admit(v6("2001:db8:0:1::1")).is_some());
        drop(slots);
        assert!(l.admit(a).is_some());
    }

    #[test]
    fn idle_timeout_shortens_from_three_quarters_full() {
        let l = limits(8, 8);
        let mut watch = l.watch_busy();
        let c: IpAddr = "198.51.100.1".parse().unwrap();
        let mut slots: Vec<Slot> = (0..5).map(|_| l.admit(c).unwrap()).collect();
        assert_eq!(l.idle_timeout(), Duration::from_secs(10));
        slots.push(l.admit(c).unwrap());
        assert_eq!(l.idle_timeout(), Duration::from_secs(1));
        assert!(watch.has_changed().unwrap());
        watch.mark_unchanged();
        slots.pop();
        assert_eq!(l.idle_timeout(), Duration::from_secs(10));
        assert!(watch.has_changed().unwrap());
    }
}
