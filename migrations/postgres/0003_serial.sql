-- zonegate store schema for PostgreSQL, version 3: the SOA serial decided at publish, stored
-- with the generation. The twin of migrations/sqlite/0003_serial.sql; see there for why:
--
--   zones.published_serial   the serial of the published generation (moves with the pointer)
--   plans.serial             the serial each generation was published with; NULL for a plan
--                            that was never published; fixed once set
--
-- Generations published before this migration were served under `increment` (the generation
-- modulo 2^32), and get that serial. Target rows' `updated_at` is now the caller's clock; rows
-- older than the target lease no longer count in clean-up's horizon (no schema change).

ALTER TABLE zones ADD COLUMN published_serial BIGINT NULL
    CHECK (published_serial IS NULL OR (published_serial >= 0 AND published_serial < 4294967296));

ALTER TABLE plans ADD COLUMN serial BIGINT NULL
    CHECK (serial IS NULL OR (serial >= 0 AND serial < 4294967296));

UPDATE plans SET serial = generation % 4294967296
    WHERE status IN ('published', 'superseded');

UPDATE zones SET published_serial = published_generation % 4294967296
    WHERE published_generation IS NOT NULL;

CREATE TRIGGER plans_serial_fixed BEFORE UPDATE OF serial ON plans
    FOR EACH ROW
    WHEN (OLD.serial IS NOT NULL AND NEW.serial IS DISTINCT FROM OLD.serial)
    EXECUTE FUNCTION zonegate_refuse('a plan''s serial is decided when it is published and never changes');

CREATE TRIGGER plans_published_has_serial BEFORE UPDATE OF status ON plans
    FOR EACH ROW
    WHEN (NEW.status = 'published' AND NEW.serial IS NULL)
    EXECUTE FUNCTION zonegate_refuse('a plan is published with its serial');

CREATE TRIGGER zones_published_has_serial BEFORE UPDATE OF published_generation ON zones
    FOR EACH ROW
    WHEN (NEW.published_generation IS NOT NULL AND NEW.published_serial IS NULL)
    EXECUTE FUNCTION zonegate_refuse('a zone''s published generation has its serial');
