-- O9 (RP-Initiated Logout 1.0 §3): where a client may send people after logout is registered
-- apart from its redirect URIs (one per line). Clients registered before keep what they could
-- do until now: their redirect URIs are their post-logout URIs until an update says otherwise.
ALTER TABLE oidc_clients ADD COLUMN post_logout_uris TEXT NOT NULL DEFAULT '';
UPDATE oidc_clients SET post_logout_uris = redirect_uris;
CREATE INDEX sessions_sid ON sessions(sid);
-- O7: the authorization request a sign-in was started for (the digest of the parked request),
-- so the sign-in continues only that one, never one a popup parked meanwhile.
ALTER TABLE sessions ADD COLUMN authz_digest TEXT;
