//! Helpers shared by the unit tests.

/// A xorshift64 generator from `seed` (not zero): cheap, repeatable pseudo-random numbers for
/// property tests, so that a failure reproduces from the seed in the test.
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

/// Labels that make name-ordering code work hard: shared prefixes, octets 0, 253, 254 and
/// 255, and labels longer than an eight-octet sort key.
pub(crate) const HARD_LABELS: [&[u8]; 13] = [
    b"a",
    b"ab",
    b"abcdefghij",
    b"abcdefghik",
    b"b",
    b"\x00",
    b"a\x00",
    b"\xfd",
    b"\xfe",
    b"\xfe\x01",
    b"\xff",
    b"\xff\x00",
    b"\xfe\xfe\x02",
];
