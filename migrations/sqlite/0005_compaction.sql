-- zonegate store schema, version 5: compaction of delta plans (issue 16).
--
-- A plan stays immutable once staged, with one exception: a delta row may become a checkpoint
-- of the same plan. The row keeps its origin, generation, base, hash, record count and
-- creation time; its parent goes from a generation to NULL and its body from the delta to the
-- full body. The store writes it only after rebuilding that body from the row's chain and
-- checking it against the row's hash (Store::compact), and every reader checks the hash as
-- always, so a compaction changes how a plan is stored, never what it is. Nothing else may
-- change: not a checkpoint, not the hash, not a parent to another parent.
--
-- The DNS UPDATE worker stages past the usual chain bound and compacts after it has answered,
-- so a client's answer never waits for a full body to be rebuilt (crates/core/src/gate/chain.rs).

DROP TRIGGER plans_immutable;

CREATE TRIGGER plans_immutable
BEFORE UPDATE OF origin, generation, base, hash, record_count, body, created_at ON plans
WHEN NOT (OLD.parent IS NOT NULL AND NEW.parent IS NULL
          AND NEW.origin = OLD.origin AND NEW.generation = OLD.generation
          AND NEW.base IS OLD.base AND NEW.hash = OLD.hash
          AND NEW.record_count = OLD.record_count AND NEW.created_at = OLD.created_at
          AND NEW.body IS NOT OLD.body)
BEGIN
    SELECT RAISE(ABORT, 'plans are immutable once staged');
END;

DROP TRIGGER plans_parent_immutable;

CREATE TRIGGER plans_parent_immutable BEFORE UPDATE OF parent ON plans
WHEN NOT (OLD.parent IS NOT NULL AND NEW.parent IS NULL AND NEW.body IS NOT OLD.body)
BEGIN
    SELECT RAISE(ABORT, 'plans are immutable once staged');
END;
