//! One round of `watch`: read the store (or keep the last state), ask every server its
//! questions, judge the answers.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tokio::task::JoinSet;
use zonegate_core::gate::Generation;
use zonegate_core::watch::{self, Check, Finding, Judgement, ServerObservation};
use zonegate_core::{GateConfig, Name};
use zonegate_server::probe::{ProbeLimits, Prober};
use zonegate_store::AnyStore;

use super::known::Known;

/// Which servers to ask for one zone, and what to expect beyond floors and the sample.
#[derive(Debug, Clone)]
pub struct Target {
    pub zone: Name,
    pub servers: Vec<SocketAddr>,
    pub expect: Vec<Check>,
}

/// What a round is run with.
pub struct RoundSettings<'a> {
    pub targets: &'a [Target],
    pub sample: usize,
    pub limits: ProbeLimits,
    pub cfg: &'a GateConfig,
}

/// One server's state for one zone.
pub struct ServerReport {
    pub server: String,
    pub judgement: Judgement,
    pub checks: usize,
}

/// One zone's state.
pub struct ZoneReport {
    pub zone: Name,
    pub published: Generation,
    pub servers: Vec<ServerReport>,
    /// Servers grouped by serial, when they disagree.
    pub disagree: Option<BTreeMap<u32, Vec<String>>>,
}

/// What one round found.
pub struct RoundReport {
    pub round: u64,
    pub now: u64,
    pub zones: Vec<ZoneReport>,
    /// Zones asked for that the state in force does not have.
    pub missing: Vec<Name>,
    pub findings: Vec<Finding>,
    /// Why the store could not be read this round (the last state was used).
    pub store_error: Option<String>,
    pub state_read_at: Option<u64>,
}

impl RoundReport {
    pub fn healthy(&self) -> bool {
        self.findings.is_empty() && self.missing.is_empty()
    }
}

type Asked = BTreeMap<(SocketAddr, Name), ServerObservation>;

/// Asks every server its zones' questions: one task per server, its zones one after the
/// other, so that each server's query rate stays within its bound.
async fn ask_all(
    plan: BTreeMap<SocketAddr, Vec<(Name, Vec<Check>)>>,
    limits: ProbeLimits,
) -> Asked {
    let mut tasks = JoinSet::new();
    for (server, zones) in plan {
        tasks.spawn(async move {
            let mut out = Vec::new();
            match Prober::new(server, limits).await {
                Ok(mut prober) => {
                    for (zone, checks) in zones {
                        let observed = prober.observe(&zone, &checks).await;
                        out.push(((server, zone), observed));
                    }
                }
                Err(e) => {
                    // Judged like a server that never answers.
                    tracing::warn!("cannot make a socket to ask {server}: {e}");
                    for (zone, _) in zones {
                        let none = ServerObservation {
                            soa: watch::Observed::Timeout,
                            answers: Vec::new(),
                        };
                        out.push(((server, zone), none));
                    }
                }
            }
            out
        });
    }
    let mut asked = BTreeMap::new();
    while let Some(done) = tasks.join_next().await {
        asked.extend(done.unwrap_or_default());
    }
    asked
}

/// Runs one round against the state in `known`, refreshed from `db` first.
pub async fn run(
    known: &mut Known,
    db: &zonegate_store::StoreLocation,
    settings: &RoundSettings<'_>,
    round: u64,
    now: u64,
) -> RoundReport {
    let origins: Vec<Name> = settings.targets.iter().map(|t| t.zone.clone()).collect();
    let store = known.refresh(db, settings.cfg, &origins, now).await;
    let mut plan: BTreeMap<SocketAddr, Vec<(Name, Vec<Check>)>> = BTreeMap::new();
    let mut missing = Vec::new();
    for t in settings.targets {
        let Some(k) = known.zones.get(&t.zone) else {
            missing.push(t.zone.clone());
            continue;
        };
        let checks = watch::checks(k.index.zone(), &k.floors, &t.expect, settings.sample, round);
        for s in &t.servers {
            plan.entry(*s)
                .or_default()
                .push((t.zone.clone(), checks.clone()));
        }
    }
    let asked = ask_all(plan, settings.limits).await;
    claimed_generations(known, store.as_ref(), settings.cfg, &asked).await;
    if let Some(store) = store {
        store.close().await;
    }
    let zones = judge_all(known, settings.targets, &asked, now);
    let findings = zones
        .iter()
        .flat_map(|z| {
            z.servers
                .iter()
                .flat_map(|s| s.judgement.findings.iter().cloned())
        })
        .collect();
    RoundReport {
        round,
        now,
        zones,
        missing,
        findings,
        store_error: known.store_error.clone(),
        state_read_at: known.read_at,
    }
}

/// Reads the older generations that lagging servers claim, while the store is open.
async fn claimed_generations(
    known: &mut Known,
    store: Option<&AnyStore>,
    cfg: &GateConfig,
    asked: &Asked,
) {
    for ((_, zone), observed) in asked {
        let Ok(serial) = watch::soa_serial(zone, &observed.soa) else {
            continue;
        };
        if let Some(g) = known.generation_of(zone, serial).filter(|g| {
            known
                .zones
                .get(zone)
                .is_some_and(|k| k.view.published != *g)
        }) {
            known.fetch_claimed(store, cfg, zone, g).await;
        }
    }
}

fn judge_all(known: &Known, targets: &[Target], asked: &Asked, now: u64) -> Vec<ZoneReport> {
    let mut zones = Vec::new();
    for t in targets {
        let Some(k) = known.zones.get(&t.zone) else {
            continue;
        };
        let mut servers = Vec::new();
        for s in &t.servers {
            let Some(observed) = asked.get(&(*s, t.zone.clone())) else {
                continue;
            };
            let name = s.to_string();
            let judgement = watch::judge(
                &name,
                &t.zone,
                &k.view,
                observed,
                |serial| known.claim(&t.zone, serial),
                now,
            );
            servers.push(ServerReport {
                server: name,
                judgement,
                checks: observed.answers.len(),
            });
        }
        let disagree = watch::disagreement(
            servers
                .iter()
                .map(|s| (s.server.as_str(), s.judgement.serial)),
        );
        zones.push(ZoneReport {
            zone: t.zone.clone(),
            published: k.view.published,
            servers,
            disagree,
        });
    }
    zones
}
