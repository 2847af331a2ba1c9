//! The DNS UPDATE step (RFC 2136): one message, one plan, through the whole gate.
//!
//! The message's prerequisites are judged and its changes applied (`crate::update`) on the
//! published generation `G`; the result is planned with `G` as its base (the plan step's
//! validity and change policy) and published with the same compare-and-swap as every plan.
//! If another publication moved the zone in between, the compare-and-swap refuses the plan
//! as stale and the whole message is judged again on the new published generation, up to
//! `attempts_max` times. A message whose result equals the published content stages nothing.
//! A zone whose review mode is not `off` refuses updates at once: an UPDATE never waits on a
//! person. Every refusal by the gate or the grants is in the audit log with the actor.

use crate::dns::name::Name;
use crate::dns::record::{RType, Record};
use crate::gate::audit::{Actor, AuditAction, ReasonCode, entry};
use crate::gate::config::GateConfig;
use crate::gate::error::StepError;
use crate::gate::load::load_published;
use crate::gate::plan::{PlanOutcome, plan_on_base};
use crate::gate::policy::Review;
use crate::gate::publish::{PublishOutcome, publish_planned};
use crate::gate::refusal::Refusal;
use crate::gate::store::Store;
use crate::gate::types::{Generation, Published, Verdict};
use crate::update::{Applied, UpdateGrant, UpdateMessage, UpdateRefusal, apply, check_grants};
use crate::zone::delta::ZoneDelta;
use crate::zone::limits::Limits;
use crate::zone::serial::{SerialPolicy, next_serial};
use crate::zone::{ContentHash, Zone};

/// A generation's content as this process last published it, kept by the caller between
/// updates so that the next one need not read, decode and validate the same content again.
/// [`update`] makes one when it publishes; [`KnownContent::held`] makes one from what a target
/// holds. It stands for the published body only while that generation is published and its
/// stored row has the content's hash: the hash is the content's identity, publishing read the
/// stored form back against it (`publish_planned`), and every update checks it again.
#[derive(Clone)]
pub struct KnownContent {
    generation: Generation,
    hash: ContentHash,
    pub(super) zone: Zone,
    limits: Limits,
}

impl KnownContent {
    /// The content a target holds for `generation` as it was published (a server's catalog,
    /// installed by the follower from the store or a snapshot, both hash-checked and validated
    /// under `limits`): the first update after a start then need not read the whole plan. An
    /// update uses it only if `generation` is still the published one and its row's hash is
    /// this content's; otherwise it reads the published plan, as with nothing kept.
    pub fn held(generation: Generation, zone: Zone, limits: &Limits) -> KnownContent {
        KnownContent {
            generation,
            hash: zone.hash(),
            zone,
            limits: limits.clone(),
        }
    }

    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// The content, for installing into a target (a copy: the next update still needs it).
    pub fn zone(&self) -> &Zone {
        &self.zone
    }
}

impl std::fmt::Debug for KnownContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "KnownContent({} {}, {:?})",
            self.generation, self.hash, self.zone
        )
    }
}

/// One UPDATE as the gate sees it: the message, the TSIG key that signed it (if any) and the
/// zone's grants.
#[derive(Debug, Clone, Copy)]
pub struct UpdateRequest<'a> {
    pub message: &'a UpdateMessage,
    pub key: Option<&'a Name>,
    pub grants: &'a [UpdateGrant],
    /// How many times the message is judged before a race with other publications is given
    /// up as an error.
    pub attempts_max: u32,
}

/// What an UPDATE did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// The new generation is published (durably: the compare-and-swap committed).
    Published {
        generation: Generation,
        base: Generation,
        publish_count: u64,
        /// How many times the message was judged (1 without a race).
        attempts: u32,
    },
    /// The result equals the published generation: nothing was staged.
    Unchanged { published: Generation },
}

/// Why an UPDATE was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// RFC 2136 said no: malformed, outside the zone, a failed prerequisite, or (audited) a
    /// change the key's grants do not cover.
    #[error(transparent)]
    Update(#[from] UpdateRefusal),
    /// Nothing is published for the zone, so there is nothing to update.
    #[error("zone {zone} has no published generation; publish it with `zonegate apply` first")]
    NotPublished { zone: Name },
    /// The zone is reviewed (audited): an update must never wait on a person.
    #[error(
        "zone {zone} has review = \"{}\", and an UPDATE cannot wait for a review; set review = \"off\" for the zone or change it with `zonegate plan`/`apply`",
        review.as_str()
    )]
    Review { zone: Name, review: Review },
    /// The gate refused the resulting plan (audited by the step that refused it).
    #[error(transparent)]
    Gate(Refusal),
    /// Other publications kept moving the zone: every attempt was stale.
    #[error(
        "gave up after {attempts} attempts: other publications kept moving zone {zone} ({last})"
    )]
    Raced {
        zone: Name,
        attempts: u32,
        last: Refusal,
    },
    /// The store failed, or the published content cannot be read.
    #[error(transparent)]
    Step(StepError),
}

impl UpdateError {
    /// The gate's reason code, for the refusals the gate (or the audit log) names one.
    pub fn reason(&self) -> Option<ReasonCode> {
        match self {
            UpdateError::Update(UpdateRefusal::NotGranted { .. }) => Some(ReasonCode::UpdatePolicy),
            UpdateError::Review { .. } => Some(ReasonCode::Review),
            UpdateError::Gate(r) => Some(r.reason()),
            UpdateError::Raced { .. } => Some(ReasonCode::Stale),
            _ => None,
        }
    }
}

/// Runs one UPDATE through the gate: judge, plan on the judged generation, publish with the
/// compare-and-swap; again on a newer generation if another publication got in between.
///
/// `known` is what the caller kept from its last update of the zone: used as the base when it
/// is still the published content, and replaced by the new content when this one publishes.
pub async fn update<S: Store>(
    store: &S,
    known: &mut Option<KnownContent>,
    req: UpdateRequest<'_>,
    cfg: &GateConfig,
    now: u64,
    actor: &Actor,
) -> Result<UpdateOutcome, UpdateError> {
    let zone = &req.message.zone;
    let audit_refusal = async |reason: ReasonCode, detail: String| {
        let row = entry(
            zone,
            None,
            AuditAction::Refused,
            Some(reason),
            detail,
            actor,
            now,
        );
        store
            .audit(row)
            .await
            .map_err(|e| UpdateError::Step(e.into()))
    };
    if let Some(key) = req.key
        && let Err(refusal) = check_grants(req.grants, key, &req.message.changes)
    {
        audit_refusal(ReasonCode::UpdatePolicy, refusal.to_string()).await?;
        return Err(refusal.into());
    }
    let review = cfg.policy.for_zone(zone).review;
    if review != Review::Off {
        let e = UpdateError::Review {
            zone: zone.clone(),
            review,
        };
        audit_refusal(ReasonCode::Review, e.to_string()).await?;
        return Err(e);
    }
    let mut last = None;
    for attempt in 1..=req.attempts_max.max(1) {
        match attempt_once(store, req.message, known, cfg, now, actor).await? {
            Attempt::Done(outcome) => {
                return Ok(match outcome {
                    UpdateOutcome::Published {
                        generation,
                        base,
                        publish_count,
                        ..
                    } => UpdateOutcome::Published {
                        generation,
                        base,
                        publish_count,
                        attempts: attempt,
                    },
                    unchanged => unchanged,
                });
            }
            Attempt::Stale(refusal) => last = Some(refusal),
        }
    }
    Err(UpdateError::Raced {
        zone: zone.clone(),
        attempts: req.attempts_max.max(1),
        last: last.expect("at least one attempt ran"),
    })
}

/// One attempt's result: done, or overtaken by another publication.
enum Attempt {
    Done(UpdateOutcome),
    Stale(Refusal),
}

/// The published generation and its content: `known`'s when it is that generation, under
/// these limits, with the same hash (its row's head is read, not its body); else decoded and
/// validated.
async fn published_base<S: Store>(
    store: &S,
    zone: &Name,
    known: &mut Option<KnownContent>,
    cfg: &GateConfig,
) -> Result<(Published, Zone), UpdateError> {
    let store_err = |e: crate::gate::store::StoreError| UpdateError::Step(e.into());
    let Some(published) = store.published(zone).await.map_err(store_err)? else {
        return Err(UpdateError::NotPublished { zone: zone.clone() });
    };
    let g = published.generation;
    if let Some(k) = known.take_if(|k| k.generation == g && k.limits == cfg.limits) {
        let head = store.load_head(zone, g).await.map_err(store_err)?;
        if head.is_some_and(|p| p.hash == k.hash) {
            return Ok((published, k.zone));
        }
    }
    match load_published(store, zone, cfg).await.map_err(store_err)? {
        // Another publication got in between: the attempt is judged on what was read, and
        // its serial (used only to carry the served serial, see `with_served_serial`) is
        // that generation's if it is still published.
        Some((read, content)) => {
            let content = content.map_err(UpdateError::Step)?;
            let now = match read == g {
                true => Some(published),
                false => store.published(zone).await.map_err(store_err)?,
            };
            let published = now.filter(|p| p.generation == read).unwrap_or(Published {
                generation: read,
                ..published
            });
            Ok((published, content))
        }
        None => Err(UpdateError::NotPublished { zone: zone.clone() }),
    }
}

/// The change with the apex SOA serial the publication will serve, when the zone's serial
/// policy is `file` and the change leaves the content's serial at or below the published one
/// (RFC 2136 §3.7: the primary increments the serial of a zone it updates). The publication
/// would serve the published serial plus one anyway; with the content carrying it, what is
/// stored is what is served (an export after an update shows the served serial), and
/// installing the generation changes no record. A change that already raises the serial
/// above the published one, and every other policy, are left as they are.
fn with_served_serial(
    base: &Zone,
    delta: ZoneDelta,
    published: u32,
    cfg: &GateConfig,
) -> ZoneDelta {
    if cfg.serial.for_zone(base.origin()) != SerialPolicy::File {
        return delta;
    }
    let origin = base.origin();
    let is_soa = |r: &Record| r.rtype == RType::SOA && r.owner == *origin;
    let changed = delta.added().iter().position(is_soa);
    let current = changed.map_or_else(|| base.soa_record(), |i| &delta.added()[i]);
    let Some(mut soa) = current.soa() else {
        return delta;
    };
    let next = next_serial(Some(published), soa.serial);
    if next == soa.serial {
        return delta;
    }
    soa.serial = next;
    let bumped = Record {
        rdata: soa.to_rdata(),
        ..current.clone()
    };
    let old = base.soa_record().clone();
    let (mut removed, mut added) = delta.clone().into_parts();
    match changed {
        Some(i) => added[i] = bumped,
        None => {
            insert_sorted(&mut removed, old);
            insert_sorted(&mut added, bumped);
        }
    }
    ZoneDelta::new(removed, added).unwrap_or(delta)
}

/// Puts `r` into `list` (in canonical order) where it belongs.
fn insert_sorted(list: &mut Vec<Record>, r: Record) {
    let at = list.partition_point(|x| x.canonical_cmp(&r).is_lt());
    list.insert(at, r);
}

/// Judges the message on the published generation, plans and publishes the result.
async fn attempt_once<S: Store>(
    store: &S,
    msg: &UpdateMessage,
    known: &mut Option<KnownContent>,
    cfg: &GateConfig,
    now: u64,
    actor: &Actor,
) -> Result<Attempt, UpdateError> {
    let zone = &msg.zone;
    let step = |e: StepError| match e {
        StepError::Refused(r) if r.is_stale() => Ok(Attempt::Stale(r)),
        StepError::Refused(r) => Err(UpdateError::Gate(r)),
        other => Err(UpdateError::Step(other)),
    };
    let (published, base) = published_base(store, zone, known, cfg).await?;
    let g = published.generation;
    let delta = match apply(&base, msg) {
        Ok(Applied::Changed(delta)) => with_served_serial(&base, delta, published.serial, cfg),
        other => {
            let unchanged = matches!(other, Ok(Applied::Unchanged));
            *known = Some(KnownContent {
                generation: g,
                hash: base.hash(),
                zone: base,
                limits: cfg.limits.clone(),
            });
            return if unchanged {
                Ok(Attempt::Done(UpdateOutcome::Unchanged { published: g }))
            } else {
                Err(other.expect_err("not changed, not unchanged").into())
            };
        }
    };
    let (outcome, planned) = match plan_on_base(store, &delta, (g, base), cfg, now, actor).await {
        Ok(kept) => kept,
        Err(e) => return step(e),
    };
    let (generation, hash, verdict, thresholds) = match outcome {
        PlanOutcome::NoChanges { published, .. } => {
            return Ok(Attempt::Done(UpdateOutcome::Unchanged { published }));
        }
        PlanOutcome::Staged {
            generation,
            hash,
            verdict,
            thresholds,
            ..
        } => (generation, hash, verdict, thresholds),
    };
    if verdict == Verdict::Refused {
        // The plan step staged it refused and audited why.
        return Err(UpdateError::Gate(Refusal::Policy {
            generation,
            hash,
            thresholds,
        }));
    }
    let planned = planned.expect("a staged plan is kept");
    match publish_planned(store, zone, &planned, cfg, now, actor).await {
        Ok(PublishOutcome::Published {
            generation,
            publish_count,
            ..
        }) => {
            *known = Some(KnownContent {
                generation,
                hash: planned.hash,
                zone: planned.zone,
                limits: planned.limits,
            });
            Ok(Attempt::Done(UpdateOutcome::Published {
                generation,
                base: g,
                publish_count,
                attempts: 1,
            }))
        }
        Ok(PublishOutcome::AlreadyPublished { generation }) => {
            Ok(Attempt::Done(UpdateOutcome::Unchanged {
                published: generation,
            }))
        }
        Err(e) => step(e),
    }
}
