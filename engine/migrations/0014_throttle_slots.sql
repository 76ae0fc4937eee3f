-- Throttled actions: one row per call in its window, per key (`webhook:acme`); a claim deletes
-- the key's rows that left the window.
CREATE TABLE throttle_slots (
    key   TEXT NOT NULL,
    at    INTEGER NOT NULL
);
CREATE INDEX throttle_slots_key ON throttle_slots (key, at);
