//! O6: when an SSO session ends, every token issued under it is revoked and each client that
//! registered a back-channel logout URI is told (OpenID Connect Back-Channel Logout 1.0).
//!
//! The notice is a logout token — a JWT signed with the client's algorithm naming the issuer,
//! the client (`aud`), the person (`sub`), the session (`sid`) and the logout event, never a
//! `nonce`. Its claims are queued in the outbox in the same transaction as the sign-out, so it
//! is delivered (and retried) like every other message even if this instance dies right after
//! (Y1); it is signed at each attempt (O9), never before.

use crate::mechanisms::crypto::SecretKey;
use crate::mechanisms::oidc_clients;
use crate::mechanisms::oidc_grants;
use crate::mechanisms::outbox::{self, Channel, Message};
use crate::mechanisms::secret::random_hex;
use crate::mechanisms::signing::{self, SigningError};
use crate::store::Conn;
use crate::values::clock::Timestamp;
use crate::values::oidc::Alg;
use serde::{Deserialize, Serialize};
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
    /// Every one but this (or every one): "Sign out other sessions", a password change or
    /// reset (S6).
    AllBut(Option<&'a str>),
}

/// O6/O3/S6: sessions of `user_id` are about to be deleted: each one's SSO session ends for
/// every application too — its tokens revoked, its unredeemed codes dead, a logout notice
/// queued for each client that held a token and has a logout URI. Call in the transaction
/// that deletes them. Returns how many notices were queued.
///
/// For [`Ending::AllBut`] that is every SSO session the person has tokens or unredeemed codes
/// under — not only those whose session row still exists: a session that idled out and was
/// swept leaves its refresh tokens behind, and a password reset must end them too. Only the
/// kept session's `sid` survives.
///
/// Every token is revoked before any logout token is queued, so a notice that cannot be
/// prepared never leaves a token alive.
pub async fn sessions_ending(
    conn: &mut Conn,
    issuer: &str,
    user_id: &str,
    which: Ending<'_>,
    now: Timestamp,
) -> Result<usize, sqlx::Error> {
    // O3: after any token the person's token requests are issuing right now (they hold it).
    crate::mechanisms::users::lock(conn, user_id).await?;
    let sids: Vec<String> =
        match which {
            Ending::Only(id_hash) => sqlx::query_scalar(
                "SELECT sid FROM sessions WHERE user_id = $1 AND id_hash = $2 AND sid IS NOT NULL",
            )
            .bind(user_id)
            .bind(id_hash)
            .fetch_all(&mut *conn)
            .await?,
            Ending::AllBut(keep) => {
                let kept: Option<String> = match keep {
                    Some(id_hash) => sqlx::query_scalar(
                        "SELECT sid FROM sessions WHERE user_id = $1 AND id_hash = $2",
                    )
                    .bind(user_id)
                    .bind(id_hash)
                    .fetch_optional(&mut *conn)
                    .await?
                    .flatten(),
                    None => None,
                };
                sqlx::query_scalar(
                    "SELECT sid FROM sessions WHERE user_id = $1 AND sid IS NOT NULL \
                 UNION SELECT sid FROM oidc_tokens WHERE user_id = $1 AND revoked_at IS NULL \
                 AND expires_at > $2 \
                 UNION SELECT sid FROM oidc_codes WHERE user_id = $1 AND used_at IS NULL \
                 AND expires_at > $2 ORDER BY 1",
                )
                .bind(user_id)
                .bind(now)
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .filter(|sid: &String| Some(sid) != kept.as_ref())
                .collect()
            }
        };
    let mut told = Vec::new();
    for sid in &sids {
        for client in oidc_grants::end_session(conn, sid, now).await? {
            told.push((sid.as_str(), client));
        }
    }
    let mut queued = 0;
    for (sid, client) in told {
        queued += notice(conn, issuer, sid, user_id, &client, now).await?;
    }
    Ok(queued)
}

/// What a queued logout notice holds: the claims to sign and the algorithm to sign them with.
/// O9: the token is signed when each attempt is sent ([`signed_for_delivery`]), so a retry
/// minutes later still carries a fresh `iat`/`exp` (Back-Channel Logout 1.0 §2.4).
#[derive(Debug, Serialize, Deserialize)]
struct Notice {
    alg: String,
    claims: serde_json::Value,
}

/// Queues the logout notice of `sid` for `client_id`, if it has a logout URI (0 or 1).
async fn notice(
    conn: &mut Conn,
    issuer: &str,
    sid: &str,
    user_id: &str,
    client_id: &str,
    now: Timestamp,
) -> Result<usize, sqlx::Error> {
    let Some(client) = oidc_clients::find(conn, client_id).await? else {
        return Ok(0);
    };
    let Some(uri) = client.logout_uri else {
        return Ok(0);
    };
    let notice = Notice {
        alg: client.alg.as_str().to_string(),
        claims: json!({
            "iss": issuer, "aud": client.id, "sub": user_id, "sid": sid,
            "events": { EVENT: {} },
        }),
    };
    let message = Message {
        channel: Channel::Logout,
        recipient: uri.as_str().to_string(),
        subject: format!("Back-channel logout for {}", client.name),
        text: serde_json::to_string(&notice).unwrap_or_default(),
        html: String::new(),
    };
    outbox::enqueue(conn, &message, now).await?;
    Ok(1)
}

/// O9: the logout token to send now for a queued notice (`text` as queued): signed with the
/// key current at this attempt, `iat` now, `exp` [`LOGOUT_TOKEN_TTL`] later, a new `jti`.
pub async fn signed_for_delivery(
    conn: &mut Conn,
    key: &SecretKey,
    text: &str,
    now: Timestamp,
) -> Result<String, SigningError> {
    let notice: Notice = serde_json::from_str(text)
        .map_err(|_| SigningError::Malformed("a queued logout notice"))?;
    let alg = Alg::parse(&notice.alg).ok_or(SigningError::Malformed("a notice's alg"))?;
    let mut claims = notice.claims;
    claims["iat"] = json!(now);
    claims["exp"] = json!(now + LOGOUT_TOKEN_TTL);
    claims["jti"] = json!(random_hex(16));
    let signer = signing::signer(conn, key, alg, now).await?;
    signer.sign("logout+jwt", &claims)
}
