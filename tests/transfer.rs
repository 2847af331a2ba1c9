//! Zone transfer out through the real binary, checked with independent tools: `dig` takes a
//! 100,000-record zone by AXFR and `ldns-compare-zones` finds it equal to the file that was
//! published; after a one-record change, `dig` asks IXFR and gets that change alone.
//!
//! `.ci/run` installs `dig` (bind9-dnsutils) and `ldns-compare-zones` (ldnsutils).

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use zonegate_testkit::wait_until_every;

/// A `zonegate serve` with a config file, killed on drop.
struct Serving {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_with_config(s: &Scratch, config: &str) -> Serving {
    let cfg = s.write("zonegate.toml", config);
    let addr = free_addr();
    let child = Command::new(BIN)
        .arg("--db")
        .arg(s.db())
        .arg("--config")
        .arg(&cfg)
        .args(["serve", "--listen", &addr.to_string()])
        .env("ZONEGATE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn zonegate serve");
    Serving { child, addr }
}

fn tool(name: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{name} is not installed; run .ci/run or apt-get install {package}"
    );
}

/// The served SOA serial, once the server answers for the zone with at least `min`.
fn wait_for_serial(addr: SocketAddr, zone: &str, min: u32) -> u32 {
    let mut served = None;
    let mut last = None;
    wait_until_every(Duration::from_secs(120), Duration::from_millis(100), || {
        let d = dig_at(addr, &[zone, "SOA"], false);
        served = d
            .answer
            .first()
            .and_then(|r| r.3.split_whitespace().nth(2))
            .and_then(|s| s.parse::<u32>().ok())
            .filter(|s| *s >= min);
        last = Some(d);
        served.is_some()
    });
    match served {
        Some(serial) => serial,
        None => panic!(
            "{zone} not served with serial >= {min}: {:?}",
            last.unwrap()
        ),
    }
}

fn dig_xfr(addr: SocketAddr, zone: &str, kind: &str) -> String {
    let out = Command::new("dig")
        .arg(format!("@{}", addr.ip()))
        .args(["-p", &addr.port().to_string()])
        .args([zone, kind, "+time=30", "+tries=1"])
        .output()
        .expect("run dig");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The record lines of dig output.
fn records(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn big_zone(count: usize, changed: Option<usize>) -> String {
    let mut z = String::from(
        "$ORIGIN big.test.\n$TTL 300\n\
         @ 3600 IN SOA ns1.big.test. hostmaster.big.test. 2024010101 3600 600 86400 60\n\
         @ IN NS ns1.big.test.\nns1 IN A 192.0.2.53\n",
    );
    for i in 0..count {
        let line = match i % 4 {
            0 => format!(
                "h{i} IN A 10.{}.{}.{}\n",
                (i >> 16) & 255,
                (i >> 8) & 255,
                i & 255
            ),
            1 if changed == Some(i) => format!("h{i} IN AAAA 2001:db8::beef\n"),
            1 => format!("h{i} IN AAAA 2001:db8::{:x}:{:x}\n", i >> 16, i & 0xffff),
            2 => format!("h{i} IN TXT \"record {i}\"\n"),
            _ => format!("h{i} IN MX 10 mx{i}.example.net.\n"),
        };
        z.push_str(&line);
    }
    z
}

#[test]
fn axfr_of_100k_records_equals_the_published_zone_and_ixfr_carries_one_change() {
    tool("dig", "bind9-dnsutils");
    tool("ldns-compare-zones", "ldnsutils");
    let s = Scratch::new("transfer");
    let published = s.write("big.zone", &big_zone(100_000, None));
    s.run_ok(&["apply", published.to_str().unwrap()]);
    let server = serve_with_config(&s, "[server]\nallow_transfer = [\"127.0.0.1\"]\n");
    let addr = server.addr;
    // The file says 2024010101, and that is the serial published and served (generation 1).
    assert_eq!(
        wait_for_serial(addr, "big.test.", 2_024_010_101),
        2_024_010_101
    );

    let started = Instant::now();
    let axfr = dig_xfr(addr, "big.test.", "AXFR");
    let took = started.elapsed();
    let size_line = axfr
        .lines()
        .find(|l| l.starts_with(";; XFR size:"))
        .unwrap_or_else(|| {
            panic!(
                "dig saw no complete transfer:\n{}",
                &axfr[..axfr.len().min(2000)]
            )
        });
    eprintln!("dig AXFR: {size_line} in {took:?}");
    // 100,000 records, NS, glue, and the SOA at both ends.
    assert!(size_line.contains("100004 records"), "{size_line}");
    let messages: usize = size_line
        .split("messages ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .expect("a message count");
    assert!(messages > 10, "{size_line}");

    let received = s.write("axfr.zone", &(records(&axfr).join("\n") + "\n"));
    let compare = |extra: &[&str]| {
        let out = Command::new("ldns-compare-zones")
            .args(extra)
            .arg(&published)
            .arg(&received)
            .output()
            .expect("run ldns-compare-zones");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // Equal, SOA aside: no record inserted, deleted or changed.
    assert_eq!(compare(&[]), "+0\t-0\t~0");
    // With the SOA too: the served serial is the file's.
    assert_eq!(compare(&["-s"]), "+0\t-0\t~0");

    // One record changes (the file's serial does not: the publication serves one more); IXFR
    // from 2024010101 carries that change alone (RFC 1995 §4).
    let next = s.write("big2.zone", &big_zone(100_000, Some(5)));
    s.run_ok(&["apply", next.to_str().unwrap()]);
    assert_eq!(
        wait_for_serial(addr, "big.test.", 2_024_010_102),
        2_024_010_102
    );
    let ixfr = records(&dig_xfr(addr, "big.test.", "IXFR=2024010101"));
    let soa = |serial: u32| {
        format!(
            "big.test. 3600 IN SOA ns1.big.test. hostmaster.big.test. {serial} 3600 600 86400 60"
        )
    };
    assert_eq!(
        ixfr,
        vec![
            soa(2_024_010_102),
            soa(2_024_010_101),
            "h5.big.test. 300 IN AAAA 2001:db8::5".to_string(),
            soa(2_024_010_102),
            "h5.big.test. 300 IN AAAA 2001:db8::beef".to_string(),
            soa(2_024_010_102),
        ]
    );
}
