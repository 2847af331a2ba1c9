//! Waiting for something another thread or process does, without a fixed sleep.

use std::time::{Duration, Instant};

/// Polls `check` every 10 ms until it returns true or `limit` passes; returns the time it took.
pub fn wait_until(limit: Duration, check: impl FnMut() -> bool) -> Option<Duration> {
    wait_until_every(limit, Duration::from_millis(10), check)
}

/// Polls `check` every `step` until it returns true or `limit` passes; returns the time it
/// took. A longer step suits checks that cost a process each (`dig`).
pub fn wait_until_every(
    limit: Duration,
    step: Duration,
    mut check: impl FnMut() -> bool,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return Some(start.elapsed());
        }
        std::thread::sleep(step);
    }
    None
}
