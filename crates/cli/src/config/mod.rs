//! The config file (`--config`, TOML): the gate settings at the top level and in `[limits]`
//! and `[policy]`, the serving options in `[server]` (see [`server`]) and the outside-in checks
//! in `[watch]` (see [`watch`]). Every key, with its
//! type and default, is in docs/configuration.md.

pub mod http;
pub mod server;
mod server_net;
pub mod watch;

use std::path::Path;

use anyhow::Context;
use zonegate_core::GateConfig;

use crate::failure::Failure;

/// The gate settings in the config file; the defaults without a file.
pub fn load_gate(path: Option<&Path>) -> Result<GateConfig, Failure> {
    let Some(path) = path else {
        return Ok(GateConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))
        .map_err(Failure::Input)?;
    let cfg: GateConfig =
        // The `[server]` section belongs to `serve` (see server.rs), not to the gate.
        server::without_server_section(&text)
            .and_then(|v| v.try_into())
        .with_context(|| format!("config file {} is not valid", path.display()))
        .map_err(Failure::Input)?;
    // Settings under which no plan could pass are refused now, not by every plan later.
    cfg.check()
        .with_context(|| format!("config file {} is not valid", path.display()))
        .map_err(Failure::Input)?;
    Ok(cfg)
}
