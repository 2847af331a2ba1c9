-- zonegate store schema, version 4: delta plans (issue 16). The twin of
-- migrations/sqlite/0004_delta.sql.
--
-- A plan's body is either its full canonical body (a checkpoint, `parent` NULL) or the change
-- from its parent (`parent` set: a ZoneDelta, tag ZGD1). The parent is always the plan's base,
-- the generation published when it was planned. Following parents from any plan reaches a
-- checkpoint; reading a plan rebuilds it from there. Every plan stored before this version is
-- a full body, so existing databases keep working unchanged.
--
-- The schema keeps every chain whole (retention, like I2): `parent` is a foreign key with
-- ON DELETE RESTRICT, so a plan that is the parent of another cannot be deleted and a delta's
-- parent exists when it is staged; `parent` is fixed once staged, like the rest of a plan.
--
-- How long chains grow (`[store] checkpoint_every`, a quarter of the checkpoint's body) is
-- decided by the store's stage step; see crates/core/src/gate/chain.rs.

ALTER TABLE plans ADD COLUMN parent BIGINT NULL CHECK (parent IS NULL OR parent = base);

ALTER TABLE plans ADD CONSTRAINT plans_parent_fkey
    FOREIGN KEY (origin, parent) REFERENCES plans (origin, generation) ON DELETE RESTRICT;

CREATE INDEX plans_by_parent ON plans (origin, parent) WHERE parent IS NOT NULL;

CREATE TRIGGER plans_parent_immutable
    BEFORE UPDATE OF parent ON plans
    FOR EACH ROW EXECUTE FUNCTION zonegate_refuse('plans are immutable once staged');
