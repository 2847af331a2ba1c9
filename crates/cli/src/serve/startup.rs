//! Start-up: answer from the snapshots before the store is opened (I7).
//!
//! The listeners are bound first, so that a start that cannot bind fails at once. If the
//! snapshots gave the catalog something to serve, the server then waits at most
//! [`FIRST_PASS_WAIT`] for the follower's first pass over the store (which a healthy store
//! finishes well within that, so a restart serves the newest published generation from its
//! first answer) and answers from the snapshots if the pass takes longer: a locked store
//! costs its busy timeout (5 s) on the follower's thread, never on DNS. With nothing to serve,
//! there is nothing to answer from until the first pass ends.

use std::time::Duration;

use tokio::sync::oneshot;

/// Longest the server waits for the store before it answers from its snapshots.
pub(super) const FIRST_PASS_WAIT: Duration = Duration::from_millis(500);

/// Waits for the follower's first pass (`ready`), at most [`FIRST_PASS_WAIT`] if `have_snapshots`.
/// Returns false if the follower stopped before sending it.
pub(super) async fn wait_first_pass(ready: oneshot::Receiver<()>, have_snapshots: bool) -> bool {
    if !have_snapshots {
        return ready.await.is_ok();
    }
    match tokio::time::timeout(FIRST_PASS_WAIT, ready).await {
        Ok(result) => result.is_ok(),
        Err(_) => {
            tracing::warn!(
                waited = ?FIRST_PASS_WAIT,
                "the store is slow to open; answering from the last good snapshots meanwhile"
            );
            true
        }
    }
}
