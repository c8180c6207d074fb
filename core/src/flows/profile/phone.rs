//! The Profile tab's **Phone** (seed 001): adding, replacing or removing the account's phone
//! without touching the sign-in method.
//!
//! - M9: a new number is stored only after the six-digit code sent to it comes back; until then
//!   the old number (if any) stays. Its challenges have their own purpose (`PhoneChange`), so a
//!   code for "store this number" can never finish "make SMS the method" and the other way round.
//! - S5: every phone change needs a re-authentication within the window — also adding a first
//!   number and removing one, because a phone is a recovery channel (F6); stricter than "only
//!   when SMS is the method".
//! - M7: the old number is told it was removed, and the email address is told the new number
//!   (masked), in the transaction of the change.
//! - While text messages are the sign-in method the phone can be replaced, never removed.
//! - G1: `PhoneChanged` / `PhoneRemoved`.

use super::{account, user_of, ProfileError};
use crate::mechanisms::challenges::{self, Delivery};
use crate::mechanisms::events::{self, EventKind};
use crate::mechanisms::messages;
use crate::mechanisms::mfa;
use crate::mechanisms::outbox;
use crate::mechanisms::reauth;
use crate::mechanisms::service::Deps;
use crate::mechanisms::sessions::{ClientInfo, Session};
use crate::mechanisms::users::{MfaMethod, User};
use crate::store::Conn;
use crate::values::clock::Timestamp;
use crate::values::factors::{ChallengeKind, Factor, Purpose};
use crate::values::phone::Phone;

/// What saving the form did to the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneStep {
    /// The field holds the number the account has (or both are empty).
    Unchanged,
    /// A code went to this (masked) number; it replaces the old one once the code comes back.
    CodeSent(String),
    /// The account has no phone any more.
    Removed,
}

/// What a person typed in **Phone**: a number, or nothing (no phone). Checked before anything
/// is read, so a typo is reported next to the field with the names.
pub(super) fn typed(input: &str) -> Result<Option<Phone>, String> {
    if input.trim().is_empty() {
        return Ok(None);
    }
    Phone::parse(input).map(Some).map_err(|e| e.to_string())
}

/// The phone part of Save, inside the form's transaction (`user` read in it): nothing, a code
/// to the new number, or the removal.
pub(super) async fn step(
    conn: &mut Conn,
    deps: &Deps,
    session: &Session,
    user: &User,
    wanted: Option<Phone>,
    client: &ClientInfo,
) -> Result<PhoneStep, ProfileError> {
    let uid = user.id.as_str();
    let now = deps.now();
    let current = mfa::verified_phone(conn, uid).await?;
    if wanted == current {
        return Ok(PhoneStep::Unchanged);
    }
    let Some(new) = wanted else {
        if user.mfa_method == MfaMethod::Sms {
            return Err(ProfileError::PhoneIsMethod);
        }
        fresh(session, now)?;
        mfa::remove_phone(conn, uid).await?;
        tell(conn, deps, &user.email, current.as_ref(), None, now).await?;
        events::record(conn, Some(uid), EventKind::PhoneRemoved, client, now).await?;
        return Ok(PhoneStep::Removed);
    };
    // R4/F7: only to the calling codes this instance texts, narrowed by the person's
    // organizations (a number already stored may stay).
    let codes =
        crate::mechanisms::orgs::sms_codes_for(conn, &deps.settings.sms_country_codes, uid).await?;
    if !new.is_allowed(&codes) {
        return Err(ProfileError::Invalid(super::Fields {
            phone: Some(NOT_TEXTED.to_string()),
            ..Default::default()
        }));
    }
    fresh(session, now)?;
    let kind = ChallengeKind::new(Purpose::PhoneChange, Factor::Sms);
    let delivery = Delivery::Sms(new.as_str());
    challenges::open(conn, deps, uid, &session.id_hash, kind, delivery, now).await?;
    Ok(PhoneStep::CodeSent(new.masked()))
}

/// R4: the words for a number outside the allowed calling codes.
const NOT_TEXTED: &str = "We can't send text messages to that country. Use a number we can reach.";

fn fresh(session: &Session, now: Timestamp) -> Result<(), ProfileError> {
    reauth::require_fresh(session, now).map_err(|_| ProfileError::ReauthRequired)
}

/// M7: the old number (if any) and the email address hear of the change.
async fn tell(
    conn: &mut Conn,
    deps: &Deps,
    email: &crate::values::email::Email,
    old: Option<&Phone>,
    new: Option<&Phone>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    if let Some(old) = old.filter(|o| Some(*o) != new) {
        outbox::enqueue(conn, &messages::phone_replaced_sms(old.as_str()), now).await?;
    }
    let masked = new.map(Phone::masked);
    let link = deps.link("/profile/security");
    let m = messages::phone_changed_email(email.as_str(), masked.as_deref(), &link);
    outbox::enqueue(conn, &m, now).await?;
    Ok(())
}

/// M9: the code sent to the new number came back: it becomes the account's phone (the method
/// stays; with SMS as the method, codes go there from now on). Returns the number, masked.
pub async fn confirm(
    deps: &Deps,
    session: &Session,
    code: &str,
    client: &ClientInfo,
) -> Result<String, ProfileError> {
    let uid = user_of(session)?;
    let now = deps.now();
    fresh(session, now)?;
    let mut passed =
        challenges::attempt(deps, session, uid, Purpose::PhoneChange, code, client).await?;
    let new = Phone::parse(&passed.destination).map_err(|_| ProfileError::Internal)?;
    let user = account(&mut passed.tx, uid).await?;
    let old = mfa::verified_phone(&mut passed.tx, uid).await?;
    mfa::replace_phone(&mut passed.tx, uid, &new, now).await?;
    tell(
        &mut passed.tx,
        deps,
        &user.email,
        old.as_ref(),
        Some(&new),
        now,
    )
    .await?;
    events::record(
        &mut passed.tx,
        Some(uid),
        EventKind::PhoneChanged,
        client,
        now,
    )
    .await?;
    passed.tx.commit().await?;
    Ok(new.masked())
}

/// R4: a new code to the number being verified, after the cooldown.
pub async fn resend(deps: &Deps, session: &Session) -> Result<(), ProfileError> {
    user_of(session)?;
    Ok(challenges::resend(deps, session, Purpose::PhoneChange).await?)
}
