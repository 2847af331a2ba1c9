//! The journal beside a snapshot: the generations installed since the snapshot was written,
//! each as the change from the one before (issue 16), so that an install writes what changed,
//! not the whole zone.
//!
//! An entry is one JSON header line ([`EntryHeader`]: the generation, its serial as published,
//! the content hash before and after, and the length of the change) followed by the change in
//! the encoding of [`ZoneDelta::encode`] and a newline. Entries are appended and synced; a
//! crash mid-append leaves a torn last entry, which reading stops at, so what a crash leaves
//! is the journal before that entry or after it.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use zonegate_core::ContentHash;
use zonegate_core::gate::Generation;
use zonegate_core::zone::delta::ZoneDelta;

/// The header line of one journal entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(super) struct EntryHeader {
    pub(super) generation: Generation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) published_serial: Option<u32>,
    /// The content hash the change applies to.
    pub(super) base: String,
    /// The content hash after it.
    pub(super) hash: String,
    /// Octets of the encoded change that follow the header line.
    pub(super) len: usize,
}

/// One entry read back: its header and its change.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) header: EntryHeader,
    pub(super) delta: ZoneDelta,
}

/// The journal file of the zone whose snapshot file is `snapshot`: the same name, ending in
/// `.journal`.
pub(super) fn path_of(snapshot: &Path) -> PathBuf {
    snapshot.with_extension("journal")
}

/// The bytes of one entry.
pub(super) fn encode(
    generation: Generation,
    published_serial: Option<u32>,
    base: ContentHash,
    hash: ContentHash,
    delta: &ZoneDelta,
) -> Vec<u8> {
    let change = delta.encode();
    let header = EntryHeader {
        generation,
        published_serial,
        base: base.to_string(),
        hash: hash.to_string(),
        len: change.len(),
    };
    let mut out = serde_json::to_vec(&header).expect("a header serialises");
    out.push(b'\n');
    out.extend_from_slice(&change);
    out.push(b'\n');
    out
}

/// Appends `entry` to the journal at `path` and syncs it.
pub(super) fn append(path: &Path, entry: &[u8]) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open the journal {}", path.display()))?;
    f.write_all(entry)
        .and_then(|()| f.sync_data())
        .with_context(|| format!("cannot append to the journal {}", path.display()))
}

/// The entries of the journal at `path`, up to the first that is torn or unreadable (which a
/// crash mid-append leaves), and the octets they take. No file is no entries.
pub(super) fn read(path: &Path) -> anyhow::Result<(Vec<Entry>, usize)> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut entries = Vec::new();
    let mut pos = 0;
    while let Some((entry, next)) = entry_at(&bytes, pos) {
        entries.push(entry);
        pos = next;
    }
    if pos != bytes.len() {
        tracing::warn!(journal = %path.display(), at = pos, "the snapshot journal ends in a torn or unreadable entry; it is read up to there");
    }
    Ok((entries, pos))
}

/// The entry that starts at `pos`, and where the next one starts.
fn entry_at(bytes: &[u8], pos: usize) -> Option<(Entry, usize)> {
    let line = bytes[pos..].iter().position(|&b| b == b'\n')?;
    let header: EntryHeader = serde_json::from_slice(&bytes[pos..pos + line]).ok()?;
    let start = pos + line + 1;
    let end = start.checked_add(header.len)?;
    if bytes.get(end) != Some(&b'\n') {
        return None;
    }
    let delta = ZoneDelta::decode(&bytes[start..end]).ok()?;
    Some((Entry { header, delta }, end + 1))
}

/// Removes the journal at `path`, if there is one.
pub(super) fn remove(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_back_up_to_a_torn_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("example.com.journal");
        assert_eq!(read(&path).unwrap().0.len(), 0);
        let hash = ContentHash::flat(b"x");
        let delta = ZoneDelta::default();
        let one = encode(Generation(2), Some(7), hash, hash, &delta);
        let two = encode(Generation(3), None, hash, hash, &delta);
        append(&path, &one).unwrap();
        append(&path, &two).unwrap();
        let (entries, len) = read(&path).unwrap();
        assert_eq!(len, one.len() + two.len());
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].header.generation, Generation(2));
        assert_eq!(entries[0].header.published_serial, Some(7));
        assert_eq!(entries[1].header.published_serial, None);
        // Every cut inside the second entry keeps the first and only it.
        for cut in one.len()..one.len() + two.len() {
            std::fs::write(&path, &[one.as_slice(), two.as_slice()].concat()[..cut]).unwrap();
            let (entries, len) = read(&path).unwrap();
            assert_eq!((entries.len(), len), (1, one.len()), "cut at {cut}");
        }
        remove(&path).unwrap();
        remove(&path).unwrap();
        assert!(!path.exists());
    }
}
