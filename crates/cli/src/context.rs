//! What every command shares: the database, the gate settings and the output mode, plus the
//! small readers (store, origin, zone file, clock) the commands all start with.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use zonegate_core::gate::Actor;
use zonegate_core::{GateConfig, Name, ParsedZone, zonefile};
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
        .with_context(|| format!("cannot open the database {}", path.display()))
        .map_err(Failure::Internal)
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

/// Reads and parses a zone file, with `--zone` as its origin if given.
pub fn read_zone(path: &Path, zone: Option<&str>) -> Result<ParsedZone, Failure> {
    let origin = zone.map(parse_origin).transpose()?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read zone file {}", path.display()))
        .map_err(Failure::Input)?;
    zonefile::parse(&text, origin.as_ref(), &path.display().to_string())
        .map_err(|e| Failure::Input(anyhow::anyhow!(e)))
}
