-- Concurrency limits on actions: a lease per call in flight (holder: the step's idempotency
-- key) until it ends or its lease runs out (a crashed node's calls free their slot then), and
-- the runs waiting for a slot in arrival order; a released slot wakes the oldest waiter.
CREATE TABLE call_leases (
    key     TEXT NOT NULL,
    holder  TEXT NOT NULL,
    until   INTEGER NOT NULL,
    PRIMARY KEY (key, holder)
);
CREATE TABLE call_waiters (
    key     TEXT NOT NULL,
    run_id  TEXT NOT NULL,
    since   INTEGER NOT NULL,
    until   INTEGER NOT NULL,
    PRIMARY KEY (key, run_id)
);
CREATE INDEX call_waiters_order ON call_waiters (key, since, run_id);
