-- Instance roles (issue 14): `support` opens the support console (`gatehouse user
-- grant-support EMAIL`). One row per person and role.
CREATE TABLE staff (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, role)
);
