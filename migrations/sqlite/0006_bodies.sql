-- zonegate store schema, version 6: plan bodies in their own table (issue 16).
--
-- A plan's row holds what the publish protocol reads and moves (status, verdict, serial,
-- parent); its body, the one large value, moves to `plan_bodies`. SQLite writes a row anew
-- when any of its columns changes, so with the body in the row, superseding a published
-- checkpoint (its status goes from 'published' to 'superseded') rewrote the whole body: 35 MB
-- and about 110 ms for a million records, paid by the first DNS UPDATE after an `apply`. Now a
-- status change writes a few dozen octets, and only a compaction writes a body again.
--
-- The schema keeps what the body column gave (I3 and the immutability of plans):
--   - a plan cannot be staged without its non-empty body (CHECK on the body, and the trigger
--     plans_have_body: the store inserts the body first, in the same transaction);
--   - a body goes with its plan and only then (triggers plans_drop_body, plan_bodies_keep:
--     clean-up deletes plans, never bodies; both hold with foreign keys off);
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
    origin     TEXT    NOT NULL,
    generation INTEGER NOT NULL CHECK (generation > 0),
    body       BLOB    NOT NULL CHECK (length(body) > 0),
    PRIMARY KEY (origin, generation)
) STRICT;

INSERT INTO plan_bodies (origin, generation, body) SELECT origin, generation, body FROM plans;

DROP TRIGGER plans_immutable;
DROP TRIGGER plans_parent_immutable;

ALTER TABLE plans DROP COLUMN body;

ALTER TABLE plans ADD COLUMN chain_generations INTEGER NOT NULL DEFAULT 1
    CHECK (chain_generations > 0);
ALTER TABLE plans ADD COLUMN chain_checkpoint_bytes INTEGER NOT NULL DEFAULT 0
    CHECK (chain_checkpoint_bytes >= 0);
ALTER TABLE plans ADD COLUMN chain_delta_bytes INTEGER NOT NULL DEFAULT 0
    CHECK (chain_delta_bytes >= 0);

-- Every plan's chain size, walking up from each checkpoint (after the body column is gone:
-- on SQLite an UPDATE of a row with its body would write the body again).
WITH RECURSIVE sizes (origin, generation, n, checkpoint, deltas) AS (
    SELECT p.origin, p.generation, 1, length(b.body), 0
    FROM plans p JOIN plan_bodies b ON b.origin = p.origin AND b.generation = p.generation
    WHERE p.parent IS NULL
    UNION ALL
    SELECT p.origin, p.generation, s.n + 1, s.checkpoint, s.deltas + length(b.body)
    FROM plans p JOIN sizes s ON p.origin = s.origin AND p.parent = s.generation
    JOIN plan_bodies b ON b.origin = p.origin AND b.generation = p.generation)
UPDATE plans SET chain_generations = sizes.n, chain_checkpoint_bytes = sizes.checkpoint,
                 chain_delta_bytes = sizes.deltas
FROM sizes WHERE plans.origin = sizes.origin AND plans.generation = sizes.generation;

CREATE TRIGGER plans_immutable
BEFORE UPDATE OF origin, generation, base, hash, record_count, created_at ON plans
BEGIN
    SELECT RAISE(ABORT, 'plans are immutable once staged');
END;

CREATE TRIGGER plans_parent_immutable BEFORE UPDATE OF parent ON plans
WHEN NOT (OLD.parent IS NOT NULL AND NEW.parent IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'plans are immutable once staged');
END;

CREATE TRIGGER plans_have_body BEFORE INSERT ON plans
WHEN NOT EXISTS (SELECT 1 FROM plan_bodies
                 WHERE origin = NEW.origin AND generation = NEW.generation)
BEGIN
    SELECT RAISE(ABORT, 'a plan needs its body: insert it into plan_bodies first');
END;

CREATE TRIGGER plans_drop_body AFTER DELETE ON plans
BEGIN
    DELETE FROM plan_bodies WHERE origin = OLD.origin AND generation = OLD.generation;
END;

CREATE TRIGGER plan_bodies_keep BEFORE DELETE ON plan_bodies
WHEN EXISTS (SELECT 1 FROM plans WHERE origin = OLD.origin AND generation = OLD.generation)
BEGIN
    SELECT RAISE(ABORT, 'a body is deleted only with its plan: delete the plan');
END;

CREATE TRIGGER plan_bodies_immutable BEFORE UPDATE ON plan_bodies
WHEN NOT (NEW.origin = OLD.origin AND NEW.generation = OLD.generation
          AND NEW.body IS NOT OLD.body
          AND EXISTS (SELECT 1 FROM plans WHERE origin = OLD.origin
                      AND generation = OLD.generation AND parent IS NOT NULL))
BEGIN
    SELECT RAISE(ABORT, 'plans are immutable once staged');
END;
