-- zonegate store schema for PostgreSQL, version 2: the gate's verdict on each plan. The twin of
-- migrations/sqlite/0002_policy.sql; see there for the verdict diagram:
--
--   stage ──▶ pass ─────────────┐             publishable: pass, approved
--        ├──▶ held (review) ────┼──approve(hash)──▶ approved
--        └──▶ refused (policy) ─┘
--   reject: pass | held | refused | approved ──▶ rejected   (final)
--
-- The triggers below enforce the rules a second time, so an operator with psql cannot publish
-- a refused plan or re-open a rejected one either. `src/schema_tests.rs` holds these copies
-- of the rules to the core's enums, for both engines.

ALTER TABLE plans ADD COLUMN verdict TEXT NOT NULL DEFAULT 'pass'
    CHECK (verdict IN ('pass', 'held', 'refused', 'approved', 'rejected'));

-- A plan enters the store as pass, held or refused; approval and rejection are later steps
-- with their own audit rows.
CREATE TRIGGER plans_verdict_on_stage BEFORE INSERT ON plans
    FOR EACH ROW
    WHEN (NEW.verdict NOT IN ('pass', 'held', 'refused'))
    EXECUTE FUNCTION zonegate_refuse('a plan is staged as pass, held or refused, never approved or rejected');

-- Only a never-published plan changes its verdict, and only along the arrows above.
CREATE TRIGGER plans_verdict_moves BEFORE UPDATE OF verdict ON plans
    FOR EACH ROW
    WHEN (NEW.verdict IS DISTINCT FROM OLD.verdict
          AND NOT (OLD.status = 'staged' AND (
                   (NEW.verdict = 'approved' AND OLD.verdict IN ('pass', 'held', 'refused'))
                OR (NEW.verdict = 'rejected' AND OLD.verdict <> 'rejected'))))
    EXECUTE FUNCTION zonegate_refuse('this verdict change is not allowed (only staged plans are approved or rejected, and a rejection is final)');

-- Only a plan with a publishable verdict becomes published.
CREATE TRIGGER plans_publish_needs_verdict BEFORE UPDATE OF status ON plans
    FOR EACH ROW
    WHEN (NEW.status = 'published' AND NEW.verdict NOT IN ('pass', 'approved'))
    EXECUTE FUNCTION zonegate_refuse('only a plan whose verdict is pass or approved can be published');

CREATE FUNCTION zones_publish_needs_verdict() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.published_generation IS NOT NULL
       AND EXISTS (SELECT 1 FROM plans
                   WHERE origin = NEW.origin AND generation = NEW.published_generation
                     AND verdict NOT IN ('pass', 'approved'))
    THEN
        RAISE EXCEPTION 'only a plan whose verdict is pass or approved can be published'
            USING ERRCODE = '23000';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER zones_publish_needs_verdict BEFORE UPDATE OF published_generation ON zones
    FOR EACH ROW EXECUTE FUNCTION zones_publish_needs_verdict();
