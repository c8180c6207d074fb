//! Changing a person's email address, started by support (`gatehouse user change-email OLD NEW`
//! or the support console, `mechanisms::staff::By`; the Profile tab shows the email read-only
//! and points to support).
//!
//! - Nothing changes until the new address proves it can receive mail: a single-use link
//!   (256 random bits, stored as its SHA-256 digest by `mechanisms::email_links`) goes to the new
//!   address; the old one is told at once and again when the change is made, so a change the
//!   owner did not ask for cannot pass unnoticed.
//! - E4: opening the link only shows what would change (`pending`); the page's button (a POST)
//!   makes it (`confirm`). A newer request kills the older links of the same account.
//! - The new address must not belong to another account, checked when the change starts and
//!   again (in the same statement as the change, by the unique index) when it is made.
//! - G1: both steps are security events of the account.

use crate::mechanisms::email_links;
use crate::mechanisms::events::{self, EventKind};
use crate::mechanisms::messages;
use crate::mechanisms::outbox;
use crate::mechanisms::service::Deps;
use crate::mechanisms::sessions::ClientInfo;
use crate::mechanisms::staff::{By, StaffError};
use crate::mechanisms::users::{self, User};
use crate::values::clock::Timestamp;
use crate::values::email::{Email, EmailError};

const PURPOSE: &str = "change_email";
/// How long the confirmation link works.
pub const TTL_SECS: i64 = 24 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum EmailChangeError {
    #[error("{0}")]
    Email(#[from] EmailError),
    #[error("no account uses that email address")]
    NoAccount,
    #[error("that is already the account's email address")]
    Same,
    #[error("another account uses that email address")]
    Taken,
    #[error("This link is invalid, was already used or has expired.")]
    LinkDead,
    /// The console: not a support person (404), or S5.
    #[error("not found")]
    NotSupport,
    #[error("For your safety, confirm it is you first.")]
    ReauthRequired,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl From<StaffError> for EmailChangeError {
    fn from(e: StaffError) -> Self {
        match e {
            StaffError::NotSupport => Self::NotSupport,
            StaffError::ReauthRequired => Self::ReauthRequired,
            StaffError::Store(s) => Self::Store(s),
        }
    }
}

impl crate::values::failure::Refusal for EmailChangeError {
    fn shown(&self) -> crate::values::failure::Shown {
        use crate::values::failure::Shown;
        match self {
            Self::Store(e) => crate::store::shown(e),
            _ => Shown::Form,
        }
    }
}

/// Starts the change of `old`'s address to `new`: the link to the new address, the notice to
/// the old one, a G1 event. Returns the new address.
pub async fn start(
    deps: &Deps,
    old: &str,
    new: &str,
    by: By<'_>,
) -> Result<Email, EmailChangeError> {
    let (old, new) = (Email::parse(old)?, Email::parse(new)?);
    if old == new {
        return Err(EmailChangeError::Same);
    }
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let actor = by.actor(&mut tx, now).await?;
    let user = users::by_email(&mut tx, &old)
        .await?
        .ok_or(EmailChangeError::NoAccount)?;
    if users::by_email(&mut tx, &new).await?.is_some() {
        return Err(EmailChangeError::Taken);
    }
    // A newer request replaces every older link of this account.
    email_links::revoke_all(&mut tx, &user.id, PURPOSE, now).await?;
    let token = deps.random.token(32);
    email_links::issue(
        &mut tx,
        &token,
        &user.id,
        PURPOSE,
        TTL_SECS,
        Some(new.as_str()),
        now,
    )
    .await?;
    let link = deps.link(&format!("/confirm-email?token={}", token.expose()));
    let confirm =
        messages::email_change_confirm(new.as_str(), &user.first_name, &link, TTL_SECS / 3600);
    outbox::enqueue(&mut tx, &confirm, now).await?;
    let notice = messages::email_change_notice(old.as_str(), &new.masked(), false);
    outbox::enqueue(&mut tx, &notice, now).await?;
    let about = events::About {
        org_id: None,
        actor_id: actor.as_deref(),
    };
    let kind = EventKind::EmailChangeStarted;
    events::record_about(&mut tx, Some(&user.id), kind, about, by.client(), now).await?;
    tx.commit().await?;
    Ok(new)
}

/// What a working link would change (E4: reading it changes nothing).
#[derive(Debug, Clone)]
pub struct Pending {
    pub user: User,
    pub new_email: Email,
    pub expires_at: Timestamp,
}

/// The change behind a link, while the link works.
pub async fn pending(deps: &Deps, token: &str) -> Result<Option<Pending>, sqlx::Error> {
    let mut c = deps.store.read().await?;
    let Some(link) = email_links::live(&mut c, token, PURPOSE, deps.now()).await? else {
        return Ok(None);
    };
    let Some(new_email) = link.new_email.as_deref().and_then(|n| Email::parse(n).ok()) else {
        return Ok(None);
    };
    Ok(users::by_id(&mut c, &link.user_id)
        .await?
        .map(|user| Pending {
            user,
            new_email,
            expires_at: link.expires_at,
        }))
}

/// The confirmation page's button: uses the link (once) and changes the address; the old
/// address is told. Returns the new address.
pub async fn confirm(
    deps: &Deps,
    token: &str,
    client: &ClientInfo,
) -> Result<Email, EmailChangeError> {
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let link = email_links::consume(&mut tx, token, PURPOSE, now)
        .await?
        .ok_or(EmailChangeError::LinkDead)?;
    let new = Email::parse(link.new_email.as_deref().unwrap_or_default())?;
    let user_id = link.user_id;
    let user = users::by_id(&mut tx, &user_id)
        .await?
        .ok_or(EmailChangeError::LinkDead)?;
    // The unique index decides, in this statement, whether the address is still free.
    let changed = sqlx::query(
        "UPDATE users SET email = $2, updated_at = $3 WHERE id = $1 \
         AND NOT EXISTS (SELECT 1 FROM users other WHERE other.email = $2)",
    )
    .bind(&user_id)
    .bind(new.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if changed.rows_affected() != 1 {
        return Err(EmailChangeError::Taken);
    }
    let notice = messages::email_change_notice(user.email.as_str(), &new.masked(), true);
    outbox::enqueue(&mut tx, &notice, now).await?;
    events::record(
        &mut tx,
        Some(&user_id),
        EventKind::EmailChanged,
        client,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(new)
}
