-- Fewer b-trees touched per run (issue 12: SQLite's index maintenance was the largest part of a
-- completed run's cost).

-- 1. A run's single timer lives in its own row: starting a run and committing a step write the
--    timer in the statement that writes the run, and a run without a timer is in no timer index.
--    One partial index answers both "when is the next wake-up" (the timer loop) and "which
--    timers are due" (claims); the other holds only the leased timers (the runs executing), so a
--    start-up frees them without reading every waiting run.
ALTER TABLE runs ADD COLUMN due_at INTEGER;
ALTER TABLE runs ADD COLUMN due_kind TEXT;
ALTER TABLE runs ADD COLUMN due_attempt INTEGER;
ALTER TABLE runs ADD COLUMN lease_until INTEGER;
UPDATE runs SET due_at = t.due_at, due_kind = t.kind, due_attempt = t.attempt, lease_until = t.lease_until
  FROM timers t WHERE t.run_id = runs.id;
DROP TABLE timers;
CREATE INDEX runs_wake ON runs (MAX(due_at, lease_until)) WHERE due_at IS NOT NULL;
CREATE INDEX runs_leased ON runs (lease_until) WHERE lease_until > 0;

-- 2. Matching reads and advances a cursor instead of rewriting every matched event's row and its
--    `events_pending` entry: the engine matches the stored events in sequence order, a batch
--    always being the next ones, and SQLite's single writer commits sequence numbers in order, so
--    "matched" is "at or below the cursor". The `processed` column is no longer written (dropping
--    it would rewrite the whole table).
CREATE TABLE match_cursor (
    id   INTEGER PRIMARY KEY CHECK (id = 0),
    seq  INTEGER NOT NULL
);
INSERT INTO match_cursor (id, seq)
  SELECT 0, COALESCE((SELECT MIN(seq) - 1 FROM events WHERE processed = 0), (SELECT MAX(seq) FROM events), 0);
DROP INDEX events_pending;

-- 3. A run's `started` line is its row (started_at, trigger_key): the timeline is read with that
--    line first instead of writing it again per run.
DELETE FROM run_steps WHERE step_id = 'run' AND status = 'started';
