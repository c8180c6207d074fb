-- Instance roles (issue 14): `support` opens the support console (`gatehouse user
-- grant-support EMAIL`). One row per person and role.
CREATE TABLE staff (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, role)
);

-- Support's email change is confirmed from both addresses: its two links share a request id,
-- and the change is made when both are used.
ALTER TABLE email_tokens ADD COLUMN request_id TEXT;
