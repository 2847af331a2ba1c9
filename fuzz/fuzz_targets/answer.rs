//! One DNS message through the server's whole answer path, the prepared one and the general
//! one, over UDP and over TCP, against a catalog of Ferret zones. Whenever the prepared path
//! answers, its bytes must be the general path's; every response must parse; a UDP response
//! never exceeds the server's payload limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

// The catalog is built before the first input, outside libFuzzer's per-input timeout.
fuzz_target!(init: { common::world(); }, |data: &[u8]| {
    let world = common::world();
    let answers = world.rt.block_on(zonegate_server::fuzzing::answer_both(
        &world.handler,
        data,
        common::client(),
    ));
    common::check(data, &answers);
});
