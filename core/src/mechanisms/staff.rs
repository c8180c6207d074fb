//! Instance roles: `support`, given from the command line (`gatehouse user grant-support`),
//! opens the support console.
//!
//! - Whoever acts is checked here, by [`By::actor`], at the start of the action's transaction:
//!   the operator at the command line, or a signed-in person who has the support role *and* a
//!   re-authentication within the last ten minutes (S5). Anyone else is `NotSupport`, which the
//!   pages answer with 404.
//! - The actor's id goes into the G1 event of the person acted on, so their activity log names
//!   the support person.

use crate::mechanisms::reauth;
use crate::mechanisms::sessions::{ClientInfo, Session};
use crate::store::Conn;
use crate::values::clock::Timestamp;

/// The stored name of the support role.
pub const SUPPORT: &str = "support";

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    /// Not signed in, or without the support role: the console does not exist for them.
    #[error("not found")]
    NotSupport,
    /// S5: every console action needs a fresh re-authentication.
    #[error("For your safety, confirm it is you first.")]
    ReauthRequired,
    /// The account belongs to a support person: staff never act on staff from the console.
    #[error("{STAFF_TARGET}")]
    StaffTarget,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// What the console says when the person found is support staff too.
pub const STAFF_TARGET: &str = "This account belongs to a support person. Staff accounts are \
    changed only by the operator, with the gatehouse command line.";

/// Gives `user_id` the support role; `false` when they had it.
pub async fn grant(conn: &mut Conn, user_id: &str, now: Timestamp) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO staff (user_id, role, granted_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, role) DO NOTHING",
    )
    .bind(user_id)
    .bind(SUPPORT)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Takes the support role away; `false` when they did not have it.
pub async fn revoke(conn: &mut Conn, user_id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM staff WHERE user_id = $1 AND role = $2")
        .bind(user_id)
        .bind(SUPPORT)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn is_support(conn: &mut Conn, user_id: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM staff WHERE user_id = $1 AND role = $2")
        .bind(user_id)
        .bind(SUPPORT)
        .fetch_one(&mut *conn)
        .await?;
    Ok(n > 0)
}

/// The support person behind `session`, or `NotSupport`.
pub async fn support_person(conn: &mut Conn, session: &Session) -> Result<String, StaffError> {
    let uid = session.authenticated_user().ok_or(StaffError::NotSupport)?;
    match is_support(conn, uid).await? {
        true => Ok(uid.to_string()),
        false => Err(StaffError::NotSupport),
    }
}

/// Who does a support action.
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    /// The operator, at the command line of the server.
    Operator(&'a ClientInfo),
    /// A signed-in support person, from the console.
    Support(&'a Session, &'a ClientInfo),
}

impl<'a> By<'a> {
    /// Checks the actor (support role and S5 for the console) and answers the id the G1 event
    /// names (`None` for the operator).
    pub async fn actor(
        &self,
        conn: &mut Conn,
        now: Timestamp,
    ) -> Result<Option<String>, StaffError> {
        match self {
            By::Operator(_) => Ok(None),
            By::Support(session, _) => {
                let uid = support_person(conn, session).await?;
                reauth::require_fresh(session, now).map_err(|_| StaffError::ReauthRequired)?;
                Ok(Some(uid))
            }
        }
    }

    /// Issue 24, item 10: a support person cannot reset, unlock or re-address another support
    /// person's account (one stolen staff account must not hand over the others); the operator
    /// at the command line can.
    pub async fn may_act_on(&self, conn: &mut Conn, target: &str) -> Result<(), StaffError> {
        match self {
            By::Support(..) if is_support(conn, target).await? => Err(StaffError::StaffTarget),
            _ => Ok(()),
        }
    }

    pub fn client(&self) -> &'a ClientInfo {
        match self {
            By::Operator(c) | By::Support(_, c) => c,
        }
    }
}
