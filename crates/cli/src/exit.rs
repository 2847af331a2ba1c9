//! Exit codes: a contract scripts rely on, so each has one name and one number.

pub const OK: u8 = 0;
pub const INTERNAL: u8 = 1;
pub const INPUT: u8 = 2;
pub const REFUSED: u8 = 3;
pub const STALE: u8 = 4;
/// `plan --expect-no-changes` found changes.
pub const CHANGES: u8 = 5;
/// `watch --once` found a check that does not hold (lag, mismatch, unreachable, blackholed).
pub const UNHEALTHY: u8 = 6;
