//! The machinery of the churn tests (`tests/stress.rs` on one SQLite file, `tests/multihost.rs`
//! on one PostgreSQL): planner, enactor and cleaner loops of the real binary, a store monitor,
//! a UDP prober, and the tallies they keep. A test picks the store (a [`Scratch`]), the zones
//! and how many of each loop it runs.
//!
//! Every plan's content says which plan it is (`gen.ORIGIN TXT "n"`) next to a stable `www`
//! A RRset, so a probe can tell which content a server answers with. Checked throughout:
//! - no probe sees SERVFAIL or an empty answer, and `www` always has its full RRset (I3);
//! - the content a server answers with never goes back, per server and zone (I1);
//! - the published plan is never missing from the store (I2), in `status --json` and in
//!   `history --json`, and the published generation never goes back (I1).
//!
//! A command that fails while the store is known to be down ([`Outage`]) with exit 1 is
//! counted as "store unavailable", not as a violation; outside an outage every failure is one.

#![allow(dead_code)] // Each test crate uses part of it.

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{Scratch, describe};
use zonegate_testkit::dns;

pub const WWW: [&str; 2] = ["192.0.2.10", "192.0.2.11"];

/// Zone `origin`'s content number `n`.
pub fn zone_text(origin: &str, n: u64) -> String {
    format!(
        "$ORIGIN {origin}\n$TTL 60\n\
         @ SOA ns1 hostmaster {n} 3600 600 604800 60\n\
         @ NS ns1\nns1 A 192.0.2.1\nwww A {}\nwww A {}\ngen TXT \"{n}\"\n",
        WWW[0], WWW[1]
    )
}

/// Shared tallies; every violation is kept with what was seen.
#[derive(Default)]
pub struct Tally {
    pub violations: Mutex<Vec<String>>,
    pub planned: AtomicU64,
    pub published: AtomicU64,
    pub stale: AtomicU64,
    pub already: AtomicU64,
    pub publish_other: AtomicU64,
    pub cleanups: AtomicU64,
    pub deleted: AtomicU64,
    pub probes: AtomicU64,
    pub probe_timeouts: AtomicU64,
    pub monitor_reads: AtomicU64,
    /// Commands that exited 1 while the store was down.
    pub unavailable: AtomicU64,
}

impl Tally {
    pub fn violation(&self, what: String) {
        eprintln!("VIOLATION: {what}");
        self.violations.lock().unwrap().push(what);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }

    /// The counters every churn test prints.
    pub fn summary(&self) -> String {
        let g = Self::get;
        format!(
            "publish attempts: {} published, {} already published, {} stale (races lost), {} other\n\
             clean-ups: {} runs, {} plans deleted\n\
             probes sent: {} ({} timed out), store reads by the monitor: {}\n\
             commands refused with the store down: {}",
            g(&self.published),
            g(&self.already),
            g(&self.stale),
            g(&self.publish_other),
            g(&self.cleanups),
            g(&self.deleted),
            g(&self.probes),
            g(&self.probe_timeouts),
            g(&self.monitor_reads),
            g(&self.unavailable),
        )
    }
}

/// When the store is down on purpose. A command whose run overlaps an outage may fail.
#[derive(Default)]
pub struct Outage {
    down: AtomicBool,
    /// Bumped when an outage begins and when it ends.
    epoch: AtomicU64,
}

/// What a command saw of [`Outage`] when it started.
#[derive(Clone, Copy)]
pub struct Mark {
    down: bool,
    epoch: u64,
}

impl Outage {
    pub fn begin(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    pub fn end(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.down.store(false, Ordering::SeqCst);
    }

    /// Whether an outage ever began: after one, a command that failed may still have
    /// committed (its answer lost with the connection).
    pub fn ever(&self) -> bool {
        self.epoch.load(Ordering::SeqCst) > 0
    }

    pub fn mark(&self) -> Mark {
        Mark {
            down: self.down.load(Ordering::SeqCst),
            epoch: self.epoch.load(Ordering::SeqCst),
        }
    }

    /// Whether the store was down at some point between `mark` and now.
    pub fn covers(&self, mark: Mark) -> bool {
        mark.down
            || self.down.load(Ordering::SeqCst)
            || self.epoch.load(Ordering::SeqCst) != mark.epoch
    }
}

/// `zonegate --db … args…` on `s`'s store; `delay` turns on the test-only random stalls
/// between check and act (`ZONEGATE_TEST_DELAY_MAX_MS`, see `crates/cli/src/chaos.rs`).
pub fn zonegate(s: &Scratch, args: &[&str], delay: Option<&str>) -> Output {
    let mut cmd = s.command(args);
    cmd.env("ZONEGATE_LOG", "error").stdin(Stdio::null());
    match delay {
        Some(ms) => cmd.env("ZONEGATE_TEST_DELAY_MAX_MS", ms),
        None => cmd.env_remove("ZONEGATE_TEST_DELAY_MAX_MS"),
    };
    cmd.output().expect("run zonegate")
}

pub fn json_of(out: &Output) -> Option<serde_json::Value> {
    serde_json::from_slice(&out.stdout).ok()
}

/// Runs a command; `None` when it failed with exit 1 during an outage (counted).
fn run_through_outage(
    s: &Scratch,
    args: &[&str],
    delay: Option<&str>,
    outage: &Outage,
    tally: &Tally,
) -> Option<Output> {
    let mark = outage.mark();
    let out = zonegate(s, args, delay);
    if out.status.code() == Some(1) && outage.covers(mark) {
        tally.unavailable.fetch_add(1, Ordering::Relaxed);
        thread::sleep(Duration::from_millis(100));
        return None;
    }
    Some(out)
}

/// The loops of one churn run and what they share.
pub struct Churn<'a> {
    pub scratch: &'a Scratch,
    pub zones: &'a [&'a str],
    pub tally: Tally,
    pub outage: Outage,
    /// Upper bound of the random delay before each publish and each clean-up.
    pub delay_max_ms: &'a str,
    /// The newest content number planned, per zone.
    pub newest: Vec<AtomicU64>,
    /// Set by the planner when the churn is over; the other loops finish soon after.
    pub stop_churn: AtomicBool,
    pub stop_all: AtomicBool,
    /// Pause between two rounds of probes of one server (3 ms unless a test sets another).
    pub probe_pause: Duration,
    started: Instant,
    churn: Duration,
    plans_max: u64,
}

impl<'a> Churn<'a> {
    /// A churn on `zones` of `scratch`'s store, each of which has content 1 published, bounded
    /// by `churn` of wall time or `plans_max` plans in all.
    pub fn new(
        scratch: &'a Scratch,
        zones: &'a [&'a str],
        delay_max_ms: &'a str,
        churn: Duration,
        plans_max: u64,
    ) -> Self {
        let tally = Tally::default();
        tally.planned.store(zones.len() as u64, Ordering::SeqCst);
        Churn {
            scratch,
            zones,
            tally,
            outage: Outage::default(),
            delay_max_ms,
            newest: zones.iter().map(|_| AtomicU64::new(1)).collect(),
            stop_churn: AtomicBool::new(false),
            stop_all: AtomicBool::new(false),
            probe_pause: Duration::from_millis(3),
            started: Instant::now(),
            churn,
            plans_max,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Writes zone `z`'s content `n` to a file of the scratch directory.
    pub fn zone_file(&self, z: usize, n: u64) -> std::path::PathBuf {
        self.scratch.write(
            &format!("{}gen-{n}.zone", self.zones[z]),
            &zone_text(self.zones[z], n),
        )
    }

    /// The planner: one plan after another, zone after zone, each content saying its number.
    pub fn planner(&self) {
        let t = &self.tally;
        for round in 0.. {
            if self.stop_churn.load(Ordering::SeqCst) {
                break;
            }
            let z = round % self.zones.len();
            let n = self.newest[z].load(Ordering::SeqCst) + 1;
            let path = self.zone_file(z, n);
            let args = ["plan", path.to_str().unwrap(), "--json"];
            let out = run_through_outage(self.scratch, &args, None, &self.outage, t);
            let _ = std::fs::remove_file(&path);
            let Some(out) = out else { continue };
            let Some(v) = json_of(&out) else {
                t.violation(format!("plan {n} failed:\n{}", describe(&out)));
                continue;
            };
            let g = v["generation"].as_u64().unwrap_or(0);
            // After an outage a plan may have been staged though its command failed: the
            // next one then takes a higher generation. Never a lower one.
            if v["outcome"] != "staged" || g < n || (g > n && !self.outage.ever()) {
                t.violation(format!("plan {n} was not staged as g{n}: {v}"));
                continue;
            }
            self.newest[z].store(g, Ordering::SeqCst);
            let planned = t.planned.fetch_add(1, Ordering::Relaxed) + 1;
            if planned >= self.plans_max || self.started.elapsed() >= self.churn {
                self.stop_churn.store(true, Ordering::SeqCst);
            }
        }
    }

    /// An enactor: publish the newest plan, zone after zone starting at `first`, with random
    /// stalls.
    pub fn enactor(&self, first: usize) {
        let t = &self.tally;
        for round in first.. {
            if self.stop_all.load(Ordering::SeqCst) {
                break;
            }
            let zone = self.zones[round % self.zones.len()];
            let args = ["publish", zone, "--json"];
            let delay = Some(self.delay_max_ms);
            let Some(out) = run_through_outage(self.scratch, &args, delay, &self.outage, t) else {
                continue;
            };
            let v = json_of(&out).unwrap_or_default();
            match (out.status.code(), v["outcome"].as_str()) {
                (Some(0), Some("published")) => &t.published,
                (Some(0), Some("already-published")) => &t.already,
                (Some(4), _) => &t.stale,
                _ => {
                    t.violation(format!("publish failed:\n{}", describe(&out)));
                    &t.publish_other
                }
            }
            .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A cleaner: the most eager clean-up the CLI offers, zone after zone starting at `first`,
    /// with random stalls.
    pub fn cleaner(&self, first: usize) {
        let t = &self.tally;
        for round in first.. {
            if self.stop_all.load(Ordering::SeqCst) {
                break;
            }
            let zone = self.zones[round % self.zones.len()];
            let args = ["cleanup", zone, "--keep", "2", "--json"];
            let delay = Some(self.delay_max_ms);
            let Some(out) = run_through_outage(self.scratch, &args, delay, &self.outage, t) else {
                continue;
            };
            match json_of(&out).and_then(|v| v["deleted"].as_u64()) {
                Some(n) if out.status.success() => {
                    t.cleanups.fetch_add(1, Ordering::Relaxed);
                    t.deleted.fetch_add(n, Ordering::Relaxed);
                }
                _ => t.violation(format!("cleanup failed:\n{}", describe(&out))),
            }
        }
    }

    /// Reads `status --json` and `history --json` of every zone until the end: the published
    /// plan must exist and the published generation never go back.
    pub fn monitor(&self) {
        let mut last = vec![0; self.zones.len()];
        while !self.stop_all.load(Ordering::SeqCst) {
            for (z, zone) in self.zones.iter().enumerate() {
                self.monitor_status(zone, &mut last[z]);
                self.monitor_history(zone, last[z]);
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn monitor_status(&self, zone: &str, last: &mut u64) {
        let t = &self.tally;
        let args = ["status", zone, "--json"];
        let Some(out) = run_through_outage(self.scratch, &args, None, &self.outage, t) else {
            return;
        };
        t.monitor_reads.fetch_add(1, Ordering::Relaxed);
        let Some(v) = json_of(&out) else {
            return t.violation(format!("status {zone} failed:\n{}", describe(&out)));
        };
        let z = &v["zones"][0];
        match z["published"].as_u64() {
            Some(g) if g < *last => t.violation(format!(
                "status {zone}: the published generation went back from {last} to {g}"
            )),
            Some(g) => *last = g,
            None => t.violation(format!("status {zone}: nothing published: {z}")),
        }
        if z["hash"].is_null() || z["record_count"].is_null() {
            t.violation(format!("status {zone}: the published plan is missing: {z}"));
        }
    }

    fn monitor_history(&self, zone: &str, last: u64) {
        let t = &self.tally;
        let args = ["history", zone, "--json", "--limit", "1"];
        let Some(out) = run_through_outage(self.scratch, &args, None, &self.outage, t) else {
            return;
        };
        t.monitor_reads.fetch_add(1, Ordering::Relaxed);
        let Some(v) = json_of(&out) else {
            return t.violation(format!("history {zone} failed:\n{}", describe(&out)));
        };
        let published: Vec<u64> = v["plans"]
            .as_array()
            .map(|plans| {
                plans
                    .iter()
                    .filter(|p| p["status"] == "published")
                    .filter_map(|p| p["generation"].as_u64())
                    .collect()
            })
            .unwrap_or_default();
        if published.len() != 1 || published[0] < last {
            t.violation(format!(
                "history {zone}: published plans {published:?} (status said {last})"
            ));
        }
    }

    /// Probes `server` for every zone until the end, checking every answer. Returns the last
    /// content number seen per zone.
    pub fn probe(&self, server: SocketAddr) -> Vec<u64> {
        let t = &self.tally;
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut last = vec![0; self.zones.len()];
        let mut id: u16 = 0;
        while !self.stop_all.load(Ordering::SeqCst) {
            // A few hundred questions a second: enough to catch a bad answer between two
            // publications, without starving the processes under test of CPU.
            thread::sleep(self.probe_pause);
            for (z, zone) in self.zones.iter().enumerate() {
                id = id.wrapping_add(1);
                t.probes.fetch_add(2, Ordering::Relaxed);
                if let Some(g) = check_generation(&socket, server, id, zone, last[z], t) {
                    last[z] = g;
                }
                check_www(&socket, server, id, zone, t);
            }
        }
        last
    }

    /// Zone `z`'s publications in its audit log, oldest first, and how many are not newer
    /// than the one before.
    pub fn publications(&self, zone: &str) -> (Vec<u64>, usize) {
        let history = self
            .scratch
            .json(&["history", zone, "--json", "--limit", "1000000"]);
        let mut publications: Vec<u64> = history["audit"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["action"] == "published")
            .filter_map(|a| a["generation"].as_u64())
            .collect();
        publications.reverse(); // the log is printed newest first
        let went_back = publications.windows(2).filter(|w| w[1] <= w[0]).count();
        (publications, went_back)
    }

    /// Once the churn is over: plans zone `z`'s next content and publishes it; returns its
    /// content number, which is also its generation.
    pub fn publish_newest(&self, z: usize) -> u64 {
        let s = self.scratch;
        let n = self.newest[z].load(Ordering::SeqCst) + 1;
        let out = s.run_ok(&["plan", self.zone_file(z, n).to_str().unwrap(), "--json"]);
        assert_eq!(
            json_of(&out).unwrap()["generation"],
            n,
            "{}",
            describe(&out)
        );
        let out = s.run(&["publish", self.zones[z], "--json"]);
        let v = json_of(&out).unwrap_or_default();
        assert_eq!(
            (
                out.status.code(),
                v["outcome"].as_str(),
                v["generation"].as_u64()
            ),
            (Some(0), Some("published"), Some(n)),
            "publishing the newest plan after the churn:\n{}",
            describe(&out)
        );
        n
    }
}

// ---------------------------------------------------------------------------------------------
// One question over UDP (the testkit's client), the answer section as (type, rdata).
// ---------------------------------------------------------------------------------------------

const TYPE_A: u16 = 1;
const TYPE_TXT: u16 = 16;

struct Reply {
    rcode: u8,
    aa: bool,
    /// (type, rdata) of every answer record.
    answers: Vec<(u16, Vec<u8>)>,
}

/// Asks one question; `None` on a timeout (counted). A reply that is not an authoritative,
/// non-empty NOERROR is a violation, and `None` too.
fn ask(
    socket: &UdpSocket,
    server: SocketAddr,
    id: u16,
    name: &str,
    qtype: u16,
    tally: &Tally,
) -> Option<Reply> {
    let m = dns::query(id, name, qtype.into());
    let Some(reply) = dns::ask_blocking(socket, server, &m, Duration::from_secs(1)) else {
        tally.probe_timeouts.fetch_add(1, Ordering::Relaxed);
        return None;
    };
    let reply = Reply {
        rcode: (u16::from(reply.metadata.response_code) & 0x0F) as u8,
        aa: reply.metadata.authoritative,
        answers: dns::core_records(&reply.answers)
            .into_iter()
            .map(|r| (r.rtype.0, r.rdata.to_vec()))
            .collect(),
    };
    if reply.rcode != 0 || !reply.aa {
        tally.violation(format!(
            "{server} {name} answered rcode {} (aa {}), not an authoritative NOERROR",
            reply.rcode, reply.aa
        ));
        return None;
    }
    if reply.answers.is_empty() {
        tally.violation(format!("{server} {name} answered EMPTY"));
        return None;
    }
    Some(reply)
}

/// Asks for `gen.ZONE TXT`; the content number it answers with, which must not be below `last`.
fn check_generation(
    socket: &UdpSocket,
    server: SocketAddr,
    id: u16,
    zone: &str,
    last: u64,
    tally: &Tally,
) -> Option<u64> {
    let name = format!("gen.{zone}");
    let reply = ask(socket, server, id, &name, TYPE_TXT, tally)?;
    match txt_number(&reply) {
        Some(g) if g < last => {
            tally.violation(format!(
                "{server} {zone}: the served content went back from {last} to {g}"
            ));
            None
        }
        Some(g) => Some(g),
        None => {
            tally.violation(format!("{server} {name}: TXT without a number"));
            None
        }
    }
}

/// Asks for `www.ZONE A`, which must be the full RRset.
fn check_www(socket: &UdpSocket, server: SocketAddr, id: u16, zone: &str, tally: &Tally) {
    let name = format!("www.{zone}");
    let Some(reply) = ask(socket, server, id, &name, TYPE_A, tally) else {
        return;
    };
    let www: BTreeSet<Vec<u8>> = WWW
        .iter()
        .map(|a| a.parse::<std::net::Ipv4Addr>().unwrap().octets().to_vec())
        .collect();
    let got: BTreeSet<Vec<u8>> = reply
        .answers
        .iter()
        .filter(|(t, _)| *t == TYPE_A)
        .map(|(_, r)| r.clone())
        .collect();
    if got != www {
        tally.violation(format!(
            "{server} {name} answered {got:?}, not the full RRset"
        ));
    }
}

/// The number in a `gen` TXT answer.
fn txt_number(reply: &Reply) -> Option<u64> {
    let (_, rdata) = reply.answers.iter().find(|(t, _)| *t == TYPE_TXT)?;
    let (len, text) = rdata.split_first()?;
    std::str::from_utf8(text.get(..usize::from(*len))?)
        .ok()?
        .parse()
        .ok()
}
