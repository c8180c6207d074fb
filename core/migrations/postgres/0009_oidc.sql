-- OpenID Connect provider (issue 13). Every secret is stored as a SHA-256 digest (O2, O3);
-- signing keys are sealed with the instance key (O4).

-- The SSO session's stable id (the ID token's `sid`; it survives S2's id rotation) and how the
-- person signed in (the `amr` claim: pwd, otp, sms, mfa, space separated).
ALTER TABLE sessions ADD COLUMN sid TEXT;
ALTER TABLE sessions ADD COLUMN amr TEXT;

-- O4: RS256 and ES256 keys; a retired key stays in the JWKS until the tokens it signed expire.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    sealed TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

-- Relying parties. O1: redirect_uris (one per line) are compared exactly.
CREATE TABLE oidc_clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT,
    first_party INTEGER NOT NULL DEFAULT 0,
    redirect_uris TEXT NOT NULL,
    logout_uri TEXT,
    alg TEXT NOT NULL DEFAULT 'RS256',
    created_at BIGINT NOT NULL
);

-- What a person let a client see (consent; first-party clients record it without asking), and
-- when the client last used the account (the Security tab's Applications).
CREATE TABLE oidc_grants (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES oidc_clients(id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- O2: authorization codes, single use, 60 s. `family` names every token the code leads to.
CREATE TABLE oidc_codes (
    code_hash TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES oidc_clients(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sid TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    challenge TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

-- O3: access and refresh tokens of a family (one sign-in of one client). A refresh token is
-- used once (rotated); presenting a used one revokes the family.
CREATE TABLE oidc_tokens (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    family TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES oidc_clients(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sid TEXT NOT NULL,
    scope TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX oidc_tokens_family ON oidc_tokens(family);
CREATE INDEX oidc_tokens_user ON oidc_tokens(user_id, client_id);
CREATE INDEX oidc_tokens_sid ON oidc_tokens(sid);
