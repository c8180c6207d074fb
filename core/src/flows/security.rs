//! The Security tab: re-authentication and changing how sign-ins are confirmed.
//!
//! - S5: changing the method, verifying a phone or regenerating recovery codes needs a full
//!   re-authentication (`mechanisms::reauth`); its two steps (password, then a code from the
//!   *current* method) live here and serve the Profile tab's phone change too.
//! - M7: every change is told on the old channel (the old phone by text message, else email).
//! - M4: choosing the authenticator does not switch yet: the QR code comes at the next sign-in
//!   and the method changes only after its first code.
//! - M9: text messages need a number in E.164 form, inside the allowed calling codes (R4), and
//!   verified with a code sent to it before they become the method.
//! - M6: new recovery codes replace the old ones and are shown once (sealed on the session until
//!   the person says they saved them).
//! - R3: every code here goes through `challenges`, with its per-challenge and per-account limits.

use crate::mechanisms::challenges::{self, ChallengeError, Delivery};
use crate::mechanisms::credentials::CredentialError;
use crate::mechanisms::events::{self, EventKind};
use crate::mechanisms::messages::MethodChange;
use crate::mechanisms::mfa;
use crate::mechanisms::oidc_logout::Ending;
use crate::mechanisms::reauth::{self, Reauth};
use crate::mechanisms::recovery_codes::CodesError;
use crate::mechanisms::service::Deps;
use crate::mechanisms::sessions::{self, ClientInfo, Session};
use crate::mechanisms::users::{self, MfaMethod, User};
use crate::store::Conn;
use crate::values::clock::Timestamp;
use crate::values::factors::{ChallengeKind, Factor, Purpose};
use crate::values::failure::{Refusal, Shown};
use crate::values::phone::Phone;
use crate::values::phone::PhoneError;

/// Why a Security-tab action did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// M5: only a signed-in session reaches the tab.
    #[error("Your sign-in has expired. Sign in again.")]
    SignedOut,
    /// S5: the change needs a re-authentication within the window.
    #[error("For your safety, confirm it is you first.")]
    ReauthRequired,
    #[error("Recovery codes come with an authenticator app. Choose it as your method first.")]
    NoAuthenticator,
    #[error("Choose how you want to receive sign-in codes.")]
    NoChoice,
    /// F7: the person's organizations do not allow that method.
    #[error("{0}")]
    OrgRules(String),
    #[error(transparent)]
    Password(#[from] CredentialError),
    #[error(transparent)]
    Code(#[from] ChallengeError),
    #[error(transparent)]
    Phone(#[from] PhoneError),
    #[error("internal error")]
    Internal,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl Refusal for SecurityError {
    fn shown(&self) -> Shown {
        match self {
            Self::SignedOut | Self::ReauthRequired | Self::NoAuthenticator => Shown::Form,
            Self::NoChoice | Self::OrgRules(_) => Shown::Field,
            Self::Password(e) => e.shown(),
            Self::Code(e) => e.shown(),
            Self::Phone(e) => e.shown(),
            Self::Internal => Shown::Internal,
            Self::Store(e) => crate::store::shown(e),
        }
    }
}

impl From<CodesError> for SecurityError {
    fn from(e: CodesError) -> Self {
        match e {
            CodesError::Sealed => Self::Internal,
            CodesError::Store(s) => Self::Store(s),
        }
    }
}

impl From<mfa::MfaError> for SecurityError {
    fn from(e: mfa::MfaError) -> Self {
        match e {
            mfa::MfaError::Store(s) => Self::Store(s),
            _ => Self::Internal,
        }
    }
}

/// Everything the Security tab shows, read in one call on one connection.
#[derive(Debug, Clone)]
pub struct Overview {
    /// `user.mfa_method` is the active method.
    pub user: User,
    /// M13: a factor chosen and set up at the next sign-in (after a code from the active one),
    /// until it expires.
    pub pending: Option<mfa::Pending>,
    /// The verified phone, masked.
    pub phone: Option<String>,
    pub recovery_codes_left: i64,
    pub reauth: Reauth,
    /// A code was sent to this (masked) number to verify it.
    pub verifying_phone: Option<String>,
    /// Recovery codes just generated, shown once (M6).
    pub new_recovery_codes: Vec<String>,
    /// Calling codes text messages may go to; empty when SMS is off (R4).
    pub sms_country_codes: Vec<String>,
    /// F8: when the newest working reset link was sent and when it expires.
    pub reset_link: Option<(Timestamp, Timestamp)>,
    /// S4: the person's signed-in sessions, this one first.
    pub sessions: Vec<sessions::Listed>,
    /// G1: the newest security events.
    pub activity: Vec<events::Recorded>,
    /// F7: what the person's organizations allow, in words, when they restrict the methods.
    pub org_rules: Option<String>,
    /// Issue 13: the applications the person signed in to (OpenID Connect), last used first.
    pub applications: Vec<crate::mechanisms::oidc_grants::Application>,
}

/// How many events the activity log shows.
const ACTIVITY_SHOWN: i64 = 15;

fn user_of(session: &Session) -> Result<&str, SecurityError> {
    session.authenticated_user().ok_or(SecurityError::SignedOut)
}

async fn load_user(conn: &mut Conn, user_id: &str) -> Result<User, SecurityError> {
    users::by_id(conn, user_id)
        .await?
        .ok_or(SecurityError::SignedOut)
}

fn require_fresh(session: &Session, now: Timestamp) -> Result<(), SecurityError> {
    reauth::require_fresh(session, now).map_err(|_| SecurityError::ReauthRequired)
}

pub async fn overview(deps: &Deps, session: &Session) -> Result<Overview, SecurityError> {
    let uid = user_of(session)?;
    let now = deps.now();
    let mut c = deps.store.read().await?;
    let user = load_user(&mut c, uid).await?;
    let phone = mfa::verified_phone(&mut c, uid).await?.map(|p| p.masked());
    let reauth = reauth::state(&mut c, deps, session, now).await?;
    let verifying_phone =
        challenges::waiting_at(&mut c, session, Purpose::PhoneVerification, now).await?;
    let new_recovery_codes =
        crate::mechanisms::recovery_codes::parked(&mut c, &deps.secret_key, &session.id_hash, uid)
            .await?;
    let mut listed = sessions::list_for_user(&mut c, uid, &deps.settings.sessions, now).await?;
    listed.sort_by_key(|l| l.id_hash != session.id_hash);
    // F7: the person's organizations narrow the numbers and may restrict the methods.
    let rules = crate::mechanisms::orgs::rules_for(&mut c, uid).await?;
    let policy = rules.as_ref().map(|(p, _)| p);
    Ok(Overview {
        pending: mfa::pending(&mut c, uid, now).await?,
        phone,
        recovery_codes_left: crate::mechanisms::recovery_codes::remaining(&mut c, uid).await?,
        reauth,
        verifying_phone,
        new_recovery_codes,
        sms_country_codes: crate::values::org::sms_codes(policy, &deps.settings.sms_country_codes),
        reset_link: crate::mechanisms::email_links::open_reset_link(&mut c, uid, now).await?,
        org_rules: rules
            .as_ref()
            .filter(|(p, _)| p.mfa.len() < crate::values::org::MFA_ORDER.len())
            .map(|(p, names)| p.mfa_words(names)),
        sessions: listed,
        activity: events::recent(&mut c, uid, ACTIVITY_SHOWN).await?,
        applications: crate::mechanisms::oidc_grants::applications(&mut c, uid).await?,
        user,
    })
}

/// S5 step 1: the password (with the sign-in's R1/R2 counters), then a code from the current
/// method: an authenticator code, or one sent by text message or email.
pub async fn reauth_password(
    deps: &Deps,
    session: &Session,
    password: &str,
    client: &ClientInfo,
) -> Result<(), SecurityError> {
    let uid = user_of(session)?;
    let now = deps.now();
    let user = {
        let mut c = deps.store.conn().await?;
        load_user(&mut c, uid).await?
    };
    let password = crate::values::password::PasswordPolicy::normalize(password);
    crate::mechanisms::credentials::check_password(deps, &user.email, &password, client, now)
        .await?;
    let mut tx = deps.store.begin().await?;
    let factor = mfa::active_factor(&mut tx, uid, user.mfa_method).await?;
    let (kind, delivery) = challenges::first_for(Purpose::Reauth, &factor, user.email.as_str());
    challenges::open(&mut tx, deps, uid, &session.id_hash, kind, delivery, now).await?;
    tx.commit().await?;
    Ok(())
}

/// S5 step 2: the code; the session counts as freshly authenticated.
pub async fn reauth_code(
    deps: &Deps,
    session: &Session,
    code: &str,
    client: &ClientInfo,
) -> Result<(), SecurityError> {
    let uid = user_of(session)?;
    let mut passed = challenges::attempt(deps, session, uid, Purpose::Reauth, code, client).await?;
    let now = deps.now();
    sessions::set_authenticated_at(&mut passed.tx, &session.id_hash, now).await?;
    events::record(
        &mut passed.tx,
        Some(uid),
        EventKind::Reauthenticated,
        client,
        now,
    )
    .await?;
    passed.tx.commit().await?;
    Ok(())
}

/// R4: a new re-auth or phone-verification code.
pub async fn resend(deps: &Deps, session: &Session, purpose: Purpose) -> Result<(), SecurityError> {
    user_of(session)?;
    Ok(challenges::resend(deps, session, purpose).await?)
}

/// The method a person picked on the Security tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Email,
    Authenticator,
    Sms { phone: String },
}

impl Choice {
    /// The form's answer: `mfa_method` is "email", "totp" or "sms" (with `phone`).
    pub fn from_form(mfa_method: &str, phone: &str) -> Result<Self, SecurityError> {
        match MfaMethod::parse(mfa_method) {
            Some(MfaMethod::Email) => Ok(Choice::Email),
            Some(MfaMethod::Authenticator) => Ok(Choice::Authenticator),
            Some(MfaMethod::Sms) => Ok(Choice::Sms {
                phone: phone.to_string(),
            }),
            None => Err(SecurityError::NoChoice),
        }
    }

    /// The method chosen.
    pub fn method(&self) -> MfaMethod {
        match self {
            Choice::Email => MfaMethod::Email,
            Choice::Authenticator => MfaMethod::Authenticator,
            Choice::Sms { .. } => MfaMethod::Sms,
        }
    }
}

/// What saving the method did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// That method is already the one in use.
    Unchanged,
    /// Codes now come by email.
    ToEmail,
    /// The authenticator is set up at the next sign-in (M4).
    AuthenticatorAtNextSignIn,
    /// A code went to this (masked) number; enter it to finish (M9).
    VerifyPhone(String),
}

/// S5/M7: changes the method (or starts the change) after a fresh re-authentication.
pub async fn change_method(
    deps: &Deps,
    session: &Session,
    choice: &Choice,
    client: &ClientInfo,
) -> Result<Changed, SecurityError> {
    let uid = user_of(session)?;
    let now = deps.now();
    // F7: the person's organizations decide which methods, and which numbers, they may use.
    let rules = {
        let mut c = deps.store.read().await?;
        crate::mechanisms::orgs::rules_for(&mut c, uid).await?
    };
    if let Some((p, names)) = &rules {
        if !p.allows_mfa(choice.method()) {
            return Err(SecurityError::OrgRules(p.mfa_words(names)));
        }
    }
    let policy = rules.as_ref().map(|(p, _)| p);
    let codes = crate::values::org::sms_codes(policy, &deps.settings.sms_country_codes);
    // M9/R4: a bad number is reported before anything else, so what was typed can be fixed.
    let phone = match choice {
        Choice::Sms { phone } => Some(Phone::parse_allowed(phone, &codes)?),
        _ => None,
    };
    require_fresh(session, now)?;
    let mut tx = deps.store.begin().await?;
    let user = load_user(&mut tx, uid).await?;
    let security_link = deps.link("/profile/security");
    let pending = mfa::pending(&mut tx, uid, now).await?;
    let totp_pending = pending
        .as_ref()
        .is_some_and(|p| p.enrolment == mfa::Enrolment::Authenticator);
    let outcome = match (choice, phone) {
        (Choice::Email, _) if user.mfa_method == MfaMethod::Email && pending.is_none() => {
            Changed::Unchanged
        }
        (Choice::Email, _) => {
            let change = MethodChange {
                new_method: "email",
                pending: false,
                security_link: &security_link,
            };
            mfa::tell_old_channel(&mut tx, &user, &change, now).await?;
            mfa::use_email(&mut tx, uid, client, now).await?;
            Changed::ToEmail
        }
        (Choice::Authenticator, _)
            if user.mfa_method == MfaMethod::Authenticator || totp_pending =>
        {
            Changed::Unchanged
        }
        (Choice::Authenticator, _) => {
            let change = MethodChange {
                new_method: "an authenticator app",
                pending: true,
                security_link: &security_link,
            };
            mfa::tell_old_channel(&mut tx, &user, &change, now).await?;
            mfa::begin_totp(&mut tx, &deps.secret_key, uid, now).await?;
            events::record(
                &mut tx,
                Some(uid),
                EventKind::MfaChangeRequested,
                client,
                now,
            )
            .await?;
            Changed::AuthenticatorAtNextSignIn
        }
        (Choice::Sms { .. }, Some(p)) => {
            let current = mfa::verified_phone(&mut tx, uid).await?;
            if user.mfa_method == MfaMethod::Sms && current.as_ref() == Some(&p) {
                Changed::Unchanged
            } else {
                challenges::open(
                    &mut tx,
                    deps,
                    uid,
                    &session.id_hash,
                    ChallengeKind::new(Purpose::PhoneVerification, Factor::Sms),
                    Delivery::Sms(p.as_str()),
                    now,
                )
                .await?;
                Changed::VerifyPhone(p.masked())
            }
        }
        (Choice::Sms { .. }, None) => return Err(SecurityError::Internal),
    };
    tx.commit().await?;
    Ok(outcome)
}

/// M9/M7: the code sent to the new number came back: text messages become the method and the
/// old channel is told.
pub async fn verify_phone(
    deps: &Deps,
    session: &Session,
    code: &str,
    client: &ClientInfo,
) -> Result<(), SecurityError> {
    let uid = user_of(session)?;
    let now = deps.now();
    require_fresh(session, now)?;
    let mut passed =
        challenges::attempt(deps, session, uid, Purpose::PhoneVerification, code, client).await?;
    let phone = Phone::parse(&passed.destination).map_err(|_| SecurityError::Internal)?;
    let user = load_user(&mut passed.tx, uid).await?;
    let words = format!("text messages to {}", phone.masked());
    let change = MethodChange {
        new_method: &words,
        pending: false,
        security_link: &deps.link("/profile/security"),
    };
    mfa::tell_old_channel(&mut passed.tx, &user, &change, now).await?;
    mfa::activate_phone(&mut passed.tx, uid, &phone, client, now).await?;
    passed.tx.commit().await?;
    Ok(())
}

/// M6: ten new recovery codes replace the old ones; they wait (sealed) on the session until
/// the person confirms they saved them.
pub async fn regenerate_recovery_codes(
    deps: &Deps,
    session: &Session,
    client: &ClientInfo,
) -> Result<(), SecurityError> {
    let uid = user_of(session)?;
    let now = deps.now();
    require_fresh(session, now)?;
    let mut tx = deps.store.begin().await?;
    let user = load_user(&mut tx, uid).await?;
    if user.mfa_method != MfaMethod::Authenticator {
        return Err(SecurityError::NoAuthenticator);
    }
    let codes =
        crate::mechanisms::recovery_codes::regenerate(&mut tx, &deps.secret_key, uid, now).await?;
    crate::mechanisms::recovery_codes::park(
        &mut tx,
        &deps.secret_key,
        &session.id_hash,
        uid,
        &codes,
    )
    .await?;
    events::record(
        &mut tx,
        Some(uid),
        EventKind::RecoveryCodesRegenerated,
        client,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// "I have saved these codes": they leave the session.
pub async fn recovery_codes_saved(deps: &Deps, session: &Session) -> Result<(), SecurityError> {
    user_of(session)?;
    let mut c = deps.store.conn().await?;
    sessions::set_pending(&mut c, &session.id_hash, None).await?;
    Ok(())
}

/// How many hex digits of a session's digest name it to its owner on the tab.
const HANDLE_LEN: usize = 16;

/// S4: the name of a session on the tab — a prefix of its stored digest, never the id (S1).
pub fn handle(id_hash: &str) -> String {
    id_hash.chars().take(HANDLE_LEN).collect()
}

/// S4: ends one of the person's *other* sessions, named by its [`handle`]; `false` when it had
/// already ended (or is this one, or is not theirs).
pub async fn sign_out_session(
    deps: &Deps,
    session: &Session,
    handle: &str,
) -> Result<bool, SecurityError> {
    let uid = user_of(session)?;
    let mut c = deps.store.conn().await?;
    let listed = sessions::list_for_user(&mut c, uid, &deps.settings.sessions, deps.now()).await?;
    let target = listed.into_iter().find(|l| {
        handle.len() == HANDLE_LEN && l.id_hash.starts_with(handle) && l.id_hash != session.id_hash
    });
    Ok(match target {
        Some(l) => {
            drop(c);
            let mut tx = deps.store.begin().await?;
            deps.end_sso(&mut tx, uid, Ending::Only(&l.id_hash), deps.now())
                .await?;
            let ended = sessions::revoke_own(&mut tx, uid, &l.id_hash).await?;
            tx.commit().await?;
            ended
        }
        None => false,
    })
}

/// Issue 13, "Remove access": the application loses the person's consent and every token it
/// holds for them (it must ask again); a G1 event. Whether there was anything to remove.
pub async fn remove_app_access(
    deps: &Deps,
    session: &Session,
    client_id: &str,
    client: &ClientInfo,
) -> Result<bool, SecurityError> {
    let uid = user_of(session)?;
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    // O3: after any token the person's token requests are issuing now.
    users::lock(&mut tx, uid).await?;
    let removed =
        crate::mechanisms::oidc_grants::remove_access(&mut tx, uid, client_id, now).await?;
    if removed {
        events::record(&mut tx, Some(uid), EventKind::AppAccessRemoved, client, now).await?;
    }
    tx.commit().await?;
    Ok(removed)
}

/// S4/S6: ends every session of the person except this one; how many ended.
pub async fn sign_out_others(deps: &Deps, session: &Session) -> Result<u64, SecurityError> {
    let uid = user_of(session)?;
    let mut tx = deps.store.begin().await?;
    let keep = Some(session.id_hash.as_str());
    deps.end_sso(&mut tx, uid, Ending::AllBut(keep), deps.now())
        .await?;
    let ended = sessions::revoke_all_for_user(&mut tx, uid, keep).await?;
    tx.commit().await?;
    Ok(ended)
}
