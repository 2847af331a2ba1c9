//! The enactor step: pin, read back, re-run the gate, publish with one compare-and-swap.

use std::borrow::Cow;

use crate::dns::name::Name;
use crate::gate::audit::entry;
use crate::gate::audit::{Actor, AuditAction};
use crate::gate::config::GateConfig;
use crate::gate::context::StepContext;
use crate::gate::error::StepError;
use crate::gate::plan::Planned;
use crate::gate::refusal::Refusal;
use crate::gate::store::{Store, StoreError};
use crate::gate::types::{Generation, OptGen, PlanHead, PlanStatus, StoredPlan, Verdict};
use crate::zone::delta::ZoneDelta;
use crate::zone::diff::Diff;
use crate::zone::serial::SerialRequest;
use crate::zone::{ContentHash, Zone};

/// What publishing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    Published {
        generation: Generation,
        base: Option<Generation>,
        /// The zone's publish count after this publish.
        publish_count: u64,
        /// The SOA serial the compare-and-swap decided for the generation.
        serial: u32,
    },
    /// The requested generation is already the published one; nothing changed.
    AlreadyPublished { generation: Generation },
}

/// The enactor: pins the plan, reads it back and re-runs the gate (validity, age, the change
/// policy against the plan's base, and its verdict), then publishes it with ONE
/// compare-and-swap that re-checks freshness and the verdict in the same atomic step as the
/// write. Every refusal is audited.
///
/// The policy is checked against the plan's base, and the compare-and-swap only succeeds if
/// that base is still the published generation: what was measured is what is replaced, so
/// the check and the write are one decision without a second read.
pub async fn publish<S: Store>(
    store: &S,
    zone: &Name,
    generation: Option<Generation>,
    cfg: &GateConfig,
    now: u64,
    actor: &Actor,
) -> Result<PublishOutcome, StepError> {
    let from = match generation {
        Some(g) => PublishFrom::Generation(g),
        None => PublishFrom::Newest,
    };
    let ctx = StepContext { cfg, now, actor };
    publish_checked(store, &ctx, zone, from).await
}

/// [`publish`] of the plan [`plan_keeping`] just staged in this process (`apply`). The gate
/// runs as in [`publish`], with one difference in how it reads: the stored body is read back
/// and must hash to the hash the plan was staged and given its verdict for, which is the hash
/// of the content `planned` holds; that content was validated under the same limits (it is a
/// [`Zone`]), so it stands for the body rather than decoding and validating the same bytes a
/// second time, and the base content the plan was measured against stands for the base's
/// body. Different limits, or a stored plan that is not the one `planned` describes, take the
/// full path of [`publish`].
///
/// [`plan_keeping`]: crate::gate::plan_keeping
pub async fn publish_planned<S: Store>(
    store: &S,
    zone: &Name,
    planned: &Planned,
    cfg: &GateConfig,
    now: u64,
    actor: &Actor,
) -> Result<PublishOutcome, StepError> {
    let ctx = StepContext { cfg, now, actor };
    publish_checked(store, &ctx, zone, PublishFrom::Planned(planned)).await
}

/// [`publish`] for a saved plan: publishes generation `generation` only if its content hash is
/// `hash` (else `Refusal::HashMismatch`), so what was reviewed is exactly what goes live.
pub async fn publish_exact<S: Store>(
    store: &S,
    zone: &Name,
    generation: Generation,
    hash: ContentHash,
    cfg: &GateConfig,
    now: u64,
    actor: &Actor,
) -> Result<PublishOutcome, StepError> {
    let ctx = StepContext { cfg, now, actor };
    publish_checked(store, &ctx, zone, PublishFrom::Exact { generation, hash }).await
}

/// What a publication starts from.
#[derive(Clone, Copy)]
enum PublishFrom<'p> {
    /// The newest staged generation (`publish ORIGIN`).
    Newest,
    /// One generation (`publish ORIGIN --generation`, `rollback`).
    Generation(Generation),
    /// A saved plan: its generation, only if its content hash is still `hash`.
    Exact {
        generation: Generation,
        hash: ContentHash,
    },
    /// The plan this process just staged (`apply`).
    Planned(&'p Planned),
}

impl<'p> PublishFrom<'p> {
    /// The generation asked for; `None` for the newest.
    fn generation(self) -> Option<Generation> {
        match self {
            PublishFrom::Newest => None,
            PublishFrom::Generation(g) | PublishFrom::Exact { generation: g, .. } => Some(g),
            PublishFrom::Planned(p) => Some(p.generation),
        }
    }

    /// The content hash the stored plan must have.
    fn expected_hash(self) -> Option<ContentHash> {
        match self {
            PublishFrom::Exact { hash, .. } => Some(hash),
            _ => None,
        }
    }

    /// The content this process validated for the plan, if it was validated under the limits
    /// in force; only then may it stand for the body.
    fn known(self, cfg: &GateConfig) -> Option<&'p Planned> {
        match self {
            PublishFrom::Planned(p) if p.limits == cfg.limits => Some(p),
            _ => None,
        }
    }
}

/// Pins the generation `from` names, publishes it through [`publish_pinned`], unpins it and
/// audits a refusal.
async fn publish_checked<S: Store>(
    store: &S,
    ctx: &StepContext<'_>,
    zone: &Name,
    from: PublishFrom<'_>,
) -> Result<PublishOutcome, StepError> {
    let g = match from.generation() {
        Some(g) => g,
        None => store
            .newest_generation(zone)
            .await?
            .ok_or_else(|| StepError::NothingStaged { zone: zone.clone() })?,
    };
    let (now, actor) = (ctx.now, ctx.actor);
    store
        .pin(
            zone,
            g,
            actor.as_str(),
            now.saturating_add(ctx.cfg.pin_lease_s),
        )
        .await?;
    let result = publish_pinned(store, ctx, zone, g, from).await;
    // Releasing the pin is best effort: an unreleased pin only delays clean-up until it expires.
    let _ = store.unpin(zone, g, actor.as_str()).await;
    if let Err(StepError::Refused(refusal)) = &result {
        store
            .audit(entry(
                zone,
                Some(g),
                refusal.action(),
                Some(refusal.reason()),
                refusal.to_string(),
                actor,
                now,
            ))
            .await?;
    }
    result
}

/// The gate and the compare-and-swap for pinned generation `g`: read back, re-validate, check
/// the age, the policy and the verdict, then publish.
async fn publish_pinned<S: Store>(
    store: &S,
    ctx: &StepContext<'_>,
    zone: &Name,
    g: Generation,
    from: PublishFrom<'_>,
) -> Result<PublishOutcome, StepError> {
    let (plan, content, known) = read_back(store, ctx, zone, g, from).await?;
    if plan.status == PlanStatus::Published
        && store
            .published(zone)
            .await?
            .is_some_and(|p| p.generation == g)
    {
        return Ok(PublishOutcome::AlreadyPublished { generation: g });
    }
    check_age(&plan, ctx)?;
    let known_base = known.and_then(|k| k.base.as_ref().map(|base| (base, k.change())));
    if let Err(refusal) = check_gate(store, zone, &plan, &content, known_base, ctx.cfg).await? {
        return Err(stale_or(store, zone, &plan, refusal).await?.into());
    }
    swap(store, ctx, zone, &plan, content.soa().serial).await
}

/// Reads plan `g` back and gives its head and content, validated after reading as before
/// writing. Content this process validated under these limits (`from.known`) stands for the
/// body when what the store holds gives it: the stored row is the delta this process offered
/// from the base it holds, with the content's hash (read back without the body, see
/// [`delta_read_back`]); or the body read back hashes to the plan's hash, which is the
/// content's hash: the same bytes, so the same verdict of every validity rule. Otherwise the
/// body is decoded and validated.
async fn read_back<'p, S: Store>(
    store: &S,
    ctx: &StepContext<'_>,
    zone: &Name,
    g: Generation,
    from: PublishFrom<'p>,
) -> Result<(PlanHead, Cow<'p, Zone>, Option<&'p Planned>), StepError> {
    let known = from.known(ctx.cfg).filter(|k| k.generation == g);
    if let Some(k) = known
        && let Some(head) = delta_read_back(store, zone, k).await?
    {
        return Ok((head, Cow::Borrowed(&k.zone), Some(k)));
    }
    let plan = load_checked(store, zone, g, from.expected_hash()).await?;
    let known = known.filter(|k| k.hash == plan.hash && plan.hash.matches_body(&plan.body));
    let content = match known {
        Some(k) => Cow::Borrowed(&k.zone),
        None => Cow::Owned(
            Zone::decode(zone, &plan.body, &plan.hash, &ctx.cfg.limits).map_err(|error| {
                Refusal::Corrupt {
                    generation: g,
                    error,
                }
            })?,
        ),
    };
    Ok((plan.head(), content, known))
}

/// The head of the plan `planned` describes, if the store holds it as `planned`'s delta from
/// `planned`'s base with `planned`'s hash: then the base content this process holds (read back
/// and checked when it was read) with the delta read back is `planned`'s content, without
/// reading or rebuilding the whole body. `None` (read the body) for a plan stored whole (a
/// checkpoint), or anything else.
async fn delta_read_back<S: Store>(
    store: &S,
    zone: &Name,
    planned: &Planned,
) -> Result<Option<PlanHead>, StoreError> {
    let (Some((base, _)), Some(delta)) = (&planned.base, &planned.delta) else {
        return Ok(None);
    };
    let g = planned.generation;
    let Some(head) = store.load_head(zone, g).await? else {
        return Ok(None);
    };
    if head.hash != planned.hash || head.base != Some(*base) {
        return Ok(None);
    }
    let steps = store.load_deltas(zone, *base, g).await?;
    let same = matches!(steps.as_deref(), Some([step]) if step.hash == planned.hash && step.delta == *delta);
    Ok(same.then_some(head))
}

/// Loads generation `g`, refusing it if its hash is not `expected` (when one is given).
pub(super) async fn load_checked<S: Store>(
    store: &S,
    zone: &Name,
    g: Generation,
    expected: Option<ContentHash>,
) -> Result<StoredPlan, StepError> {
    let plan = store
        .load_plan(zone, g)
        .await?
        .ok_or_else(|| StepError::PlanMissing {
            zone: zone.clone(),
            generation: g,
        })?;
    if let Some(expected) = expected.filter(|h| *h != plan.hash) {
        return Err(Refusal::HashMismatch {
            generation: g,
            expected,
            actual: plan.hash,
        }
        .into());
    }
    Ok(plan)
}

/// Refuses a plan older than `plan_age_max_s`.
fn check_age(plan: &PlanHead, ctx: &StepContext<'_>) -> Result<(), Refusal> {
    let age_s = ctx.now.saturating_sub(plan.created_at);
    if age_s > ctx.cfg.plan_age_max_s {
        return Err(Refusal::TooOld {
            generation: plan.generation,
            age_s,
            max_s: ctx.cfg.plan_age_max_s,
        });
    }
    Ok(())
}

/// A plan that is stale anyway is reported as stale: approving it would not help, and
/// re-planning is what to do. This read only chooses the message; nothing is written on it.
async fn stale_or<S: Store>(
    store: &S,
    zone: &Name,
    plan: &PlanHead,
    refusal: Refusal,
) -> Result<Refusal, StoreError> {
    let published = store.published(zone).await?.map(|p| p.generation);
    if published != plan.base {
        return Ok(Refusal::Stale {
            generation: plan.generation,
            base: plan.base,
            published,
        });
    }
    Ok(refusal)
}

/// The one compare-and-swap that publishes `plan`, with its audit row; the store decides its
/// serial in the same step from `file_serial` (the plan's own SOA serial) and the zone's
/// serial policy.
async fn swap<S: Store>(
    store: &S,
    ctx: &StepContext<'_>,
    zone: &Name,
    plan: &PlanHead,
    file_serial: u32,
) -> Result<PublishOutcome, StepError> {
    let g = plan.generation;
    let detail = format!(
        "published {g} on base {} ({} records, {}, verdict {})",
        OptGen(plan.base),
        plan.record_count,
        plan.hash,
        plan.verdict
    );
    let audit = entry(
        zone,
        Some(g),
        AuditAction::Published,
        None,
        detail,
        ctx.actor,
        ctx.now,
    );
    let serial = SerialRequest {
        policy: ctx.cfg.serial.for_zone(zone),
        file_serial,
        now_s: ctx.now,
    };
    let published = match store.publish_cas(zone, g, plan.base, serial, audit).await {
        Ok(published) => published,
        // Rejected between our read and the compare-and-swap: the CAS saw it.
        Err(StoreError::Unpublishable { verdict, .. }) => {
            return Err(Refusal::Review {
                generation: g,
                hash: plan.hash,
                verdict,
                review: ctx.cfg.policy.for_zone(zone).review,
            }
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    Ok(PublishOutcome::Published {
        generation: published.generation,
        base: plan.base,
        publish_count: published.publish_count,
        serial: published.serial,
    })
}

/// The policy and review part of the gate at publish time: the change from the plan's base is
/// measured again under the current policy, and the verdict must allow publication.
async fn check_gate<S: Store>(
    store: &S,
    zone: &Name,
    plan: &PlanHead,
    content: &Zone,
    known_base: Option<(&(Generation, Zone), Option<ZoneDelta>)>,
    cfg: &GateConfig,
) -> Result<Result<(), Refusal>, StoreError> {
    let policy = cfg.policy.for_zone(zone);
    let review = |verdict| Refusal::Review {
        generation: plan.generation,
        hash: plan.hash,
        verdict,
        review: policy.review,
    };
    match plan.verdict {
        Verdict::Approved => return Ok(Ok(())),
        Verdict::Rejected => return Ok(Err(review(Verdict::Rejected))),
        _ => {}
    }
    // The base content the plan was measured against when this process staged it: a plan's
    // content never changes once staged (and was hash-checked and validated when it was
    // read), so it is the base's body.
    let known_base = known_base.filter(|((g, _), _)| Some(*g) == plan.base);
    let thresholds = match (plan.base, known_base) {
        (None, _) => Vec::new(),
        (Some(_), Some(((_, old), change))) => {
            let diff = match change {
                Some(delta) => Diff::of_change(old, content, &delta),
                None => Diff::between(old, content),
            };
            crate::gate::policy::check(&policy, old, content, &diff)
        }
        (Some(b), None) => match store.load_plan(zone, b).await? {
            // A base that is gone was cleaned up, so it is no longer published (I2) and the
            // compare-and-swap refuses the plan as stale.
            None => Vec::new(),
            Some(base) => match Zone::decode(zone, &base.body, &base.hash, &cfg.limits) {
                Ok(old) => crate::gate::policy::check(
                    &policy,
                    &old,
                    content,
                    &Diff::between(&old, content),
                ),
                // An unusable base body never blocks later plans (I5); validity still holds.
                Err(_) => Vec::new(),
            },
        },
    };
    if !thresholds.is_empty() {
        return Ok(Err(Refusal::Policy {
            generation: plan.generation,
            hash: plan.hash,
            thresholds,
        }));
    }
    match plan.verdict {
        Verdict::Held | Verdict::Refused => Ok(Err(review(plan.verdict))),
        _ if policy.review != crate::gate::policy::Review::Off => Ok(Err(review(plan.verdict))),
        _ => Ok(Ok(())),
    }
}
