//! The planner / enactor / clean-up protocol, written once and generic over a [`Store`] and a
//! [`Target`], so that the binary and the loom suite run the very same functions.
//!
//! # Design
//!
//! The October 2025 outage was a check in one call and a write in another. Here every step
//! that decides and writes is ONE store operation, which the SQLite store runs as one
//! transaction and the in-memory model runs under one lock:
//!
//! ```text
//!   planner                    enactor                          target (server)
//!   -------                    -------                          ---------------
//!   stage(zone, base, body)    pin(zone, g)                     published(zone)
//!     -> new generation g        load(zone, g), re-validate       load + re-validate
//!                                publish_cas(zone, g, base,       record_target(g, now)
//!                                            serial request)        if not older (renews)
//!                                  = "g > published AND           install(g, stored serial)
//!                                     published == base"            if g > held
//!                                  + pointer + version + serial
//!                                  + audit
//!                                unpin(zone, g)
//!   clean-up: cleanup(zone, keep, target lease) deletes, in one statement, only generations
//!   below min(published, every live target's generation, every pinned generation), except the
//!   newest `keep`. A target row not renewed within the lease is a target that is gone.
//! ```
//!
//! The SOA serial is decided inside the compare-and-swap (see `zone::serial`) and stored with
//! the generation, so every target serves the same serial for the same generation.
//!
//! The store never exposes "set the pointer to g" without the comparison, so no caller can
//! reintroduce the stale write.

mod audit;
pub mod chain;
mod cleanup;
mod config;
mod context;
mod converge;
mod decide;
mod error;
mod load;
mod plan;
pub mod policy;
mod publish;
mod refusal;
mod store;
mod target;
mod types;
mod update;

pub use audit::{
    Actor, ActorError, AuditAction, AuditEntry, LimitKind, ReasonCode, ThresholdKind, UnknownText,
    optional_reason,
};
pub use cleanup::{cleanup, cleanup_audit_entry};
pub use config::{ConfigError, GateConfig, SerialSettings, StoreSettings};
pub use converge::{ConvergeOutcome, converge, converge_known};
pub use decide::{Decision, decide};
pub use error::StepError;
pub use load::{load_content, load_published};
pub use plan::{PlanOutcome, Planned, Preview, plan, plan_keeping, plan_on_base, preview};
pub use publish::{PublishOutcome, publish, publish_exact, publish_planned};
pub use refusal::Refusal;
pub use store::{Compaction, Store, StoreError, verdict_move};
pub use target::Target;
pub use types::{
    DeltaStep, Generation, NewPlan, OptGen, PlanBody, PlanHead, PlanStatus, Published, StoredPlan,
    Verdict,
};
pub use update::{KnownContent, UpdateError, UpdateOutcome, UpdateRequest, update};
