//! `zonegate watch [ORIGIN...] --server ADDR:PORT... [--expect NAME/TYPE]... [--sample N]
//! [--once] [--json] [--interval-s N] [--http ADDR:PORT]`: ask every server of each zone what it really answers
//! and compare with what was published. `--once` exits 0 when every check holds, 6 when any
//! does not.

use std::net::SocketAddr;

use clap::Args;
use zonegate_core::Name;
use zonegate_core::watch::Check;

use super::OutputArgs;
use crate::config::watch::{WatchSettings, watch_settings};
use crate::context::{Ctx, now, parse_origin};
use crate::exit;
use crate::failure::Failure;
use crate::output::watch::{print_round, round_json};
use crate::watcher::known::Known;
use crate::watcher::metrics::Exporter;
use crate::watcher::round::{self, RoundSettings, Target};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Zones to check; default: every zone `[watch.zones]` names, else every published zone.
    origins: Vec<String>,
    /// A server to ask, ADDR:PORT (repeatable). Replaces the `[watch]` servers for every zone.
    #[arg(long = "server", value_name = "ADDR:PORT")]
    servers: Vec<SocketAddr>,
    /// Also check NAME/TYPE every round (repeatable), besides floors and the sample.
    #[arg(long = "expect", value_name = "NAME/TYPE")]
    expect: Vec<String>,
    /// Names checked per round; a zone of at most N names is checked in full (default 1000).
    #[arg(long)]
    sample: Option<usize>,
    /// One round, then exit 0 if every check held and 6 if any did not.
    #[arg(long)]
    once: bool,
    /// Seconds between rounds in continuous mode (default 60, or `[watch] interval_s`).
    #[arg(long = "interval-s", value_name = "N", conflicts_with = "once")]
    interval_s: Option<u64>,
    /// Continuous mode: serve Prometheus metrics of the last round at http://ADDR:PORT/metrics.
    #[arg(long = "http", value_name = "ADDR:PORT", conflicts_with = "once")]
    http: Option<SocketAddr>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `zonegate watch`.
pub async fn run(ctx: &Ctx, args: WatchArgs) -> Result<u8, Failure> {
    let mut settings = watch_settings(ctx.config.as_deref()).map_err(Failure::Input)?;
    if let Some(n) = args.sample {
        settings.sample = n;
    }
    if let Some(s) = args.interval_s {
        settings.interval = std::time::Duration::from_secs(s.max(1));
    }
    let expect: Vec<Check> = args
        .expect
        .iter()
        .map(|s| s.parse::<Check>().map_err(Failure::input))
        .collect::<Result<_, _>>()?;
    let mut known = Known::default();
    let origins = origins(&args.origins, &settings)?;
    // The first read must work: there is no earlier state to fall back on.
    if known
        .refresh(&ctx.db, &ctx.gate, &origins, now())
        .await
        .is_none()
    {
        return Err(Failure::Internal(anyhow::anyhow!(
            "cannot read the published state from {} (watch needs it once to start): {}",
            ctx.db,
            known.store_error.clone().unwrap_or_default()
        )));
    }
    let zones: Vec<Name> = if origins.is_empty() {
        known.zones.keys().cloned().collect()
    } else {
        origins
    };
    let targets = targets(&zones, &args.servers, &expect, &settings)?;
    let round = RoundSettings {
        targets: &targets,
        sample: settings.sample,
        limits: settings.limits,
        cfg: &ctx.gate,
    };
    if !args.once {
        let exporter = exporter(args.http).await?;
        crate::watcher::continuous(ctx, &round, &mut known, settings.interval, exporter).await;
        return Ok(exit::OK);
    }
    // Successive `--once` runs (from cron) move the sample along by the minute.
    let at = now();
    let report = round::run(&mut known, &ctx.db, &round, at / 60, at).await;
    if ctx.emit.json {
        ctx.emit.object(round_json(&report));
    } else {
        print_round(&report);
    }
    Ok(if report.healthy() {
        exit::OK
    } else {
        exit::UNHEALTHY
    })
}

/// The `--http` listener, bound before the first round.
async fn exporter(http: Option<SocketAddr>) -> Result<Option<Exporter>, Failure> {
    let Some(addr) = http else {
        return Ok(None);
    };
    Exporter::bind(addr).await.map(Some).map_err(|e| {
        Failure::input(format!(
            "cannot listen on {addr} for --http: {e} (pick a free ADDR:PORT)"
        ))
    })
}

/// The zones named on the command line, else those `[watch.zones]` names (empty: every
/// published zone).
fn origins(args: &[String], settings: &WatchSettings) -> Result<Vec<Name>, Failure> {
    if args.is_empty() {
        return Ok(settings.zones.keys().cloned().collect());
    }
    args.iter().map(|o| parse_origin(o)).collect()
}

/// Each zone's servers: `--server` if given, else the zone's `[watch.zones]` list, else the
/// `[watch]` list; expectations from all three places.
fn targets(
    zones: &[Name],
    servers: &[SocketAddr],
    expect: &[Check],
    settings: &WatchSettings,
) -> Result<Vec<Target>, Failure> {
    if zones.is_empty() {
        return Err(Failure::input(
            "no zone to watch: nothing is published yet (publish one with `zonegate apply`)",
        ));
    }
    zones
        .iter()
        .map(|zone| {
            let (own_servers, own_expect) = settings.zones.get(zone).cloned().unwrap_or_default();
            let servers = [servers, &own_servers, &settings.servers]
                .into_iter()
                .find(|l| !l.is_empty())
                .map(<[SocketAddr]>::to_vec)
                .ok_or_else(|| {
                    Failure::input(format!(
                        "no server to ask for zone {zone}: give --server ADDR:PORT or list them in [watch.zones.\"{zone}\"] servers"
                    ))
                })?;
            let mut all = expect.to_vec();
            all.extend(own_expect);
            all.extend(settings.expect.iter().cloned());
            Ok(Target {
                zone: zone.clone(),
                servers,
                expect: all,
            })
        })
        .collect()
}
