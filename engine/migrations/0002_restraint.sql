-- Restraint: messages sent (for frequency caps), suppressed addresses, consent changes, settings.

CREATE TABLE messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id  TEXT,
    channel      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    address      TEXT,
    workflow     TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    sent_at      INTEGER NOT NULL
);
CREATE INDEX messages_customer ON messages (customer_id, channel, kind, sent_at);

CREATE TABLE suppressions (
    address     TEXT PRIMARY KEY,
    reason      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE consent_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id  TEXT NOT NULL,
    channel      TEXT NOT NULL,
    granted      INTEGER NOT NULL,
    source       TEXT NOT NULL,
    at           INTEGER NOT NULL
);

CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
