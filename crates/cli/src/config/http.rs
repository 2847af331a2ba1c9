//! The HTTP listener's part of the `[server]` section: `http_listen`, `ready_lag_s` and the
//! `[[server.api_tokens]]`. Every key is in docs/configuration.md.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use serde::Deserialize;
use zonegate_core::gate::Actor;
use zonegate_http::{Role, Token, parse_sha256_hex, sha256};

/// `/readyz` allows a served generation to trail the published one this long, in seconds.
pub const READY_LAG_S_DEFAULT: u64 = 10;

/// The HTTP listener's settings.
#[derive(Debug, Clone, Default)]
pub struct HttpSettings {
    /// Off unless set.
    pub listen: Option<SocketAddr>,
    pub ready_lag_s: u64,
    pub tokens: Vec<Token>,
}

/// One `[[server.api_tokens]]` entry: a name (the audit log's actor), roles, and the token as
/// its hex SHA-256 or in a file of its own. `Debug` shows no secret.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenSection {
    name: String,
    roles: Vec<Role>,
    secret_sha256: Option<String>,
    secret_file: Option<PathBuf>,
}

impl std::fmt::Debug for ApiTokenSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiTokenSection")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .field("secret_file", &self.secret_file)
            .finish_non_exhaustive()
    }
}

impl ApiTokenSection {
    /// The token, with its secret file read now; the name must be a valid audit actor.
    pub fn token(&self) -> anyhow::Result<Token> {
        let what = || format!("[[server.api_tokens]] {:?}", self.name);
        Actor::new(&self.name)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(what)?;
        let secret_sha256 = match (&self.secret_sha256, &self.secret_file) {
            (Some(hex), None) => parse_sha256_hex(hex).with_context(|| {
                format!(
                    "{}: secret_sha256 must be 64 hex digits (`printf %s TOKEN | sha256sum`)",
                    what()
                )
            })?,
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("{}: cannot read secret_file {}", what(), path.display())
                })?;
                let secret = text.trim();
                if secret.is_empty() {
                    anyhow::bail!("{}: secret_file {} is empty", what(), path.display());
                }
                sha256(secret)
            }
            _ => anyhow::bail!(
                "{}: give exactly one of secret_sha256 and secret_file",
                what()
            ),
        };
        if self.roles.is_empty() {
            anyhow::bail!(
                "{}: roles is empty; give some of read, plan, publish, approve",
                what()
            );
        }
        Ok(Token {
            name: self.name.clone(),
            roles: self.roles.clone(),
            secret_sha256,
        })
    }
}
