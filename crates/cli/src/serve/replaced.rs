//! Noticing that the database file was replaced or deleted under a running server.
//!
//! An open SQLite connection keeps reading the file it opened, even after that file was
//! unlinked: `rm zonegate.db*` and a new `apply` to the same path would leave the server
//! serving the old file's generations forever while `status` reports the new ones. So the
//! follower compares the path's device and inode with those of the file it opened, at every
//! poll (one `stat`), and reopens the path when they differ, saying so in the log. While the
//! path is missing it keeps serving what it holds and says that once.

use std::path::{Path, PathBuf};

/// Which file a path names: its device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileId {
    dev: u64,
    ino: u64,
}

/// The identity of the file at `path`, if there is one.
#[cfg(unix)]
pub(super) fn file_id(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some(FileId {
        dev: meta.dev(),
        ino: meta.ino(),
    })
}

/// Off Unix there is no inode to compare: a replaced file is not noticed.
#[cfg(not(unix))]
pub(super) fn file_id(_path: &Path) -> Option<FileId> {
    None
}

/// The file the follower's store has open, and whether its path still names it.
#[derive(Debug)]
pub(super) struct Opened {
    path: PathBuf,
    id: Option<FileId>,
    missing_said: bool,
}

impl Opened {
    /// The file now at `path`, just opened.
    pub(super) fn new(path: &Path) -> Opened {
        Opened {
            path: path.to_path_buf(),
            id: file_id(path),
            missing_said: false,
        }
    }

    /// True if the path now names another file than the one opened (it was replaced, or
    /// deleted and created again), so the store must be opened again. Logs what it found.
    pub(super) fn replaced(&mut self) -> bool {
        let Some(now) = file_id(&self.path) else {
            if self.id.is_some() && !self.missing_said {
                self.missing_said = true;
                tracing::warn!(db = %self.path.display(), "the database file was deleted; still serving the last good generations until it is back");
            }
            return false;
        };
        if self.id == Some(now) {
            return false;
        }
        tracing::warn!(
            db = %self.path.display(),
            was = ?self.id,
            now = ?now,
            "the database file was replaced (its device and inode changed); reopening it"
        );
        true
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_file_is_noticed_and_a_touched_one_is_not() {
        let dir = std::env::temp_dir().join(format!("zonegate-replaced-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("z.db");
        std::fs::write(&db, b"one").unwrap();
        let mut opened = Opened::new(&db);
        assert!(!opened.replaced());
        std::fs::write(&db, b"written in place").unwrap();
        assert!(!opened.replaced(), "same inode");
        std::fs::remove_file(&db).unwrap();
        assert!(!opened.replaced(), "missing: nothing to reopen yet");
        // A new file at the path (written beside it and renamed, so it cannot reuse the inode
        // while the old one is still named).
        let other = dir.join("z.db.new");
        std::fs::write(&other, b"two").unwrap();
        std::fs::rename(&other, &db).unwrap();
        let fresh = file_id(&db);
        assert!(fresh.is_some());
        // The old inode may be reused by the filesystem once freed; compare with what we held.
        assert_eq!(opened.replaced(), fresh != opened.id);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
