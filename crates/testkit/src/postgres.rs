//! A throwaway PostgreSQL for the tests that need one, found without manual steps.
//!
//! [`shared`] gives the cluster of this test process: the URL in `ZONEGATE_TEST_PG_URL` if it is
//! set (a superuser's, on a server the tests may create databases on), else a cluster of its own
//! that it starts on first use with the Debian binaries (`initdb` and `pg_ctl` from
//! `/usr/lib/postgresql/<version>/bin`), in a temporary directory, on a free loopback port,
//! with password authentication (scram-sha-256, so the tests exercise a real password) and
//! durability off (a test cluster never outlives its process). Run as root (CI), the server
//! runs as the `postgres` user through `runuser`, because PostgreSQL refuses to run as root.
//!
//! Each test takes a database of its own with [`PgCluster::fresh_database`]. A small watchdog
//! process stops the cluster by its data directory (`pg_ctl stop`, which signals the
//! postmaster's PID) and removes the directory once the test process has exited, however it
//! exited. [`PgCluster::start`] starts a private cluster that a test may stop and start again
//! (static stability); it is stopped when dropped.
//!
//! A missing PostgreSQL is a failure with what to install, never a skip.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The password of the `postgres` superuser of a cluster this module starts.
pub const PASSWORD: &str = "zonegate-test-password";

/// A PostgreSQL server the tests may create databases on.
pub struct PgCluster {
    /// `postgres://postgres@127.0.0.1:PORT` without password and database.
    base: String,
    password: String,
    /// The data directory and binaries of a cluster this module started (None for an
    /// outside one).
    own: Option<Own>,
}

struct Own {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
}

/// The cluster of this test process, started on first use.
pub fn shared() -> &'static PgCluster {
    static SHARED: OnceLock<PgCluster> = OnceLock::new();
    SHARED.get_or_init(|| match std::env::var("ZONEGATE_TEST_PG_URL") {
        Ok(url) => PgCluster::outside(&url),
        Err(_) => PgCluster::start(),
    })
}

impl PgCluster {
    fn outside(url: &str) -> PgCluster {
        let url = url.trim_end_matches('/');
        let (base, password) = match url.split_once("://") {
            Some((scheme, rest)) => match rest.rsplit_once('@') {
                Some((user, host)) => match user.split_once(':') {
                    Some((user, pw)) => (format!("{scheme}://{user}@{host}"), pw.to_string()),
                    None => (url.to_string(), String::new()),
                },
                None => (url.to_string(), String::new()),
            },
            None => panic!("ZONEGATE_TEST_PG_URL={url} is not a postgres:// URL"),
        };
        PgCluster {
            base,
            password,
            own: None,
        }
    }

    /// Starts a cluster of its own on a free loopback port. Panics, saying what to install,
    /// when PostgreSQL is missing.
    pub fn start() -> PgCluster {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let bin = binaries();
        let root = std::env::temp_dir().join(format!(
            "zonegate-pg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("make the cluster directory");
        let pwfile = root.join("pwfile");
        std::fs::write(&pwfile, PASSWORD).expect("write the password file");
        if is_root() {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(&root));
        }
        run(as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(root.join("data"))
            .args([
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "--auth=scram-sha-256",
            ])
            .arg(format!("--pwfile={}", pwfile.display())));
        let port = free_port();
        let own = Own { root, bin, port };
        own.start_server();
        watchdog(&own);
        PgCluster {
            base: format!("postgres://postgres@127.0.0.1:{port}"),
            password: PASSWORD.to_string(),
            own: Some(own),
        }
    }

    /// The superuser's URL of database `db`, password included.
    pub fn url(&self, db: &str) -> String {
        match self.base.split_once('@') {
            Some((user, host)) if !self.password.is_empty() => {
                format!("{user}:{}@{host}/{db}", self.password)
            }
            _ => self.url_without_password(db),
        }
    }

    /// The superuser's URL of database `db`, without the password (give it by `PGPASSWORD`
    /// or a password file).
    pub fn url_without_password(&self, db: &str) -> String {
        format!("{}/{db}", self.base)
    }

    /// The superuser's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// A new, empty database named after `tag` (made unique), and its URL with the password.
    pub fn fresh_database(&self, tag: &str) -> String {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let clean: String = tag
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(30)
            .collect();
        let name = format!(
            "zg_{}_{}_{clean}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let createdb = match &self.own {
            Some(own) => own.bin.join("createdb"),
            None => binaries().join("createdb"),
        };
        run(Command::new(createdb)
            .env("PGPASSWORD", &self.password)
            .arg(format!(
                "--maintenance-db={}",
                self.url_without_password("postgres")
            ))
            .arg(&name));
        self.url(&name)
    }

    /// Stops this cluster's server (fast shutdown: open connections are cut). Only for a
    /// cluster of its own.
    pub fn stop(&self) {
        let own = self
            .own
            .as_ref()
            .expect("only a cluster this module started can be stopped");
        run(as_postgres(&own.bin.join("pg_ctl"))
            .arg("-D")
            .arg(own.root.join("data"))
            .args(["stop", "-m", "fast", "-w"]));
    }

    /// Starts this cluster's server again, on the same port.
    pub fn restart(&self) {
        self.own
            .as_ref()
            .expect("only a cluster this module started can be started")
            .start_server();
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Some(own) = &self.own {
            let _ = as_postgres(&own.bin.join("pg_ctl"))
                .arg("-D")
                .arg(own.root.join("data"))
                .args(["stop", "-m", "immediate", "-w"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = std::fs::remove_dir_all(&own.root);
        }
    }
}

impl Own {
    fn start_server(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories={} \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
             -c max_connections=300",
            self.port,
            self.root.display()
        );
        run(as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.root.join("data"))
            .arg("-l")
            .arg(self.root.join("log"))
            .args(["-o", &options, "-w", "-t", "60", "start"]));
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` with `initdb` in it.
fn binaries() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: install them \
             (`apt-get install postgresql`; .ci/run does), or set ZONEGATE_TEST_PG_URL to a \
             superuser's URL of a server the tests may create databases on"
        ),
    }
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `program`, run as the `postgres` user when we are root.
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A process that outlives this one and, once this one has exited, stops the cluster and
/// removes its directory: statics are never dropped, and a test process may be killed.
fn watchdog(own: &Own) {
    let pg_ctl = own.bin.join("pg_ctl");
    let stop = if is_root() {
        format!("runuser -u postgres -- {}", pg_ctl.display())
    } else {
        pg_ctl.display().to_string()
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         {stop} -D '{data}' stop -m immediate >/dev/null 2>&1; rm -rf '{root}'",
        pid = std::process::id(),
        data = own.root.join("data").display(),
        root = own.root.display(),
    );
    // `setsid --fork` returns at once, leaving the watchdog in a session of its own.
    let started = Command::new("setsid")
        .args(["--fork", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("start the cluster's watchdog");
    assert!(
        started.success(),
        "setsid failed to start the cluster's watchdog: {started}"
    );
}
