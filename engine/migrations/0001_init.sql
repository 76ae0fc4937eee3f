-- mikawaya storage. Times are milliseconds since the Unix epoch (UTC).

-- Every loaded workflow version, with its source, so runs in flight finish on their own version.
CREATE TABLE workflow_versions (
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    file       TEXT NOT NULL,
    source     TEXT NOT NULL,
    digest     TEXT NOT NULL,
    loaded_at  INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);

-- Accepted events, deduplicated by id. `processed` flips once matching has been applied.
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    customer_id  TEXT,
    occurred_at  INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    body         TEXT NOT NULL,
    processed    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_pending ON events (processed, seq);
CREATE INDEX events_customer ON events (customer_id, occurred_at);

-- Latest known attributes of each customer, merged from events.
CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    data        TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Latest snapshot of other entities (contracts, tickets, KPIs) found in event payloads.
CREATE TABLE entities (
    kind        TEXT NOT NULL,
    id          TEXT NOT NULL,
    data        TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
);

CREATE TABLE runs (
    id             TEXT PRIMARY KEY,
    workflow       TEXT NOT NULL,
    version        INTEGER NOT NULL,
    customer_id    TEXT,
    enroll_key     TEXT NOT NULL,
    trigger_key    TEXT NOT NULL,
    status         TEXT NOT NULL,
    step           INTEGER,
    rev            INTEGER NOT NULL DEFAULT 0,
    context        TEXT NOT NULL,
    started_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    ended_at       INTEGER,
    exit_reason    TEXT,
    UNIQUE (workflow, trigger_key)
);
CREATE INDEX runs_customer ON runs (customer_id, status);
CREATE INDEX runs_workflow ON runs (workflow, status, started_at);

-- The timeline of each run.
CREATE TABLE run_steps (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT NOT NULL,
    step_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempt     INTEGER NOT NULL DEFAULT 1,
    at          INTEGER NOT NULL,
    detail      TEXT
);
CREATE INDEX run_steps_run ON run_steps (run_id, id);

-- Due work: at most one timer per run. `kind` is `exec` (run the current step) or `wake`
-- (a wait timed out). `lease_until` keeps two workers from taking the same timer.
CREATE TABLE timers (
    run_id       TEXT PRIMARY KEY,
    due_at       INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    attempt      INTEGER NOT NULL DEFAULT 1,
    lease_until  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX timers_due ON timers (due_at);

-- Runs waiting for an event, by correlation key.
CREATE TABLE waits (
    run_id      TEXT PRIMARY KEY,
    event_type  TEXT NOT NULL,
    match_expr  TEXT NOT NULL,
    match_key   TEXT NOT NULL
);
CREATE INDEX waits_key ON waits (event_type, match_expr, match_key);

CREATE TABLE enrollments (
    workflow    TEXT NOT NULL,
    enroll_key  TEXT NOT NULL,
    last_at     INTEGER NOT NULL,
    PRIMARY KEY (workflow, enroll_key)
);

-- Date-relative triggers waiting to fire (one per workflow and key; a newer event reschedules).
CREATE TABLE date_triggers (
    workflow    TEXT NOT NULL,
    key         TEXT NOT NULL,
    due_at      INTEGER NOT NULL,
    event_id    TEXT NOT NULL,
    PRIMARY KEY (workflow, key)
);
CREATE INDEX date_triggers_due ON date_triggers (due_at);

-- Cron state: when each schedule fires next, and which due times already fired.
CREATE TABLE schedules (
    workflow    TEXT PRIMARY KEY,
    next_due    INTEGER NOT NULL
);

CREATE TABLE tasks (
    id           TEXT PRIMARY KEY,
    idempotency  TEXT NOT NULL UNIQUE,
    run_id       TEXT NOT NULL,
    title        TEXT NOT NULL,
    assignee     TEXT,
    queue        TEXT,
    data         TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open',
    created_at   INTEGER NOT NULL
);

CREATE TABLE dead_letters (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT NOT NULL,
    step_id     TEXT NOT NULL,
    action      TEXT NOT NULL,
    input       TEXT NOT NULL,
    error       TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    retried_at  INTEGER
);
