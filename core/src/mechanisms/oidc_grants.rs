//! What the OpenID Connect provider has handed out: authorization codes, access and refresh
//! tokens, and each person's consent per client (issue 13).
//!
//! - O2: a code is 256 random bits, stored as its digest, lives [`CODE_TTL`] seconds and is
//!   used once: the first redemption marks it in the same statement that checks it (no race
//!   lets two win). Presenting it again revokes every token it led to (its family). The client,
//!   the exact redirect URI and the PKCE verifier must match what the code was issued for.
//! - O3: a refresh token is used once; using it yields a new one in the same family. Presenting
//!   an already used refresh token is taken as theft and revokes the whole family. Tokens are
//!   stored as digests only; an access token (a JWT) is checked against its stored digest too,
//!   so revocation takes effect at once, not at expiry.
//! - G1: every revocation that is not the person's own doing (a replayed code, a reused refresh
//!   token, the application revoking its token) is a security event of the person.
//! - Consent is remembered per person and client with the scopes it covered; "Remove access"
//!   forgets it and revokes the client's tokens.

use crate::mechanisms::events::{self, EventKind};
use crate::mechanisms::secret::{digest, new_token, random_hex, Secret};
use crate::mechanisms::sessions::ClientInfo;
use crate::store::Conn;
use crate::values::clock::Timestamp;
use crate::values::oidc::{CodeChallenge, OAuthError, Refused, Scopes};
use sqlx::Row;

/// O2: an authorization code lives one minute.
pub const CODE_TTL: i64 = 60;

/// Who signed in to which client, how and when: what a code or token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub family: String,
    pub client_id: String,
    pub user_id: String,
    /// The SSO session (the ID token's `sid`).
    pub sid: String,
    pub scope: Scopes,
    pub auth_time: Timestamp,
    /// `amr` values, space separated.
    pub amr: String,
}

/// A code being issued at the end of `/oauth2/authorize`.
#[derive(Debug, Clone)]
pub struct CodeRequest {
    pub grant: Grant,
    pub redirect_uri: String,
    pub nonce: Option<String>,
    pub challenge: CodeChallenge,
}

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("{0}")]
    Refused(Refused),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

const fn invalid_grant(why: &'static str) -> GrantError {
    GrantError::Refused(Refused::new(OAuthError::InvalidGrant, why))
}

/// O2: stores a new code for `req` (a new token family) and returns it.
pub async fn issue_code(
    conn: &mut Conn,
    req: &CodeRequest,
    now: Timestamp,
) -> Result<Secret, sqlx::Error> {
    let code = new_token();
    let g = &req.grant;
    sqlx::query(
        "INSERT INTO oidc_codes (code_hash, family, client_id, user_id, sid, redirect_uri, scope, nonce, \
         challenge, auth_time, amr, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(code.digest())
    .bind(random_hex(16))
    .bind(&g.client_id)
    .bind(&g.user_id)
    .bind(&g.sid)
    .bind(&req.redirect_uri)
    .bind(g.scope.as_string())
    .bind(&req.nonce)
    .bind(req.challenge.as_str())
    .bind(g.auth_time)
    .bind(&g.amr)
    .bind(now + CODE_TTL)
    .execute(&mut *conn)
    .await?;
    Ok(code)
}

fn grant_of(r: &sqlx::any::AnyRow) -> Result<Grant, sqlx::Error> {
    let scope: String = r.try_get("scope")?;
    Ok(Grant {
        family: r.try_get("family")?,
        client_id: r.try_get("client_id")?,
        user_id: r.try_get("user_id")?,
        sid: r.try_get("sid")?,
        scope: Scopes::parse(&scope).unwrap_or_default(),
        auth_time: r.try_get("auth_time")?,
        amr: r.try_get("amr")?,
    })
}

/// O2: redeems `code` for `client_id` (the token endpoint). Returns the grant and the `nonce`
/// to put in the ID token. Call inside a transaction: a replay's revocation commits with it.
pub async fn redeem_code(
    conn: &mut Conn,
    code: &str,
    client_id: &str,
    redirect_uri: &str,
    verifier: &str,
    who: &ClientInfo,
    now: Timestamp,
) -> Result<(Grant, Option<String>), GrantError> {
    let hash = digest(code);
    let first =
        sqlx::query("UPDATE oidc_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL")
            .bind(&hash)
            .bind(now)
            .execute(&mut *conn)
            .await?
            .rows_affected()
            == 1;
    let row = sqlx::query(
        "SELECT family, client_id, user_id, sid, scope, auth_time, amr, redirect_uri, nonce, challenge, \
         expires_at FROM oidc_codes WHERE code_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(invalid_grant("unknown code"))?;
    let grant = grant_of(&row)?;
    if !first {
        stolen(conn, &grant, who, now).await?;
        tracing::warn!(
            client_id,
            "O2: an authorization code was replayed; its tokens are revoked"
        );
        return Err(invalid_grant("code already used"));
    }
    let expires_at: i64 = row.try_get("expires_at")?;
    let stored_uri: String = row.try_get("redirect_uri")?;
    let challenge: String = row.try_get("challenge")?;
    if now >= expires_at {
        return Err(invalid_grant("code expired"));
    }
    if grant.client_id != client_id {
        return Err(invalid_grant("code was issued to another client"));
    }
    if stored_uri != redirect_uri {
        return Err(invalid_grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    if !CodeChallenge::stored(challenge).verify(verifier) {
        return Err(invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    Ok((grant, row.try_get("nonce")?))
}

/// O3: whose code or refresh token `secret` is (read without a lock, to take the person's row
/// before the token itself; see `users::lock`).
pub async fn owner(
    conn: &mut Conn,
    secret: &str,
    refresh: bool,
) -> Result<Option<String>, sqlx::Error> {
    let sql = if refresh {
        "SELECT user_id FROM oidc_tokens WHERE token_hash = $1"
    } else {
        "SELECT user_id FROM oidc_codes WHERE code_hash = $1"
    };
    sqlx::query_scalar(sql)
        .bind(digest(secret))
        .fetch_optional(&mut *conn)
        .await
}

/// The two kinds of stored token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }
}

/// Stores `token` (its digest) as a token of `grant`'s family, valid `ttl` seconds.
pub async fn store_token(
    conn: &mut Conn,
    kind: TokenKind,
    token: &str,
    grant: &Grant,
    ttl: i64,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oidc_tokens (token_hash, kind, family, client_id, user_id, sid, scope, auth_time, amr, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(digest(token))
    .bind(kind.as_str())
    .bind(&grant.family)
    .bind(&grant.client_id)
    .bind(&grant.user_id)
    .bind(&grant.sid)
    .bind(grant.scope.as_string())
    .bind(grant.auth_time)
    .bind(&grant.amr)
    .bind(now)
    .bind(now + ttl)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A new refresh token of `grant`'s family.
pub async fn new_refresh(
    conn: &mut Conn,
    grant: &Grant,
    ttl: i64,
    now: Timestamp,
) -> Result<Secret, sqlx::Error> {
    let token = new_token();
    store_token(conn, TokenKind::Refresh, token.expose(), grant, ttl, now).await?;
    Ok(token)
}

const TOKEN_COLUMNS: &str =
    "kind, family, client_id, user_id, sid, scope, auth_time, amr, expires_at, used_at, revoked_at";

/// O3: uses a refresh token of `client_id` once. A second use revokes the family.
pub async fn use_refresh(
    conn: &mut Conn,
    token: &str,
    client_id: &str,
    who: &ClientInfo,
    now: Timestamp,
) -> Result<Grant, GrantError> {
    let hash = digest(token);
    let first = sqlx::query(
        "UPDATE oidc_tokens SET used_at = $2 WHERE token_hash = $1 AND kind = 'refresh' \
         AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2 AND client_id = $3",
    )
    .bind(&hash)
    .bind(now)
    .bind(client_id)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    let row = sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS} FROM oidc_tokens WHERE token_hash = $1 AND kind = 'refresh'"
    ))
    .bind(&hash)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(invalid_grant("unknown refresh token"))?;
    let grant = grant_of(&row)?;
    if first {
        return Ok(grant);
    }
    let used: Option<i64> = row.try_get("used_at")?;
    let revoked: Option<i64> = row.try_get("revoked_at")?;
    if used.is_some() && revoked.is_none() {
        stolen(conn, &grant, who, now).await?;
        tracing::warn!(
            client_id,
            "O3: a used refresh token came back; its family is revoked"
        );
        return Err(invalid_grant("refresh token already used"));
    }
    Err(invalid_grant(if revoked.is_some() {
        "refresh token revoked"
    } else if grant.client_id != client_id {
        "refresh token of another client"
    } else {
        "refresh token expired"
    }))
}

/// A live token (not expired, not revoked, and for a refresh token not used yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub kind: TokenKind,
    pub grant: Grant,
    pub expires_at: Timestamp,
}

/// The live token `token` (its digest looked up), if it is one.
pub async fn live(
    conn: &mut Conn,
    token: &str,
    now: Timestamp,
) -> Result<Option<Live>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS} FROM oidc_tokens WHERE token_hash = $1 AND revoked_at IS NULL \
         AND used_at IS NULL AND expires_at > $2"
    ))
    .bind(digest(token))
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let kind: String = row.try_get("kind")?;
    Ok(Some(Live {
        kind: if kind == "refresh" {
            TokenKind::Refresh
        } else {
            TokenKind::Access
        },
        grant: grant_of(&row)?,
        expires_at: row.try_get("expires_at")?,
    }))
}

/// O2/O3: a code or refresh token of `grant` came back after its use — taken as stolen: the
/// whole family is revoked and the person sees it (G1).
async fn stolen(
    conn: &mut Conn,
    grant: &Grant,
    who: &ClientInfo,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    revoke_family(conn, &grant.family, now).await?;
    events::record(
        conn,
        Some(&grant.user_id),
        EventKind::AppTokensRevoked,
        who,
        now,
    )
    .await
}

/// Revokes every token of a family (O2 replay, O3 reuse, RFC 7009 for a refresh token).
pub async fn revoke_family(
    conn: &mut Conn,
    family: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE oidc_tokens SET revoked_at = $2 WHERE family = $1 AND revoked_at IS NULL")
        .bind(family)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// RFC 7009: revokes `token` if it is `client_id`'s — a refresh token with its whole family —
/// and records it for the person (G1). Whether anything was revoked (the endpoint answers 200
/// either way).
pub async fn revoke(
    conn: &mut Conn,
    token: &str,
    client_id: &str,
    who: &ClientInfo,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "SELECT kind, family, user_id FROM oidc_tokens WHERE token_hash = $1 AND client_id = $2 \
         AND revoked_at IS NULL",
    )
    .bind(digest(token))
    .bind(client_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(false) };
    let kind: String = row.try_get("kind")?;
    let user_id: String = row.try_get("user_id")?;
    if kind == "refresh" {
        let family: String = row.try_get("family")?;
        revoke_family(conn, &family, now).await?;
    } else {
        sqlx::query(
            "UPDATE oidc_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(digest(token))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    events::record(conn, Some(&user_id), EventKind::AppTokensRevoked, who, now).await?;
    Ok(true)
}

/// O6: the SSO session `sid` ended: its tokens are revoked and its unredeemed codes die (a
/// code issued before a sign-out is refused after it). Returns the clients that held live
/// tokens of it (to be told by back-channel logout).
pub async fn end_session(
    conn: &mut Conn,
    sid: &str,
    now: Timestamp,
) -> Result<Vec<String>, sqlx::Error> {
    let clients: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT client_id FROM oidc_tokens WHERE sid = $1 AND revoked_at IS NULL ORDER BY client_id",
    )
    .bind(sid)
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query("UPDATE oidc_tokens SET revoked_at = $2 WHERE sid = $1 AND revoked_at IS NULL")
        .bind(sid)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE oidc_codes SET expires_at = $2 WHERE sid = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(sid)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(clients)
}

/// The scopes `user_id` already let `client_id` see, if any.
pub async fn consented(
    conn: &mut Conn,
    user_id: &str,
    client_id: &str,
) -> Result<Option<Scopes>, sqlx::Error> {
    let scope: Option<String> =
        sqlx::query_scalar("SELECT scope FROM oidc_grants WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(scope.and_then(|s| Scopes::parse(&s).ok()))
}

/// Records that `user_id` signed in to `client_id` with `scope` now (consent grows to cover it).
pub async fn record_use(
    conn: &mut Conn,
    user_id: &str,
    client_id: &str,
    scope: Scopes,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let scope = consented(conn, user_id, client_id)
        .await?
        .map_or(scope, |s| s.union(scope));
    sqlx::query(
        "INSERT INTO oidc_grants (user_id, client_id, scope, created_at, last_used_at) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (user_id, client_id) DO UPDATE SET scope = $3, last_used_at = $4",
    )
    .bind(user_id)
    .bind(client_id)
    .bind(scope.as_string())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An application a person signed in to (the Security tab's Applications).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub client_id: String,
    pub name: String,
    pub scope: Scopes,
    pub last_used_at: Timestamp,
}

pub async fn applications(conn: &mut Conn, user_id: &str) -> Result<Vec<Application>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT g.client_id, c.name, g.scope, g.last_used_at FROM oidc_grants g \
         JOIN oidc_clients c ON c.id = g.client_id WHERE g.user_id = $1 ORDER BY g.last_used_at DESC, c.name",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let scope: String = r.try_get("scope")?;
            Ok(Application {
                client_id: r.try_get("client_id")?,
                name: r.try_get("name")?,
                scope: Scopes::parse(&scope).unwrap_or_default(),
                last_used_at: r.try_get("last_used_at")?,
            })
        })
        .collect()
}

/// "Remove access": forgets the consent and revokes every token `client_id` holds for the
/// person. Whether there was anything to remove.
pub async fn remove_access(
    conn: &mut Conn,
    user_id: &str,
    client_id: &str,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "UPDATE oidc_tokens SET revoked_at = $3 WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .bind(client_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    // Its codes not redeemed yet die too.
    sqlx::query(
        "UPDATE oidc_codes SET expires_at = $3 WHERE user_id = $1 AND client_id = $2 \
         AND used_at IS NULL AND expires_at > $3",
    )
    .bind(user_id)
    .bind(client_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let res = sqlx::query("DELETE FROM oidc_grants WHERE user_id = $1 AND client_id = $2")
        .bind(user_id)
        .bind(client_id)
        .execute(&mut *conn)
        .await?;
    Ok(res.rows_affected() > 0)
}
