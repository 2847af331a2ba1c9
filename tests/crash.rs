//! Crash consistency: `kill -9` at random moments of `apply`, `publish`, `cleanup`, and of
//! `serve` while it installs a generation. After every kill:
//! - SQLite's integrity and foreign-key checks pass;
//! - the published pointer, the audit log and the plans agree (the published plan exists with
//!   status `published` and the pointer's hash; the publish count is the number of `published`
//!   audit rows; the newest `published` row names the published generation);
//! - no generation went back (neither the published one nor the newest);
//! - a restarted server serves the newest published generation;
//! - the next `apply` works.
//!
//! `ZONEGATE_CRASH_ROUNDS` sets the number of kills (default 50, about a minute);
//! `tests/crash-1000` runs 1,000 on a release build (counts every 50 kills).

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Scratch, describe, dig_at};
use serde_json::Value;
use zonegate_testkit::{wait_until_every, xorshift};

/// Bulk records so that a step runs long enough to be killed in the middle.
const BULK: usize = 2000;

struct World {
    s: Scratch,
    /// The `ver` TXT of the next zone file written.
    next_version: u64,
    published: u64,
    newest: u64,
}

impl World {
    fn zonefile(&mut self) -> PathBuf {
        let v = self.next_version;
        self.next_version += 1;
        let mut text = format!(
            "$ORIGIN example.com.\n$TTL 300\n\
             @ IN SOA ns1.example.net. hostmaster.example.net. {v} 3600 600 604800 60\n\
             @ IN NS ns1.example.net.\nver TXT \"{v}\"\n"
        );
        for i in 0..BULK {
            text.push_str(&format!("h{i} A 10.0.{}.{}\n", i / 256, i % 256));
        }
        self.s.write(&format!("v{v}.zone"), &text)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--db")
            .arg(self.s.db())
            .args(args)
            .env_remove("ZONEGATE_DB")
            .env_remove("ZONEGATE_CONFIG")
            .env("ZONEGATE_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    fn apply_ok(&mut self) {
        let z = self.zonefile();
        let out = self.s.run(&["apply", z.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "the next apply failed: {}",
            describe(&out)
        );
    }
}

/// Kills `child` with SIGKILL after `delay`, unless it finishes first, and reaps it. Returns
/// whether it was killed, and how long it ran.
fn kill_after(mut child: Child, delay: Duration) -> (bool, Duration) {
    let started = Instant::now();
    let deadline = started + delay;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return (false, started.elapsed());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let killed = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    (killed, started.elapsed())
}

fn integrity(db: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let problems = rt.block_on(async {
        let store = zonegate_store::SqliteStore::open(db)
            .await
            .expect("the store opens");
        let problems = store.integrity_problems().await.expect("the checks run");
        store.close().await;
        problems
    });
    assert!(problems.is_empty(), "integrity check: {problems:?}");
}

/// The agreement of pointer, plans and audit log; returns (published, newest).
fn agreement(w: &World) -> (u64, u64) {
    let status = w.s.json(&["status", "--json"]);
    let zone = &status["zones"][0];
    let published = zone["published"].as_u64().expect("a published generation");
    let newest = zone["newest"].as_u64().unwrap();
    let history =
        w.s.json(&["history", "example.com.", "--limit", "4000000000", "--json"]);
    let plans = history["plans"].as_array().unwrap();
    let plan = plans
        .iter()
        .find(|p| p["generation"] == published)
        .unwrap_or_else(|| panic!("published g{published} has no plan: {history}"));
    assert_eq!(plan["status"], "published", "{history}");
    assert_eq!(
        plan["hash"], zone["hash"],
        "the pointer's hash is not its plan's"
    );
    let audit = history["audit"].as_array().unwrap();
    let publishes: Vec<&Value> = audit
        .iter()
        .filter(|a| a["action"] == "published")
        .collect();
    assert_eq!(
        zone["version"].as_u64(),
        Some(publishes.len() as u64),
        "the publish count and the audit log's publishes differ"
    );
    assert_eq!(
        publishes[0]["generation"], published,
        "the newest publish row"
    );
    (published, newest)
}

/// The `ver` TXT of the published generation, as `zonegate export` prints it.
fn published_version(w: &World) -> String {
    let out = w.s.run(&["export", "example.com."]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("ver.example.com."))
                .then(|| words.last().map(str::to_string))
                .flatten()
        })
        .unwrap_or_else(|| panic!("the published generation has no ver TXT:\n{text}"))
}

/// A fresh server on the database serves the published generation's content.
fn restarted_server_serves(w: &World) {
    let want = published_version(w);
    let server = w.s.serve();
    let mut seen = Vec::new();
    let served = wait_until_every(Duration::from_secs(15), Duration::from_millis(30), || {
        seen = dig_at(server.addr, &["ver.example.com.", "TXT"], false).rdata("TXT");
        seen == [want.clone()]
    });
    assert!(
        served.is_some(),
        "the restarted server serves {seen:?}, not {want}"
    );
}

#[derive(Debug, Clone, Copy)]
enum Victim {
    Apply,
    Publish,
    Cleanup,
    ServeDuringInstall,
}

/// One kill: starts the victim and kills it after `delay`.
fn one_kill(w: &mut World, victim: Victim, delay: Duration) -> (bool, Duration) {
    match victim {
        Victim::Apply => {
            let z = w.zonefile();
            kill_after(
                w.command(&["apply", z.to_str().unwrap()]).spawn().unwrap(),
                delay,
            )
        }
        Victim::Publish => {
            let z = w.zonefile();
            let out = w.s.run(&["plan", z.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
            kill_after(
                w.command(&["publish", "example.com."]).spawn().unwrap(),
                delay,
            )
        }
        Victim::Cleanup => kill_after(
            w.command(&["cleanup", "example.com.", "--keep", "1"])
                .spawn()
                .unwrap(),
            delay,
        ),
        Victim::ServeDuringInstall => {
            let addr = common::free_addr();
            let serve = w
                .command(&["serve", "--listen", &addr.to_string(), "--poll-ms", "5"])
                .spawn()
                .unwrap();
            w.apply_ok();
            kill_after(serve, delay)
        }
    }
}

#[test]
fn kill_9_at_random_moments_leaves_everything_consistent() {
    let rounds: usize = std::env::var("ZONEGATE_CRASH_ROUNDS")
        .ok()
        .map(|v| v.parse().expect("ZONEGATE_CRASH_ROUNDS is a number"))
        .unwrap_or(50);
    let mut w = World {
        s: Scratch::new("crash"),
        next_version: 1,
        published: 0,
        newest: 0,
    };
    let started = Instant::now();
    w.apply_ok();
    let mut rng = xorshift(0x14_14_14 ^ rounds as u64);
    let victims = [
        Victim::Apply,
        Victim::Publish,
        Victim::Cleanup,
        Victim::ServeDuringInstall,
    ];
    // How long each victim runs when left alone, learnt as it goes: kills land within that.
    let mut runs = [Duration::from_millis(100); 4];
    let mut killed = HashMap::new();
    for round in 0..rounds {
        let which = (rng() % 4) as usize;
        let victim = victims[which];
        let delay = Duration::from_micros(rng() % (runs[which].as_micros() as u64 + 1));
        let (hit, ran) = one_kill(&mut w, victim, delay);
        if !hit {
            runs[which] = ran;
        }
        let key = format!("{victim:?}{}", if hit { "" } else { " (finished first)" });
        *killed.entry(key).or_insert(0) += 1;
        integrity(&w.s.db());
        let (published, newest) = agreement(&w);
        assert!(
            published >= w.published,
            "round {round}: published went back to g{published}"
        );
        assert!(
            newest >= w.newest,
            "round {round}: the newest generation went back"
        );
        (w.published, w.newest) = (published, newest);
        if round % 5 == 0 || matches!(victim, Victim::ServeDuringInstall) {
            restarted_server_serves(&w);
        }
        w.apply_ok();
        if (round + 1) % 50 == 0 {
            eprintln!(
                "{} kills in {:.0?}: {killed:?}",
                round + 1,
                started.elapsed()
            );
        }
    }
    eprintln!("{rounds} kills in {:?}: {killed:?}", started.elapsed());
    let hits: usize = killed
        .iter()
        .filter(|(k, _)| !k.contains("finished"))
        .map(|(_, n)| n)
        .sum();
    assert!(
        hits * 2 >= rounds,
        "most victims finished before their kill: {killed:?}"
    );
}
