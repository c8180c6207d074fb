//! One-time links sent by email (E4 verification; F2 applies the same rules to reset links): the
//! token is random, stored only as its SHA-256 digest, expires, and its mail is queued in the
//! caller's transaction (Y1), so a link and its message exist together or not at all.

use crate::mechanisms::messages;
use crate::mechanisms::outbox;
use crate::mechanisms::service::Deps;
use crate::store::Conn;
use crate::values::clock::Timestamp;
use crate::values::email::Email;

/// F2: how long a reset link works.
pub const RESET_TTL_SECS: i64 = 30 * 60;
/// The stored purpose of reset links.
pub const RESET_PURPOSE: &str = "reset_password";

/// Y1: stores a new verification token (hashed) and queues its email in the caller's transaction.
pub async fn queue_verification(
    conn: &mut Conn,
    deps: &Deps,
    user_id: &str,
    email: &Email,
    first_name: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let token = deps.random.token(32);
    sqlx::query("INSERT INTO email_tokens (token_hash, user_id, purpose, expires_at, created_at) VALUES ($1, $2, 'verify_email', $3, $4)")
        .bind(token.digest())
        .bind(user_id)
        .bind(now + deps.settings.verify_ttl_secs)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let link = deps.link(&format!("/verify-email?token={}", token.expose()));
    outbox::enqueue(
        conn,
        &messages::verify_email(email.as_str(), first_name, &link),
        now,
    )
    .await
}

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
