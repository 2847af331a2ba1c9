//! Issue 14, the CLI side: what a careless operator or a hostile local user did to zonegate's
//! files and output, kept fixed. Each test failed on the code before its fix.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{BIN, Scratch, describe};

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
    for args in [["status"].as_slice(), &["history", "example.com."]] {
        let out = run_closed_stdout(&s, args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
