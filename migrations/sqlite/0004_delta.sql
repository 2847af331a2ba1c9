-- zonegate store schema, version 4: delta plans (issue 16).
--
-- A plan's body is either its full canonical body (a checkpoint, `parent` NULL) or the change
-- from its parent (`parent` set: a ZoneDelta, tag ZGD1). The parent is always the plan's base,
-- the generation published when it was planned. Following parents from any plan reaches a
-- checkpoint; reading a plan rebuilds it from there. Every plan stored before this version is
-- a full body, so existing databases keep working unchanged.
--
-- The schema keeps every chain whole (retention, like I2):
--   - a delta's parent exists when it is staged (trigger plans_parent_exists);
--   - a plan that is the parent of another cannot be deleted (trigger plans_keep_parents:
--     the ON DELETE RESTRICT a foreign key would give. SQLite cannot add a composite foreign
--     key to an existing table without rebuilding it and every trigger on it, so the rule is
--     a trigger, which, like plans_keep_live, also holds on connections with foreign keys off);
--   - `parent` is fixed once staged, like the rest of a plan (trigger plans_parent_immutable).
--
-- How long chains grow (`[store] checkpoint_every`, a quarter of the checkpoint's body) is
-- decided by the store's stage step; see crates/core/src/gate/chain.rs.

ALTER TABLE plans ADD COLUMN parent INTEGER NULL CHECK (parent IS NULL OR parent = base);

CREATE INDEX plans_by_parent ON plans (origin, parent) WHERE parent IS NOT NULL;

CREATE TRIGGER plans_parent_exists BEFORE INSERT ON plans
WHEN NEW.parent IS NOT NULL
 AND NOT EXISTS (SELECT 1 FROM plans WHERE origin = NEW.origin AND generation = NEW.parent)
BEGIN
    SELECT RAISE(ABORT, 'a delta plan needs its parent plan');
END;

CREATE TRIGGER plans_keep_parents BEFORE DELETE ON plans
WHEN EXISTS (SELECT 1 FROM plans WHERE origin = OLD.origin AND parent = OLD.generation)
BEGIN
    SELECT RAISE(ABORT, 'plan is the delta parent of another plan and cannot be deleted');
END;

CREATE TRIGGER plans_parent_immutable BEFORE UPDATE OF parent ON plans
BEGIN
    SELECT RAISE(ABORT, 'plans are immutable once staged');
END;
