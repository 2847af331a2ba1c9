//! What every command shares: the database, the gate settings and the output mode, plus the
//! small readers (store, origin, zone file, clock) the commands all start with.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use zonegate_core::gate::{Actor, LimitKind, StoreError};
use zonegate_core::{GateConfig, Limits, Name, ParsedZone, zonefile};
use zonegate_store::SqliteStore;

use crate::failure::Failure;
use crate::output::Emit;

/// The context a command runs in, built once from the global flags.
pub struct Ctx {
    /// The SQLite database file (`--db`).
    pub db: PathBuf,
    /// The config file (`--config`), read again by `serve` for its `[server]` section.
    pub config: Option<PathBuf>,
    /// The gate settings from the config file, or the defaults.
    pub gate: GateConfig,
    /// Human or `--json` output.
    pub emit: Emit,
    /// Who the audit log names for the steps this context runs, instead of each step's own
    /// name (`plan`, `publish`): the API token's name for a request over HTTP.
    pub actor: Option<Actor>,
    /// An open store to use instead of opening `db` (the HTTP listener shares one).
    pub store: Option<SqliteStore>,
}

impl Ctx {
    pub async fn open_store(&self) -> Result<SqliteStore, Failure> {
        match &self.store {
            Some(store) => Ok(store.clone()),
            None => open_store(&self.db).await,
        }
    }

    /// The actor of a step whose own name is `step`.
    pub fn actor(&self, step: &Actor) -> Actor {
        self.actor.clone().unwrap_or_else(|| step.clone())
    }

    /// The store for a command that only reads (`status`, `history`, `diff`): a missing
    /// database is an input error, and none is created.
    pub async fn open_store_existing(&self) -> Result<SqliteStore, Failure> {
        if !self.db.exists() {
            return Err(Failure::input(format!(
                "there is no database at {path} (none was created): check --db or ZONEGATE_DB, \
                 or stage a zone there first with `zonegate --db {path} plan ZONEFILE`",
                path = self.db.display()
            )));
        }
        SqliteStore::open_existing(&self.db)
            .await
            .map_err(|e| store_open_failure(&self.db, &e))
    }
}

/// Seconds since the epoch: the core takes the clock as an argument.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub async fn open_store(path: &Path) -> Result<SqliteStore, Failure> {
    SqliteStore::open(path)
        .await
        .map_err(|e| store_open_failure(path, &e))
}

/// Why a database could not be opened, said once, with what to do: a permission problem is
/// named as one (SQLite only says "unable to open database file").
fn store_open_failure(path: &Path, e: &StoreError) -> Failure {
    let shown = path.display();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let denied = |r: std::io::Result<std::fs::File>| matches!(r, Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied);
    let probe = if path.exists() {
        denied(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path),
        )
    } else {
        // Can a file be made there? An unnamed temporary file says, and leaves nothing.
        matches!(tempfile::tempfile_in(dir), Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied)
    };
    let detail = match e {
        StoreError::Backend { detail } | StoreError::Constraint { detail } => detail.clone(),
        other => other.to_string(),
    };
    let message = if probe {
        format!(
            "cannot open the database {shown}: permission denied. zonegate needs read and write \
             access to the file, its -wal and -shm files and the directory {}; fix the owner or \
             mode, or run as the user that owns them",
            dir.display()
        )
    } else {
        format!(
            "cannot open the database {shown}: {detail}. Check the path (--db), that the disk \
             is not full and that no other program holds the file, then run the command again"
        )
    };
    Failure::Internal(anyhow::anyhow!(message))
}

/// A zone origin from the command line; the trailing dot is optional.
pub fn parse_origin(text: &str) -> Result<Name, Failure> {
    let absolute = if text.ends_with('.') {
        text.to_string()
    } else {
        format!("{text}.")
    };
    Name::parse(&absolute)
        .map_err(|e| Failure::Input(anyhow::anyhow!("{text:?} is not a valid zone origin: {e}")))
}

/// Reads and parses a zone file, with `--zone` as its origin if given, within `limits`: a file
/// larger than `body_bytes_max` is refused before it is read, and parsing stops at the first
/// record past `records_max` (a limit refusal, exit 3, instead of running out of memory).
pub fn read_zone(path: &Path, zone: Option<&str>, limits: &Limits) -> Result<ParsedZone, Failure> {
    let origin = zone.map(parse_origin).transpose()?;
    let shown = path.display().to_string();
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read zone file {shown}"))
        .map_err(Failure::Input)?
        .len();
    if size > limits.body_bytes_max as u64 {
        return Err(Failure::Limit {
            kind: LimitKind::BodyBytesMax,
            message: format!(
                "zone file {shown} is {size} bytes, more than limits.body_bytes_max ({}); it was \
                 not read. Split the zone, or raise body_bytes_max in the config",
                limits.body_bytes_max
            ),
        });
    }
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read zone file {shown}"))
        .map_err(Failure::Input)?;
    let text =
        String::from_utf8(bytes).map_err(|e| not_utf8(&shown, e.as_bytes(), e.utf8_error()))?;
    parse_text(&text, origin.as_ref(), &shown, limits)
}

/// Parses zone-file text read from `shown` (a file, or the API's request body), stopping at
/// the first record past `records_max`.
pub fn parse_text(
    text: &str,
    origin: Option<&Name>,
    shown: &str,
    limits: &Limits,
) -> Result<ParsedZone, Failure> {
    zonefile::parse_limited(text, origin, shown, limits.records_max).map_err(|e| match e {
        zonefile::ParseError::TooManyRecords { .. } => Failure::Limit {
            kind: LimitKind::RecordsMax,
            message: e.to_string(),
        },
        e => Failure::Input(anyhow::anyhow!(e)),
    })
}

/// A file that is not UTF-8: where (line and byte offset) and what to do.
fn not_utf8(file: &str, bytes: &[u8], e: std::str::Utf8Error) -> Failure {
    let offset = e.valid_up_to();
    let line = bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
    let byte = bytes.get(offset).copied().unwrap_or(0);
    Failure::input(format!(
        "{file}:{line}: byte offset {offset}: the octet 0x{byte:02x} is not UTF-8 (zone files are \
         read as UTF-8, of which ASCII is a part); convert the file (for Latin-1: \
         `iconv -f latin1 -t utf-8`), or write the octet as the escape \\{byte:03} in a name or string"
    ))
}

/// Refuses a plan for the catalog zone's name (`[server] catalog`): `serve` makes that zone's
/// content from the published zones, and an ordinary plan under the same name would be
/// served by no one.
pub fn refuse_catalog_origin(ctx: &Ctx, origin: &Name) -> Result<(), Failure> {
    let catalog =
        crate::config::server::catalog_name(ctx.config.as_deref()).map_err(Failure::Input)?;
    if catalog.as_ref() == Some(origin) {
        return Err(Failure::input(format!(
            "{origin} is the catalog zone ([server] catalog in the config file): serve makes its \
             content from the published zones, so it cannot be planned as an ordinary zone; \
             plan the zone under another origin, or set [server] catalog to another name"
        )));
    }
    Ok(())
}
