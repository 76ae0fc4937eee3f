-- Marketing messages are claimed before they are sent, under the sending step's idempotency key
-- (a retry claims again, as a new row of the same key), so the frequency cap holds across
-- concurrent runs, retries and crashes.
ALTER TABLE messages ADD COLUMN key TEXT;
CREATE INDEX messages_key ON messages (key);
