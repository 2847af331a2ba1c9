//! Bearer tokens: `Authorization: Bearer TOKEN`, checked against the SHA-256 of each
//! configured token. Only the hashes are kept; a secret is never logged or shown. A leaf.

use std::sync::{Arc, PoisonError, RwLock};

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// What a token may do. `read` sees zones, history and diffs (and the status page); `plan`
/// stages plans; `publish` publishes; `approve` approves and rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Read,
    Plan,
    Publish,
    Approve,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Plan => "plan",
            Role::Publish => "publish",
            Role::Approve => "approve",
        }
    }
}

/// One API token: its name (the audit log's actor), its roles and the SHA-256 of its secret.
#[derive(Clone)]
pub struct Token {
    pub name: String,
    pub roles: Vec<Role>,
    pub secret_sha256: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// Why a request is not let through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No token, or one that matches no configured token: 401.
    #[error(
        "no valid API token; send `Authorization: Bearer TOKEN` with a token from [[server.api_tokens]]"
    )]
    Unauthenticated,
    /// A valid token without the role: 403.
    #[error(
        "the token {token:?} lacks the role {role:?}; add it to the token's roles in [[server.api_tokens]]"
    )]
    Forbidden { token: String, role: &'static str },
}

/// The configured tokens. Clones share one list, which [`Tokens::replace`] swaps whole
/// (a SIGHUP re-reading the config).
#[derive(Debug, Clone, Default)]
pub struct Tokens(Arc<RwLock<Vec<Token>>>);

/// The SHA-256 of `secret`.
pub fn sha256(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Parses 64 hex digits into a SHA-256 value.
pub fn parse_sha256_hex(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl Tokens {
    pub fn new(tokens: Vec<Token>) -> Self {
        Tokens(Arc::new(RwLock::new(tokens)))
    }

    /// Replaces every token at once.
    pub fn replace(&self, tokens: Vec<Token>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = tokens;
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.0.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The token whose secret is `presented`, if it has `role`. Compares hashes, so the time
    /// taken says nothing about the secret.
    pub fn check(&self, presented: Option<&str>, role: Role) -> Result<Token, Denied> {
        let presented = presented.ok_or(Denied::Unauthenticated)?;
        let digest = sha256(presented);
        let tokens = self.0.read().unwrap_or_else(PoisonError::into_inner);
        let token = tokens
            .iter()
            .find(|t| t.secret_sha256 == digest)
            .cloned()
            .ok_or(Denied::Unauthenticated)?;
        if token.roles.contains(&role) {
            Ok(token)
        } else {
            Err(Denied::Forbidden {
                token: token.name.clone(),
                role: role.as_str(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_secrets() {
        let tokens = Tokens::new(vec![Token {
            name: "ci".into(),
            roles: vec![Role::Read, Role::Plan],
            secret_sha256: sha256("s3cret"),
        }]);
        assert_eq!(tokens.check(Some("s3cret"), Role::Plan).unwrap().name, "ci");
        assert_eq!(
            tokens.check(Some("nope"), Role::Read).unwrap_err(),
            Denied::Unauthenticated
        );
        assert_eq!(
            tokens.check(None, Role::Read).unwrap_err(),
            Denied::Unauthenticated
        );
        assert!(matches!(
            tokens.check(Some("s3cret"), Role::Publish),
            Err(Denied::Forbidden { .. })
        ));
        let hex: String = sha256("x").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(parse_sha256_hex(&hex), Some(sha256("x")));
        assert_eq!(parse_sha256_hex("abc"), None);
        assert!(!format!("{tokens:?}").contains("secret_sha256"));
        tokens.replace(Vec::new());
        assert!(tokens.is_empty());
    }
}
