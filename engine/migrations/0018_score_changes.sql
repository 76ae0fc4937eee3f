-- Score changes (issue 17): what added which points to a customer's score, appended with the
-- matched batch. The score's state among the customer's attributes is three numbers; this is
-- its explanation: each event's points per rule that held. The key orders a customer's changes per score by time, so the latest few of
-- each are read from the index, and a change applied twice is kept once.
CREATE TABLE score_changes (
    customer_id TEXT NOT NULL,
    score       TEXT NOT NULL,
    at          INTEGER NOT NULL,
    event_id    TEXT NOT NULL,
    rule        TEXT NOT NULL,
    points      REAL NOT NULL,
    value       REAL NOT NULL,
    PRIMARY KEY (customer_id, score, at, event_id, rule)
) WITHOUT ROWID;
