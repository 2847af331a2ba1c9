//! The API routes under `/api/v1`, each checking its token's role before it asks the
//! backend, and the HTTP status of each answer.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::Shared;
use crate::auth::{Denied, Role};
use crate::backend::{Action, AnswerKind, Backend, Caller, DecisionBody, DecisionKind};

/// The name of the cookie the status page sets from `/?token=`.
pub const TOKEN_COOKIE: &str = "zonegate_token";

/// The token a request presents: `Authorization: Bearer TOKEN`, else the status page's cookie.
pub fn presented(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return v.strip_prefix("Bearer ").map(|t| t.trim().to_string());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == TOKEN_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// A refused request: 401 (with `WWW-Authenticate`) or 403, as JSON.
pub fn denied(d: &Denied) -> Response {
    let (status, reason) = match d {
        Denied::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
        Denied::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden"),
    };
    let body = json!({"outcome": "error", "reason": reason, "message": d.to_string()});
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

fn status(kind: AnswerKind) -> StatusCode {
    match kind {
        AnswerKind::Ok => StatusCode::OK,
        AnswerKind::Created => StatusCode::CREATED,
        AnswerKind::BadRequest => StatusCode::BAD_REQUEST,
        AnswerKind::NotFound => StatusCode::NOT_FOUND,
        AnswerKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        AnswerKind::Conflict => StatusCode::CONFLICT,
        AnswerKind::Refused => StatusCode::UNPROCESSABLE_ENTITY,
        AnswerKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Generations are stored as SQLite integers: anything above `i64::MAX` names no plan.
const GENERATION_MAX: u64 = i64::MAX as u64;

/// The generation an action names, if it names one.
fn generation_of(action: &Action) -> Option<u64> {
    match action {
        Action::Publish { generation, .. } | Action::Decide { generation, .. } => Some(*generation),
        Action::Diff { from, to, .. } => Some((*to).max(from.unwrap_or(0))),
        _ => None,
    }
}

/// Checks the role, runs the action as the token's name, and answers with its JSON.
async fn run<B: Backend>(
    shared: &Shared<B>,
    headers: &HeaderMap,
    role: Role,
    action: Action,
) -> Response {
    let token = match shared.tokens.check(presented(headers).as_deref(), role) {
        Ok(t) => t,
        Err(d) => return denied(&d),
    };
    if generation_of(&action).is_some_and(|g| g > GENERATION_MAX) {
        let body =
            json!({"outcome": "error", "reason": "missing", "message": "no such generation"});
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    }
    let answer = shared.backend.act(Caller(token.name.clone()), action).await;
    (status(answer.kind), Json(answer.body)).into_response()
}

/// A request the API cannot take as it is: 400 (or 428 for a missing `If-Match`).
fn bad_request(status: StatusCode, message: &str) -> Response {
    let body = json!({"outcome": "error", "reason": "input", "message": message});
    (status, Json(body)).into_response()
}

pub async fn zones<B: Backend>(State(s): State<Arc<Shared<B>>>, headers: HeaderMap) -> Response {
    run(&s, &headers, Role::Read, Action::Zones).await
}

/// A path or query the router could not read: 400 as JSON, like every other answer.
fn rejected(e: &dyn std::fmt::Display) -> Response {
    bad_request(StatusCode::BAD_REQUEST, &e.to_string())
}

pub async fn zone<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let Path(origin) = match path {
        Ok(p) => p,
        Err(e) => return rejected(&e),
    };
    run(&s, &headers, Role::Read, Action::Zone { origin }).await
}

pub async fn history<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let Path(origin) = match path {
        Ok(p) => p,
        Err(e) => return rejected(&e),
    };
    run(&s, &headers, Role::Read, Action::History { origin }).await
}

#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    from: Option<u64>,
    to: u64,
}

pub async fn diff<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<DiffQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let (Path(origin), Query(q)) = match (path, query) {
        (Ok(p), Ok(q)) => (p, q),
        (Err(e), _) => return rejected(&e),
        (_, Err(e)) => return rejected(&e),
    };
    let action = Action::Diff {
        origin,
        from: q.from,
        to: q.to,
    };
    run(&s, &headers, Role::Read, action).await
}

pub async fn plan<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Path(origin) = match path {
        Ok(p) => p,
        Err(e) => return rejected(&e),
    };
    let Ok(zonefile) = String::from_utf8(body.to_vec()) else {
        return bad_request(
            StatusCode::BAD_REQUEST,
            "the zone file in the body is not UTF-8",
        );
    };
    run(&s, &headers, Role::Plan, Action::Plan { origin, zonefile }).await
}

pub async fn publish<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    path: Result<Path<(String, u64)>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let Path((origin, generation)) = match path {
        Ok(p) => p,
        Err(e) => return rejected(&e),
    };
    let Some(hash) = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .to_string()
        })
    else {
        return bad_request(
            StatusCode::PRECONDITION_REQUIRED,
            "publishing needs `If-Match: HASH` with the plan's hash (sha256:...) from the plan answer",
        );
    };
    let action = Action::Publish {
        origin,
        generation,
        hash,
    };
    run(&s, &headers, Role::Publish, action).await
}

/// Which decision a route takes: `approve` and `reject` are one handler, [`decide`], told
/// apart by this type parameter.
pub trait Decision {
    const KIND: DecisionKind;
}

/// `POST …/plans/{generation}/approve`.
pub struct Approve;

impl Decision for Approve {
    const KIND: DecisionKind = DecisionKind::Approve;
}

/// `POST …/plans/{generation}/reject`.
pub struct Reject;

impl Decision for Reject {
    const KIND: DecisionKind = DecisionKind::Reject;
}

/// Approve or reject a plan: the hash and a reason in a JSON body, the `approve` role.
pub async fn decide<B: Backend, D: Decision>(
    State(s): State<Arc<Shared<B>>>,
    path: Result<Path<(String, u64)>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Path((origin, generation)) = match path {
        Ok(p) => p,
        Err(e) => return rejected(&e),
    };
    let body: DecisionBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return bad_request(
                StatusCode::BAD_REQUEST,
                &format!(
                    "the body must be JSON {{\"hash\": \"sha256:...\", \"reason\": \"why\"}}: {e}"
                ),
            );
        }
    };
    let action = Action::Decide {
        origin,
        generation,
        kind: D::KIND,
        body,
    };
    run(&s, &headers, Role::Approve, action).await
}
