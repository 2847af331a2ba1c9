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
