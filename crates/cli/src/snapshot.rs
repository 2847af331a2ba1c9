//! Last-good snapshots: static stability for `zonegate serve` (invariant I7).
//!
//! Every generation a server installs is also written to a snapshot file, one per zone, in a
//! directory beside the database (`<db>.snapshots/` unless `--snapshot-dir` says otherwise).
//! On start, the server installs its snapshots BEFORE it touches the store, so after a restart
//! it answers from its last good generations even while the store is missing, locked or
//! corrupt; the store then brings it forward as usual. A target never goes back, so a snapshot
//! older than what the store publishes is simply superseded. For the same reason, after
//! replacing the database with a new one (whose generations start again at 1), delete the
//! snapshot directory before starting the server, or it keeps serving its newer snapshot.
//!
//! A snapshot is one small JSON header line (zone, generation, hash: the body's tree root, or
//! in a snapshot written before the hash tree its flat SHA-256, which is still accepted; and
//! `published_serial`, the apex SOA serial the content was published with, where the body holds
//! the served one) followed by the served content's canonical body. With `published_serial`,
//! a restarted server holds the content as published, so the follower reads the store's next
//! generations onto it from their deltas and the first DNS UPDATE starts from it. It is written to a temporary file, synced and renamed over the old one, so
//! a crash leaves the previous snapshot or the next, never half of one. On load the body is
//! checked against its hash and validated again, like any body read back from the store; a
//! snapshot that fails is skipped with a warning and never installed.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use zonegate_core::gate::Generation;
use zonegate_core::{ContentHash, GateConfig, Name, Zone};
use zonegate_server::Catalog;

/// The header line of a snapshot file.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    zone: Name,
    generation: Generation,
    hash: String,
    /// The apex SOA serial the content had as published, when the body holds the served
    /// serial instead; absent in snapshots written before it was kept (their content is
    /// served again, but not given back as published, see [`Snapshots::load_into`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    published_serial: Option<u32>,
}

/// The snapshot directory of one server.
#[derive(Debug, Clone)]
pub struct Snapshots {
    dir: PathBuf,
}

/// The default directory: `<db>.snapshots` beside the database file.
pub fn default_dir(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".snapshots");
    db.with_file_name(name)
}

/// The default snapshot directory of a server following a PostgreSQL store: a local directory
/// per server and database, `$XDG_STATE_HOME/zonegate/snapshots/<host_port_database>`, with
/// `$XDG_STATE_HOME` defaulting to `$HOME/.local/state`, and `/var/lib/zonegate/snapshots/…`
/// when neither is set (a system service).
pub fn default_dir_for(db: &zonegate_store::StoreLocation) -> PathBuf {
    let pg = match db {
        zonegate_store::StoreLocation::File(path) => return default_dir(path),
        zonegate_store::StoreLocation::Postgres(pg) => pg,
    };
    let non_empty = |key: &str| {
        std::env::var_os(key)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let state = non_empty("XDG_STATE_HOME")
        .or_else(|| non_empty("HOME").map(|home| home.join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("/var/lib"));
    state.join("zonegate/snapshots").join(pg.sanitized())
}

/// A file name for a zone: the origin with anything but `[a-z0-9._-]` percent-encoded.
fn file_name(zone: &Name) -> String {
    if zone.is_root() {
        return "_root.snapshot".into();
    }
    let mut out = String::new();
    for b in zone.to_string().bytes() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02x}")),
        }
    }
    out.push_str("snapshot");
    out
}

impl Snapshots {
    pub fn new(dir: PathBuf) -> Self {
        Snapshots { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `zone` at `generation` atomically (temporary file, fsync, rename). The returned
    /// future encodes, writes and syncs it on tokio's blocking pool when it is polled, so that
    /// it can run while the zone itself moves on, e.g. into the catalog's build; the caller
    /// only takes a reference to the zone's records and its hash (the root of its hash tree,
    /// which a zone read or changed by the gate already holds). Nothing is written unless it
    /// is polled. `published_serial` is the content's apex SOA serial as published, if `zone`
    /// is served with another.
    pub fn writer(
        &self,
        generation: Generation,
        zone: &Zone,
        published_serial: Option<u32>,
    ) -> impl std::future::Future<Output = anyhow::Result<()>> + Send + 'static {
        let (zone, hash) = (zone.clone(), zone.hash());
        let dir = self.dir.clone();
        let at = At {
            generation,
            published_serial,
        };
        async move {
            tokio::task::spawn_blocking(move || write(&dir, zone.origin(), at, hash, &zone.body()))
                .await
                .context("the snapshot writer failed")?
        }
    }

    /// Reads every snapshot, checks and validates it, and installs it into `catalog`, with
    /// its serial as published when the snapshot has it, so that the catalog can give the
    /// content back as published: the base the follower reads the store's next deltas onto,
    /// and the first DNS UPDATE's after a restart, instead of a whole read. Returns the zones
    /// installed. Unreadable or invalid snapshots are skipped with a warning.
    pub async fn load_into(&self, catalog: &Catalog, cfg: &GateConfig) -> Vec<(Name, Generation)> {
        let mut installed = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(_) => return installed,
        };
        let all: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        for leftover in all
            .iter()
            .filter(|p| p.extension().is_some_and(|x| x == "tmp"))
        {
            if std::fs::remove_file(leftover).is_ok() {
                tracing::info!(file = %leftover.display(), "removed a temporary snapshot file a crash left");
            }
        }
        let mut paths: Vec<PathBuf> = all
            .into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "snapshot"))
            .collect();
        paths.sort();
        for path in paths {
            match read(&path, cfg) {
                Ok((at, zone)) => {
                    let (origin, generation) = (zone.origin().clone(), at.generation);
                    let done = catalog
                        .install_published_after(
                            generation,
                            zone,
                            at.published_serial,
                            None,
                            std::future::ready(()),
                        )
                        .await;
                    if done.is_ok() {
                        tracing::info!(zone = %origin, %generation, file = %path.display(), "serving the last good snapshot");
                        installed.push((origin, generation));
                    }
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %format!("{e:#}"), "skipping a snapshot that cannot be used")
                }
            }
        }
        installed
    }
}

/// Which generation a snapshot holds, and its serial as published if that is not the served
/// one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct At {
    generation: Generation,
    published_serial: Option<u32>,
}

/// Writes the snapshot of `origin` at `at` with `body` (whose content hash is `hash`) into
/// `dir`: a temporary file with a fresh name (`tempfile`), synced, renamed over the old one,
/// and the directory synced so that the rename itself survives a power cut. On any failure
/// the temporary file is removed (dropping it does), so a full disk leaves no `.tmp` file
/// behind.
fn write(dir: &Path, origin: &Name, at: At, hash: ContentHash, body: &[u8]) -> anyhow::Result<()> {
    let header = Header {
        zone: origin.clone(),
        generation: at.generation,
        hash: hash.to_string(),
        published_serial: at.published_serial,
    };
    let path = dir.join(file_name(origin));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".snapshot-")
        .suffix(TMP_SUFFIX)
        .tempfile_in(dir)
        .with_context(|| format!("cannot write a snapshot in {}", dir.display()))?;
    let written = (|| -> std::io::Result<()> {
        let f = tmp.as_file_mut();
        serde_json::to_writer(&mut *f, &header)?;
        f.write_all(b"\n")?;
        f.write_all(body)?;
        f.sync_all()
    })();
    written.with_context(|| format!("cannot write {}", tmp.path().display()))?;
    tmp.persist(&path).map_err(|e| e.error).with_context(|| {
        format!(
            "cannot rename the snapshot into place as {}",
            path.display()
        )
    })?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync the directory {}", dir.display()))?;
    Ok(())
}

/// How a temporary snapshot file's name ends. One left by a crash (a `kill -9` mid-write,
/// which runs no destructor) is removed when the snapshots are next loaded.
const TMP_SUFFIX: &str = ".tmp";

fn read(path: &Path, cfg: &GateConfig) -> anyhow::Result<(At, Zone)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let split = bytes
        .iter()
        .position(|&b| b == b'\n')
        .context("no header line")?;
    let header: Header = serde_json::from_slice(&bytes[..split]).context("bad header line")?;
    let hash = ContentHash::parse(&header.hash).context("bad hash in the header")?;
    let zone = Zone::decode(&header.zone, &bytes[split + 1..], &hash, &cfg.limits)?;
    let at = At {
        generation: header.generation,
        published_serial: header.published_serial,
    };
    Ok((at, zone))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(g: u64) -> At {
        At {
            generation: Generation(g),
            published_serial: None,
        }
    }

    /// A failed write (here the rename: a directory stands where the snapshot goes) leaves no
    /// temporary file; a good one leaves only the snapshot.
    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let origin = Name::parse("example.com.").unwrap();
        let blocker = dir.path().join(file_name(&origin));
        std::fs::create_dir(&blocker).unwrap();
        std::fs::write(blocker.join("keep"), b"x").unwrap();
        // One record in canonical wire form: the root, A, IN, TTL 0, 4 octets of data.
        let body = b"\x00\x00\x01\x00\x01\x00\x00\x00\x00\x00\x04body";
        let hash = ContentHash::tree(body).unwrap();
        assert!(write(dir.path(), &origin, at(1), hash, body).is_err());
        let names = |d: &Path| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(dir.path()), vec!["example.com.snapshot".to_string()]);
        std::fs::remove_dir_all(&blocker).unwrap();
        write(dir.path(), &origin, at(2), hash, body).unwrap();
        assert_eq!(names(dir.path()), vec!["example.com.snapshot".to_string()]);
        let written = std::fs::read(&blocker).unwrap();
        assert!(written.ends_with(&[b"\n".as_slice(), body].concat()));
    }

    /// A snapshot of content served with another serial than it was published with is
    /// installed so that the catalog gives the content back as published; one without the
    /// published serial (an older snapshot) is served, but not given back.
    #[tokio::test]
    async fn a_snapshot_keeps_the_serial_it_was_published_with() {
        let origin = Name::parse("example.com.").unwrap();
        let text =
            "$TTL 300\n@ SOA ns.other. h.other. 3 1 1 1 1\n@ NS ns.other.\nwww A 192.0.2.1\n";
        let parsed = zonegate_core::zonefile::parse(text, Some(&origin), "test").unwrap();
        let cfg = GateConfig::default();
        let published = zonegate_core::zone::validate::validate(parsed, &cfg.limits).unwrap();
        let served = zonegate_core::zone::serial::with_serial(published.clone(), 9);
        let dir = tempfile::tempdir().unwrap();
        let snapshots = Snapshots::new(dir.path().to_path_buf());
        snapshots
            .writer(Generation(4), &served, Some(3))
            .await
            .unwrap();
        let catalog = Catalog::new("snapshot");
        let loaded = snapshots.load_into(&catalog, &cfg).await;
        assert_eq!(loaded, vec![(origin.clone(), Generation(4))]);
        assert_eq!(catalog.serial(&origin), Some(9));
        assert_eq!(
            catalog.held_content(&origin),
            Some((Generation(4), published))
        );
        // Written without it, as before this header field.
        snapshots
            .writer(Generation(4), &served, None)
            .await
            .unwrap();
        let catalog = Catalog::new("older");
        assert_eq!(snapshots.load_into(&catalog, &cfg).await.len(), 1);
        assert_eq!(catalog.serial(&origin), Some(9));
        assert_eq!(catalog.held_content(&origin), None);
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(
            file_name(&Name::parse("example.com.").unwrap()),
            "example.com.snapshot"
        );
        assert_eq!(file_name(&Name::root()), "_root.snapshot");
        assert_eq!(
            file_name(&Name::parse("a/b.example.").unwrap()),
            "a%2fb.example.snapshot"
        );
        assert_eq!(
            default_dir(Path::new("/x/zonegate.db")),
            Path::new("/x/zonegate.db.snapshots")
        );
    }
}
