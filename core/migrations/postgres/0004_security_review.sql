-- Security review (issue 9). Keep in step with the other backend's file (Y3).
-- E4: when a verification link was made, shown on the verification page ("registered on …").
ALTER TABLE email_tokens ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
-- Y5: the sweeper finds expired rows by these.
CREATE INDEX email_tokens_expiry ON email_tokens(expires_at);
CREATE INDEX challenges_expiry ON challenges(expires_at);
CREATE INDEX sessions_expiry ON sessions(expires_at);
