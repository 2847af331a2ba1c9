//! Judging one server's answers for one zone against the published generation, or against
//! the generation its serial claims when it lags.

use std::collections::BTreeMap;

use super::{Check, Finding, FindingKind, Observed, ObservedAnswer, ServerObservation};
use crate::dns::name::Name;
use crate::dns::record::{RType, Record};
use crate::gate::Generation;
use crate::lookup::{Answer, Rcode, ZoneIndex};
use crate::zone::serial::serial_gt;
use crate::zonefile::record_to_text;

/// What the checker knows of one zone: the published generation, the serial it was published
/// with and when it was published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneView {
    pub published: Generation,
    /// The SOA serial stored with the published generation, which every server serves it with.
    pub serial: u32,
    /// Unix seconds, if the store says.
    pub published_at: Option<u64>,
}

impl ZoneView {
    /// The serial every server serves the published generation with.
    pub fn expected_serial(&self) -> u32 {
        self.serial
    }
}

/// What a server's serial claims: the generation that was published with that serial (if the
/// store still knows one), and its content.
pub struct Claim<'a> {
    pub generation: Option<Generation>,
    pub content: ClaimedContent<'a>,
}

/// The content of the generation a server claims by its serial, if the store still keeps it.
pub enum ClaimedContent<'a> {
    /// The published generation itself, or an older one that is still kept.
    Kept(&'a ZoneIndex),
    /// Cleaned up: only the serial can be judged.
    Gone,
}

/// One server's state for one zone after a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// The served serial, if the SOA question was answered well.
    pub serial: Option<u32>,
    /// How many generations behind the published one (0: up to date).
    pub lag_generations: Option<u64>,
    /// Seconds since the publication it has not caught up with yet (0 when up to date).
    pub lag_seconds: Option<u64>,
    pub findings: Vec<Finding>,
}

/// The serial in an SOA answer that is well formed and authoritative.
pub fn soa_serial(zone: &Name, observed: &Observed) -> Result<u32, String> {
    let Observed::Answer(a) = observed else {
        return Err("no answer".into());
    };
    if a.rcode != 0 {
        return Err(rcode_text(a.rcode));
    }
    if !a.authoritative {
        return Err("an answer without AA (the server does not serve this zone)".into());
    }
    a.answer
        .iter()
        .find(|r| r.rtype == RType::SOA && &r.owner == zone)
        .and_then(|r| r.soa())
        .map(|s| s.serial)
        .ok_or_else(|| "NOERROR without the SOA record".into())
}

/// Judges what `server` answered for `zone`. `claimed` is given the serial it serves (one not
/// newer than the published serial) and returns the generation published with it and that
/// generation's content, so a lagging server is judged against what it claims to serve.
pub fn judge<'a>(
    server: &str,
    zone: &Name,
    view: &ZoneView,
    observation: &ServerObservation,
    claimed: impl FnOnce(u32) -> Claim<'a>,
    now: u64,
) -> Judgement {
    let finding = |name: &Name, rtype: RType, kind, expected: String, got: String| Finding {
        server: server.to_string(),
        zone: zone.clone(),
        name: name.clone(),
        rtype,
        kind,
        expected,
        got,
    };
    let expected_serial = view.expected_serial();
    let mut out = Judgement {
        serial: None,
        lag_generations: None,
        lag_seconds: None,
        findings: Vec::new(),
    };
    let serial = match soa_serial(zone, &observation.soa) {
        Ok(s) => s,
        Err(got) => {
            let kind = match observation.soa {
                Observed::Timeout => FindingKind::Unreachable,
                Observed::Answer(_) => FindingKind::Mismatch,
            };
            let expected = format!("serial {expected_serial}");
            out.findings
                .push(finding(zone, RType::SOA, kind, expected, got));
            return out;
        }
    };
    out.serial = Some(serial);
    if serial_gt(serial, expected_serial) {
        out.findings.push(finding(
            zone,
            RType::SOA,
            FindingKind::Mismatch,
            format!("serial {expected_serial} (generation {})", view.published.0),
            format!("serial {serial}, newer than anything published"),
        ));
        return out;
    }
    let claim = if serial == expected_serial {
        Claim {
            generation: Some(view.published),
            content: claimed(serial).content,
        }
    } else {
        claimed(serial)
    };
    // Generations behind: known when the store still knows the generation of that serial.
    let behind = claim
        .generation
        .map(|g| view.published.0.saturating_sub(g.0));
    let lagging = serial != expected_serial;
    out.lag_generations = behind;
    let seconds = view.published_at.map(|t| now.saturating_sub(t));
    out.lag_seconds = Some(if lagging { seconds.unwrap_or(0) } else { 0 });
    if lagging {
        let since = seconds.map_or(String::new(), |s| format!(", {s} s after its publication"));
        let how_far = behind.map_or_else(
            || "behind, at a generation the store no longer keeps".to_string(),
            |b| format!("{b} generation(s) behind"),
        );
        out.findings.push(finding(
            zone,
            RType::SOA,
            FindingKind::Lag,
            format!("serial {expected_serial} (generation {})", view.published.0),
            format!("serial {serial}: {how_far}{since}"),
        ));
    }
    let ClaimedContent::Kept(index) = claim.content else {
        return out;
    };
    for (check, observed) in &observation.answers {
        if let Some((kind, expected, got)) = compare(index, check, observed) {
            out.findings
                .push(finding(&check.name, check.rtype, kind, expected, got));
        }
    }
    out
}

/// The finding for one question, if the answer is not what `index` answers.
fn compare(
    index: &ZoneIndex,
    check: &Check,
    observed: &Observed,
) -> Option<(FindingKind, String, String)> {
    let expected = index.lookup(&check.name, check.rtype);
    let has_records =
        expected.rcode == Rcode::NoError && expected.answer.iter().any(|r| r.owner == check.name);
    let want = answer_text(&expected);
    let got = match observed {
        Observed::Timeout if has_records => {
            return Some((FindingKind::Blackholed, want, "no answer".into()));
        }
        Observed::Timeout => return Some((FindingKind::Unreachable, want, "no answer".into())),
        Observed::Answer(got) => got,
    };
    if has_records && (got.rcode == 3 || (got.rcode == 0 && got.answer.is_empty())) {
        let dark = if got.rcode == 3 { "NXDOMAIN" } else { "NODATA" };
        return Some((FindingKind::Blackholed, want, dark.into()));
    }
    let same = got.rcode == expected.rcode.code()
        && got.authoritative == expected.authoritative
        && sorted(&got.answer) == sorted(&expected.answer);
    (!same).then(|| (FindingKind::Mismatch, want, observed_text(got)))
}

fn sorted(records: &[Record]) -> Vec<Record> {
    let mut v = records.to_vec();
    v.sort_by(Record::canonical_cmp);
    v
}

fn rcode_text(rcode: u16) -> String {
    match rcode {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        9 => "NOTAUTH".into(),
        n => format!("RCODE{n}"),
    }
}

fn records_text(rcode: u16, authoritative: bool, answer: &[Record]) -> String {
    let mut text = rcode_text(rcode);
    if !authoritative {
        text.push_str(" without AA");
    }
    if !answer.is_empty() {
        let rs: Vec<String> = sorted(answer).iter().map(record_to_text).collect();
        text = format!("{text}: {}", rs.join(" | "));
    }
    text
}

fn answer_text(a: &Answer) -> String {
    records_text(a.rcode.code(), a.authoritative, &a.answer)
}

fn observed_text(a: &ObservedAnswer) -> String {
    records_text(a.rcode, a.authoritative, &a.answer)
}

/// The servers of one zone grouped by the serial they serve, when they do not all serve the
/// same one (`None` when they agree or fewer than two answered).
pub fn disagreement<'s>(
    serials: impl IntoIterator<Item = (&'s str, Option<u32>)>,
) -> Option<BTreeMap<u32, Vec<String>>> {
    let mut by_serial: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for (server, serial) in serials {
        if let Some(s) = serial {
            by_serial.entry(s).or_default().push(server.to_string());
        }
    }
    (by_serial.len() > 1).then_some(by_serial)
}
