-- zonegate store schema, version 6: plan bodies in their own table (issue 16). The twin of
-- migrations/sqlite/0006_bodies.sql.
--
-- A plan's row holds what the publish protocol reads and moves; its body moves to
-- `plan_bodies`. PostgreSQL keeps a large body out of line (TOAST) and does not copy it when
-- another column of the row changes, so here the split is for one schema on both engines: on
-- SQLite, a status change rewrote the whole body.
--
-- The schema keeps what the body column gave (I3 and the immutability of plans):
--   - a plan cannot be staged without its non-empty body (CHECK on the body, and the foreign
--     key plans_body_fkey: the store inserts the body first, in the same transaction);
--   - a body goes with its plan and only then (the same foreign key, ON DELETE RESTRICT, and
--     the trigger plans_drop_body);
--   - a body is fixed once staged, but for a compaction (version 5): it may be replaced only
--     while its plan is a delta, and the plan's parent may only go from a generation to NULL,
--     both in the compaction's one transaction (Store::compact). As before, every reader
--     checks the rebuilt body against the plan's hash.
--
-- Each plan also keeps the size of its chain (chain_generations, chain_checkpoint_bytes,
-- chain_delta_bytes: what the chain rules of crates/core/src/gate/chain.rs read), written
-- when it is staged from its parent's, so that a stage and a compaction's check read one row
-- instead of walking the chain (a 1M zone's UPDATE stream walked 2,000 rows twice per UPDATE
-- before a compaction). A compaction makes a plan a checkpoint and shortens the chains of the
-- plans above it; it rewrites their sizes in the same transaction. The sizes decide only how
-- plans are stored, never what they are: a wrong size makes a chain longer or shorter than
-- its bound, and every reader still checks what it rebuilds against the plan's hash.

CREATE TABLE plan_bodies (
    origin     TEXT   NOT NULL,
    generation BIGINT NOT NULL CHECK (generation > 0),
    body       BYTEA  NOT NULL CHECK (octet_length(body) > 0),
    PRIMARY KEY (origin, generation)
);

INSERT INTO plan_bodies (origin, generation, body) SELECT origin, generation, body FROM plans;

DROP TRIGGER plans_immutable ON plans;
DROP TRIGGER plans_parent_immutable ON plans;

ALTER TABLE plans DROP COLUMN body;

ALTER TABLE plans ADD COLUMN chain_generations BIGINT NOT NULL DEFAULT 1
    CHECK (chain_generations > 0);
ALTER TABLE plans ADD COLUMN chain_checkpoint_bytes BIGINT NOT NULL DEFAULT 0
    CHECK (chain_checkpoint_bytes >= 0);
ALTER TABLE plans ADD COLUMN chain_delta_bytes BIGINT NOT NULL DEFAULT 0
    CHECK (chain_delta_bytes >= 0);

-- Every plan's chain size, walking up from each checkpoint (after the body column is gone:
-- on SQLite an UPDATE of a row with its body would write the body again).
WITH RECURSIVE sizes (origin, generation, n, checkpoint, deltas) AS (
    SELECT p.origin, p.generation, CAST(1 AS BIGINT), CAST(octet_length(b.body) AS BIGINT),
           CAST(0 AS BIGINT)
    FROM plans p JOIN plan_bodies b ON b.origin = p.origin AND b.generation = p.generation
    WHERE p.parent IS NULL
    UNION ALL
    SELECT p.origin, p.generation, s.n + 1, s.checkpoint,
           s.deltas + CAST(octet_length(b.body) AS BIGINT)
    FROM plans p JOIN sizes s ON p.origin = s.origin AND p.parent = s.generation
    JOIN plan_bodies b ON b.origin = p.origin AND b.generation = p.generation)
UPDATE plans SET chain_generations = sizes.n, chain_checkpoint_bytes = sizes.checkpoint,
                 chain_delta_bytes = sizes.deltas
FROM sizes WHERE plans.origin = sizes.origin AND plans.generation = sizes.generation;

ALTER TABLE plans ADD CONSTRAINT plans_body_fkey
    FOREIGN KEY (origin, generation) REFERENCES plan_bodies (origin, generation)
    ON DELETE RESTRICT;

CREATE TRIGGER plans_immutable
    BEFORE UPDATE OF origin, generation, base, hash, record_count, created_at ON plans
    FOR EACH ROW EXECUTE FUNCTION zonegate_refuse('plans are immutable once staged');

CREATE TRIGGER plans_parent_immutable
    BEFORE UPDATE OF parent ON plans
    FOR EACH ROW
    WHEN (NOT (OLD.parent IS NOT NULL AND NEW.parent IS NULL))
    EXECUTE FUNCTION zonegate_refuse('plans are immutable once staged');

CREATE FUNCTION plans_drop_body() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM plan_bodies WHERE origin = OLD.origin AND generation = OLD.generation;
    RETURN OLD;
END
$$;

CREATE TRIGGER plans_drop_body AFTER DELETE ON plans
    FOR EACH ROW EXECUTE FUNCTION plans_drop_body();

CREATE FUNCTION plan_bodies_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.origin <> OLD.origin OR NEW.generation <> OLD.generation
       OR NEW.body IS NOT DISTINCT FROM OLD.body
       OR NOT EXISTS (SELECT 1 FROM plans WHERE origin = OLD.origin
                      AND generation = OLD.generation AND parent IS NOT NULL)
    THEN
        RAISE EXCEPTION 'plans are immutable once staged' USING ERRCODE = '23000';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER plan_bodies_immutable BEFORE UPDATE ON plan_bodies
    FOR EACH ROW EXECUTE FUNCTION plan_bodies_immutable();

CREATE TRIGGER plan_bodies_no_truncate BEFORE TRUNCATE ON plan_bodies
    FOR EACH STATEMENT EXECUTE FUNCTION zonegate_refuse('plans are deleted by clean-up only, never truncated');
