//! End-to-end on PostgreSQL: the real binary with `--db postgres://…` against a real
//! PostgreSQL (the test process's throwaway cluster from `zonegate_testkit::postgres`, or
//! `ZONEGATE_TEST_PG_URL`), and the same commands on SQLite for comparison. A missing
//! PostgreSQL fails these tests.
//!
//! - `apply`, `plan`, `publish`, `status`, `history` and `serve` give the same outputs and
//!   exit codes on both stores.
//! - Static stability on the shared store (issue 11): PostgreSQL stopped, `serve` keeps
//!   answering and `apply` exits 1 with "store unavailable" (within the connect timeout: the
//!   test bounds the wait); a server started while PostgreSQL is down answers from its
//!   snapshots in the default directory for a URL; PostgreSQL back, the servers pick up a new
//!   publication by themselves.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use zonegate_testkit::postgres::{PgCluster, shared};
use zonegate_testkit::wait_until;

/// A bound on waits that must end (reconnect backoff, fallback poll); not a timing target.
const BOUND: Duration = Duration::from_secs(40);

use common::example_zone as zone;

/// The fields of a `--json` output that say what happened, without times and ids.
fn stable(mut v: serde_json::Value) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                for key in [
                    "at",
                    "created_at",
                    "published_at",
                    "updated_at",
                    "id",
                    "expires_at",
                ] {
                    map.remove(key);
                }
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

/// The same session on a store: exit codes and the JSON outputs that matter.
fn session(s: &Scratch) -> Vec<(String, Option<i32>, serde_json::Value)> {
    let v1 = s.write("v1.zone", &zone(1, &["192.0.2.10"]));
    let v2 = s.write("v2.zone", &zone(2, &["192.0.2.20"]));
    let v3 = s.write("v3.zone", &zone(3, &["192.0.2.30"]));
    let empty = s.write("empty.zone", "$ORIGIN example.com.\n");
    let mut seen = Vec::new();
    // Messages name the store: the same words around another location.
    let shown = s.db_arg().to_string_lossy().into_owned();
    let mut step = |name: &str, args: &[&str]| {
        let out = s.run(args);
        let text = String::from_utf8_lossy(&out.stdout).replace(&shown, "<db>");
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        seen.push((name.to_string(), out.status.code(), stable(json)));
    };
    step("apply v1", &["apply", v1.to_str().unwrap(), "--json"]);
    step("apply v1 again", &["apply", v1.to_str().unwrap(), "--json"]);
    step("plan v2", &["plan", v2.to_str().unwrap(), "--json"]);
    step("plan v3", &["plan", v3.to_str().unwrap(), "--json"]);
    step(
        "publish g3",
        &["publish", "example.com.", "--generation", "3", "--json"],
    );
    step(
        "publish g2 (stale)",
        &["publish", "example.com.", "--generation", "2", "--json"],
    );
    step("apply empty", &["apply", empty.to_str().unwrap(), "--json"]);
    step("diff g3", &["diff", "example.com.", "3", "--json"]);
    step("diff g1 g3", &["diff", "example.com.", "1", "3", "--json"]);
    step("export", &["export", "example.com."]);
    let wrong = format!("sha256:{}", "0".repeat(64));
    let approve = [
        "approve",
        "example.com.",
        "2",
        "--hash",
        &wrong,
        "--reason",
        "test",
        "--by",
        "ci",
        "--json",
    ];
    step("approve with a wrong hash", &approve);
    step(
        "rollback to g1",
        &["rollback", "example.com.", "--to", "1", "--json"],
    );
    step("status", &["status", "--json"]);
    step("status zone", &["status", "example.com.", "--json"]);
    step("history", &["history", "example.com.", "--json"]);
    step("cleanup", &["cleanup", "example.com.", "--json"]);
    step("status missing", &["status", "nothing.example.", "--json"]);
    seen
}

#[test]
fn postgres_apply_publish_status_history_match_sqlite_exit_codes_included() {
    let sqlite = Scratch::new("pg-compare-sqlite");
    let pg = Scratch::on_postgres("pg-compare", shared());
    let on_sqlite = session(&sqlite);
    let on_postgres = session(&pg);
    for (a, b) in on_sqlite.iter().zip(&on_postgres) {
        assert_eq!(a, b, "{} differs between SQLite and PostgreSQL", a.0);
    }
    let seen = |name: &str| {
        let (_, code, json) = on_postgres.iter().find(|(n, _, _)| n == name).unwrap();
        (*code, json.clone())
    };
    assert_eq!(seen("apply v1").0, Some(0));
    assert_eq!(seen("publish g3").0, Some(0));
    assert_eq!(seen("publish g2 (stale)").0, Some(4));
    assert!(matches!(seen("apply empty").0, Some(2 | 3)));
    assert_eq!(seen("approve with a wrong hash").0, Some(3));
    assert_eq!(seen("rollback to g1").0, Some(0));
    // What was compared is real output, not two empty ones.
    let history = seen("history").1;
    assert!(
        history["audit"].as_array().is_some_and(|a| a.len() >= 4),
        "{history}"
    );
    let status = seen("status zone").1;
    assert_eq!(status["zones"][0]["published"], 4, "{status}");
    // The server follows PostgreSQL and answers what was published.
    let server = pg.serve();
    assert_eq!(
        server.dig("www.example.com.", "A").rdata("A"),
        vec!["192.0.2.10"]
    );
}

#[test]
fn postgres_password_never_appears_in_output_or_errors() {
    let cluster = shared();
    let s = Scratch::on_postgres("pg-password", cluster);
    let (url, password) = s.postgres.clone().unwrap();
    let with_password = url.replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{password}@"),
        1,
    );
    let f = s.write("z.zone", &zone(1, &["192.0.2.10"]));
    // A wrong password from a file: refused, exit 1, and neither password is printed.
    let wrong = s.write("wrong-password", "not-the-password\n");
    let out = s
        .command(&["apply", f.to_str().unwrap()])
        .env_remove("PGPASSWORD")
        .env("ZONEGATE_DB_PASSWORD_FILE", &wrong)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = describe(&out);
    assert!(text.contains("store unavailable"), "{text}");
    assert!(
        !text.contains("not-the-password") && !text.contains(&password),
        "{text}"
    );
    // The right one from a file works.
    let right = s.write("password", &format!("{password}\n"));
    let out = s
        .command(&[
            "--db-password-file",
            right.to_str().unwrap(),
            "apply",
            f.to_str().unwrap(),
        ])
        .env_remove("PGPASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    // A password in the URL is cut from every message that shows the URL.
    let out = std::process::Command::new(BIN)
        .args([
            "--db",
            &with_password.replace("/zg_", "/no_such_db_zg_"),
            "apply",
        ])
        .arg(&f)
        .env_remove("PGPASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(!describe(&out).contains(&password), "{}", describe(&out));
    assert!(describe(&out).contains(":***@"), "{}", describe(&out));
}

/// Runs a command with a bound: it must end by itself (the connect timeout), never hang.
fn run_bounded(s: &Scratch, args: &[&str]) -> (std::process::Output, Duration) {
    let started = Instant::now();
    let mut child = s
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ended = wait_until(BOUND, || child.try_wait().unwrap().is_some());
    if ended.is_none() {
        let _ = child.kill();
        panic!("zonegate {args:?} was still running after {BOUND:?} with PostgreSQL down");
    }
    (child.wait_with_output().unwrap(), started.elapsed())
}

#[test]
fn postgres_down_serve_answers_apply_exits_1_and_back_serve_follows() {
    let cluster = PgCluster::start();
    let s = Scratch::on_postgres("pg-down", &cluster);
    let v1 = s.write("v1.zone", &zone(1, &["192.0.2.10"]));
    let v2 = s.write("v2.zone", &zone(2, &["192.0.2.20"]));
    let v3 = s.write("v3.zone", &zone(3, &["192.0.2.30"]));
    s.run_ok(&["apply", v1.to_str().unwrap()]);
    let first = s.serve();
    let www = |server: &Server| server.dig("www.example.com.", "A").rdata("A");
    assert_eq!(www(&first), vec!["192.0.2.10"]);
    // The snapshot went to the default directory for a URL, under XDG_STATE_HOME.
    let snapshots = s.dir.join("state/zonegate/snapshots");
    assert!(
        wait_until(BOUND, || std::fs::read_dir(&snapshots)
            .is_ok_and(|mut d| d.next().is_some()))
        .is_some(),
        "no snapshot directory under {}",
        snapshots.display()
    );

    cluster.stop();
    // Stopped: the server keeps answering, and apply exits 1 by itself.
    assert_eq!(www(&first), vec!["192.0.2.10"]);
    let (out, took) = run_bounded(&s, &["apply", v2.to_str().unwrap()]);
    eprintln!(
        "apply with PostgreSQL stopped: exit {:?} after {took:?}",
        out.status.code()
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        describe(&out).contains("store unavailable"),
        "{}",
        describe(&out)
    );
    let (out, took) = run_bounded(&s, &["publish", "example.com."]);
    eprintln!(
        "publish with PostgreSQL stopped: exit {:?} after {took:?}",
        out.status.code()
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    // A server started while PostgreSQL is down answers from its snapshots.
    let second = s.serve();
    assert_eq!(www(&second), vec!["192.0.2.10"]);
    assert_eq!(www(&first), vec!["192.0.2.10"]);

    cluster.restart();
    s.run_ok(&["apply", v3.to_str().unwrap()]);
    for (name, server) in [("first", &first), ("second", &second)] {
        assert!(
            wait_until(BOUND, || www(server) == vec!["192.0.2.30"]).is_some(),
            "the {name} server did not pick up the new publication after PostgreSQL came back: {:?}",
            www(server)
        );
    }
    // And by notification again, after the reconnect.
    let v4 = s.write("v4.zone", &zone(4, &["192.0.2.40"]));
    s.run_ok(&["apply", v4.to_str().unwrap()]);
    for server in [&first, &second] {
        assert!(wait_until(BOUND, || www(server) == vec!["192.0.2.40"]).is_some());
    }
}
