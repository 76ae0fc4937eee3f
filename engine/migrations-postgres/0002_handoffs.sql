-- New runs the matching node hands to another node to execute: the run is inserted with its
-- first timer leased to that node, and a row here tells the node to take it (its executor reads
-- and deletes its rows with each claim). A run whose row is lost or taken too late is not lost:
-- its lease ends and any node claims it as a due timer.
CREATE TABLE handoffs (
    node    TEXT NOT NULL,
    run_id  TEXT NOT NULL,
    PRIMARY KEY (node, run_id)
);
