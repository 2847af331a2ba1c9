//! `zonegate watch` against real processes on loopback: a zonegate primary and a real Knot
//! secondary fed by NOTIFY and IXFR (Debian's `knot`), then Knot serving hand-edited copies
//! of the zone. The five cases of issue 15: all healthy; the secondary's transfers stopped and
//! a new publication (lag, exit 6); one A record changed by hand (mismatch); a floored name
//! emptied (blackholed); the store made unreadable under a running watch (it keeps checking
//! against the last state it read, and says so, in its output and in its `--http` metrics).
//!
//! `.ci/run` installs `knot` and `dig`.

#![allow(clippy::too_many_lines)] // One scenario, end to end, on one pair of servers.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const ZONE: &str = "\
$ORIGIN example.test.
$TTL 300
@ 3600 IN SOA ns1.example.test. hostmaster.example.test. SERIAL 3600 600 86400 60
@ IN NS ns1.example.test.
@ IN MX 10 mail.example.test.
ns1 IN A 192.0.2.53
mail IN A 192.0.2.25
www IN A 192.0.2.1
api IN A 192.0.2.10
api IN A 192.0.2.11
alias IN CNAME www.example.test.
_sip._tcp IN SRV 0 5 5060 www.example.test.
";

/// The zone as generation 2 publishes it (one name added), with `serial` in its SOA.
fn second(serial: u32) -> String {
    ZONE.replace("SERIAL", &serial.to_string()) + "new IN A 192.0.2.77\n"
}

fn require_tools() {
    require("knotd", "knot");
    require("dig", "bind9-dnsutils");
}

fn serial(addr: SocketAddr) -> Option<u32> {
    soa_serial(addr, "example.test.")
}

/// `zonegate serve` on `addr` with `config`, its log in `log`.
fn primary(s: &Scratch, addr: SocketAddr, config: &Path, log: &Path) -> Process {
    serve_logged(s, addr, config, log)
}

/// Knot on `addr` in a fresh directory `dir`: the secondary of `primary` (by NOTIFY and
/// IXFR), or with `file`, the primary of that hand-edited zone file.
fn knot(
    dir: &Path,
    addr: SocketAddr,
    primary: SocketAddr,
    file: Option<&Path>,
) -> (Process, PathBuf) {
    let knot = Knot::new(dir, addr);
    let sections = match file {
        None => format!(
            "{}zone:\n  - domain: example.test.\n    master: primary\n    acl: notify_from_primary\n",
            knot.secondary_of(primary, None)
        ),
        Some(f) => format!(
            "template:\n  - id: default\n    storage: \"{}\"\n    zonefile-sync: -1\n    \
             journal-content: none\n\
             zone:\n  - domain: example.test.\n    file: \"{}\"\n",
            knot.dir.join("zones").display(),
            f.display()
        ),
    };
    knot.start(&sections)
}

/// `zonegate watch ... --once --json`: its exit code and its JSON object.
fn watch_once(s: &Scratch, config: &Path, args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["--config", config.to_str().unwrap(), "watch"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--once", "--json"]);
    let out = s.run(&all);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("watch printed no JSON ({e}):\n{}", describe(&out)));
    (out.status.code(), v)
}

fn findings_of(v: &Value, server: SocketAddr) -> Vec<&Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["server"] == server.to_string())
        .collect()
}

fn server_state(v: &Value, server: SocketAddr) -> Value {
    v["zones"][0]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["server"] == server.to_string())
        .cloned()
        .unwrap_or_else(|| panic!("no state for {server} in {v:#}"))
}

/// `GET /metrics` on `addr` with a plain HTTP/1.1 request: the status line and the body.
fn scrape(addr: SocketAddr) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to watch --http");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// The value of the sample `name{labels}` in a Prometheus text, if present.
fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (k, v) = l.rsplit_once(' ')?;
        (k == name_and_labels).then(|| v.parse().ok())?
    })
}

/// `zonegate_watch_check_ok` of one server and check for example.test.
fn check_ok(text: &str, server: SocketAddr, check: &str) -> Option<f64> {
    sample(
        text,
        &format!(
            "zonegate_watch_check_ok{{server=\"{server}\",zone=\"example.test.\",check=\"{check}\"}}"
        ),
    )
}

#[test]
fn watch_finds_lag_mismatch_blackholing_and_survives_the_store() {
    require_tools();
    let s = Scratch::new("watch");
    let primary_addr = free_addr();
    let mut knot_addr = free_addr();
    while knot_addr == primary_addr {
        knot_addr = free_addr();
    }
    // The gate's floor (so watch checks api every round, whatever the sample) and [watch].
    let watch_cfg = s.write(
        "watch.toml",
        "[policy]\nfloors = [{ name = \"api.example.test.\", type = \"A\", min = 1 }]\n\
         [watch]\ntimeout_ms = 500\nretries = 1\nqps = 200\n",
    );
    let zone1 = s.write("zone1.txt", &ZONE.replace("SERIAL", "2024010101"));
    s.run_ok(&[
        "--config",
        watch_cfg.to_str().unwrap(),
        "apply",
        zone1.to_str().unwrap(),
    ]);
    let serve_cfg = s.write(
        "serve.toml",
        &format!(
            "[server]\nallow_transfer = [\"127.0.0.1\"]\nnotify = [\"{knot_addr}\"]\n\
             notify_timeout_ms = 500\n"
        ),
    );
    let zlog = s.dir.join("zonegate.log");
    let mut zonegate = primary(&s, primary_addr, &serve_cfg, &zlog);
    wait_for(
        "zonegate serves serial 1",
        Duration::from_secs(30),
        || serial(primary_addr) == Some(1),
        &zlog,
    );
    let (mut secondary, klog) = knot(&s.dir.join("knot1"), knot_addr, primary_addr, None);
    wait_for(
        "Knot takes serial 1 from zonegate",
        Duration::from_secs(30),
        || serial(knot_addr) == Some(1),
        &klog,
    );

    // 1. All healthy: exit 0, no findings, every name of the small zone checked on both.
    let both = [
        "--server",
        &primary_addr.to_string(),
        "--server",
        &knot_addr.to_string(),
    ];
    let (code, v) = watch_once(&s, &watch_cfg, &both);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["healthy"], true, "{v:#}");
    assert_eq!(v["findings"], serde_json::json!([]), "{v:#}");
    for server in [primary_addr, knot_addr] {
        let st = server_state(&v, server);
        assert_eq!(
            (st["serial"].as_u64(), st["lag_generations"].as_u64()),
            (Some(1), Some(0)),
            "{st}"
        );
        // The RRsets of the zone but the SOA: apex NS and MX, ns1, mail, www, api, alias, _sip.
        assert_eq!(st["checks"], 8, "{st}");
    }

    // 2. The secondary's transfers stop (the primary now refuses them), then a new
    // publication: Knot keeps serving serial 1; it is lagging one generation, not wrong.
    drop(zonegate);
    let refuse_cfg = s.write(
        "serve-refusing.toml",
        &format!(
            "[server]\nallow_transfer = []\nnotify = [\"{knot_addr}\"]\nnotify_timeout_ms = 500\n"
        ),
    );
    zonegate = primary(&s, primary_addr, &refuse_cfg, &zlog);
    wait_for(
        "zonegate serves serial 1 again",
        Duration::from_secs(30),
        || serial(primary_addr) == Some(1),
        &zlog,
    );
    let zone2 = s.write("zone2.txt", &second(2024010101));
    s.run_ok(&[
        "--config",
        watch_cfg.to_str().unwrap(),
        "apply",
        zone2.to_str().unwrap(),
    ]);
    wait_for(
        "zonegate serves serial 2",
        Duration::from_secs(30),
        || serial(primary_addr) == Some(2),
        &zlog,
    );
    std::thread::sleep(Duration::from_secs(2)); // Knot gets the NOTIFY, and its transfer is refused.
    assert_eq!(serial(knot_addr), Some(1), "Knot must still serve serial 1");
    let (code, v) = watch_once(&s, &watch_cfg, &both);
    assert_eq!(code, Some(6), "{v:#}");
    assert_eq!(v["healthy"], false);
    assert_eq!(findings_of(&v, primary_addr), Vec::<&Value>::new(), "{v:#}");
    let lag = findings_of(&v, knot_addr);
    assert_eq!(
        lag.len(),
        1,
        "only the lag, the content matches generation 1: {v:#}"
    );
    assert_eq!(lag[0]["kind"], "lag");
    assert_eq!(lag[0]["type"], "SOA");
    assert_eq!(lag[0]["expected"], "serial 2 (generation 2)");
    assert!(
        lag[0]["got"]
            .as_str()
            .unwrap()
            .starts_with("serial 1: 1 generation(s) behind"),
        "{}",
        lag[0]
    );
    let st = server_state(&v, knot_addr);
    assert_eq!(
        (st["serial"].as_u64(), st["lag_generations"].as_u64()),
        (Some(1), Some(2 - 1)),
        "{st}"
    );
    assert!(st["lag_seconds"].as_u64().is_some(), "{st}");
    assert_eq!(
        v["zones"][0]["disagree"]["1"],
        serde_json::json!([knot_addr.to_string()]),
        "{v:#}"
    );

    // 3. Knot serves a hand-edited copy of generation 2 with one A record changed.
    drop(secondary);
    let edited = s.write(
        "edited.txt",
        &second(2).replace("www IN A 192.0.2.1", "www IN A 192.0.2.99"),
    );
    let (k, klog) = knot(&s.dir.join("knot2"), knot_addr, primary_addr, Some(&edited));
    secondary = k;
    wait_for(
        "Knot serves the edited zone",
        Duration::from_secs(30),
        || serial(knot_addr) == Some(2),
        &klog,
    );
    let knot_only = ["--server", &knot_addr.to_string()];
    let (code, v) = watch_once(&s, &watch_cfg, &knot_only);
    assert_eq!(code, Some(6), "{v:#}");
    let f = findings_of(&v, knot_addr);
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(
        (&f[0]["kind"], &f[0]["name"], &f[0]["type"]),
        (&"mismatch".into(), &"www.example.test.".into(), &"A".into())
    );
    assert_eq!(
        f[0]["expected"],
        "NOERROR: www.example.test. 300 IN A 192.0.2.1"
    );
    assert_eq!(
        f[0]["got"],
        "NOERROR: www.example.test. 300 IN A 192.0.2.99"
    );
    // The same in words, with the exit code.
    let out = s.run(&[
        "--config",
        watch_cfg.to_str().unwrap(),
        "watch",
        "--server",
        &knot_addr.to_string(),
        "--once",
    ]);
    assert_eq!(out.status.code(), Some(6), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "mismatch {knot_addr} example.test. www.example.test./A: expected NOERROR: \
             www.example.test. 300 IN A 192.0.2.1, got NOERROR: www.example.test. 300 IN A 192.0.2.99"
        )),
        "{text}"
    );
    assert!(
        text.contains("UNHEALTHY: 1 zone(s), 1 server(s), 9 checks, 1 finding(s)"),
        "{text}"
    );

    // 4. Knot serves a copy in which the floored name was emptied: blackholed, even with a
    // sample of one name (the floor is always checked).
    drop(secondary);
    let emptied: String = second(2)
        .lines()
        .filter(|l| !l.starts_with("api "))
        .map(|l| format!("{l}\n"))
        .collect();
    let emptied = s.write("emptied.txt", &emptied);
    let (k, klog) = knot(
        &s.dir.join("knot3"),
        knot_addr,
        primary_addr,
        Some(&emptied),
    );
    secondary = k;
    wait_for(
        "Knot serves the emptied zone",
        Duration::from_secs(30),
        || serial(knot_addr) == Some(2),
        &klog,
    );
    let mut sampled = knot_only.to_vec();
    sampled.extend(["--sample", "1"]);
    let (code, v) = watch_once(&s, &watch_cfg, &sampled);
    assert_eq!(code, Some(6), "{v:#}");
    let f = findings_of(&v, knot_addr);
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(
        (&f[0]["kind"], &f[0]["name"], &f[0]["type"]),
        (
            &"blackholed".into(),
            &"api.example.test.".into(),
            &"A".into()
        )
    );
    assert_eq!(f[0]["got"], "NXDOMAIN");
    assert!(
        f[0]["expected"].as_str().unwrap().contains("192.0.2.10"),
        "{}",
        f[0]
    );
    assert!(
        server_state(&v, knot_addr)["checks"].as_u64().unwrap() <= 3,
        "{v:#}"
    );

    // 5. The store becomes unreadable under a running watch: it keeps checking against the
    // state it read last, and says so, in its output and once in its log.
    let wlog = s.dir.join("watch.log");
    let mut http_addr = free_addr();
    while [primary_addr, knot_addr].contains(&http_addr) {
        http_addr = free_addr();
    }
    let mut watcher = Process(
        Command::new(BIN)
            .arg("--db")
            .arg(s.db())
            .arg("--config")
            .arg(&watch_cfg)
            .args([
                "watch",
                "example.test.",
                "--server",
                &primary_addr.to_string(),
            ])
            .args([
                "--server",
                &knot_addr.to_string(),
                "--interval-s",
                "1",
                "--json",
                "--http",
                &http_addr.to_string(),
            ])
            .env("ZONEGATE_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&wlog).unwrap())
            .spawn()
            .expect("spawn zonegate watch"),
    );
    let (tx, rx) = mpsc::channel::<Value>();
    let stdout = watcher.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx
                .send(serde_json::from_str(&line).expect("one JSON object per line"))
                .is_err()
            {
                break;
            }
        }
    });
    let next_round = |what: &str, pred: &dyn Fn(&Value) -> bool| -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(v) if pred(&v) => return v,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!(
            "no round {what} within 30 s; log:\n{}",
            std::fs::read_to_string(&wlog).unwrap_or_default()
        );
    };
    let first = next_round("with the store readable", &|v| {
        v["store"]["readable"] == true
    });
    let read_at = first["store"]["state_read_at"].clone();
    assert_eq!(findings_of(&first, knot_addr)[0]["kind"], "blackholed");
    // The same round in the metrics: Knot's blackholed check fails, the rest hold, and both
    // servers serve the published generation (serial 2 of generation 2: no lag).
    let (status, text) = scrape(http_addr);
    assert!(status.contains(" 200"), "{status}\n{text}");
    assert_eq!(
        check_ok(&text, knot_addr, "blackholed"),
        Some(0.0),
        "{text}"
    );
    for check in ["lag", "mismatch", "unreachable"] {
        assert_eq!(
            check_ok(&text, knot_addr, check),
            Some(1.0),
            "{check}: {text}"
        );
    }
    for check in ["lag", "mismatch", "unreachable", "blackholed"] {
        assert_eq!(
            check_ok(&text, primary_addr, check),
            Some(1.0),
            "{check}: {text}"
        );
    }
    for server in [primary_addr, knot_addr] {
        let lag = format!(
            "zonegate_watch_serial_lag_generations{{server=\"{server}\",zone=\"example.test.\"}}"
        );
        assert_eq!(
            sample(&text, &lag),
            server_state(&first, server)["lag_generations"].as_f64(),
            "{text}"
        );
        assert_eq!(sample(&text, &lag), Some(0.0), "{text}");
    }
    assert_eq!(
        sample(&text, "zonegate_watch_store_readable"),
        Some(1.0),
        "{text}"
    );
    let at = sample(&text, "zonegate_watch_last_round_timestamp_seconds").expect("a last round");
    assert!(
        at >= first["checked_at"].as_f64().unwrap_or(f64::MAX),
        "{text}\n{first:#}"
    );
    for side in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{side}", s.db().display()));
    }
    std::fs::write(
        s.db(),
        b"this is not an SQLite database, it was overwritten",
    )
    .unwrap();
    let stale = next_round("with the store unreadable", &|v| {
        v["store"]["readable"] == false
    });
    assert!(
        stale["store"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{stale:#}"
    );
    assert_eq!(
        stale["store"]["state_read_at"], read_at,
        "the last state read stays in force"
    );
    assert_eq!(stale["zones"][0]["published"], 2, "{stale:#}");
    let (_, text) = scrape(http_addr);
    assert_eq!(
        sample(&text, "zonegate_watch_store_readable"),
        Some(0.0),
        "static stability shows in the metrics: {text}"
    );
    assert_eq!(
        check_ok(&text, knot_addr, "blackholed"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(server_state(&stale, primary_addr)["checks"], 9, "{stale:#}");
    assert_eq!(
        findings_of(&stale, primary_addr),
        Vec::<&Value>::new(),
        "{stale:#}"
    );
    assert_eq!(
        findings_of(&stale, knot_addr)[0]["kind"],
        "blackholed",
        "{stale:#}"
    );
    // Still checking: the primary stops, and the next rounds say so, still without a store.
    drop(zonegate);
    let dark = next_round("with the primary unreachable", &|v| {
        findings_of(v, primary_addr)
            .iter()
            .any(|f| f["kind"] == "unreachable")
    });
    assert_eq!(dark["store"]["readable"], false);
    next_round("after that", &|_| true);
    let _ = watcher.0.kill();
    let _ = watcher.0.wait();
    let log = std::fs::read_to_string(&wlog).unwrap();
    assert_eq!(
        log.matches("cannot read the store").count(),
        1,
        "said once, not every round:\n{log}"
    );
    assert_eq!(
        log.matches("blackholed").count(),
        1,
        "said once, not every round:\n{log}"
    );
    drop(secondary);
}
