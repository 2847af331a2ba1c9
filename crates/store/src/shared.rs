//! The statements both engines run word for word, written once.
//!
//! SQLite and PostgreSQL agree on most of what the steps say: `$N` placeholders (SQLite reads
//! `$1` as parameter 1, and sqlx binds it so), `IS NOT DISTINCT FROM`, `ON CONFLICT … DO
//! UPDATE`, `RETURNING`, `COUNT(*)` as a 64-bit integer. What differs stays in each engine's
//! own file: how a write transaction starts (`BEGIN IMMEDIATE` against the zone row lock), the
//! error mapping, `NOTIFY`, and the few statements whose SQL really differs. sqlx's connection
//! types share no trait these statements could be written against without a wall of bounds,
//! so [`engine_statements!`] writes the same functions for each engine's connection type: the
//! same text, checked by the compiler against each.
//!
//! Every function runs inside the caller's transaction, after whatever lock the engine takes.

/// The statements of [`zonegate_core::gate::Store`] that both engines share, as functions on
/// `$conn` (`SqliteConnection` or `PgConnection`), mapping errors with `$store_error`.
macro_rules! engine_statements {
    ($conn:ty, $store_error:path) => {
        use zonegate_core::gate::chain::{self, ChainSize, CheckpointWhen, Layout};
        use zonegate_core::gate::{
            AuditEntry, Compaction, DeltaStep, Generation, NewPlan, PlanBody, PlanHead, PlanStatus, Published,
            StoreError, StoredPlan, Verdict, cleanup_audit_entry, optional_reason, verdict_move,
        };
        use zonegate_core::zone::serial::SerialRequest;
        use zonegate_core::{ContentHash, Name};

        use $crate::rows::Columns;
        use $crate::{
            CHAIN_DELTAS, CHAIN_PLANS, HORIZON, PUBLISH_CAS, corrupt, from_sql,
            generation_from_sql, optional_generation_from_sql, rows, serial_from_sql, to_sql,
            verdict_from_sql,
        };

        /// The zone's published pointer, if anything was ever published.
        pub(crate) async fn published_in(
            conn: &mut $conn,
            zone: &Name,
        ) -> Result<Option<Published>, StoreError> {
            let row = sqlx::query(
                "SELECT published_generation, version, published_serial FROM zones
                 WHERE origin = $1 AND published_generation IS NOT NULL",
            )
            .bind(zone.to_string())
            .fetch_optional(conn)
            .await
            .map_err($store_error)?;
            row.map(|row| {
                Ok(Published {
                    generation: generation_from_sql(row.int("published_generation")?)?,
                    publish_count: from_sql(row.int("version")?, "publish count")?,
                    serial: row
                        .optional_int("published_serial")?
                        .map(serial_from_sql)
                        .transpose()?
                        .ok_or_else(|| corrupt("published serial"))?,
                })
            })
            .transpose()
        }

        /// The newest stored plan's generation.
        pub(crate) async fn newest_in(
            conn: &mut $conn,
            zone: &Name,
        ) -> Result<Option<Generation>, StoreError> {
            let newest = sqlx::query_scalar::<_, Option<i64>>(
                "SELECT MAX(generation) FROM plans WHERE origin = $1",
            )
            .bind(zone.to_string())
            .fetch_one(conn)
            .await
            .map_err($store_error)?;
            optional_generation_from_sql(newest)
        }

        /// Plan `generation` with its full body, rebuilt from its chain: one statement, so one
        /// snapshot on both engines.
        pub(crate) async fn load_plan_in(
            conn: &mut $conn,
            zone: &Name,
            generation: Generation,
        ) -> Result<Option<StoredPlan>, StoreError> {
            let found = sqlx::query(CHAIN_PLANS)
                .bind(zone.to_string())
                .bind(to_sql(generation.0)?)
                .fetch_all(conn)
                .await
                .map_err($store_error)?;
            rows::rebuilt_plan(zone, generation, &found)
        }

        /// Plan `generation`'s row without its body (see
        /// [`zonegate_core::gate::Store::load_head`]).
        pub(crate) async fn load_head_in(
            conn: &mut $conn,
            zone: &Name,
            generation: Generation,
        ) -> Result<Option<PlanHead>, StoreError> {
            let row = sqlx::query(
                "SELECT base, hash, record_count, created_at, status, verdict, serial
                 FROM plans WHERE origin = $1 AND generation = $2",
            )
            .bind(zone.to_string())
            .bind(to_sql(generation.0)?)
            .fetch_optional(conn)
            .await
            .map_err($store_error)?;
            row.map(|row| rows::plan_head(zone, generation, &row))
                .transpose()
        }

        /// The deltas from `from` to `to` (see [`zonegate_core::gate::Store::load_deltas`]).
        pub(crate) async fn load_deltas_in(
            conn: &mut $conn,
            zone: &Name,
            from: Generation,
            to: Generation,
        ) -> Result<Option<Vec<DeltaStep>>, StoreError> {
            if from >= to {
                let exists = plan_exists(conn, &zone.to_string(), to_sql(to.0)?).await?;
                return Ok((from == to && exists).then(Vec::new));
            }
            let found = sqlx::query(CHAIN_DELTAS)
                .bind(zone.to_string())
                .bind(to_sql(to.0)?)
                .bind(to_sql(from.0)?)
                .fetch_all(conn)
                .await
                .map_err($store_error)?;
            rows::delta_steps(from, to, &found)
        }

        /// The size of `generation`'s chain, kept with its row (migration 0006), and its
        /// parent; `None` if the plan does not exist.
        async fn chain_size_in(
            conn: &mut $conn,
            origin: &str,
            generation: Generation,
        ) -> Result<Option<(ChainSize, Option<Generation>)>, StoreError> {
            let row = sqlx::query(
                "SELECT parent, chain_generations, chain_checkpoint_bytes, chain_delta_bytes
                 FROM plans WHERE origin = $1 AND generation = $2",
            )
            .bind(origin)
            .bind(to_sql(generation.0)?)
            .fetch_optional(conn)
            .await
            .map_err($store_error)?;
            row.map(|row| {
                let parent = optional_generation_from_sql(row.optional_int("parent")?)?;
                Ok((rows::chain_size(&row)?, parent))
            })
            .transpose()
        }

        /// What to store for an offered body: the bytes, the parent (`None` for a
        /// checkpoint) and the chain's size with it, decided by [`chain::layout`] inside the
        /// stage step from the parent's stored chain size (one row, not the chain).
        async fn layout_in(
            conn: &mut $conn,
            zone: &Name,
            body: PlanBody,
            (checkpoint_every, when): (u32, CheckpointWhen),
        ) -> Result<(Vec<u8>, Option<Generation>, ChainSize), StoreError> {
            let (parent, delta) = match body {
                PlanBody::Full(body) => {
                    let size = ChainSize::checkpoint(body.len() as u64);
                    return Ok((body, None, size));
                }
                PlanBody::Delta { parent, delta } => (parent, delta),
            };
            let layout = chain_size_in(conn, &zone.to_string(), parent)
                .await?
                .map(|(size, _)| (size, size.layout(delta.len() as u64, checkpoint_every, when)));
            match layout {
                Some((size, Layout::Delta)) => {
                    let size = size.with(delta.len() as u64);
                    Ok((delta, Some(parent), size))
                }
                Some((_, Layout::Checkpoint)) => {
                    let parent_body = load_plan_in(conn, zone, parent)
                        .await?
                        .map(|p| p.body)
                        .unwrap_or_default();
                    let body = chain::rebuild([parent_body, delta].into_iter()).map_err(|e| {
                        StoreError::Constraint {
                            detail: format!("the delta does not fit its parent {parent}: {e}"),
                        }
                    })?;
                    let size = ChainSize::checkpoint(body.len() as u64);
                    Ok((body, None, size))
                }
                None | Some((_, Layout::ParentMissing)) => Err(StoreError::PlanMissing {
                    zone: zone.clone(),
                    generation: parent,
                }),
            }
        }

        /// The read half of a compaction ([`zonegate_core::gate::Store::compact`]), outside
        /// any write lock: `Some((parent, body))` when `generation` is a delta past the usual
        /// bound, its body rebuilt and checked against its hash; else what the compaction
        /// ends with.
        pub(crate) async fn compact_read_in(
            conn: &mut $conn,
            zone: &Name,
            generation: Generation,
            checkpoint_every: u32,
        ) -> Result<Result<(Generation, Vec<u8>), Compaction>, StoreError> {
            let Some((size, parent)) = chain_size_in(conn, &zone.to_string(), generation).await?
            else {
                return Ok(Err(Compaction::Gone));
            };
            let Some(parent) = parent.filter(|_| size.due(checkpoint_every)) else {
                return Ok(Err(Compaction::NotDue));
            };
            let Some(plan) = load_plan_in(conn, zone, generation).await? else {
                return Ok(Err(Compaction::Gone));
            };
            if !plan.hash.matches_body(&plan.body) {
                return Err(StoreError::Constraint {
                    detail: format!(
                        "{generation} of {zone} does not rebuild to its hash; it stays a delta"
                    ),
                });
            }
            Ok(Ok((parent, plan.body)))
        }

        /// The write half of a compaction: the row becomes a checkpoint only while it is still
        /// the delta on `parent` that was read.
        pub(crate) async fn compact_write_in(
            conn: &mut $conn,
            zone: &Name,
            generation: Generation,
            parent: Generation,
            body: Vec<u8>,
        ) -> Result<Compaction, StoreError> {
            let bytes = body.len() as u64;
            // The body first, while the row is still that delta (the schema allows a body to
            // change only then), then the parent: both in the caller's transaction.
            let done = sqlx::query(
                "UPDATE plan_bodies SET body = $1
                 WHERE origin = $2 AND generation = $3
                   AND EXISTS (SELECT 1 FROM plans
                               WHERE origin = $2 AND generation = $3 AND parent = $4)",
            )
            .bind(body)
            .bind(zone.to_string())
            .bind(to_sql(generation.0)?)
            .bind(to_sql(parent.0)?)
            .execute(&mut *conn)
            .await
            .map_err($store_error)?;
            if done.rows_affected() == 1 {
                // The plans above it lose the chain below it, from its sizes before the change.
                sqlx::query(
                    "WITH RECURSIVE above (generation) AS (
                         SELECT generation FROM plans WHERE origin = $1 AND parent = $2
                         UNION ALL
                         SELECT p.generation FROM plans p JOIN above a
                                ON p.origin = $1 AND p.parent = a.generation)
                     UPDATE plans SET
                         chain_generations = chain_generations
                             - (SELECT chain_generations - 1 FROM plans
                                WHERE origin = $1 AND generation = $2),
                         chain_delta_bytes = chain_delta_bytes
                             - (SELECT chain_delta_bytes FROM plans
                                WHERE origin = $1 AND generation = $2),
                         chain_checkpoint_bytes = $3
                     WHERE origin = $1 AND generation IN (SELECT generation FROM above)",
                )
                .bind(zone.to_string())
                .bind(to_sql(generation.0)?)
                .bind(to_sql(bytes)?)
                .execute(&mut *conn)
                .await
                .map_err($store_error)?;
                sqlx::query(
                    "UPDATE plans SET parent = NULL, chain_generations = 1, chain_delta_bytes = 0,
                                      chain_checkpoint_bytes = $4
                     WHERE origin = $1 AND generation = $2 AND parent = $3",
                )
                .bind(zone.to_string())
                .bind(to_sql(generation.0)?)
                .bind(to_sql(parent.0)?)
                .bind(to_sql(bytes)?)
                .execute(&mut *conn)
                .await
                .map_err($store_error)?;
                return Ok(Compaction::Written { bytes });
            }
            // Compacted or cleaned up since it was read.
            let origin = zone.to_string();
            Ok(if plan_exists(conn, &origin, to_sql(generation.0)?).await? {
                Compaction::NotDue
            } else {
                Compaction::Gone
            })
        }

        /// The statements of a stage after the zone's row exists (and, on PostgreSQL, is
        /// locked): the layout, the generation, the plan and its audit row.
        pub(crate) async fn stage_in(
            conn: &mut $conn,
            plan: NewPlan,
            mut audit: AuditEntry,
        ) -> Result<Generation, StoreError> {
            let origin = plan.zone.to_string();
            if let PlanBody::Delta { parent, .. } = &plan.body
                && Some(*parent) != plan.base
            {
                return Err(StoreError::Constraint {
                    detail: format!("a delta's parent ({parent}) must be the plan's base"),
                });
            }
            let (body, parent, size) =
                layout_in(
                    conn,
                    &plan.zone,
                    plan.body,
                    (plan.checkpoint_every, plan.checkpoint_when),
                )
                .await?;
            // Taking the number and bumping the counter is one statement; the counter never
            // goes back (a trigger refuses it), so a generation is never handed out twice,
            // even after clean-up deleted its plan.
            let taken = sqlx::query_scalar::<_, i64>(
                "UPDATE zones SET next_generation = next_generation + 1 WHERE origin = $1
                 RETURNING next_generation - 1",
            )
            .bind(&origin)
            .fetch_one(&mut *conn)
            .await
            .map_err($store_error)?;
            // The body first: the schema refuses a plan without one (I3).
            sqlx::query("INSERT INTO plan_bodies (origin, generation, body) VALUES ($1, $2, $3)")
                .bind(&origin)
                .bind(taken)
                // By value: a borrowed body would be copied once more on its way to the database.
                .bind(body)
                .execute(&mut *conn)
                .await
                .map_err($store_error)?;
            sqlx::query(
                "INSERT INTO plans (origin, generation, base, hash, record_count,
                                    created_at, status, verdict, parent, chain_generations,
                                    chain_checkpoint_bytes, chain_delta_bytes)
                 VALUES ($1, $2, $3, $4, $5, $6, $8, $7, $9, $10, $11, $12)",
            )
            .bind(&origin)
            .bind(taken)
            .bind(plan.base.map(|b| to_sql(b.0)).transpose()?)
            .bind(plan.hash.to_string())
            .bind(to_sql(plan.record_count)?)
            .bind(to_sql(plan.created_at)?)
            .bind(plan.verdict.as_str())
            .bind(PlanStatus::Staged.as_str())
            .bind(parent.map(|p| to_sql(p.0)).transpose()?)
            .bind(to_sql(size.generations)?)
            .bind(to_sql(size.checkpoint_bytes)?)
            .bind(to_sql(size.delta_bytes)?)
            .execute(&mut *conn)
            .await
            .map_err($store_error)?;
            let generation = generation_from_sql(taken)?;
            audit.generation = Some(generation);
            insert_audit(conn, &audit).await?;
            Ok(generation)
        }

        /// Appends one audit row.
        pub(crate) async fn insert_audit(
            conn: &mut $conn,
            entry: &AuditEntry,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO audit (at, origin, generation, action, reason, detail, actor)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(to_sql(entry.at)?)
            .bind(entry.zone.to_string())
            .bind(entry.generation.map(|g| to_sql(g.0)).transpose()?)
            .bind(entry.action.as_str())
            .bind(optional_reason::to_text(&entry.reason))
            .bind(&entry.detail)
            .bind(entry.actor.as_str())
            .execute(conn)
            .await
            .map_err($store_error)?;
            Ok(())
        }

        pub(crate) async fn plan_exists(
            conn: &mut $conn,
            origin: &str,
            generation: i64,
        ) -> Result<bool, StoreError> {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM plans WHERE origin = $1 AND generation = $2",
            )
            .bind(origin)
            .bind(generation)
            .fetch_one(conn)
            .await
            .map(|n| n != 0)
            .map_err($store_error)
        }

        async fn published_generation(
            conn: &mut $conn,
            origin: &str,
        ) -> Result<Option<Generation>, StoreError> {
            let published = sqlx::query_scalar::<_, Option<i64>>(
                "SELECT published_generation FROM zones WHERE origin = $1",
            )
            .bind(origin)
            .fetch_optional(&mut *conn)
            .await
            .map_err($store_error)?
            .flatten();
            optional_generation_from_sql(published)
        }

        /// Why the compare-and-swap changed nothing: `PlanMissing`, `Stale` or
        /// `Unpublishable`, in that order, read inside the step's transaction.
        async fn why_lost(
            conn: &mut $conn,
            zone: &Name,
            offered: Generation,
            base: Option<Generation>,
        ) -> Result<StoreError, StoreError> {
            let origin = zone.to_string();
            let g = to_sql(offered.0)?;
            if !plan_exists(conn, &origin, g).await? {
                return Ok(StoreError::PlanMissing {
                    zone: zone.clone(),
                    generation: offered,
                });
            }
            let published = published_generation(conn, &origin).await?;
            if published != base || published.is_some_and(|p| p >= offered) {
                return Ok(StoreError::Stale {
                    offered,
                    base,
                    published,
                });
            }
            let verdict = sqlx::query_scalar::<_, String>(
                "SELECT verdict FROM plans WHERE origin = $1 AND generation = $2",
            )
            .bind(&origin)
            .bind(g)
            .fetch_one(&mut *conn)
            .await
            .map_err($store_error)?;
            Ok(StoreError::Unpublishable {
                zone: zone.clone(),
                generation: offered,
                verdict: verdict_from_sql(&verdict)?,
            })
        }

        /// The compare-and-swap with its serial, statuses and audit row (the caller commits;
        /// on a lost race it returns why, and the caller rolls back).
        pub(crate) async fn publish_in(
            conn: &mut $conn,
            zone: &Name,
            generation: Generation,
            expected_base: Option<Generation>,
            serial: SerialRequest,
            mut audit: AuditEntry,
        ) -> Result<Published, StoreError> {
            let origin = zone.to_string();
            let g = to_sql(generation.0)?;
            let base = expected_base.map(|b| to_sql(b.0)).transpose()?;
            // The serial is decided inside the step, from the serial published now: if the
            // compare-and-swap below succeeds, that is the serial of the generation it replaces.
            let previous = sqlx::query_scalar::<_, Option<i64>>(
                "SELECT published_serial FROM zones WHERE origin = $1",
            )
            .bind(&origin)
            .fetch_optional(&mut *conn)
            .await
            .map_err($store_error)?
            .flatten()
            .map(serial_from_sql)
            .transpose()?;
            let decided = serial.decide(previous, generation);
            // THE compare-and-swap: the freshness check, the verdict check and the pointer
            // write are one statement.
            let publish_count = sqlx::query_scalar::<_, i64>(&PUBLISH_CAS)
                .bind(g)
                .bind(&origin)
                .bind(base)
                .bind(to_sql(audit.at)?)
                .bind(i64::from(decided))
                .fetch_optional(&mut *conn)
                .await
                .map_err($store_error)?;
            let Some(publish_count) = publish_count else {
                return Err(why_lost(conn, zone, generation, expected_base).await?);
            };
            sqlx::query(
                "UPDATE plans SET status = $3
                 WHERE origin = $1 AND status = $4 AND generation <> $2",
            )
            .bind(&origin)
            .bind(g)
            .bind(PlanStatus::Superseded.as_str())
            .bind(PlanStatus::Published.as_str())
            .execute(&mut *conn)
            .await
            .map_err($store_error)?;
            sqlx::query(
                "UPDATE plans SET status = $3, serial = $4 WHERE origin = $1 AND generation = $2",
            )
            .bind(&origin)
            .bind(g)
            .bind(PlanStatus::Published.as_str())
            .bind(i64::from(decided))
            .execute(&mut *conn)
            .await
            .map_err($store_error)?;
            audit.generation.get_or_insert(generation);
            insert_audit(conn, &audit).await?;
            Ok(Published {
                generation,
                publish_count: from_sql(publish_count, "publish count")?,
                serial: decided,
            })
        }

        /// Pins a plan that exists (`PlanMissing` otherwise), renewing a pin already held.
        pub(crate) async fn pin_in(
            conn: &mut $conn,
            zone: &Name,
            generation: Generation,
            holder: &str,
            expires_at: u64,
        ) -> Result<(), StoreError> {
            let pinned = sqlx::query(
                "INSERT INTO pins (origin, generation, holder, expires_at)
                 SELECT $1, $2, $3, $4
                 WHERE EXISTS (SELECT 1 FROM plans WHERE origin = $1 AND generation = $2)
                 ON CONFLICT (origin, generation, holder)
                    DO UPDATE SET expires_at = excluded.expires_at",
            )
            .bind(zone.to_string())
            .bind(to_sql(generation.0)?)
            .bind(holder)
            .bind(to_sql(expires_at)?)
            .execute(conn)
            .await
            .map_err($store_error)?
            .rows_affected();
            if pinned == 0 {
                return Err(StoreError::PlanMissing {
                    zone: zone.clone(),
                    generation,
                });
            }
            Ok(())
        }

        pub(crate) async fn unpin_in(
            conn: &mut $conn,
            zone: &Name,
            generation: Generation,
            holder: &str,
        ) -> Result<(), StoreError> {
            sqlx::query("DELETE FROM pins WHERE origin = $1 AND generation = $2 AND holder = $3")
                .bind(zone.to_string())
                .bind(to_sql(generation.0)?)
                .bind(holder)
                .execute(conn)
                .await
                .map_err($store_error)?;
            Ok(())
        }

        /// Moves (or renews) a target's row, only forward.
        pub(crate) async fn record_target_in(
            conn: &mut $conn,
            target: &str,
            zone: &Name,
            generation: Generation,
            now: u64,
        ) -> Result<(), StoreError> {
            let origin = zone.to_string();
            let g = to_sql(generation.0)?;
            let now_sql = to_sql(now)?;
            let held = sqlx::query_scalar::<_, i64>(
                "SELECT generation FROM targets WHERE target = $1 AND origin = $2",
            )
            .bind(target)
            .bind(&origin)
            .fetch_optional(&mut *conn)
            .await
            .map_err($store_error)?;
            let newer = |held: i64| -> Result<StoreError, StoreError> {
                Ok(StoreError::TargetNewer {
                    target: target.to_string(),
                    held: generation_from_sql(held)?,
                    offered: generation,
                })
            };
            if let Some(held) = held.filter(|held| *held > g) {
                return Err(newer(held)?);
            }
            if held == Some(g) {
                // The same generation again: the target is alive, its lease runs from now.
                sqlx::query("UPDATE targets SET updated_at = $3 WHERE target = $1 AND origin = $2")
                    .bind(target)
                    .bind(&origin)
                    .bind(now_sql)
                    .execute(&mut *conn)
                    .await
                    .map_err($store_error)?;
                return Ok(());
            }
            if !plan_exists(conn, &origin, g).await? {
                return Err(StoreError::PlanMissing {
                    zone: zone.clone(),
                    generation,
                });
            }
            // The write carries the same "only forward" condition as the check above, and a
            // trigger refuses any other update: the step's lock makes the check hold anyway,
            // the condition keeps it true even if this code changes.
            let moved = sqlx::query(
                "INSERT INTO targets (target, origin, generation, updated_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (target, origin) DO UPDATE
                    SET generation = excluded.generation, updated_at = excluded.updated_at
                    WHERE excluded.generation > targets.generation",
            )
            .bind(target)
            .bind(&origin)
            .bind(g)
            .bind(now_sql)
            .execute(&mut *conn)
            .await
            .map_err($store_error)?
            .rows_affected();
            if moved != 1 {
                return Err(newer(held.unwrap_or(g))?);
            }
            Ok(())
        }

        /// Drops expired pins and lapsed target rows, then returns the horizon (`None` when
        /// nothing was ever published).
        pub(crate) async fn expire_and_horizon(
            conn: &mut $conn,
            origin: &str,
            target_lease_s: u64,
            now: u64,
        ) -> Result<Option<Generation>, StoreError> {
            let now_sql = to_sql(now)?;
            // Expired pins first: a crashed enactor's pin must not hold plans forever, and the
            // RESTRICT foreign key would refuse to delete a plan that still has one.
            sqlx::query("DELETE FROM pins WHERE origin = $1 AND expires_at <= $2")
                .bind(origin)
                .bind(now_sql)
                .execute(&mut *conn)
                .await
                .map_err($store_error)?;
            // Likewise targets that have not renewed their row within the lease: they are gone
            // (a server that ended for good), and must not hold clean-up back forever.
            if let Some(cutoff) = now.checked_sub(target_lease_s) {
                sqlx::query("DELETE FROM targets WHERE origin = $1 AND updated_at < $2")
                    .bind(origin)
                    .bind(to_sql(cutoff)?)
                    .execute(&mut *conn)
                    .await
                    .map_err($store_error)?;
            }
            let horizon = sqlx::query_scalar::<_, Option<i64>>(&format!("SELECT {HORIZON}"))
                .bind(origin)
                .bind(now_sql)
                .fetch_one(&mut *conn)
                .await
                .map_err($store_error)?;
            optional_generation_from_sql(horizon)
        }

        /// Clean-up inside the step's transaction (see [`zonegate_core::gate::Store::cleanup`]).
        pub(crate) async fn cleanup_in(
            conn: &mut $conn,
            zone: &Name,
            keep: u32,
            target_lease_s: u64,
            now: u64,
        ) -> Result<u64, StoreError> {
            let origin = zone.to_string();
            let Some(horizon) = expire_and_horizon(conn, &origin, target_lease_s, now).await?
            else {
                return Ok(0);
            };
            // Every plan on the newest one's chain (the deltas since a checkpoint that a
            // stream of UPDATEs leaves): the newest always stays (it is at or above the
            // horizon), so its whole chain does, and nothing can go. One count over the key
            // and one row, not every plan's row; a stored chain size that was wrong could only
            // keep more.
            let (plans, newest_chain) = sqlx::query_as::<_, (i64, Option<i64>)>(
                "SELECT COUNT(*), (SELECT chain_generations FROM plans WHERE origin = $1
                                   ORDER BY generation DESC LIMIT 1)
                 FROM plans WHERE origin = $1",
            )
            .bind(&origin)
            .fetch_one(&mut *conn)
            .await
            .map_err($store_error)?;
            if newest_chain == Some(plans) {
                return Ok(0);
            }
            // Which plans go is decided in Rust over every plan's parent (the closure of what
            // stays, `chain::doomed`); each DELETE repeats the horizon condition, recomputed in
            // the statement that deletes, under the same lock, and the schema refuses to delete
            // a plan another still needs. Children go before their parents.
            let found = sqlx::query("SELECT generation, parent, CAST(0 AS BIGINT) AS bytes FROM plans WHERE origin = $1")
                .bind(&origin)
                .fetch_all(&mut *conn)
                .await
                .map_err($store_error)?;
            let mut deleted = 0;
            for g in chain::doomed(&rows::links(&found)?, horizon, keep) {
                deleted += sqlx::query(&format!(
                    "DELETE FROM plans WHERE origin = $1 AND generation = $3 AND generation < {HORIZON}"
                ))
                .bind(&origin)
                .bind(to_sql(now)?)
                .bind(to_sql(g.0)?)
                .execute(&mut *conn)
                .await
                .map_err($store_error)?
                .rows_affected();
            }
            if deleted > 0 {
                let entry = cleanup_audit_entry(zone, deleted, horizon, keep, now);
                insert_audit(conn, &entry).await?;
            }
            Ok(deleted)
        }

        /// Moves a staged plan's verdict, bound to its hash (see
        /// [`zonegate_core::gate::Store::set_verdict`]).
        pub(crate) async fn set_verdict_in(
            conn: &mut $conn,
            zone: &Name,
            generation: Generation,
            hash: Option<ContentHash>,
            to: Verdict,
            mut audit: AuditEntry,
        ) -> Result<Verdict, StoreError> {
            let origin = zone.to_string();
            let g = to_sql(generation.0)?;
            let row = sqlx::query(
                "SELECT hash, status, verdict FROM plans WHERE origin = $1 AND generation = $2",
            )
            .bind(&origin)
            .bind(g)
            .fetch_optional(&mut *conn)
            .await
            .map_err($store_error)?;
            let Some(row) = row else {
                return Err(StoreError::PlanMissing {
                    zone: zone.clone(),
                    generation,
                });
            };
            let recorded = $crate::hash_from_sql(&row.text("hash")?)?;
            let status =
                PlanStatus::parse(&row.text("status")?).ok_or_else(|| corrupt("plan status"))?;
            let verdict = verdict_from_sql(&row.text("verdict")?)?;
            verdict_move(zone, generation, recorded, hash, (status, verdict), to)?;
            // The UPDATE repeats the conditions, and the trigger `plans_verdict_moves` refuses
            // any other move.
            let moved = sqlx::query(
                "UPDATE plans SET verdict = $3
                 WHERE origin = $1 AND generation = $2 AND status = $6 AND verdict = $4
                   AND hash = $5",
            )
            .bind(&origin)
            .bind(g)
            .bind(to.as_str())
            .bind(verdict.as_str())
            .bind(recorded.to_string())
            .bind(PlanStatus::Staged.as_str())
            .execute(&mut *conn)
            .await
            .map_err($store_error)?
            .rows_affected();
            if moved != 1 {
                return Err(StoreError::Constraint {
                    detail: format!("the verdict of {generation} of {zone} moved under the lock"),
                });
            }
            audit.generation.get_or_insert(generation);
            insert_audit(conn, &audit).await?;
            Ok(verdict)
        }
    };
}

pub(crate) use engine_statements;
