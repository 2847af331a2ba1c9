//! The target step: bring a target to the published generation, re-validated, never back.

use crate::dns::name::Name;
use crate::gate::config::GateConfig;
use crate::gate::error::StepError;
use crate::gate::publish::load_checked;
use crate::gate::refusal::Refusal;
use crate::gate::store::{Store, StoreError};
use crate::gate::target::Target;
use crate::gate::types::Generation;
use crate::gate::update::KnownContent;
use crate::zone::Zone;
use crate::zone::delta::ZoneDelta;

/// What converging a target did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvergeOutcome {
    /// Nothing is published for the zone.
    NothingPublished,
    /// The target already holds the published generation (or newer).
    UpToDate { held: Generation },
    /// The target installed the published generation.
    Installed {
        generation: Generation,
        previous: Option<Generation>,
    },
}

/// Brings `target` to the zone's published generation, with the SOA serial stored with it. The
/// content is re-validated before the target sees it; a target never installs invalid content
/// and never goes back (I1, I3). On any failure the target keeps what it holds (I7) and the
/// caller retries later (I6). `now` (unix seconds) stamps the target's row in the store.
pub async fn converge<S: Store, T: Target>(
    store: &S,
    target: &T,
    zone: &Name,
    cfg: &GateConfig,
    now: u64,
) -> Result<ConvergeOutcome, StepError> {
    let Some(published) = store.published(zone).await? else {
        return Ok(ConvergeOutcome::NothingPublished);
    };
    let g = published.generation;
    let previous = target.held(zone);
    if previous.is_some_and(|held| held >= g) {
        return Ok(ConvergeOutcome::UpToDate {
            held: previous.expect("checked"),
        });
    }
    let content = match read_incrementally(store, target, zone, g, cfg).await? {
        Some(content) => content,
        None => read_whole(store, zone, g, cfg).await?,
    };
    // Record the target's generation BEFORE installing it: from this write on, clean-up's
    // horizon protects plan g, so a store never holds a target whose content it might delete.
    // If clean-up got to g first (it was superseded meanwhile), this fails with `PlanMissing`
    // and the caller's next pass converges to the newer generation (I6).
    match store.record_target(target.id(), zone, g, now).await {
        Ok(()) | Err(StoreError::TargetNewer { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    // The serial was decided at publish; every target serves that one for `g`.
    match target.install_published(g, content, published.serial).await {
        Ok(()) => {}
        Err(held) => return Ok(ConvergeOutcome::UpToDate { held }),
    }
    Ok(ConvergeOutcome::Installed {
        generation: g,
        previous,
    })
}

/// Generation `g` read whole (its body rebuilt from its chain), checked against its hash and
/// validated again.
async fn read_whole<S: Store>(
    store: &S,
    zone: &Name,
    g: Generation,
    cfg: &GateConfig,
) -> Result<Zone, StepError> {
    let plan = load_checked(store, zone, g, None).await?;
    Ok(
        Zone::decode(zone, &plan.body, &plan.hash, &cfg.limits).map_err(|error| {
            Refusal::Corrupt {
                generation: g,
                error,
            }
        })?,
    )
}

/// Generation `g` made from the content the target holds, as published, and the store's deltas
/// from it to `g` (`load_deltas`): each applied with [`Zone::apply`], which validates what it
/// builds exactly as full validation would, and the content after each must have that step's
/// hash. So what is installed is what reading `g` whole, checking and validating it would give,
/// at the cost of the change. `None` (read it whole) when the target holds no such content,
/// the deltas do not lead there, or anything does not apply or hash right.
async fn read_incrementally<S: Store, T: Target>(
    store: &S,
    target: &T,
    zone: &Name,
    g: Generation,
    cfg: &GateConfig,
) -> Result<Option<Zone>, StoreError> {
    let Some((held, mut content)) = target.held_content(zone).filter(|(h, _)| *h < g) else {
        return Ok(None);
    };
    let Some(steps) = store.load_deltas(zone, held, g).await? else {
        return Ok(None);
    };
    for step in steps {
        let Ok(delta) = ZoneDelta::decode(&step.delta) else {
            return Ok(None);
        };
        match content.apply(&delta, &cfg.limits) {
            Ok(next) if next.hash() == step.hash => content = next,
            _ => return Ok(None),
        }
    }
    Ok(Some(content))
}

/// [`converge`] right after this process published `known` (a DNS UPDATE): while that is the
/// published generation, its content, validated and hash-checked when it was published, is
/// installed without reading it back and validating it again; otherwise this is [`converge`].
pub async fn converge_known<S: Store, T: Target>(
    store: &S,
    target: &T,
    zone: &Name,
    known: KnownContent,
    cfg: &GateConfig,
    now: u64,
) -> Result<ConvergeOutcome, StepError> {
    let g = known.generation();
    let published = store.published(zone).await?;
    let Some(serial) = published
        .filter(|p| p.generation == g && known.zone().origin() == zone)
        .map(|p| p.serial)
    else {
        return converge(store, target, zone, cfg, now).await;
    };
    let previous = target.held(zone);
    if let Some(held) = previous.filter(|held| *held >= g) {
        return Ok(ConvergeOutcome::UpToDate { held });
    }
    // As in `converge`: the target's generation is recorded before it is installed.
    match store.record_target(target.id(), zone, g, now).await {
        Ok(()) | Err(StoreError::TargetNewer { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    match target.install_published(g, known.zone, serial).await {
        Ok(()) => Ok(ConvergeOutcome::Installed {
            generation: g,
            previous,
        }),
        Err(held) => Ok(ConvergeOutcome::UpToDate { held }),
    }
}
