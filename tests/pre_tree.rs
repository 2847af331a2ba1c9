//! What was made before the content-hash tree keeps working (issue 16, item 2).
//!
//! Until the hash tree, a plan's hash was the flat SHA-256 of its canonical body. Stores,
//! approvals, saved plan files, `If-Match` headers in pipelines and the server's last-good
//! snapshots all hold such hashes. `tests/fixtures/pre-tree` was made by the binary of commit
//! 9c369af (its README has the commands and the hashes): this test runs today's binary on a copy
//! of it and checks that every one of those old hashes is still accepted for its content, and
//! that new plans get tree roots.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{BIN, Scratch, dig_at, free_addr, repo_root};
use zonegate_testkit::wait_until_every;

const COM_G1: &str = "sha256:67c8499e6507f52370bba5c1eed4751c7abe178fa1b447a437d5f38b6235530f";
const COM_G2: &str = "sha256:ede341b70ff2b89bf3b1f5e8d2c857bada165bb53aa2c9c36b3aad2daf21d471";
const NET_G1: &str = "sha256:6bf333489a96d3b59cae36720e6cfb84fc59810b7c2e2b247a6ff49fb12aca82";
const NET_G2: &str = "sha256:1f677ebdaf75a42aaafd908215708534c341df45045d14d6c44012f18929fab7";
const TOKEN: &str = "pre-tree-token";
/// The fixture's plans are as old as the fixture: the age limit is raised so that they are not
/// refused as stale (the age rule is not what this test is about).
const AGE: &str = "plan_age_max_s = 1000000000\n";

/// A scratch directory holding a copy of the fixture, its store as the scratch's database.
fn fixture() -> Scratch {
    let s = Scratch::new("pre-tree");
    let from = repo_root().join("tests/fixtures/pre-tree");
    for entry in std::fs::read_dir(&from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, s.dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::copy(from.join("store.sqlite3"), s.db()).unwrap();
    let snapshots = s.dir.join("snapshots");
    std::fs::create_dir_all(&snapshots).unwrap();
    for entry in std::fs::read_dir(from.join("snapshots")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, snapshots.join(path.file_name().unwrap())).unwrap();
    }
    s
}

fn path(s: &Scratch, name: &str) -> String {
    s.dir.join(name).to_str().unwrap().to_string()
}

fn zone_status<'a>(status: &'a serde_json::Value, zone: &str) -> &'a serde_json::Value {
    status["zones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|z| z["zone"] == zone)
        .unwrap_or_else(|| panic!("{zone} in {status}"))
}

/// The store's old plans read back, an approval bound to an old hash applies, a saved plan
/// file with an old hash publishes, and `If-Match` with an old hash publishes over HTTP.
#[test]
fn old_hashes_still_decode_approve_publish_and_match() {
    let s = fixture();
    let status = s.json(&["status", "--json"]);
    assert_eq!(zone_status(&status, "example.com.")["hash"], COM_G1);
    assert_eq!(zone_status(&status, "example.net.")["hash"], NET_G1);
    // Reading an old plan's body decodes it against its flat hash.
    let export = s.run_ok(&["export", "example.com."]);
    assert!(String::from_utf8_lossy(&export.stdout).contains("192.0.2.10"));
    s.run_ok(&["diff", "example.com.", "1", "2"]);

    // The approval is bound to the old hash; the saved plan file carries it too.
    let approved = s.json(&[
        "approve",
        "example.com.",
        "2",
        "--hash",
        COM_G2,
        "--reason",
        "pre-tree fixture",
        "--json",
    ]);
    assert_eq!(approved["outcome"], "approved", "{approved}");
    let config = s.write("age.toml", AGE);
    let published = s.json(&[
        "--config",
        config.to_str().unwrap(),
        "publish",
        "--plan",
        &path(&s, "saved-com.json"),
        "--json",
    ]);
    assert_eq!(published["generation"], 2, "{published}");
    let status = s.json(&["status", "--json"]);
    assert_eq!(zone_status(&status, "example.com.")["published"], 2);
    assert_eq!(zone_status(&status, "example.com.")["hash"], COM_G2);

    // The same content planned again is no change; new content gets a tree root, which is
    // what `check` prints for the file and not the old form.
    let same = s.json(&["plan", &path(&s, "com2.zone"), "--json"]);
    assert_eq!(same["outcome"], "no-changes", "{same}");
    let next = s.write(
        "com3.zone",
        &std::fs::read_to_string(s.dir.join("com2.zone"))
            .unwrap()
            .replace("192.0.2.26", "192.0.2.27"),
    );
    let checked = s.run_ok(&["check", next.to_str().unwrap()]);
    let applied = s.json(&["apply", next.to_str().unwrap(), "--json"]);
    let new_hash = applied["hash"].as_str().unwrap().to_string();
    assert!(
        String::from_utf8_lossy(&checked.stdout).contains(&new_hash),
        "check and apply give one hash: {new_hash}\n{}",
        String::from_utf8_lossy(&checked.stdout)
    );
    assert!(new_hash.starts_with("sha256:") && new_hash.len() == 71);

    // HTTP: the pipeline's If-Match holds the old hash of example.net. g2.
    let server = HttpServe::start(&s);
    let wrong = publish_over_http(server.http, "example.net.", 2, NET_G1);
    assert_eq!(wrong.0, 412, "{}", wrong.1);
    let right = publish_over_http(server.http, "example.net.", 2, NET_G2);
    assert_eq!(right.0, 200, "{}", right.1);
    let served = wait_until_every(Duration::from_secs(10), Duration::from_millis(50), || {
        let d = dig_at(server.dns, &["www.example.net.", "A"], false);
        d.rdata("A").contains(&"192.0.2.99".to_string())
    });
    assert!(served.is_some(), "example.net. g2 is served");
    let d = dig_at(server.dns, &["mail.example.com.", "A"], false);
    assert_eq!(d.rdata("A"), vec!["192.0.2.27"], "{}", d.raw);
}

/// The last-good snapshots the old server wrote (headers with the flat hash) are served when
/// the store is unusable.
#[test]
fn old_snapshots_are_served_when_the_store_is_unusable() {
    let s = fixture();
    std::fs::write(s.db(), vec![0x5a; 8192]).unwrap();
    assert_ne!(s.run(&["status"]).status.code(), Some(0));
    let server = s.serve_with(&["--snapshot-dir", &path(&s, "snapshots")]);
    for (name, addr) in [
        ("www.example.com.", "192.0.2.10"),
        ("www.example.net.", "192.0.2.11"),
    ] {
        let d = server.dig(name, "A");
        assert!(d.rdata("A").contains(&addr.to_string()), "{}", d.raw);
        assert!(d.aa());
    }
}

/// `serve --http` on the fixture, with one token that may read and publish.
struct HttpServe {
    child: std::process::Child,
    dns: SocketAddr,
    http: SocketAddr,
}

impl HttpServe {
    fn start(s: &Scratch) -> HttpServe {
        let secret = s.write("token", TOKEN);
        let config = s.write(
            "serve.toml",
            &format!(
                "{AGE}[server]\n[[server.api_tokens]]\nname = \"ci\"\nroles = [\"read\", \"publish\"]\nsecret_file = \"{}\"\n",
                secret.display()
            ),
        );
        let (dns, http) = (free_addr(), free_tcp());
        let child = Command::new(BIN)
            .arg("--db")
            .arg(s.db())
            .arg("--config")
            .arg(&config)
            .args([
                "serve",
                "--listen",
                &dns.to_string(),
                "--http",
                &http.to_string(),
            ])
            .args(["--snapshot-dir", &path(s, "snapshots-new")])
            .env("ZONEGATE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn zonegate serve");
        let server = HttpServe { child, dns, http };
        let up = wait_until_every(Duration::from_secs(30), Duration::from_millis(50), || {
            let d = dig_at(dns, &["www.example.com.", "A"], false);
            !d.rdata("A").is_empty() && request(http, "GET", "/healthz", &[]).0 == 200
        });
        assert!(up.is_some(), "serve on {dns} and {http} within 30 s");
        server
    }
}

impl Drop for HttpServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_tcp() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn publish_over_http(http: SocketAddr, zone: &str, generation: u64, hash: &str) -> (u16, String) {
    let auth = format!("Bearer {TOKEN}");
    request(
        http,
        "POST",
        &format!("/api/v1/zones/{zone}/plans/{generation}/publish"),
        &[("Authorization", &auth), ("If-Match", hash)],
    )
}

/// One HTTP/1.1 request with an empty body: the status and the body of the answer.
fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return (0, String::new());
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}
