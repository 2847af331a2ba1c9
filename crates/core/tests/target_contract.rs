//! The `Target` contract (`zonegate_testkit::target`) against `MemTarget`, the loom suite's
//! target; `crates/server/tests/target_contract.rs` runs the same checks against the server's
//! `Catalog`, so that what loom proves about `MemTarget` holds for the code the server runs.

// Not part of the loom build: the test kit needs tokio, whose sockets loom leaves out.
#![cfg(not(loom))]

use zonegate_core::model::MemTarget;

fn fresh() -> MemTarget {
    MemTarget::new("contract")
}

zonegate_testkit::target_contract!(fresh);
