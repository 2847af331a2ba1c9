//! TSIG verification (RFC 8945): any message checked against the server's key ring at a fixed
//! time, and through the whole answer path of a catalog whose transfers need that key. Nothing
//! may panic, every response parses, and a message whose TSIG verifies was signed with the key
//! (checked again with hickory's own verifier).
#![no_main]

use libfuzzer_sys::fuzz_target;
use zonegate_server::fuzzing::{TsigOutcome, tsig_check};

#[path = "common.rs"]
mod common;

// The catalog is built before the first input, outside libFuzzer's per-input timeout.
fuzz_target!(init: { common::world(); }, |data: &[u8]| {
    let world = common::world();
    let outcome = tsig_check(data, world.handler_options(), common::TSIG_NOW);
    if outcome == TsigOutcome::Signed {
        assert!(
            common::verifies_independently(data),
            "accepted a TSIG hickory refuses"
        );
    }
    let answers = world.rt.block_on(zonegate_server::fuzzing::answer_both(
        &world.handler,
        data,
        common::client(),
    ));
    common::check(data, &answers);
});
