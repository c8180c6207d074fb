//! One-time links sent by email (E4 verification; F2 applies the same rules to reset links): the
//! token is random, stored only as its SHA-256 digest, expires, and its mail is queued in the
//! caller's transaction (Y1), so a link and its message exist together or not at all.

use crate::mechanisms::messages;
use crate::mechanisms::outbox;
use crate::mechanisms::secret::{digest, Secret};
use crate::mechanisms::service::Deps;
use crate::store::Conn;
use crate::values::clock::Timestamp;
use crate::values::email::Email;
use sqlx::Row;

/// A link that still works: whose it is, when it was made and dies, and (support's email
/// change) the address it confirms.
#[derive(Debug, Clone)]
pub struct Live {
    pub user_id: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub new_email: Option<String>,
    /// Links issued together (support's email change: one to each address) share this.
    pub request_id: Option<String>,
}

fn live_of(row: &sqlx::any::AnyRow) -> Result<Live, sqlx::Error> {
    Ok(Live {
        user_id: row.try_get("user_id")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        new_email: row.try_get("new_email")?,
        request_id: row.try_get("request_id")?,
    })
}

const LIVE: &str = "user_id, created_at, expires_at, new_email, request_id";

/// Stores a link's token of `purpose` (only its SHA-256 digest), working for `ttl_secs`.
pub async fn issue(
    conn: &mut Conn,
    token: &Secret,
    user_id: &str,
    purpose: &str,
    ttl_secs: i64,
    new_email: Option<&str>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO email_tokens (token_hash, user_id, purpose, expires_at, created_at, new_email) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token.digest())
    .bind(user_id)
    .bind(purpose)
    .bind(now + ttl_secs)
    .bind(now)
    .bind(new_email)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// E4: reads a link of `purpose` without using it; `None` when unknown, used or expired.
pub async fn live(
    conn: &mut Conn,
    token: &str,
    purpose: &str,
    now: Timestamp,
) -> Result<Option<Live>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {LIVE} FROM email_tokens WHERE token_hash = $1 AND purpose = $2 \
         AND used_at IS NULL AND expires_at > $3"
    ))
    .bind(digest(token.trim()))
    .bind(purpose)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(live_of)
    .transpose()
}

/// F2: uses a link of `purpose`, once: the check and the use are one statement, so two
/// parallel uses cannot both pass. `None` when it no longer works.
pub async fn consume(
    conn: &mut Conn,
    token: &str,
    purpose: &str,
    now: Timestamp,
) -> Result<Option<Live>, sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE email_tokens SET used_at = $3 WHERE token_hash = $1 AND purpose = $2 \
         AND used_at IS NULL AND expires_at > $3 RETURNING {LIVE}"
    ))
    .bind(digest(token.trim()))
    .bind(purpose)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(live_of)
    .transpose()
}

/// F2: every unused link of `purpose` of the user dies (a newer one replaces them).
pub async fn revoke_all(
    conn: &mut Conn,
    user_id: &str,
    purpose: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE email_tokens SET used_at = $3 WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(purpose)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks the link of `token` as one of the links of `request_id`.
pub async fn tag(conn: &mut Conn, token: &Secret, request_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE email_tokens SET request_id = $2 WHERE token_hash = $1")
        .bind(token.digest())
        .bind(request_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whether the link of `purpose` issued with `request_id` was used. (A link is revoked only
/// together with every other link of its purpose for the account, by a newer request, so while
/// one link of a request still works, a used sibling was used, not revoked.)
pub async fn used_in_request(
    conn: &mut Conn,
    user_id: &str,
    purpose: &str,
    request_id: &str,
) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM email_tokens WHERE user_id = $1 AND purpose = $2 \
         AND request_id = $3 AND used_at IS NOT NULL",
    )
    .bind(user_id)
    .bind(purpose)
    .bind(request_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// F2: how long a reset link works.
pub const RESET_TTL_SECS: i64 = 30 * 60;
/// The stored purpose of reset links.
pub const RESET_PURPOSE: &str = "reset_password";
/// The stored purpose of verification links (E4).
pub const VERIFY_PURPOSE: &str = "verify_email";

/// Y1: stores a new verification token (hashed) and queues its email in the caller's transaction.
///
/// R4/R7: a stranger can trigger this mail (registering an unverified address again, signing in
/// to it), so it is capped per recipient — [`VERIFY_MAILS_PER_HOUR`] an hour, whoever asks
/// and from wherever — and coalesced: a link still waiting in the outbox is replaced by the new
/// one instead of a second mail. Beyond the cap the new link is issued but not mailed (the
/// next hour's registration or sign-in mails a fresh one).
pub async fn queue_verification(
    conn: &mut Conn,
    deps: &Deps,
    user_id: &str,
    email: &Email,
    first_name: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let token = deps.random.token(32);
    let ttl = deps.settings.verify_ttl_secs;
    issue(conn, &token, user_id, VERIFY_PURPOSE, ttl, None, now).await?;
    let link = deps.link(&format!("/verify-email?token={}", token.expose()));
    let message = messages::verify_email(email.as_str(), first_name, &link);
    if outbox::coalesce(conn, &message, now).await? {
        return Ok(());
    }
    let cap = crate::mechanisms::ratelimit::Limit {
        max: VERIFY_MAILS_PER_HOUR,
        window_secs: 3600,
    };
    let key = format!("send:verify:{}", email.as_str());
    if crate::mechanisms::ratelimit::within(conn, &key, cap, now).await? {
        outbox::enqueue(conn, &message, now).await
    } else {
        tracing::warn!("R4: verification mail cap reached for an address; not mailed");
        Ok(())
    }
}

/// R4: verification mails one address receives in an hour at most.
pub const VERIFY_MAILS_PER_HOUR: i64 = 3;

/// F8: when the newest unused reset link of the user was sent and when it expires, while it
/// works.
pub async fn open_reset_link(
    conn: &mut Conn,
    user_id: &str,
    now: Timestamp,
) -> Result<Option<(Timestamp, Timestamp)>, sqlx::Error> {
    let expires: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(expires_at) FROM email_tokens WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(user_id)
    .bind(RESET_PURPOSE)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(expires.map(|e| (e - RESET_TTL_SECS, e)))
}
