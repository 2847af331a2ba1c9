//! The dependency map: chains, groups, shares, single targets and changes.

use super::*;
use crate::testkit::{a, cname, mx, n, name_rdata, ns, rec, srv, zone};

fn https(owner: &str, target: &str) -> crate::Record {
    let mut rdata = vec![0, 1];
    rdata.extend_from_slice(&name_rdata(target));
    rec(owner, 300, RType(65), rdata.into_boxed_slice())
}

fn example(extra: Vec<crate::Record>) -> Zone {
    let mut records = vec![
        a("ns1.example.test.", [192, 0, 2, 53]),
        cname("www.example.test.", "www.example-cloud.com."),
        cname("api.example.test.", "app.example.test."),
        cname("app.example.test.", "lb.example.test."),
        cname("lb.example.test.", "elb.us-east-1.example-cloud.com."),
        cname("static.example.test.", "cdn.example-cloud.com."),
        https("svc.example.test.", "svc.example-cloud.com."),
        mx("example.test.", 10, "mail.example.test."),
        mx("example.test.", 20, "mx.mailhost.net."),
        a("mail.example.test.", [192, 0, 2, 25]),
        srv("_sip._tcp.example.test.", "sip.voip.co.uk."),
        ns("sub.example.test.", "ns1.dnshost.org."),
        // Glue-like data below the cut is the child's, not this zone's.
        cname("x.sub.example.test.", "ignored.example-cloud.com."),
        a("plain.example.test.", [192, 0, 2, 1]),
    ];
    records.extend(extra);
    zone("example.test.", 1, records)
}

#[test]
fn registrable_domains_come_from_the_public_suffix_list() {
    assert_eq!(
        registrable(&n("elb.us-east-1.example-cloud.com.")),
        n("example-cloud.com.")
    );
    assert_eq!(registrable(&n("sip.voip.co.uk.")), n("voip.co.uk."));
    assert_eq!(registrable(&n("a.b.example.test.")), n("example.test."));
    assert_eq!(
        registrable(&n("co.uk.")),
        n("co.uk."),
        "a public suffix is its own group"
    );
}

#[test]
fn groups_shares_single_targets_and_concentration() {
    let map = DepMap::of(&example(vec![]));
    let names: Vec<String> = map.names.keys().map(Name::to_string).collect();
    assert_eq!(
        names,
        [
            "example.test.",
            "_sip._tcp.example.test.",
            "api.example.test.",
            "app.example.test.",
            "lb.example.test.",
            "static.example.test.",
            "sub.example.test.",
            "svc.example.test.",
            "www.example.test."
        ]
    );
    // api -> app -> lb -> elb...: the chain is followed inside the zone.
    assert_eq!(
        map.names[&n("api.example.test.")].targets,
        BTreeSet::from([n("elb.us-east-1.example-cloud.com.")])
    );
    let groups: Vec<(String, usize, String)> = map
        .groups
        .iter()
        .map(|g| {
            (
                g.domain.to_string(),
                g.names.len(),
                format!("{:.1}", g.share_percent),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("example-cloud.com.".to_string(), 6, "66.7".to_string()),
            // Equal shares in canonical name order (by the last label first).
            ("mailhost.net.".to_string(), 1, "11.1".to_string()),
            ("dnshost.org.".to_string(), 1, "11.1".to_string()),
            ("voip.co.uk.".to_string(), 1, "11.1".to_string()),
        ]
    );
    let cloud = map.concentration().unwrap();
    assert_eq!(cloud.domain, n("example-cloud.com."));
    assert_eq!(cloud.targets.len(), 4, "{:?}", cloud.targets);
    // The apex has a second choice inside the zone (mail.example.test.); every other name
    // has exactly one outside target.
    let single: Vec<String> = map.single_target().map(|(n, _)| n.to_string()).collect();
    assert_eq!(single.len(), 8, "{single:?}");
    assert!(!single.contains(&"example.test.".to_string()));
}

#[test]
fn a_change_that_adds_a_dependency_says_so() {
    let old = DepMap::of(&example(vec![]));
    let new = DepMap::of(&example(vec![
        cname("new.example.test.", "edge.fastcdn.net."),
        cname("new2.example.test.", "edge.fastcdn.net."),
    ]));
    let c = changes(&old, &new);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0].domain, n("fastcdn.net."));
    assert_eq!(c[0].names_added.len(), 2);
    assert_eq!(
        c[0].to_string(),
        "adds a dependency on fastcdn.net. (edge.fastcdn.net.) for 2 name(s)"
    );
    let back = changes(&new, &old);
    assert_eq!(
        back[0].to_string(),
        "removes the dependency on fastcdn.net. of 2 name(s)"
    );
}
