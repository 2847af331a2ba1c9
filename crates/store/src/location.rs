//! Where the store lives: a SQLite file or a PostgreSQL URL, as `--db` and `ZONEGATE_DB` say,
//! and how it is shown: a URL is always printed with its password cut out.

use std::fmt;
use std::path::{Path, PathBuf};

/// A store's location: a path selects SQLite, a `postgres://` or `postgresql://` URL selects
/// PostgreSQL.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    File(PathBuf),
    Postgres(PgLocation),
}

/// A PostgreSQL server and database, with the password kept apart from the URL so that no
/// printed form can carry it.
#[derive(Clone, PartialEq, Eq)]
pub struct PgLocation {
    /// The URL without its password.
    url: String,
    /// The password the URL carried, if any (`PGPASSWORD`, libpq's passfile and
    /// [`PgLocation::with_password`] are the better places for it).
    password: Option<String>,
}

impl StoreLocation {
    /// Reads `--db`: a URL with the scheme `postgres` or `postgresql` is PostgreSQL, anything
    /// else a file path.
    pub fn parse(text: &str) -> StoreLocation {
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            StoreLocation::Postgres(PgLocation::parse(text))
        } else {
            StoreLocation::File(PathBuf::from(text))
        }
    }

    /// The SQLite file, if this is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            StoreLocation::File(path) => Some(path),
            StoreLocation::Postgres(_) => None,
        }
    }
}

impl PgLocation {
    fn parse(text: &str) -> PgLocation {
        // scheme://[user[:password]@]host…: the password is what follows the first ':' of the
        // user information, which ends at the last '@' before the path.
        let (scheme, rest) = text.split_once("://").unwrap_or(("postgres", text));
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let Some((userinfo, host)) = authority.rsplit_once('@') else {
            return PgLocation {
                url: text.to_string(),
                password: None,
            };
        };
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user, Some(password.to_string())),
            None => (userinfo, None),
        };
        PgLocation {
            url: format!("{scheme}://{user}@{host}{tail}"),
            password,
        }
    }

    /// The same location with `password` (read from a file), which wins over one in the URL.
    pub fn with_password(mut self, password: String) -> PgLocation {
        self.password = Some(password);
        self
    }

    /// The URL without its password (safe to print).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// A file-system-safe name of the server and database (`host_port_db`), for a default
    /// snapshot directory per store.
    pub fn sanitized(&self) -> String {
        let rest = self.url.split_once("://").map_or(&*self.url, |(_, r)| r);
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let rest = rest.split('?').next().unwrap_or(rest);
        let name: String = rest
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if name.is_empty() {
            "default".to_string()
        } else {
            name
        }
    }
}

impl fmt::Display for PgLocation {
    /// The URL, its password replaced by `***` when one was given.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.password, self.url.split_once("://")) {
            (Some(_), Some((scheme, rest))) => match rest.split_once('@') {
                Some((user, host)) => write!(f, "{scheme}://{user}:***@{host}"),
                None => f.write_str(&self.url),
            },
            _ => f.write_str(&self.url),
        }
    }
}

impl fmt::Debug for PgLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgLocation({self})")
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::File(path) => write!(f, "{}", path.display()),
            StoreLocation::Postgres(pg) => write!(f, "{pg}"),
        }
    }
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreLocation({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_sqlite_and_a_url_is_postgres_without_its_password_in_sight() {
        assert_eq!(
            StoreLocation::parse("./zonegate.db").file(),
            Some(Path::new("./zonegate.db"))
        );
        for text in [
            "postgres://zg:s3cret@db.example:5433/zonegate?sslmode=disable",
            "PostgreSQL://zg:s3cret@db.example:5433/zonegate?sslmode=disable",
        ] {
            let StoreLocation::Postgres(pg) = StoreLocation::parse(text) else {
                panic!("{text} is PostgreSQL");
            };
            assert!(!pg.url().contains("s3cret"), "{}", pg.url());
            assert!(!pg.to_string().contains("s3cret"), "{pg}");
            assert!(!format!("{pg:?}").contains("s3cret"), "{pg:?}");
            assert!(
                pg.to_string().contains(":***@db.example:5433/zonegate"),
                "{pg}"
            );
            assert_eq!(pg.password(), Some("s3cret"));
            assert_eq!(pg.sanitized(), "db.example_5433_zonegate");
        }
        let StoreLocation::Postgres(bare) = StoreLocation::parse("postgres://db.example/zg") else {
            panic!("a URL");
        };
        assert_eq!(bare.to_string(), "postgres://db.example/zg");
        assert_eq!(bare.password(), None);
    }
}
