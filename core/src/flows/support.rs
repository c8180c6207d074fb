//! What support does for a person: from the command line (`gatehouse user …`, the operator) or
//! from the support console (`/support`, a person with the instance role `support`).
//!
//! - Who acts is checked first, in the action's transaction (`mechanisms::staff::By`): the
//!   console needs the support role and a re-authentication within ten minutes (S5); anyone else
//!   learns nothing (the console answers 404).
//! - R1: `unlock` clears the soft lock and the failure counter, nothing else.
//! - M8: `reset_mfa` returns the account to emailed codes (removing an authenticator, unverified
//!   factors and recovery codes, keeping a verified phone).
//! - G1: every action is an event of the person acted on, naming the support person, and the
//!   person is told by email — all in one transaction: the notice is queued only if the action
//!   happened.

use crate::mechanisms::events::{self, About, EventKind, Recorded};
use crate::mechanisms::messages;
use crate::mechanisms::mfa;
use crate::mechanisms::outbox;
use crate::mechanisms::reauth::{self, Reauth};
use crate::mechanisms::service::Deps;
use crate::mechanisms::sessions::Session;
use crate::mechanisms::staff::{self, By, StaffError};
use crate::mechanisms::users::{self, User};
use crate::store::Conn;
use crate::values::email::{Email, EmailError};
use crate::values::failure::{Refusal, Shown};

#[derive(Debug, thiserror::Error)]
pub enum SupportError {
    #[error("{0}")]
    Email(#[from] EmailError),
    #[error("No account uses that email address.")]
    NoAccount,
    /// Not a support person: the console does not exist for them.
    #[error("not found")]
    NotSupport,
    #[error("For your safety, confirm it is you first.")]
    ReauthRequired,
    /// Staff never act on staff from the console (`StaffError::StaffTarget`).
    #[error("{}", crate::mechanisms::staff::STAFF_TARGET)]
    StaffTarget,
    #[error(transparent)]
    Mfa(#[from] mfa::MfaError),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl From<StaffError> for SupportError {
    fn from(e: StaffError) -> Self {
        match e {
            StaffError::NotSupport => Self::NotSupport,
            StaffError::ReauthRequired => Self::ReauthRequired,
            StaffError::StaffTarget => Self::StaffTarget,
            StaffError::Store(s) => Self::Store(s),
        }
    }
}

impl Refusal for SupportError {
    fn shown(&self) -> Shown {
        match self {
            Self::Email(_) | Self::NoAccount => Shown::Field,
            Self::NotSupport | Self::ReauthRequired | Self::StaffTarget => Shown::Form,
            Self::Mfa(_) => Shown::Internal,
            Self::Store(e) => crate::store::shown(e),
        }
    }
}

/// The account of `email`, or `NoAccount`.
async fn account(conn: &mut Conn, email: &str) -> Result<(Email, User), SupportError> {
    let email = Email::parse(email)?;
    let u = users::by_email(conn, &email)
        .await?
        .ok_or(SupportError::NoAccount)?;
    Ok((email, u))
}

/// `gatehouse user grant-support EMAIL`: the person may open the support console.
pub async fn grant(deps: &Deps, email: &str) -> Result<Email, SupportError> {
    let mut c = deps.store.conn().await?;
    let (email, u) = account(&mut c, email).await?;
    staff::grant(&mut c, &u.id, deps.now()).await?;
    Ok(email)
}

/// `gatehouse user revoke-support EMAIL`.
pub async fn revoke(deps: &Deps, email: &str) -> Result<Email, SupportError> {
    let mut c = deps.store.conn().await?;
    let (email, u) = account(&mut c, email).await?;
    staff::revoke(&mut c, &u.id).await?;
    Ok(email)
}

/// The console as its owner sees it before any search: where their re-authentication stands.
pub async fn desk(deps: &Deps, session: &Session) -> Result<Reauth, SupportError> {
    let mut c = deps.store.read().await?;
    staff::support_person(&mut c, session).await?;
    Ok(reauth::state(&mut c, deps, session, deps.now()).await?)
}

/// A person found by the console.
#[derive(Debug, Clone)]
pub struct Found {
    pub user: User,
    /// R1: the account is locked now.
    pub locked: bool,
    /// G1: their newest security events.
    pub activity: Vec<Recorded>,
}

/// The console's search: the account of `email` and its recent activity. Reading needs the
/// support role, not a fresh re-authentication.
pub async fn find(deps: &Deps, session: &Session, email: &str) -> Result<Found, SupportError> {
    let mut c = deps.store.read().await?;
    staff::support_person(&mut c, session).await?;
    let (_, user) = account(&mut c, email).await?;
    let activity = events::recent(&mut c, &user.id, 20).await?;
    Ok(Found {
        locked: user.locked_until.is_some_and(|t| t > deps.now()),
        user,
        activity,
    })
}

/// R1: lifts the lock of the account of `email`; the person is told.
pub async fn unlock(deps: &Deps, email: &str, by: By<'_>) -> Result<Email, SupportError> {
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let actor = by.actor(&mut tx, now).await?;
    let (email, u) = account(&mut tx, email).await?;
    by.may_act_on(&mut tx, &u.id).await?;
    users::unlock(&mut tx, &u.id).await?;
    let kind = EventKind::AccountUnlocked;
    events::record_about(
        &mut tx,
        Some(&u.id),
        kind,
        About::by(actor.as_deref()),
        by.client(),
        now,
    )
    .await?;
    let m = messages::account_unlocked(email.as_str(), &deps.link("/login"));
    outbox::enqueue(&mut tx, &m, now).await?;
    tx.commit().await?;
    Ok(email)
}

/// M8: sign-in codes by email again for the account of `email`; the person is told.
pub async fn reset_mfa(deps: &Deps, email: &str, by: By<'_>) -> Result<Email, SupportError> {
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let actor = by.actor(&mut tx, now).await?;
    let (email, u) = account(&mut tx, email).await?;
    by.may_act_on(&mut tx, &u.id).await?;
    mfa::reset_to_email(&mut tx, &u.id, actor.as_deref(), by.client(), now).await?;
    let m = messages::mfa_reset(email.as_str(), &deps.link("/login"));
    outbox::enqueue(&mut tx, &m, now).await?;
    tx.commit().await?;
    Ok(email)
}
