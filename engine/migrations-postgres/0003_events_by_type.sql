-- A wait's lookback reads the latest events of one type received in a time span.
CREATE INDEX events_type_received ON events (type, received_at);
