//! Human and JSON rendering. With `--json`, exactly one JSON object goes to stdout; refusals
//! also go to stderr in words, with what to do next.

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
        println!(
            "{}",
            serde_json::to_string_pretty(&value).expect("JSON values serialize")
        );
    }
}
