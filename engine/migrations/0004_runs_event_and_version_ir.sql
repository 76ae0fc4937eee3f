-- The event that started (or carried the date of) each run, for explain, without reading JSON.
ALTER TABLE runs ADD COLUMN event_id TEXT;
UPDATE runs SET event_id = json_extract(context, '$.event.id');
CREATE INDEX runs_event ON runs (workflow, event_id);

-- Each version keeps the IR it was compiled to, and the compiler that made it, so a reload with a
-- newer compiler never recompiles (and never breaks) the version that runs in flight are pinned to.
ALTER TABLE workflow_versions ADD COLUMN ir TEXT;
ALTER TABLE workflow_versions ADD COLUMN compiler TEXT;
