//! The `zonegate` binary: plan, gate, publish and serve DNS zones.
//!
//! Exit codes are a contract scripts rely on:
//! 0 success, 1 internal or usage error, 2 invalid input, 3 refused by the gate, 4 stale,
//! 5 changes present (`plan --expect-no-changes`), 6 a check failed (`watch --once`).

mod artifact;
mod chaos;
mod commands;
mod config;
mod context;
mod exit;
mod failure;
mod hints;
mod json;
mod outcome;
mod output;
mod reason;
mod review;
mod serve;
mod snapshot;
mod watcher;
mod web;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::commands::Command;

/// A DNS record publication safety gate: every zone plan is staged with a generation, checked,
/// and published with one atomic compare-and-swap, then served authoritatively.
#[derive(Debug, Parser)]
#[command(name = "zonegate", version, about, long_about = None)]
pub struct Cli {
    /// The store: a SQLite database file (created on first use), or a PostgreSQL URL
    /// (`postgres://USER@HOST:PORT/DATABASE` or `postgresql://…`) shared by several hosts.
    /// Give PostgreSQL's password by PGPASSWORD, --db-password-file or libpq's passfile rather
    /// than in the URL; it is never printed.
    #[arg(
        long,
        global = true,
        env = "ZONEGATE_DB",
        default_value = "./zonegate.db"
    )]
    pub db: String,

    /// A file holding the PostgreSQL password (its first line), for a `--db` URL.
    #[arg(
        long,
        global = true,
        env = "ZONEGATE_DB_PASSWORD_FILE",
        value_name = "FILE"
    )]
    pub db_password_file: Option<PathBuf>,

    /// TOML config file: gate settings, `[limits]`, `[policy]` and, for `serve`, `[server]`
    /// (serial policy, allow_transfer, TSIG keys, notify). Every key and its default is in
    /// docs/configuration.md; without a file, those defaults apply.
    #[arg(long, global = true, env = "ZONEGATE_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::INTERNAL
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ZONEGATE_LOG")
                // hickory logs every query at info; that belongs in a query log, not here.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,hickory_server=warn")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::INTERNAL);
        }
    };
    let code = runtime.block_on(commands::run(cli));
    ExitCode::from(code)
}
