//! Issue 14, the CLI side: what a careless operator or a hostile local user did to zonegate's
//! files and output, kept fixed. Each test failed on the code before its fix.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{BIN, Scratch, SqliteShell, describe};

fn zone(serial: u32, records: &str) -> String {
    format!(
        "$ORIGIN example.com.\n$TTL 300\n\
         @ IN SOA ns1.example.net. hostmaster.example.net. {serial} 3600 600 604800 60\n\
         @ IN NS ns1.example.net.\n{records}"
    )
}

/// `zonegate --db <db> args...` with extra environment.
fn run_env(s: &Scratch, env: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command
        .arg("--db")
        .arg(s.db())
        .args(args)
        .env_remove("ZONEGATE_DB")
        .env_remove("ZONEGATE_CONFIG");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run zonegate")
}

fn review_config(s: &Scratch, script: &str) -> std::path::PathBuf {
    let path = s.write("review.sh", script);
    s.write(
        "review.toml",
        &format!(
            "[policy]\nreview = \"command\"\nreview_command = [\"sh\", \"{}\"]\nreview_timeout_s = 20\n",
            path.display()
        ),
    )
}

/// The last PID the kernel handed out, so that the test can plant directories for the next ones.
fn last_pid() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .expect("/proc/sys/kernel/ns_last_pid")
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_planted_review_directory_or_symlink_cannot_redirect_the_review_files() {
    let s = Scratch::new("review-planted");
    let tmp = s.dir.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let victim = s.write("victim", "precious\n");
    // The hook records the mode of its directory and whether its files are plain files.
    let cfg = review_config(
        &s,
        &format!(
            "#!/bin/sh\nd=$(dirname \"$ZONEGATE_DIFF_FILE\")\n\
             stat -c %a \"$d\" > {dir}/mode\n\
             test -L \"$ZONEGATE_DIFF_FILE\" && echo symlink > {dir}/mode\n\
             test -L \"$ZONEGATE_PLAN_FILE\" && echo symlink > {dir}/mode\n\
             echo \"$d\" > {dir}/where\nexit 0\n",
            dir = s.dir.display()
        ),
    );
    // An attacker's trap: the names the old code used, for the next 400 PIDs, each file a
    // symlink to the victim.
    let first = last_pid() + 1;
    for pid in first..first + 400 {
        let d = tmp.join(format!("zonegate-review-{pid}-1"));
        std::fs::create_dir(&d).unwrap();
        for f in ["diff.txt", "plan.json", "output.log"] {
            std::os::unix::fs::symlink(&victim, d.join(f)).unwrap();
        }
    }
    let z = s.write("z.zone", &zone(1, "www A 192.0.2.1\n"));
    let out = run_env(
        &s,
        &[("TMPDIR", &tmp)],
        &[
            "--config",
            cfg.to_str().unwrap(),
            "apply",
            z.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let mode = std::fs::read_to_string(s.dir.join("mode")).unwrap();
    assert_eq!(mode.trim(), "700", "the review directory's mode");
    let used = std::fs::read_to_string(s.dir.join("where")).unwrap();
    let used = Path::new(used.trim());
    assert!(used.starts_with(&tmp), "{used:?} is not under TMPDIR");
    assert!(!used.exists(), "{used:?} was left behind");
    // The planted directories are untouched (still three symlinks each), none was used.
    let planted = std::fs::read_dir(&tmp).unwrap().count();
    assert_eq!(planted, 400, "the review used or left an entry in TMPDIR");
}

#[test]
fn a_review_commands_output_is_capped_and_the_excess_counted() {
    let s = Scratch::new("review-output");
    let cfg = review_config(
        &s,
        "#!/bin/sh\nhead -c 100000000 /dev/zero | tr '\\0' 'x'\necho\necho done >&2\nexit 0\n",
    );
    let z = s.write("z.zone", &zone(1, "www A 192.0.2.1\n"));
    let out = s.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "apply",
        z.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "exit {:?}", out.status.code());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.stderr.len() < 256 * 1024,
        "{} octets of review output reached stderr",
        out.stderr.len()
    );
    let dropped = 100_000_000 + 1 + 5 - 64 * 1024;
    assert!(
        stderr.contains(&format!("({dropped} more octets of output dropped")),
        "{}",
        &stderr[stderr.len().saturating_sub(2000)..]
    );
}

/// Runs zonegate with stdout a pipe whose reading end is already closed.
fn run_closed_stdout(s: &Scratch, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(BIN)
        .arg("--db")
        .arg(s.db())
        .args(args)
        .env_remove("ZONEGATE_DB")
        .env_remove("ZONEGATE_CONFIG")
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("run zonegate")
}

#[test]
fn a_closed_stdout_never_panics_and_the_exit_code_tells_the_outcome() {
    let s = Scratch::new("epipe");
    let z = s.write("z.zone", &zone(1, "www A 192.0.2.1\n"));
    for json in [false, true] {
        let mut args = vec!["apply", z.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        let out = run_closed_stdout(&s, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(out.status.code(), Some(0), "{stderr}");
    }
    // It really published, and a refusal still says 3 with nobody reading.
    let status = s.json(&["status", "example.com.", "--json"]);
    assert_eq!(status["zones"][0]["published"], 1, "{status}");
    let empty = s.write("empty.zone", "");
    let out = run_closed_stdout(
        &s,
        &["apply", empty.to_str().unwrap(), "--zone", "example.com."],
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    assert!(matches!(out.status.code(), Some(2 | 3)), "{:?}", out.status);
    for args in [
        ["status"].as_slice(),
        &["history", "example.com."],
        &["export", "example.com."],
    ] {
        let out = run_closed_stdout(&s, args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

const OK_ZONE: &str = "www A 192.0.2.1\nmail A 192.0.2.2\n";

#[test]
fn check_parses_and_validates_without_a_database() {
    let s = Scratch::new("check");
    let good = s.write("good.zone", &zone(1, OK_ZONE));
    let out = s.run(&["check", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("zone example.com.: valid, 4 records"));
    let v = s.json(&["check", good.to_str().unwrap(), "--json"]);
    assert_eq!(
        (v["outcome"].as_str(), v["records"].as_u64()),
        (Some("valid"), Some(4)),
        "{v}"
    );
    assert!(v["hash"].as_str().unwrap().starts_with("sha256:"), "{v}");
    // Invalid (in-zone NS without glue): 3, with the rule; unparsable: 2.
    let invalid = s.write("invalid.zone", &zone(1, "@ NS ns.example.com.\n"));
    let v = s.json(&["check", invalid.to_str().unwrap(), "--json"]);
    assert_eq!(v["outcome"], "refused", "{v}");
    assert_eq!(v["reason"], "invalid:missing-glue", "{v}");
    assert_eq!(
        s.run(&["check", invalid.to_str().unwrap()]).status.code(),
        Some(3)
    );
    let broken = s.write("broken.zone", &zone(1, "www A not-an-address\n"));
    let out = s.run(&["check", broken.to_str().unwrap(), "--zone", "example.com"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("broken.zone:5:"),
        "{}",
        describe(&out)
    );
    assert!(!s.db().exists(), "check created a database");
}

#[test]
fn commands_that_only_read_never_create_a_database() {
    let s = Scratch::new("read-only");
    for args in [
        ["status"].as_slice(),
        &["status", "example.com."],
        &["history", "example.com."],
        &["diff", "example.com.", "1"],
    ] {
        let out = s.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("there is no database at"),
            "{args:?}: {stderr}"
        );
        assert!(!s.db().exists(), "{args:?} created {}", s.db().display());
    }
}

#[test]
fn a_file_over_body_bytes_max_is_refused_before_it_is_read() {
    let s = Scratch::new("big-file");
    let cfg = s.write("limits.toml", "[limits]\nbody_bytes_max = 1000\n");
    let mut text = zone(1, OK_ZONE);
    text.push_str(&"; padding\n".repeat(200));
    let z = s.write("big.zone", &text);
    let v = s.json(&[
        "--config",
        cfg.to_str().unwrap(),
        "apply",
        z.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(v["reason"], "limit:body_bytes_max", "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("it was not read"),
        "{v}"
    );
    let out = s.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "check",
        z.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
}

#[test]
fn parsing_stops_at_records_max_plus_one() {
    let s = Scratch::new("many-records");
    let cfg = s.write("limits.toml", "[limits]\nrecords_max = 10\n");
    let mut records = String::new();
    for i in 0..100_000 {
        records.push_str(&format!("h{i} A 10.0.{}.{}\n", i / 256 % 256, i % 256));
    }
    let z = s.write("many.zone", &zone(1, &records));
    let out = s.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "plan",
        z.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reason"], "limit:records_max", "{v}");
    // The 11th record (SOA, NS, h0..h7, then h8) is on line 13: the parse stopped there.
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains("many.zone:13: more than 10 records"),
        "{message}"
    );
}

#[test]
fn encodings_names_and_byte_order_marks_are_explained() {
    let s = Scratch::new("encodings");
    // A Latin-1 byte in a comment on line 6.
    let mut bytes = zone(1, OK_ZONE).into_bytes();
    bytes.extend_from_slice(b"; caf\xe9\n");
    let latin1 = s.dir.join("latin1.zone");
    std::fs::write(&latin1, &bytes).unwrap();
    let out = s.run(&["check", latin1.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let offset = bytes.iter().position(|&b| b == 0xe9).unwrap();
    assert!(
        stderr.contains(&format!(
            "latin1.zone:7: byte offset {offset}: the octet 0xe9 is not UTF-8"
        )),
        "{stderr}"
    );
    // A byte-order mark is accepted.
    let bom = s.write("bom.zone", &format!("\u{feff}{}", zone(1, OK_ZONE)));
    let out = s.run(&["check", bom.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    // A bad name says why.
    let long = s.write(
        "long.zone",
        &zone(1, &format!("{} A 192.0.2.9\n", "x".repeat(64))),
    );
    let out = s.run(&["check", long.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a label of 64 octets; a label holds at most 63"),
        "{stderr}"
    );
}

#[test]
fn configs_that_cannot_work_are_refused_at_load() {
    let s = Scratch::new("bad-config");
    let z = s.write("z.zone", &zone(1, OK_ZONE));
    for (text, says) in [
        (
            "[limits]\nttl_min = 600\nttl_max = 60\n",
            "ttl_min = 600 is above limits.ttl_max = 60",
        ),
        (
            "[limits]\nrecords_max = 0\n",
            "limits.records_max = 0 cannot work",
        ),
        ("plan_age_max_s = 0\n", "plan_age_max_s = 0 cannot work"),
    ] {
        let cfg = s.write("c.toml", text);
        let out = s.run(&[
            "--config",
            cfg.to_str().unwrap(),
            "check",
            z.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{text}: {}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{text}: {stderr}");
    }
}

/// Runs zonegate as the unprivileged user `nobody` (the tests run as root, which no file mode
/// stops), through util-linux's `setpriv`.
fn run_as_nobody(s: &Scratch, db: &Path, args: &[&str]) -> Output {
    Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            BIN,
            "--db",
        ])
        .arg(db)
        .args(args)
        .current_dir(&s.dir)
        .env_remove("ZONEGATE_DB")
        .env_remove("ZONEGATE_CONFIG")
        .output()
        .expect("setpriv (util-linux) runs zonegate as nobody")
}

#[test]
fn store_errors_say_once_what_failed_and_name_permission_problems() {
    let s = Scratch::new("perms");
    let z = s.write("z.zone", &zone(1, OK_ZONE));
    s.run_ok(&["apply", z.to_str().unwrap()]);
    for entry in std::fs::read_dir(&s.dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().contains("zonegate.db") {
            continue;
        }
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
    }
    let z_text = z.to_str().unwrap();
    for (db, args) in [
        (s.db(), vec!["status"]),
        (s.db(), vec!["apply", z_text]),
        (s.dir.join("new.db"), vec!["apply", z_text]),
    ] {
        let out = run_as_nobody(&s, &db, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("permission denied"), "{args:?}: {stderr}");
        assert_eq!(stderr.matches("store unavailable").count(), 0, "{stderr}");
        assert_eq!(stderr.matches("cannot open").count(), 1, "{stderr}");
    }
}

#[test]
fn history_prints_rfc3339_times() {
    let s = Scratch::new("times");
    let z = s.write("z.zone", &zone(1, OK_ZONE));
    s.run_ok(&["apply", z.to_str().unwrap()]);
    let out = s.run_ok(&["history", "example.com."]);
    let text = String::from_utf8_lossy(&out.stdout);
    let v = s.json(&["history", "example.com.", "--json"]);
    let at = v["audit"][0]["at"].as_u64().unwrap();
    // The JSON keeps seconds; the words say the date.
    let date = Command::new("date")
        .args(["-u", "-d", &format!("@{at}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    let date = String::from_utf8(date.stdout).unwrap();
    assert!(text.contains(date.trim()), "{text}");
    assert!(!text.contains(&at.to_string()), "{text}");
}

/// A small volume of its own (tmpfs), unmounted on drop. Needs root and the right to mount, as
/// CI has.
struct Volume(std::path::PathBuf);

impl Volume {
    fn new(at: std::path::PathBuf, size: &str) -> Volume {
        std::fs::create_dir_all(&at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .output()
            .expect("mount");
        assert!(
            out.status.success(),
            "cannot mount a tmpfs: {}",
            describe(&out)
        );
        Volume(at)
    }
}

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// `count` TXT records named `prefix0`, `prefix1`, ..., 48 octets of text each.
fn txt_records(prefix: &str, count: usize) -> String {
    let mut records = String::from(OK_ZONE);
    for i in 0..count {
        records.push_str(&format!("{prefix}{i} TXT \"{i:0>48}\"\n"));
    }
    records
}

/// The failed write fills the disk while another connection keeps the write-ahead log alive,
/// as a running `serve` does, and the log still holds what the apply before it committed. The
/// checkpoint after the failure had to copy those frames into the database file first, which
/// grows it: on the full disk that failed (`SQLITE_FULL`) and the log stayed at the volume's
/// size, every time here; without the other connection, whenever the apply before had not
/// checkpointed the log on exit (about half the runs under load).
#[test]
fn a_failed_oversized_write_leaves_the_write_ahead_log_truncated() {
    let s = Scratch::new("full-disk");
    let volume = Volume::new(s.dir.join("vol"), "12m");
    let db = volume.0.join("z.db");
    let run = |zonefile: &Path| {
        Command::new(BIN)
            .arg("--db")
            .arg(&db)
            .args(["apply", zonefile.to_str().unwrap()])
            .env_remove("ZONEGATE_DB")
            .env_remove("ZONEGATE_CONFIG")
            .output()
            .unwrap()
    };
    let small = s.write("small.zone", &zone(1, OK_ZONE));
    let out = run(&small);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let reader = SqliteShell::start(&db, "SELECT 'open' FROM plans LIMIT 1;\n", "open");
    // Some 200 KB committed into the log, which the open connection keeps.
    let medium = s.write("medium.zone", &zone(2, &txt_records("m", 3_000)));
    let out = run(&medium);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let mut wal = db.clone().into_os_string();
    wal.push("-wal");
    let wal = std::path::PathBuf::from(wal);
    assert!(
        file_len(&wal) > 100_000,
        "the log holds {} bytes",
        file_len(&wal)
    );
    // About 24 MB of body: more than the volume holds.
    let big = s.write("big.zone", &zone(3, &txt_records("t", 300_000)));
    let out = run(&big);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("full"), "{stderr}");
    assert!(
        file_len(&wal) < 1024 * 1024,
        "the write-ahead log kept {} bytes after the failed write",
        file_len(&wal)
    );
    // The disk has room again: the next apply works.
    let next = s.write("next.zone", &zone(4, &txt_records("m", 3_001)));
    let out = run(&next);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    drop(reader);
    drop(volume);
}
