//! Forgotten and changed passwords.
//!
//! - F1: [`request_reset`] answers the same whether or not the address has an account; the mail
//!   goes through the outbox, and the caller holds every answer to one fixed deadline.
//! - F2: a reset token is 256 random bits, stored only as SHA-256, single use, valid 30 minutes;
//!   a newer token or a password change kills every earlier one.
//! - F3: the link is built from the configured public URL only.
//! - F5: a reset signs nobody in, leaves MFA in place for the next sign-in, revokes every session
//!   and tells the owner.
//! - P7/S6: a change needs the current password (with the sign-in's R1/R2 counters), revokes
//!   every other session and tells the owner.
//! - R2: requests are limited per client IP (answered) and per address (silently: the answer
//!   stays the same, F1).

pub mod sms;

use crate::mechanisms::credentials::CredentialError;
use crate::mechanisms::events::{self, EventKind};
use crate::mechanisms::hashing::HashError;
use crate::mechanisms::messages;
use crate::mechanisms::oidc_logout::Ending;
use crate::mechanisms::outbox;
use crate::mechanisms::ratelimit::{self, Limit};
use crate::mechanisms::secret::Secret;
use crate::mechanisms::service::Deps;
use crate::mechanisms::sessions::{self, ClientInfo, Session};
use crate::mechanisms::users::{self, MfaMethod, User};
use crate::store::Conn;
use crate::values::clock::Timestamp;
use crate::values::email::Email;
use crate::values::failure::{self, Refusal, Shown};
use crate::values::password::{Context, PasswordError};
use crate::values::phone::Phone;

use crate::mechanisms::email_links::{self, RESET_PURPOSE, RESET_TTL_SECS};
const PER_IP: Limit = Limit {
    max: 10,
    window_secs: 60,
};
const PER_ADDRESS: Limit = Limit {
    max: 5,
    window_secs: 3600,
};

/// Messages per field of a password form; each is shown next to its input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordFields {
    pub current: Option<String>,
    pub password: Option<String>,
    pub confirm: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("please correct the highlighted fields")]
    Invalid(Box<PasswordFields>),
    #[error(transparent)]
    Email(#[from] crate::values::email::EmailError),
    #[error("This reset link is invalid, was already used or has expired. Ask for a new one.")]
    LinkInvalid,
    #[error("Too many attempts. Try again in {retry_after} seconds.")]
    Limited { retry_after: i64 },
    #[error("The server is busy. Try again in a moment.")]
    Busy,
    /// The SMS flow this form belonged to ended (expired, finished, or never started).
    #[error("Your reset has expired. Start again.")]
    Expired,
    /// The Security tab's actions need a signed-in session.
    #[error("Your sign-in has expired. Sign in again.")]
    SignedOut,
    #[error("Enter the six-digit code.")]
    CodeFormat,
    /// F1: a wrong, used-up or never-sent code, or a full window, all read the same.
    #[error("That code is not correct or can no longer be used. After five tries, start again.")]
    CodeRefused,
    /// F7: the person's organizations allow no way this person can be reached by.
    #[error("{0}")]
    NotAllowed(String),
    #[error("internal error")]
    Internal,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl Refusal for RecoveryError {
    fn shown(&self) -> Shown {
        match self {
            Self::Invalid(f) => failure::fields([
                ("current", &f.current),
                ("password", &f.password),
                ("confirm", &f.confirm),
            ]),
            Self::Email(_) | Self::CodeFormat | Self::CodeRefused => Shown::Field,
            Self::LinkInvalid
            | Self::Limited { .. }
            | Self::Expired
            | Self::SignedOut
            | Self::NotAllowed(_) => Shown::Form,
            Self::Busy => Shown::Busy,
            Self::Internal => Shown::Internal,
            Self::Store(e) => crate::store::shown(e),
        }
    }
}

impl From<HashError> for RecoveryError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => RecoveryError::Busy,
            HashError::Internal => RecoveryError::Internal,
        }
    }
}

crate::mechanisms::ratelimit::from_rate_error!(RecoveryError);

fn field(which: fn(&mut PasswordFields) -> &mut Option<String>, msg: String) -> RecoveryError {
    let mut f = PasswordFields::default();
    *which(&mut f) = Some(msg);
    RecoveryError::Invalid(Box::new(f))
}

/// P1–P4 with the owner's context words, and the confirmation (P7).
pub(crate) fn check_new(
    deps: &Deps,
    user: &User,
    new: &str,
    confirm: &str,
) -> Result<String, RecoveryError> {
    let ctx = Context {
        words: vec![
            user.email.local_part(),
            user.first_name.as_str(),
            user.last_name.as_str(),
        ],
    };
    deps.settings
        .password
        .check_pair(new, confirm, &ctx)
        .map_err(|e| match e {
            PasswordError::Mismatch => field(|f| &mut f.confirm, e.to_string()),
            e => field(|f| &mut f.password, e.to_string()),
        })
}

/// R2 for every recovery request: the per-IP window answers "too many attempts"; the
/// per-address window only stops sending (`false`), so the answer stays the same (F1).
pub(crate) async fn request_windows(
    conn: &mut Conn,
    email: &Email,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<bool, RecoveryError> {
    ratelimit::hit(
        conn,
        &format!("forgot:ip:{}", client.rate_key()),
        PER_IP,
        now,
    )
    .await?;
    let key = format!("forgot:addr:{}", email.as_str());
    Ok(ratelimit::within(conn, &key, PER_ADDRESS, now).await?)
}

/// The way "Forgot password?" went.
#[derive(Debug)]
pub enum Forgot {
    /// F2: a link by email (if the account exists).
    Link,
    /// F6: a code by text message (if the account has a verified phone); the flow's session id.
    SmsCode(Secret),
}

/// F1/F7: "Forgot password?" — by text message when the person asked for it (`sms`) and the
/// instance allows it, or when it is the only way on; by email link otherwise. Every
/// well-formed address gets the same answer of its way.
pub async fn forgot(
    deps: &Deps,
    current: Option<&Session>,
    email: &str,
    sms: bool,
    client: &ClientInfo,
) -> Result<Forgot, RecoveryError> {
    let settings = &deps.settings;
    if settings.sms_recovery() && (sms || !settings.recovery_email_link) {
        Ok(Forgot::SmsCode(
            self::sms::start(deps, current, email, client).await?,
        ))
    } else {
        request_reset(deps, email, client).await?;
        Ok(Forgot::Link)
    }
}

/// F1/F2/F3: "Forgot password?" by email link. The same `Ok(())` for every well-formed address.
pub async fn request_reset(
    deps: &Deps,
    email: &str,
    client: &ClientInfo,
) -> Result<(), RecoveryError> {
    let email = Email::parse(email)?;
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let may_send = request_windows(&mut tx, &email, client, now).await?;
    // F7: the email link needs a verified address; an unverified account gets nothing (and the
    // same answer, F1) — it is verified by signing in, which sends a new verification link.
    let user = users::by_email(&mut tx, &email)
        .await?
        .filter(|u| u.email_verified);
    if let (Some(user), true) = (user, may_send) {
        if allowed_by_orgs(&mut tx, deps, &user, Way::EmailLink, now).await? {
            send_link(&mut tx, deps, &user, client, now).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A way to reset a forgotten password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Way {
    EmailLink,
    SmsCode,
}

/// F7: whether the person's organizations allow recovery by `way` (the strictest of their
/// rules). When not, nothing goes out that way and the person is told by email what they
/// allow; the page's answer stays the same for everyone (F1).
pub(crate) async fn allowed_by_orgs(
    conn: &mut Conn,
    deps: &Deps,
    user: &User,
    way: Way,
    now: Timestamp,
) -> Result<bool, RecoveryError> {
    let Err(words) = orgs_verdict(conn, &user.id, way).await? else {
        return Ok(true);
    };
    let tried = match way {
        Way::EmailLink => "email link",
        Way::SmsCode => "text message",
    };
    let m = messages::recovery_not_allowed(
        user.email.as_str(),
        tried,
        &words,
        &deps.link("/forgot-password"),
    );
    outbox::enqueue(conn, &m, now).await?;
    Ok(false)
}

/// F7: the one check of recovery by `way` against the person's organizations (the strictest of
/// their rules): `Ok(())`, or the words that say what they allow. "Forgot password?" and the
/// Security tab's "Send reset password link" (F8) both ask it.
pub(crate) async fn orgs_verdict(
    conn: &mut Conn,
    user_id: &str,
    way: Way,
) -> Result<Result<(), String>, RecoveryError> {
    let Some((policy, names)) = crate::mechanisms::orgs::rules_for(conn, user_id).await? else {
        return Ok(Ok(()));
    };
    let allowed = match way {
        Way::EmailLink => policy.recovery_email,
        Way::SmsCode => policy.recovery_sms,
    };
    Ok(if allowed {
        Ok(())
    } else {
        Err(policy.recovery_words(&names))
    })
}

/// Tells the owner when a reset is asked for from an address the account never used (checked
/// before this request's own event is recorded).
pub(crate) async fn notice_if_new_place(
    conn: &mut Conn,
    deps: &Deps,
    user: &User,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<(), RecoveryError> {
    if client.ip.is_empty() || events::seen_ip(conn, &user.id, &client.ip).await? {
        return Ok(());
    }
    let m = messages::reset_from_new_place(
        user.email.as_str(),
        &client.ip,
        &crate::values::clock::format_utc(now),
        &deps.link("/forgot-password"),
    );
    outbox::enqueue(conn, &m, now).await?;
    Ok(())
}

/// Where a reset link goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Email,
    /// F8: by text message to this verified number.
    Sms(Phone),
}

/// F2/F3: a new link (older ones die), by email, recorded (G1) — in the caller's transaction.
async fn send_link(
    conn: &mut Conn,
    deps: &Deps,
    user: &User,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<Timestamp, RecoveryError> {
    send_link_via(conn, deps, user, &Via::Email, client, now).await
}

async fn send_link_via(
    conn: &mut Conn,
    deps: &Deps,
    user: &User,
    via: &Via,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<Timestamp, RecoveryError> {
    notice_if_new_place(conn, deps, user, client, now).await?;
    email_links::revoke_all(conn, &user.id, RESET_PURPOSE, now).await?;
    let token = match via {
        Via::Email => deps.random.token(32),
        // F2: 128 bits, short enough for a link in a text message.
        Via::Sms(_) => deps.random.token(16),
    };
    let expires = now + RESET_TTL_SECS;
    email_links::issue(
        conn,
        &token,
        &user.id,
        RESET_PURPOSE,
        RESET_TTL_SECS,
        None,
        now,
    )
    .await?;
    let link = deps.link(&format!("/reset-password/open?token={}", token.expose()));
    let m = match via {
        Via::Email => messages::password_reset(
            user.email.as_str(),
            &user.first_name,
            &link,
            RESET_TTL_SECS / 60,
        ),
        Via::Sms(p) => messages::password_reset_sms(p.as_str(), &link, RESET_TTL_SECS / 60),
    };
    outbox::enqueue(conn, &m, now).await?;
    events::record(
        conn,
        Some(&user.id),
        EventKind::PasswordResetRequested,
        client,
        now,
    )
    .await?;
    Ok(expires)
}

/// What "Send reset password link" did (F8): the channel, the masked address, the expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSent {
    pub via_sms: bool,
    /// An authenticator user gets the link by email (F8); the page says so.
    pub authenticator: bool,
    pub masked: String,
    pub expires_at: Timestamp,
}

/// F8: from the Security tab, a reset link through the account's second-factor channel — text
/// message for SMS users, email otherwise. F7: only through a channel the person's
/// organizations allow; when theirs is not, the other one (if the person has it), else a
/// refusal that says what the organizations allow.
pub async fn send_link_to_factor(
    deps: &Deps,
    session: &Session,
    client: &ClientInfo,
) -> Result<LinkSent, RecoveryError> {
    let uid = session
        .authenticated_user()
        .ok_or(RecoveryError::SignedOut)?;
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let user = users::by_id(&mut tx, uid)
        .await?
        .ok_or(RecoveryError::SignedOut)?;
    ratelimit::hit(
        &mut tx,
        &format!("forgot:addr:{}", user.email.as_str()),
        PER_ADDRESS,
        now,
    )
    .await?;
    let phone = crate::mechanisms::mfa::verified_phone(&mut tx, uid).await?;
    let by_email = orgs_verdict(&mut tx, uid, Way::EmailLink).await?;
    let by_sms = orgs_verdict(&mut tx, uid, Way::SmsCode).await?;
    let via = match (user.mfa_method, phone, by_email, by_sms) {
        (MfaMethod::Sms, Some(p), _, Ok(())) => Via::Sms(p),
        (_, _, Ok(()), _) if user.email_verified => Via::Email,
        (_, Some(p), _, Ok(())) => Via::Sms(p),
        (_, _, Err(words), _) | (_, _, _, Err(words)) => {
            return Err(RecoveryError::NotAllowed(words))
        }
        _ => Via::Email,
    };
    let expires_at = send_link_via(&mut tx, deps, &user, &via, client, now).await?;
    tx.commit().await?;
    Ok(LinkSent {
        via_sms: matches!(via, Via::Sms(_)),
        authenticator: user.mfa_method == MfaMethod::Authenticator,
        masked: match via {
            Via::Sms(p) => p.masked(),
            Via::Email => user.email.masked(),
        },
        expires_at,
    })
}

/// The user a live (unused, unexpired) reset token belongs to.
async fn token_user(
    conn: &mut Conn,
    token: &str,
    now: Timestamp,
) -> Result<Option<String>, sqlx::Error> {
    Ok(email_links::live(conn, token, RESET_PURPOSE, now)
        .await?
        .map(|l| l.user_id))
}

/// Whether the reset page should offer the form (F2).
pub async fn link_is_live(deps: &Deps, token: &str) -> Result<bool, RecoveryError> {
    let mut c = deps.store.read().await?;
    Ok(token_user(&mut c, token, deps.now()).await?.is_some())
}

/// F2/F5: sets a new password through a reset link: the token is used once (atomically),
/// every session ends, the owner is told; nobody is signed in.
pub async fn reset_password(
    deps: &Deps,
    token: &str,
    new: &str,
    confirm: &str,
    client: &ClientInfo,
) -> Result<(), RecoveryError> {
    let user = {
        let mut c = deps.store.conn().await?;
        let uid = token_user(&mut c, token, deps.now())
            .await?
            .ok_or(RecoveryError::LinkInvalid)?;
        users::by_id(&mut c, &uid)
            .await?
            .ok_or(RecoveryError::LinkInvalid)?
    };
    let password = check_new(deps, &user, new, confirm)?;
    let phc = deps.hasher.hash(&password).await?;
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let used = email_links::consume(&mut tx, token, RESET_PURPOSE, now).await?;
    if used.is_none_or(|l| l.user_id != user.id) {
        return Err(RecoveryError::LinkInvalid);
    }
    set_password(&mut tx, deps, &user, &phc, None, client, now).await?;
    users::reset_failures(&mut tx, &user.id).await?;
    tx.commit().await?;
    Ok(())
}

/// The new hash, other sessions and reset links gone (S6, F2), the event and the notice.
pub(crate) async fn set_password(
    conn: &mut Conn,
    deps: &Deps,
    user: &User,
    phc: &str,
    keep_session: Option<&str>,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<(), RecoveryError> {
    // O3: the person's row first (the token endpoint takes it first too).
    users::lock(conn, &user.id).await?;
    users::set_password_hash(conn, &user.id, phc, now).await?;
    // S6/P7: every other session ends, for the applications too (O6).
    deps.end_sso(conn, &user.id, Ending::AllBut(keep_session), now)
        .await?;
    sessions::revoke_all_for_user(conn, &user.id, keep_session).await?;
    email_links::revoke_all(conn, &user.id, RESET_PURPOSE, now).await?;
    events::record(
        conn,
        Some(&user.id),
        EventKind::PasswordChanged,
        client,
        now,
    )
    .await?;
    let m = messages::password_changed(user.email.as_str(), &deps.link("/forgot-password"));
    outbox::enqueue(conn, &m, now).await?;
    Ok(())
}

/// P7/S6: a signed-in person changes their password with the current one.
pub async fn change_password(
    deps: &Deps,
    session: &Session,
    current: &str,
    new: &str,
    confirm: &str,
    client: &ClientInfo,
) -> Result<(), RecoveryError> {
    let uid = session
        .authenticated_user()
        .ok_or(RecoveryError::SignedOut)?;
    let user = {
        let mut c = deps.store.conn().await?;
        users::by_id(&mut c, uid)
            .await?
            .ok_or(RecoveryError::SignedOut)?
    };
    // Field problems with the new password come first, so one submission shows them all.
    let password = check_new(deps, &user, new, confirm);
    let now = deps.now();
    let current = crate::values::password::PasswordPolicy::normalize(current);
    match crate::mechanisms::credentials::check_password(deps, &user.email, &current, client, now)
        .await
    {
        Ok(_) => {}
        Err(CredentialError::Incorrect) => {
            let mut f = match password {
                Err(RecoveryError::Invalid(f)) => *f,
                _ => PasswordFields::default(),
            };
            f.current = Some("Your current password is not correct.".into());
            return Err(RecoveryError::Invalid(Box::new(f)));
        }
        Err(CredentialError::Limited { retry_after }) => {
            return Err(RecoveryError::Limited { retry_after })
        }
        Err(CredentialError::Busy) => return Err(RecoveryError::Busy),
        Err(CredentialError::Internal) => return Err(RecoveryError::Internal),
        Err(CredentialError::Store(e)) => return Err(e.into()),
    }
    let password = password?;
    let phc = deps.hasher.hash(&password).await?;
    let mut tx = deps.store.begin().await?;
    set_password(
        &mut tx,
        deps,
        &user,
        &phc,
        Some(&session.id_hash),
        client,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
