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

tokio::task_local! {
    /// Where [`Emit::object`] puts its object instead of stdout while [`capture`] runs: the
    /// HTTP API answers with exactly the object the command prints with `--json`.
    static CAPTURED: std::cell::RefCell<Option<Value>>;
}

impl Emit {
    pub fn object(&self, value: Value) {
        let mut value = Some(value);
        if CAPTURED
            .try_with(|c| *c.borrow_mut() = value.take())
            .is_ok()
        {
            return;
        }
        if let Some(value) = value {
            outln!(
                "{}",
                serde_json::to_string_pretty(&value).expect("JSON values serialize")
            );
        }
    }
}

/// Runs `work` with [`Emit::object`] captured: returns its result and the last object it
/// emitted, which is not printed.
pub async fn capture<F: std::future::Future>(work: F) -> (F::Output, Option<Value>) {
    CAPTURED
        .scope(std::cell::RefCell::new(None), async move {
            let out = work.await;
            let value = CAPTURED.with(|c| c.borrow_mut().take());
            (out, value)
        })
        .await
}
