//! What the HTTP side needs from the binary: the facts and the API's actions. The binary
//! implements [`Backend`] with the store and the very JSON builders of the CLI's `--json`, so
//! that the API's fields and reason codes are the CLI's. A leaf but for `facts.rs`.

use std::future::Future;

use serde_json::Value;

use crate::facts::Facts;

/// How an API action ended, which sets the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    /// 200.
    Ok,
    /// 201: a plan was staged.
    Created,
    /// 400: the request is malformed (a bad origin, zone file or hash).
    BadRequest,
    /// 404: no such zone or generation.
    NotFound,
    /// 412: the `If-Match` hash names other content than the stored plan.
    PreconditionFailed,
    /// 409: stale; the plan's base is no longer published.
    Conflict,
    /// 422: the gate refused, with the reason and the numbers.
    Refused,
    /// 500.
    Internal,
}

/// An API answer: its kind and the JSON object the CLI's `--json` prints for the same step.
#[derive(Debug, Clone)]
pub struct Answer {
    pub kind: AnswerKind,
    pub body: Value,
}

/// An approval or a rejection, as the API's JSON body says it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// The plan hash an approval is bound to (`sha256:...`); a rejection may omit it.
    pub hash: Option<String>,
    /// Why, for the audit log.
    pub reason: String,
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionKind {
    Approve,
    Reject,
}

/// Who asks: the API token's name, the actor of every audit row the action writes.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

/// One API action with its arguments.
#[derive(Debug, Clone)]
pub enum Action {
    Zones,
    Zone {
        origin: String,
    },
    Plan {
        origin: String,
        zonefile: String,
    },
    Publish {
        origin: String,
        generation: u64,
        hash: String,
    },
    Decide {
        origin: String,
        generation: u64,
        kind: DecisionKind,
        body: DecisionBody,
    },
    History {
        origin: String,
    },
    Diff {
        origin: String,
        from: Option<u64>,
        to: u64,
    },
}

/// The binary's side of the HTTP listener.
pub trait Backend: Send + Sync + 'static {
    /// The facts of `/metrics`, `/readyz` and the status page, read now.
    fn facts(&self) -> impl Future<Output = Facts> + Send;
    /// Runs one API action for `caller`.
    fn act(&self, caller: Caller, action: Action) -> impl Future<Output = Answer> + Send;
}
