//! Delta plans: how a store keeps a plan as the change from its parent, and the rules every
//! store applies to those chains (the decisions live here, once; each store reads its rows and
//! applies them inside its own atomic step).
//!
//! # Design
//!
//! A plan is stored either as a **checkpoint** (its full canonical body) or as a **delta**
//! ([`ZoneDelta`] bytes) against a **parent**: its base, the generation published when it was
//! planned, which is what servers hold. Following parents from any plan reaches one checkpoint;
//! the plans on that path are its **chain**, and what rebuilding it reads.
//!
//! - **Where the decision lives.** The planner offers a delta whenever it has its base's
//!   content ([`crate::gate::PlanBody::Delta`]), so it never encodes a full body for it. The store decides,
//!   inside its stage step, whether the delta is stored as offered or turned into a checkpoint
//!   ([`layout`]): a checkpoint when the chain would reach `checkpoint_every` generations
//!   (the checkpoint and `checkpoint_every - 1` deltas), or when the chain's delta bytes would
//!   pass a quarter of its checkpoint's body ([`DELTA_SHARE_DIVISOR`]). A checkpoint the store
//!   decides on is rebuilt from the parent's chain there (no decode, no validation: records as
//!   bytes), so no caller can make a store write an over-long chain.
//!   `checkpoint_every = 1` stores every plan whole.
//! - **Deferred checkpoints.** A stage with [`CheckpointWhen::AfterPublish`] (the DNS UPDATE
//!   worker's, whose client waits for the stage) stores the delta until the chain would pass
//!   the hard bound ([`layout_for`]): [`DEFERRED_GENERATIONS_FACTOR`] times `checkpoint_every`
//!   generations, or deltas as large as the checkpoint's body. After answering, the worker has
//!   the store compact the generation ([`due`], `Store::compact`): the row becomes a
//!   checkpoint of the same plan, the same hash checked, and the chain under it is needed no
//!   more. A compaction is due once the chain is past the usual bound *and* its deltas are at
//!   least a [`COMPACT_SHARE`]th of the checkpoint's body: a checkpoint is written for as many
//!   bytes of change as it costs to write, divided by that share, so a small zone is compacted
//!   about every `checkpoint_every` UPDATEs and a million-record one (a 35 MB checkpoint)
//!   about every 2,500, not every 16. A compaction that never runs leaves a chain at most as
//!   long as the hard bound.
//! - **Reading** rebuilds from the checkpoint forward ([`rebuild`]); a chain that does not
//!   apply reads as an empty body, which every reader refuses as corrupt (it cannot hash to the
//!   plan's hash), like a corrupt body.
//! - **Clean-up** keeps the closure of what it keeps ([`doomed`]): every plan it keeps keeps
//!   its whole chain. Chains are at most `checkpoint_every` long (the hard bound, deferred), so once a newer checkpoint
//!   exists and the kept plans' chains start there, the older chain is deleted whole; nothing
//!   grows without bound.
//! - **Hashes.** A delta row's hash is the hash of the full content it gives: the plan's
//!   identity, unchanged.

use std::collections::{BTreeMap, BTreeSet};

pub use crate::gate::types::CheckpointWhen;
use crate::gate::types::Generation;
use crate::zone::delta::{DeltaError, ZoneDelta};

/// `[store] checkpoint_every` when the config says nothing.
pub const CHECKPOINT_EVERY_DEFAULT: u32 = 16;

/// A chain's delta bytes may reach its checkpoint's body size divided by this (a quarter)
/// before the next plan is stored as a checkpoint.
pub const DELTA_SHARE_DIVISOR: u64 = 4;

/// One stored plan as the chain rules see it: its parent (`None` for a checkpoint) and the
/// length of what it stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainLink {
    pub generation: Generation,
    pub parent: Option<Generation>,
    pub bytes: u64,
}

/// A stage that leaves checkpoints to compaction still writes one itself when the chain
/// would pass this many times `checkpoint_every` generations, or deltas as large as the
/// checkpoint's body (a compaction that never ran, or lost a race). With the default, 4,096
/// generations: past where a million-record zone's compaction is due ([`COMPACT_SHARE`]),
/// with room for it to finish under a fast stream.
pub const DEFERRED_GENERATIONS_FACTOR: u64 = 256;

/// A compaction is due only once the chain's deltas are at least the checkpoint's body
/// divided by this (see the module notes).
pub const COMPACT_SHARE: u64 = 64;

/// How the store writes an offered delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// As offered: a delta against its parent.
    Delta,
    /// As a full body, rebuilt from the parent's chain and the delta.
    Checkpoint,
    /// The parent is gone (cleaned up since it was planned on: it is no longer published, so
    /// the plan would be stale anyway), or its chain is broken.
    ParentMissing,
}

/// The links of one zone by generation.
pub type Links = BTreeMap<Generation, ChainLink>;

/// The chain of `g`, checkpoint first and `g` last; `None` if a plan on it is missing.
pub fn path(links: &Links, g: Generation) -> Option<Vec<Generation>> {
    let mut out = vec![g];
    let mut at = *links.get(&g)?;
    while let Some(parent) = at.parent {
        // Parents are older than their children (the schema checks it), so this ends.
        at = *links
            .get(&parent)
            .filter(|p| p.generation < at.generation)?;
        out.push(parent);
    }
    out.reverse();
    Some(out)
}

/// Whether a delta of `delta_bytes` against `parent` is stored as a delta or as a checkpoint
/// (see the module notes), for a stage that writes its checkpoints itself.
pub fn layout(
    links: &Links,
    parent: Generation,
    delta_bytes: u64,
    checkpoint_every: u32,
) -> Layout {
    layout_for(
        links,
        parent,
        delta_bytes,
        checkpoint_every,
        CheckpointWhen::InStage,
    )
}

/// [`layout`] for a stage whose checkpoints are written `when` says: a stage that leaves them
/// to [`due`] and a later compaction keeps the delta until the chain passes the hard bound
/// ([`DEFERRED_GENERATIONS_FACTOR`] times the generations, deltas up to the checkpoint's size).
pub fn layout_for(
    links: &Links,
    parent: Generation,
    delta_bytes: u64,
    checkpoint_every: u32,
    when: CheckpointWhen,
) -> Layout {
    match ChainSize::of_chain(links, parent) {
        Some(size) => size.layout(delta_bytes, checkpoint_every, when),
        None => Layout::ParentMissing,
    }
}

/// Whether `g` is a delta a compaction should turn whole: its chain is past the usual bound
/// (where an in-stage layout would have written a checkpoint) and its deltas are worth one
/// ([`COMPACT_SHARE`]).
pub fn due(links: &Links, g: Generation, checkpoint_every: u32) -> bool {
    ChainSize::of_chain(links, g).is_some_and(|size| size.due(checkpoint_every))
}

/// A chain's length in generations and its stored bytes: all the chain rules read of it. A
/// store may keep it with each plan (the SQL stores do, so that a stage reads one row, not
/// the chain) or work it out from the links ([`ChainSize::of_chain`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainSize {
    /// The plans on the chain, the checkpoint and the plan itself included.
    pub generations: u64,
    /// The checkpoint's stored body.
    pub checkpoint_bytes: u64,
    /// The deltas' stored bytes, the plan's own included.
    pub delta_bytes: u64,
}

impl ChainSize {
    /// A checkpoint's: the chain is the plan itself.
    pub fn checkpoint(bytes: u64) -> ChainSize {
        ChainSize {
            generations: 1,
            checkpoint_bytes: bytes,
            delta_bytes: 0,
        }
    }

    /// The size of `g`'s chain from the links; `None` if a plan on it is missing.
    pub fn of_chain(links: &Links, g: Generation) -> Option<ChainSize> {
        let chain = path(links, g)?;
        Some(ChainSize {
            generations: chain.len() as u64,
            checkpoint_bytes: links[&chain[0]].bytes,
            delta_bytes: chain[1..].iter().map(|g| links[g].bytes).sum(),
        })
    }

    /// The chain with one more delta of `bytes`: the size of a delta staged on this plan.
    pub fn with(self, bytes: u64) -> ChainSize {
        ChainSize {
            generations: self.generations + 1,
            delta_bytes: self.delta_bytes + bytes,
            ..self
        }
    }

    /// How a delta of `delta_bytes` staged on the plan of this chain is stored ([`layout_for`]).
    pub fn layout(self, delta_bytes: u64, checkpoint_every: u32, when: CheckpointWhen) -> Layout {
        // With this delta the chain holds one more generation.
        let size = self.with(delta_bytes);
        let past = match when {
            CheckpointWhen::InStage => size.past(checkpoint_every, 1, 1),
            CheckpointWhen::AfterPublish => size.past(
                checkpoint_every,
                DEFERRED_GENERATIONS_FACTOR,
                DELTA_SHARE_DIVISOR,
            ),
        };
        if past {
            Layout::Checkpoint
        } else {
            Layout::Delta
        }
    }

    /// Whether the plan of this chain is a delta due for compaction ([`due`]).
    pub fn due(self, checkpoint_every: u32) -> bool {
        self.generations > 1
            && self.past(checkpoint_every, 1, 1)
            && self.delta_bytes.saturating_mul(COMPACT_SHARE) >= self.checkpoint_bytes
    }

    /// Past the bound times these factors: more than `checkpoint_every` × `generations`
    /// generations, or deltas past a quarter of the checkpoint's body × `bytes`.
    fn past(&self, checkpoint_every: u32, generations: u64, bytes: u64) -> bool {
        let grown = self.delta_bytes.saturating_mul(DELTA_SHARE_DIVISOR);
        self.generations > u64::from(checkpoint_every).saturating_mul(generations)
            || grown > self.checkpoint_bytes.saturating_mul(bytes)
    }
}

/// A full body from a chain's stored bytes, checkpoint first: the deltas decoded and composed
/// into one change ([`ZoneDelta::then`]), applied to the checkpoint in one pass.
pub fn rebuild(mut stored: impl Iterator<Item = Vec<u8>>) -> Result<Vec<u8>, DeltaError> {
    let body = stored.next().unwrap_or_default();
    let deltas = stored
        .map(|d| ZoneDelta::decode(&d))
        .collect::<Result<Vec<_>, _>>()?;
    match ZoneDelta::compose(deltas)? {
        None => Ok(body),
        Some(change) => change.apply_body(&body),
    }
}

/// The plans clean-up deletes: below `horizon`, not among the newest `keep`, and not on the
/// chain of any plan that stays. Newest first, so children go before their parents.
pub fn doomed(links: &Links, horizon: Generation, keep: u32) -> Vec<Generation> {
    let newest: BTreeSet<Generation> = links.keys().rev().take(keep as usize).copied().collect();
    let stays = |g: &Generation| *g >= horizon || newest.contains(g);
    let mut needed = BTreeSet::new();
    for g in links.keys().filter(|g| stays(g)) {
        let mut at = links.get(g).and_then(|l| l.parent);
        while let Some(p) = at.filter(|p| needed.insert(*p)) {
            at = links.get(&p).and_then(|l| l.parent);
        }
    }
    links
        .keys()
        .rev()
        .filter(|g| !stays(g) && !needed.contains(g))
        .copied()
        .collect()
}

/// The generations whose deltas lead from `from` (which the reader holds) to `to`, oldest
/// first; `None` unless `from` is on `to`'s chain. Empty when `from == to`.
pub fn steps_between(links: &Links, from: Generation, to: Generation) -> Option<Vec<Generation>> {
    let chain = path(links, to)?;
    let at = chain.iter().position(|g| *g == from)?;
    Some(chain[at + 1..].to_vec())
}

#[cfg(test)]
mod tests;
