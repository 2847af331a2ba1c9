//! The API's actions: each is the CLI command of the same name, run with `--json`, the
//! token's name as actor and the listener's shared store, its JSON object captured instead of
//! printed. The exit code and the object's `reason` give the HTTP status.

use serde_json::{Value, json};
use zonegate_core::ContentHash;
use zonegate_core::gate::{Actor, Generation, Verdict};
use zonegate_http::{Action, Answer, AnswerKind, Caller, DecisionKind};

use super::Web;
use crate::commands::{self, decide, diff, history, plan, publish, status};
use crate::context::{Ctx, parse_origin, parse_text};
use crate::exit;
use crate::failure::Failure;
use crate::output::{self, Emit};

/// Runs `action` for `caller`.
pub async fn act(web: &Web, caller: Caller, action: Action) -> Answer {
    let actor = match Actor::new(&caller.0) {
        Ok(a) => a,
        Err(e) => {
            return answer(
                AnswerKind::Internal,
                json!({"outcome": "error", "reason": "internal", "message": e.to_string()}),
            );
        }
    };
    let ctx = Ctx {
        db: web.db.clone(),
        config: web.config.clone(),
        gate: web.gate(),
        emit: Emit { json: true },
        actor: Some(actor),
        store: web.store().await.ok(),
    };
    if let Some(a) = missing(&ctx, &action).await {
        return a;
    }
    let planning = matches!(action, Action::Plan { .. });
    let (code, value) = output::capture(async {
        match run(&ctx, action).await {
            Ok(code) => code,
            Err(failure) => commands::report(&ctx.emit, &failure),
        }
    })
    .await;
    let value = value.unwrap_or_else(|| json!({"outcome": "error", "reason": "internal", "message": "the command printed nothing"}));
    answer(kind(code, &value, planning), value)
}

fn answer(kind: AnswerKind, body: Value) -> Answer {
    Answer { kind, body }
}

/// The HTTP answer of an exit code and the object printed with it.
fn kind(code: u8, value: &Value, planning: bool) -> AnswerKind {
    let reason = value["reason"].as_str().unwrap_or("");
    match code {
        exit::OK if planning && value["outcome"] != "no-changes" => AnswerKind::Created,
        exit::OK => AnswerKind::Ok,
        exit::REFUSED if reason == "hash-mismatch" => AnswerKind::PreconditionFailed,
        exit::REFUSED => AnswerKind::Refused,
        exit::STALE if reason == "missing" => AnswerKind::NotFound,
        exit::STALE => AnswerKind::Conflict,
        exit::INPUT => AnswerKind::BadRequest,
        _ => AnswerKind::Internal,
    }
}

async fn run(ctx: &Ctx, action: Action) -> Result<u8, Failure> {
    match action {
        Action::Zones => {
            status::run(
                ctx,
                status::StatusArgs {
                    origin: None,
                    output: json_out(),
                },
            )
            .await
        }
        Action::Zone { origin } => {
            status::run(
                ctx,
                status::StatusArgs {
                    origin: Some(origin),
                    output: json_out(),
                },
            )
            .await
        }
        Action::History { origin } => {
            let args = history::HistoryArgs {
                origin,
                limit: 50,
                output: json_out(),
            };
            history::run(ctx, args).await
        }
        Action::Diff { origin, from, to } => {
            let generations = from.into_iter().chain([to]).collect();
            diff::run(
                ctx,
                diff::DiffArgs {
                    origin,
                    generations,
                    output: json_out(),
                },
            )
            .await
        }
        Action::Plan { origin, zonefile } => {
            let origin = parse_origin(&origin)?;
            let parsed = parse_text(
                &zonefile,
                Some(&origin),
                "the request body",
                &ctx.gate.limits,
            )?;
            plan::plan_parsed(ctx, parsed, None).await
        }
        Action::Publish {
            origin,
            generation,
            hash,
        } => {
            let origin = parse_origin(&origin)?;
            let hash = ContentHash::parse(&hash).ok_or_else(|| {
                Failure::input(format!(
                    "If-Match {hash:?} is not a plan hash; send the plan's \"hash\" (sha256:...)"
                ))
            })?;
            publish::publish_exact(ctx, &origin, Generation(generation), hash).await
        }
        Action::Decide {
            origin,
            generation,
            kind,
            body,
        } => {
            let request = decide::DecisionRequest {
                origin,
                generation,
                hash: body.hash,
                to: match kind {
                    DecisionKind::Approve => Verdict::Approved,
                    DecisionKind::Reject => Verdict::Rejected,
                },
                reason: body.reason,
                by: ctx.actor.as_ref().map(ToString::to_string),
            };
            decide::decide(ctx, request).await
        }
    }
}

fn json_out() -> commands::OutputArgs {
    commands::OutputArgs { json: true }
}

/// A 404 for a zone the store does not know, for the routes under `/zones/{origin}` that
/// read it; `None` to go on.
async fn missing(ctx: &Ctx, action: &Action) -> Option<Answer> {
    let (Action::Zone { origin } | Action::History { origin }) = action else {
        return None;
    };
    let name = parse_origin(origin).ok()?;
    let store = ctx.open_store().await.ok()?;
    match store.zone(&name).await {
        Ok(None) => Some(answer(
            AnswerKind::NotFound,
            json!({"zone": name.to_string(), "outcome": "error", "reason": "input",
                   "message": format!("zone {name} is not in the store; stage it with POST /api/v1/zones/{name}/plans")}),
        )),
        _ => None,
    }
}
