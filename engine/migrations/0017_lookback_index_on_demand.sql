-- The events-by-type index (0011) cost every event's insert about a fifth of SQLite's intake,
-- though only a wait's lookback reads it. It is now made when a loaded workflow first has a
-- lookback (`MetaStore::index_events_by_type`), under the same name, so stores that use
-- lookbacks keep it and the others stop paying for it.
DROP INDEX IF EXISTS events_type_received;
