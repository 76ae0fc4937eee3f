-- Messages an intake could not take (a NATS message that is not an event), kept with why.
CREATE TABLE rejected_messages (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    source  TEXT NOT NULL,
    reason  TEXT NOT NULL,
    body    TEXT NOT NULL
);
