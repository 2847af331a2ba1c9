//! `zonegate serve`: the flags, the `[server]` options and the snapshot directory, handed to
//! the serve wiring in `serve.rs`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::context::Ctx;
use crate::failure::Failure;
use crate::snapshot::{self, Snapshots};
use crate::{config, exit};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on for UDP and TCP; repeat for several.
    #[arg(long = "listen", default_value = "127.0.0.1:5300")]
    listen: Vec<SocketAddr>,
    /// The least time between two looks for new publications, in milliseconds (at least 1).
    /// On Linux the server looks when the database's files are written (inotify on their
    /// directory) and every second anyway; elsewhere, or without inotify, every this many
    /// milliseconds. Each look stats the database and its write-ahead log; SQLite's `PRAGMA
    /// data_version` is asked when they moved and at least every 100 ms, and the store is
    /// only read when that moved.
    #[arg(long, default_value_t = 10)]
    poll_ms: u64,
    /// Name this server records as its target in the store; defaults to
    /// serve@<host name>/<first listen address>, so servers on two hosts never share one.
    #[arg(long)]
    target_id: Option<String>,
    /// Where to keep the last-good snapshots this server answers from when the store is
    /// unreachable at start; defaults to <db>.snapshots beside a SQLite database, and for a
    /// PostgreSQL URL to $XDG_STATE_HOME/zonegate/snapshots/<host_port_database>
    /// ($HOME/.local/state when XDG_STATE_HOME is unset, /var/lib when HOME is too).
    #[arg(long)]
    snapshot_dir: Option<PathBuf>,
    /// Serve metrics, /healthz, /readyz, the API and the status page over HTTP on this
    /// address (default: `[server] http_listen`; off if neither is set).
    #[arg(long, value_name = "ADDR:PORT")]
    http: Option<SocketAddr>,
}

pub async fn run(ctx: &Ctx, args: ServeArgs) -> Result<u8, Failure> {
    let options = config::server::server_options(ctx.config.as_deref()).map_err(Failure::Input)?;
    let dir = args
        .snapshot_dir
        .unwrap_or_else(|| snapshot::default_dir_for(&ctx.db));
    let web = crate::web::WebStart {
        db: ctx.db.clone(),
        config: ctx.config.clone(),
        gate: ctx.gate.clone(),
        listen: args.http,
        snapshot_dir: dir.clone(),
    };
    let snapshots = Snapshots::new(dir);
    crate::serve::run(crate::serve::ServeRun {
        db: ctx.db.clone(),
        cfg: ctx.gate.clone(),
        listen: args.listen,
        poll_ms: args.poll_ms,
        target_id: args.target_id,
        options,
        snapshots,
        web,
    })
    .await?;
    Ok(exit::OK)
}
