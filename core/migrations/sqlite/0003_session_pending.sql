-- A sign-in that just activated an authenticator shows its recovery codes once: they wait here,
-- sealed with the instance key, until the person confirms they saved them (M6).
ALTER TABLE sessions ADD COLUMN pending_sealed TEXT;
