//! Server-side sessions and the sign-in state machine.
//!
//! - S1: the browser holds a 256-bit random id; the table holds only its SHA-256.
//! - S2: [`rotate`] gives a new id at every step up (email → password → MFA), so an id seen before
//!   sign-in is worthless after it (no fixation).
//! - S3: idle timeout and absolute lifetime; the login flow itself lives at most `flow_ttl`.
//! - S4: [`revoke`] deletes the row; sign-out kills the session on the server.
//! - M5: only [`SessionState::Authenticated`] grants access to the account; a session that passed
//!   the password but not MFA is [`SessionState::Partial`] and reaches only the MFA step.

use crate::mechanisms::secret::{digest, new_token, Secret};
use crate::store::Conn;
use crate::values::clock::Timestamp;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    /// Email typed, password not yet checked (E2: proceeds whether or not the account exists).
    Identified { email: String },
    /// Password correct, MFA pending (M5).
    Partial { user_id: String },
    /// MFA just set up; the recovery codes are on screen until the person confirms they saved
    /// them (M6). Still not signed in (M5).
    ShowingCodes { user_id: String },
    /// F6: password recovery by SMS code for `email`; `user_id` only when the account exists
    /// and has a verified phone (the flow looks the same either way, F1).
    Recovering {
        email: String,
        user_id: Option<String>,
    },
    /// F6: the recovery code was right; only a new password can be set (never signed in, F5).
    ResetAllowed { user_id: String },
    /// Fully signed in.
    Authenticated {
        user_id: String,
        authenticated_at: Timestamp,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle_secs: i64,
    pub absolute_secs: i64,
    pub flow_secs: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_secs: 30 * 60,
            absolute_secs: 12 * 3600,
            flow_secs: 15 * 60,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub state: SessionState,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}

impl Session {
    /// M5: the user id of a fully authenticated session, never of a partial one.
    pub fn authenticated_user(&self) -> Option<&str> {
        match &self.state {
            SessionState::Authenticated { user_id, .. } => Some(user_id),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
}

impl ClientInfo {
    /// R2: what per-IP limits count under (an IPv6 client by its /64).
    pub fn rate_key(&self) -> String {
        crate::values::netaddr::rate_bucket(&self.ip)
    }
}

fn columns(state: &SessionState) -> (&'static str, Option<&str>, Option<&str>, Option<Timestamp>) {
    match state {
        SessionState::Identified { email } => ("identified", None, Some(email.as_str()), None),
        SessionState::Partial { user_id } => ("partial", Some(user_id.as_str()), None, None),
        SessionState::ShowingCodes { user_id } => ("codes", Some(user_id.as_str()), None, None),
        SessionState::Recovering { email, user_id } => {
            ("recovering", user_id.as_deref(), Some(email.as_str()), None)
        }
        SessionState::ResetAllowed { user_id } => ("reset", Some(user_id.as_str()), None, None),
        SessionState::Authenticated {
            user_id,
            authenticated_at,
        } => (
            "authenticated",
            Some(user_id.as_str()),
            None,
            Some(*authenticated_at),
        ),
    }
}

fn expiry(state: &SessionState, policy: &SessionPolicy, now: Timestamp) -> Timestamp {
    match state {
        SessionState::Authenticated { .. } => now + policy.absolute_secs,
        _ => now + policy.flow_secs,
    }
}

/// Creates a session and returns the plaintext id for the cookie.
pub async fn create(
    conn: &mut Conn,
    state: &SessionState,
    client: &ClientInfo,
    policy: &SessionPolicy,
    now: Timestamp,
) -> Result<Secret, sqlx::Error> {
    let token = new_token();
    let (kind, user_id, email, auth_at) = columns(state);
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, state, login_email, created_at, last_seen_at, expires_at, authenticated_at, ip, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9)",
    )
    .bind(token.digest())
    .bind(user_id)
    .bind(kind)
    .bind(email)
    .bind(now)
    .bind(expiry(state, policy, now))
    .bind(auth_at)
    .bind(truncate(&client.ip, 64))
    .bind(truncate(&client.user_agent, 256))
    .execute(&mut *conn)
    .await?;
    Ok(token)
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Finds a live session by its plaintext id (S3: idle and absolute limits), touching `last_seen`.
pub async fn lookup(
    conn: &mut Conn,
    token: &str,
    policy: &SessionPolicy,
    now: Timestamp,
) -> Result<Option<Session>, sqlx::Error> {
    load(conn, &digest(token), policy, now).await
}

/// O9: the live session whose SSO id is `sid` (RP-initiated logout posted from an application's
/// page carries no cookie; its verified `id_token_hint` names the session).
pub async fn by_sid(
    conn: &mut Conn,
    sid: &str,
    policy: &SessionPolicy,
    now: Timestamp,
) -> Result<Option<Session>, sqlx::Error> {
    let id_hash: Option<String> = sqlx::query_scalar("SELECT id_hash FROM sessions WHERE sid = $1")
        .bind(sid)
        .fetch_optional(&mut *conn)
        .await?;
    match id_hash {
        Some(h) => load(conn, &h, policy, now).await,
        None => Ok(None),
    }
}

async fn load(
    conn: &mut Conn,
    id_hash: &str,
    policy: &SessionPolicy,
    now: Timestamp,
) -> Result<Option<Session>, sqlx::Error> {
    let id_hash = id_hash.to_string();
    let row = sqlx::query(
        "SELECT state, user_id, login_email, created_at, last_seen_at, expires_at, authenticated_at FROM sessions WHERE id_hash = $1",
    )
    .bind(&id_hash)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let last_seen: i64 = row.try_get("last_seen_at")?;
    let expires: i64 = row.try_get("expires_at")?;
    if now >= expires || now - last_seen >= policy.idle_secs {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(&id_hash)
            .execute(&mut *conn)
            .await?;
        return Ok(None);
    }
    let kind: String = row.try_get("state")?;
    let user_id: Option<String> = row.try_get("user_id")?;
    let state = match (kind.as_str(), user_id) {
        ("identified", _) => SessionState::Identified {
            email: row
                .try_get::<Option<String>, _>("login_email")?
                .unwrap_or_default(),
        },
        ("partial", Some(user_id)) => SessionState::Partial { user_id },
        ("codes", Some(user_id)) => SessionState::ShowingCodes { user_id },
        ("recovering", user_id) => SessionState::Recovering {
            email: row
                .try_get::<Option<String>, _>("login_email")?
                .unwrap_or_default(),
            user_id,
        },
        ("reset", Some(user_id)) => SessionState::ResetAllowed { user_id },
        ("authenticated", Some(user_id)) => SessionState::Authenticated {
            user_id,
            authenticated_at: row
                .try_get::<Option<i64>, _>("authenticated_at")?
                .unwrap_or(0),
        },
        _ => return Ok(None),
    };
    if now - last_seen >= 60 {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1")
            .bind(&id_hash)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    Ok(Some(Session {
        id_hash,
        state,
        created_at: row.try_get("created_at")?,
        last_seen_at: last_seen,
    }))
}

/// S2: moves the session to `state` under a brand-new id; the old id stops working.
pub async fn rotate(
    conn: &mut Conn,
    old_hash: &str,
    state: &SessionState,
    policy: &SessionPolicy,
    now: Timestamp,
) -> Result<Option<Secret>, sqlx::Error> {
    let token = new_token();
    let (kind, user_id, email, auth_at) = columns(state);
    let res = sqlx::query(
        "UPDATE sessions SET id_hash = $2, state = $3, user_id = $4, login_email = $5, authenticated_at = $6, \
         last_seen_at = $7, expires_at = $8 WHERE id_hash = $1",
    )
    .bind(old_hash)
    .bind(token.digest())
    .bind(kind)
    .bind(user_id)
    .bind(email)
    .bind(auth_at)
    .bind(now)
    .bind(expiry(state, policy, now))
    .execute(&mut *conn)
    .await?;
    Ok((res.rows_affected() == 1).then_some(token))
}

/// A sign-in completed on this session: it gets a new SSO id (`sid`, kept through later
/// rotations such as S5's) and records how the person signed in (`amr`, space separated).
/// O6: always a new one — a browser that was signed in before (perhaps as someone else) must
/// not hand the earlier sign-in's `sid` to this one, or tokens of two sign-ins would share it
/// and one sign-out would end (or fail to end) the other's.
pub async fn mark_signed_in(conn: &mut Conn, id_hash: &str, amr: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET sid = $2, amr = $3 WHERE id_hash = $1")
        .bind(id_hash)
        .bind(crate::mechanisms::secret::random_hex(16))
        .bind(amr)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// O3: whether a signed-in session with the SSO id `sid` still exists.
pub async fn sso_alive(conn: &mut Conn, sid: &str) -> Result<bool, sqlx::Error> {
    let found: Option<String> = sqlx::query_scalar(
        "SELECT id_hash FROM sessions WHERE sid = $1 AND state = 'authenticated'",
    )
    .bind(sid)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

/// O6: the session's sign-in ended while the row lives on (a new sign-in begins on it): it
/// no longer carries that sign-in's `sid` or `amr`.
pub async fn forget_sso(conn: &mut Conn, id_hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET sid = NULL, amr = NULL WHERE id_hash = $1")
        .bind(id_hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// O7: records which authorization request (its digest) the sign-in on this session was
/// started for; `None` forgets it.
pub async fn bind_authorization(
    conn: &mut Conn,
    id_hash: &str,
    digest: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET authz_digest = $2 WHERE id_hash = $1")
        .bind(id_hash)
        .bind(digest)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// O7: the authorization request (digest) the session's sign-in was started for, if any.
pub async fn bound_authorization(
    conn: &mut Conn,
    id_hash: &str,
) -> Result<Option<String>, sqlx::Error> {
    let v: Option<Option<String>> =
        sqlx::query_scalar("SELECT authz_digest FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(v.flatten())
}

/// The SSO facts of a signed-in session: (`sid`, `amr`).
pub async fn sso(conn: &mut Conn, id_hash: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    let row = sqlx::query("SELECT sid, amr FROM sessions WHERE id_hash = $1 AND sid IS NOT NULL")
        .bind(id_hash)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| {
        Ok((
            r.try_get("sid")?,
            r.try_get::<Option<String>, _>("amr")?.unwrap_or_default(),
        ))
    })
    .transpose()
}

/// S5: the session proved password and second factor again just now.
pub async fn set_authenticated_at(
    conn: &mut Conn,
    id_hash: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sessions SET authenticated_at = $2 WHERE id_hash = $1 AND state = 'authenticated'",
    )
    .bind(id_hash)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Parks sealed data on the session (the recovery codes to show once, M6).
pub async fn set_pending(
    conn: &mut Conn,
    id_hash: &str,
    sealed: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET pending_sealed = $2 WHERE id_hash = $1")
        .bind(id_hash)
        .bind(sealed)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn pending(conn: &mut Conn, id_hash: &str) -> Result<Option<String>, sqlx::Error> {
    let v: Option<Option<String>> =
        sqlx::query_scalar("SELECT pending_sealed FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(v.flatten())
}

/// S4: sign-out deletes the server-side session.
pub async fn revoke(conn: &mut Conn, id_hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A signed-in session of a user, as the Security tab lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The stored digest of the session id (not the id itself; S1).
    pub id_hash: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub ip: String,
    pub user_agent: String,
}

/// The user's live signed-in sessions, most recently used first (S3 limits applied).
pub async fn list_for_user(
    conn: &mut Conn,
    user_id: &str,
    policy: &SessionPolicy,
    now: Timestamp,
) -> Result<Vec<Listed>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id_hash, created_at, last_seen_at, ip, user_agent FROM sessions \
         WHERE user_id = $1 AND state = 'authenticated' AND expires_at > $2 AND last_seen_at > $3 \
         ORDER BY last_seen_at DESC",
    )
    .bind(user_id)
    .bind(now)
    .bind(now - policy.idle_secs)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Listed {
                id_hash: r.try_get("id_hash")?,
                created_at: r.try_get("created_at")?,
                last_seen_at: r.try_get("last_seen_at")?,
                ip: r.try_get("ip")?,
                user_agent: r.try_get("user_agent")?,
            })
        })
        .collect()
}

/// S4: ends one of the user's own sessions, found by its digest; `false` when it is not theirs.
pub async fn revoke_own(
    conn: &mut Conn,
    user_id: &str,
    id_hash: &str,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash = $2")
        .bind(user_id)
        .bind(id_hash)
        .execute(&mut *conn)
        .await?;
    Ok(res.rows_affected() == 1)
}

/// S6: ends every session of a user except `keep` (password change, reset).
pub async fn revoke_all_for_user(
    conn: &mut Conn,
    user_id: &str,
    keep: Option<&str>,
) -> Result<u64, sqlx::Error> {
    let res = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
        .bind(user_id)
        .bind(keep.unwrap_or(""))
        .execute(&mut *conn)
        .await?;
    Ok(res.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    async fn user(conn: &mut Conn) -> String {
        let email = crate::values::email::Email::parse("s@example.com").expect("email");
        crate::mechanisms::users::insert(
            conn,
            crate::mechanisms::users::NewUser {
                email: &email,
                first_name: "S",
                last_name: "T",
                password_hash: "x",
                mfa_method: crate::mechanisms::users::MfaMethod::Email,
                verified: true,
            },
            0,
        )
        .await
        .expect("insert")
        .expect("new")
    }

    #[tokio::test]
    async fn s1_s2_ids_are_stored_hashed_and_rotation_kills_the_old_id() {
        for store in testing::all().await {
            let mut c = store.conn().await.expect("conn");
            let uid = user(&mut c).await;
            let p = SessionPolicy::default();
            let t1 = create(
                &mut c,
                &SessionState::Identified {
                    email: "s@example.com".into(),
                },
                &ClientInfo::default(),
                &p,
                100,
            )
            .await
            .expect("create");
            let stored: String = sqlx::query_scalar("SELECT id_hash FROM sessions")
                .fetch_one(&mut *c)
                .await
                .expect("row");
            assert_ne!(stored, t1.expose());
            assert_eq!(stored, t1.digest());
            let s = lookup(&mut c, t1.expose(), &p, 101)
                .await
                .expect("lookup")
                .expect("live");
            let t2 = rotate(
                &mut c,
                &s.id_hash,
                &SessionState::Partial {
                    user_id: uid.clone(),
                },
                &p,
                102,
            )
            .await
            .expect("rotate")
            .expect("rotated");
            assert!(lookup(&mut c, t1.expose(), &p, 103)
                .await
                .expect("lookup")
                .is_none());
            let s2 = lookup(&mut c, t2.expose(), &p, 103)
                .await
                .expect("lookup")
                .expect("live");
            assert_eq!(s2.state, SessionState::Partial { user_id: uid });
            assert!(
                s2.authenticated_user().is_none(),
                "M5: partial is not signed in"
            );
        }
    }

    #[tokio::test]
    async fn s3_idle_and_absolute_timeouts_end_sessions() {
        for store in testing::all().await {
            let mut c = store.conn().await.expect("conn");
            let uid = user(&mut c).await;
            let p = SessionPolicy {
                idle_secs: 100,
                absolute_secs: 1000,
                flow_secs: 50,
            };
            let st = SessionState::Authenticated {
                user_id: uid,
                authenticated_at: 0,
            };
            let t = create(&mut c, &st, &ClientInfo::default(), &p, 0)
                .await
                .expect("create");
            for now in [90, 180, 270, 360, 450, 540, 630, 720, 810, 900, 990] {
                assert!(
                    lookup(&mut c, t.expose(), &p, now)
                        .await
                        .expect("lookup")
                        .is_some(),
                    "alive at {now}"
                );
            }
            assert!(
                lookup(&mut c, t.expose(), &p, 1000)
                    .await
                    .expect("lookup")
                    .is_none(),
                "absolute limit"
            );
            let t = create(&mut c, &st, &ClientInfo::default(), &p, 0)
                .await
                .expect("create");
            assert!(
                lookup(&mut c, t.expose(), &p, 100)
                    .await
                    .expect("lookup")
                    .is_none(),
                "idle limit"
            );
        }
    }
}
