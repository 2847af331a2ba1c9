//! The read models ([`ZoneRow`], [`PlanRow`], …) built from a database row, once for both
//! engines: [`Columns`] is the little each engine's row type has to offer (text and integers by
//! column name), and every builder here works on either.

use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use std::collections::BTreeMap;
use zonegate_core::Name;

use zonegate_core::gate::chain::{self, ChainLink, ChainSize, Links};
use zonegate_core::gate::{
    Actor, DeltaStep, Generation, PlanHead, PlanStatus, StoredPlan, optional_reason,
};

use crate::{
    AuditRow, PinRow, PlanRow, StoreError, TargetRow, ZoneRow, audit_action, corrupt, from_sql,
    generation_from_sql, hash_from_sql, name_from_sql, optional_generation_from_sql,
    serial_from_sql, verdict_from_sql,
};

/// Columns by name, as the store's own types: what both engines' rows offer.
pub(crate) trait Columns {
    fn text(&self, column: &str) -> Result<String, StoreError>;
    fn optional_text(&self, column: &str) -> Result<Option<String>, StoreError>;
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    fn optional_int(&self, column: &str) -> Result<Option<i64>, StoreError>;
    fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError>;
}

macro_rules! columns {
    ($row:ty) => {
        impl Columns for $row {
            fn text(&self, column: &str) -> Result<String, StoreError> {
                self.try_get(column).map_err(unreadable)
            }
            fn optional_text(&self, column: &str) -> Result<Option<String>, StoreError> {
                self.try_get(column).map_err(unreadable)
            }
            fn int(&self, column: &str) -> Result<i64, StoreError> {
                self.try_get(column).map_err(unreadable)
            }
            fn optional_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
                self.try_get(column).map_err(unreadable)
            }
            fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError> {
                self.try_get(column).map_err(unreadable)
            }
        }
    };
}

columns!(SqliteRow);
columns!(PgRow);

fn unreadable(error: sqlx::Error) -> StoreError {
    StoreError::Backend {
        detail: format!("cannot read a column: {error}"),
    }
}

fn status(row: &impl Columns) -> Result<PlanStatus, StoreError> {
    PlanStatus::parse(&row.text("status")?).ok_or_else(|| corrupt("plan status"))
}

/// `origin, published_generation, version, published_at, published_serial, hash,
/// record_count, newest`.
pub(crate) fn zone_row(row: &impl Columns) -> Result<ZoneRow, StoreError> {
    Ok(ZoneRow {
        origin: name_from_sql(&row.text("origin")?)?,
        published: optional_generation_from_sql(row.optional_int("published_generation")?)?,
        publish_count: from_sql(row.int("version")?, "publish count")?,
        newest: optional_generation_from_sql(row.optional_int("newest")?)?,
        hash: row
            .optional_text("hash")?
            .as_deref()
            .map(hash_from_sql)
            .transpose()?,
        record_count: row
            .optional_int("record_count")?
            .map(|n| from_sql(n, "record count"))
            .transpose()?,
        published_at: row
            .optional_int("published_at")?
            .map(|t| from_sql(t, "time"))
            .transpose()?,
        serial: row
            .optional_int("published_serial")?
            .map(serial_from_sql)
            .transpose()?,
    })
}

/// `base, hash, record_count, body, created_at, status, verdict, serial` of plan
/// `generation` of `zone`.
pub(crate) fn stored_plan(
    zone: &Name,
    generation: Generation,
    row: &impl Columns,
) -> Result<StoredPlan, StoreError> {
    let head = plan_head(zone, generation, row)?;
    Ok(StoredPlan {
        zone: head.zone,
        generation,
        base: head.base,
        hash: head.hash,
        record_count: head.record_count,
        body: row.bytes("body")?,
        created_at: head.created_at,
        status: head.status,
        verdict: head.verdict,
        serial: head.serial,
    })
}

/// `base, hash, record_count, created_at, status, verdict, serial` of plan `generation` of
/// `zone`.
pub(crate) fn plan_head(
    zone: &Name,
    generation: Generation,
    row: &impl Columns,
) -> Result<PlanHead, StoreError> {
    Ok(PlanHead {
        zone: zone.clone(),
        generation,
        base: optional_generation_from_sql(row.optional_int("base")?)?,
        hash: hash_from_sql(&row.text("hash")?)?,
        record_count: from_sql(row.int("record_count")?, "record count")?,
        created_at: from_sql(row.int("created_at")?, "time")?,
        status: status(row)?,
        verdict: verdict_from_sql(&row.text("verdict")?)?,
        serial: row
            .optional_int("serial")?
            .map(serial_from_sql)
            .transpose()?,
    })
}

/// `origin, generation, base, hash, record_count, body_bytes, created_at, status, verdict,
/// serial`.
pub(crate) fn plan_row(row: &impl Columns) -> Result<PlanRow, StoreError> {
    Ok(PlanRow {
        origin: name_from_sql(&row.text("origin")?)?,
        generation: generation_from_sql(row.int("generation")?)?,
        base: optional_generation_from_sql(row.optional_int("base")?)?,
        hash: hash_from_sql(&row.text("hash")?)?,
        record_count: from_sql(row.int("record_count")?, "record count")?,
        body_bytes: from_sql(row.int("body_bytes")?, "body length")?,
        delta_parent: optional_generation_from_sql(row.optional_int("parent")?)?,
        created_at: from_sql(row.int("created_at")?, "time")?,
        status: status(row)?,
        verdict: verdict_from_sql(&row.text("verdict")?)?,
        serial: row
            .optional_int("serial")?
            .map(serial_from_sql)
            .transpose()?,
    })
}

/// `id, at, origin, generation, action, reason, detail, actor`.
pub(crate) fn audit_row(row: &impl Columns) -> Result<AuditRow, StoreError> {
    Ok(AuditRow {
        id: row.int("id")?,
        at: from_sql(row.int("at")?, "time")?,
        origin: name_from_sql(&row.text("origin")?)?,
        generation: optional_generation_from_sql(row.optional_int("generation")?)?,
        // Parsing stored text never fails: an action or reason this build does not know
        // reads back verbatim, so the log stays readable (I5).
        action: audit_action(&row.text("action")?),
        reason: optional_reason::from_text(&row.text("reason")?),
        detail: row.text("detail")?,
        actor: Actor::recorded(row.text("actor")?),
    })
}

/// `target, origin, generation, updated_at`.
pub(crate) fn target_row(row: &impl Columns) -> Result<TargetRow, StoreError> {
    Ok(TargetRow {
        target: row.text("target")?,
        origin: name_from_sql(&row.text("origin")?)?,
        generation: generation_from_sql(row.int("generation")?)?,
        updated_at: from_sql(row.int("updated_at")?, "time")?,
    })
}

/// `origin, generation, holder, expires_at`.
pub(crate) fn pin_row(row: &impl Columns) -> Result<PinRow, StoreError> {
    Ok(PinRow {
        origin: name_from_sql(&row.text("origin")?)?,
        generation: generation_from_sql(row.int("generation")?)?,
        holder: row.text("holder")?,
        expires_at: from_sql(row.int("expires_at")?, "time")?,
    })
}

/// `origin, published_generation, version`: one published zone.
pub(crate) fn published_row(row: &impl Columns) -> Result<(Name, Generation, u64), StoreError> {
    Ok((
        name_from_sql(&row.text("origin")?)?,
        generation_from_sql(row.int("published_generation")?)?,
        from_sql(row.int("version")?, "publish count")?,
    ))
}

/// `chain_generations, chain_checkpoint_bytes, chain_delta_bytes`: a plan's stored chain size.
pub(crate) fn chain_size(row: &impl Columns) -> Result<ChainSize, StoreError> {
    Ok(ChainSize {
        generations: from_sql(row.int("chain_generations")?, "chain length")?,
        checkpoint_bytes: from_sql(row.int("chain_checkpoint_bytes")?, "checkpoint length")?,
        delta_bytes: from_sql(row.int("chain_delta_bytes")?, "chain delta length")?,
    })
}

/// `generation, parent, bytes` rows as chain links.
pub(crate) fn links(rows: &[impl Columns]) -> Result<Links, StoreError> {
    rows.iter()
        .map(|row| {
            let link = ChainLink {
                generation: generation_from_sql(row.int("generation")?)?,
                parent: optional_generation_from_sql(row.optional_int("parent")?)?,
                bytes: from_sql(row.int("bytes")?, "body length")?,
            };
            Ok((link.generation, link))
        })
        .collect()
}

/// Plan `generation` from the rows of its chain (`CHAIN_PLANS`), its body rebuilt from the
/// checkpoint; a chain that is broken or does not apply gives an empty body, which every
/// reader refuses as corrupt (see `gate::chain`). `None` if the plan does not exist.
pub(crate) fn rebuilt_plan(
    zone: &Name,
    generation: Generation,
    rows: &[impl Columns],
) -> Result<Option<StoredPlan>, StoreError> {
    let mut by_generation = BTreeMap::new();
    let mut links = Links::new();
    for row in rows {
        let g = generation_from_sql(row.int("generation")?)?;
        let parent = optional_generation_from_sql(row.optional_int("parent")?)?;
        let link = ChainLink {
            generation: g,
            parent,
            bytes: 0,
        };
        links.insert(g, link);
        by_generation.insert(g, row);
    }
    let Some(row) = by_generation.get(&generation) else {
        return Ok(None);
    };
    let mut plan = stored_plan(zone, generation, *row)?;
    if links[&generation].parent.is_some() {
        let bodies = chain::path(&links, generation).map(|path| {
            path.iter()
                .map(|g| by_generation[g].bytes("body"))
                .collect::<Result<Vec<_>, _>>()
        });
        plan.body = match bodies.transpose()? {
            Some(bodies) => chain::rebuild(bodies.into_iter()).unwrap_or_default(),
            None => Vec::new(),
        };
    }
    Ok(Some(plan))
}

/// The steps from `from` to `to` out of `CHAIN_DELTAS`' rows (`generation, parent, hash,
/// body`, every plan of `to`'s chain above `from`); `None` unless they lead from `from`.
pub(crate) fn delta_steps(
    from: Generation,
    to: Generation,
    rows: &[impl Columns],
) -> Result<Option<Vec<DeltaStep>>, StoreError> {
    let mut by_generation = BTreeMap::new();
    for row in rows {
        by_generation.insert(generation_from_sql(row.int("generation")?)?, row);
    }
    let mut steps = Vec::new();
    let mut at = to;
    while at != from {
        let Some(row) = by_generation.get(&at) else {
            return Ok(None);
        };
        let Some(parent) = optional_generation_from_sql(row.optional_int("parent")?)? else {
            // A checkpoint between `from` and `to`.
            return Ok(None);
        };
        steps.push(DeltaStep {
            generation: at,
            delta: row.bytes("body")?,
            hash: hash_from_sql(&row.text("hash")?)?,
        });
        at = parent;
    }
    steps.reverse();
    Ok(Some(steps))
}
