-- zonegate store schema, version 1.
--
-- The application enforces the publish protocol with one transaction per store operation; this
-- schema enforces the same invariants a second time, so that a bug in the code, or an operator
-- with the sqlite3 shell, cannot break them either:
--
--   I1  the published generation, the next generation and every target's generation only grow
--       (triggers *_only_grow);
--   I2  a plan that is published, held by a target or pinned cannot be deleted (foreign keys
--       with ON DELETE RESTRICT, plus the trigger plans_keep_live, which also holds when a
--       connection runs with PRAGMA foreign_keys = OFF, as the sqlite3 shell does by default);
--   I3  a plan has at least one record and a non-empty body (CHECK);
--   I4  the audit log is append-only (triggers audit_no_update, audit_no_delete).
--
-- Zones and plans reference each other: a plan belongs to a zone, and a zone points at its
-- published plan. SQLite resolves foreign keys when rows change, not when tables are created,
-- so the cycle needs no deferral: `stage` inserts the zone row before its first plan, and the
-- zone's pointer stays NULL (which a composite foreign key does not check) until a publish
-- sets it to a plan that exists.
--
-- Names are stored in presentation form (`example.com.`), hashes as `sha256:<hex>`, times as
-- unix seconds.

CREATE TABLE zones (
    origin               TEXT    NOT NULL PRIMARY KEY CHECK (length(origin) > 0),
    published_generation INTEGER NULL CHECK (published_generation IS NULL OR published_generation > 0),
    -- Bumped by every successful publish, so watchers can notice change cheaply.
    version              INTEGER NOT NULL DEFAULT 0 CHECK (version >= 0),
    -- The generation the next `stage` takes. Generations are never reused, even after
    -- clean-up deleted the plans that had them.
    next_generation      INTEGER NOT NULL DEFAULT 1 CHECK (next_generation > 0),
    -- When the current generation was published.
    published_at         INTEGER NULL,
    CHECK (published_generation IS NULL OR published_generation < next_generation),
    FOREIGN KEY (origin, published_generation)
        REFERENCES plans (origin, generation) ON DELETE RESTRICT
) STRICT;

CREATE TABLE plans (
    origin       TEXT    NOT NULL REFERENCES zones (origin) ON DELETE RESTRICT,
    generation   INTEGER NOT NULL CHECK (generation > 0),
    -- The generation that was published when the plan was made; always older than the plan.
    base         INTEGER NULL CHECK (base IS NULL OR (base > 0 AND base < generation)),
    hash         TEXT    NOT NULL CHECK (length(hash) = 71 AND substr(hash, 1, 7) = 'sha256:'),
    record_count INTEGER NOT NULL CHECK (record_count > 0),
    body         BLOB    NOT NULL CHECK (length(body) > 0),
    created_at   INTEGER NOT NULL CHECK (created_at >= 0),
    status       TEXT    NOT NULL DEFAULT 'staged'
                 CHECK (status IN ('staged', 'published', 'superseded')),
    PRIMARY KEY (origin, generation)
) STRICT;

-- Which generation of a zone each target (a running server, a secondary) holds.
CREATE TABLE targets (
    target     TEXT    NOT NULL CHECK (length(target) > 0),
    origin     TEXT    NOT NULL,
    generation INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (target, origin),
    FOREIGN KEY (origin, generation) REFERENCES plans (origin, generation) ON DELETE RESTRICT
) STRICT;

CREATE INDEX targets_by_plan ON targets (origin, generation);

-- Plans an enactor is working on; clean-up leaves them alone until the pin expires.
CREATE TABLE pins (
    origin     TEXT    NOT NULL,
    generation INTEGER NOT NULL,
    holder     TEXT    NOT NULL CHECK (length(holder) > 0),
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (origin, generation, holder),
    FOREIGN KEY (origin, generation) REFERENCES plans (origin, generation) ON DELETE RESTRICT
) STRICT;

CREATE TABLE audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    origin     TEXT    NOT NULL,
    -- Not a foreign key: the log outlives the plans clean-up deletes.
    generation INTEGER NULL,
    action     TEXT    NOT NULL CHECK (length(action) > 0),
    reason     TEXT    NOT NULL DEFAULT '',
    detail     TEXT    NOT NULL DEFAULT '',
    actor      TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX audit_by_origin ON audit (origin, id);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be updated');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be deleted');
END;

CREATE TRIGGER plans_keep_live BEFORE DELETE ON plans
WHEN EXISTS (SELECT 1 FROM zones
             WHERE origin = OLD.origin AND published_generation = OLD.generation)
  OR EXISTS (SELECT 1 FROM targets WHERE origin = OLD.origin AND generation = OLD.generation)
  OR EXISTS (SELECT 1 FROM pins WHERE origin = OLD.origin AND generation = OLD.generation)
BEGIN
    SELECT RAISE(ABORT, 'plan is live (published, held by a target or pinned) and cannot be deleted');
END;

-- A plan is immutable once staged; only its status moves.
CREATE TRIGGER plans_immutable
BEFORE UPDATE OF origin, generation, base, hash, record_count, body, created_at ON plans
BEGIN
    SELECT RAISE(ABORT, 'plans are immutable once staged');
END;

CREATE TRIGGER zones_published_only_grows
BEFORE UPDATE OF published_generation ON zones
WHEN OLD.published_generation IS NOT NULL
 AND (NEW.published_generation IS NULL OR NEW.published_generation <= OLD.published_generation)
BEGIN
    SELECT RAISE(ABORT, 'the published generation only grows');
END;

CREATE TRIGGER zones_next_generation_only_grows
BEFORE UPDATE OF next_generation ON zones
WHEN NEW.next_generation < OLD.next_generation
BEGIN
    SELECT RAISE(ABORT, 'generations are never reused');
END;

CREATE TRIGGER targets_only_grow
BEFORE UPDATE OF generation ON targets
WHEN NEW.generation <= OLD.generation
BEGIN
    SELECT RAISE(ABORT, 'a target never goes back to an older generation');
END;
