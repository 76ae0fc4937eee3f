-- mikawaya on PostgreSQL: the schema the SQLite migrations (engine/migrations) arrive at, for many
-- engine nodes on one database. Times are milliseconds since the Unix epoch (UTC), as in SQLite,
-- so both stores share their row types; every integer is a BIGINT for the same reason. Customer
-- and entity snapshots are jsonb (readable with PostgreSQL's JSON operators); event bodies and run
-- contexts are text: the engine reads and writes them whole, and parsing them into jsonb on every
-- step would be work nobody uses.

CREATE TABLE workflow_versions (
    name       TEXT NOT NULL,
    version    BIGINT NOT NULL,
    file       TEXT NOT NULL,
    source     TEXT NOT NULL,
    digest     TEXT NOT NULL,
    ir         TEXT,
    compiler   TEXT,
    loaded_at  BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

-- Accepted events, deduplicated by id. Sequence numbers are handed out in arrival order but, with
-- many nodes writing, committed in any order; so instead of SQLite's cursor, the events still to
-- match are the rows of `event_queue`, deleted in the transaction that applies their match.
CREATE TABLE events (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    customer_id  TEXT,
    occurred_at  BIGINT NOT NULL,
    received_at  BIGINT NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX events_customer ON events (customer_id, occurred_at);
CREATE INDEX events_occurred ON events (occurred_at, seq);

CREATE TABLE event_queue (
    seq  BIGINT PRIMARY KEY
);

CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    data        JSONB NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE entities (
    kind        TEXT NOT NULL,
    id          TEXT NOT NULL,
    data        JSONB NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);

-- A run and its single timer (due_at … lease_until, leased to the node `lease_owner`). Claiming a
-- timer bumps `rev`: the revision is the fencing counter, so a node that held the run before the
-- claim (and stalled past its lease) has its late commit refused.
CREATE TABLE runs (
    id             TEXT PRIMARY KEY,
    workflow       TEXT NOT NULL,
    version        BIGINT NOT NULL,
    customer_id    TEXT,
    enroll_key     TEXT NOT NULL,
    trigger_key    TEXT NOT NULL,
    status         TEXT NOT NULL,
    step           BIGINT,
    rev            BIGINT NOT NULL DEFAULT 0,
    context        TEXT NOT NULL,
    event_id       TEXT,
    started_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    ended_at       BIGINT,
    exit_reason    TEXT,
    due_at         BIGINT,
    due_kind       TEXT,
    due_attempt    BIGINT,
    lease_until    BIGINT,
    lease_owner    TEXT,
    UNIQUE (workflow, trigger_key)
);
CREATE INDEX runs_customer ON runs (customer_id, status);
CREATE INDEX runs_workflow ON runs (workflow, status, started_at);
CREATE INDEX runs_started ON runs (started_at, id);
CREATE INDEX runs_event ON runs (workflow, event_id);
CREATE INDEX runs_wake ON runs (GREATEST(due_at, lease_until)) WHERE due_at IS NOT NULL;
CREATE INDEX runs_leased ON runs (lease_owner) WHERE lease_until > 0;

CREATE TABLE run_steps (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      TEXT NOT NULL,
    step_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempt     BIGINT NOT NULL DEFAULT 1,
    at          BIGINT NOT NULL,
    detail      TEXT
);
CREATE INDEX run_steps_run ON run_steps (run_id, id);

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
    last_at     BIGINT NOT NULL,
    PRIMARY KEY (workflow, enroll_key)
);

CREATE TABLE date_triggers (
    workflow    TEXT NOT NULL,
    key         TEXT NOT NULL,
    due_at      BIGINT NOT NULL,
    event_id    TEXT NOT NULL,
    PRIMARY KEY (workflow, key)
);
CREATE INDEX date_triggers_due ON date_triggers (due_at);

CREATE TABLE schedules (
    workflow    TEXT PRIMARY KEY,
    next_due    BIGINT NOT NULL
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
    created_at   BIGINT NOT NULL
);

CREATE TABLE dead_letters (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      TEXT NOT NULL,
    step_id     TEXT NOT NULL,
    action      TEXT NOT NULL,
    input       TEXT NOT NULL,
    error       TEXT NOT NULL,
    attempts    BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    retried_at  BIGINT
);
CREATE INDEX dead_letters_run ON dead_letters (run_id, id);

CREATE TABLE messages (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id  TEXT,
    channel      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    address      TEXT,
    workflow     TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    sent_at      BIGINT NOT NULL,
    key          TEXT
);
CREATE INDEX messages_customer ON messages (customer_id, channel, kind, sent_at);
CREATE INDEX messages_key ON messages (key);

CREATE TABLE suppressions (
    address     TEXT PRIMARY KEY,
    reason      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE consent_log (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id  TEXT NOT NULL,
    channel      TEXT NOT NULL,
    granted      BOOLEAN NOT NULL,
    source       TEXT NOT NULL,
    at           BIGINT NOT NULL
);

CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

CREATE TABLE plugin_kv (
    plugin  TEXT NOT NULL,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (plugin, key)
);

CREATE TABLE api_tokens (
    name        TEXT PRIMARY KEY,
    hash        TEXT NOT NULL UNIQUE,
    scopes      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE audit_log (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    detail  TEXT NOT NULL
);

CREATE TABLE rejected_messages (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      BIGINT NOT NULL,
    source  TEXT NOT NULL,
    reason  TEXT NOT NULL,
    body    TEXT NOT NULL
);

-- The engine nodes sharing this database: each writes its heartbeat every few seconds.
CREATE TABLE nodes (
    id            TEXT PRIMARY KEY,
    started_at    BIGINT NOT NULL,
    heartbeat_at  BIGINT NOT NULL
);

-- Roles one node at a time holds (`matcher`: matching stored events, in order), until `until`
-- (the database's clock). Taking a role over from another node bumps `fence`; a write made in the
-- role checks owner and fence in its own transaction, so a node that lost the role while stalled
-- has its late write refused.
CREATE TABLE leases (
    name   TEXT PRIMARY KEY,
    owner  TEXT NOT NULL,
    until  BIGINT NOT NULL,
    fence  BIGINT NOT NULL
);
