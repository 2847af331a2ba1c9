//! The one loader of the Ferret conformance data (see `shared/conformance/README.md`), which
//! lives beside the repository in `../shared/conformance`. A missing file is a failure, never
//! a skip.

use std::path::PathBuf;

use serde_json::Value;

pub use crate::ferret_allow::NOT_ACTUALLY_INVALID;

/// The zones every gate must refuse, each with the RFC condition it breaks.
pub const INVALID: &str = "ferret-invalid-dev.jsonl";

/// The zones every gate must accept, each with queries and the reference servers' answers.
pub const VALID: &str = "ferret-valid-dev.jsonl";

/// Names another copy of [`VALID`].
pub const VALID_ENV: &str = "ZONEGATE_FERRET_VALID";

/// Where the data file `name` is: `../shared/conformance/<name>` beside the repository, or for
/// [`VALID`] the file `ZONEGATE_FERRET_VALID` names, if set.
pub fn path(name: &str) -> PathBuf {
    if name == VALID
        && let Some(p) = std::env::var_os(VALID_ENV)
    {
        return PathBuf::from(p);
    }
    [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "..",
        "..",
        "shared",
        "conformance",
        name,
    ]
    .iter()
    .collect()
}

/// Every zone of the data file `name`, one JSON object a line (blank lines skipped).
pub fn load(name: &str) -> Vec<Value> {
    let path = path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the Ferret data at {}: {e}. It lives in ../shared/conformance beside \
             the repository; set {VALID_ENV} to use another copy of {VALID}.",
            path.display()
        )
    });
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{} line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// True if the invalid case `id` is on the allow-list: not invalid under its RFC, so a gate
/// must accept it.
pub fn not_actually_invalid(id: &str) -> bool {
    NOT_ACTUALLY_INVALID.contains(&id)
}
