-- Golden records: whether a master's golden record must be rebuilt, every
-- version it had, the conflicts it holds and the keys people look it up by.
-- Keep in step with migrations/postgres/0005_golden.sql.

-- 1 while the master's links or records changed since its golden record
-- was built (new masters start stale; golden_version 0 means never built).
ALTER TABLE masters ADD COLUMN golden_stale INTEGER NOT NULL DEFAULT 1;
CREATE INDEX masters_golden_stale ON masters (id) WHERE golden_stale = 1;

-- Every golden record a master had before its current one (which is
-- masters.golden): copied here when a new version replaces it.
CREATE TABLE golden_versions (
    master_id     TEXT    NOT NULL REFERENCES masters (id),
    version       INTEGER NOT NULL,
    golden        TEXT    NOT NULL,
    replaced_run  INTEGER REFERENCES runs (id),
    replaced_at   TEXT    NOT NULL,
    PRIMARY KEY (master_id, version)
);

-- Contradictions between a master's records (two valid identity numbers,
-- two birth dates, …), replaced whenever its golden record is rebuilt.
CREATE TABLE conflicts (
    id         INTEGER PRIMARY KEY,
    master_id  TEXT    NOT NULL REFERENCES masters (id),
    field      TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    detail     TEXT    NOT NULL,
    run_id     INTEGER REFERENCES runs (id),
    created_at TEXT    NOT NULL
);
CREATE INDEX conflicts_master ON conflicts (master_id);

-- Lookup keys of active masters (identity numbers, folded names, pinyin,
-- phones), replaced with the golden record. Derived data, rewritten with
-- every golden version: no foreign key to check per row.
CREATE TABLE master_keys (
    kind      TEXT NOT NULL,
    value     TEXT NOT NULL,
    master_id TEXT NOT NULL,
    PRIMARY KEY (kind, value, master_id)
) WITHOUT ROWID;
CREATE INDEX master_keys_master ON master_keys (master_id);

-- Small facts about the store itself (the survivorship rules the golden
-- records were built with).
CREATE TABLE store_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Push-back deliveries (never used before this version, so recreated):
-- a row the department made obsolete (it changed the value itself, or a
-- newer plan replaced it) is `superseded`, with the outcome saying why.
DROP TABLE outbox;
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    target          TEXT    NOT NULL,
    master_id       TEXT    NOT NULL REFERENCES masters (id),
    target_key      TEXT,
    operation       TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE,
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'parked', 'superseded')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    outcome         TEXT,
    next_attempt_at TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    delivered_at    TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_record ON outbox (target, target_key, status);
