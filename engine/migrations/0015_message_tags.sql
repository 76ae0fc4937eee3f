-- The tags of a customer-facing step (`tag: newsletter`), a JSON array, which tag caps count by.
ALTER TABLE messages ADD COLUMN tags TEXT;
