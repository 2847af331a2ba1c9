//! DNS UPDATE (RFC 2136) through the gate, with real clients nobody here wrote: BIND's
//! `nsupdate` (with and without TSIG), dnspython's `dns.update` over UDP and TCP (driven by
//! `tests/update_client.py`), the external-dns and cert-manager message patterns, several
//! clients at once, and a real Knot secondary that follows an update by NOTIFY and IXFR.
//! Every change is checked with `dig` against the running server and in `history`;
//! `export` of the result, planned again, must say "no changes".
//!
//! `.ci/run` installs `nsupdate`/`dig` (bind9-dnsutils), `knotd` and dnspython.

#![allow(clippy::too_many_lines)] // Long test functions: each walks one scenario end to end.

mod common;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use zonegate_testkit::wait_until_every;

const DDNS: (&str, &str) = ("ddns.", "c2VjcmV0c2VjcmV0c2VjcmV0");
const ACME: (&str, &str) = ("acme.", "YWNtZWFjbWVhY21lYWNtZQ==");

/// A zone of 40 records: the apex SOA and NS, ns1, www, and 36 hosts h1..h36.
fn zone_text() -> String {
    zone_text_with(36)
}

/// The zone of [`zone_text`] with `hosts` hosts.
fn zone_text_with(hosts: usize) -> String {
    let mut z = String::from(
        "$ORIGIN example.com.\n$TTL 300\n\
         @ SOA ns1.example.com. hostmaster.example.com. 1 3600 600 604800 60\n\
         @ NS ns1.example.com.\nns1 A 192.0.2.53\nwww A 192.0.2.1\n",
    );
    for i in 1..=hosts {
        z += &format!("h{i} A 198.51.100.{}\n", i % 250);
    }
    z
}

fn config(extra: &str) -> String {
    config_with(extra, "")
}

/// [`config`] with `tail` (more tables) at its end.
fn config_with(extra: &str, tail: &str) -> String {
    format!(
        "[server]\nallow_update = [\"127.0.0.1\"]\nallow_transfer = [\"127.0.0.1\"]\n{extra}\n\
         [[server.tsig_keys]]\nname = \"{}\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{}\"\n\
         [[server.tsig_keys]]\nname = \"{}\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{}\"\n\
         [server.zones.\"example.com.\"]\nupdate_policy = [{{ key = \"acme.\", name = \"_acme-challenge.*.example.com.\", types = [\"TXT\"] }}, \
         {{ key = \"acme.\", name = \"_acme-challenge.example.com.\", types = [\"TXT\"] }}]\n{tail}",
        DDNS.0, DDNS.1, ACME.0, ACME.1
    )
}

/// `zonegate serve` with a config file, logging to `serve.log` in the scratch directory.
fn serve(s: &Scratch, config_text: &str) -> (Process, SocketAddr, PathBuf) {
    let cfg = s.write("zonegate.toml", config_text);
    let addr = free_addr();
    let log = s.dir.join("serve.log");
    let p = serve_logged(s, addr, &cfg, &log);
    let up = wait_until_every(Duration::from_secs(20), Duration::from_millis(50), || {
        dig_at(addr, &["example.com.", "SOA"], false)
            .status
            .as_deref()
            == Some("NOERROR")
    });
    assert!(
        up.is_some(),
        "zonegate serve did not come up:\n{}",
        read(&log)
    );
    (p, addr, log)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Runs nsupdate with `script` (after the server and zone lines): its exit code and stderr.
fn nsupdate(addr: SocketAddr, key: Option<(&str, &str)>, script: &str) -> (i32, String) {
    let mut cmd = Command::new("nsupdate");
    if let Some((name, secret)) = key {
        cmd.args(["-y", &format!("hmac-sha256:{name}:{secret}")]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run nsupdate (install bind9-dnsutils)");
    let text = format!(
        "server {} {}\nzone example.com.\n{script}\nsend\n",
        addr.ip(),
        addr.port()
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A name's A records as dig sees them now.
fn a_of(addr: SocketAddr, name: &str) -> Vec<String> {
    dig_at(addr, &[name, "A"], false).rdata("A")
}

fn history(s: &Scratch) -> Value {
    s.json(&["history", "example.com.", "--json"])
}

/// The actors of the audit rows with this action, newest first.
fn actors(h: &Value, action: &str) -> Vec<String> {
    h["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == action)
        .map(|r| r["actor"].as_str().unwrap().to_string())
        .collect()
}

/// Exports the published generation and plans it again: it must be "no changes".
fn export_plans_as_no_changes(s: &Scratch) {
    let out = s.run_ok(&["export", "example.com."]);
    let file = s.write("exported.zone", &String::from_utf8_lossy(&out.stdout));
    let plan = s.run(&[
        "plan",
        file.to_str().unwrap(),
        "--zone",
        "example.com.",
        "--expect-no-changes",
    ]);
    assert_eq!(plan.status.code(), Some(0), "{}", describe(&plan));
    let json = s.json(&[
        "plan",
        file.to_str().unwrap(),
        "--zone",
        "example.com.",
        "--json",
    ]);
    assert_eq!(json["outcome"], "no-changes", "{json}");
}

fn start(name: &str, extra: &str) -> (Scratch, Process, SocketAddr, PathBuf) {
    start_with(name, &config(extra))
}

fn start_with(name: &str, config_text: &str) -> (Scratch, Process, SocketAddr, PathBuf) {
    start_zone(name, config_text, &zone_text())
}

fn start_zone(
    name: &str,
    config_text: &str,
    zone: &str,
) -> (Scratch, Process, SocketAddr, PathBuf) {
    require("nsupdate", "bind9-dnsutils");
    require("dig", "bind9-dnsutils");
    let s = Scratch::new(name);
    let zone = s.write("zone.txt", zone);
    s.run_ok(&["apply", zone.to_str().unwrap(), "--zone", "example.com."]);
    let (p, addr, log) = serve(&s, config_text);
    (s, p, addr, log)
}

#[test]
fn nsupdate_with_and_without_tsig() {
    let (s, _server, addr, log) = start("nsupdate", "");
    let ddns = Some(DDNS);
    // Add, signed: dig sees it at once.
    let (code, err) = nsupdate(addr, ddns, "update add new.example.com. 300 A 203.0.113.1");
    assert_eq!(code, 0, "{err}\n{}", read(&log));
    assert_eq!(a_of(addr, "new.example.com."), ["203.0.113.1"]);
    // Replace: delete the old record and add the new one in one message.
    let (code, err) = nsupdate(
        addr,
        ddns,
        "update delete www.example.com. A 192.0.2.1\nupdate add www.example.com. 300 A 192.0.2.9",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(a_of(addr, "www.example.com."), ["192.0.2.9"]);
    // Delete an RRset.
    let (code, err) = nsupdate(addr, ddns, "update delete new.example.com. A");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        dig_at(addr, &["new.example.com.", "A"], false)
            .status
            .as_deref(),
        Some("NXDOMAIN")
    );
    // Unsigned, allowed by address: the actor is the client's address.
    let (code, err) = nsupdate(
        addr,
        None,
        "update add plain.example.com. 300 A 203.0.113.2",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(a_of(addr, "plain.example.com."), ["203.0.113.2"]);

    // Each prerequisite kind, failing with its rcode, and nothing changes.
    let cases = [
        ("prereq nxdomain www.example.com.", "YXDOMAIN"),
        ("prereq yxdomain nope.example.com.", "NXDOMAIN"),
        ("prereq nxrrset www.example.com. A", "YXRRSET"),
        ("prereq yxrrset www.example.com. TXT", "NXRRSET"),
        ("prereq yxrrset www.example.com. A 192.0.2.99", "NXRRSET"),
    ];
    for (prereq, rcode) in cases {
        let script = format!("{prereq}\nupdate add www.example.com. 300 A 192.0.2.77");
        let (code, err) = nsupdate(addr, ddns, &script);
        assert_ne!(code, 0, "{prereq}");
        assert!(
            err.contains(&format!("update failed: {rcode}")),
            "{prereq}: {err}"
        );
    }
    assert_eq!(a_of(addr, "www.example.com."), ["192.0.2.9"]);
    // And each holding.
    let (code, err) = nsupdate(
        addr,
        ddns,
        "prereq yxdomain www.example.com.\nprereq nxdomain nope.example.com.\n\
         prereq yxrrset www.example.com. A 192.0.2.9\nprereq nxrrset www.example.com. TXT\n\
         prereq yxrrset www.example.com. A\nupdate add www.example.com. 300 TXT \"checked\"",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        dig_at(addr, &["www.example.com.", "TXT"], false).rdata("TXT"),
        ["\"checked\""]
    );

    // A key outside its policy: REFUSED, audited with the key; inside it, applied.
    let acme = Some(ACME);
    let (code, err) = nsupdate(addr, acme, "update add www.example.com. 300 A 192.0.2.66");
    assert!(code != 0 && err.contains("REFUSED"), "{err}");
    let (code, err) = nsupdate(
        addr,
        acme,
        "update add _acme-challenge.www.example.com. 60 TXT \"tok\"",
    );
    assert_eq!(code, 0, "{err}");
    // A wrong key: NOTAUTH with the TSIG error, nothing changes.
    let (code, err) = nsupdate(
        addr,
        Some((DDNS.0, "d3JvbmdzZWNyZXR3cm9uZw==")),
        "update add bad.example.com. 300 A 192.0.2.66",
    );
    assert!(code != 0 && err.contains("NOTAUTH(BADSIG)"), "{err}");
    assert_eq!(
        dig_at(addr, &["bad.example.com.", "A"], false)
            .status
            .as_deref(),
        Some("NXDOMAIN")
    );

    // History: each update a generation with its key (or address) as the actor.
    let h = history(&s);
    let published = actors(&h, "published");
    assert_eq!(
        published,
        [
            "acme.",
            "ddns.",
            "127.0.0.1",
            "ddns.",
            "ddns.",
            "ddns.",
            "apply"
        ],
        "{h}"
    );
    let refused = h["audit"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "refused")
        .expect("the policy refusal is audited");
    assert_eq!(refused["actor"], "acme.");
    assert_eq!(refused["reason"], "update-policy");
    export_plans_as_no_changes(&s);
}

/// A zone under review refuses every update at once, with the reason: an update never waits
/// for a person.
#[test]
fn a_reviewed_zone_refuses_updates() {
    require("python3", "python3");
    let cfg = config_with("", "[policy]\nreview = \"manual\"\n");
    let (s, _server, addr, _log) = start_with("review", &cfg);
    let add = json!([["add", "new.example.com.", 300, "A", "203.0.113.1"]]);
    let r = dnspython(&[msg(addr, true, Some(DDNS), json!([]), add)]);
    assert_eq!(r[0]["rcode"], "REFUSED", "{r:?}");
    let text = r[0]["ede"][0]["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("review: ") && text.contains("review = \"off\""),
        "{r:?}"
    );
    assert_eq!(
        dig_at(addr, &["new.example.com.", "A"], false)
            .status
            .as_deref(),
        Some("NXDOMAIN")
    );
    let h = history(&s);
    let refused = h["audit"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "refused");
    assert_eq!(
        refused.map(|r| r["reason"].clone()),
        Some(json!("review")),
        "{h}"
    );
}

/// Sends messages with dnspython; one result per message.
fn dnspython(messages: &[Value]) -> Vec<Value> {
    let script = repo_root().join("tests/update_client.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    let mut input = String::new();
    for m in messages {
        input += &format!("{m}\n");
    }
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "update_client.py failed (pip install dnspython; .ci/run does):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `m` with `key` set to `value`.
fn with(mut m: Value, key: &str, value: Value) -> Value {
    m[key] = value;
    m
}

fn msg(
    addr: SocketAddr,
    tcp: bool,
    key: Option<(&str, &str)>,
    prereqs: Value,
    updates: Value,
) -> Value {
    json!({
        "zone": "example.com.", "server": addr.ip().to_string(), "port": addr.port(),
        "tcp": tcp, "edns": true, "key": key.map(|(n, s)| [n, s]),
        "prereqs": prereqs, "updates": updates,
    })
}

#[test]
fn dnspython_over_udp_and_tcp() {
    require("python3", "python3");
    let (s, _server, addr, _log) = start("dnspython", "");
    for tcp in [false, true] {
        let host = if tcp { "tcp" } else { "udp" };
        let name = format!("{host}.example.com.");
        let ddns = Some(DDNS);
        let results = dnspython(&[
            msg(
                addr,
                tcp,
                ddns,
                json!([]),
                json!([["add", name, 300, "A", "203.0.113.10"]]),
            ),
            msg(
                addr,
                tcp,
                ddns,
                json!([]),
                json!([["replace", name, 300, "A", "203.0.113.11"]]),
            ),
            msg(
                addr,
                tcp,
                ddns,
                json!([["nxdomain", name]]),
                json!([["add", name, 300, "A", "203.0.113.12"]]),
            ),
            msg(
                addr,
                tcp,
                ddns,
                json!([["yxdomain", "nope.example.com."]]),
                json!([]),
            ),
            msg(addr, tcp, ddns, json!([["nxrrset", name, "A"]]), json!([])),
            msg(
                addr,
                tcp,
                ddns,
                json!([["yxrrset", name, "TXT"]]),
                json!([]),
            ),
            msg(
                addr,
                tcp,
                ddns,
                json!([["yxrrset", name, "A", "203.0.113.10"]]),
                json!([]),
            ),
            msg(
                addr,
                tcp,
                Some(ACME),
                json!([]),
                json!([["add", name, 300, "TXT", "x"]]),
            ),
            msg(
                addr,
                tcp,
                None,
                json!([]),
                json!([["add", "a.example.net.", 300, "A", "203.0.113.1"]]),
            ),
            // A zone not served here, and an address not in allow_update.
            with(
                msg(addr, tcp, ddns, json!([]), json!([])),
                "zone",
                json!("example.net."),
            ),
            with(
                msg(
                    addr,
                    tcp,
                    ddns,
                    json!([]),
                    json!([["add", name, 300, "A", "203.0.113.1"]]),
                ),
                "source",
                json!("127.0.0.2"),
            ),
        ]);
        let rcodes: Vec<&str> = results
            .iter()
            .map(|r| r["rcode"].as_str().unwrap())
            .collect();
        assert_eq!(
            rcodes,
            [
                "NOERROR", "NOERROR", "YXDOMAIN", "NXDOMAIN", "YXRRSET", "NXRRSET", "NXRRSET",
                "REFUSED", "NOTZONE", "NOTAUTH", "REFUSED"
            ],
            "{host}: {results:?}"
        );
        // The key outside its policy is told why, in an Extended DNS Error.
        let ede = &results[7]["ede"][0];
        assert_eq!(ede["code"], 18, "{results:?}");
        assert!(
            ede["text"].as_str().unwrap().starts_with("update-policy: "),
            "{ede}"
        );
        assert_eq!(a_of(addr, &name), ["203.0.113.11"]);
        // Over TCP (dig asks over UDP, so this also checks both paths answer the same).
        assert_eq!(
            dig_at(addr, &[&name, "A"], true).rdata("A"),
            ["203.0.113.11"]
        );
    }
    export_plans_as_no_changes(&s);
}

/// external-dns's rfc2136 provider: TCP, no prerequisites, a replace as a class-NONE delete of
/// the old record plus the add of the new one, batches of 50. Then the "empty source" run,
/// which deletes every record it owns: the shrink guard refuses it, with the EDE.
#[test]
fn external_dns_pattern() {
    require("python3", "python3");
    let (s, _server, addr, _log) = start("external-dns", "");
    let ddns = Some(DDNS);
    // Creates: 50 names in one batch (the zone has 40 records; 50 more is not a shrink, and
    // adds are not deletes or updates).
    let creates: Vec<Value> = (1..=50)
        .map(|i| {
            json!([
                "add",
                format!("svc{i}.example.com."),
                300,
                "A",
                format!("203.0.113.{i}")
            ])
        })
        .collect();
    let r = dnspython(&[msg(addr, true, ddns, json!([]), Value::Array(creates))]);
    assert_eq!(r[0]["rcode"], "NOERROR", "{r:?}");
    assert_eq!(a_of(addr, "svc50.example.com."), ["203.0.113.50"]);
    // Updates: delete (class NONE) the old record and add the new one, 10 names, one batch.
    let mut updates = Vec::new();
    for i in 1..=10 {
        let name = format!("svc{i}.example.com.");
        updates.push(json!(["delete", name, 0, "A", format!("203.0.113.{i}")]));
        updates.push(json!([
            "add",
            name,
            300,
            "A",
            format!("192.0.2.{}", 100 + i)
        ]));
    }
    let r = dnspython(&[msg(addr, true, ddns, json!([]), Value::Array(updates))]);
    assert_eq!(r[0]["rcode"], "NOERROR", "{r:?}");
    assert_eq!(a_of(addr, "svc3.example.com."), ["192.0.2.103"]);
    let before = s.json(&["status", "--json"]);
    // The empty source: external-dns deletes all 50 names it owns and the 36 hosts, batches
    // of 50; the first batch already crosses the shrink guard.
    let owned: Vec<Value> = (1..=50)
        .map(|i| json!(["delete", format!("svc{i}.example.com."), 0, "A", null]))
        .chain((1..=36).map(|i| json!(["delete", format!("h{i}.example.com."), 0, "A", null])))
        .collect();
    let batches: Vec<Value> = owned
        .chunks(50)
        .map(|c| msg(addr, true, ddns, json!([]), Value::Array(c.to_vec())))
        .collect();
    let r = dnspython(&batches[..1]);
    assert_eq!(r[0]["rcode"], "REFUSED", "{r:?}");
    let ede = r[0]["ede"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(ede.starts_with("threshold:shrink: "), "{r:?}");
    assert!(ede.contains("policy.shrink_max_percent"), "{ede}");
    // The served zone is untouched, and the refusal is audited with the key.
    assert_eq!(a_of(addr, "svc20.example.com."), ["203.0.113.20"]);
    assert_eq!(a_of(addr, "h1.example.com."), ["198.51.100.1"]);
    // The published pointer did not move (the refused plan is staged with the verdict
    // `refused`, as `plan` stages one, and can never be published unless approved).
    let after = s.json(&["status", "--json"]);
    for key in ["published", "hash", "record_count", "version"] {
        assert_eq!(
            after["zones"][0][key], before["zones"][0][key],
            "{key}: {after}"
        );
    }
    let h = history(&s);
    let refused = h["audit"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "refused")
        .unwrap();
    assert_eq!(refused["actor"], "ddns.");
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .starts_with("threshold:shrink"),
        "{refused}"
    );
}

/// cert-manager's RFC2136 DNS-01 solver: over UDP, one TXT add with TTL 60 under
/// `_acme-challenge`, then its delete; with a key limited to exactly that.
#[test]
fn cert_manager_pattern() {
    require("python3", "python3");
    let http = free_addr();
    let (s, _server, addr, _log) = start("cert-manager", &format!("http_listen = \"{http}\""));
    let name = "_acme-challenge.www.example.com.";
    let token = "\"LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0\"";
    let add = msg(
        addr,
        false,
        Some(ACME),
        json!([]),
        json!([["add", name, 60, "TXT", token]]),
    );
    assert_eq!(dnspython(&[add])[0]["rcode"], "NOERROR");
    let d = dig_at(addr, &[name, "TXT"], false);
    assert_eq!(d.answer.len(), 1, "{}", d.raw);
    assert_eq!(d.answer[0].1, 60, "{}", d.raw);
    let del = msg(
        addr,
        false,
        Some(ACME),
        json!([]),
        json!([["delete", name, 0, "TXT", token]]),
    );
    assert_eq!(dnspython(&[del])[0]["rcode"], "NOERROR");
    assert_eq!(
        dig_at(addr, &[name, "TXT"], false).status.as_deref(),
        Some("NXDOMAIN")
    );
    assert_eq!(actors(&history(&s), "published")[..2], ["acme.", "acme."]);
    // Both are counted on this server's /metrics (issue 13: UPDATE by outcome).
    let metrics = http_get(http, "/metrics");
    assert!(
        metrics.contains("zonegate_dns_updates_total{outcome=\"published\"} 2"),
        "{metrics}"
    );
}

/// The body of `GET path` from the HTTP listener at `addr`.
fn http_get(addr: SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("the HTTP listener is up");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

/// Several clients at once, over UDP and TCP: every change answered NOERROR is served at the
/// end, and none answered otherwise. Half the messages race for the same names with a
/// "name not in use" prerequisite, so exactly one of each race may win.
#[test]
fn concurrent_clients_lose_nothing() {
    require("python3", "python3");
    let (s, _server, addr, _log) = start("concurrent", "");
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let messages: Vec<Value> = (0..10)
                .flat_map(|i| {
                    let own = format!("c{c}-{i}.example.com.");
                    let race = format!("race{i}.example.com.");
                    [
                        msg(
                            addr,
                            c % 2 == 0,
                            Some(DDNS),
                            json!([]),
                            json!([["add", own, 300, "A", "203.0.113.1"]]),
                        ),
                        msg(
                            addr,
                            c % 2 == 1,
                            Some(DDNS),
                            json!([["nxdomain", race]]),
                            json!([["add", race, 300, "A", format!("203.0.113.{}", 10 + c)]]),
                        ),
                    ]
                })
                .collect();
            std::thread::spawn(move || dnspython(&messages))
        })
        .collect();
    let results: Vec<Vec<Value>> = clients.into_iter().map(|t| t.join().unwrap()).collect();
    for (c, rs) in results.iter().enumerate() {
        for (j, r) in rs.iter().enumerate() {
            let i = j / 2;
            if j % 2 == 0 {
                assert_eq!(r["rcode"], "NOERROR", "client {c} own {i}: {r}");
                assert_eq!(
                    a_of(addr, &format!("c{c}-{i}.example.com.")),
                    ["203.0.113.1"]
                );
            }
        }
    }
    for i in 0..10 {
        let winners: Vec<usize> = (0..4)
            .filter(|c| results[*c][2 * i + 1]["rcode"] == "NOERROR")
            .collect();
        let losers = (0..4)
            .filter(|c| results[*c][2 * i + 1]["rcode"] == "YXDOMAIN")
            .count();
        assert_eq!((winners.len(), losers), (1, 3), "race{i}: {results:?}");
        assert_eq!(
            a_of(addr, &format!("race{i}.example.com.")),
            [format!("203.0.113.{}", 10 + winners[0])]
        );
    }
    // 50 generations were published, but serve cleaned up after each: the store keeps the
    // newest `generations_keep` (10) and only what their chains need (a checkpoint, and the
    // deltas up to the oldest kept one, `[store]` in docs/configuration.md).
    let h = history(&s);
    let plans = h["plans"].as_array().unwrap();
    let newest = plans
        .iter()
        .map(|p| p["generation"].as_u64().unwrap())
        .max();
    assert_eq!(newest, Some(51), "{h}");
    assert_eq!(
        plans.iter().filter(|p| p["status"] == "published").count(),
        1
    );
    assert_kept_only_what_the_newest_need(&s, 10, &h);
}

/// What the sqlite3 shell prints for `sql` on the scratch store (how plans are stored, which
/// no command shows).
fn sqlite3(s: &Scratch, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(s.db())
        .arg(sql)
        .output()
        .expect("the sqlite3 shell (Debian package sqlite3; .ci/run installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every plan the store keeps is one of the newest `keep`, or on the chain (the `parent`
/// links, read with the sqlite3 shell) of one of them.
fn assert_kept_only_what_the_newest_need(s: &Scratch, keep: usize, h: &Value) {
    let rows: Vec<(u64, u64)> = sqlite3(
        s,
        "SELECT generation, ifnull(parent, 0) FROM plans ORDER BY generation DESC",
    )
    .lines()
    .filter_map(|l| l.split_once('|'))
    .map(|(g, p)| (g.parse().unwrap(), p.parse().unwrap()))
    .collect();
    let parent: std::collections::BTreeMap<u64, u64> = rows.iter().copied().collect();
    // `history --json` says how each plan is stored, as the table does.
    for p in h["plans"].as_array().unwrap() {
        let g = p["generation"].as_u64().unwrap();
        let stored_parent = p["delta_parent"].as_u64().unwrap_or(0);
        assert_eq!(parent.get(&g), Some(&stored_parent), "g{g}: {p}");
        let kind = if stored_parent == 0 {
            "checkpoint"
        } else {
            "delta"
        };
        assert_eq!(p["stored_as"], kind, "g{g}: {p}");
        assert!(p["stored_bytes"].as_u64().unwrap() > 0, "g{g}: {p}");
    }
    let plans = h["plans"].as_array().unwrap();
    assert!(plans.iter().any(|p| p["stored_as"] == "delta"), "{h}");
    let mut needed: std::collections::BTreeSet<u64> = std::collections::BTreeSet::new();
    for &(g, _) in rows.iter().take(keep) {
        let mut at = g;
        while at != 0 && needed.insert(at) {
            at = parent.get(&at).copied().unwrap_or(0);
        }
    }
    let extra: Vec<u64> = rows
        .iter()
        .map(|r| r.0)
        .filter(|g| !needed.contains(g))
        .collect();
    assert!(
        extra.is_empty(),
        "kept but not needed: {extra:?} of {rows:?}\n{h}"
    );
}

/// A Knot secondary follows an update by NOTIFY and IXFR.
#[test]
fn knot_secondary_picks_up_an_update() {
    require("knotd", "knot");
    let knot = free_addr();
    let (s, _server, addr, log) = start(
        "knot",
        &format!("notify = [\"{knot}\"]\nnotify_timeout_ms = 500"),
    );
    let knot_server = Knot::new(&s.dir.join("knot"), knot);
    let (_knot, knot_log) = knot_server.start(&format!(
        "{}zone:\n  - domain: example.com.\n    master: primary\n    acl: notify_from_primary\n",
        knot_server.secondary_of(addr, None)
    ));
    let serial = |a: SocketAddr| {
        dig_at(a, &["example.com.", "SOA"], false)
            .answer
            .first()
            .and_then(|r| {
                r.3.split_whitespace()
                    .nth(2)
                    .and_then(|s| s.parse::<u32>().ok())
            })
    };
    let boot = wait_until_every(Duration::from_secs(30), Duration::from_millis(100), || {
        serial(knot) == Some(1)
    });
    assert!(
        boot.is_some(),
        "Knot did not load the zone:\n{}",
        read(&knot_log)
    );
    let (code, err) = nsupdate(
        addr,
        Some(DDNS),
        "update add viaknot.example.com. 300 A 203.0.113.99",
    );
    assert_eq!(code, 0, "{err}");
    let seen = wait_until_every(Duration::from_secs(20), Duration::from_millis(100), || {
        a_of(knot, "viaknot.example.com.") == ["203.0.113.99"]
    });
    assert!(
        seen.is_some(),
        "Knot did not pick up the update:\n{}\n{}",
        read(&knot_log),
        read(&log)
    );
    assert_eq!(serial(knot), Some(2));
    assert!(
        read(&knot_log).contains("IXFR"),
        "Knot did not use IXFR:\n{}",
        read(&knot_log)
    );
}

/// A stream of updates does not wait for checkpoints (issue 16): with `checkpoint_every = 3`
/// the worker stores deltas and, after answering, the compaction thread rewrites a due one
/// whole. Every generation still reads back (`export` of each matches what was served), and
/// the chains end at the compacted generations, not at the hard bound.
#[test]
fn updates_write_their_checkpoints_after_answering() {
    let cfg = config_with("", "[store]\ncheckpoint_every = 3\n");
    // Large enough that the chains are bounded by their length, not their bytes (an update's
    // delta carries the SOA it replaces and the one it serves).
    let (s, _server, addr, log) = start_zone("update-compaction", &cfg, &zone_text_with(400));
    for i in 1..=8 {
        let (code, err) = nsupdate(
            addr,
            Some(DDNS),
            &format!("update add c{i}.example.com. 60 A 203.0.113.{i}"),
        );
        assert_eq!(code, 0, "update {i}: {err}\n{}", read(&log));
        assert_eq!(
            a_of(addr, &format!("c{i}.example.com.")),
            [format!("203.0.113.{i}")]
        );
        // Update i publishes g(i + 1) and supersedes g(i): g4 and g7 are due, each compacted
        // once the update after it has answered (waited for here, so the next stages see the
        // chain the compaction left).
        let due = [4, 7].iter().filter(|&&at| i >= at).count();
        let compacted =
            wait_until_every(Duration::from_secs(30), Duration::from_millis(20), || {
                read(&log)
                    .matches("wrote a checkpoint after a DNS UPDATE")
                    .count()
                    >= due
            });
        assert!(
            compacted.is_some(),
            "g{} not compacted:\n{}",
            i + 1,
            read(&log)
        );
    }
    // How each generation is stored, read with the sqlite3 shell: a checkpoint has no parent.
    let rows = sqlite3(
        &s,
        "SELECT generation, parent IS NULL FROM plans ORDER BY generation",
    );
    // g1 whole, g2 and g3 deltas on it; g4 would pass a chain of 3, is staged as a delta and
    // then compacted; g7 likewise. In-stage checkpoints would be the same generations, but
    // written before the answer; without compaction g4..g6 would stay deltas.
    assert_eq!(
        rows.lines().collect::<Vec<_>>(),
        [
            "1|1", "2|0", "3|0", "4|1", "5|0", "6|0", "7|1", "8|0", "9|0"
        ],
        "{rows}\n{}",
        read(&log)
    );
    for g in 1..=9 {
        s.run_ok(&["export", "example.com.", "--generation", &g.to_string()]);
    }
    export_plans_as_no_changes(&s);
}

/// The serial an update is served with is the one stored with the zone (the `file` policy):
/// `export` after two updates shows the serial `dig` sees, and exporting and planning that
/// file finds nothing to change.
#[test]
fn an_update_stores_the_serial_it_is_served_with() {
    let (s, _server, addr, log) = start("update-serial", "");
    for i in 1..=2 {
        let (code, err) = nsupdate(
            addr,
            Some(DDNS),
            &format!("update add s{i}.example.com. 60 A 203.0.113.{i}"),
        );
        assert_eq!(code, 0, "update {i}: {err}\n{}", read(&log));
    }
    let served = dig_at(addr, &["example.com.", "SOA"], false)
        .answer
        .first()
        .and_then(|r| r.3.split_whitespace().nth(2).map(str::to_string));
    assert_eq!(served.as_deref(), Some("3"), "{}", read(&log));
    let out = s.run_ok(&["export", "example.com."]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let soa = text
        .lines()
        .find(|l| l.contains(" SOA "))
        .unwrap_or_default();
    assert_eq!(soa.split_whitespace().nth(6), Some("3"), "{text}");
    export_plans_as_no_changes(&s);
}
