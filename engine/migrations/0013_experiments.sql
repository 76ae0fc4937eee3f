-- Experiments: each run's entry into a split's variant, and its conversion (the first event of
-- the converting type from the same customer within the window).
CREATE TABLE experiment_entries (
    run_id             TEXT NOT NULL,
    experiment         TEXT NOT NULL,
    workflow           TEXT NOT NULL,
    variant            TEXT NOT NULL,
    unit               TEXT NOT NULL,
    entered_at         INTEGER NOT NULL,
    convert_event      TEXT,
    convert_by         INTEGER,
    converted_at       INTEGER,
    converted_by_event TEXT,
    PRIMARY KEY (run_id, experiment)
);
CREATE INDEX experiment_open ON experiment_entries (unit, convert_event) WHERE converted_at IS NULL;
CREATE INDEX experiment_variants ON experiment_entries (workflow, experiment, variant);
