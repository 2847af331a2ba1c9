//! Work that prepares a generation (building, preparing answers, freeing the replaced one)
//! runs on threads of its own at a lower scheduling priority than the threads that answer
//! queries, so that on a server pinned to one CPU an install takes the CPU time answering
//! leaves and never the other way round (issue 16, item 5).
//!
//! On Linux each such thread raises its own nice value to [`BACKGROUND_NICE`] (per thread,
//! as Linux keeps it); the threads it starts (the parts of a large preparation) inherit it.
//! Under the default scheduler a thread at nice 10 gets about a tenth of the CPU a nice-0
//! thread wants, and all of it when answering leaves the CPU idle. Elsewhere the threads run
//! at the normal priority.

/// The nice value of the threads that prepare generations: CFS weight 110 against 1024 for
/// a thread at nice 0. Not 19 (weight 15), which would stretch a 1M install under full load
/// to over a minute.
pub const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's scheduling priority to [`BACKGROUND_NICE`] (never raises it).
/// Best effort: a thread that cannot is only slower to give way.
#[cfg(target_os = "linux")]
pub fn lower_thread_priority() {
    use rustix::process::{getpriority_process, setpriority_process};
    // On Linux, PRIO_PROCESS with no id names the calling thread.
    let now = getpriority_process(None).unwrap_or(0);
    if now < BACKGROUND_NICE
        && let Err(error) = setpriority_process(None, BACKGROUND_NICE)
    {
        tracing::debug!(%error, "cannot lower the priority of a background thread");
    }
}

/// Lowers the calling thread's scheduling priority (nothing to do off Linux).
#[cfg(not(target_os = "linux"))]
pub fn lower_thread_priority() {}

/// Runs `f` on a new thread at background priority and waits for it without blocking the
/// caller's runtime. A panic in `f` is resumed in the caller.
pub(crate) async fn background<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("zonegate-install".into())
        .spawn(move || {
            lower_thread_priority();
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(out);
        });
    if let Err(e) = spawned {
        panic!("cannot start a thread to build a zone: {e}");
    }
    match rx.await {
        Ok(Ok(out)) => out,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("the thread building a zone ended without an answer"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The work runs on another thread, at the background nice value on Linux, and the
    /// caller's own priority is left as it was.
    #[tokio::test]
    async fn runs_elsewhere_at_lower_priority() {
        let caller = std::thread::current().id();
        #[cfg(target_os = "linux")]
        let before = rustix::process::getpriority_process(None).unwrap();
        let (thread, nice) = background(|| {
            let nice = {
                #[cfg(target_os = "linux")]
                {
                    rustix::process::getpriority_process(None).unwrap()
                }
                #[cfg(not(target_os = "linux"))]
                {
                    BACKGROUND_NICE
                }
            };
            (std::thread::current().id(), nice)
        })
        .await;
        assert_ne!(thread, caller);
        assert!(nice >= BACKGROUND_NICE, "nice {nice}");
        #[cfg(target_os = "linux")]
        assert_eq!(rustix::process::getpriority_process(None).unwrap(), before);
    }

    #[tokio::test]
    #[should_panic(expected = "boom")]
    async fn a_panic_reaches_the_caller() {
        background(|| panic!("boom")).await
    }
}
