-- zonegate store schema for PostgreSQL, version 1: the same tables, rules and invariants as
-- migrations/sqlite/0001_init.sql, in PostgreSQL's dialect. Keep the two in step: a migration
-- added to one engine gets its twin here, with the same number.
--
-- The application enforces the publish protocol with one transaction per store operation,
-- serialized per zone by a row lock on the zone (see crates/store/src/postgres/mod.rs); this
-- schema enforces the same invariants a second time, so that a bug in the code, or an operator
-- with psql, cannot break them either:
--
--   I1  the published generation, the next generation and every target's generation only grow
--       (triggers *_only_grow);
--   I2  a plan that is published, held by a target or pinned cannot be deleted (foreign keys
--       with ON DELETE RESTRICT, plus the trigger plans_keep_live);
--   I3  a plan has at least one record and a non-empty body (CHECK);
--   I4  the audit log is append-only (triggers audit_no_update, audit_no_delete, and
--       audit_no_truncate).
--
-- Zones and plans reference each other. PostgreSQL checks foreign keys per statement, so the
-- zone's pointer to its published plan is added after both tables exist; it stays NULL (which
-- a composite foreign key does not check) until a publish sets it to a plan that exists.
--
-- Names are stored in presentation form (`example.com.`), hashes as `sha256:<hex>`, times as
-- unix seconds.

CREATE TABLE zones (
    origin               TEXT   NOT NULL PRIMARY KEY CHECK (length(origin) > 0),
    published_generation BIGINT NULL CHECK (published_generation IS NULL OR published_generation > 0),
    -- Bumped by every successful publish, so watchers can notice change cheaply.
    version              BIGINT NOT NULL DEFAULT 0 CHECK (version >= 0),
    -- The generation the next `stage` takes. Generations are never reused, even after
    -- clean-up deleted the plans that had them.
    next_generation      BIGINT NOT NULL DEFAULT 1 CHECK (next_generation > 0),
    -- When the current generation was published.
    published_at         BIGINT NULL,
    CHECK (published_generation IS NULL OR published_generation < next_generation)
);

CREATE TABLE plans (
    origin       TEXT   NOT NULL REFERENCES zones (origin) ON DELETE RESTRICT,
    generation   BIGINT NOT NULL CHECK (generation > 0),
    -- The generation that was published when the plan was made; always older than the plan.
    base         BIGINT NULL CHECK (base IS NULL OR (base > 0 AND base < generation)),
    hash         TEXT   NOT NULL CHECK (length(hash) = 71 AND substr(hash, 1, 7) = 'sha256:'),
    record_count BIGINT NOT NULL CHECK (record_count > 0),
    body         BYTEA  NOT NULL CHECK (octet_length(body) > 0),
    created_at   BIGINT NOT NULL CHECK (created_at >= 0),
    status       TEXT   NOT NULL DEFAULT 'staged'
                 CHECK (status IN ('staged', 'published', 'superseded')),
    PRIMARY KEY (origin, generation)
);

ALTER TABLE zones ADD FOREIGN KEY (origin, published_generation)
    REFERENCES plans (origin, generation) ON DELETE RESTRICT;

-- Which generation of a zone each target (a running server, a secondary) holds.
CREATE TABLE targets (
    target     TEXT   NOT NULL CHECK (length(target) > 0),
    origin     TEXT   NOT NULL,
    generation BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (target, origin),
    FOREIGN KEY (origin, generation) REFERENCES plans (origin, generation) ON DELETE RESTRICT
);

CREATE INDEX targets_by_plan ON targets (origin, generation);

-- Plans an enactor is working on; clean-up leaves them alone until the pin expires.
CREATE TABLE pins (
    origin     TEXT   NOT NULL,
    generation BIGINT NOT NULL,
    holder     TEXT   NOT NULL CHECK (length(holder) > 0),
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (origin, generation, holder),
    FOREIGN KEY (origin, generation) REFERENCES plans (origin, generation) ON DELETE RESTRICT
);

CREATE TABLE audit (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         BIGINT NOT NULL,
    origin     TEXT   NOT NULL,
    -- Not a foreign key: the log outlives the plans clean-up deletes.
    generation BIGINT NULL,
    action     TEXT   NOT NULL CHECK (length(action) > 0),
    reason     TEXT   NOT NULL DEFAULT '',
    detail     TEXT   NOT NULL DEFAULT '',
    actor      TEXT   NOT NULL DEFAULT ''
);

CREATE INDEX audit_by_origin ON audit (origin, id);

CREATE FUNCTION zonegate_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- integrity_constraint_violation: the store maps it to StoreError::Constraint.
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = '23000';
END
$$;

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    FOR EACH ROW EXECUTE FUNCTION zonegate_refuse('the audit log is append-only: rows cannot be updated');

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION zonegate_refuse('the audit log is append-only: rows cannot be deleted');

CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION zonegate_refuse('the audit log is append-only: it cannot be truncated');

CREATE FUNCTION plans_keep_live() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM zones
               WHERE origin = OLD.origin AND published_generation = OLD.generation)
       OR EXISTS (SELECT 1 FROM targets WHERE origin = OLD.origin AND generation = OLD.generation)
       OR EXISTS (SELECT 1 FROM pins WHERE origin = OLD.origin AND generation = OLD.generation)
    THEN
        RAISE EXCEPTION 'plan is live (published, held by a target or pinned) and cannot be deleted'
            USING ERRCODE = '23000';
    END IF;
    RETURN OLD;
END
$$;

CREATE TRIGGER plans_keep_live BEFORE DELETE ON plans
    FOR EACH ROW EXECUTE FUNCTION plans_keep_live();

CREATE TRIGGER plans_no_truncate BEFORE TRUNCATE ON plans
    FOR EACH STATEMENT EXECUTE FUNCTION zonegate_refuse('plans are deleted by clean-up only, never truncated');

-- A plan is immutable once staged; only its status (and, from version 2, its verdict) moves.
CREATE TRIGGER plans_immutable
    BEFORE UPDATE OF origin, generation, base, hash, record_count, body, created_at ON plans
    FOR EACH ROW EXECUTE FUNCTION zonegate_refuse('plans are immutable once staged');

CREATE TRIGGER zones_published_only_grows
    BEFORE UPDATE OF published_generation ON zones
    FOR EACH ROW
    WHEN (OLD.published_generation IS NOT NULL
          AND (NEW.published_generation IS NULL
               OR NEW.published_generation <= OLD.published_generation))
    EXECUTE FUNCTION zonegate_refuse('the published generation only grows');

CREATE TRIGGER zones_next_generation_only_grows
    BEFORE UPDATE OF next_generation ON zones
    FOR EACH ROW
    WHEN (NEW.next_generation < OLD.next_generation)
    EXECUTE FUNCTION zonegate_refuse('generations are never reused');

CREATE TRIGGER targets_only_grow
    BEFORE UPDATE OF generation ON targets
    FOR EACH ROW
    WHEN (NEW.generation <= OLD.generation)
    EXECUTE FUNCTION zonegate_refuse('a target never goes back to an older generation');
