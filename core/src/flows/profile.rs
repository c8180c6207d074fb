//! The Profile tab: the person's own names (seed 001).
//!
//! - M5: only a signed-in session changes anything, and only its own account.
//! - Names follow `values::name` (trimmed, 1–100 code points, no control characters); a bad
//!   value is reported next to its field and nothing is saved.
//! - G1: a change is a security event, shown in the activity log.
//! - The email is not edited here: support changes it (both addresses confirm).

use crate::mechanisms::events::{self, EventKind};
use crate::mechanisms::service::Deps;
use crate::mechanisms::sessions::{ClientInfo, Session};
use crate::mechanisms::users;
use crate::values::failure::{self, Refusal, Shown};
use crate::values::name::person_name;

/// Messages per field of the Profile form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameFields {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("please correct the highlighted fields")]
    Invalid(NameFields),
    /// M5: only a signed-in session reaches the tab.
    #[error("Your sign-in has expired. Sign in again.")]
    SignedOut,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl Refusal for ProfileError {
    fn shown(&self) -> Shown {
        match self {
            Self::Invalid(f) => {
                failure::fields([("first_name", &f.first_name), ("last_name", &f.last_name)])
            }
            Self::SignedOut => Shown::Form,
            Self::Store(_) => Shown::Internal,
        }
    }
}

/// What saving the Profile form did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Changed,
    /// The names were already these.
    Unchanged,
}

/// Saves the signed-in person's first and last name.
pub async fn save_names(
    deps: &Deps,
    session: &Session,
    first_name: &str,
    last_name: &str,
    client: &ClientInfo,
) -> Result<Saved, ProfileError> {
    let uid = session
        .authenticated_user()
        .ok_or(ProfileError::SignedOut)?;
    let (first, last) = (
        person_name(first_name, "first name"),
        person_name(last_name, "last name"),
    );
    let (first, last) = match (first, last) {
        (Ok(f), Ok(l)) => (f, l),
        (f, l) => {
            return Err(ProfileError::Invalid(NameFields {
                first_name: f.err(),
                last_name: l.err(),
            }))
        }
    };
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let user = users::by_id(&mut tx, uid)
        .await?
        .ok_or(ProfileError::SignedOut)?;
    if user.first_name == first && user.last_name == last {
        return Ok(Saved::Unchanged);
    }
    users::set_names(&mut tx, uid, &first, &last, now).await?;
    events::record(&mut tx, Some(uid), EventKind::NameChanged, client, now).await?;
    tx.commit().await?;
    Ok(Saved::Changed)
}

/// What the Profile tab shows.
#[derive(Debug, Clone)]
pub struct Tab {
    pub user: users::User,
    /// The verified phone, masked (M9), if any.
    pub phone: Option<String>,
}

/// The tab of the signed-in person, in one read.
pub async fn tab(deps: &Deps, session: &Session) -> Result<Tab, ProfileError> {
    let uid = session
        .authenticated_user()
        .ok_or(ProfileError::SignedOut)?;
    let mut c = deps.store.read().await?;
    let user = users::by_id(&mut c, uid)
        .await?
        .ok_or(ProfileError::SignedOut)?;
    let phone = crate::mechanisms::mfa::verified_phone(&mut c, uid)
        .await?
        .map(|p| p.masked());
    Ok(Tab { user, phone })
}
