//! Helpers shared by the end-to-end tests: run the real `zonegate` binary, start a server on a
//! free loopback port, ask it questions with `dig`, and run a real Knot DNS secondary
//! (`Knot`, used by interop.rs, watch.rs, update.rs and catalog.rs).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use zonegate_testkit::wait_until_every;

pub const BIN: &str = env!("CARGO_BIN_EXE_zonegate");

/// A small example.com. zone: its SOA serial and `www`'s addresses.
pub fn example_zone(serial: u32, www: &[&str]) -> String {
    let mut z = format!(
        "$ORIGIN example.com.\n$TTL 300\n\
         @ IN SOA ns1 hostmaster {serial} 3600 600 604800 60\n\
         @ IN NS ns1\n\
         ns1 IN A 192.0.2.1\n\
         mail IN A 192.0.2.25\n"
    );
    for a in www {
        z.push_str(&format!("www IN A {a}\n"));
    }
    z
}

/// A scratch directory with a database, removed on drop.
pub struct Scratch {
    pub dir: PathBuf,
    /// A PostgreSQL store instead of the SQLite file: the URL without its password, and the
    /// password, given to every command by `PGPASSWORD` (see [`Scratch::on_postgres`]).
    pub postgres: Option<(String, String)>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("zonegate-e2e-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch {
            dir,
            postgres: None,
        }
    }

    /// A scratch directory whose commands use a fresh database on `cluster`, the URL in
    /// `--db` and the password in `PGPASSWORD`; `serve` keeps its snapshots under the
    /// directory (`XDG_STATE_HOME`, the default place for a URL).
    pub fn on_postgres(name: &str, cluster: &zonegate_testkit::postgres::PgCluster) -> Scratch {
        let mut scratch = Scratch::new(name);
        let url = cluster.fresh_database(name);
        let without = url.replacen(&format!(":{}@", cluster.password()), "@", 1);
        scratch.postgres = Some((without, cluster.password().to_string()));
        scratch
    }

    /// What `--db` says: the SQLite file or the PostgreSQL URL.
    pub fn db_arg(&self) -> std::ffi::OsString {
        match &self.postgres {
            Some((url, _)) => url.into(),
            None => self.db().into_os_string(),
        }
    }

    /// `zonegate --db … args…` as a command, with the environment the store needs.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .arg("--db")
            .arg(self.db_arg())
            .args(args)
            .env_remove("ZONEGATE_DB")
            .env_remove("ZONEGATE_CONFIG")
            .env_remove("PGPASSWORD")
            .env("XDG_STATE_HOME", self.dir.join("state"));
        if let Some((_, password)) = &self.postgres {
            command.env("PGPASSWORD", password);
        }
        command
    }

    pub fn db(&self) -> PathBuf {
        self.dir.join("zonegate.db")
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Runs `zonegate --db <db> args...`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run zonegate")
    }

    pub fn run_ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "zonegate {args:?} failed:\n{}",
            describe(&out)
        );
        out
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "zonegate {args:?} did not print JSON ({e}):\n{}",
                describe(&out)
            )
        })
    }

    pub fn serve(&self) -> Server {
        self.serve_with(&[])
    }

    /// `serve` on a free loopback port with `extra` arguments, once it answers.
    pub fn serve_with(&self, extra: &[&str]) -> Server {
        let addr = free_addr();
        let child = self
            .command(&["serve", "--listen", &addr.to_string()])
            .args(extra)
            .env("ZONEGATE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn zonegate serve");
        let server = Server { child, addr };
        server.wait_ready();
        server
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A loopback address whose port is free for both UDP and TCP right now.
pub fn free_addr() -> SocketAddr {
    for _ in 0..100 {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = udp.local_addr().unwrap();
        if addr.port() < 10000 {
            continue;
        }
        if TcpListener::bind(addr).is_ok() {
            return addr;
        }
    }
    panic!("no free loopback port");
}

/// A running `zonegate serve`, killed on drop.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Server {
    fn wait_ready(&self) {
        // Any answer at all (even REFUSED) means the socket is up.
        let up = wait_until_every(Duration::from_secs(20), Duration::from_millis(50), || {
            dig_at(self.addr, &["zonegate.invalid.", "SOA"], false)
                .status
                .is_some()
        });
        if up.is_none() {
            panic!("zonegate serve did not answer on {} within 20 s", self.addr);
        }
    }

    pub fn dig(&self, name: &str, rtype: &str) -> Dig {
        dig_at(self.addr, &[name, rtype], false)
    }

    pub fn dig_tcp(&self, name: &str, rtype: &str) -> Dig {
        dig_at(self.addr, &[name, rtype], true)
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let mut status = None;
        wait_until_every(Duration::from_secs(10), Duration::from_millis(20), || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        assert!(status.is_some(), "serve did not stop on SIGTERM");
        status.unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What dig saw.
#[derive(Debug, Clone, Default)]
pub struct Dig {
    /// NOERROR, NXDOMAIN, REFUSED, ...; None if there was no answer.
    pub status: Option<String>,
    pub flags: Vec<String>,
    /// Records as (owner, ttl, type, rdata), lower case.
    pub answer: Vec<(String, u32, String, String)>,
    pub authority: Vec<(String, u32, String, String)>,
    pub additional: Vec<(String, u32, String, String)>,
    pub raw: String,
}

impl Dig {
    pub fn aa(&self) -> bool {
        self.flags.iter().any(|f| f == "aa")
    }

    /// Rdata of answer records of one type, sorted.
    pub fn rdata(&self, rtype: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .answer
            .iter()
            .filter(|r| r.2 == rtype)
            .map(|r| r.3.clone())
            .collect();
        v.sort();
        v
    }
}

pub fn dig_at(addr: SocketAddr, query: &[&str], tcp: bool) -> Dig {
    let mut cmd = Command::new("dig");
    cmd.arg(format!("@{}", addr.ip()))
        .args(["-p", &addr.port().to_string()])
        .args(["+norecurse", "+noedns", "+time=1", "+tries=1", "+nocookie"])
        .args(query);
    if tcp {
        cmd.arg("+tcp");
    }
    let out = cmd.output().expect("run dig (install bind9-dnsutils)");
    parse_dig(&String::from_utf8_lossy(&out.stdout))
}

fn parse_dig(text: &str) -> Dig {
    let mut dig = Dig {
        raw: text.to_string(),
        ..Dig::default()
    };
    let mut section = "";
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(";; ->>HEADER<<-") {
            dig.status = rest
                .split(',')
                .find_map(|p| p.trim().strip_prefix("status: "))
                .map(|s| s.trim().to_string());
        } else if let Some(rest) = line.strip_prefix(";; flags: ") {
            let flags = rest.split(';').next().unwrap_or("");
            dig.flags = flags.split_whitespace().map(|s| s.to_string()).collect();
        } else if line.starts_with(";; ANSWER SECTION") {
            section = "answer";
        } else if line.starts_with(";; AUTHORITY SECTION") {
            section = "authority";
        } else if line.starts_with(";; ADDITIONAL SECTION") {
            section = "additional";
        } else if line.trim().is_empty() || line.starts_with(';') {
            if line.trim().is_empty() {
                section = "";
            }
        } else if !section.is_empty() {
            let mut parts = line.split_whitespace();
            let owner = parts.next().unwrap_or("").to_lowercase();
            let ttl = parts.next().unwrap_or("0").parse().unwrap_or(0);
            let _class = parts.next();
            let rtype = parts.next().unwrap_or("").to_string();
            let rdata = parts.collect::<Vec<_>>().join(" ").to_lowercase();
            let rr = (owner, ttl, rtype, rdata);
            match section {
                "answer" => dig.answer.push(rr),
                "authority" => dig.authority.push(rr),
                _ => dig.additional.push(rr),
            }
        }
    }
    dig
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Another process with the database open: the sqlite3 shell, given `statements` and kept
/// running (with what they did: an open transaction, a lock, a connection that keeps the
/// write-ahead log alive as a running server does) until it is dropped.
pub struct SqliteShell {
    child: Child,
}

impl SqliteShell {
    /// Starts the shell on `db`, runs `statements` and waits until it prints the line `ready`
    /// (the last statement should `SELECT` it).
    pub fn start(db: &Path, statements: &str, ready: &str) -> SqliteShell {
        let mut child = Command::new("sqlite3")
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the sqlite3 shell (Debian package sqlite3; .ci/run installs it)");
        let stdin = child.stdin.as_mut().unwrap();
        stdin.write_all(statements.as_bytes()).unwrap();
        stdin.flush().unwrap();
        let mut out = BufReader::new(child.stdout.as_mut().unwrap());
        let mut line = String::new();
        while line.trim() != ready {
            line.clear();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "sqlite3 ended before it printed {ready:?}"
            );
        }
        SqliteShell { child }
    }
}

impl Drop for SqliteShell {
    fn drop(&mut self) {
        // Closing its input ends the shell, which rolls back whatever it left open.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}
/// A child process killed on drop.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Fails (never skips) when `tool` is not on PATH, naming the Debian package to install.
pub fn require(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{tool} is not installed; run .ci/run or apt-get install {package}"
    );
}

/// `zonegate serve --listen addr` on the scratch database with `config`, its log (at info)
/// in `log`.
pub fn serve_logged(s: &Scratch, addr: SocketAddr, config: &Path, log: &Path) -> Process {
    Process(
        Command::new(BIN)
            .arg("--db")
            .arg(s.db())
            .arg("--config")
            .arg(config)
            .args(["serve", "--listen", &addr.to_string()])
            .env("ZONEGATE_LOG", "info,hickory_server=warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("spawn zonegate serve"),
    )
}

/// Waits up to `limit` for `done`, failing with `what` and the log file's text.
pub fn wait_for(what: &str, limit: Duration, done: impl FnMut() -> bool, log: &Path) {
    let done = wait_until_every(limit, Duration::from_millis(100), done);
    assert!(
        done.is_some(),
        "{what} within {limit:?}; log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A Knot DNS server (Debian's `knot`) on `addr`, with everything in a fresh directory: the
/// config file, its database, its zones. [`Knot::secondary_of`] gives the usual
/// remote and NOTIFY ACL of a zonegate primary; the caller adds its zones.
pub struct Knot {
    pub dir: PathBuf,
    pub addr: SocketAddr,
}

impl Knot {
    pub fn new(dir: &Path, addr: SocketAddr) -> Knot {
        require("knotd", "knot");
        let _ = std::fs::remove_dir_all(dir);
        for sub in ["db", "zones"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        Knot {
            dir: dir.to_path_buf(),
            addr,
        }
    }

    /// The `remote` `primary` (zonegate at `primary`) and the `acl` `notify_from_primary`,
    /// both with the TSIG key `key` if given (its `key:` section is the caller's), and the
    /// default template: zones kept in the journal only, never written to or read from a file.
    pub fn secondary_of(&self, primary: SocketAddr, key: Option<&str>) -> String {
        let use_key = key.map(|k| format!("    key: {k}\n")).unwrap_or_default();
        format!(
            "remote:\n  - id: primary\n    address: {}@{}\n{use_key}\
             acl:\n  - id: notify_from_primary\n    address: {}\n    action: notify\n{use_key}\
             template:\n  - id: default\n    storage: \"{}\"\n    zonefile-sync: -1\n    \
             zonefile-load: none\n    journal-content: changes\n",
            primary.ip(),
            primary.port(),
            primary.ip(),
            self.dir.join("zones").display()
        )
    }

    /// Writes the config (server, log and database sections, then `sections`) and starts
    /// knotd, its log in `<dir>.log` (returned).
    pub fn start(&self, sections: &str) -> (Process, PathBuf) {
        let d = self.dir.display();
        let conf = format!(
            "server:\n    rundir: \"{d}\"\n    listen: {}@{}\nlog:\n  - target: stderr\n    any: info\n\
             database:\n    storage: \"{d}/db\"\n{sections}",
            self.addr.ip(),
            self.addr.port()
        );
        std::fs::write(self.dir.join("knot.conf"), conf).unwrap();
        let log = self.dir.with_extension("log");
        let p = Process(
            Command::new("knotd")
                .arg("-c")
                .arg(self.dir.join("knot.conf"))
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("spawn knotd"),
        );
        (p, log)
    }
}

/// The SOA serial `addr` answers for `zone` with AA set, if it does.
pub fn soa_serial(addr: SocketAddr, zone: &str) -> Option<u32> {
    let d = dig_at(addr, &[zone, "SOA"], false);
    if d.status.as_deref() != Some("NOERROR") || !d.aa() {
        return None;
    }
    d.answer
        .first()
        .and_then(|r| r.3.split_whitespace().nth(2))
        .and_then(|s| s.parse().ok())
}

/// `dig AXFR zone` at `addr`, with `-y key` (`algorithm:name:secret`) if given: dig's text.
pub fn dig_axfr(addr: SocketAddr, zone: &str, key: Option<&str>) -> String {
    let mut cmd = Command::new("dig");
    cmd.arg(format!("@{}", addr.ip()))
        .args(["-p", &addr.port().to_string()])
        .args(["+time=2", "+tries=1", "+nocookie", zone, "AXFR"]);
    if let Some(k) = key {
        cmd.args(["-y", k]);
    }
    let out = cmd.output().expect("run dig (install bind9-dnsutils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
