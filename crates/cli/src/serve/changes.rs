//! Hearing that the database's files changed, so that the follower looks at the store when
//! something was written instead of every few milliseconds.
//!
//! A server pinned to one CPU shares it with the follower: every look is a wake-up, a few
//! system calls and, now and then, a round trip through SQLite's worker thread, and a query
//! that arrives meanwhile waits for it (issue 16: at a fixed 20,000 q/s, the 10 ms look
//! delayed the answering thread by over 20 µs some 250 times in 7 s). On Linux the follower
//! watches the directory that holds the database with inotify, for writes to, and creations,
//! renames and deletions of, the database file, its write-ahead log and its rollback journal
//! (every SQLite commit writes one of them), and looks when one arrives; it still looks every
//! [`super::WATCHED_LOOK_EVERY`] in case an event was missed. Elsewhere, or when inotify
//! cannot be had (its limit of instances or watches reached), it looks every `--poll-ms`.

use std::path::Path;

/// The names in the database's directory that an SQLite commit writes.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn store_files(db: &Path) -> Option<[std::ffi::OsString; 3]> {
    let name = db.file_name()?.to_os_string();
    let with = |suffix: &str| {
        let mut n = name.clone();
        n.push(suffix);
        n
    };
    Some([with("-wal"), with("-journal"), name])
}

#[cfg(target_os = "linux")]
mod watch {
    use std::ffi::OsString;
    use std::path::Path;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use futures_core::Stream;
    use inotify::{EventMask, EventStream, Inotify, WatchMask};

    /// An inotify watch on the directory of a database.
    pub(crate) struct FileChanges {
        events: EventStream<Vec<u8>>,
        names: [OsString; 3],
        /// The stream failed or ended: nothing more will be heard.
        done: bool,
    }

    impl FileChanges {
        /// Watches the directory of `db`; `None` (and a line in the log) if inotify cannot be
        /// had.
        pub(crate) fn watch(db: &Path) -> Option<FileChanges> {
            let names = super::store_files(db)?;
            let dir = match db.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let mask = WatchMask::MODIFY
                | WatchMask::CREATE
                | WatchMask::DELETE
                | WatchMask::MOVED_TO
                | WatchMask::MOVED_FROM;
            let events = Inotify::init().and_then(|inotify| {
                inotify.watches().add(dir, mask)?;
                inotify.into_event_stream(vec![0; 4096])
            });
            match events {
                Ok(events) => Some(FileChanges {
                    events,
                    names,
                    done: false,
                }),
                Err(error) => {
                    tracing::info!(dir = %dir.display(), %error, "cannot watch the database's directory; looking at the store every --poll-ms instead");
                    None
                }
            }
        }

        /// Waits until one of the database's files changed, or events were lost; every event
        /// already queued is read first, so that a burst of writes wakes the caller once.
        pub(crate) async fn changed(&mut self) {
            std::future::poll_fn(|cx| self.poll_changed(cx)).await
        }

        fn poll_changed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
            let mut heard = false;
            while !self.done {
                match Pin::new(&mut self.events).poll_next(cx) {
                    Poll::Ready(Some(Ok(e))) => {
                        let ours = e.name.is_some_and(|n| self.names.contains(&n));
                        heard |= ours || e.mask.contains(EventMask::Q_OVERFLOW);
                    }
                    Poll::Ready(Some(Err(error))) => {
                        tracing::warn!(%error, "cannot read the database directory's events; looking at the store every second");
                        self.done = true;
                    }
                    Poll::Ready(None) => self.done = true,
                    Poll::Pending => break,
                }
            }
            match heard {
                true => Poll::Ready(()),
                false => Poll::Pending,
            }
        }
    }
}

#[cfg(target_os = "linux")]
pub(super) use watch::FileChanges;

/// Off Linux nothing is heard: the follower looks every `--poll-ms`.
#[cfg(not(target_os = "linux"))]
pub(super) struct FileChanges;

#[cfg(not(target_os = "linux"))]
impl FileChanges {
    pub(super) fn watch(_db: &Path) -> Option<FileChanges> {
        None
    }

    pub(super) async fn changed(&mut self) {
        std::future::pending().await
    }
}

/// Until `changes` hears of a change; never without a watch.
pub(super) async fn heard(changes: Option<&mut FileChanges>) {
    match changes {
        Some(c) => c.changed().await,
        None => std::future::pending().await,
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::time::Duration;

    use super::*;

    /// True if `changes` hears of a change within `wait`.
    async fn hears(changes: &mut FileChanges, wait: Duration) -> bool {
        tokio::time::timeout(wait, changes.changed()).await.is_ok()
    }

    #[tokio::test]
    async fn writes_to_the_store_files_are_heard_and_others_are_not() {
        // Every event below is queued by the write itself, before the write returns: one that
        // was wrongly heard shows at the reactor's first look, well within the short wait.
        let (short, long) = (Duration::from_millis(300), Duration::from_secs(20));
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("zonegate.db");
        let mut changes = FileChanges::watch(&db).unwrap();
        std::fs::write(dir.path().join("other.txt"), b"x").unwrap();
        std::fs::write(dir.path().join("zonegate.db-shm"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("zonegate.db.snapshots")).unwrap();
        std::fs::write(dir.path().join("zonegate.db.snapshots/a"), b"x").unwrap();
        assert!(!hears(&mut changes, short).await, "another file was heard");
        for name in ["zonegate.db", "zonegate.db-wal", "zonegate.db-journal"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
            assert!(hears(&mut changes, long).await, "{name}");
            assert!(!hears(&mut changes, short).await, "{name}: heard twice");
        }
        std::fs::rename(dir.path().join("other.txt"), &db).unwrap();
        assert!(
            hears(&mut changes, long).await,
            "a file renamed over the database"
        );
        std::fs::remove_file(&db).unwrap();
        assert!(hears(&mut changes, long).await, "the database deleted");
    }

    #[tokio::test]
    async fn a_relative_path_watches_the_current_directory() {
        assert!(FileChanges::watch(Path::new("zonegate.db")).is_some());
    }
}
