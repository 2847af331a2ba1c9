//! The HTTP listener of `zonegate serve`: `/metrics` (Prometheus), `/healthz`, `/readyz`,
//! the API under `/api/v1` and the status page at `/`. This is the only crate that knows
//! HTTP (axum) and Prometheus (prometheus-client).
//!
//! It does not know the store, the catalog or the CLI: the binary implements [`Backend`]
//! (the facts, and each API action answered with the JSON object the CLI's `--json` prints),
//! and this crate turns that into routes, status codes, authentication and pages.
//!
//! - `facts.rs`: what the binary reports (zones, store, gate counts, DNS counters).
//! - `backend.rs`: the [`Backend`] trait, the API's actions and answers.
//! - `auth.rs`: bearer tokens and roles.
//! - `metrics.rs`: the Prometheus text; [`serve_registry`] serves any other registry.
//! - `ready.rs`: what `/readyz` reports.
//! - `api.rs`: the `/api/v1` routes.
//! - `page.rs`: the status page.
//! - `watch.rs`: the gauges of `zonegate watch --http`, fed by the binary once per round.

mod api;
mod auth;
mod backend;
mod facts;
mod metrics;
mod page;
mod ready;
mod watch;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

pub use auth::{Denied, Role, Token, Tokens, parse_sha256_hex, sha256};
pub use backend::{Action, Answer, AnswerKind, Backend, Caller, DecisionBody, DecisionKind};
pub use facts::{DnsCounts, Facts, GateCounts, Histogram, StoreFacts, ZoneFacts};
pub use metrics::encode as encode_registry;
pub use prometheus_client::registry::Registry;
pub use ready::{Behind, Why};
pub use watch::{WatchMetrics, WatchRound, WatchedServer};

/// The largest request body (a zone file to plan).
pub const BODY_MAX: usize = 256 * 1024 * 1024;

/// What every route shares.
pub(crate) struct Shared<B> {
    backend: B,
    tokens: Tokens,
}

/// Every route, over `backend`, with `tokens` for the API and the page.
pub fn router<B: Backend>(backend: B, tokens: Tokens) -> Router {
    let shared = Arc::new(Shared { backend, tokens });
    let zone = "/api/v1/zones/{origin}";
    Router::new()
        .route("/", get(status_page::<B>))
        .route("/metrics", get(metrics_text::<B>))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz::<B>))
        .route("/api/v1/zones", get(api::zones::<B>))
        .route(zone, get(api::zone::<B>))
        .route(&format!("{zone}/plans"), post(api::plan::<B>))
        .route(
            &format!("{zone}/plans/{{generation}}/publish"),
            post(api::publish::<B>),
        )
        .route(
            &format!("{zone}/plans/{{generation}}/approve"),
            post(api::decide::<B, api::Approve>),
        )
        .route(
            &format!("{zone}/plans/{{generation}}/reject"),
            post(api::decide::<B, api::Reject>),
        )
        .route(&format!("{zone}/history"), get(api::history::<B>))
        .route(&format!("{zone}/diff"), get(api::diff::<B>))
        .layer(DefaultBodyLimit::max(BODY_MAX))
        .with_state(shared)
}

/// A router that serves only `registry` at `/metrics`, for another listener that has its own
/// counters (for example a watcher).
pub fn registry_router(registry: Arc<Registry>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let registry = registry.clone();
            async move { prometheus_text(metrics::encode(&registry)) }
        }),
    )
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "answering HTTP (metrics, health, API, status page)");
    }
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds `addr` and serves `registry` at `/metrics` until `shutdown` completes.
pub async fn serve_registry(
    addr: SocketAddr,
    registry: Arc<Registry>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    serve(listener, registry_router(registry), shutdown).await
}

fn prometheus_text(text: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn metrics_text<B: Backend>(State(s): State<Arc<Shared<B>>>) -> Response {
    prometheus_text(metrics::render(s.backend.facts().await))
}

async fn healthz() -> Response {
    axum::Json(json!({"status": "alive"})).into_response()
}

async fn readyz<B: Backend>(State(s): State<Arc<Shared<B>>>) -> Response {
    let facts = s.backend.facts().await;
    let behind = ready::behind(&facts);
    let ready = ready::is_ready(&facts, &behind);
    let body = json!({
        "ready": ready, "behind": behind, "lag_allowed_s": facts.ready_lag_seconds,
        "store_up": facts.store.up, "store_error": facts.store.error,
    });
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    token: Option<String>,
    zone: Option<String>,
    generation: Option<u64>,
}

async fn status_page<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(token) = q.token {
        // Once: the token goes into an HttpOnly cookie and out of the address bar.
        if s.tokens.check(Some(&token), Role::Read).is_err() {
            return page_denied();
        }
        let cookie = format!(
            "{}={token}; HttpOnly; SameSite=Strict; Path=/",
            api::TOKEN_COOKIE
        );
        let target = match (&q.zone, q.generation) {
            (Some(z), Some(g)) => format!("/?zone={}&generation={g}", url_escape(z)),
            _ => "/".to_string(),
        };
        let mut response = Redirect::to(&target).into_response();
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
        return response;
    }
    let Ok(token) = s
        .tokens
        .check(api::presented(&headers).as_deref(), Role::Read)
    else {
        return page_denied();
    };
    let caller = || Caller(token.name.clone());
    let facts = s.backend.facts().await;
    let mut histories = Vec::new();
    for z in &facts.zones {
        let a = s
            .backend
            .act(
                caller(),
                Action::History {
                    origin: z.origin.clone(),
                },
            )
            .await;
        histories.push((z.origin.clone(), a.body));
    }
    let diff = match (q.zone, q.generation) {
        (Some(origin), Some(to)) => {
            let a = s
                .backend
                .act(
                    caller(),
                    Action::Diff {
                        origin,
                        from: None,
                        to,
                    },
                )
                .await;
            (a.kind == AnswerKind::Ok).then_some(a.body)
        }
        _ => None,
    };
    Html(page::render(&facts, &histories, diff.as_ref())).into_response()
}

/// `text` with everything but unreserved characters percent-encoded (RFC 3986 §2.3).
fn url_escape(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn page_denied() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Html("<!doctype html><html><body><h1>zonegate</h1><p>This page needs a token with the <code>read</code> role: open <code>/?token=TOKEN</code> once; it is kept in an HttpOnly cookie.</p></body></html>"),
    )
        .into_response()
}
