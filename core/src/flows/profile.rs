//! The Profile tab: the person's own names and phone (seed 001), and the Dashboard.
//!
//! - M5: only a signed-in session changes anything, and only its own account.
//! - Names follow `values::name` (trimmed, 1–100 code points, no control characters); a bad
//!   value is reported next to its field and nothing is saved.
//! - G1: a change is a security event, shown in the activity log.
//! - The email is not edited here: support changes it (both addresses confirm).
//! - The phone (M9, S5, M7) is in [`phone`]: verified by a code before it is stored.
//! - The avatar (U1, U2): an upload becomes pixels the server made itself
//!   (`mechanisms::picture`, off the runtime, bounded) before anything is stored; a refused file
//!   changes nothing. Setting and removing it are G1 events.

pub mod phone;

use crate::mechanisms::avatars;
use crate::mechanisms::challenges::ChallengeError;
use crate::mechanisms::events::{self, EventKind};
use crate::mechanisms::picture::PictureError;
use crate::mechanisms::service::Deps;
use crate::mechanisms::sessions::{ClientInfo, Session};
use crate::mechanisms::users;
use crate::values::failure::{self, Refusal, Shown};
use crate::values::name::person_name;

/// Messages per field of the Profile form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("please correct the highlighted fields")]
    Invalid(Fields),
    /// M5: only a signed-in session reaches the tab.
    #[error("Your sign-in has expired. Sign in again.")]
    SignedOut,
    /// S5: a phone change needs a re-authentication first.
    #[error("For your safety, confirm it is you before changing your phone.")]
    ReauthRequired,
    #[error("Text messages are how you confirm sign-ins, so your phone can be changed but not removed. Choose another method on the Security tab first.")]
    PhoneIsMethod,
    /// The code for the new number (or sending it) was refused.
    #[error(transparent)]
    Code(#[from] ChallengeError),
    #[error("internal error")]
    Internal,
    /// U1: the upload was refused (its message says why) or the pool was busy (P6).
    #[error(transparent)]
    Picture(#[from] PictureError),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl Refusal for ProfileError {
    fn shown(&self) -> Shown {
        match self {
            Self::Invalid(f) => failure::fields([
                ("first_name", &f.first_name),
                ("last_name", &f.last_name),
                ("phone", &f.phone),
            ]),
            Self::SignedOut => Shown::Form,
            Self::ReauthRequired | Self::PhoneIsMethod => Shown::Field,
            Self::Code(e) => e.shown(),
            Self::Internal => Shown::Internal,
            Self::Picture(PictureError::Busy) => Shown::Busy,
            Self::Picture(PictureError::Internal) => Shown::Internal,
            Self::Store(e) => crate::store::shown(e),
            Self::Picture(_) => Shown::Field,
        }
    }
}

/// M5: the account of a signed-in session; anything else is signed out.
fn user_of(session: &Session) -> Result<&str, ProfileError> {
    session.authenticated_user().ok_or(ProfileError::SignedOut)
}

/// The signed-in person's row; an account that is gone means signed out.
async fn account(conn: &mut crate::store::Conn, uid: &str) -> Result<users::User, ProfileError> {
    users::by_id(conn, uid)
        .await?
        .ok_or(ProfileError::SignedOut)
}

/// What the Profile form sent.
#[derive(Debug, Clone, Copy)]
pub struct Form<'a> {
    pub first_name: &'a str,
    pub last_name: &'a str,
    /// Empty: no phone.
    pub phone: &'a str,
}

/// What saving the Profile form did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The names were different and are stored.
    pub names: bool,
    pub phone: phone::PhoneStep,
}

/// Saves the signed-in person's names and starts (or makes) a phone change, all or nothing:
/// any refused field leaves everything as it was.
pub async fn save(
    deps: &Deps,
    session: &Session,
    form: Form<'_>,
    client: &ClientInfo,
) -> Result<Saved, ProfileError> {
    let uid = user_of(session)?;
    let first = person_name(form.first_name, "first name");
    let last = person_name(form.last_name, "last name");
    let wanted = phone::typed(form.phone);
    let (first, last, wanted) = match (first, last, wanted) {
        (Ok(f), Ok(l), Ok(p)) => (f, l, p),
        (f, l, p) => {
            return Err(ProfileError::Invalid(Fields {
                first_name: f.err(),
                last_name: l.err(),
                phone: p.err(),
            }))
        }
    };
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let user = account(&mut tx, uid).await?;
    let names = user.first_name != first || user.last_name != last;
    if names {
        users::set_names(&mut tx, uid, &first, &last, now).await?;
        events::record(&mut tx, Some(uid), EventKind::NameChanged, client, now).await?;
    }
    let phone = phone::step(&mut tx, deps, session, &user, wanted, client).await?;
    tx.commit().await?;
    Ok(Saved { names, phone })
}

/// What the Profile tab shows.
#[derive(Debug, Clone)]
pub struct Tab {
    pub user: users::User,
    /// The verified phone (M9), in full: it is the person's own, in an input they edit.
    pub phone: Option<crate::values::phone::Phone>,
    /// A new number waiting for its code (masked).
    pub verifying_phone: Option<String>,
    /// S5: whether a phone change may go ahead now, or where re-authentication stands.
    pub reauth: crate::mechanisms::reauth::Reauth,
    /// R4: the calling codes text messages may go to; empty when SMS is off.
    pub sms_country_codes: Vec<String>,
}

/// What the Dashboard shows.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub user: users::User,
    /// The sign-in before this session's (time and place), if there was one.
    pub previous_sign_in: Option<events::Recorded>,
}

/// The Dashboard of the signed-in person, in one read.
pub async fn dashboard(deps: &Deps, session: &Session) -> Result<Dashboard, ProfileError> {
    let uid = user_of(session)?;
    let mut c = deps.store.read().await?;
    let user = account(&mut c, uid).await?;
    // The newest sign-in is this session's own; the one before it is worth showing.
    let previous_sign_in = events::recent_of(&mut c, uid, EventKind::LoginSucceeded, 2)
        .await?
        .into_iter()
        .nth(1);
    Ok(Dashboard {
        user,
        previous_sign_in,
    })
}

/// The tab of the signed-in person, in one read.
pub async fn tab(deps: &Deps, session: &Session) -> Result<Tab, ProfileError> {
    let uid = user_of(session)?;
    let mut c = deps.store.read().await?;
    let user = account(&mut c, uid).await?;
    let now = deps.now();
    Ok(Tab {
        phone: crate::mechanisms::mfa::verified_phone(&mut c, uid).await?,
        verifying_phone: crate::mechanisms::challenges::waiting_at(
            &mut c,
            session,
            crate::values::factors::Purpose::PhoneChange,
            now,
        )
        .await?,
        reauth: crate::mechanisms::reauth::state(&mut c, deps, session, now).await?,
        sms_country_codes: crate::mechanisms::orgs::sms_codes_for(
            &mut c,
            &deps.settings.sms_country_codes,
            &user.id,
        )
        .await?,
        user,
    })
}

/// U1: makes the signed-in person's avatar from an upload (any size of PNG, JPEG or WebP up to
/// 5 MiB; the browser's cropper sends its 512-pixel square, a form without JavaScript the whole
/// photo, which is centre-cropped) and stores it. Returns the avatar's new public id.
pub async fn set_avatar(
    deps: &Deps,
    session: &Session,
    upload: Vec<u8>,
    client: &ClientInfo,
) -> Result<String, ProfileError> {
    let uid = user_of(session)?;
    // No connection is held while the picture is made: decoding may wait for the pool.
    let avatar = deps.pictures.make(upload).await?;
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let id = avatars::put(&mut tx, uid, &avatar, now).await?;
    events::record(&mut tx, Some(uid), EventKind::AvatarChanged, client, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// Removes the signed-in person's avatar (the initials show again); whether there was one.
pub async fn remove_avatar(
    deps: &Deps,
    session: &Session,
    client: &ClientInfo,
) -> Result<bool, ProfileError> {
    let uid = user_of(session)?;
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let removed = avatars::remove(&mut tx, uid).await?;
    if removed {
        events::record(&mut tx, Some(uid), EventKind::AvatarRemoved, client, now).await?;
    }
    tx.commit().await?;
    Ok(removed)
}

/// U2: an avatar's pixels by public id and size, for the avatar route (no session needed: the
/// id is the capability).
pub async fn avatar_image(
    deps: &Deps,
    id: &str,
    size: crate::values::photo::AvatarSize,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    // Ids are 32 lowercase hex digits; anything else is not looked up.
    if id.len() != 32
        || !id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Ok(None);
    }
    let mut c = deps.store.read().await?;
    avatars::image(&mut c, id, size).await
}
