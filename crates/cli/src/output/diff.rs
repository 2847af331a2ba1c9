//! Diffs as text: the review command's diff file and the `diff -u` style listing.

use zonegate_core::zone::diff::{Change, Diff};
use zonegate_core::zonefile::record_to_text;

/// The diff as text, one `- record` or `+ record` line each (what a review command gets in
/// `ZONEGATE_DIFF_FILE`).
pub fn diff_text(diff: &Diff) -> String {
    let mut out = String::new();
    for c in &diff.changes {
        let (removed, added): (&[_], &[_]) = match c {
            Change::Added { records, .. } => (&[], records),
            Change::Removed { records, .. } => (records, &[]),
            Change::Changed { removed, added, .. } => (removed, added),
        };
        for r in removed {
            out.push_str(&format!("- {}\n", record_to_text(r)));
        }
        for r in added {
            out.push_str(&format!("+ {}\n", record_to_text(r)));
        }
    }
    out
}

/// The diff in the style of `diff -u`: `-` lines removed, `+` lines added. Long diffs are
/// cut after `max_lines`, saying how many lines were left out.
pub fn print_diff(diff: &Diff, max_lines: usize) {
    // Only the lines shown are formatted: a million-record first plan has a million lines.
    let lines = diff.changes.iter().flat_map(|c| {
        let (removed, added): (&[_], &[_]) = match c {
            Change::Added { records, .. } => (&[], records),
            Change::Removed { records, .. } => (records, &[]),
            Change::Changed { removed, added, .. } => (removed, added),
        };
        removed
            .iter()
            .map(|r| ('-', r))
            .chain(added.iter().map(|r| ('+', r)))
    });
    let mut total = 0usize;
    for (sign, r) in lines {
        if total < max_lines {
            outln!("  {sign} {}", record_to_text(r));
        }
        total += 1;
    }
    if total > max_lines {
        outln!(
            "  ... {} more lines (use --json for the full diff)",
            total - max_lines
        );
    }
}
