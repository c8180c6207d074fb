-- MFA factors as rows (M12: a new factor kind is a new row, not a new column) and recovery codes.
-- Keep in step with ../postgres/0002_mfa_factors.sql (Y3).
CREATE TABLE mfa_factors (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    secret_sealed TEXT,
    phone TEXT,
    confirmed_at INTEGER,
    last_used_step INTEGER,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX mfa_factors_user_kind ON mfa_factors(user_id, kind);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    used_at INTEGER,
    PRIMARY KEY (user_id, code_hash)
);
