//! The store's body decoder: any bytes as a stored body (under their own flat hash, so decoding
//! gets past the hash check). Nothing may panic; a body that decodes re-encodes to a body
//! that decodes to the same zone.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zonegate_core::zone::decode_records;
use zonegate_core::{ContentHash, Limits, Name, Zone};

fuzz_target!(|data: &[u8]| {
    let _ = decode_records(data);
    let origin = match Name::from_wire(data) {
        Ok((name, _)) => name,
        Err(_) => Name::root(),
    };
    let Ok(zone) = Zone::decode(&origin, data, &ContentHash::flat(data), &Limits::default()) else {
        return;
    };
    let body = zone.body();
    let again = Zone::decode(zone.origin(), &body, &zone.hash(), &Limits::default())
        .expect("a decoded zone's own body decodes");
    assert_eq!(again.body(), body, "decoding is not stable");
});
