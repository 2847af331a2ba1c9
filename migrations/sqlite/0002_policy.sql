-- zonegate store schema, version 2: the gate's verdict on each plan.
--
-- A plan's status says where it is in its life (staged, published, superseded); its verdict
-- says whether the gate lets it be published:
--
--   stage ──▶ pass ─────────────┐             publishable: pass, approved
--        ├──▶ held (review) ────┼──approve(hash)──▶ approved
--        └──▶ refused (policy) ─┘
--   reject: pass | held | refused | approved ──▶ rejected   (final)
--
-- The application moves verdicts one transaction at a time (`set_verdict`), and the publish
-- compare-and-swap requires a publishable verdict in the same UPDATE as the freshness check.
-- The triggers below enforce the same rules a second time, so an operator with the sqlite3
-- shell cannot publish a refused plan or re-open a rejected one either.
--
-- Plans staged before this migration passed the gate of their time and become `pass`.

ALTER TABLE plans ADD COLUMN verdict TEXT NOT NULL DEFAULT 'pass'
    CHECK (verdict IN ('pass', 'held', 'refused', 'approved', 'rejected'));

-- A plan enters the store as pass, held or refused; approval and rejection are later steps
-- with their own audit rows.
CREATE TRIGGER plans_verdict_on_stage BEFORE INSERT ON plans
WHEN NEW.verdict NOT IN ('pass', 'held', 'refused')
BEGIN
    SELECT RAISE(ABORT, 'a plan is staged as pass, held or refused, never approved or rejected');
END;

-- Only a never-published plan changes its verdict, and only along the arrows above.
CREATE TRIGGER plans_verdict_moves BEFORE UPDATE OF verdict ON plans
WHEN NEW.verdict IS NOT OLD.verdict
 AND NOT (OLD.status = 'staged' AND (
          (NEW.verdict = 'approved' AND OLD.verdict IN ('pass', 'held', 'refused'))
       OR (NEW.verdict = 'rejected' AND OLD.verdict <> 'rejected')))
BEGIN
    SELECT RAISE(ABORT, 'this verdict change is not allowed (only staged plans are approved or rejected, and a rejection is final)');
END;

-- Only a plan with a publishable verdict becomes published.
CREATE TRIGGER plans_publish_needs_verdict BEFORE UPDATE OF status ON plans
WHEN NEW.status = 'published' AND NEW.verdict NOT IN ('pass', 'approved')
BEGIN
    SELECT RAISE(ABORT, 'only a plan whose verdict is pass or approved can be published');
END;

CREATE TRIGGER zones_publish_needs_verdict BEFORE UPDATE OF published_generation ON zones
WHEN NEW.published_generation IS NOT NULL
 AND EXISTS (SELECT 1 FROM plans
             WHERE origin = NEW.origin AND generation = NEW.published_generation
               AND verdict NOT IN ('pass', 'approved'))
BEGIN
    SELECT RAISE(ABORT, 'only a plan whose verdict is pass or approved can be published');
END;
