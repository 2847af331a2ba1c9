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
//!
//! Beside each snapshot, a journal (`<zone>.journal`, [`journal`]) holds the generations
//! installed since, each as its change from the one before, appended and synced: an install
//! writes what changed, not the whole zone. The snapshot is written whole again, and the
//! journal removed, once the journal holds [`JOURNAL_ENTRIES_MAX`] entries (or one per
//! [`JOURNAL_BYTES_PER_ENTRY`] of the body, if that is more) or a [`JOURNAL_SHARE`]th of the
//! snapshot's size, and on a server's first install of a zone. On
//! load, the entries that follow on from the snapshot by their hashes are composed into one
//! change, applied once and validated like any change, and the result checked against the
//! last entry's hash; if it does not match, they are applied one by one, each checked. An
//! entry that does not follow from the content reached so far is passed over (a journal older than its snapshot, which a crash
//! between writing the snapshot and removing the journal leaves, follows from none of it; two
//! servers sharing a directory append the same generations twice). A torn last entry ends the
//! reading.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use zonegate_core::gate::Generation;
use zonegate_core::zone::delta::ZoneDelta;
use zonegate_core::{ContentHash, GateConfig, Name, Zone};
use zonegate_server::Catalog;

mod journal;

/// Most entries a journal of a small zone holds before the snapshot is written whole again;
/// a larger zone's journal holds one entry per [`JOURNAL_BYTES_PER_ENTRY`] of its body, so
/// that the whole write (35 MB and 150–300 ms at a million records, on the install that
/// meets it) comes about as often per octet written as a small zone's.
pub const JOURNAL_ENTRIES_MAX: usize = 1024;

/// See [`JOURNAL_ENTRIES_MAX`].
pub const JOURNAL_BYTES_PER_ENTRY: usize = 4096;

/// Most entries the journal of a zone whose body is `body_len` octets holds.
fn journal_entries_max(body_len: usize) -> usize {
    JOURNAL_ENTRIES_MAX.max(body_len / JOURNAL_BYTES_PER_ENTRY)
}

/// A journal is kept only while it is at most this fraction (1/`JOURNAL_SHARE`) of the
/// snapshot's body.
pub const JOURNAL_SHARE: usize = 4;

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
    /// Per zone, what its snapshot and journal hold, as this server wrote or read them: the
    /// base of the next journal entry. A zone is absent until then, and after a failed write
    /// (the next write is a whole snapshot).
    files: Arc<Mutex<HashMap<Name, OnDisk>>>,
}

/// What one zone's snapshot and journal hold together.
#[derive(Debug, Clone)]
struct OnDisk {
    generation: Generation,
    /// The content they end with.
    zone: Zone,
    /// The journal's entries and octets.
    entries: usize,
    journal_bytes: usize,
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
        Snapshots {
            dir,
            files: Arc::default(),
        }
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
        let zone = zone.clone();
        let (dir, files) = (self.dir.clone(), self.files.clone());
        let at = At {
            generation,
            published_serial,
        };
        async move {
            tokio::task::spawn_blocking(move || {
                let origin = zone.origin().clone();
                let last = files.lock().expect("not poisoned").remove(&origin);
                let on_disk = write_generation(&dir, last, at, zone)?;
                files.lock().expect("not poisoned").insert(origin, on_disk);
                Ok(())
            })
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
                Ok((at, zone, on_disk)) => {
                    let (origin, generation) = (zone.origin().clone(), at.generation);
                    if let Some(on_disk) = on_disk {
                        let mut files = self.files.lock().expect("not poisoned");
                        files.insert(origin.clone(), on_disk);
                    }
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

/// Writes generation `at` of `zone` after what the files held (`last`, if known): as a
/// journal entry, when the journal stays within its bounds, else as a whole snapshot with the
/// journal removed. Returns what the files hold now.
fn write_generation(
    dir: &Path,
    last: Option<OnDisk>,
    at: At,
    zone: Zone,
) -> anyhow::Result<OnDisk> {
    let path = dir.join(file_name(zone.origin()));
    let journal_path = journal::path_of(&path);
    let entries_max = journal_entries_max(zone.body_len());
    let last = last.filter(|l| l.generation < at.generation && l.entries < entries_max);
    if let Some(last) = last {
        let delta = ZoneDelta::between(&last.zone, &zone);
        let entry = journal::encode(
            at.generation,
            at.published_serial,
            last.zone.hash(),
            zone.hash(),
            &delta,
        );
        let journal_bytes = last.journal_bytes + entry.len();
        if journal_bytes * JOURNAL_SHARE <= zone.body_len() {
            journal::append(&journal_path, &entry)?;
            return Ok(OnDisk {
                generation: at.generation,
                zone,
                entries: last.entries + 1,
                journal_bytes,
            });
        }
    }
    write(dir, zone.origin(), at, zone.hash(), &zone.body())?;
    journal::remove(&journal_path)?;
    Ok(OnDisk {
        generation: at.generation,
        zone,
        entries: 0,
        journal_bytes: 0,
    })
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

/// The snapshot at `path` with its journal applied: the generation and content they end with,
/// and, when every journal entry was applied, what the files hold (the base of the next entry).
fn read(path: &Path, cfg: &GateConfig) -> anyhow::Result<(At, Zone, Option<OnDisk>)> {
    let (at, zone) = read_snapshot(path, cfg)?;
    let journal_path = journal::path_of(path);
    let (entries, journal_bytes) = journal::read(&journal_path)?;
    let whole = std::fs::metadata(&journal_path).map_or(0, |m| m.len() as usize) == journal_bytes;
    let count = entries.len();
    let chain = hash_chain(&entries, at.generation, zone.hash());
    let applied = chain.len();
    let (at, zone) = match apply_at_once(&zone, &chain, cfg) {
        Some(done) => done,
        None => apply_one_by_one(at, zone, &entries, cfg, &journal_path),
    };
    let on_disk = (whole && applied == count).then(|| OnDisk {
        generation: at.generation,
        zone: zone.clone(),
        entries: count,
        journal_bytes,
    });
    Ok((at, zone, on_disk))
}

/// The entries that follow on from a content of `generation` with hash `hash`, in order, by
/// their headers alone: each of a later generation than the one before, its base the hash
/// the one before ends with. The others (a journal older than its snapshot; a generation a
/// second server sharing the directory appended again) are passed over.
fn hash_chain(
    entries: &[journal::Entry],
    generation: Generation,
    hash: ContentHash,
) -> Vec<&journal::Entry> {
    let (mut generation, mut hash) = (generation, hash);
    let mut chain = Vec::new();
    for entry in entries {
        let h = &entry.header;
        let next = ContentHash::parse(&h.hash);
        if h.generation > generation
            && ContentHash::parse(&h.base) == Some(hash)
            && let Some(next) = next
        {
            (generation, hash) = (h.generation, next);
            chain.push(entry);
        }
    }
    chain
}

/// `zone` with the changes of `chain` composed into one and applied once, validated, if the
/// result has the hash the chain ends with (so every step was what its entry says); `None`
/// otherwise, or for an empty chain with nothing to do.
fn apply_at_once(zone: &Zone, chain: &[&journal::Entry], cfg: &GateConfig) -> Option<(At, Zone)> {
    let last = &chain.last()?.header;
    let deltas = chain.iter().map(|e| e.delta.clone()).collect();
    let change = ZoneDelta::compose(deltas).ok()??;
    let done = zone.apply(&change, &cfg.limits).ok()?;
    (ContentHash::parse(&last.hash) == Some(done.hash())).then(|| {
        let at = At {
            generation: last.generation,
            published_serial: last.published_serial,
        };
        (at, done)
    })
}

/// The entries applied in turn, each checked against its hashes and validated; one that does
/// not follow from the content reached is passed over (what [`apply_at_once`] falls back to).
fn apply_one_by_one(
    mut at: At,
    mut zone: Zone,
    entries: &[journal::Entry],
    cfg: &GateConfig,
    journal_path: &Path,
) -> (At, Zone) {
    for entry in entries {
        let h = &entry.header;
        let fits = h.generation > at.generation
            && ContentHash::parse(&h.base) == Some(zone.hash())
            && ContentHash::parse(&h.hash).is_some();
        let next = fits
            .then(|| zone.apply(&entry.delta, &cfg.limits).ok())
            .flatten()
            .filter(|next| ContentHash::parse(&h.hash) == Some(next.hash()));
        let Some(next) = next else {
            if h.generation > at.generation {
                tracing::warn!(journal = %journal_path.display(), generation = %h.generation, "a snapshot journal entry does not follow from the content before it; it is passed over");
            }
            continue;
        };
        (at, zone) = (
            At {
                generation: h.generation,
                published_serial: h.published_serial,
            },
            next,
        );
    }
    (at, zone)
}

fn read_snapshot(path: &Path, cfg: &GateConfig) -> anyhow::Result<(At, Zone)> {
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

    /// A content of `hosts` names, and the same with name `extra` added.
    fn content(hosts: usize, extra: Option<usize>) -> Zone {
        let origin = Name::parse("example.com.").unwrap();
        let mut text =
            String::from("$TTL 300\n@ SOA ns.other. h.other. 3 1 1 1 1\n@ NS ns.other.\n");
        for i in (0..hosts).chain(extra) {
            text.push_str(&format!("h{i} A 192.0.2.{}\n", i % 250));
        }
        let parsed = zonegate_core::zonefile::parse(&text, Some(&origin), "test").unwrap();
        zonegate_core::zone::validate::validate(parsed, &GateConfig::default().limits).unwrap()
    }

    /// `zone` with name `h<i>` added, made by applying the change (so it shares its chunks).
    fn plus(zone: &Zone, _hosts: usize, i: usize) -> Zone {
        let record = zonegate_core::Record {
            owner: Name::parse(&format!("h{i}.example.com.")).unwrap(),
            rtype: zonegate_core::RType::A,
            ttl: 300,
            rdata: [192, 0, 2, (i % 250) as u8].into(),
        };
        let delta = ZoneDelta::new(Vec::new(), vec![record]).unwrap();
        zone.apply(&delta, &GateConfig::default().limits).unwrap()
    }

    async fn loaded(dir: &Path) -> (Catalog, Vec<(Name, Generation)>) {
        let catalog = Catalog::new("journal");
        let got = Snapshots::new(dir.to_path_buf())
            .load_into(&catalog, &GateConfig::default())
            .await;
        (catalog, got)
    }

    /// After the first install, each install appends its change to the journal and leaves the
    /// snapshot as it was; loading applies the journal; the snapshot is written whole again once
    /// the journal is full, and the journal goes.
    #[tokio::test]
    async fn installs_after_the_first_are_journalled_and_loaded_back() {
        let dir = tempfile::tempdir().unwrap();
        let snapshots = Snapshots::new(dir.path().to_path_buf());
        let origin = Name::parse("example.com.").unwrap();
        let snapshot = dir.path().join(file_name(&origin));
        let journal = journal::path_of(&snapshot);
        let hosts = 2000;
        let mut zone = content(hosts, None);
        snapshots.writer(Generation(1), &zone, None).await.unwrap();
        let first = std::fs::read(&snapshot).unwrap();
        assert!(!journal.exists());
        for g in 2..=5u64 {
            zone = plus(&zone, hosts, 5000 + g as usize);
            snapshots.writer(Generation(g), &zone, None).await.unwrap();
        }
        assert_eq!(
            std::fs::read(&snapshot).unwrap(),
            first,
            "the snapshot is not rewritten"
        );
        assert!(std::fs::metadata(&journal).unwrap().len() < 4096);
        let (catalog, got) = loaded(dir.path()).await;
        assert_eq!(got, vec![(origin.clone(), Generation(5))]);
        assert_eq!(catalog.held_content(&origin), None);
        // A server started on these files goes on appending to the journal.
        let again = Snapshots::new(dir.path().to_path_buf());
        again
            .load_into(&Catalog::new("again"), &GateConfig::default())
            .await;
        zone = plus(&zone, hosts, 6000);
        again.writer(Generation(6), &zone, Some(3)).await.unwrap();
        assert_eq!(std::fs::read(&snapshot).unwrap(), first);
        let (catalog, got) = loaded(dir.path()).await;
        assert_eq!(got, vec![(origin.clone(), Generation(6))]);
        assert_eq!(
            catalog.held_content(&origin).map(|(g, _)| g),
            Some(Generation(6))
        );
        // Full: written whole, the journal gone.
        for g in 7..7 + JOURNAL_ENTRIES_MAX as u64 {
            zone = plus(&zone, hosts, 6000 + g as usize);
            again.writer(Generation(g), &zone, None).await.unwrap();
        }
        assert_ne!(std::fs::read(&snapshot).unwrap(), first);
        let entries = journal::read(&journal).unwrap().0.len();
        assert!(entries < JOURNAL_ENTRIES_MAX, "{entries}");
        let last = Generation(6 + JOURNAL_ENTRIES_MAX as u64);
        assert_eq!(loaded(dir.path()).await.1, vec![(origin.clone(), last)]);
    }

    /// What a crash can leave: a torn last entry is not applied (the generation before it is
    /// loaded), and a journal older than its snapshot is ignored; either way the next install
    /// writes the snapshot whole.
    #[tokio::test]
    async fn a_torn_or_stale_journal_loads_what_it_can() {
        let dir = tempfile::tempdir().unwrap();
        let origin = Name::parse("example.com.").unwrap();
        let snapshot = dir.path().join(file_name(&origin));
        let journal = journal::path_of(&snapshot);
        let snapshots = Snapshots::new(dir.path().to_path_buf());
        let hosts = 2000;
        let mut zone = content(hosts, None);
        snapshots.writer(Generation(1), &zone, None).await.unwrap();
        for g in 2..=3u64 {
            zone = plus(&zone, hosts, 7000 + g as usize);
            snapshots.writer(Generation(g), &zone, None).await.unwrap();
        }
        let whole = std::fs::read(&journal).unwrap();
        std::fs::write(&journal, &whole[..whole.len() - 3]).unwrap();
        assert_eq!(
            loaded(dir.path()).await.1,
            vec![(origin.clone(), Generation(2))]
        );
        // A server on the torn files writes the snapshot whole at its next install.
        let next = Snapshots::new(dir.path().to_path_buf());
        next.load_into(&Catalog::new("torn"), &GateConfig::default())
            .await;
        next.writer(Generation(4), &zone, None).await.unwrap();
        assert!(!journal.exists());
        assert_eq!(
            loaded(dir.path()).await.1,
            vec![(origin.clone(), Generation(4))]
        );
        // The old journal back beside the newer snapshot (a crash before its removal).
        std::fs::write(&journal, &whole).unwrap();
        assert_eq!(
            loaded(dir.path()).await.1,
            vec![(origin.clone(), Generation(4))]
        );
        // An entry whose change does not follow from the content before it is passed over.
        std::fs::remove_file(&journal).unwrap();
        let changed = plus(&zone, hosts, 9999);
        let wrong = journal::encode(
            Generation(5),
            None,
            content(3, None).hash(),
            changed.hash(),
            &ZoneDelta::between(&zone, &changed),
        );
        std::fs::write(&journal, wrong).unwrap();
        assert_eq!(
            loaded(dir.path()).await.1,
            vec![(origin.clone(), Generation(4))]
        );
        // An entry that follows by its headers but whose change does not give the hash it
        // names: composed, the result is refused; one by one, the entry is passed over.
        let lying = journal::encode(
            Generation(5),
            None,
            zone.hash(),
            content(3, None).hash(),
            &ZoneDelta::between(&zone, &changed),
        );
        std::fs::write(&journal, lying).unwrap();
        assert_eq!(loaded(dir.path()).await.1, vec![(origin, Generation(4))]);
    }

    /// Two servers on one directory (one database, one host) write every generation, each
    /// keeping its own count of the journal, rewriting the snapshot at different times: what
    /// loads is always the newest generation either wrote.
    #[tokio::test]
    async fn two_servers_sharing_a_directory_load_the_newest_generation() {
        let dir = tempfile::tempdir().unwrap();
        let origin = Name::parse("example.com.").unwrap();
        let (one, two) = (
            Snapshots::new(dir.path().to_path_buf()),
            Snapshots::new(dir.path().to_path_buf()),
        );
        let hosts = 1500;
        let mut zone = content(hosts, None);
        for g in 1..=80u64 {
            if g > 1 {
                zone = plus(&zone, hosts, 8000 + g as usize);
            }
            one.writer(Generation(g), &zone, None).await.unwrap();
            if g >= 3 {
                two.writer(Generation(g), &zone, None).await.unwrap();
            }
            if g % 9 == 0 || g > 60 {
                let (catalog, got) = loaded(dir.path()).await;
                assert_eq!(got, vec![(origin.clone(), Generation(g))], "generation {g}");
                assert_eq!(catalog.serial(&origin), Some(3));
            }
        }
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
