-- One run at a time per key (`re-enroll when finished per event.kpi.id`) looks up a key's
-- unfinished runs of a workflow.
CREATE INDEX runs_enroll_key ON runs (workflow, enroll_key, status);
