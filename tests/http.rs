//! Issue 13 end to end: `serve --http` with its metrics, health, readiness and API, driven
//! only over HTTP (plus `dig` and the CLI to check what the API says against the store).
//! The HTTP client is a few lines of HTTP/1.1 over a loopback TCP socket.

#![allow(clippy::too_many_lines)] // Long test functions: each walks one scenario end to end.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{BIN, Scratch, dig_at, free_addr};
use serde_json::{Value, json};
use zonegate_testkit::wait_until_every;

pub const CI: &str = "ci-token-0123456789";
pub const REVIEWER: &str = "reviewer-token-abcdef";
pub const READER: &str = "reader-token-xyz";
pub const ADMIN: &str = "admin-token-all-roles";

/// A zone of example.com. with `www` addresses and a few fixed records.
pub fn zone(serial: u32, www: &[&str]) -> String {
    let mut z = format!(
        "$ORIGIN example.com.\n$TTL 300\n\
         @ IN SOA ns1 hostmaster {serial} 3600 600 604800 60\n\
         @ IN NS ns1\n\
         ns1 IN A 192.0.2.1\n\
         mail IN A 192.0.2.25\n\
         api IN A 192.0.2.26\n\
         ftp IN A 192.0.2.27\n"
    );
    for a in www {
        z.push_str(&format!("www IN A {a}\n"));
    }
    z
}

/// The hex SHA-256 of `text`, by coreutils.
fn sha256_hex(text: &str) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum (coreutils) must be installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// The config: three tokens, one by hash and two by file.
pub fn config(s: &Scratch) -> std::path::PathBuf {
    let reviewer = s.write("reviewer.token", &format!("{REVIEWER}\n"));
    let reader = s.write("reader.token", READER);
    s.write(
        "zonegate.toml",
        &format!(
            "[server]\nready_lag_s = 5\n\
             [[server.api_tokens]]\nname = \"ci\"\nroles = [\"read\", \"plan\", \"publish\"]\nsecret_sha256 = \"{}\"\n\
             [[server.api_tokens]]\nname = \"alice\"\nroles = [\"read\", \"approve\"]\nsecret_file = \"{}\"\n\
             [[server.api_tokens]]\nname = \"dashboard\"\nroles = [\"read\"]\nsecret_file = \"{}\"\n\
             [[server.api_tokens]]\nname = \"admin\"\nroles = [\"read\", \"plan\", \"publish\", \"approve\"]\nsecret_sha256 = \"{}\"\n",
            sha256_hex(CI),
            reviewer.display(),
            reader.display(),
            sha256_hex(ADMIN)
        ),
    )
}

/// A running `zonegate serve --http`, killed on drop.
pub struct HttpServer {
    pub child: Child,
    pub dns: SocketAddr,
    pub http: SocketAddr,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_tcp() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Starts `zonegate serve --http` on free loopback ports and waits for `/healthz`.
pub fn serve_http(s: &Scratch, config: &Path) -> HttpServer {
    let (dns, http) = (free_addr(), free_tcp());
    let child = Command::new(BIN)
        .arg("--db")
        .arg(s.db())
        .arg("--config")
        .arg(config)
        .args([
            "serve",
            "--listen",
            &dns.to_string(),
            "--http",
            &http.to_string(),
        ])
        .env("ZONEGATE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn zonegate serve");
    let server = HttpServer { child, dns, http };
    let up = wait_until_every(Duration::from_secs(30), Duration::from_millis(50), || {
        TcpStream::connect(http).is_ok_and(|_| get(http, "/healthz", None).0 == 200)
    });
    assert!(up.is_some(), "no /healthz on {http} within 30 s");
    // DNS answers once the follower's first pass has installed every published zone.
    let dns_up = wait_until_every(Duration::from_secs(30), Duration::from_millis(50), || {
        dig_at(dns, &["zonegate.invalid.", "SOA"], false)
            .status
            .is_some()
    });
    assert!(dns_up.is_some(), "no DNS on {dns} within 30 s");
    server
}

/// One HTTP answer: status, headers (lower-case names), body.
pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

/// Sends one HTTP/1.1 request and reads the whole answer.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// GET with an optional bearer token: (status, body).
pub fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    let r = request(addr, "GET", path, &headers, b"");
    (r.status, r.body)
}

fn post(addr: SocketAddr, path: &str, token: &str, extra: &[(&str, &str)], body: &[u8]) -> Reply {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    request(addr, "POST", path, &headers, body)
}

/// The value of the sample `name{labels}` in a Prometheus text, if present.
pub fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (k, v) = l.rsplit_once(' ')?;
        (k == name_and_labels).then(|| v.parse().ok())?
    })
}

fn published_over_dns(server: &HttpServer) -> Vec<String> {
    dig_at(server.dns, &["www.example.com.", "A"], false).rdata("A")
}

/// A pipeline on another host: plan, review the diff, publish, all over HTTP; a refused plan
/// approved by a reviewer and published; a stale publish; every wrong token and role.
#[test]
fn a_pipeline_plans_reviews_and_publishes_over_http_alone() {
    let s = Scratch::new("http-pipeline");
    let cfg = config(&s);
    let server = serve_http(&s, &cfg);
    let h = server.http;
    let plans = "/api/v1/zones/example.com./plans";

    // Plan g1: 201 with the plan's hash and generation, as `plan --json` prints them.
    let four = ["192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13"];
    let r = post(h, plans, CI, &[], zone(1, &four).as_bytes());
    assert_eq!(r.status, 201, "{}", r.body);
    let v = r.json();
    assert_eq!(v["outcome"], "staged", "{v}");
    let (g1, hash1) = (
        v["generation"].as_u64().unwrap(),
        v["hash"].as_str().unwrap().to_string(),
    );

    // Review: the diff of g1 against nothing.
    let (code, body) = get(
        h,
        &format!("/api/v1/zones/example.com./diff?to={g1}"),
        Some(READER),
    );
    assert_eq!(code, 200, "{body}");
    let d: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(d["to"], g1);
    assert!(d["diff"]["records_added"].as_u64().unwrap() >= 6, "{d}");

    // Publish without If-Match: 428; with the wrong hash: 412; with the right one: 200.
    let publish = |g: u64| format!("/api/v1/zones/example.com./plans/{g}/publish");
    assert_eq!(post(h, &publish(g1), CI, &[], b"").status, 428);
    let wrong = format!("sha256:{}", "0".repeat(64));
    let r = post(h, &publish(g1), CI, &[("If-Match", &wrong)], b"");
    assert_eq!(r.status, 412, "{}", r.body);
    assert_eq!(r.json()["reason"], "hash-mismatch");
    let quoted = format!("\"{hash1}\"");
    let r = post(h, &publish(g1), CI, &[("If-Match", &quoted)], b"");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["outcome"], "published", "{}", r.body);
    let served = wait_until_every(Duration::from_secs(10), Duration::from_millis(50), || {
        published_over_dns(&server).len() == 4
    });
    assert!(served.is_some(), "g1 must be served over DNS");

    // The zone as `status --json` shows it.
    let (code, body) = get(h, "/api/v1/zones/example.com.", Some(READER));
    assert_eq!(code, 200, "{body}");
    let z: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(z["zones"][0]["published"], g1, "{z}");
    assert_eq!(z, s.json(&["status", "example.com.", "--json"]));
    assert_eq!(get(h, "/api/v1/zones/nope.example.", Some(READER)).0, 404);

    // A plan that deletes too much is refused with the reason and the numbers (422) ...
    let r = post(h, plans, CI, &[], zone(2, &[]).as_bytes());
    assert_eq!(r.status, 422, "{}", r.body);
    let v = r.json();
    assert_eq!(v["reason"], "threshold:delete", "{v}");
    assert!(!v["thresholds"].as_array().unwrap().is_empty(), "{v}");
    let (g2, hash2) = (
        v["generation"].as_u64().unwrap(),
        v["hash"].as_str().unwrap().to_string(),
    );
    // ... and cannot be published before a reviewer approves it, with its hash.
    let r = post(h, &publish(g2), CI, &[("If-Match", &hash2)], b"");
    assert_eq!(r.status, 422, "{}", r.body);
    let approve = format!("/api/v1/zones/example.com./plans/{g2}/approve");
    let decision = json!({"hash": hash2, "reason": "planned decommission"}).to_string();
    // The pipeline's token may not approve: 403.
    assert_eq!(post(h, &approve, CI, &[], decision.as_bytes()).status, 403);
    let r = post(h, &approve, REVIEWER, &[], decision.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["outcome"], "approved");
    let r = post(h, &publish(g2), CI, &[("If-Match", &hash2)], b"");
    assert_eq!(r.status, 200, "{}", r.body);

    // Stale: g3 and g4 planned on g2; g4 published; g3 is then stale, with both generations.
    let r3 = post(h, plans, CI, &[], zone(3, &["192.0.2.30"]).as_bytes()).json();
    let r4 = post(h, plans, CI, &[], zone(4, &["192.0.2.40"]).as_bytes()).json();
    let (g3, g4) = (
        r3["generation"].as_u64().unwrap(),
        r4["generation"].as_u64().unwrap(),
    );
    let r = post(
        h,
        &publish(g4),
        CI,
        &[("If-Match", r4["hash"].as_str().unwrap())],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(
        h,
        &publish(g3),
        CI,
        &[("If-Match", r3["hash"].as_str().unwrap())],
        b"",
    );
    assert_eq!(r.status, 409, "{}", r.body);
    let v = r.json();
    assert_eq!(
        (
            v["reason"].clone(),
            v["generation"].clone(),
            v["published"].clone()
        ),
        (json!("stale"), json!(g3), json!(g4)),
        "{v}"
    );

    // Tokens: none or a bad one is 401; a read-only token may not plan or publish (403).
    assert_eq!(get(h, "/api/v1/zones", None).0, 401);
    let r = request(
        h,
        "GET",
        "/api/v1/zones",
        &[("Authorization", "Bearer wrong")],
        b"",
    );
    assert_eq!(r.status, 401);
    assert_eq!(
        r.headers.get("www-authenticate").map(String::as_str),
        Some("Bearer")
    );
    assert_eq!(
        post(h, plans, READER, &[], zone(5, &[]).as_bytes()).status,
        403
    );
    assert_eq!(
        post(h, &publish(g4), READER, &[("If-Match", "x")], b"").status,
        403
    );
    // /metrics, /healthz and /readyz need none.
    assert_eq!(get(h, "/metrics", None).0, 200);
    assert_eq!(get(h, "/readyz", None).0, 200);

    // Every action is audited with the token's name.
    let (code, body) = get(h, "/api/v1/zones/example.com./history", Some(READER));
    assert_eq!(code, 200);
    let hist: Value = serde_json::from_str(&body).unwrap();
    let actors: Vec<(String, String)> = hist["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().into(),
                a["actor"].as_str().unwrap().into(),
            )
        })
        .collect();
    for (action, actor) in [
        ("published", "ci"),
        ("approved", "alice"),
        ("refused", "ci"),
        ("stale", "ci"),
    ] {
        assert!(
            actors.contains(&(action.to_string(), actor.to_string())),
            "{action} by {actor} missing from {actors:?}"
        );
    }
    assert!(
        !body.contains(CI) && !body.contains(REVIEWER),
        "a secret leaked"
    );
    // The server follows the store on its own schedule: wait for the last publication.
    let served = wait_until_every(Duration::from_secs(10), Duration::from_millis(50), || {
        published_over_dns(&server) == vec!["192.0.2.40"]
    });
    assert!(
        served.is_some(),
        "the approved plan must be served over DNS, got {:?}",
        published_over_dns(&server)
    );
}

/// `/metrics` agrees with `zonegate status`, counts a refusal made by a CLI elsewhere, and
/// counts DNS answers.
#[test]
fn metrics_match_status_and_count_a_cli_refusal() {
    let s = Scratch::new("http-metrics");
    let cfg = config(&s);
    let four = ["192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13"];
    let f = s.write("z.zone", &zone(1, &four));
    s.run_ok(&["apply", f.to_str().unwrap()]);
    let server = serve_http(&s, &cfg);
    for _ in 0..5 {
        assert_eq!(published_over_dns(&server).len(), 4);
    }
    let _ = dig_at(server.dns, &["nope.example.com.", "A"], false);
    let _ = dig_at(server.dns, &["www.example.com.", "A"], true);

    let status = s.json(&["status", "example.com.", "--json"]);
    let row = &status["zones"][0];
    let (code, text) = get(server.http, "/metrics", None);
    assert_eq!(code, 200);
    let z = |m: &str| sample(&text, &format!("{m}{{zone=\"example.com.\"}}"));
    assert_eq!(
        z("zonegate_zone_published_generation"),
        row["published"].as_f64(),
        "{text}"
    );
    assert_eq!(
        z("zonegate_zone_served_generation"),
        row["published"].as_f64(),
        "{text}"
    );
    assert_eq!(
        z("zonegate_zone_records"),
        row["record_count"].as_f64(),
        "{text}"
    );
    let serial = dig_at(server.dns, &["example.com.", "SOA"], false).rdata("SOA")[0]
        .split_whitespace()
        .nth(2)
        .unwrap()
        .parse::<f64>()
        .unwrap();
    assert_eq!(z("zonegate_zone_serial"), Some(serial), "{text}");
    assert!(z("zonegate_zone_last_publish_timestamp_seconds").unwrap() > 1.7e9);
    assert!(
        sample(
            &text,
            "zonegate_zone_install_duration_seconds_count{zone=\"example.com.\"}"
        )
        .unwrap()
            >= 1.0,
        "{text}"
    );
    assert_eq!(sample(&text, "zonegate_store_up"), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, "zonegate_gate_publishes_total"),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "zonegate_dns_queries_total{proto=\"udp\",rcode=\"NOERROR\"}"
        )
        .unwrap()
            >= 5.0,
        "{text}"
    );
    assert!(
        sample(
            &text,
            "zonegate_dns_queries_total{proto=\"udp\",rcode=\"NXDOMAIN\"}"
        )
        .unwrap()
            >= 1.0,
        "{text}"
    );
    assert!(
        sample(
            &text,
            "zonegate_dns_queries_total{proto=\"tcp\",rcode=\"NOERROR\"}"
        )
        .unwrap()
            >= 1.0,
        "{text}"
    );
    assert!(text.contains("zonegate_dns_tcp_connections"), "{text}");

    // A pipeline's CLI refuses a plan that deletes too much: the counter rises by one, with
    // the reason the CLI printed.
    let key = "zonegate_gate_refusals_total{reason=\"threshold:delete\"}";
    let before = sample(&text, key).unwrap_or(0.0);
    let cut = s.write("cut.zone", &zone(2, &[]));
    let out = s.json(&["plan", cut.to_str().unwrap(), "--json"]);
    assert_eq!(out["reason"], "threshold:delete", "{out}");
    let (_, text) = get(server.http, "/metrics", None);
    assert_eq!(sample(&text, key), Some(before + 1.0), "{text}");
}

/// `/readyz` is 503 naming the zone while the store cannot be read, 200 again once it can.
#[test]
fn readyz_names_the_zone_while_the_store_is_unreadable() {
    let s = Scratch::new("http-ready");
    let cfg = config(&s);
    let f = s.write("z.zone", &zone(1, &["192.0.2.10"]));
    s.run_ok(&["apply", f.to_str().unwrap()]);
    let server = serve_http(&s, &cfg);
    // Ready once the follower's first pass serves the published generation.
    let ready = wait_until_every(Duration::from_secs(20), Duration::from_millis(50), || {
        get(server.http, "/readyz", None).0 == 200
    });
    assert!(ready.is_some(), "{:?}", get(server.http, "/readyz", None));
    assert_eq!(published_over_dns(&server), vec!["192.0.2.10"]);

    let aside = s.dir.join("moved-away.db");
    std::fs::rename(s.db(), &aside).unwrap();
    let (code, body) = get(server.http, "/readyz", None);
    assert_eq!(code, 503, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["behind"][0]["zone"], "example.com.", "{v}");
    assert_eq!(v["behind"][0]["reason"], "store-down", "{v}");
    let (_, text) = get(server.http, "/metrics", None);
    assert_eq!(sample(&text, "zonegate_store_up"), Some(0.0), "{text}");
    // Alive, and still answering from what it holds.
    assert_eq!(get(server.http, "/healthz", None).0, 200);
    assert_eq!(published_over_dns(&server), vec!["192.0.2.10"]);

    std::fs::rename(&aside, s.db()).unwrap();
    let (code, body) = get(server.http, "/readyz", None);
    assert_eq!(code, 200, "{body}");
}

/// SIGHUP re-reads the config: a bad one is refused and the old tokens keep working; a good
/// one takes effect; DNS answers throughout.
#[test]
fn sighup_reloads_tokens_and_keeps_the_old_config_when_the_new_one_is_bad() {
    let s = Scratch::new("http-hup");
    let cfg = config(&s);
    let f = s.write("z.zone", &zone(1, &["192.0.2.10"]));
    s.run_ok(&["apply", f.to_str().unwrap()]);
    let server = serve_http(&s, &cfg);
    let hup = || {
        let ok = Command::new("kill")
            .args(["-HUP", &server.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    };
    let good = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        format!("{good}\n[[server.api_tokens]]\nname = \"broken\"\nroles = []\n"),
    )
    .unwrap();
    hup();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        get(server.http, "/api/v1/zones", Some(READER)).0,
        200,
        "old tokens kept"
    );
    assert_eq!(published_over_dns(&server), vec!["192.0.2.10"]);

    let newer = s.write("new.token", "a-new-token");
    std::fs::write(
        &cfg,
        format!("[server]\n[[server.api_tokens]]\nname = \"new\"\nroles = [\"read\"]\nsecret_file = \"{}\"\n", newer.display()),
    )
    .unwrap();
    hup();
    let switched = wait_until_every(Duration::from_secs(5), Duration::from_millis(50), || {
        get(server.http, "/api/v1/zones", Some("a-new-token")).0 == 200
    });
    assert!(switched.is_some(), "the new token must work after SIGHUP");
    assert_eq!(
        get(server.http, "/api/v1/zones", Some(READER)).0,
        401,
        "the old token is gone"
    );
    assert!(server_alive(&server));
    assert_eq!(published_over_dns(&server), vec!["192.0.2.10"]);
}

fn server_alive(server: &HttpServer) -> bool {
    Command::new("kill")
        .args(["-0", &server.child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs Debian's headless Chromium on `url` with a fresh profile: the DOM it rendered, and a
/// screenshot at `png`.
fn chromium(url: &str, png: &Path, profile: &Path) -> String {
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
    ];
    let profile_flag = format!("--user-data-dir={}", profile.display());
    let run = |extra: &str| {
        Command::new("chromium")
            .args(flags)
            .arg(&profile_flag)
            .arg(extra)
            .arg(url)
            .output()
            .expect("Debian's chromium must be installed (.ci/run installs it)")
    };
    let dom = run("--dump-dom");
    assert!(
        dom.status.success(),
        "chromium --dump-dom failed: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let shot = run(&format!("--screenshot={}", png.display()));
    assert!(
        shot.status.success(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&shot.stderr)
    );
    String::from_utf8(dom.stdout).unwrap()
}

/// The `data-NAME="..."` attribute values of every element that has `class="CLASS` in `dom`.
fn attrs(dom: &str, class: &str, name: &str) -> Vec<String> {
    dom.split('<')
        .filter(|tag| tag.contains(&format!("class=\"{class}")))
        .filter_map(|tag| {
            let key = format!("{name}=\"");
            let at = tag.find(&key)? + key.len();
            Some(tag[at..].split('"').next()?.to_string())
        })
        .collect()
}

/// The status page in headless Chromium: a `read` token from `/?token=` (kept in a cookie),
/// the zone rows and the timelines against the store, a coloured diff; a screenshot is saved
/// in the test's output directory.
#[test]
fn the_status_page_in_headless_chromium() {
    let s = Scratch::new("http-page");
    let cfg = config(&s);
    let four = ["192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13"];
    for (serial, www) in [(1, &four[..]), (2, &four[..3]), (3, &four[..])] {
        let f = s.write("z.zone", &zone(serial, www));
        s.run_ok(&["apply", f.to_str().unwrap()]);
    }
    // A refusal on the timeline: deleting every address crosses the delete limit.
    let cut = s.write("cut.zone", &zone(4, &[]));
    assert_eq!(
        s.run(&["plan", cut.to_str().unwrap()]).status.code(),
        Some(3)
    );
    let other = s.write(
        "o.zone",
        "$ORIGIN example.org.\n$TTL 60\n@ SOA ns1 h 1 3600 600 604800 60\n@ NS ns1\nns1 A 192.0.2.9\n",
    );
    s.run_ok(&["apply", other.to_str().unwrap()]);
    let server = serve_http(&s, &cfg);

    // Without a token: 401, and the page says how to get in.
    let (code, body) = get(server.http, "/", None);
    assert_eq!(code, 401);
    assert!(body.contains("/?token="), "{body}");
    let r = request(server.http, "GET", &format!("/?token={READER}"), &[], b"");
    assert_eq!(r.status, 303);
    let cookie = r.headers.get("set-cookie").cloned().unwrap_or_default();
    assert!(cookie.contains("HttpOnly"), "{cookie}");

    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("status-page");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let png = out.join("status-page.png");
    let url = format!(
        "http://{}/?token={READER}&zone=example.com.&generation=3",
        server.http
    );
    let dom = chromium(&url, &png, &s.dir.join("chromium-profile"));

    // Zone rows: as `zonegate status` says, served at the published generation.
    let status = s.json(&["status", "--json"]);
    let zones: Vec<String> = status["zones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["zone"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(attrs(&dom, "zone", "data-zone"), zones, "{dom}");
    let published: Vec<String> = status["zones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["published"].to_string())
        .collect();
    assert_eq!(attrs(&dom, "zone", "data-published"), published, "{dom}");
    assert_eq!(attrs(&dom, "zone", "data-served"), published, "{dom}");

    // Timelines: every stored generation of each zone, with its status and verdict.
    let history = s.json(&["history", "example.com.", "--json"]);
    let gens: Vec<String> = history["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["generation"].to_string())
        .collect();
    let com = dom
        .split("<svg")
        .skip(1)
        .find(|t| t.contains("data-zone=\"example.com.\""))
        .unwrap();
    assert_eq!(attrs(com, "gen", "data-generation"), gens, "{com}");
    let statuses: Vec<String> = history["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(attrs(com, "gen", "data-status"), statuses, "{com}");
    assert_eq!(
        attrs(com, "refusal", "data-reason"),
        vec!["threshold:delete"],
        "{com}"
    );
    // The chosen diff, coloured: g3 put back the address g2 removed.
    assert!(
        dom.contains(r#"<section id="diff" data-zone="example.com." data-from="2" data-to="3">"#),
        "{dom}"
    );
    assert!(
        dom.contains(r#"<span class="add">+ www.example.com. 300 IN A 192.0.2.13</span>"#),
        "{dom}"
    );

    let meta = std::fs::metadata(&png).expect("chromium must save the screenshot");
    assert!(
        meta.len() > 10_000,
        "a blank screenshot? {} bytes",
        meta.len()
    );
    println!("screenshot: {}", png.display());
}

/// docs/openapi.yaml holds against the running server: schemathesis (PyPI) generates
/// requests for every operation and checks status codes, content types, response schemas,
/// server errors and authentication. Two checks are left out on purpose: whether a zone file
/// is valid, or a generation exists, is not something a schema can say
/// (`positive_data_acceptance`), and a missing `If-Match` is answered 428 Precondition
/// Required (RFC 6585), which schemathesis does not expect (`missing_required_header`).
#[test]
fn the_openapi_description_holds_against_the_server() {
    let s = Scratch::new("http-openapi");
    let cfg = config(&s);
    let f = s.write("z.zone", &zone(1, &["192.0.2.10"]));
    s.run_ok(&["apply", f.to_str().unwrap()]);
    let server = serve_http(&s, &cfg);
    let spec = common::repo_root().join("docs/openapi.yaml");
    let out = Command::new("schemathesis")
        .current_dir(&s.dir)
        .arg("run")
        .arg(&spec)
        .args(["-u", &format!("http://{}", server.http)])
        .args(["-H", &format!("Authorization: Bearer {ADMIN}")])
        .args([
            "-n",
            "15",
            "--generation-deterministic",
            "--request-timeout",
            "20",
        ])
        .args([
            "--exclude-checks",
            "positive_data_acceptance,missing_required_header",
        ])
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .expect("schemathesis must be installed (.ci/run: pip install schemathesis)");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis found problems:\n{text}");
    assert!(text.contains("passed"), "{text}");
}

/// contrib/zonegate.service passes `systemd-analyze verify` (with ExecStart pointed at the
/// binary under test), with no warning about the unit at all, and keeps its promises: its own
/// user, CAP_NET_BIND_SERVICE alone, a read-only file system but the state directory.
#[test]
fn the_systemd_unit_verifies() {
    let s = Scratch::new("http-systemd");
    let unit =
        std::fs::read_to_string(common::repo_root().join("contrib/zonegate.service")).unwrap();
    for line in [
        "DynamicUser=yes",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/zonegate",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit must say {line}");
    }
    let local = s.write(
        "zonegate.service",
        &unit.replace("/usr/local/bin/zonegate", BIN),
    );
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&local)
        .output()
        .expect("systemd-analyze (Debian's systemd package) must be installed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{stderr}"
    );
    assert!(
        !stderr.contains("zonegate.service"),
        "warnings about the unit:\n{stderr}"
    );
}
