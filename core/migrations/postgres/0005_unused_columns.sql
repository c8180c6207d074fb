-- Columns nothing ever wrote or read (the re-shape review): an account's state lives in
-- failed_count / locked_until / email_verified_at, and events carry no free text (G1).
ALTER TABLE users DROP COLUMN status;
ALTER TABLE security_events DROP COLUMN details;
