-- zonegate store schema, version 3: the SOA serial decided at publish, stored with the
-- generation.
--
-- Before this version every server derived the served serial from the generation when it
-- installed it; now the publish compare-and-swap decides it once (the zone file's serial when
-- it is newer than the published one, else the published one plus one, or the configured
-- policy) and stores it in the same transaction as the pointer:
--
--   zones.published_serial   the serial of the published generation (moves with the pointer)
--   plans.serial             the serial each generation was published with; NULL for a plan
--                            that was never published; fixed once set
--
-- Generations published before this migration were served under the `increment` policy, the
-- default then: their serial was the generation modulo 2^32, and that is what they get here, so
-- a server restarted on the new release serves the same serials (and keeps its IXFR history).
--
-- Target rows (`targets.updated_at`) now carry the time the target last recorded or renewed
-- its generation, in the caller's clock; clean-up ignores, and deletes, rows older than the
-- target lease. No schema change is needed for that.

ALTER TABLE zones ADD COLUMN published_serial INTEGER NULL
    CHECK (published_serial IS NULL OR (published_serial >= 0 AND published_serial < 4294967296));

ALTER TABLE plans ADD COLUMN serial INTEGER NULL
    CHECK (serial IS NULL OR (serial >= 0 AND serial < 4294967296));

UPDATE plans SET serial = generation % 4294967296
    WHERE status IN ('published', 'superseded');

UPDATE zones SET published_serial = published_generation % 4294967296
    WHERE published_generation IS NOT NULL;

-- A plan's serial is decided once, when it is published, and never changes afterwards.
CREATE TRIGGER plans_serial_fixed BEFORE UPDATE OF serial ON plans
WHEN OLD.serial IS NOT NULL AND (NEW.serial IS NULL OR NEW.serial <> OLD.serial)
BEGIN
    SELECT RAISE(ABORT, 'a plan''s serial is decided when it is published and never changes');
END;

-- A published plan has its serial, and the zone's pointer carries the same one.
CREATE TRIGGER plans_published_has_serial BEFORE UPDATE OF status ON plans
WHEN NEW.status = 'published' AND NEW.serial IS NULL
BEGIN
    SELECT RAISE(ABORT, 'a plan is published with its serial');
END;

CREATE TRIGGER zones_published_has_serial BEFORE UPDATE OF published_generation ON zones
WHEN NEW.published_generation IS NOT NULL AND NEW.published_serial IS NULL
BEGIN
    SELECT RAISE(ABORT, 'a zone''s published generation has its serial');
END;
