//! The status page at `/`: server-rendered HTML, no script and no front-end build. Every zone
//! with its published and served generation, serial, record count and last publication; for
//! each zone an SVG timeline of its recent generations (colour = verdict and status) and of
//! its recent refusals; and the coloured diff of the generation chosen by `?zone=&generation=`.
//!
//! The timeline and the diff are the API's history and diff answers, so the page shows what
//! the API and the CLI say.

use std::fmt::Write as _;

use serde_json::Value;

use crate::facts::{Facts, ZoneFacts};

/// Generations shown on a zone's timeline, newest last.
pub const TIMELINE_GENERATIONS: usize = 20;

/// Refusals shown on a zone's timeline, newest last.
pub const TIMELINE_REFUSALS: usize = 10;

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// The colour of a generation on the timeline.
fn colour(status: &str, verdict: &str) -> &'static str {
    match (status, verdict) {
        ("published", _) => "#1a7f37",
        ("superseded", _) => "#8c959f",
        (_, "refused" | "rejected") => "#cf222e",
        (_, "held") => "#bf8700",
        (_, "approved") => "#0969da",
        _ => "#54aeff",
    }
}

/// A zone's timeline as SVG, from its history answer (the CLI's `history --json`).
pub fn timeline(zone: &str, history: &Value) -> String {
    let empty = Vec::new();
    let plans = history["plans"].as_array().unwrap_or(&empty);
    let start = plans.len().saturating_sub(TIMELINE_GENERATIONS);
    let refusals: Vec<&Value> = history["audit"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .filter(|a| a["action"] == "refused" || a["action"] == "stale")
        .take(TIMELINE_REFUSALS)
        .collect();
    let width = 40 + 30 * (TIMELINE_GENERATIONS + 1);
    let mut svg = format!(
        r##"<svg class="timeline" data-zone="{}" width="{width}" height="64" viewBox="0 0 {width} 64" role="img" aria-label="recent generations of {}"><line x1="10" y1="20" x2="{}" y2="20" stroke="#d0d7de"/>"##,
        esc(zone),
        esc(zone),
        width - 10
    );
    for (i, p) in plans[start..].iter().enumerate() {
        let g = p["generation"].as_u64().unwrap_or(0);
        let status = p["status"].as_str().unwrap_or("");
        let verdict = p["verdict"].as_str().unwrap_or("");
        let x = 25 + 30 * i;
        let _ = write!(
            svg,
            r#"<a href="/?zone={z}&amp;generation={g}"><circle class="gen" data-generation="{g}" data-status="{s}" data-verdict="{v}" cx="{x}" cy="20" r="9" fill="{c}"><title>g{g}: {s}, {v}</title></circle><text x="{x}" y="46" font-size="10" text-anchor="middle">{g}</text></a>"#,
            z = esc(zone),
            s = esc(status),
            v = esc(verdict),
            c = colour(status, verdict),
        );
    }
    for (i, r) in refusals.iter().rev().enumerate() {
        let reason = r["reason"].as_str().unwrap_or("");
        let generation = opt(r["generation"].as_u64());
        let x = 20 + 14 * i;
        let _ = write!(
            svg,
            r##"<rect class="refusal" data-reason="{reason}" data-generation="{generation}" x="{x}" y="54" width="9" height="9" fill="#cf222e"><title>refused ({reason}) {generation}</title></rect>"##,
            reason = esc(reason),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The coloured diff of a diff answer (the CLI's `diff --json`).
pub fn diff_html(diff: &Value) -> String {
    let mut out = format!(
        r#"<section id="diff" data-zone="{}" data-from="{}" data-to="{}"><h2>Diff of {} g{} against {}</h2><pre>"#,
        esc(diff["zone"].as_str().unwrap_or("")),
        opt(diff["from"].as_u64()),
        opt(diff["to"].as_u64()),
        esc(diff["zone"].as_str().unwrap_or("")),
        opt(diff["to"].as_u64()),
        diff["from"]
            .as_u64()
            .map_or("nothing".to_string(), |g| format!("g{g}")),
    );
    let empty = Vec::new();
    for c in diff["diff"]["changes"].as_array().unwrap_or(&empty) {
        for (key, class, sign) in [("removed", "del", '-'), ("added", "add", '+')] {
            for r in c[key].as_array().unwrap_or(&empty) {
                let _ = writeln!(
                    out,
                    r#"<span class="{class}">{sign} {}</span>"#,
                    esc(r.as_str().unwrap_or(""))
                );
            }
        }
    }
    out.push_str("</pre></section>");
    out
}

/// Unix seconds as an HTTP date (`Tue, 01 Dec 2026 23:33:19 GMT`).
fn date(unix: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix))
}

fn row(z: &ZoneFacts) -> String {
    let behind = match (z.published, z.served) {
        (Some(p), Some(s)) if s >= p => "",
        (None, _) => "",
        _ => " behind",
    };
    format!(
        r#"<tr class="zone{behind}" data-zone="{o}" data-published="{p}" data-served="{s}" data-serial="{serial}" data-records="{r}" data-published-at="{unix}"><td>{o}</td><td>{p}</td><td>{s}</td><td>{serial}</td><td>{r}</td><td>{at}</td></tr>"#,
        o = esc(&z.origin),
        p = opt(z.published),
        s = opt(z.served),
        serial = opt(z.serial),
        r = opt(z.records),
        at = z.published_at.map_or_else(|| "-".to_string(), date),
        unix = opt(z.published_at),
    )
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#1f2328}table{border-collapse:collapse}\
td,th{border:1px solid #d0d7de;padding:4px 10px;text-align:left}tr.behind{background:#fff8c5}\
pre{background:#f6f8fa;padding:1em}.add{color:#1a7f37}.del{color:#cf222e}.down{color:#cf222e}";

/// The whole page: `histories` holds each zone's history answer, `diff` the chosen diff.
pub fn render(facts: &Facts, histories: &[(String, Value)], diff: Option<&Value>) -> String {
    let mut out = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>zonegate</title><style>{STYLE}</style></head><body><h1>zonegate</h1>"
    );
    if facts.store.up {
        out.push_str(r#"<p id="store" data-up="1">store: up</p>"#);
    } else {
        let _ = write!(
            out,
            r#"<p id="store" class="down" data-up="0">store: down ({}); serving the last good generations</p>"#,
            esc(facts.store.error.as_deref().unwrap_or(""))
        );
    }
    out.push_str("<table id=\"zones\"><tr><th>zone</th><th>published</th><th>served</th><th>serial</th><th>records</th><th>last publication</th></tr>");
    for z in &facts.zones {
        out.push_str(&row(z));
    }
    out.push_str("</table><h2>Recent generations</h2>");
    for (zone, history) in histories {
        let _ = write!(out, "<h3>{}</h3>{}", esc(zone), timeline(zone, history));
    }
    out.push_str("<p>green published, grey superseded, blue staged, amber held, red refused or rejected; squares are refusals. Click a generation for its diff.</p>");
    if let Some(d) = diff {
        out.push_str(&diff_html(d));
    }
    out.push_str("</body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timeline_and_diff_escape_and_colour() {
        let h = json!({"plans": [
            {"generation": 1, "status": "superseded", "verdict": "pass"},
            {"generation": 2, "status": "published", "verdict": "pass"},
            {"generation": 3, "status": "staged", "verdict": "refused"}],
            "audit": [{"action": "refused", "reason": "threshold:deletes", "generation": 3}]});
        let svg = timeline("a<b.", &h);
        assert!(
            svg.contains(r#"data-generation="2" data-status="published""#),
            "{svg}"
        );
        assert!(svg.contains("#cf222e"));
        assert!(svg.contains(r#"class="refusal" data-reason="threshold:deletes""#));
        assert!(svg.contains("a&lt;b."));
        let d = json!({"zone": "example.com.", "from": 1, "to": 2, "diff": {"changes": [
            {"change": "changed", "removed": ["www A 1"], "added": ["www A 2"]}]}});
        let html = diff_html(&d);
        assert!(
            html.contains(r#"<span class="del">- www A 1</span>"#),
            "{html}"
        );
        assert!(html.contains(r#"<span class="add">+ www A 2</span>"#));
        assert_eq!(date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
