//! Ferret conformance: the RFC behaviour of authoritative servers, with the answers BIND, NSD,
//! Knot and PowerDNS gave, judged by the rule in `shared/conformance/README.md`.
//!
//! Each zone goes through the product path: `zonefile::parse`, `validate`, `Catalog::install`,
//! and then its query is asked over a real UDP socket, without RD and without EDNS, as the
//! reference servers were asked. Truncation is thus judged too.
//!
//! The data lives beside the repository, in `../shared/conformance/ferret-valid-dev.jsonl`
//! (`ZONEGATE_FERRET_VALID` names another file). A missing file is a failure, never a skip.
//!
//! `cargo test` runs the whole file, every case, in about four seconds in a debug build: each
//! zone gets its own server on an ephemeral loopback port, [`PARALLEL`] at a time.
//!
//! Every zone is installed at the generation equal to its file's SOA serial: under the default
//! `increment` serial policy the served serial is then the file's own, which the reference
//! answers carry.

use std::collections::BTreeSet;
use std::sync::Arc;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use zonegate_core::gate::{Generation, Target};
use zonegate_core::zone::validate::validate;
use zonegate_core::zonefile::{parse, record_to_text};
use zonegate_core::{Limits, Name, Record};
use zonegate_server::Catalog;
use zonegate_testkit::ferret;

mod common;
use common::Running;
use zonegate_testkit::dns::{core_records, query, udp};

/// How many failures to print in full.
const SHOW: usize = 10;

/// Zones run at the same time, each on its own server.
const PARALLEL: usize = 8;

/// Reference answers we decided are wrong, by zone id, each with the RFC reasoning. These
/// cases still run: an allowed case that starts passing fails the test, so that this list
/// cannot go stale. Empty today: zonegate agrees with the reference servers on every case.
const ALLOWED: &[(u64, &str)] = &[];

/// A record as the README compares it: owner, TTL, class, type and rdata, lower case. The
/// presentation text of the canonical record is exactly that.
type RecordSet = BTreeSet<String>;

/// The type mnemonic of a record in a [`RecordSet`], lower case.
fn type_of(record: &str) -> &str {
    record.split_whitespace().nth(3).unwrap_or("")
}

fn set(records: &[Record]) -> RecordSet {
    records
        .iter()
        .map(|r| record_to_text(r).to_ascii_lowercase())
        .collect()
}

/// A response reduced to what the README compares.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    rcode: String,
    flags: BTreeSet<String>,
    answer: RecordSet,
    authority: RecordSet,
    additional: RecordSet,
}

impl Seen {
    fn lines(&self) -> Vec<String> {
        let mut out = vec![
            format!("rcode {}", self.rcode),
            format!(
                "flags {}",
                self.flags.iter().cloned().collect::<Vec<_>>().join(" ")
            ),
        ];
        for (name, set) in [
            (";ANSWER", &self.answer),
            (";AUTHORITY", &self.authority),
            (";ADDITIONAL", &self.additional),
        ] {
            out.push(name.to_string());
            out.extend(set.iter().cloned());
        }
        out
    }
}

/// One reference record line, read with the product's own zone-file parser.
fn reference_record(line: &str) -> Record {
    let parsed = parse(
        &format!("{line}\n"),
        Some(&Name::root()),
        "ferret expected answer",
    )
    .unwrap_or_else(|e| panic!("reference record {line:?}: {e}"));
    assert_eq!(parsed.records.len(), 1, "{line}");
    parsed.records.into_iter().next().unwrap()
}

fn expected(lines: &[serde_json::Value]) -> Seen {
    let mut seen = Seen {
        rcode: String::new(),
        flags: BTreeSet::new(),
        answer: RecordSet::new(),
        authority: RecordSet::new(),
        additional: RecordSet::new(),
    };
    let mut section = "";
    for l in lines {
        let l = l.as_str().unwrap();
        if let Some(r) = l.strip_prefix("rcode ") {
            seen.rcode = r.to_string();
        } else if let Some(f) = l.strip_prefix("flags") {
            seen.flags = f.split_whitespace().map(str::to_string).collect();
        } else if l.starts_with(';') {
            section = l;
        } else if l.starts_with("id ") || l.starts_with("opcode ") || section == ";QUESTION" {
        } else {
            let r = set(&[reference_record(l)]);
            match section {
                ";ANSWER" => seen.answer.extend(r),
                ";AUTHORITY" => seen.authority.extend(r),
                ";ADDITIONAL" => seen.additional.extend(r),
                other => panic!("unexpected section {other}"),
            };
        }
    }
    seen
}

/// The README's rule for one expected group.
fn matches(got: &Seen, want: &Seen) -> bool {
    if got.rcode != want.rcode || got.flags != want.flags || got.answer != want.answer {
        return false;
    }
    if want.answer.is_empty() {
        if got.authority != want.authority {
            return false;
        }
        let referral =
            !want.flags.contains("AA") && want.authority.iter().any(|r| type_of(r) == "ns");
        if referral && got.additional != want.additional {
            return false;
        }
    }
    true
}

/// A reference group: how many servers gave this answer, and the answer.
struct Group {
    servers: Vec<String>,
    want: Seen,
}

/// Judges `got`: a group of three or four servers is the answer; otherwise any group counts.
fn judge(got: &Seen, groups: &[Group]) -> bool {
    let majority: Vec<&Group> = groups.iter().filter(|g| g.servers.len() >= 3).collect();
    if majority.is_empty() {
        groups.iter().any(|g| matches(got, &g.want))
    } else {
        majority.iter().any(|g| matches(got, &g.want))
    }
}

/// A line diff of the reference answer against ours: `-` only in the reference, `+` only in
/// ours.
fn diff(want: &Seen, got: &Seen) -> String {
    let (w, g) = (want.lines(), got.lines());
    let mut out = String::new();
    for l in &w {
        let mark = if g.contains(l) { ' ' } else { '-' };
        out.push_str(&format!("    {mark} {l}\n"));
    }
    for l in g.iter().filter(|l| !w.contains(l)) {
        out.push_str(&format!("    + {l}\n"));
    }
    out
}

fn seen_from_message(m: &Message) -> Seen {
    let md = &m.metadata;
    let flags = [
        (true, "QR"),
        (md.authoritative, "AA"),
        (md.truncation, "TC"),
        (md.recursion_desired, "RD"),
        (md.recursion_available, "RA"),
        (md.authentic_data, "AD"),
        (md.checking_disabled, "CD"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, f)| f.to_string())
    .collect();
    let rcode = match md.response_code {
        ResponseCode::NoError => "NOERROR".to_string(),
        ResponseCode::NXDomain => "NXDOMAIN".to_string(),
        ResponseCode::YXDomain => "YXDOMAIN".to_string(),
        ResponseCode::Refused => "REFUSED".to_string(),
        ResponseCode::ServFail => "SERVFAIL".to_string(),
        ResponseCode::FormErr => "FORMERR".to_string(),
        ResponseCode::NotImp => "NOTIMP".to_string(),
        other => format!("{other:?}"),
    };
    Seen {
        rcode,
        flags,
        answer: set(&core_records(&m.answers)),
        authority: set(&core_records(&m.authorities)),
        additional: set(&core_records(&m.additionals)),
    }
}

struct Case {
    id: u64,
    zone: String,
    qname: String,
    qtype: String,
    groups: Vec<Group>,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for z in ferret::load(ferret::VALID) {
        for case in z["cases"].as_array().unwrap() {
            let groups = case["expected"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| Group {
                    servers: g["servers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s.as_str().unwrap().to_string())
                        .collect(),
                    want: expected(g["response"].as_array().unwrap()),
                })
                .collect();
            out.push(Case {
                id: z["id"].as_u64().unwrap(),
                zone: z["zone"].as_str().unwrap().to_string(),
                qname: case["query"]["name"].as_str().unwrap().to_string(),
                qtype: case["query"]["type"].as_str().unwrap().to_string(),
                groups,
            });
        }
    }
    out
}

/// Runs one case on its own server and returns our answer.
async fn run(case: &Case) -> Seen {
    let parsed = parse(&case.zone, None, &format!("ferret zone {}", case.id))
        .unwrap_or_else(|e| panic!("ferret zone {} does not parse: {e}", case.id));
    let zone = validate(parsed, &Limits::default())
        .unwrap_or_else(|e| panic!("ferret zone {} is not valid: {e}", case.id));
    // An ordinary first generation: the zone's own serial is what a server serves (the
    // serial decided at publish arrives with the zone), so the answers' SOA records carry the
    // file's serial, as the reference servers' do.
    let catalog = Arc::new(Catalog::new("ferret"));
    catalog.install(Generation(1), zone).await.unwrap();
    let server = Running::start(catalog).await;
    let qtype: RecordType = case.qtype.parse().unwrap();
    let m = query(case.id as u16, &case.qname, qtype);
    let got = seen_from_message(&udp(server.addr, &m).await);
    server.stop().await.unwrap();
    got
}

fn report(case: &Case, got: &Seen) -> String {
    let mut out = format!(
        "zone {} query {} {}\n{}\n",
        case.id, case.qname, case.qtype, case.zone
    );
    for g in &case.groups {
        out.push_str(&format!("  reference {:?}:\n", g.servers));
        out.push_str(&diff(&g.want, got));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferret_valid_zones_answer_like_the_reference_servers() {
    let chosen = Arc::new(cases());

    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..PARALLEL {
        let chosen = chosen.clone();
        tasks.spawn(async move {
            let mut out = Vec::new();
            for i in (worker..chosen.len()).step_by(PARALLEL) {
                let got = run(&chosen[i]).await;
                out.push((i, judge(&got, &chosen[i].groups), got));
            }
            out
        });
    }
    let mut results = Vec::new();
    while let Some(r) = tasks.join_next().await {
        results.extend(r.unwrap());
    }
    results.sort_by_key(|(i, _, _)| *i);

    let mut passed = 0;
    let mut failed = Vec::new();
    let mut allowed = 0;
    let mut stale_allowed = Vec::new();
    for (i, ok, got) in &results {
        let case = &chosen[*i];
        let allow = ALLOWED.iter().find(|(id, _)| *id == case.id);
        match (ok, allow) {
            (true, None) => passed += 1,
            (false, None) => failed.push(report(case, got)),
            (false, Some(_)) => allowed += 1,
            (true, Some(_)) => stale_allowed.push(case.id),
        }
    }
    eprintln!(
        "ferret: {passed} passed, {} failed, {allowed} allowed ({} cases from {})",
        failed.len(),
        chosen.len(),
        ferret::path(ferret::VALID).display(),
    );
    for f in failed.iter().take(SHOW) {
        eprintln!("{f}");
    }
    assert!(
        stale_allowed.is_empty(),
        "allow-listed Ferret zones now pass; remove them from ALLOWED: {stale_allowed:?}"
    );
    assert!(
        failed.is_empty(),
        "{} Ferret cases failed (see above)",
        failed.len()
    );
    // The data set must really have been read: a handful of cases would be a broken file.
    assert!(
        chosen.len() >= 1000,
        "only {} Ferret cases ran",
        chosen.len()
    );
}

/// The judge itself can fail: a referral answered with AA or without its glue, an answer with
/// a record missing, or the wrong rcode, are each refused against the reference.
#[test]
fn the_judge_refuses_wrong_answers() {
    let all = cases();
    let referral = all
        .iter()
        .find(|c| {
            let w = &c.groups[0].want;
            c.groups.len() == 1
                && !w.flags.contains("AA")
                && w.answer.is_empty()
                && w.authority.iter().any(|r| type_of(r) == "ns")
        })
        .expect("the data set has referrals");
    let want = &referral.groups[0].want;
    assert!(judge(want, &referral.groups));
    let mut with_aa = want.clone();
    with_aa.flags.insert("AA".into());
    assert!(!judge(&with_aa, &referral.groups));
    let mut other_glue = want.clone();
    other_glue.additional.clear();
    other_glue.additional.insert("x. 1 IN A 192.0.2.1".into());
    assert!(!judge(&other_glue, &referral.groups));

    let positive = all
        .iter()
        .find(|c| c.groups.len() == 1 && c.groups[0].want.answer.len() >= 2)
        .expect("the data set has answers with several records");
    let want = &positive.groups[0].want;
    let mut short = want.clone();
    let first = short.answer.iter().next().unwrap().clone();
    short.answer.remove(&first);
    assert!(!judge(&short, &positive.groups));
    let mut nx = want.clone();
    nx.rcode = "NXDOMAIN".into();
    assert!(!judge(&nx, &positive.groups));
    // Optional records of a positive answer are not compared (README).
    let mut extra = want.clone();
    extra.additional.insert("x. 1 IN A 192.0.2.1".into());
    assert!(judge(&extra, &positive.groups));
}
