//! The planner step: validate, measure the change against the published generation, stage
//! (or refuse, audited). Also [`preview`], the same comparison without a write.

use std::fmt;

use crate::dns::name::Name;
use crate::gate::audit::entry;
use crate::gate::audit::{Actor, AuditAction, AuditEntry, ReasonCode};
use crate::gate::config::GateConfig;
use crate::gate::context::StepContext;
use crate::gate::error::StepError;
use crate::gate::load::load_published;
use crate::gate::policy::{Review, Threshold};
use crate::gate::refusal::{Refusal, ThresholdList};
use crate::gate::store::{Store, StoreError};
use crate::gate::types::{Generation, NewPlan, PlanBody, Verdict};
use crate::zone::delta::{ApplyError, ZoneDelta};
use crate::zone::diff::Diff;
use crate::zone::validate::Invalid;
use crate::zone::{ContentHash, Zone};

/// What planning did.
#[derive(Debug, Clone)]
pub enum PlanOutcome {
    /// A new generation was staged.
    Staged {
        generation: Generation,
        base: Option<Generation>,
        hash: ContentHash,
        record_count: u64,
        diff: crate::zone::diff::Diff,
        /// `Pass`, `Held` (waits for review) or `Refused` (crossed `thresholds`).
        verdict: Verdict,
        /// Every policy threshold the change from the base crosses; empty unless `Refused`.
        thresholds: Vec<Threshold>,
    },
    /// The content equals the published generation: nothing was staged and no generation was
    /// taken, so plans made earlier stay fresh.
    NoChanges {
        published: Generation,
        hash: ContentHash,
        record_count: u64,
    },
}

/// The planner: validates parsed content, diffs it against the published generation and stages
/// it as a new generation whose base is the published one. Invalid content is refused and the
/// refusal is written to the audit log (I8); nothing is staged (I3).
pub async fn plan<S: Store>(
    store: &S,
    parsed: crate::zone::ParsedZone,
    cfg: &GateConfig,
    now: u64,
    actor: &Actor,
) -> Result<PlanOutcome, StepError> {
    Ok(plan_keeping(store, parsed, cfg, now, actor).await?.0)
}

/// The content a [`plan`] validated and the base content it measured the change against,
/// kept for [`publish_planned`]. Only [`plan_keeping`] makes one.
///
/// [`publish_planned`]: crate::gate::publish_planned
pub struct Planned {
    pub(super) generation: Generation,
    pub(super) hash: ContentHash,
    /// The content, validated under the limits the plan was made with.
    pub(super) zone: Zone,
    /// The base generation's content as it was read back (hash-checked and validated), if
    /// it could be.
    pub(super) base: Option<(Generation, Zone)>,
    /// The change from `base` as offered to the store (the encoded [`ZoneDelta`]), when the
    /// plan was offered as a delta: publishing reads back this row instead of the whole body.
    pub(super) delta: Option<Vec<u8>>,
    pub(super) limits: crate::zone::limits::Limits,
}

impl Planned {
    /// The staged content, as validated.
    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// The change from the base content to the plan's, when it was offered as a delta.
    pub(super) fn change(&self) -> Option<ZoneDelta> {
        // The bytes are this process's own encoding of a change it made.
        self.delta
            .as_deref()
            .and_then(|d| ZoneDelta::decode(d).ok())
    }

    /// The base generation's content the plan was measured against, if it could be read.
    pub fn base_zone(&self) -> Option<&Zone> {
        self.base.as_ref().map(|(_, z)| z)
    }
}

impl fmt::Debug for Planned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Planned({} {}, {:?})",
            self.generation, self.hash, self.zone
        )
    }
}

/// [`plan`], also returning what it validated when it staged a plan, so that the same process
/// can publish that plan with [`publish_planned`] without decoding and validating the same
/// content again (`apply`).
///
/// [`publish_planned`]: crate::gate::publish_planned
pub async fn plan_keeping<S: Store>(
    store: &S,
    parsed: crate::zone::ParsedZone,
    cfg: &GateConfig,
    now: u64,
    actor: &Actor,
) -> Result<(PlanOutcome, Option<Planned>), StepError> {
    let ctx = StepContext { cfg, now, actor };
    let origin = parsed.origin.clone();
    let zone = match crate::zone::validate::validate(parsed, &cfg.limits) {
        Ok(zone) => zone,
        Err(invalid) => return Err(refuse_invalid(store, &ctx, &origin, invalid).await),
    };
    let compared = compare_with_published(store, &zone, cfg).await?;
    stage_compared(store, &ctx, zone, compared, None).await
}

/// [`plan_keeping`] measured against `base`, content the caller read (hash-checked and
/// validated) and judged, instead of reading the published generation again: a DNS UPDATE,
/// whose prerequisites were judged on that generation. The plan is staged with `base` as its
/// base, so the compare-and-swap refuses it as stale if the published generation moved since.
///
/// The new content is `base` with `delta` applied ([`Zone::apply`]): validated from the change,
/// with the same verdict and violations as validating every record.
pub async fn plan_on_base<S: Store>(
    store: &S,
    delta: &ZoneDelta,
    base: (Generation, Zone),
    cfg: &GateConfig,
    now: u64,
    actor: &Actor,
) -> Result<(PlanOutcome, Option<Planned>), StepError> {
    let ctx = StepContext { cfg, now, actor };
    let zone = match base.1.apply(delta, &cfg.limits) {
        Ok(zone) => zone,
        Err(ApplyError::Invalid(invalid)) => {
            let origin = base.1.origin().clone();
            return Err(refuse_invalid(store, &ctx, &origin, invalid).await);
        }
        // `update::apply` makes the delta from this very content.
        Err(ApplyError::Delta(e)) => panic!("a delta made from its base applies to it: {e}"),
    };
    let compared = compare_change(base.0, base.1, &zone, delta, cfg);
    stage_compared(store, &ctx, zone, compared, Some(delta)).await
}

/// Stages `zone` as compared with its base, or returns [`PlanOutcome::NoChanges`]. `delta`, if
/// given, is the change from the base content that made `zone` ([`Zone::apply`]).
async fn stage_compared<S: Store>(
    store: &S,
    ctx: &StepContext<'_>,
    zone: Zone,
    compared: Compared,
    delta: Option<&ZoneDelta>,
) -> Result<(PlanOutcome, Option<Planned>), StepError> {
    let (cfg, now, actor) = (ctx.cfg, ctx.now, ctx.actor);
    let origin = zone.origin().clone();
    let hash = zone.hash();
    let record_count = zone.len() as u64;
    let (base, diff, thresholds, base_content) = match compared {
        Compared::Same { published } => {
            return Ok((
                PlanOutcome::NoChanges {
                    published,
                    hash,
                    record_count,
                },
                None,
            ));
        }
        Compared::Changed {
            base,
            diff,
            thresholds,
            base_content,
        } => (base, diff, thresholds, base_content),
    };
    let review = cfg.policy.for_zone(&origin).review;
    let (verdict, action, reason) = verdict_for(&thresholds, review);
    let detail = stage_detail(record_count, &diff, hash, verdict, review, &thresholds);
    let new = NewPlan {
        zone: origin.clone(),
        base,
        hash,
        record_count,
        body: plan_body(base, base_content.as_ref(), &zone, delta, cfg),
        checkpoint_every: cfg.store.checkpoint_every,
        checkpoint_when: cfg.store.checkpoint_when,
        created_at: now,
        verdict,
    };
    let delta = match &new.body {
        PlanBody::Delta { delta, .. } => Some(delta.clone()),
        PlanBody::Full(_) => None,
    };
    let audit = entry(&origin, None, action, reason, detail, actor, now);
    let generation = stage_new(store, new, audit, &zone).await?;
    let planned = Planned {
        generation,
        hash,
        zone,
        base: base.zip(base_content),
        delta,
        limits: cfg.limits.clone(),
    };
    Ok((
        PlanOutcome::Staged {
            generation,
            base,
            hash,
            record_count,
            diff,
            verdict,
            thresholds,
        },
        Some(planned),
    ))
}

/// Stages `new`. A delta whose parent (the base) was cleaned up between reading it and staging
/// (another publication superseded it, and the plan after it is a checkpoint) is staged whole
/// instead: the plan step never fails because clean-up got to its base first (I5). Such a plan
/// is stale, and the compare-and-swap refuses it at publish as any stale plan.
async fn stage_new<S: Store>(
    store: &S,
    new: NewPlan,
    audit: AuditEntry,
    zone: &Zone,
) -> Result<Generation, StoreError> {
    let PlanBody::Delta { parent, .. } = new.body else {
        return store.stage(new, audit).await;
    };
    match store.stage(new.clone(), audit.clone()).await {
        Err(StoreError::PlanMissing { generation, .. }) if generation == parent => {
            let whole = NewPlan {
                body: PlanBody::Full(zone.body()),
                ..new
            };
            store.stage(whole, audit).await
        }
        other => other,
    }
}

/// What the store is offered: the change from the base when its content is at hand (`delta`
/// when the caller made `zone` from it, else a merge pass over two record lists; the full body
/// is not encoded), else the full body. The store decides whether a delta becomes a checkpoint
/// (`gate::chain`).
fn plan_body(
    base: Option<Generation>,
    base_content: Option<&Zone>,
    zone: &Zone,
    delta: Option<&ZoneDelta>,
    cfg: &GateConfig,
) -> PlanBody {
    match base.zip(base_content) {
        Some((parent, old)) if cfg.store.checkpoint_every > 1 => PlanBody::Delta {
            parent,
            delta: match delta {
                Some(delta) => {
                    debug_assert!(
                        *delta == ZoneDelta::between(old, zone),
                        "the change made it"
                    );
                    delta.encode()
                }
                None => ZoneDelta::between(old, zone).encode(),
            },
        },
        _ => PlanBody::Full(zone.body()),
    }
}

/// Audits the refusal of invalid content (I8) and returns it; nothing is staged (I3).
async fn refuse_invalid<S: Store>(
    store: &S,
    ctx: &StepContext<'_>,
    origin: &Name,
    invalid: Invalid,
) -> StepError {
    let refusal = Refusal::Invalid(invalid);
    let audit = entry(
        origin,
        None,
        AuditAction::Refused,
        Some(refusal.reason()),
        refusal.to_string(),
        ctx.actor,
        ctx.now,
    );
    match store.audit(audit).await {
        Ok(()) => refusal.into(),
        Err(e) => e.into(),
    }
}

/// The verdict a new plan is staged with, with its audit action and reason: refused if it
/// crosses a threshold, held if the zone is reviewed, else pass.
fn verdict_for(
    thresholds: &[Threshold],
    review: Review,
) -> (Verdict, AuditAction, Option<ReasonCode>) {
    if let Some(first) = thresholds.first() {
        (Verdict::Refused, AuditAction::Refused, Some(first.reason()))
    } else if review != Review::Off {
        (Verdict::Held, AuditAction::Held, Some(ReasonCode::Review))
    } else {
        (Verdict::Pass, AuditAction::Staged, None)
    }
}

/// The audit detail of a staged plan: its size, its change, its hash, and why it waits.
fn stage_detail(
    record_count: u64,
    diff: &Diff,
    hash: ContentHash,
    verdict: Verdict,
    review: Review,
    thresholds: &[Threshold],
) -> String {
    let mut detail = format!(
        "{} records (+{} -{}), hash {}",
        record_count, diff.records_added, diff.records_removed, hash
    );
    if verdict == Verdict::Held {
        detail.push_str(&format!(
            "; held for review (review = \"{}\")",
            review.as_str()
        ));
    }
    if !thresholds.is_empty() {
        detail.push_str(&format!("; {}", ThresholdList(thresholds)));
    }
    detail
}

/// How a content compares with the published generation.
enum Compared {
    /// The same content is published.
    Same { published: Generation },
    Changed {
        base: Option<Generation>,
        diff: Diff,
        thresholds: Vec<Threshold>,
        /// The base's content, if it could be read back and validated.
        base_content: Option<Zone>,
    },
}

async fn compare_with_published<S: Store>(
    store: &S,
    zone: &Zone,
    cfg: &GateConfig,
) -> Result<Compared, StoreError> {
    let origin = zone.origin();
    Ok(match load_published(store, origin, cfg).await? {
        None => Compared::Changed {
            base: None,
            diff: Diff::from_nothing(zone),
            thresholds: Vec::new(),
            base_content: None,
        },
        Some((g, Ok(old))) => compare_with(g, old, zone, cfg),
        // The published body is unusable: diff against nothing rather than wedge (I5). With
        // no base content there is nothing to measure a change against, so no threshold
        // applies; validity still does.
        Some((g, Err(_))) => Compared::Changed {
            base: Some(g),
            diff: Diff::from_nothing(zone),
            thresholds: Vec::new(),
            base_content: None,
        },
    })
}

/// How `zone` compares with `old`, the content of generation `g`.
fn compare_with(g: Generation, old: Zone, zone: &Zone, cfg: &GateConfig) -> Compared {
    // Equal contents are equal records (and have equal hashes): compared directly, without
    // encoding and hashing both.
    if old == *zone {
        return Compared::Same { published: g };
    }
    let diff = Diff::between(&old, zone);
    measured(g, old, zone, diff, cfg)
}

/// [`compare_with`] for `zone` made from `old` by `delta`, a change that is not empty: the diff
/// is read from the change ([`Diff::of_change`]), not from every record of both.
fn compare_change(
    g: Generation,
    old: Zone,
    zone: &Zone,
    delta: &ZoneDelta,
    cfg: &GateConfig,
) -> Compared {
    let diff = Diff::of_change(&old, zone, delta);
    if diff.is_empty() {
        return Compared::Same { published: g };
    }
    measured(g, old, zone, diff, cfg)
}

/// A change from `old` (generation `g`) to `zone`, `diff`, measured against the zone's policy.
fn measured(g: Generation, old: Zone, zone: &Zone, diff: Diff, cfg: &GateConfig) -> Compared {
    let thresholds =
        crate::gate::policy::check(&cfg.policy.for_zone(zone.origin()), &old, zone, &diff);
    Compared::Changed {
        base: Some(g),
        diff,
        thresholds,
        base_content: Some(old),
    }
}

/// What a plan would do, without staging it (`plan --expect-no-changes`, drift checks).
#[derive(Debug, Clone)]
pub enum Preview {
    NoChanges {
        published: Generation,
        hash: ContentHash,
        record_count: u64,
    },
    Changes {
        base: Option<Generation>,
        hash: ContentHash,
        record_count: u64,
        diff: Diff,
        thresholds: Vec<Threshold>,
    },
}

/// Validates parsed content and compares it with the published generation, like [`plan`],
/// but stages nothing and writes nothing, not even an audit row: it only reads.
pub async fn preview<S: Store>(
    store: &S,
    parsed: crate::zone::ParsedZone,
    cfg: &GateConfig,
) -> Result<Preview, StepError> {
    let zone = crate::zone::validate::validate(parsed, &cfg.limits).map_err(Refusal::Invalid)?;
    let hash = zone.hash();
    let record_count = zone.len() as u64;
    Ok(match compare_with_published(store, &zone, cfg).await? {
        Compared::Same { published } => Preview::NoChanges {
            published,
            hash,
            record_count,
        },
        Compared::Changed {
            base,
            diff,
            thresholds,
            ..
        } => Preview::Changes {
            base,
            hash,
            record_count,
            diff,
            thresholds,
        },
    })
}

#[cfg(test)]
mod stage_tests {
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::model::MemStore;
    use crate::testkit::{a, zone};
    use crate::zone::serial::{SerialPolicy, SerialRequest};

    /// Every `MemStore` operation completes on its first poll.
    fn run<F: Future>(f: F) -> F::Output {
        match pin!(f)
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(out) => out,
            Poll::Pending => panic!("a MemStore step awaited something"),
        }
    }

    fn offer(content: &Zone, base: Option<Generation>, body: PlanBody) -> NewPlan {
        NewPlan {
            zone: content.origin().clone(),
            base,
            hash: content.hash(),
            record_count: content.len() as u64,
            body,
            checkpoint_every: 16,
            checkpoint_when: crate::gate::chain::CheckpointWhen::InStage,
            created_at: 0,
            verdict: Verdict::Pass,
        }
    }

    fn audit(content: &Zone) -> AuditEntry {
        let action = AuditAction::Staged;
        entry(
            content.origin(),
            None,
            action,
            None,
            String::new(),
            &Actor::PLAN,
            0,
        )
    }

    fn publish(store: &MemStore, content: &Zone, g: Generation, base: Option<Generation>) {
        let request = SerialRequest {
            policy: SerialPolicy::File,
            file_serial: content.soa().serial,
            now_s: 0,
        };
        run(store.publish_cas(content.origin(), g, base, request, audit(content))).unwrap();
    }

    #[test]
    fn a_delta_whose_base_was_cleaned_up_meanwhile_is_staged_whole() {
        let store = MemStore::new();
        let glue = || a("ns1.example.", [192, 0, 2, 53]);
        let (v1, v2, v3) = (
            zone("example.", 1, vec![glue()]),
            zone(
                "example.",
                2,
                vec![glue(), a("www.example.", [192, 0, 2, 2])],
            ),
            zone(
                "example.",
                3,
                vec![glue(), a("www.example.", [192, 0, 2, 3])],
            ),
        );
        let g1 = run(store.stage(offer(&v1, None, PlanBody::Full(v1.body())), audit(&v1))).unwrap();
        publish(&store, &v1, g1, None);
        // g2 is stored whole (a tiny zone's delta passes the byte bound), so g1 is needed by
        // nothing once g2 is published, and clean-up deletes it.
        let g2 =
            run(store.stage(offer(&v2, Some(g1), PlanBody::Full(v2.body())), audit(&v2))).unwrap();
        publish(&store, &v2, g2, Some(g1));
        assert_eq!(run(store.cleanup(v1.origin(), 0, 3600, 0)).unwrap(), 1);
        // A planner that read g1 as the base before all this offers a delta against it.
        let delta = PlanBody::Delta {
            parent: g1,
            delta: ZoneDelta::between(&v1, &v3).encode(),
        };
        let offered = offer(&v3, Some(g1), delta);
        let missing = run(store.stage(offered.clone(), audit(&v3))).unwrap_err();
        assert!(matches!(missing, StoreError::PlanMissing { generation, .. } if generation == g1));
        let g3 = run(stage_new(&store, offered, audit(&v3), &v3)).expect("staged whole");
        let stored = run(store.load_plan(v3.origin(), g3)).unwrap().unwrap();
        assert_eq!(stored.body, v3.body());
        assert_eq!(stored.base, Some(g1));
    }
}
