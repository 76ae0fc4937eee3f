-- Score changes (issue 17): what added which points to a customer's score, appended with the
-- matched batch. The score's state among the customer's attributes is three numbers; this is
-- its explanation: one row per scored event of a customer, holding every change it made
-- (`[[score, rule, points, value after], ...]`, one per rule that held) — one insert per event,
-- not one per rule (twenty rules holding made the inserts half the engine's work). The key
-- orders a customer's events by time, newest read first; an event applied twice is kept once.
CREATE TABLE score_changes (
    customer_id TEXT NOT NULL,
    at          BIGINT NOT NULL,
    event_id    TEXT NOT NULL,
    changes     TEXT NOT NULL,
    PRIMARY KEY (customer_id, at, event_id)
);
