//! `zonegate deps` through the binary: the example zone with CNAME chains, MX, SRV, HTTPS
//! and NS targets in and out of the zone gives exact groups and shares; every example zone
//! maps; a plan (and `diff`) that adds a dependency says so.

mod common;

use common::*;
use serde_json::{Value, json};

fn example(name: &str) -> String {
    repo_root()
        .join("examples")
        .join(name)
        .display()
        .to_string()
}

fn group<'v>(v: &'v Value, domain: &str) -> &'v Value {
    v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["domain"] == domain)
        .unwrap_or_else(|| panic!("no group {domain} in {v:#}"))
}

#[test]
fn deps_groups_and_shares_of_the_example_zone() {
    let s = Scratch::new("deps");
    s.run_ok(&["apply", &example("shop.example.org.zone")]);
    let v = s.json(&["deps", "shop.example.org", "--json"]);
    assert_eq!(v["zone"], "shop.example.org.");
    assert_eq!(v["generation"], 1);
    assert_eq!(v["names_with_external_targets"], 10, "{v:#}");
    let domains: Vec<(&str, u64, f64)> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["domain"].as_str().unwrap(),
                g["count"].as_u64().unwrap(),
                g["share_percent"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        domains,
        [
            ("cloud-provider.example.", 7, 70.0),
            ("dns-host.example.", 2, 20.0),
            ("mail-relay.example.", 1, 10.0),
            ("voip-carrier.co.uk.", 1, 10.0),
        ]
    );
    // Chains inside the zone are followed: www -> edge -> the load balancer; img -> static.
    let cloud = group(&v, "cloud-provider.example.");
    assert_eq!(
        cloud["names"],
        json!([
            "api.shop.example.org.",
            "app.shop.example.org.",
            "checkout.shop.example.org.",
            "edge.shop.example.org.",
            "img.shop.example.org.",
            "static.shop.example.org.",
            "www.shop.example.org."
        ])
    );
    assert_eq!(cloud["targets"].as_array().unwrap().len(), 4);
    assert_eq!(
        v["concentration"],
        json!({"domain": "cloud-provider.example.", "share_percent": 70.0})
    );
    // The apex has a second choice inside the zone (mail, ns1); intranet points nowhere.
    let single: Vec<&str> = v["single_target"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(single.len(), 8, "{single:?}");
    assert!(!single.contains(&"shop.example.org."));
    assert!(single.contains(&"_sip._udp.shop.example.org."));
    let apex = v["names"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "shop.example.org.")
        .unwrap();
    assert_eq!(apex["ends_inside"], true);
    assert_eq!(
        apex["targets"],
        // Canonical order: dns-host before mail-relay.
        json!(["ns2.dns-host.example.", "mx1.mail-relay.example."])
    );

    // In words: the groups and the concentration.
    let out = s.run_ok(&["deps", "shop.example.org"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("cloud-provider.example."), "{text}");
    assert!(
        text.contains("concentration: 70.0% of them depend on cloud-provider.example."),
        "{text}"
    );
}

#[test]
fn every_example_zone_maps() {
    let s = Scratch::new("deps-examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(repo_root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("zone") {
            continue;
        }
        let origin = path.file_stem().unwrap().to_str().unwrap().to_string();
        s.run_ok(&["apply", path.to_str().unwrap()]);
        let out = s.run_ok(&["deps", &origin]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("concentration: "), "{text}");
        seen += 1;
    }
    assert!(seen >= 2, "the examples folder has its zones");
}

#[test]
fn a_plan_that_adds_a_dependency_shows_it() {
    let s = Scratch::new("deps-plan");
    s.run_ok(&["apply", &example("shop.example.org.zone")]);
    let base = std::fs::read_to_string(example("shop.example.org.zone")).unwrap();
    let next = base
        + "promo IN CNAME promo.campaigns.ad-network.example.\n\
           sale IN CNAME promo.campaigns.ad-network.example.\n";
    let next = s.write("next.zone", &next);
    let v = s.json(&["plan", next.to_str().unwrap(), "--json"]);
    assert_eq!(v["generation"], 2, "{v:#}");
    assert_eq!(
        v["dependency_changes"],
        json!([{
            "domain": "ad-network.example.", "new_domain": true,
            "targets_added": ["promo.campaigns.ad-network.example."],
            "names_added": ["promo.shop.example.org.", "sale.shop.example.org."],
            "names_removed": [],
            "text": "adds a dependency on ad-network.example. (promo.campaigns.ad-network.example.) for 2 name(s)",
        }]),
        "{v:#}"
    );
    // The same in words, and in `diff` of that generation against its base.
    let out = s.run_ok(&["diff", "shop.example.org", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("dependencies: adds a dependency on ad-network.example. (promo.campaigns.ad-network.example.) for 2 name(s)"),
        "{text}"
    );
    // A change that touches no pointing record changes nothing in the map.
    let quiet = std::fs::read_to_string(example("shop.example.org.zone"))
        .unwrap()
        .replace("192.0.2.80", "192.0.2.81");
    let quiet = s.write("quiet.zone", &quiet);
    let out = s.run_ok(&["plan", quiet.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("dependencies:"), "{text}");
}

#[test]
fn the_dependency_share_policy_key_refuses_a_plan_that_concentrates() {
    let s = Scratch::new("deps-policy");
    let cfg = s.write(
        "zonegate.toml",
        "[policy]\ndependency_share_max_percent = 72\n",
    );
    let cfg = cfg.to_str().unwrap();
    s.run_ok(&["--config", cfg, "apply", &example("shop.example.org.zone")]);
    // 7 of 10 (70%) lean on cloud-provider.example.; two more names there make it 9 of 12 (75%).
    let base = std::fs::read_to_string(example("shop.example.org.zone")).unwrap();
    let next = base
        + "promo IN CNAME edge\n\
           sale IN CNAME lb-1234.us-east-1.elb.cloud-provider.example.\n";
    let next = s.write("next.zone", &next);
    let out = s.run(&["--config", cfg, "plan", next.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "refused", "{v:#}");
    let t = &v["thresholds"][0];
    assert_eq!(t["reason"], "threshold:dependency-share", "{v:#}");
    assert!(
        t["message"].as_str().unwrap().starts_with(
            "would make 75.0% of the names with outside targets depend on cloud-provider.example. (was 70.0%)"
        ),
        "{t}"
    );
}

#[test]
fn apply_shows_the_dependency_changes_it_publishes() {
    let s = Scratch::new("deps-apply");
    s.run_ok(&["apply", &example("shop.example.org.zone")]);
    let base = std::fs::read_to_string(example("shop.example.org.zone")).unwrap();
    let next = s.write(
        "next.zone",
        &(base.clone() + "promo IN CNAME promo.campaigns.ad-network.example.\n"),
    );
    let v = s.json(&["apply", next.to_str().unwrap(), "--json"]);
    assert_eq!(v["outcome"], "published", "{v:#}");
    assert_eq!(
        v["dependency_changes"][0]["names_added"],
        json!(["promo.shop.example.org."]),
        "{v:#}"
    );
    // In words, and back out again: removing the name removes it from the map.
    let out = s.run_ok(&["apply", &example("shop.example.org.zone")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("dependencies: removes") && text.contains("ad-network.example."),
        "{text}"
    );
}
