//! O6: when an SSO session ends, every token issued under it is revoked and each client that
//! registered a back-channel logout URI is told (OpenID Connect Back-Channel Logout 1.0).
//!
//! The notice is a logout token — a JWT signed with the client's algorithm naming the issuer,
//! the client (`aud`), the person (`sub`), the session (`sid`) and the logout event, never a
//! `nonce` — queued in the outbox in the same transaction as the sign-out, so it is delivered
//! (and retried) like every other message even if this instance dies right after (Y1).

use crate::mechanisms::crypto::SecretKey;
use crate::mechanisms::oidc_clients;
use crate::mechanisms::oidc_grants;
use crate::mechanisms::outbox::{self, Channel, Message};
use crate::mechanisms::secret::random_hex;
use crate::mechanisms::signing::{self, SigningError};
use crate::store::Conn;
use crate::values::clock::Timestamp;
use serde_json::json;

/// How long a logout token is good for (receivers check `iat`/`exp`).
pub const LOGOUT_TOKEN_TTL: i64 = 120;

/// The event a logout token carries.
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Which of a person's sessions are ending.
#[derive(Debug, Clone, Copy)]
pub enum Ending<'a> {
    /// This one (sign-out, or "Sign out" on its row).
    Only(&'a str),
    /// Every one but this (or every one): "Sign out other sessions", a password change (S6).
    AllBut(Option<&'a str>),
}

/// O6: sessions of `user_id` are about to be deleted: each signed-in one's SSO session ends
/// for every application too ([`session_ended`]). Call in the transaction that deletes them.
pub async fn sessions_ending(
    conn: &mut Conn,
    key: &SecretKey,
    issuer: &str,
    user_id: &str,
    which: Ending<'_>,
    now: Timestamp,
) -> Result<usize, SigningError> {
    let sids: Vec<String> = match which {
        Ending::Only(id_hash) => sqlx::query_scalar(
            "SELECT sid FROM sessions WHERE user_id = $1 AND id_hash = $2 AND sid IS NOT NULL",
        )
        .bind(user_id)
        .bind(id_hash),
        Ending::AllBut(keep) => sqlx::query_scalar(
            "SELECT sid FROM sessions WHERE user_id = $1 AND id_hash <> $2 AND sid IS NOT NULL",
        )
        .bind(user_id)
        .bind(keep.unwrap_or("")),
    }
    .fetch_all(&mut *conn)
    .await?;
    let mut queued = 0;
    for sid in sids {
        queued += session_ended(conn, key, issuer, &sid, user_id, now).await?;
    }
    Ok(queued)
}

/// The session `sid` of `user_id` ended: revoke its tokens and queue a logout token for each
/// client that held one and has a logout URI. Returns how many were queued.
pub async fn session_ended(
    conn: &mut Conn,
    key: &SecretKey,
    issuer: &str,
    sid: &str,
    user_id: &str,
    now: Timestamp,
) -> Result<usize, SigningError> {
    let clients = oidc_grants::end_session(conn, sid, now).await?;
    let mut queued = 0;
    for id in clients {
        let Some(client) = oidc_clients::find(conn, &id).await? else {
            continue;
        };
        let Some(uri) = client.logout_uri else {
            continue;
        };
        let signer = signing::signer(conn, key, client.alg, now).await?;
        let token = signer.sign(
            "logout+jwt",
            &json!({
                "iss": issuer, "aud": client.id, "sub": user_id, "sid": sid,
                "iat": now, "exp": now + LOGOUT_TOKEN_TTL, "jti": random_hex(16),
                "events": { EVENT: {} },
            }),
        )?;
        let message = Message {
            channel: Channel::Logout,
            recipient: uri.as_str().to_string(),
            subject: format!("Back-channel logout for {}", client.name),
            text: token,
            html: String::new(),
        };
        outbox::enqueue(conn, &message, now).await?;
        queued += 1;
    }
    Ok(queued)
}
