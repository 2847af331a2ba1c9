//! The `Target` contract: what every target must do, whatever it is, so that the loom suite's
//! proofs about `MemTarget` hold for the server's `Catalog` too. Like the store's contract
//! (`crates/store/tests/contract.rs`), each check is generic and is run against both, from a
//! core integration test (`MemTarget`) and a server one (`Catalog`).
//!
//! A check takes a factory that makes a fresh, empty target. Installs run on their own
//! threads, each on its own current-thread tokio runtime (the catalog builds zones on tokio's
//! blocking pool), so concurrent installs really overlap.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use zonegate_core::gate::{Generation, Target};
use zonegate_core::model::MemTarget;
use zonegate_core::zone::serial::serial_gt;
use zonegate_core::{Name, Zone};

use crate::{a, n, txt, zone};

/// What the contract observes of a target beyond the `Target` trait.
pub trait Observed: Target + Sync {
    /// The SOA serial the target serves for `zone` now.
    fn served_serial(&self, zone: &Name) -> Option<u32>;

    /// The serials of the versions the target's IXFR history runs through for `zone`, oldest
    /// first, ending with the served one. A target without a history reports the served one.
    fn history_serials(&self, zone: &Name) -> Vec<u32>;
}

impl Observed for MemTarget {
    fn served_serial(&self, zone: &Name) -> Option<u32> {
        self.content(zone).map(|(_, z)| z.soa().serial)
    }

    /// `MemTarget` keeps no IXFR history: only what it serves.
    fn history_serials(&self, zone: &Name) -> Vec<u32> {
        self.served_serial(zone).into_iter().collect()
    }
}

/// The zone every check installs.
pub const ORIGIN: &str = "contract.example.";

/// The contract zone with file serial `serial`, its name server's glue, content that names
/// `generation`, and enough records that a history bounded by the zone's size keeps several steps.
pub fn content(generation: u64, serial: u32) -> Zone {
    let mut extra = vec![
        a(&format!("ns1.{ORIGIN}"), [192, 0, 2, 53]),
        txt(&format!("gen.{ORIGIN}"), &generation.to_string()),
    ];
    extra.extend((0..32u8).map(|i| a(&format!("h{i}.{ORIGIN}"), [192, 0, 2, i])));
    zone(ORIGIN, serial, extra)
}

/// Runs `f` to completion on a current-thread tokio runtime of its own.
pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}

/// Installs generation `g` with content [`content`]`(g, g)`.
fn install<T: Target>(target: &T, g: u64) -> Result<(), Generation> {
    block_on(target.install(Generation(g), content(g, g as u32)))
}

/// An install at a generation the target already holds, or an older one, is refused with the
/// generation held, and changes nothing; a newer one is taken.
pub fn install_refuses_an_older_or_equal_generation<T: Observed>(make: impl Fn() -> T) {
    let target = make();
    let origin = n(ORIGIN);
    assert_eq!(target.held(&origin), None);
    assert_eq!(install(&target, 5), Ok(()));
    assert_eq!(install(&target, 5), Err(Generation(5)));
    assert_eq!(install(&target, 3), Err(Generation(5)));
    assert_eq!(target.held(&origin), Some(Generation(5)));
    let served = target.served_serial(&origin);
    assert_eq!(install(&target, 6), Ok(()));
    assert_eq!(target.held(&origin), Some(Generation(6)));
    assert!(serial_gt(
        target.served_serial(&origin).unwrap(),
        served.unwrap()
    ));
}

/// Generations offered by installers in opposite orders at the same time.
const RACE_TOP: u64 = 40;

/// Two installers race with generations in opposite orders: every refusal names a generation
/// at least as new as the one offered, and the target ends on the newest.
pub fn concurrent_installs_end_on_the_newest<T: Observed>(make: impl Fn() -> T) {
    let target = make();
    race(&target);
    assert_eq!(target.held(&n(ORIGIN)), Some(Generation(RACE_TOP)));
}

/// The two installers of [`concurrent_installs_end_on_the_newest`], with a watcher that sees
/// the held generation never go back.
fn race<T: Observed>(target: &T) {
    let origin = n(ORIGIN);
    let up: Vec<u64> = (1..=RACE_TOP).collect();
    let down: Vec<u64> = up.iter().rev().copied().collect();
    let running = AtomicUsize::new(2);
    thread::scope(|s| {
        for order in [up, down] {
            let running = &running;
            s.spawn(move || {
                // Counted down even if an assertion fails, so the watcher stops.
                let _done = Finished(running);
                for g in order {
                    if let Err(held) = install(target, g) {
                        assert!(held >= Generation(g), "refused {g} for an older {held}");
                    }
                }
            });
        }
        s.spawn(|| {
            let mut last = None;
            while running.load(Ordering::SeqCst) > 0 {
                let now = target.held(&origin);
                assert!(now >= last, "held went back from {last:?} to {now:?}");
                last = now;
                thread::yield_now();
            }
        });
    });
}

/// Counts a racing installer out when it ends, however it ends.
struct Finished<'a>(&'a AtomicUsize);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whatever interleaving racing installs took, the IXFR history is one chain of growing
/// serials that ends at the served one.
pub fn history_stays_one_chain<T: Observed>(make: impl Fn() -> T) {
    let target = make();
    race(&target);
    let origin = n(ORIGIN);
    let chain = target.history_serials(&origin);
    assert!(
        !chain.is_empty(),
        "a served zone has at least its own serial"
    );
    for w in chain.windows(2) {
        assert!(serial_gt(w[1], w[0]), "{chain:?}");
    }
    assert_eq!(chain.last().copied(), target.served_serial(&origin));
}

/// File serials that go back (a rollback to older content, a hand-edited file, a wrap):
/// whatever the zone file says, every install serves a serial greater than the one before
/// (RFC 1982).
pub fn served_serial_never_goes_back<T: Observed>(make: impl Fn() -> T) {
    let target = make();
    let origin = n(ORIGIN);
    let file_serials = [100u32, 50, 50, 7, 1 << 31, 3, u32::MAX, 0];
    let mut last: Option<u32> = None;
    for (i, serial) in file_serials.into_iter().enumerate() {
        let g = i as u64 + 1;
        assert_eq!(
            block_on(target.install(Generation(g), content(g, serial))),
            Ok(())
        );
        let now = target.served_serial(&origin).expect("served");
        if let Some(before) = last {
            assert!(
                serial_gt(now, before),
                "generation {g} (file serial {serial}) is served with {now}, not after {before}"
            );
        }
        last = Some(now);
    }
}

/// The serial a zone arrives with is the one decided and stored at publish
/// (`gate::converge` sets it): a target serves exactly that serial whenever it is greater than
/// the one it serves, from its first install on, so every target serves the same serial for
/// the same generation. (Only a serial that would go back is raised instead, above.)
pub fn serves_the_serial_it_is_given<T: Observed>(make: impl Fn() -> T) {
    let target = make();
    let origin = n(ORIGIN);
    for (g, serial) in [
        (1u64, 2_024_010_101u32),
        (2, 2_024_010_102),
        (7, 2_024_020_100),
    ] {
        assert_eq!(
            block_on(target.install(Generation(g), content(g, serial))),
            Ok(())
        );
        assert_eq!(
            target.served_serial(&origin),
            Some(serial),
            "generation {g}"
        );
    }
    // Two targets given the same generations serve the same serials.
    let other = make();
    assert_eq!(
        block_on(other.install(Generation(7), content(7, 2_024_020_100))),
        Ok(())
    );
    assert_eq!(other.served_serial(&origin), target.served_serial(&origin));
}

/// The contract's five checks as `#[test]` functions on `$fresh`, a factory of fresh empty
/// targets, so each implementation's test file is one line.
#[macro_export]
macro_rules! target_contract {
    ($fresh:expr $(,)?) => {
        #[test]
        fn install_refuses_an_older_or_equal_generation() {
            $crate::target::install_refuses_an_older_or_equal_generation($fresh);
        }

        #[test]
        fn concurrent_installs_end_on_the_newest() {
            $crate::target::concurrent_installs_end_on_the_newest($fresh);
        }

        #[test]
        fn history_stays_one_chain() {
            $crate::target::history_stays_one_chain($fresh);
        }

        #[test]
        fn served_serial_never_goes_back() {
            $crate::target::served_serial_never_goes_back($fresh);
        }

        #[test]
        fn serves_the_serial_it_is_given() {
            $crate::target::serves_the_serial_it_is_given($fresh);
        }
    };
}
