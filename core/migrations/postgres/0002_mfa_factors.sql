-- MFA factors as rows (M12: a new factor kind is a new row, not a new column) and recovery codes.
-- Keep in step with ../sqlite/0002_mfa_factors.sql (Y3).
CREATE TABLE mfa_factors (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    secret_sealed TEXT,
    phone TEXT,
    confirmed_at BIGINT,
    last_used_step BIGINT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX mfa_factors_user_kind ON mfa_factors(user_id, kind);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);
