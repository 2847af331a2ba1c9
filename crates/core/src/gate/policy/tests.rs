//! Tests of the policy checks over small zones.

use super::*;
use crate::dns::name::Name;
use crate::gate::audit::{ReasonCode, ThresholdKind};
use crate::zone::Zone;
use crate::zone::diff::Diff;
use crate::zone::limits::Limits;
use crate::zone::validate::validate;
use crate::zonefile;

fn zone(text: &str) -> Zone {
    let origin = Name::parse("example.com.").unwrap();
    let full = format!(
        "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1.example.net. h.example.net. 1 3600 600 604800 60\n{text}"
    );
    validate(
        zonefile::parse(&full, Some(&origin), "test").unwrap(),
        &Limits::default(),
    )
    .unwrap()
}

fn run(policy: &ZonePolicy, old: &str, new: &str) -> Vec<Threshold> {
    let (a, b) = (zone(old), zone(new));
    check(policy, &a, &b, &Diff::between(&a, &b))
}

fn default_for(toml_policy: &str) -> ZonePolicy {
    let p: Policy = toml::from_str(toml_policy).unwrap();
    p.check().unwrap();
    p.for_zone(&Name::parse("example.com.").unwrap())
}

/// Data-driven: (old records, new records, expected reason codes).
#[test]
fn default_policy_table() {
    let base = "@ NS ns1.example.net.\na A 192.0.2.1\nb A 192.0.2.2\nc A 192.0.2.3\nd A 192.0.2.4\ne A 192.0.2.5\n";
    let p = Policy::default().for_zone(&Name::parse("example.com.").unwrap());
    let cases: &[(&str, &str, &[ReasonCode])] = &[
        // Same content with a new serial: nothing.
        (base, base, &[]),
        // One of 7 records updated (14%): fine.
        (base, &base.replace("192.0.2.5", "192.0.2.55"), &[]),
        // Three of 7 updated (42.9%).
        (
            base,
            &base
                .replace("192.0.2.3", "192.0.2.33")
                .replace("192.0.2.4", "192.0.2.44")
                .replace("192.0.2.5", "192.0.2.55"),
            &[ReasonCode::Threshold(ThresholdKind::Update)],
        ),
        // Three of 7 deleted (42.9%).
        (
            base,
            "@ NS ns1.example.net.\na A 192.0.2.1\nb A 192.0.2.2\n",
            &[ReasonCode::Threshold(ThresholdKind::Delete)],
        ),
        // Five of 7 gone: shrink (71.4%) and delete.
        (
            base,
            "@ NS ns1.example.net.\n",
            &[
                ReasonCode::Threshold(ThresholdKind::Shrink),
                ReasonCode::Threshold(ThresholdKind::Delete),
            ],
        ),
        // A changed apex NS set.
        (
            base,
            &base.replace("ns1.example.net.", "ns2.example.net."),
            &[ReasonCode::Threshold(ThresholdKind::Apex)],
        ),
    ];
    for (old, new, want) in cases {
        let got: Vec<ReasonCode> = run(&p, old, new).iter().map(Threshold::reason).collect();
        assert_eq!(&got, want, "{old} -> {new}");
    }
}

#[test]
fn small_zones_are_not_exempt() {
    // Three data records (five with SOA and NS), two deleted: 40%, where octoDNS would skip
    // a zone of fewer than ten records.
    let p = Policy::default().for_zone(&Name::parse("example.com.").unwrap());
    let got = run(
        &p,
        "@ NS ns1.example.net.\na A 192.0.2.1\nb A 192.0.2.2\nc A 192.0.2.3\n",
        "@ NS ns1.example.net.\na A 192.0.2.1\n",
    );
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].to_string(),
        "would delete 2 of 5 records (40.0%), limit 30% (policy.delete_max_percent)"
    );
}

#[test]
fn shrink_holds_when_delete_limit_is_raised() {
    let p = default_for("delete_max_percent = 100\n");
    let got = run(
        &p,
        "@ NS ns1.example.net.\na A 192.0.2.1\nb A 192.0.2.2\nc A 192.0.2.3\n",
        "@ NS ns1.example.net.\n",
    );
    let reasons: Vec<ReasonCode> = got.iter().map(Threshold::reason).collect();
    assert_eq!(
        reasons,
        [ReasonCode::Threshold(ThresholdKind::Shrink)],
        "{got:?}"
    );
    assert!(got[0].to_string().contains("from 5 to 2 records (-60.0%)"));
}

#[test]
fn absolute_counts_apply_too() {
    let p = default_for("update_max_records = 1\n");
    let got = run(
        &p,
        "@ NS ns1.example.net.\na A 192.0.2.1\nb A 192.0.2.2\nc A 192.0.2.3\nd A 192.0.2.4\ne A 192.0.2.5\nf A 192.0.2.6\ng A 192.0.2.7\nh A 192.0.2.8\n",
        "@ NS ns1.example.net.\na A 192.0.2.11\nb A 192.0.2.12\nc A 192.0.2.3\nd A 192.0.2.4\ne A 192.0.2.5\nf A 192.0.2.6\ng A 192.0.2.7\nh A 192.0.2.8\n",
    );
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].to_string(),
        "would update 2 of 10 records (20.0%), limit 1 records (policy.update_max_records)"
    );
}

#[test]
fn floors_limit_how_far_a_set_drops() {
    let p = default_for(
        "[[zones.\"example.com\".floors]]\nname = \"api.example.com.\"\ntype = \"A\"\nmin = 2\n\
         [[floors]]\nname = \"*.example.com.\"\ntype = \"AAAA\"\nmin = 1\n",
    );
    let filler =
        "@ NS ns1.example.net.\nx A 192.0.2.1\ny A 192.0.2.2\nz A 192.0.2.3\nw A 192.0.2.4\n";
    let two = format!("{filler}api A 192.0.2.10\napi A 192.0.2.11\nv6 AAAA 2001:db8::1\n");
    let one = format!("{filler}api A 192.0.2.10\nv6 AAAA 2001:db8::1\n");
    let got = run(&p, &two, &one);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].to_string(),
        "would leave api.example.com. A with 1 of 2 records, below the floor of 2 \
         (policy floor api.example.com. A >= 2)"
    );
    // Already below the floor and not shrinking: not this plan's doing.
    assert!(run(&p, &one, &one.replace("x A", "xx A")).is_empty());
    // The wildcard floor covers names below the zone; the set vanishing counts as 0.
    let got = run(&p, &two, &two.replace("v6 AAAA 2001:db8::1\n", ""));
    assert_eq!(
        got.iter().map(Threshold::reason).collect::<Vec<_>>(),
        [ReasonCode::Threshold(ThresholdKind::Floor)]
    );
    // The zone's floor is added to the default one; other zones get only the default.
    assert_eq!(p.floors.len(), 2);
    let other: Policy = toml::from_str(
        "[[zones.\"example.com\".floors]]\nname = \"api.example.com.\"\ntype = \"A\"\nmin = 2\n",
    )
    .unwrap();
    assert!(
        other
            .for_zone(&Name::parse("example.org.").unwrap())
            .floors
            .is_empty()
    );
}

#[test]
fn soa_serial_is_bookkeeping_other_fields_are_apex_changes() {
    let p = Policy::default().for_zone(&Name::parse("example.com.").unwrap());
    let base =
        "@ NS ns1.example.net.\na A 192.0.2.1\nb A 192.0.2.2\nc A 192.0.2.3\nd A 192.0.2.4\n";
    let a = zone(base);
    let b = zone(base).clone();
    assert!(check(&p, &a, &b, &Diff::between(&a, &b)).is_empty());
    let text = format!(
        "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1.example.net. h.example.net. 2 3600 600 604800 300\n{base}"
    );
    let origin = Name::parse("example.com.").unwrap();
    let c = validate(
        zonefile::parse(&text, Some(&origin), "t").unwrap(),
        &Limits::default(),
    )
    .unwrap();
    let got = check(&p, &a, &c, &Diff::between(&a, &c));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0],
        Threshold::ApexSoa {
            changes: vec![("minimum", "60".into(), "300".into())]
        }
    );
    // With the guard off, the same change passes (the SOA is one of 6 records: 16.7%).
    let off = default_for("apex_guard = false\n");
    assert!(check(&off, &a, &c, &Diff::between(&a, &c)).is_empty());
}

#[test]
fn serial_only_change_is_not_an_update() {
    let base = "@ NS ns1.example.net.\n";
    let origin = Name::parse("example.com.").unwrap();
    let a = zone(base);
    let text = format!(
        "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1.example.net. h.example.net. 9 3600 600 604800 60\n{base}"
    );
    let b = validate(
        zonefile::parse(&text, Some(&origin), "t").unwrap(),
        &Limits::default(),
    )
    .unwrap();
    let c = count(&Diff::between(&a, &b));
    assert_eq!((c.updated, c.deleted, c.added), (0, 0, 0));
}

#[test]
fn config_mistakes_are_named() {
    for (text, key) in [
        ("delete_max_percent = 130\n", "delete_max_percent"),
        (
            "[zones.\"bad name..\"]\nreview = \"manual\"\n",
            "zones.\"bad name..\"",
        ),
        (
            "[zones.\"example.com.\"]\nreview = \"command\"\n",
            "zones.\"example.com.\".review",
        ),
    ] {
        let p: Policy = toml::from_str(text).unwrap();
        let e = p.check().unwrap_err();
        assert_eq!(e.key, key, "{text}: {e}");
    }
    assert!(
        toml::from_str::<Policy>("[[floors]]\nname = \"a.\"\ntype = \"NOPE\"\nmin = 1\n").is_err()
    );
    assert!(toml::from_str::<Policy>("delete_max_pct = 3\n").is_err());
}

#[test]
fn dependency_checks_are_off_by_default() {
    let p = Policy::default().for_zone(&Name::parse("example.com.").unwrap());
    assert_eq!(p.dependency_share_max_percent, None);
    assert!(!p.dependency_floored_single_target);
    let base = "@ NS ns1.example.net.\na CNAME a.cloud.example.\nb A 192.0.2.2\nc A 192.0.2.3\n";
    let all_cloud = base.replace("b A 192.0.2.2", "b CNAME b.cloud.example.");
    assert!(run(&p, base, &all_cloud).is_empty());
}

#[test]
fn raising_the_largest_dependency_share_above_its_limit_is_a_threshold() {
    let p = default_for("dependency_share_max_percent = 60\nupdate_max_percent = 100\n");
    // Names with outside targets: the apex (ns1.example.net.), a and b.
    let base = "@ NS ns1.example.net.\na CNAME a.cloud.example.\nb CNAME b.other.example.\nc A 192.0.2.3\nd A 192.0.2.4\n";
    // b moves to the cloud: 2 of 3 (66.7%) depend on cloud.example.
    let more = base.replace("b.other.example.", "b.cloud.example.");
    let got = run(&p, base, &more);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].reason().to_string(), "threshold:dependency-share");
    assert_eq!(
        got[0].to_string(),
        "would make 66.7% of the names with outside targets depend on cloud.example. (was 33.3%), \
         limit 60% (policy.dependency_share_max_percent); see `zonegate deps`"
    );
    // Already above and not rising: not this plan's doing.
    assert!(run(&p, &more, &more.replace("c A 192.0.2.3", "c A 192.0.2.33")).is_empty());
    assert!(
        run(
            &p,
            &more,
            &more.replace("a.cloud.example.", "a2.cloud.example.")
        )
        .is_empty()
    );
}

#[test]
fn a_floored_name_left_on_a_single_target_is_a_threshold() {
    let p = default_for(
        "dependency_floored_single_target = true\nupdate_max_percent = 100\n\
         [[floors]]\nname = \"www.example.com.\"\ntype = \"A\"\nmin = 1\n",
    );
    let base = "@ NS ns1.example.net.\nwww A 192.0.2.1\nwww A 192.0.2.2\nother A 192.0.2.3\nx A 192.0.2.4\ny A 192.0.2.5\n";
    // www becomes a CNAME to one load balancer: no second choice. `other` has no floor.
    let lb = base
        .replace(
            "www A 192.0.2.1\nwww A 192.0.2.2\n",
            "www CNAME lb.cloud.example.\n",
        )
        .replace("other A 192.0.2.3", "other CNAME lb.cloud.example.");
    let got: Vec<Threshold> = run(&p, base, &lb)
        .into_iter()
        .filter(|t| t.kind() == ThresholdKind::SingleTarget)
        .collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].to_string(),
        "would leave www.example.com., which has a floor, depending on the single outside target \
         lb.cloud.example. with no second choice (policy.dependency_floored_single_target)"
    );
    // Pointing the same name at the same target again is not a new single dependency.
    let again = lb.replace("x A 192.0.2.4", "x A 192.0.2.44");
    assert!(
        run(&p, &lb, &again)
            .iter()
            .all(|t| t.kind() != ThresholdKind::SingleTarget)
    );
}
