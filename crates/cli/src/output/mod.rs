//! Human and JSON rendering. With `--json`, exactly one JSON object goes to stdout; refusals
//! also go to stderr in words, with what to do next.

/// `println!` for everything a command prints on stdout. A closed stdout (`zonegate apply
/// z.zone | true`: EPIPE) loses the text but never the outcome: the write error is dropped, so
/// the command finishes and exits with its documented code instead of panicking (101).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
pub(crate) use outln;

pub mod deps;
mod diff;
mod plan;
mod refusal;
mod tables;
pub mod watch;

use serde_json::Value;

pub use diff::{diff_text, print_diff};
pub use plan::{plan, plan_json};
pub use refusal::{failure, refusal};
pub use tables::{cleanup, history, publish, status};

/// The output mode: human text, or exactly one JSON object on stdout (`--json`).
#[derive(Debug, Clone, Copy)]
pub struct Emit {
    pub json: bool,
}

impl Emit {
    pub fn object(&self, value: Value) {
        outln!(
            "{}",
            serde_json::to_string_pretty(&value).expect("JSON values serialize")
        );
    }
}
