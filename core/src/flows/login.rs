//! Identifier-first sign-in with an emailed code.
//!
//! Steps (see `sessions`): email → password → six-digit code → signed in.
//! - E2: the email step always proceeds; wrong email and wrong password get the same answer.
//! - E3: unknown users and locked accounts still cost one argon2 verification.
//! - R1: a password check is reserved atomically before it runs (`users::reserve_attempt`);
//!   reaching the threshold soft-locks the account and emails the owner once (R5).
//! - R2: per-IP and per-account windows on the password and code steps.
//! - M2: codes expire (10 min default), are single use and bound to this login flow and user.
//! - R3: a challenge dies after 5 wrong codes; an hourly per-account cap covers every challenge.
//! - R4: resend waits 60 s and counts against an hourly cap per destination.
//! - M5/S2: the password step yields a *partial* session under a new id; only a correct code makes
//!   it authenticated, again under a new id.
//! - M10: codes are compared as digests in constant time.

use crate::mechanisms::challenges::{self, ChallengeError, Delivery};
use crate::mechanisms::credentials::CredentialError;
use crate::mechanisms::events::{self, EventKind};
use crate::mechanisms::mfa::Enrolment;
use crate::mechanisms::oidc_logout::Ending;
use crate::mechanisms::recovery_codes::CodesError;
use crate::mechanisms::secret::Secret;
use crate::mechanisms::service::Deps;
use crate::mechanisms::sessions::{self, ClientInfo, Session, SessionState};
use crate::mechanisms::users::{self, User};
use crate::store::Conn;
use crate::values::clock::Timestamp;
use crate::values::email::Email;
use crate::values::factors::{ChallengeKind, Factor, Purpose};
use crate::values::failure::{Refusal, Shown};

pub use crate::mechanisms::challenges::MAX_CODE_ATTEMPTS;

/// The sign-in flow's refusals. A mechanism's refusal is carried whole (`Password`, `Code`),
/// never re-spelled variant by variant, so a new mechanism error cannot be lost on the way.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// E1/E2: a wrong password, an unknown or locked account and an unverified address all
    /// read the same, so the hint about confirming the email is part of every "incorrect".
    #[error("{}", password_words(.0))]
    Password(#[from] CredentialError),
    #[error(transparent)]
    Code(#[from] ChallengeError),
    #[error("Your sign-in has expired. Start again.")]
    WrongStep,
    #[error("That recovery code is not correct or was already used. {remaining} attempt(s) left.")]
    WrongRecoveryCode { remaining: i64 },
    #[error(transparent)]
    Email(#[from] crate::values::email::EmailError),
    /// F7: the person's organizations allow only methods this account cannot switch to at
    /// sign-in (text messages without a number they accept): no sign-in until that changes.
    #[error("{0} Your account has no way to sign in that they allow: ask an administrator of your organization or support for help.")]
    MethodNotAllowed(String),
    /// O7: the page showed one application's request; another was started in this browser
    /// since. The page now names the new one; nothing was signed in to.
    #[error("Another application asked you to sign in from this browser meanwhile. Check which application is named above before you continue.")]
    OtherRequest,
    #[error("internal error")]
    Internal,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl LoginError {
    /// E1/E2: the one "incorrect" answer of the password step.
    pub const INCORRECT: LoginError = LoginError::Password(CredentialError::Incorrect);
}

fn password_words(e: &CredentialError) -> String {
    match e {
        CredentialError::Incorrect => "Email or password is incorrect. Registered recently? \
             Confirm your email first: the link is in our message."
            .to_string(),
        other => other.to_string(),
    }
}

impl Refusal for LoginError {
    fn shown(&self) -> Shown {
        match self {
            Self::Password(e) => e.shown(),
            Self::Code(e) => e.shown(),
            Self::Internal => Shown::Internal,
            Self::Store(e) => crate::store::shown(e),
            Self::WrongStep | Self::MethodNotAllowed(_) | Self::OtherRequest => Shown::Form,
            Self::WrongRecoveryCode { .. } | Self::Email(_) => Shown::Field,
        }
    }
}

impl From<CodesError> for LoginError {
    fn from(e: CodesError) -> Self {
        match e {
            CodesError::Sealed => Self::Internal,
            CodesError::Store(s) => Self::Store(s),
        }
    }
}

/// Step 1 (E2): remember the email in a fresh flow session; never says whether it exists.
/// O7: `for_request` is the digest of the authorization request this sign-in is for (the one
/// the page showed), kept on the session so the sign-in continues only that one.
pub async fn submit_email(
    deps: &Deps,
    current: Option<&Session>,
    email: &str,
    for_request: Option<&str>,
    client: &ClientInfo,
) -> Result<Secret, LoginError> {
    let email = Email::parse(email)?;
    let now = deps.now();
    let state = SessionState::Identified {
        email: email.to_string(),
    };
    let mut tx = deps.store.begin().await?;
    // O6: a sign-in begun on a signed-in browser ends the sign-in it had, for the
    // applications too (its tokens would otherwise outlive it under a sid nobody holds).
    if let Some((s, uid)) = current.and_then(|s| Some((s, s.authenticated_user()?))) {
        deps.end_sso(&mut tx, uid, Ending::Only(&s.id_hash), now)
            .await?;
        // The row goes on as a new sign-in: it no longer carries the ended one's sid.
        sessions::forget_sso(&mut tx, &s.id_hash).await?;
    }
    let rotated = match current {
        Some(s) => {
            sessions::rotate(&mut tx, &s.id_hash, &state, &deps.settings.sessions, now).await?
        }
        None => None,
    };
    let token = match rotated {
        Some(t) => t,
        None => sessions::create(&mut tx, &state, client, &deps.settings.sessions, now).await?,
    };
    sessions::bind_authorization(&mut tx, &token.digest(), for_request).await?;
    tx.commit().await?;
    Ok(token)
}

/// What the password step led to.
#[derive(Debug)]
pub enum PasswordOutcome {
    /// A code was sent; the new (partial) session id.
    CodeSent(Secret),
}

/// Step 2: check the password (R1, E2, E3), then send a code and move to the partial session.
pub async fn submit_password(
    deps: &Deps,
    session: &Session,
    password: &str,
    client: &ClientInfo,
) -> Result<PasswordOutcome, LoginError> {
    let SessionState::Identified { email } = &session.state else {
        return Err(LoginError::WrongStep);
    };
    let email = Email::parse(email)?;
    let now = deps.now();
    let password = crate::values::password::PasswordPolicy::normalize(password);
    let user = crate::mechanisms::credentials::check_password(deps, &email, &password, client, now)
        .await?;
    let user = &user;
    if !user.email_verified {
        // E1: the same answer as a wrong password. Otherwise "register X, then sign in with the
        // password just chosen" would tell a new address (unverified) from a taken one. The
        // owner finds a fresh verification link in their mail; the message says to look there.
        resend_verification(deps, user, now).await?;
        return Err(LoginError::INCORRECT);
    }
    let mut tx = deps.store.begin().await?;
    let token = sessions::rotate(
        &mut tx,
        &session.id_hash,
        &SessionState::Partial {
            user_id: user.id.clone(),
        },
        &deps.settings.sessions,
        now,
    )
    .await?
    .ok_or(LoginError::WrongStep)?;
    // M13: always the factor that is active now; a pending authenticator or phone is set up
    // only after its code came back (see `after_first_factor`).
    let factor = crate::mechanisms::mfa::active_factor(&mut tx, &user.id, user.mfa_method).await?;
    let (kind, delivery) = challenges::first_for(Purpose::SignIn, &factor, user.email.as_str());
    challenges::open(
        &mut tx,
        deps,
        &user.id,
        &token.digest(),
        kind,
        delivery,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(PasswordOutcome::CodeSent(token))
}

async fn resend_verification(deps: &Deps, user: &User, now: Timestamp) -> Result<(), LoginError> {
    let mut tx = deps.store.begin().await?;
    if challenges::send_limit(&mut tx, deps, "verify", "email", user.email.as_str(), now)
        .await
        .is_err()
    {
        return Ok(());
    }
    crate::mechanisms::email_links::queue_verification(
        &mut tx,
        deps,
        &user.id,
        &user.email,
        &user.first_name,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What a correct second factor led to.
#[derive(Debug)]
pub enum CodeOutcome {
    /// Signed in; the new session id.
    SignedIn(Secret),
    /// An authenticator was just activated: its recovery codes are shown once (M6) under this
    /// new session id before the person is signed in.
    ShowRecoveryCodes(Secret),
    /// M13: the active factor answered and a pending factor is set up next (the QR code, or a
    /// code sent to the new number), under this new session id. Still not signed in (M5).
    SetUpNext(Secret),
}

impl CodeOutcome {
    /// The new session id, whichever way the step ended.
    pub fn token(&self) -> &Secret {
        match self {
            CodeOutcome::SignedIn(t)
            | CodeOutcome::ShowRecoveryCodes(t)
            | CodeOutcome::SetUpNext(t) => t,
        }
    }
}

/// M13: the active factor answered. A fresh pending enrolment is set up now, in a new
/// challenge on a new session id (S2); otherwise the person is signed in.
async fn after_first_factor(
    conn: &mut Conn,
    deps: &Deps,
    session: &Session,
    user_id: &str,
    amr: Amr,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<CodeOutcome, LoginError> {
    enforce_org_methods(conn, deps, user_id, client, now).await?;
    let Some(p) = crate::mechanisms::mfa::pending(conn, user_id, now).await? else {
        return Ok(CodeOutcome::SignedIn(
            sign_in(conn, deps, session, user_id, amr, client, now).await?,
        ));
    };
    let state = SessionState::Partial {
        user_id: user_id.to_string(),
    };
    let token = sessions::rotate(conn, &session.id_hash, &state, &deps.settings.sessions, now)
        .await?
        .ok_or(LoginError::WrongStep)?;
    let (kind, delivery) = match &p.enrolment {
        Enrolment::Authenticator => (Factor::AuthenticatorEnrolment, Delivery::None),
        Enrolment::Phone(phone) => (Factor::SmsEnrolment, Delivery::Sms(phone.as_str())),
    };
    let kind = ChallengeKind::new(Purpose::SignIn, kind);
    challenges::open(conn, deps, user_id, &token.digest(), kind, delivery, now).await?;
    Ok(CodeOutcome::SetUpNext(token))
}

/// F7 (issue 24, item 6): the organizations' allowed methods are a rule, not advice. After the
/// factor active now answered (M13), a method they do not allow is replaced before the sign-in
/// can end — so no signed-in page and no application's code exist before it is: an allowed
/// factor waiting to be set up is set up next; otherwise an authenticator is set up next when
/// allowed; otherwise codes by email (the verified address needs no set-up); otherwise a
/// verified number they accept. With none of these, the sign-in is refused with the rules.
async fn enforce_org_methods(
    conn: &mut Conn,
    deps: &Deps,
    user_id: &str,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<(), LoginError> {
    use crate::mechanisms::mfa::{self, Enrolment};
    use crate::values::factors::MfaMethod;
    let Some((policy, names)) = crate::mechanisms::orgs::rules_for(conn, user_id).await? else {
        return Ok(());
    };
    let user = users::by_id(conn, user_id)
        .await?
        .ok_or(LoginError::WrongStep)?;
    let codes = &deps.settings.sms_country_codes;
    let phone = mfa::verified_phone(conn, user_id).await?;
    if policy.allows_method(user.mfa_method, phone.as_ref(), codes) {
        return Ok(());
    }
    let waiting = mfa::pending(conn, user_id, now)
        .await?
        .is_some_and(|p| match p.enrolment {
            Enrolment::Authenticator => policy.allows_mfa(MfaMethod::Authenticator),
            Enrolment::Phone(n) => policy.allows_method(MfaMethod::Sms, Some(&n), codes),
        });
    if waiting {
        return Ok(());
    }
    if policy.allows_mfa(MfaMethod::Authenticator) {
        mfa::begin_totp(conn, &deps.secret_key, user_id, now)
            .await
            .map_err(|e| match e {
                mfa::MfaError::Store(s) => LoginError::Store(s),
                _ => LoginError::Internal,
            })?;
        return Ok(());
    }
    let to = if policy.allows_mfa(MfaMethod::Email) && user.email_verified {
        MfaMethod::Email
    } else if policy.allows_method(MfaMethod::Sms, phone.as_ref(), codes) {
        MfaMethod::Sms
    } else {
        return Err(LoginError::MethodNotAllowed(policy.mfa_words(&names)));
    };
    users::set_mfa_method(conn, user_id, to, now).await?;
    events::record(conn, Some(user_id), EventKind::MfaChanged, client, now).await?;
    tracing::info!(
        method = to.as_str(),
        "F7: sign-in method changed to one the organizations allow"
    );
    Ok(())
}

/// How the second factor was proved, for the ID token's `amr` (RFC 8176): a code by text
/// message, or a one-time code (emailed, from an authenticator, a recovery code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Amr {
    Sms,
    Otp,
}

impl Amr {
    fn of(factor: Factor) -> Self {
        if factor.by_sms() {
            Self::Sms
        } else {
            Self::Otp
        }
    }
    fn claim(self) -> &'static str {
        match self {
            Self::Sms => "pwd sms mfa",
            Self::Otp => "pwd otp mfa",
        }
    }
}

/// S2: the flow ends signed in, under a new session id.
async fn sign_in(
    conn: &mut Conn,
    deps: &Deps,
    session: &Session,
    user_id: &str,
    amr: Amr,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<Secret, LoginError> {
    let state = SessionState::Authenticated {
        user_id: user_id.to_string(),
        authenticated_at: now,
    };
    let token = sessions::rotate(conn, &session.id_hash, &state, &deps.settings.sessions, now)
        .await?
        .ok_or(LoginError::WrongStep)?;
    sessions::set_pending(conn, &token.digest(), None).await?;
    sessions::mark_signed_in(conn, &token.digest(), amr.claim()).await?;
    events::record(conn, Some(user_id), EventKind::LoginSucceeded, client, now).await?;
    Ok(token)
}

/// Step 3: check the code — emailed (M2, M10), from the authenticator (M3), or the first one of
/// a new authenticator (M4) — with at most five tries per challenge (R3).
pub async fn verify_code(
    deps: &Deps,
    session: &Session,
    code: &str,
    client: &ClientInfo,
) -> Result<CodeOutcome, LoginError> {
    let SessionState::Partial { user_id } = &session.state else {
        return Err(LoginError::WrongStep);
    };
    let crate::mechanisms::challenges::Passed {
        mut tx,
        kind,
        recovery_codes: recovery,
        ..
    } = challenges::attempt(deps, session, user_id, Purpose::SignIn, code, client).await?;
    let now = deps.now();
    let key = deps.secret_key.as_ref();
    let outcome = match (kind.factor, recovery) {
        (Factor::SmsEnrolment, _) => {
            // M9: the number answered: text messages become the method.
            if let Some((phone, _)) = crate::mechanisms::mfa::phone_factor(&mut tx, user_id).await?
            {
                crate::mechanisms::mfa::activate_phone(&mut tx, user_id, &phone, client, now)
                    .await?;
            }
            CodeOutcome::SignedIn(
                sign_in(
                    &mut tx,
                    deps,
                    session,
                    user_id,
                    Amr::of(kind.factor),
                    client,
                    now,
                )
                .await?,
            )
        }
        (_, Some(codes)) => {
            let state = SessionState::ShowingCodes {
                user_id: user_id.clone(),
            };
            let token = sessions::rotate(
                &mut tx,
                &session.id_hash,
                &state,
                &deps.settings.sessions,
                now,
            )
            .await?
            .ok_or(LoginError::WrongStep)?;
            crate::mechanisms::recovery_codes::park(&mut tx, key, &token.digest(), user_id, &codes)
                .await?;
            CodeOutcome::ShowRecoveryCodes(token)
        }
        // M13: the active factor answered; a pending factor comes next, never instead.
        _ => {
            let amr = Amr::of(kind.factor);
            after_first_factor(&mut tx, deps, session, user_id, amr, client, now).await?
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

/// M6: a recovery code instead of the authenticator; single use, counted against the same
/// per-challenge and per-account limits as codes (R3).
pub async fn use_recovery_code(
    deps: &Deps,
    session: &Session,
    code: &str,
    client: &ClientInfo,
) -> Result<CodeOutcome, LoginError> {
    let SessionState::Partial { user_id } = &session.state else {
        return Err(LoginError::WrongStep);
    };
    let now = deps.now();
    let (mut tx, r) =
        challenges::begin_attempt(deps, session, user_id, Purpose::SignIn, now).await?;
    let (id, attempts) = (r.id, r.attempts);
    if r.kind.factor != Factor::Authenticator
        || !crate::mechanisms::recovery_codes::consume(
            &mut tx,
            &deps.secret_key,
            user_id,
            code,
            now,
        )
        .await?
    {
        events::record(&mut tx, Some(user_id), EventKind::MfaFailed, client, now).await?;
        tx.commit().await?;
        let remaining = MAX_CODE_ATTEMPTS - attempts;
        return Err(if remaining > 0 {
            LoginError::WrongRecoveryCode { remaining }
        } else {
            LoginError::Code(ChallengeError::Dead)
        });
    }
    if !challenges::consume(&mut tx, &id, now).await? {
        return Err(LoginError::Code(ChallengeError::Dead));
    }
    events::record(
        &mut tx,
        Some(user_id),
        EventKind::RecoveryCodeUsed,
        client,
        now,
    )
    .await?;
    let outcome =
        after_first_factor(&mut tx, deps, session, user_id, Amr::Otp, client, now).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// The recovery codes waiting on a `ShowingCodes` session.
pub async fn recovery_codes_to_show(
    deps: &Deps,
    session: &Session,
) -> Result<Vec<String>, LoginError> {
    let SessionState::ShowingCodes { user_id } = &session.state else {
        return Ok(Vec::new());
    };
    let mut c = deps.store.read().await?;
    Ok(crate::mechanisms::recovery_codes::parked(
        &mut c,
        &deps.secret_key,
        &session.id_hash,
        user_id,
    )
    .await?)
}

/// "I have saved these codes": the codes leave the session and the person is signed in.
pub async fn acknowledge_recovery_codes(
    deps: &Deps,
    session: &Session,
    client: &ClientInfo,
) -> Result<Secret, LoginError> {
    let SessionState::ShowingCodes { user_id } = &session.state else {
        return Err(LoginError::WrongStep);
    };
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    // The codes follow setting up an authenticator.
    let token = sign_in(&mut tx, deps, session, user_id, Amr::Otp, client, now).await?;
    tx.commit().await?;
    Ok(token)
}

/// R4: a new code for the flow's challenge (email or text message), once per cooldown and
/// within the hourly cap. Attempts already spent stay spent (R3).
pub async fn resend_code(deps: &Deps, session: &Session) -> Result<(), LoginError> {
    if !matches!(session.state, SessionState::Partial { .. }) {
        return Err(LoginError::WrongStep);
    }
    Ok(challenges::resend(deps, session, Purpose::SignIn).await?)
}

pub use crate::values::factors::StepKind;

/// What the MFA step shows: the kind of code, where an emailed code went, when a resend is
/// possible, and during enrolment the authenticator's setup key and otpauth URI (M4).
#[derive(Debug, Clone)]
pub struct CodeStep {
    pub kind: StepKind,
    pub masked_destination: String,
    pub resend_in: i64,
    pub setup_key: String,
    pub otpauth_url: String,
    /// The otpauth URI as an SVG QR code (M4), during enrolment only.
    pub qr_svg: String,
}

pub async fn code_step(deps: &Deps, session: &Session) -> Result<Option<CodeStep>, LoginError> {
    let SessionState::Partial { user_id } = &session.state else {
        return Ok(None);
    };
    let now = deps.now();
    let mut c = deps.store.read().await?;
    let Some(crate::mechanisms::challenges::Challenge {
        kind,
        destination,
        last_sent_at,
        ..
    }) = challenges::live(&mut c, session, Purpose::SignIn, now).await?
    else {
        return Ok(None);
    };
    let mut step = CodeStep {
        kind: kind.factor.step(),
        masked_destination: crate::values::factors::mask(&destination),
        resend_in: (last_sent_at + deps.settings.resend_cooldown_secs - now).max(0),
        setup_key: String::new(),
        otpauth_url: String::new(),
        qr_svg: String::new(),
    };
    if step.kind == StepKind::SetUpAuthenticator {
        let secret = crate::mechanisms::mfa::enrolment_secret(&mut c, &deps.secret_key, user_id)
            .await
            .map_err(challenges::ChallengeError::from)?;
        let account = users::by_id(&mut c, user_id)
            .await?
            .map(|u| u.email.to_string())
            .unwrap_or_default();
        if let Some(secret) = secret {
            step.setup_key = secret.setup_key();
            step.otpauth_url = secret
                .otpauth_url(&account)
                .map_err(|_| LoginError::Internal)?;
            step.qr_svg = crate::mechanisms::totp::qr_svg(&step.otpauth_url)
                .map_err(|_| LoginError::Internal)?;
        }
    }
    Ok(Some(step))
}

/// Where a sign-in flow stands: what the sign-in page shows next.
#[derive(Debug, Clone)]
pub enum Stage {
    Email,
    Password {
        email: String,
    },
    /// A second factor is asked; `None` when the challenge is gone (the page offers a restart).
    Code(Option<CodeStep>),
    /// M6: the new recovery codes, shown once.
    RecoveryCodes(Vec<String>),
    SignedIn,
}

/// The stage of the caller's session; a password-recovery flow is not a sign-in and starts
/// from the email step.
pub async fn stage(deps: &Deps, session: Option<&Session>) -> Result<Stage, LoginError> {
    let Some(s) = session else {
        return Ok(Stage::Email);
    };
    Ok(match &s.state {
        SessionState::Identified { email } => Stage::Password {
            email: email.clone(),
        },
        SessionState::Partial { .. } => Stage::Code(code_step(deps, s).await?),
        SessionState::ShowingCodes { .. } => {
            Stage::RecoveryCodes(recovery_codes_to_show(deps, s).await?)
        }
        SessionState::Authenticated { .. } => Stage::SignedIn,
        SessionState::Recovering { .. } | SessionState::ResetAllowed { .. } => Stage::Email,
    })
}

/// S4: sign-out deletes the server-side session.
/// O9: RP-initiated logout posted from an application's page (no cookie comes with it) ends
/// the SSO session its verified hint names. Whether there was one.
pub async fn sign_out_sid(deps: &Deps, sid: &str, client: &ClientInfo) -> Result<bool, LoginError> {
    let mut c = deps.store.conn().await?;
    let session = sessions::by_sid(&mut c, sid, &deps.settings.sessions, deps.now()).await?;
    drop(c);
    match session {
        Some(s) => sign_out(deps, &s, client).await.map(|()| true),
        None => Ok(false),
    }
}

pub async fn sign_out(
    deps: &Deps,
    session: &Session,
    client: &ClientInfo,
) -> Result<(), LoginError> {
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    if let Some(uid) = session.authenticated_user() {
        // O3: the person's row before anything that references it (no lock upgrade later).
        users::lock(&mut tx, uid).await?;
        events::record(&mut tx, Some(uid), EventKind::SignedOut, client, now).await?;
        // O6: the SSO session ends for every application too.
        deps.end_sso(&mut tx, uid, Ending::Only(&session.id_hash), now)
            .await?;
    }
    sessions::revoke(&mut tx, &session.id_hash).await?;
    tx.commit().await?;
    Ok(())
}
