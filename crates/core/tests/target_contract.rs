//! The `Target` contract (`zonegate_testkit::target`) against `MemTarget`, the loom suite's
//! target; `crates/server/tests/target_contract.rs` runs the same checks against the server's
//! `Catalog`, so that what loom proves about `MemTarget` holds for the code the server runs.

use zonegate_core::model::MemTarget;
use zonegate_testkit::target;

fn fresh() -> MemTarget {
    MemTarget::new("contract")
}

#[test]
fn install_refuses_an_older_or_equal_generation() {
    target::install_refuses_an_older_or_equal_generation(fresh);
}

#[test]
fn concurrent_installs_end_on_the_newest() {
    target::concurrent_installs_end_on_the_newest(fresh);
}

#[test]
fn history_stays_one_chain() {
    target::history_stays_one_chain(fresh);
}

/// A finding of this suite, left standing: `MemTarget` serves the zone file's own serial,
/// where the catalog computes it from the serial policy and the serial it replaces, so a
/// rollback to older content serves a lower serial. The loom suite does not look at serials,
/// so its proofs are unaffected; the model does not yet model this part of the catalog.
#[test]
#[ignore = "finding: MemTarget serves the file's serial, which can go back (the catalog's never does)"]
fn served_serial_never_goes_back() {
    target::served_serial_never_goes_back(fresh);
}
