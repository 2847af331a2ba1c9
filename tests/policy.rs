//! Acceptance tests of the change policy (issue 5): the real binary, a real SQLite file, and
//! real DNS where an answer is the point.
//!
//! Each test is one promise the policy makes where today's tools fail:
//! - octoDNS skips zones of fewer than ten records and offers a global `--force`;
//! - external-dns deleted whole zones when its source briefly returned nothing;
//! - nothing offers a rollback that goes through the same checks as a change.

#![allow(clippy::too_many_lines)] // Long test functions: each walks one scenario end to end.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;
use zonegate_testkit::wait_until;

/// A zone with an out-of-zone NS (no glue needed) and the given records below the apex.
fn zone(serial: u32, records: &str) -> String {
    format!(
        "$ORIGIN example.com.\n$TTL 300\n\
         @ IN SOA ns1.example.net. hostmaster.example.net. {serial} 3600 600 604800 60\n\
         @ IN NS ns1.example.net.\n{records}"
    )
}

fn published(s: &Scratch) -> Option<u64> {
    s.json(&["status", "example.com.", "--json"])["zones"][0]["published"].as_u64()
}

fn plans(s: &Scratch) -> Vec<Value> {
    s.json(&["history", "example.com.", "--json"])["plans"]
        .as_array()
        .unwrap()
        .clone()
}

fn audit(s: &Scratch) -> Vec<Value> {
    s.json(&["history", "example.com.", "--json"])["audit"]
        .as_array()
        .unwrap()
        .clone()
}

/// Runs the command with `--json` and returns (exit code, the JSON object, stderr).
fn run_json(s: &Scratch, args: &[&str]) -> (Option<i32>, Value, String) {
    let mut all: Vec<&str> = args.to_vec();
    all.push("--json");
    let out = s.run(&all);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?} did not print JSON ({e}):\n{}", describe(&out)));
    (
        out.status.code(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_floor_of_two_refuses_dropping_one_of_two_addresses() {
    let s = Scratch::new("floor");
    let cfg = s.write(
        "zonegate.toml",
        "[[policy.floors]]\nname = \"api.example.com.\"\ntype = \"A\"\nmin = 2\n",
    );
    let cfg = cfg.to_str().unwrap();
    // Enough other records that dropping one address stays under the 30% delete limit: the
    // floor alone must catch it.
    let filler = "www A 192.0.2.1\nmail A 192.0.2.2\nftp A 192.0.2.3\nold A 192.0.2.4\n";
    let two = s.write(
        "two.zone",
        &zone(1, &format!("{filler}api A 192.0.2.10\napi A 192.0.2.11\n")),
    );
    let one = s.write("one.zone", &zone(2, &format!("{filler}api A 192.0.2.10\n")));
    s.run_ok(&["--config", cfg, "apply", two.to_str().unwrap()]);
    let server = s.serve();

    for verb in ["plan", "apply"] {
        let (code, v, stderr) = run_json(&s, &["--config", cfg, verb, one.to_str().unwrap()]);
        assert_eq!(code, Some(3), "{verb}: {v}\n{stderr}");
        assert_eq!(v["reason"], "threshold:floor", "{verb}: {v}");
        assert_eq!(v["verdict"], "refused", "{v}");
        let message = v["thresholds"][0]["message"].as_str().unwrap();
        assert_eq!(
            message,
            "would leave api.example.com. A with 1 of 2 records, below the floor of 2 \
             (policy floor api.example.com. A >= 2)"
        );
        assert!(stderr.contains("below the floor of 2"), "{stderr}");
        assert!(stderr.contains("zonegate approve example.com."), "{stderr}");
    }
    // Refused plans are staged (so they can be approved) but nothing was published.
    assert_eq!(published(&s), Some(1));
    let d = server.dig("api.example.com.", "A");
    assert_eq!(d.rdata("A"), vec!["192.0.2.10", "192.0.2.11"], "{}", d.raw);
    // Each refusal is audited with its reason (I8): the plan's and the apply's.
    let reasons: Vec<String> = audit(&s)
        .iter()
        .filter(|a| a["action"] == "refused")
        .map(|a| a["reason"].as_str().unwrap().to_string())
        .collect();
    assert!(reasons.len() >= 2, "{reasons:?}");
    assert!(
        reasons.iter().all(|r| r == "threshold:floor"),
        "{reasons:?}"
    );

    // Without the floor, the same drop is an ordinary change (1 of 8 records deleted).
    let (code, v, _) = run_json(&s, &["apply", one.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["outcome"], "published", "{v}");
}

#[test]
fn a_three_record_zone_losing_two_records_is_refused() {
    // octoDNS exempts zones of fewer than ten records from its thresholds. Here three records
    // (five with the apex SOA and NS) lose two: 40% deleted, over the 30% default.
    let s = Scratch::new("small-zone");
    let full = s.write(
        "full.zone",
        &zone(1, "www A 192.0.2.1\nmail A 192.0.2.2\napi A 192.0.2.3\n"),
    );
    let cut = s.write("cut.zone", &zone(2, "www A 192.0.2.1\n"));
    s.run_ok(&["apply", full.to_str().unwrap()]);
    let server = s.serve();

    let (code, v, stderr) = run_json(&s, &["apply", cut.to_str().unwrap()]);
    assert_eq!(code, Some(3), "{v}\n{stderr}");
    assert_eq!(v["outcome"], "refused", "{v}");
    assert_eq!(v["reason"], "threshold:delete", "{v}");
    assert!(
        stderr.contains("would delete 2 of 5 records (40.0%), limit 30%"),
        "the refusal prints the numbers: {stderr}"
    );
    assert!(
        stderr.contains("zonegate approve example.com. 2 --hash sha256:"),
        "and how to proceed: {stderr}"
    );
    assert_eq!(published(&s), Some(1));
    let d = server.dig("api.example.com.", "A");
    assert_eq!(d.rdata("A"), vec!["192.0.2.3"], "{}", d.raw);
}

#[test]
fn the_shrink_guard_holds_when_the_delete_limit_is_raised() {
    // external-dns #414: the source briefly returned nothing, and the zone was emptied. Raising
    // the delete limit does not turn the shrink guard off.
    let s = Scratch::new("shrink");
    let cfg = s.write("zonegate.toml", "[policy]\ndelete_max_percent = 100\n");
    let cfg = cfg.to_str().unwrap();
    let records: String = (1..=8).map(|i| format!("h{i} A 192.0.2.{i}\n")).collect();
    let full = s.write("full.zone", &zone(1, &records));
    let truncated = s.write("truncated.zone", &zone(2, "h1 A 192.0.2.1\n"));
    s.run_ok(&["--config", cfg, "apply", full.to_str().unwrap()]);
    let (code, v, stderr) = run_json(&s, &["--config", cfg, "apply", truncated.to_str().unwrap()]);
    assert_eq!(code, Some(3), "{v}\n{stderr}");
    assert_eq!(v["reason"], "threshold:shrink", "{v}");
    assert_eq!(
        v["thresholds"].as_array().unwrap().len(),
        1,
        "the delete limit was raised, only the shrink guard speaks: {v}"
    );
    assert!(
        stderr.contains("from 10 to 3 records (-70.0%), limit 50%")
            && stderr.contains("looks empty or truncated"),
        "{stderr}"
    );
    assert_eq!(published(&s), Some(1));
}

#[test]
fn an_approved_plan_passes_and_one_changed_byte_invalidates_the_approval() {
    let s = Scratch::new("approve");
    let full = s.write(
        "full.zone",
        &zone(1, "www A 192.0.2.1\nmail A 192.0.2.2\napi A 192.0.2.3\n"),
    );
    let cut = s.write("cut.zone", &zone(2, "www A 192.0.2.1\n"));
    // The same file with one byte changed.
    let cut2 = s.write("cut2.zone", &zone(2, "www A 192.0.2.9\n"));
    s.run_ok(&["apply", full.to_str().unwrap()]);
    let server = s.serve();

    let artifact = s.dir.join("cut.json");
    let out = s.run(&[
        "plan",
        cut.to_str().unwrap(),
        "--out",
        artifact.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&artifact).unwrap()).unwrap();
    assert_eq!(
        (saved["generation"].as_u64(), saved["base"].as_u64()),
        (Some(2), Some(1)),
        "{saved}"
    );
    assert_eq!(saved["verdict"], "refused", "{saved}");
    assert_eq!(saved["zone"], "example.com.", "{saved}");
    // The artifact carries the diff: mail and api removed (and the SOA's serial moved).
    let removed: Vec<&str> = saved["diff"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"] == "removed")
        .map(|c| c["owner"].as_str().unwrap())
        .collect();
    assert!(
        removed == ["api.example.com.", "mail.example.com."],
        "{saved}"
    );
    let hash = saved["hash"].as_str().unwrap().to_string();

    // Not approved yet: publishing it is refused with the numbers.
    let (code, v, _) = run_json(&s, &["publish", "example.com.", "--generation", "2"]);
    assert_eq!(
        (code, v["reason"].as_str()),
        (Some(3), Some("threshold:delete")),
        "{v}"
    );

    // The same change with one byte different is a different plan with a different hash.
    let (code, v, _) = run_json(&s, &["plan", cut2.to_str().unwrap()]);
    assert_eq!(code, Some(3), "{v}");
    assert_eq!(v["generation"], 3, "{v}");
    assert_ne!(v["hash"], hash.as_str(), "{v}");

    // An approval names the hash: the reviewed hash does not approve the changed plan...
    let (code, v, _) = run_json(
        &s,
        &[
            "approve",
            "example.com.",
            "3",
            "--hash",
            &hash,
            "--reason",
            "cleanup",
            "--by",
            "alice",
        ],
    );
    assert_eq!(
        (code, v["reason"].as_str()),
        (Some(3), Some("hash-mismatch")),
        "{v}"
    );
    // ...but approves the reviewed plan.
    let (code, v, _) = run_json(
        &s,
        &[
            "approve",
            "example.com.",
            "2",
            "--hash",
            &hash,
            "--reason",
            "mail and api moved to another zone",
            "--by",
            "alice",
        ],
    );
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(
        (v["outcome"].as_str(), v["previous"].as_str()),
        (Some("approved"), Some("refused"))
    );

    // The approval of g2 does not carry over to g3, which differs by one byte.
    let (code, v, _) = run_json(&s, &["publish", "example.com.", "--generation", "3"]);
    assert_eq!(
        (code, v["reason"].as_str()),
        (Some(3), Some("threshold:delete")),
        "{v}"
    );

    // A saved plan whose hash was changed by one byte is not the plan that was approved.
    let mut forged = saved.clone();
    let mut bad = hash.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == '0' { '1' } else { '0' });
    forged["hash"] = Value::String(bad);
    let forged_path = s.write("forged.json", &forged.to_string());
    let (code, v, _) = run_json(&s, &["publish", "--plan", forged_path.to_str().unwrap()]);
    assert_eq!(
        (code, v["reason"].as_str()),
        (Some(3), Some("hash-mismatch")),
        "{v}"
    );
    assert_eq!(published(&s), Some(1));

    // The saved, approved plan publishes exactly.
    let (code, v, _) = run_json(&s, &["publish", "--plan", artifact.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["generation"], 2, "{v}");
    assert_eq!(published(&s), Some(2));
    let gone = wait_until(Duration::from_secs(5), || {
        server.dig("api.example.com.", "A").status.as_deref() == Some("NXDOMAIN")
    });
    assert!(gone.is_some(), "the approved plan is served");

    // Who approved and why is in the audit log.
    let log = audit(&s);
    let approval = log
        .iter()
        .find(|a| a["action"] == "approved")
        .expect("an approval row");
    assert_eq!(approval["actor"], "alice", "{approval}");
    assert_eq!(approval["generation"], 2, "{approval}");
    let detail = approval["detail"].as_str().unwrap();
    assert!(
        detail.contains("mail and api moved") && detail.contains(&hash),
        "{detail}"
    );
    assert!(
        log.iter()
            .any(|a| a["action"] == "refused" && a["reason"] == "hash-mismatch"),
        "the refused approval is audited too"
    );
}

#[test]
fn a_no_op_keeps_the_generation_and_an_earlier_saved_plan_still_publishes() {
    let s = Scratch::new("noop-saved");
    let base = s.write(
        "base.zone",
        &zone(1, "www A 192.0.2.1\nmail A 192.0.2.2\napi A 192.0.2.3\n"),
    );
    let change = s.write(
        "change.zone",
        &zone(2, "www A 192.0.2.7\nmail A 192.0.2.2\napi A 192.0.2.3\n"),
    );
    s.run_ok(&["apply", base.to_str().unwrap()]);
    let saved = s.dir.join("change.json");
    s.run_ok(&[
        "plan",
        change.to_str().unwrap(),
        "--out",
        saved.to_str().unwrap(),
    ]);
    assert_eq!(plans(&s).len(), 2);

    // Planning the published content again is a no-op: no generation is taken.
    let (code, v, _) = run_json(&s, &["plan", base.to_str().unwrap()]);
    assert_eq!(
        (code, v["outcome"].as_str()),
        (Some(0), Some("no-changes")),
        "{v}"
    );
    assert_eq!(plans(&s).len(), 2);
    assert_eq!(published(&s), Some(1));

    // A drift check stages nothing either way; exit 5 means "changes present".
    let (code, v, _) = run_json(&s, &["plan", base.to_str().unwrap(), "--expect-no-changes"]);
    assert_eq!(
        (code, v["outcome"].as_str()),
        (Some(0), Some("no-changes")),
        "{v}"
    );
    let (code, v, stderr) = run_json(
        &s,
        &["plan", change.to_str().unwrap(), "--expect-no-changes"],
    );
    assert_eq!(
        (code, v["outcome"].as_str()),
        (Some(5), Some("changes")),
        "{v}"
    );
    assert!(stderr.contains("changes present"), "{stderr}");
    assert_eq!(plans(&s).len(), 2, "a drift check stages nothing");

    // The plan saved before the no-op still publishes: its base is still published.
    let (code, v, _) = run_json(&s, &["publish", "--plan", saved.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(
        (v["generation"].as_u64(), v["base"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );

    // A saved "no changes" plan stays good while that content is published...
    let noop = s.dir.join("noop.json");
    s.run_ok(&[
        "plan",
        change.to_str().unwrap(),
        "--out",
        noop.to_str().unwrap(),
    ]);
    let (code, v, _) = run_json(&s, &["publish", "--plan", noop.to_str().unwrap()]);
    assert_eq!(
        (code, v["outcome"].as_str()),
        (Some(0), Some("already-published")),
        "{v}"
    );
    // ...and is stale (exit 4) once something else is.
    s.run_ok(&["apply", base.to_str().unwrap()]);
    let (code, v, _) = run_json(&s, &["publish", "--plan", noop.to_str().unwrap()]);
    assert_eq!(
        (code, v["reason"].as_str()),
        (Some(4), Some("stale")),
        "{v}"
    );
}

#[test]
fn a_saved_plan_whose_base_moved_is_stale() {
    let s = Scratch::new("saved-stale");
    let base = s.write(
        "base.zone",
        &zone(1, "www A 192.0.2.1\nmail A 192.0.2.2\napi A 192.0.2.3\n"),
    );
    let a = s.write(
        "a.zone",
        &zone(2, "www A 192.0.2.7\nmail A 192.0.2.2\napi A 192.0.2.3\n"),
    );
    let b = s.write(
        "b.zone",
        &zone(3, "www A 192.0.2.1\nmail A 192.0.2.8\napi A 192.0.2.3\n"),
    );
    s.run_ok(&["apply", base.to_str().unwrap()]);
    let saved = s.dir.join("a.json");
    s.run_ok(&[
        "plan",
        a.to_str().unwrap(),
        "--out",
        saved.to_str().unwrap(),
    ]);
    s.run_ok(&["apply", b.to_str().unwrap()]);
    let (code, v, stderr) = run_json(&s, &["publish", "--plan", saved.to_str().unwrap()]);
    assert_eq!(
        (code, v["reason"].as_str()),
        (Some(4), Some("stale")),
        "{v}"
    );
    assert_eq!(
        (v["base"].as_u64(), v["published"].as_u64()),
        (Some(1), Some(3)),
        "{v}"
    );
    assert!(stderr.contains("plan again"), "{stderr}");
    assert_eq!(published(&s), Some(3));
}

#[test]
fn manual_review_holds_a_plan_and_a_newer_plan_can_still_be_reviewed() {
    let s = Scratch::new("manual");
    let cfg = s.write(
        "zonegate.toml",
        "[policy.zones.\"example.com.\"]\nreview = \"manual\"\n",
    );
    let cfg = cfg.to_str().unwrap();
    let records = |www: &str| format!("www A {www}\nmail A 192.0.2.2\napi A 192.0.2.3\n");
    let z1 = s.write("1.zone", &zone(1, &records("192.0.2.1")));
    let z2 = s.write("2.zone", &zone(2, &records("192.0.2.2")));
    let z3 = s.write("3.zone", &zone(3, &records("192.0.2.3")));

    // Even the first plan waits for a person.
    let (code, v, _) = run_json(&s, &["--config", cfg, "apply", z1.to_str().unwrap()]);
    assert_eq!(
        (code, v["outcome"].as_str()),
        (Some(3), Some("held")),
        "{v}"
    );
    assert_eq!(v["reason"], "review", "{v}");
    let h1 = v["hash"].as_str().unwrap().to_string();
    s.run_ok(&[
        "approve",
        "example.com.",
        "1",
        "--hash",
        &h1,
        "--reason",
        "first cut",
        "--by",
        "bob",
    ]);
    s.run_ok(&["--config", cfg, "publish", "example.com."]);
    let server = s.serve();

    // g2 is held: planning succeeds (exit 0) but publishing it is refused for review.
    let (code, v, _) = run_json(&s, &["--config", cfg, "plan", z2.to_str().unwrap()]);
    assert_eq!(
        (code, v["verdict"].as_str()),
        (Some(0), Some("held")),
        "{v}"
    );
    let (code, v, stderr) = run_json(&s, &["--config", cfg, "publish", "example.com."]);
    assert_eq!(
        (code, v["reason"].as_str()),
        (Some(3), Some("review")),
        "{v}"
    );
    assert!(
        stderr.contains("zonegate approve example.com. 2"),
        "{stderr}"
    );

    // Nobody reviews g2. A newer plan is not blocked by it (a soft halt): g3 is reviewed and
    // published on its own.
    let (code, v, _) = run_json(&s, &["--config", cfg, "plan", z3.to_str().unwrap()]);
    assert_eq!((code, v["generation"].as_u64()), (Some(0), Some(3)), "{v}");
    assert_eq!(
        v["base"], 1,
        "g3 is planned on the published g1, not on the held g2: {v}"
    );
    let h3 = v["hash"].as_str().unwrap().to_string();
    s.run_ok(&[
        "approve",
        "example.com.",
        "3",
        "--hash",
        &h3,
        "--reason",
        "new www",
        "--by",
        "bob",
    ]);
    let (code, v, _) = run_json(
        &s,
        &[
            "--config",
            cfg,
            "publish",
            "example.com.",
            "--generation",
            "3",
        ],
    );
    assert_eq!(code, Some(0), "{v}");
    let served = wait_until(Duration::from_secs(5), || {
        server.dig("www.example.com.", "A").rdata("A") == vec!["192.0.2.3"]
    });
    assert!(served.is_some(), "g3 is served");

    // The held g2 is now stale, and can be rejected for the record.
    let (code, v, _) = run_json(
        &s,
        &[
            "--config",
            cfg,
            "publish",
            "example.com.",
            "--generation",
            "2",
        ],
    );
    assert_eq!(code, Some(4), "{v}");
    s.run_ok(&[
        "reject",
        "example.com.",
        "2",
        "--reason",
        "superseded by g3",
        "--by",
        "bob",
    ]);
    let verdicts: Vec<(u64, String)> = plans(&s)
        .iter()
        .map(|p| {
            (
                p["generation"].as_u64().unwrap(),
                p["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        vec![
            (1, "approved".into()),
            (2, "rejected".into()),
            (3, "approved".into())
        ]
    );
    // A rejection is final.
    let h2 = plans(&s)[1]["hash"].as_str().unwrap().to_string();
    let (code, v, _) = run_json(
        &s,
        &[
            "approve",
            "example.com.",
            "2",
            "--hash",
            &h2,
            "--reason",
            "oops",
        ],
    );
    assert_eq!(
        (code, v["reason"].as_str()),
        (Some(3), Some("verdict")),
        "{v}"
    );
}

#[test]
fn a_review_command_approves_rejects_and_never_wedges_the_zone() {
    let s = Scratch::new("review-command");
    // Approves only a diff that brings in 192.0.2.77, and checks its environment.
    let approve_77 = s.write(
        "review.sh",
        "#!/bin/sh\n\
         test \"$ZONEGATE_ZONE\" = example.com. || exit 10\n\
         test -n \"$ZONEGATE_GENERATION\" || exit 11\n\
         case \"$ZONEGATE_HASH\" in sha256:*) ;; *) exit 12 ;; esac\n\
         grep -q '^+ .*192.0.2.77' \"$ZONEGATE_DIFF_FILE\"\n",
    );
    let stuck = s.write("stuck.sh", "#!/bin/sh\nsleep 30\n");
    let cfg = |script: &std::path::Path, timeout: u32| {
        s.write(
            &format!("{timeout}.toml"),
            &format!(
                "[policy]\nreview = \"command\"\nreview_command = [\"sh\", \"{}\"]\nreview_timeout_s = {timeout}\n",
                script.display()
            ),
        )
    };
    let good = cfg(&approve_77, 20);
    let slow = cfg(&stuck, 1);
    let records = |www: &str| format!("www A {www}\nmail A 192.0.2.2\napi A 192.0.2.3\n");
    let z77 = s.write("77.zone", &zone(1, &records("192.0.2.77")));
    let z88 = s.write("88.zone", &zone(2, &records("192.0.2.88")));
    let z99 = s.write(
        "99.zone",
        &zone(3, &format!("{}new A 192.0.2.77\n", records("192.0.2.77"))),
    );

    let (code, v, _) = run_json(
        &s,
        &[
            "--config",
            good.to_str().unwrap(),
            "apply",
            z77.to_str().unwrap(),
        ],
    );
    assert_eq!(
        (code, v["outcome"].as_str()),
        (Some(0), Some("published")),
        "{v}"
    );
    assert_eq!(v["verdict"], "approved", "{v}");

    // The command rejects a diff without 192.0.2.77 coming in.
    let (code, v, _) = run_json(
        &s,
        &[
            "--config",
            good.to_str().unwrap(),
            "apply",
            z88.to_str().unwrap(),
        ],
    );
    assert_eq!(
        (code, v["reason"].as_str()),
        (Some(3), Some("review")),
        "{v}"
    );
    assert_eq!(v["verdict"], "rejected", "{v}");
    assert_eq!(published(&s), Some(1));

    // A stuck review is stopped after its timeout; the plan stays held and the command returns.
    let started = std::time::Instant::now();
    let (code, v, stderr) = run_json(
        &s,
        &[
            "--config",
            slow.to_str().unwrap(),
            "apply",
            z88.to_str().unwrap(),
        ],
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        (code, v["verdict"].as_str()),
        (Some(3), Some("held")),
        "{v}"
    );
    assert!(stderr.contains("did not finish within 1 s"), "{stderr}");

    // The zone is not wedged: the next plan is reviewed and published.
    let (code, v, _) = run_json(
        &s,
        &[
            "--config",
            good.to_str().unwrap(),
            "apply",
            z99.to_str().unwrap(),
        ],
    );
    assert_eq!(
        (code, v["outcome"].as_str()),
        (Some(0), Some("published")),
        "{v}"
    );
    assert_eq!(published(&s), Some(v["generation"].as_u64().unwrap()));
    let log = audit(&s);
    assert!(
        log.iter()
            .any(|a| a["action"] == "approved" && a["actor"] == "review-command"),
        "the command's approvals are audited"
    );
    assert!(
        log.iter()
            .any(|a| a["action"] == "rejected" && a["actor"] == "review-command"),
        "and its rejections"
    );
}

#[test]
fn rollback_serves_the_old_answers_under_a_new_generation() {
    let s = Scratch::new("rollback");
    let records = |www: &str| format!("www A {www}\nmail A 192.0.2.2\napi A 192.0.2.3\n");
    let old = s.write("old.zone", &zone(1, &records("192.0.2.1")));
    let new = s.write("new.zone", &zone(2, &records("192.0.2.2")));
    s.run_ok(&["apply", old.to_str().unwrap()]);
    s.run_ok(&["apply", new.to_str().unwrap()]);
    let server = s.serve();
    assert_eq!(
        server.dig("www.example.com.", "A").rdata("A"),
        vec!["192.0.2.2"]
    );

    let (code, v, _) = run_json(&s, &["rollback", "example.com.", "--to", "1"]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["outcome"], "published", "{v}");
    assert_eq!(
        (v["generation"].as_u64(), v["base"].as_u64()),
        (Some(3), Some(2)),
        "{v}"
    );
    assert_eq!(v["rollback_to"], 1, "{v}");

    // The old answers, under a new generation: the pointer moved forward, never back.
    let served = wait_until(Duration::from_secs(5), || {
        server.dig("www.example.com.", "A").rdata("A") == vec!["192.0.2.1"]
    });
    assert!(served.is_some(), "the rolled-back content is served");
    assert_eq!(published(&s), Some(3));
    let p = plans(&s);
    assert_eq!(p[2]["hash"], p[0]["hash"], "g3 holds g1's content");
    assert_eq!(p[2]["status"], "published");
    assert_eq!(p[0]["status"], "superseded");

    // diff shows what the rollback changed, from g2 to g3: www back to .1 (and the SOA serial
    // of g1's content; the served serial is decided at publish and never goes back).
    let (code, d, _) = run_json(&s, &["diff", "example.com.", "2", "3"]);
    assert_eq!(code, Some(0), "{d}");
    let www = d["diff"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["owner"] == "www.example.com.")
        .cloned()
        .unwrap_or_else(|| panic!("{d}"));
    assert_eq!(
        www["removed"][0], "www.example.com. 300 IN A 192.0.2.2",
        "{d}"
    );
    assert_eq!(
        www["added"][0], "www.example.com. 300 IN A 192.0.2.1",
        "{d}"
    );
    // One generation: against its base.
    let (_, d1, _) = run_json(&s, &["diff", "example.com.", "3"]);
    assert_eq!(d1["from"], 2, "{d1}");
    assert_eq!(d1["diff"], d["diff"], "{d1}");

    // Rolling back to what is published already is a no-op and takes no generation.
    let (code, v, _) = run_json(&s, &["rollback", "example.com.", "--to", "1"]);
    assert_eq!(
        (code, v["outcome"].as_str()),
        (Some(0), Some("no-changes")),
        "{v}"
    );
    assert_eq!(plans(&s).len(), 3);

    // A rollback goes through the same gate: rolling back across a large deletion is refused
    // like any other plan with the numbers.
    let tiny = s.write("tiny.zone", &zone(4, "www A 192.0.2.1\n"));
    let cfg = s.write(
        "relaxed.toml",
        "[policy]\ndelete_max_percent = 100\nshrink_max_percent = 100\n",
    );
    s.run_ok(&[
        "--config",
        cfg.to_str().unwrap(),
        "apply",
        tiny.to_str().unwrap(),
    ]);
    let (code, v, _) = run_json(&s, &["rollback", "example.com.", "--to", "1"]);
    assert_eq!(code, Some(0), "adding records back is not limited: {v}");
    let (code, v, _) = run_json(&s, &["rollback", "example.com.", "--to", "4"]);
    assert_eq!(
        (code, v["reason"].as_str()),
        (Some(3), Some("threshold:delete")),
        "{v}"
    );
    // A generation that is not kept is an input error that lists the kept ones.
    let out = s.run(&["rollback", "example.com.", "--to", "99"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("kept generations"));
}

#[test]
fn the_apex_guard_needs_acknowledgement_for_ns_and_soa_changes() {
    let s = Scratch::new("apex");
    let records: String = (1..=6).map(|i| format!("h{i} A 192.0.2.{i}\n")).collect();
    let base = s.write("base.zone", &zone(1, &records));
    s.run_ok(&["apply", base.to_str().unwrap()]);
    // The serial alone is bookkeeping.
    let serial = s.write("serial.zone", &zone(7, &records));
    s.run_ok(&["apply", serial.to_str().unwrap()]);
    // A new name server is an apex change.
    let ns = s.write(
        "ns.zone",
        &zone(8, &format!("{records}@ NS ns2.example.net.\n")),
    );
    let (code, v, stderr) = run_json(&s, &["apply", ns.to_str().unwrap()]);
    assert_eq!(
        (code, v["reason"].as_str()),
        (Some(3), Some("threshold:apex")),
        "{v}"
    );
    assert!(stderr.contains("apex NS set"), "{stderr}");
    // So is an SOA timer.
    let soa = s.write(
        "soa.zone",
        &zone(9, &records).replace("604800 60", "604800 300"),
    );
    let (code, v, stderr) = run_json(&s, &["apply", soa.to_str().unwrap()]);
    assert_eq!(
        (code, v["reason"].as_str()),
        (Some(3), Some("threshold:apex")),
        "{v}"
    );
    assert!(stderr.contains("minimum 60 -> 300"), "{stderr}");
    assert_eq!(published(&s), Some(2));
}

#[test]
fn policy_config_mistakes_are_input_errors() {
    let s = Scratch::new("bad-config");
    let f = s.write("z.zone", &zone(1, "www A 192.0.2.1\n"));
    for text in [
        "[policy]\ndelete_max_percent = 130\n",
        "[policy]\nreview = \"command\"\n",
        "[policy]\nnot_a_key = 1\n",
        "[[policy.floors]]\nname = \"api.example.com.\"\ntype = \"BOGUS\"\nmin = 2\n",
    ] {
        let cfg = s.write("bad.toml", text);
        let out = s.run(&[
            "--config",
            cfg.to_str().unwrap(),
            "plan",
            f.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{text}: {}", describe(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("bad.toml"),
            "the error names the file: {}",
            describe(&out)
        );
    }
    // Nothing was staged under a broken config.
    let out = s.run(&["history", "example.com."]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}
