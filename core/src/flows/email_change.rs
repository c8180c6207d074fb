//! Changing a person's email address, started by support (`gatehouse user change-email OLD NEW`
//! or the support console, `mechanisms::staff::By`; the Profile tab shows the email read-only
//! and points to support).
//!
//! - Both addresses confirm: a single-use link (256 random bits, stored as its SHA-256 digest by
//!   `mechanisms::email_links`) goes to the new address (it can receive mail) and another to
//!   the address in use (its owner agrees); the change is made when the second one is used, and
//!   the old address is told. A change the owner did not ask for cannot pass unnoticed, and a
//!   support person alone cannot move an account to an address of their choosing.
//! - E4: opening a link only shows what would change (`pending`); the page's button (a POST)
//!   confirms (`confirm`). A newer request kills the older links of the same account.
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

/// The link to the new address.
const PURPOSE: &str = "change_email";
/// The link to the address in use.
const PURPOSE_OLD: &str = "change_email_old";
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
    /// Staff never act on staff from the console (`StaffError::StaffTarget`).
    #[error("{}", crate::mechanisms::staff::STAFF_TARGET)]
    StaffTarget,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl From<StaffError> for EmailChangeError {
    fn from(e: StaffError) -> Self {
        match e {
            StaffError::NotSupport => Self::NotSupport,
            StaffError::ReauthRequired => Self::ReauthRequired,
            StaffError::StaffTarget => Self::StaffTarget,
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

/// Starts the change of `old`'s address to `new`: a confirmation link to each address, a G1
/// event naming who started it. Returns the new address.
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
    by.may_act_on(&mut tx, &user.id).await?;
    if users::by_email(&mut tx, &new).await?.is_some() {
        return Err(EmailChangeError::Taken);
    }
    // A newer request replaces every older link of this account.
    email_links::revoke_all(&mut tx, &user.id, PURPOSE, now).await?;
    email_links::revoke_all(&mut tx, &user.id, PURPOSE_OLD, now).await?;
    let request = crate::mechanisms::secret::new_id();
    let mut links = Vec::new();
    for purpose in [PURPOSE, PURPOSE_OLD] {
        let token = deps.random.token(32);
        let ttl = TTL_SECS;
        email_links::issue(
            &mut tx,
            &token,
            &user.id,
            purpose,
            ttl,
            Some(new.as_str()),
            now,
        )
        .await?;
        email_links::tag(&mut tx, &token, &request).await?;
        links.push(deps.link(&format!("/confirm-email?token={}", token.expose())));
    }
    let hours = TTL_SECS / 3600;
    let to_new = messages::email_change_confirm(new.as_str(), &user.first_name, &links[0], hours);
    outbox::enqueue(&mut tx, &to_new, now).await?;
    let to_old = messages::email_change_confirm_old(old.as_str(), &new.masked(), &links[1], hours);
    outbox::enqueue(&mut tx, &to_old, now).await?;
    let about = events::About::by(actor.as_deref());
    let kind = EventKind::EmailChangeStarted;
    events::record_about(&mut tx, Some(&user.id), kind, about, by.client(), now).await?;
    tx.commit().await?;
    Ok(new)
}

/// Which address a link was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The new address.
    New,
    /// The address in use.
    Current,
}

impl Side {
    fn purpose(self) -> &'static str {
        match self {
            Side::New => PURPOSE,
            Side::Current => PURPOSE_OLD,
        }
    }
    fn other(self) -> Side {
        match self {
            Side::New => Side::Current,
            Side::Current => Side::New,
        }
    }
}

/// What a working link would change (E4: reading it changes nothing).
#[derive(Debug, Clone)]
pub struct Pending {
    pub user: User,
    pub new_email: Email,
    pub expires_at: Timestamp,
    pub side: Side,
}

/// The change behind a link, while the link works.
pub async fn pending(deps: &Deps, token: &str) -> Result<Option<Pending>, sqlx::Error> {
    let mut c = deps.store.read().await?;
    for side in [Side::New, Side::Current] {
        let Some(link) = email_links::live(&mut c, token, side.purpose(), deps.now()).await? else {
            continue;
        };
        let Some(new_email) = link.new_email.as_deref().and_then(|n| Email::parse(n).ok()) else {
            return Ok(None);
        };
        return Ok(users::by_id(&mut c, &link.user_id)
            .await?
            .map(|user| Pending {
                user,
                new_email,
                expires_at: link.expires_at,
                side,
            }));
    }
    Ok(None)
}

/// What a confirmation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    /// Both addresses confirmed: the account uses this one now.
    Changed(Email),
    /// This address confirmed; the other one has not yet.
    Waiting(Side),
}

/// The confirmation page's button: uses the link (once); when the other address confirmed too,
/// the address changes and the old one is told.
pub async fn confirm(
    deps: &Deps,
    token: &str,
    client: &ClientInfo,
) -> Result<Confirmed, EmailChangeError> {
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let mut used = None;
    for side in [Side::New, Side::Current] {
        if let Some(link) = email_links::consume(&mut tx, token, side.purpose(), now).await? {
            used = Some((side, link));
            break;
        }
    }
    let (side, link) = used.ok_or(EmailChangeError::LinkDead)?;
    let request = link.request_id.clone().unwrap_or_default();
    let other = side.other().purpose();
    if !email_links::used_in_request(&mut tx, &link.user_id, other, &request).await? {
        tx.commit().await?;
        return Ok(Confirmed::Waiting(side));
    }
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
    let notice = messages::email_change_done(user.email.as_str(), &new.masked());
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
    Ok(Confirmed::Changed(new))
}
