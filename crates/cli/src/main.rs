//! The `zonegate` binary: plan, gate, publish and serve DNS zones.
//!
//! Exit codes are a contract scripts rely on:
//! 0 success, 1 internal or usage error, 2 invalid input, 3 refused by the gate, 4 stale,
//! 5 changes present (`plan --expect-no-changes`).

mod chaos;
mod commands;

mod output;
mod serve;
mod snapshot;

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

    /// TOML file with gate limits (see docs/configuration.md) and, for `serve`, a `[server]`
    /// section (serial policy, allow_transfer, notify). Without it, the documented defaults
    /// apply.
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
        /// Also write the plan artifact (zone, generation, base, hash, diff, verdict) to this
        /// file, for `zonegate publish --plan`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Drift check: stage nothing, and exit 5 if the file differs from the published
        /// generation (0 if it does not).
        #[arg(long, conflicts_with = "out")]
        expect_no_changes: bool,
    },
    /// Publish the newest staged plan of a zone (or generation G, or a saved plan) with one
    /// compare-and-swap, after running the gate again.
    Publish {
        /// Zone origin, e.g. example.com. Not needed with --plan.
        #[arg(required_unless_present = "plan")]
        origin: Option<String>,
        /// Publish this generation instead of the newest staged one.
        #[arg(long, conflicts_with = "plan")]
        generation: Option<u64>,
        /// Publish exactly the plan saved by `zonegate plan --out`: refused if the stored plan's
        /// hash differs (exit 3), stale if its base is no longer published (exit 4).
        #[arg(long)]
        plan: Option<PathBuf>,
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
    /// Approve exactly one staged plan that the policy refused or that waits for review. The
    /// approval is bound to the plan's hash and recorded in the audit log with who and why.
    Approve {
        origin: String,
        generation: u64,
        /// The plan's content hash, as `plan` printed it (sha256:...).
        #[arg(long)]
        hash: String,
        /// Why this change is intended; goes into the audit log.
        #[arg(long)]
        reason: String,
        /// Who approves; defaults to $USER.
        #[arg(long)]
        by: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Reject a staged plan for good; it can never be published. Newer plans are unaffected.
    Reject {
        origin: String,
        generation: u64,
        /// Why; goes into the audit log.
        #[arg(long)]
        reason: String,
        /// Who rejects; defaults to $USER.
        #[arg(long)]
        by: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show what a generation changed compared with its base (`diff ORIGIN G`), or the
    /// difference between two kept generations (`diff ORIGIN G1 G2`).
    Diff {
        origin: String,
        /// One generation (diffed against its base) or two (from, to).
        #[arg(num_args = 1..=2, required = true)]
        generations: Vec<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Stage a NEW generation with the content of kept generation G and publish it through the
    /// same gate and compare-and-swap as any plan. Never moves the published pointer back.
    Rollback {
        origin: String,
        /// The generation whose content to publish again.
        #[arg(long)]
        to: u64,
        #[arg(long)]
        json: bool,
    },
    /// Serve every published zone authoritatively over UDP and TCP, picking up new
    /// publications without a restart. SIGINT or SIGTERM stops it.
    Serve {
        /// Address to listen on for UDP and TCP; repeat for several.
        #[arg(long = "listen", default_value = "127.0.0.1:5300")]
        listen: Vec<std::net::SocketAddr>,
        /// How often to look for new publications, in milliseconds (at least 1). Each look
        /// stats the database and its write-ahead log; SQLite's `PRAGMA data_version` is asked
        /// when they moved and at least every 100 ms, and the store is only read when that
        /// moved.
        #[arg(long, default_value_t = 10)]
        poll_ms: u64,
        /// Name this server records as its target in the store; defaults to serve@<first listen address>.
        #[arg(long)]
        target_id: Option<String>,
        /// Where to keep the last-good snapshots this server answers from when the store is
        /// unreachable at start; defaults to <db>.snapshots beside the database.
        #[arg(long)]
        snapshot_dir: Option<PathBuf>,
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
    /// `plan --expect-no-changes` found changes.
    pub const CHANGES: u8 = 5;
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
