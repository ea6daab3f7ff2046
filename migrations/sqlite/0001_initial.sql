-- yici store, initial schema (SQLite dialect).
-- Keep in step with migrations/postgres/0001_initial.sql: same tables, same
-- columns, same constraints; tests/store.rs compares the two.
-- Conventions: timestamps are TEXT, RFC 3339 UTC, fixed width
-- (2024-01-02T03:04:05.000000Z); JSON documents are TEXT; integers 64-bit.

-- One pull/resolve/push run (or any other job invocation).
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    job         TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    status      TEXT    NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
    counts      TEXT    NOT NULL DEFAULT '{}',
    error       TEXT
);
CREATE INDEX runs_job_status ON runs (job, status);

-- Incremental-pull position per source; written in the same transaction as
-- the batch it covers.
CREATE TABLE cursors (
    source     TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    run_id     INTEGER NOT NULL REFERENCES runs (id)
);

-- The latest pulled version of every source record, raw and canonical.
CREATE TABLE staged_records (
    id                INTEGER PRIMARY KEY,
    source            TEXT    NOT NULL,
    source_key        TEXT    NOT NULL CHECK (source_key <> ''),
    raw               TEXT    NOT NULL,
    canonical         TEXT    NOT NULL,
    problems          TEXT    NOT NULL DEFAULT '[]',
    content_hash      TEXT    NOT NULL,
    source_updated_at TEXT,
    status            TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'gone')),
    first_seen_run    INTEGER NOT NULL REFERENCES runs (id),
    last_seen_run     INTEGER NOT NULL REFERENCES runs (id),
    gone_run          INTEGER REFERENCES runs (id),
    staged_at         TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    UNIQUE (source, source_key)
);
CREATE INDEX staged_records_seen ON staged_records (source, status, last_seen_run);

-- Records that could not be standardized; kept, never dropped, until a
-- later pull brings a usable version (released_at set).
CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    source_key  TEXT    NOT NULL CHECK (source_key <> ''),
    raw         TEXT    NOT NULL,
    reasons     TEXT    NOT NULL,
    run_id      INTEGER NOT NULL REFERENCES runs (id),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    released_at TEXT,
    UNIQUE (source, source_key)
);
CREATE INDEX quarantine_open ON quarantine (source, released_at);

-- The master index: one row per resident; ids are stable and never reused.
CREATE TABLE masters (
    id             TEXT    PRIMARY KEY,
    status         TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'merged')),
    merged_into    TEXT    REFERENCES masters (id),
    golden         TEXT    NOT NULL,
    golden_version INTEGER NOT NULL DEFAULT 1,
    created_run    INTEGER REFERENCES runs (id),
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
);

-- Which master each staged record belongs to (exactly one).
CREATE TABLE links (
    source       TEXT    NOT NULL,
    source_key   TEXT    NOT NULL,
    master_id    TEXT    NOT NULL REFERENCES masters (id),
    decided_by   TEXT    NOT NULL CHECK (decided_by IN ('auto', 'manual')),
    match_weight REAL,
    run_id       INTEGER REFERENCES runs (id),
    linked_at    TEXT    NOT NULL,
    PRIMARY KEY (source, source_key),
    FOREIGN KEY (source, source_key) REFERENCES staged_records (source, source_key)
);
CREATE INDEX links_master ON links (master_id);

-- Steward decisions that override the matcher for a pair of records.
CREATE TABLE match_rules (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind IN ('must_link', 'cannot_link')),
    left_ref   TEXT    NOT NULL,
    right_ref  TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);
CREATE INDEX match_rules_left ON match_rules (left_ref);
CREATE INDEX match_rules_right ON match_rules (right_ref);

-- Append-only history of the master index: who changed what, when, why.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    master_id  TEXT    REFERENCES masters (id),
    kind       TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    reason     TEXT,
    detail     TEXT    NOT NULL DEFAULT '{}',
    run_id     INTEGER REFERENCES runs (id),
    created_at TEXT    NOT NULL
);
CREATE INDEX events_master ON events (master_id, id);

-- Uncertain pairs waiting for a data steward.
CREATE TABLE review_queue (
    id           INTEGER PRIMARY KEY,
    left_ref     TEXT    NOT NULL,
    right_ref    TEXT    NOT NULL,
    match_weight REAL    NOT NULL,
    explanation  TEXT    NOT NULL DEFAULT '{}',
    status       TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'accepted', 'rejected')),
    decided_by   TEXT,
    decided_at   TEXT,
    reason       TEXT,
    run_id       INTEGER REFERENCES runs (id),
    created_at   TEXT    NOT NULL,
    UNIQUE (left_ref, right_ref)
);
CREATE INDEX review_queue_status ON review_queue (status, id);

-- Push-back deliveries, idempotent per idempotency_key.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    target          TEXT    NOT NULL,
    master_id       TEXT    NOT NULL REFERENCES masters (id),
    target_key      TEXT,
    operation       TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE,
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'parked')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    delivered_at    TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

-- Single-instance jobs: a lease that expires if its holder dies.
CREATE TABLE job_locks (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
