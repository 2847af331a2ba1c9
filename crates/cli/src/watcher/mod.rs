//! `zonegate watch` at run time: which servers to ask for which zone, the rounds, and
//! continuous mode. The judging is the core's (`zonegate_core::watch`), the asking the
//! server crate's (`zonegate_server::probe`); this folder reads the store and the clock.
//!
//! - `known.rs`: the published state read from the store, kept when the store cannot be read.
//! - `round.rs`: one round: refresh, ask every server, judge.
//! - `metrics.rs`: `--http`: each round handed to the HTTP crate's gauges.

pub mod known;
pub mod metrics;
pub mod round;

use std::time::Duration;

use zonegate_core::watch::StateChanges;

use crate::context::{Ctx, now};
use crate::output::outln;
use crate::output::watch::{round_json, round_line};
use known::Known;
use metrics::Exporter;
use round::{RoundReport, RoundSettings};

/// Continuous mode: a round every `interval` until SIGINT or SIGTERM (as `serve` stops). With `json`, one JSON
/// object per round on a line of its own; otherwise each change of state is logged once. With
/// `exporter`, each round also shows in its metrics.
pub async fn continuous(
    ctx: &Ctx,
    settings: &RoundSettings<'_>,
    known: &mut Known,
    interval: Duration,
    exporter: Option<Exporter>,
) {
    let mut changes = StateChanges::default();
    let mut store_down = false;
    let mut round = 0u64;
    let mut stop = Box::pin(crate::serve::shutdown_signal());
    loop {
        let report = round::run(known, &ctx.db, settings, round, now()).await;
        // The metrics first: whoever reads the line can scrape this round.
        if let Some(e) = &exporter {
            e.record(&report);
        }
        if ctx.emit.json {
            outln!("{}", round_json(&report));
        }
        log_changes(&report, &mut changes, &mut store_down);
        round += 1;
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = &mut stop => return,
        }
    }
}

/// Logs what changed since the last round, once: new findings, resolved ones, the store
/// becoming unreadable or readable again.
fn log_changes(report: &RoundReport, changes: &mut StateChanges, store_down: &mut bool) {
    match (&report.store_error, *store_down) {
        (Some(e), false) => tracing::error!(
            "cannot read the store ({e}); checking against the state read at {}",
            report.state_read_at.unwrap_or(0)
        ),
        (None, true) => tracing::info!("the store is readable again"),
        _ => {}
    }
    *store_down = report.store_error.is_some();
    let (appeared, cleared) = changes.update(&report.findings);
    for f in appeared {
        tracing::warn!("{f}");
    }
    for k in cleared {
        tracing::info!(
            "resolved: {} {} {} {}/{}",
            k.kind,
            k.server,
            k.zone,
            k.name,
            k.rtype
        );
    }
    if report.round == 0 {
        tracing::info!("first round: {}", round_line(report));
    }
}
