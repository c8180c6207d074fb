//! Invitations to an organization in the store.
//!
//! - The token is random (256 bits) and stored only as its SHA-256 digest; a resend replaces
//!   the digest, so the old link dies at once.
//! - An invitation is answered once: accept, decline and revoke are one guarded `UPDATE … WHERE
//!   outcome IS NULL` each, so two answers cannot both count.
//! - E1: an invitation names an address; nothing here says whether it has an account. Only the
//!   account with that address (verified) sees it on its Dashboard or can answer it.

use crate::mechanisms::events::{self, About, EventKind};
use crate::mechanisms::orgs;
use crate::mechanisms::secret::{digest, Secret};
use crate::mechanisms::sessions::ClientInfo;
use crate::store::Conn;
use crate::values::clock::Timestamp;
use crate::values::org::{InvitationState, Outcome, Role};
use sqlx::Row;

/// One invitation, with its organization's name and slug and who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: String,
    pub org_id: String,
    pub org_name: String,
    pub org_slug: String,
    pub email: String,
    pub role: Role,
    /// The inviter's name, if their account still exists.
    pub invited_by: Option<String>,
    pub sent_at: Timestamp,
    pub expires_at: Timestamp,
    pub outcome: Option<Outcome>,
    pub answered_at: Option<Timestamp>,
}

impl Invitation {
    pub fn state(&self, now: Timestamp) -> InvitationState {
        InvitationState::at(self.outcome, self.expires_at, now)
    }
}

const SELECT: &str = "SELECT i.id, i.org_id, o.name AS org_name, o.slug AS org_slug, i.email, \
     i.role, u.first_name, u.last_name, i.sent_at, i.expires_at, i.outcome, i.answered_at \
     FROM invitations i JOIN organizations o ON o.id = i.org_id \
     LEFT JOIN users u ON u.id = i.invited_by";

fn of_row(r: &sqlx::any::AnyRow) -> Result<Invitation, sqlx::Error> {
    let role: String = r.try_get("role")?;
    let outcome: Option<String> = r.try_get("outcome")?;
    let first: Option<String> = r.try_get("first_name")?;
    let last: Option<String> = r.try_get("last_name")?;
    Ok(Invitation {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        org_name: r.try_get("org_name")?,
        org_slug: r.try_get("org_slug")?,
        email: r.try_get("email")?,
        role: Role::parse(&role)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown role {role:?}").into()))?,
        invited_by: first.map(|f| {
            format!("{f} {}", last.unwrap_or_default())
                .trim()
                .to_string()
        }),
        sent_at: r.try_get("sent_at")?,
        expires_at: r.try_get("expires_at")?,
        outcome: outcome.as_deref().and_then(Outcome::parse),
        answered_at: r.try_get("answered_at")?,
    })
}

async fn many(
    conn: &mut Conn,
    filter: &str,
    binds: &[&str],
    now: Option<Timestamp>,
) -> Result<Vec<Invitation>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE {filter} ORDER BY i.sent_at DESC, i.id");
    let mut q = sqlx::query(&sql);
    for b in binds {
        q = q.bind(*b);
    }
    if let Some(now) = now {
        q = q.bind(now);
    }
    q.fetch_all(&mut *conn).await?.iter().map(of_row).collect()
}

/// The new invitation's fields.
pub struct New<'a> {
    pub org_id: &'a str,
    pub email: &'a str,
    pub role: Role,
    pub invited_by: &'a str,
    pub ttl_secs: i64,
}

/// Stores an invitation with `token` (its digest only); `None` when the address already has a
/// pending one in this organization (resend that instead). Call after `orgs::lock`.
pub async fn create(
    conn: &mut Conn,
    n: New<'_>,
    token: &Secret,
    now: Timestamp,
) -> Result<Option<String>, sqlx::Error> {
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM invitations WHERE org_id = $1 AND email = $2 \
         AND outcome IS NULL AND expires_at > $3",
    )
    .bind(n.org_id)
    .bind(n.email)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    if open > 0 {
        return Ok(None);
    }
    let id = crate::mechanisms::secret::new_id();
    sqlx::query(
        "INSERT INTO invitations (id, org_id, email, role, token_hash, invited_by, created_at, \
         sent_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
    )
    .bind(&id)
    .bind(n.org_id)
    .bind(n.email)
    .bind(n.role.as_str())
    .bind(token.digest())
    .bind(n.invited_by)
    .bind(now)
    .bind(now + n.ttl_secs)
    .execute(&mut *conn)
    .await?;
    Ok(Some(id))
}

/// Every invitation of the organization, newest first.
pub async fn of_org(conn: &mut Conn, org_id: &str) -> Result<Vec<Invitation>, sqlx::Error> {
    many(conn, "i.org_id = $1", &[org_id], None).await
}

/// One invitation of the organization.
pub async fn by_id(
    conn: &mut Conn,
    org_id: &str,
    id: &str,
) -> Result<Option<Invitation>, sqlx::Error> {
    Ok(
        many(conn, "i.org_id = $1 AND i.id = $2", &[org_id, id], None)
            .await?
            .pop(),
    )
}

/// The invitation a link's token names, whatever its state (the page says which).
pub async fn by_token(conn: &mut Conn, token: &str) -> Result<Option<Invitation>, sqlx::Error> {
    Ok(
        many(conn, "i.token_hash = $1", &[&digest(token.trim())], None)
            .await?
            .pop(),
    )
}

/// The pending invitations to `email` (the Dashboard's Invitations).
pub async fn waiting_for(
    conn: &mut Conn,
    email: &str,
    now: Timestamp,
) -> Result<Vec<Invitation>, sqlx::Error> {
    many(
        conn,
        "i.email = $1 AND i.outcome IS NULL AND i.expires_at > $2",
        &[email],
        Some(now),
    )
    .await
}

/// A new token for an unanswered invitation: the old link dies, the invitation works for
/// `ttl_secs` from now. `false` when it was answered meanwhile.
pub async fn renew(
    conn: &mut Conn,
    org_id: &str,
    id: &str,
    token: &Secret,
    ttl_secs: i64,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE invitations SET token_hash = $3, sent_at = $4, expires_at = $5 \
         WHERE org_id = $1 AND id = $2 AND outcome IS NULL",
    )
    .bind(org_id)
    .bind(id)
    .bind(token.digest())
    .bind(now)
    .bind(now + ttl_secs)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Revokes an unanswered invitation (pending or expired); `false` when it was answered.
pub async fn revoke(
    conn: &mut Conn,
    org_id: &str,
    id: &str,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE invitations SET outcome = $3, answered_at = $4 \
         WHERE org_id = $1 AND id = $2 AND outcome IS NULL",
    )
    .bind(org_id)
    .bind(id)
    .bind(Outcome::Revoked.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The invitee answers invitation `id` sent to `email`: once, while it is pending. Answers
/// the invitation as it was, or `None` when it is not (or no longer) theirs to answer.
pub async fn answer(
    conn: &mut Conn,
    id: &str,
    email: &str,
    outcome: Outcome,
    now: Timestamp,
) -> Result<Option<Invitation>, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE invitations SET outcome = $3, answered_at = $4 \
         WHERE id = $1 AND email = $2 AND outcome IS NULL AND expires_at > $4",
    )
    .bind(id)
    .bind(email)
    .bind(outcome.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() != 1 {
        return Ok(None);
    }
    Ok(many(conn, "i.id = $1", &[id], None).await?.pop())
}

/// A new account registering through the link of a pending invitation to its own address
/// marks it; the account joins when its address is verified ([`claimed_by`]).
pub async fn claim(
    conn: &mut Conn,
    token: &str,
    email: &str,
    user_id: &str,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE invitations SET claimed_by = $3 WHERE token_hash = $1 AND email = $2 \
         AND outcome IS NULL AND expires_at > $4",
    )
    .bind(digest(token.trim()))
    .bind(email)
    .bind(user_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The pending invitations `user_id` registered through, to its address `email`.
pub async fn claimed_by(
    conn: &mut Conn,
    user_id: &str,
    email: &str,
    now: Timestamp,
) -> Result<Vec<Invitation>, sqlx::Error> {
    many(
        conn,
        "i.claimed_by = $1 AND i.email = $2 AND i.outcome IS NULL AND i.expires_at > $3",
        &[user_id, email],
        Some(now),
    )
    .await
}

/// After the invitee's answer: the membership with the invited role (when accepted) and the
/// invitee's G1 event, in the answer's transaction.
pub async fn settle(
    conn: &mut Conn,
    inv: &Invitation,
    user_id: &str,
    accept: bool,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let kind = match accept {
        true => {
            orgs::lock(conn, &inv.org_id).await?;
            orgs::add_member(conn, &inv.org_id, user_id, inv.role, now).await?;
            EventKind::OrgJoined
        }
        false => EventKind::OrgInvitationDeclined,
    };
    let about = About::org(&inv.org_id, None);
    events::record_about(conn, Some(user_id), kind, about, client, now).await
}

/// Verification of a new account's address: it joins the organizations whose invitation it
/// registered through ([`claim`]), in the verification's transaction. Answers how many.
pub async fn join_claimed(
    conn: &mut Conn,
    user_id: &str,
    email: &str,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<usize, sqlx::Error> {
    let mut n = 0;
    for inv in claimed_by(conn, user_id, email, now).await? {
        if answer(conn, &inv.id, email, Outcome::Accepted, now)
            .await?
            .is_some()
        {
            settle(conn, &inv, user_id, true, client, now).await?;
            n += 1;
        }
    }
    Ok(n)
}
