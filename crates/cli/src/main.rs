//! The `zonegate` binary: plan, gate, publish and serve DNS zones.
//!
//! Exit codes are a contract scripts rely on:
//! 0 success, 1 internal or usage error, 2 invalid input, 3 refused by the gate, 4 stale.

mod commands;
mod output;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A DNS record publication safety gate: every zone plan is staged with a generation, checked,
/// and published with one atomic compare-and-swap, then served authoritatively.
#[derive(Debug, Parser)]
#[command(name = "zonegate", version, about, long_about = None)]
pub struct Cli {
    /// SQLite database file; created on first use.
    #[arg(
        long,
        global = true,
        env = "ZONEGATE_DB",
        default_value = "./zonegate.db"
    )]
    pub db: PathBuf,

    /// TOML file with gate limits (see docs/configuration.md). Without it, the documented
    /// defaults apply.
    #[arg(long, global = true, env = "ZONEGATE_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and validate a zone file and stage it as a new plan generation. Prints the diff
    /// against the published generation and the gate's verdict. Publishes nothing.
    Plan {
        /// RFC 1035 master file.
        zonefile: PathBuf,
        /// Zone origin; defaults to the file's $ORIGIN or the owner of its SOA.
        #[arg(long)]
        zone: Option<String>,
        /// Print one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Publish the newest staged plan of a zone (or generation G) with one compare-and-swap.
    Publish {
        /// Zone origin, e.g. example.com.
        origin: String,
        /// Publish this generation instead of the newest staged one.
        #[arg(long)]
        generation: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Plan and publish in one step: the publish step for pipelines.
    Apply {
        zonefile: PathBuf,
        #[arg(long)]
        zone: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Serve every published zone authoritatively over UDP and TCP, picking up new
    /// publications without a restart. SIGINT or SIGTERM stops it.
    Serve {
        /// Address to listen on for UDP and TCP; repeat for several.
        #[arg(long = "listen", default_value = "127.0.0.1:5300")]
        listen: Vec<std::net::SocketAddr>,
        /// How often to look for new publications, in milliseconds.
        #[arg(long, default_value_t = 100)]
        poll_ms: u64,
        /// Name this server records as its target in the store; defaults to serve@<first listen address>.
        #[arg(long)]
        target_id: Option<String>,
    },
    /// Show published generations, hashes and record counts.
    Status {
        origin: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show a zone's generations, their status, and the audit trail.
    History {
        origin: String,
        /// Show at most this many audit rows (newest first).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Delete old plans below the horizon (published, targets and pins), keeping the newest N.
    Cleanup {
        origin: String,
        /// Generations to keep besides the live ones; defaults to generations_keep (10).
        #[arg(long)]
        keep: Option<u32>,
        #[arg(long)]
        json: bool,
    },
}

/// Exit codes.
pub mod exit {
    pub const OK: u8 = 0;
    pub const INTERNAL: u8 = 1;
    pub const INPUT: u8 = 2;
    pub const REFUSED: u8 = 3;
    pub const STALE: u8 = 4;
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
