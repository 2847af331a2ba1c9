//! An in-memory [`Target`]: the loom suite's model of a running server's zone set.
//!
//! # Design
//!
//! It mirrors `zonegate_server::Catalog`, the target the binary runs: the served zones sit
//! behind one lock, and [`Target::install`] is ONE critical section that compares and swaps
//! (refusing to go back to a generation at or below the one held) exactly as the catalog's
//! `swap_in` does under its install lock. Like the catalog, it holds the validated [`Zone`]
//! itself, not a reference to the stored plan: deleting a plan from the store can never empty
//! what a target serves. That is the difference from the naive design in [`crate::model::naive`],
//! whose endpoints point at stored plans.
//!
//! It serves the SOA serial the catalog does: the zone's own, which `gate::converge` set to the
//! serial stored with the generation at publish, made greater than the serial it replaces with
//! [`next_serial`] when it is not (a store replaced under a target), so the served serial never
//! goes back (the `Target` contract checks both).
//!
//! Besides the served zones it keeps the history of every install, in order, so the loom suite
//! can check that a target's generation never went back (I1) without having to observe every
//! intermediate state itself. The history is written in the same critical section as the swap.

use std::collections::BTreeMap;

use crate::dns::name::Name;
use crate::gate::{Generation, Target};
use crate::model::sync::Mutex;
use crate::zone::Zone;
use crate::zone::serial::{next_serial, with_serial};

/// The in-memory target. Share it by reference (or in an `Arc`).
pub struct MemTarget {
    id: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    served: BTreeMap<Name, (Generation, Zone)>,
    /// Every successful install as (zone, generation), oldest first.
    installs: Vec<(Name, Generation)>,
}

impl MemTarget {
    /// A target that holds nothing yet, recorded in the store as `id`.
    pub fn new(id: &str) -> Self {
        MemTarget {
            id: id.to_string(),
            state: Mutex::new(State::default()),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        // As in `MemStore`: a panic inside the critical section is a broken invariant, and
        // poisoning makes every later use fail loudly.
        let mut state = self
            .state
            .lock()
            .expect("MemTarget poisoned by an earlier panic");
        f(&mut state)
    }

    /// What the target serves for `zone`: the generation and its content.
    pub fn content(&self, zone: &Name) -> Option<(Generation, Zone)> {
        self.with(|s| s.served.get(zone).cloned())
    }

    /// Every successful install as (zone, generation), oldest first.
    pub fn installs(&self) -> Vec<(Name, Generation)> {
        self.with(|s| s.installs.clone())
    }
}

impl Target for MemTarget {
    fn id(&self) -> &str {
        &self.id
    }

    fn held(&self, zone: &Name) -> Option<Generation> {
        self.with(|s| s.served.get(zone).map(|(g, _)| *g))
    }

    async fn install(&self, generation: Generation, zone: Zone) -> Result<(), Generation> {
        self.with(|s| {
            let origin = zone.origin().clone();
            if let Some((held, _)) = s.served.get(&origin).filter(|(h, _)| *h >= generation) {
                return Err(*held);
            }
            let previous = s.served.get(&origin).map(|(_, z)| z.soa().serial);
            let serial = next_serial(previous, zone.soa().serial);
            let zone = with_serial(zone, serial);
            s.installs.push((origin.clone(), generation));
            s.served.insert(origin, (generation, zone));
            Ok(())
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::zone::limits::Limits;

    fn zone(serial: u32) -> Zone {
        let text = format!(
            "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1 hostmaster {serial} 3600 600 604800 60\n\
             @ NS ns1\nns1 A 192.0.2.1\n"
        );
        let parsed = crate::zonefile::parse(&text, None, "test").expect("parses");
        crate::zone::validate::validate(parsed, &Limits::default()).expect("valid")
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        // Every future here completes on its first poll.
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("MemTarget futures never wait"),
        }
    }

    #[test]
    fn install_never_goes_back() {
        let t = MemTarget::new("t");
        let origin = Name::parse("example.com.").unwrap();
        assert_eq!(block_on(t.install(Generation(2), zone(2))), Ok(()));
        assert_eq!(
            block_on(t.install(Generation(1), zone(1))),
            Err(Generation(2))
        );
        assert_eq!(
            block_on(t.install(Generation(2), zone(2))),
            Err(Generation(2))
        );
        assert_eq!(
            block_on(t.install(Generation(3), zone(2_024_010_101))),
            Ok(())
        );
        assert_eq!(t.held(&origin), Some(Generation(3)));
        // The zone's own serial (what the store decided at publish) is served.
        assert_eq!(t.content(&origin).unwrap().1.soa().serial, 2_024_010_101);
        // One that would go back is raised above the served one instead.
        assert_eq!(block_on(t.install(Generation(4), zone(7))), Ok(()));
        assert_eq!(t.content(&origin).unwrap().1.soa().serial, 2_024_010_102);
        assert_eq!(
            t.installs(),
            vec![
                (origin.clone(), Generation(2)),
                (origin.clone(), Generation(3)),
                (origin, Generation(4))
            ]
        );
    }
}
