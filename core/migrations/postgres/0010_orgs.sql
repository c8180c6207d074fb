-- Organizations (issue 14): people belong to several, each with one role; invitations store
-- only a digest of their token. F7's per-organization rules live on the organization's row.
CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- F7: recovery methods members get (at least one), MFA methods they may use (space
    -- separated: email sms totp), calling codes SMS may go to (space separated; empty: any the
    -- instance allows).
    recovery_email INTEGER NOT NULL DEFAULT 1,
    recovery_sms INTEGER NOT NULL DEFAULT 1,
    mfa_methods TEXT NOT NULL DEFAULT 'email sms totp',
    sms_calling_codes TEXT NOT NULL DEFAULT ''
);

CREATE TABLE memberships (
    org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id);

-- E1: an invitation names an address, never an account. A resend replaces token_hash (the old
-- link dies). claimed_by: the account registered through the link; it joins when its address
-- is verified.
CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    invited_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    outcome TEXT,
    answered_at BIGINT,
    claimed_by TEXT
);
CREATE INDEX invitations_org ON invitations(org_id);
CREATE INDEX invitations_email ON invitations(email);

-- G1: an event about an organization names it, and one done by someone else (an admin,
-- support) names them. Ids, not free text.
ALTER TABLE security_events ADD COLUMN org_id TEXT;
ALTER TABLE security_events ADD COLUMN actor_id TEXT;
