//! The binary's side of the HTTP listener (`serve --http ADDR:PORT` or `[server]
//! http_listen`): it implements `zonegate_http::Backend` with the store, the catalog and the
//! very commands the CLI runs, so that the API answers with the objects `--json` prints.
//!
//! - `facts.rs`: what `/metrics`, `/readyz` and the status page show, read at each request.
//! - `actions.rs`: the API's actions, each one command run with the token's name as actor.
//!
//! SIGHUP re-reads the config file: the API tokens, `ready_lag_s` and the gate settings the
//! API's plan and publish use. A config that does not read is refused and the old one kept.
//! Serving options (listen addresses, ACLs, TSIG keys, NOTIFY, serial policy) and the gate
//! settings of the follower need a restart. The DNS listeners are never touched.

mod actions;
mod facts;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::Context;
use zonegate_core::GateConfig;
use zonegate_http::{Action, Answer, Backend, Caller, Facts, Tokens};
use zonegate_server::Catalog;
use zonegate_store::AnyStore;

use crate::config;

/// What `serve` hands the HTTP side before it starts.
#[derive(Debug, Clone)]
pub struct WebStart {
    pub db: zonegate_store::StoreLocation,
    pub config: Option<PathBuf>,
    pub gate: GateConfig,
    /// `--http`, else `[server] http_listen`; off if neither.
    pub listen: Option<SocketAddr>,
    pub snapshot_dir: PathBuf,
}

/// The backend: shared by every request.
pub struct Web {
    db: zonegate_store::StoreLocation,
    config: Option<PathBuf>,
    gate: std::sync::RwLock<GateConfig>,
    catalog: Arc<Catalog>,
    snapshot_dir: PathBuf,
    ready_lag_s: AtomicU64,
    /// Unix seconds of the last successful read of the store (0: none yet).
    last_read_ok: AtomicU64,
    store: tokio::sync::Mutex<Option<AnyStore>>,
}

impl Web {
    /// The shared store, opened on first use (the store may be down when serve starts).
    async fn store(&self) -> Result<AnyStore, zonegate_core::gate::StoreError> {
        let mut held = self.store.lock().await;
        if let Some(s) = held.as_ref() {
            return Ok(s.clone());
        }
        let s = AnyStore::open(&self.db).await?;
        *held = Some(s.clone());
        Ok(s)
    }

    fn gate(&self) -> GateConfig {
        self.gate
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Stops the HTTP listener when dropped.
pub struct WebHandle(Vec<tokio::task::JoinHandle<()>>);

impl Drop for WebHandle {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Starts the HTTP listener if one is configured, and the SIGHUP handler in any case (so
/// that a SIGHUP never ends `serve`). Fails if the config's HTTP keys are wrong or the
/// address cannot be bound.
pub async fn start(start: WebStart, catalog: Arc<Catalog>) -> anyhow::Result<WebHandle> {
    let settings = config::server::server_section(start.config.as_deref())?.http()?;
    let listen = start.listen.or(settings.listen);
    let tokens = Tokens::new(settings.tokens);
    let web = Arc::new(Web {
        db: start.db,
        config: start.config,
        gate: std::sync::RwLock::new(start.gate),
        catalog,
        snapshot_dir: start.snapshot_dir,
        ready_lag_s: AtomicU64::new(settings.ready_lag_s),
        last_read_ok: AtomicU64::new(0),
        store: tokio::sync::Mutex::new(None),
    });
    let mut tasks = vec![tokio::spawn(reload_on_hangup(web.clone(), tokens.clone()))];
    if let Some(addr) = listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen for HTTP on {addr}"))?;
        if tokens.is_empty() {
            tracing::warn!(%addr, "no [[server.api_tokens]]: the API and the status page refuse every request");
        }
        let router = zonegate_http::router(ArcWeb(web), tokens);
        tasks.push(tokio::spawn(async move {
            if let Err(e) = zonegate_http::serve(listener, router, std::future::pending()).await {
                tracing::error!(error = %e, "the HTTP listener failed");
            }
        }));
    }
    Ok(WebHandle(tasks))
}

/// The backend behind an `Arc`, shared with the SIGHUP handler.
struct ArcWeb(Arc<Web>);

impl Backend for ArcWeb {
    fn facts(&self) -> impl std::future::Future<Output = Facts> + Send {
        facts::read(&self.0)
    }

    fn act(
        &self,
        caller: Caller,
        action: Action,
    ) -> impl std::future::Future<Output = Answer> + Send {
        actions::act(&self.0, caller, action)
    }
}

/// Re-reads the config on every SIGHUP; a bad one is refused (logged) and the old one kept.
async fn reload_on_hangup(web: Arc<Web>, tokens: Tokens) {
    let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    else {
        tracing::warn!("cannot handle SIGHUP; the config is read only at start");
        return;
    };
    while hangups.recv().await.is_some() {
        match reread(&web) {
            Ok((gate, settings)) => {
                let ready_lag_s = settings.ready_lag_s;
                tokens.replace(settings.tokens);
                *web.gate
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = gate;
                web.ready_lag_s
                    .store(ready_lag_s, std::sync::atomic::Ordering::Relaxed);
                tracing::info!(
                    tokens = tokens.len(),
                    ready_lag_s,
                    "SIGHUP: config re-read (API tokens, ready_lag_s, the API's gate settings)"
                );
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "SIGHUP: the config is not valid; keeping the old one");
            }
        }
    }
}

fn reread(web: &Web) -> anyhow::Result<(GateConfig, config::http::HttpSettings)> {
    let gate = config::load_gate(web.config.as_deref()).map_err(|f| match f {
        crate::failure::Failure::Input(e) | crate::failure::Failure::Internal(e) => e,
        crate::failure::Failure::Limit { message, .. } => anyhow::anyhow!(message),
    })?;
    let settings = config::server::server_section(web.config.as_deref())?.http()?;
    Ok((gate, settings))
}
