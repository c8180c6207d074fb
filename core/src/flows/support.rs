//! What an operator does for a person from the command line (`gatehouse user …`); the support
//! console of issue 14 calls the same functions.
//!
//! - R1: `unlock` clears the soft lock and the failure counter, nothing else.
//! - M8: `reset_mfa` returns the account to emailed codes (removing an authenticator, unverified
//!   factors and recovery codes, keeping a verified phone), records G1 and tells the person by
//!   email, all in one transaction: the notice is queued only if the reset happened.

use crate::mechanisms::messages;
use crate::mechanisms::mfa;
use crate::mechanisms::outbox;
use crate::mechanisms::service::Deps;
use crate::mechanisms::sessions::ClientInfo;
use crate::mechanisms::users;
use crate::values::email::{Email, EmailError};

#[derive(Debug, thiserror::Error)]
pub enum SupportError {
    #[error("{0}")]
    Email(#[from] EmailError),
    #[error("no account uses that email address")]
    NoAccount,
    #[error(transparent)]
    Mfa(#[from] mfa::MfaError),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// R1: lifts the lock of the account of `email`.
pub async fn unlock(deps: &Deps, email: &str) -> Result<Email, SupportError> {
    let email = Email::parse(email)?;
    let mut c = deps.store.conn().await?;
    let u = users::by_email(&mut c, &email)
        .await?
        .ok_or(SupportError::NoAccount)?;
    users::unlock(&mut c, &u.id).await?;
    Ok(email)
}

/// M8: sign-in codes by email again for the account of `email`; `actor` is who did it (G1).
pub async fn reset_mfa(
    deps: &Deps,
    email: &str,
    actor: &ClientInfo,
) -> Result<Email, SupportError> {
    let email = Email::parse(email)?;
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let u = users::by_email(&mut tx, &email)
        .await?
        .ok_or(SupportError::NoAccount)?;
    mfa::reset_to_email(&mut tx, &u.id, actor, now).await?;
    let m = messages::mfa_reset(email.as_str(), &deps.link("/login"));
    outbox::enqueue(&mut tx, &m, now).await?;
    tx.commit().await?;
    Ok(email)
}
