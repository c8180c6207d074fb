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

use crate::challenges::{self, Delivery};
use crate::clock::Timestamp;
use crate::email::Email;
use crate::events::{self, EventKind};
use crate::factors::{ChallengeKind, Factor, Purpose};
use crate::hashing::HashError;
use crate::messages;
use crate::mfa::{ActiveFactor, Enrolment};
use crate::outbox;
use crate::ratelimit::{self, Limit, RateError};
use crate::secret::Secret;
use crate::service::Deps;
use crate::sessions::{self, ClientInfo, Session, SessionState};
use crate::store::Conn;
use crate::users::{self, User};

pub use crate::challenges::MAX_CODE_ATTEMPTS;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("Email or password is incorrect.")]
    Incorrect,
    #[error("That code is not correct. {remaining} attempt(s) left.")]
    WrongCode { remaining: i64 },
    #[error("This code can no longer be used. Start again to get a new one.")]
    ChallengeDead,
    #[error("Too many attempts. Try again in {retry_after} seconds.")]
    Limited { retry_after: i64 },
    #[error("The server is busy. Try again in a moment.")]
    Busy,
    #[error("Your sign-in has expired. Start again.")]
    WrongStep,
    #[error("Enter the six-digit code.")]
    CodeFormat,
    #[error("That code was already used. Wait for the next one.")]
    CodeReplayed,
    #[error("That recovery code is not correct or was already used. {remaining} attempt(s) left.")]
    WrongRecoveryCode { remaining: i64 },
    #[error(transparent)]
    Email(#[from] crate::email::EmailError),
    #[error("For your safety, confirm it is you first.")]
    ReauthRequired,
    #[error(transparent)]
    Phone(#[from] crate::phone::PhoneError),
    #[error("Recovery codes come with an authenticator app. Choose it as your method first.")]
    NoAuthenticator,
    #[error("internal error")]
    Internal,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl From<RateError> for LoginError {
    fn from(e: RateError) -> Self {
        match e {
            RateError::Limited(l) => LoginError::Limited {
                retry_after: l.retry_after,
            },
            RateError::Store(s) => LoginError::Store(s),
        }
    }
}

impl From<HashError> for LoginError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => LoginError::Busy,
            HashError::Internal => LoginError::Internal,
        }
    }
}

/// Step 1 (E2): remember the email in a fresh flow session; never says whether it exists.
pub async fn submit_email(
    deps: &Deps,
    current: Option<&Session>,
    email: &str,
    client: &ClientInfo,
) -> Result<Secret, LoginError> {
    let email = Email::parse(email)?;
    let now = deps.now();
    let state = SessionState::Identified {
        email: email.to_string(),
    };
    let mut c = deps.store.conn().await?;
    if let Some(s) = current {
        if let Some(t) =
            sessions::rotate(&mut c, &s.id_hash, &state, &deps.settings.sessions, now).await?
        {
            return Ok(t);
        }
    }
    Ok(sessions::create(&mut c, &state, client, &deps.settings.sessions, now).await?)
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
    let password = crate::password::PasswordPolicy::normalize(password);
    let user = check_password(deps, &email, &password, client, now).await?;
    let user = &user;
    if !user.email_verified {
        // E1: the same answer as a wrong password. Otherwise "register X, then sign in with the
        // password just chosen" would tell a new address (unverified) from a taken one. The
        // owner finds a fresh verification link in their mail; the message says to look there.
        resend_verification(deps, user, now).await?;
        return Err(LoginError::Incorrect);
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
    let factor = crate::mfa::active_factor(&mut tx, &user.id, user.mfa_method).await?;
    let (kind, delivery) = first_challenge(Purpose::SignIn, &factor, user.email.as_str());
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

/// The challenge kind and delivery for the factor active now; shared by the sign-in and
/// re-authentication (S5), so both ask for the same thing.
pub(crate) fn first_challenge<'a>(
    purpose: Purpose,
    factor: &'a ActiveFactor,
    email: &'a str,
) -> (ChallengeKind, Delivery<'a>) {
    let (source, delivery) = match factor {
        ActiveFactor::Authenticator => (Factor::Authenticator, Delivery::None),
        ActiveFactor::Sms(p) => (Factor::Sms, Delivery::Sms(p.as_str())),
        ActiveFactor::Email => (Factor::Email, Delivery::Email(email)),
    };
    (ChallengeKind::new(purpose, source), delivery)
}

/// R1, R2, E3, P5: checks a password for `email` — rate windows, the atomic failure counter,
/// the same cost for unknown or locked accounts, a rehash when parameters changed. Used by the
/// sign-in password step and by re-authentication (S5).
pub(crate) async fn check_password(
    deps: &Deps,
    email: &Email,
    password: &str,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<User, LoginError> {
    let (user, reserved) = {
        let mut c = deps.store.conn().await?;
        // R2: per client IP and per account, limits from the configuration.
        let per_ip = Limit {
            max: deps.settings.login_per_ip_per_minute,
            window_secs: 60,
        };
        let per_account = Limit {
            max: deps.settings.login_per_account_per_hour,
            window_secs: 3600,
        };
        ratelimit::hit(
            &mut c,
            &format!("login:ip:{}", client.rate_key()),
            per_ip,
            now,
        )
        .await?;
        ratelimit::hit(
            &mut c,
            &format!("login:acct:{}", email.as_str()),
            per_account,
            now,
        )
        .await?;
        match users::by_email(&mut c, email).await? {
            Some(u) => {
                let limit = deps.settings.lockout_threshold;
                let lock_until = now + deps.settings.lockout_secs;
                let r = users::reserve_attempt(&mut c, &u.id, limit, lock_until, now).await?;
                let slot = r.map(|count| Slot::new(deps, &u.id, count));
                (Some(u), slot)
            }
            None => (None, None),
        }
    };
    let (Some(user), Some(slot)) = (user, reserved) else {
        // E3: unknown account, or locked (R1): same cost, same answer.
        deps.hasher.verify_dummy(password).await?;
        return Err(LoginError::Incorrect);
    };
    let verified = match deps.hasher.verify(password, &user.password_hash).await {
        Ok(v) => v,
        Err(e) => {
            // R6: no verdict (the pool is busy, or failed): the attempt is given back.
            slot.give_back().await?;
            return Err(e.into());
        }
    };
    if !verified.ok {
        failed_password(deps, &user, slot.count, client, now).await?;
        slot.counted();
        return Err(LoginError::Incorrect);
    }
    let mut tx = deps.store.begin().await?;
    users::reset_failures(&mut tx, &user.id).await?;
    tx.commit().await?;
    slot.counted();
    if verified.needs_rehash {
        // P5: upgrade the stored hash to the configured parameters.
        if let Ok(phc) = deps.hasher.hash(password).await {
            let mut c = deps.store.conn().await?;
            users::set_password_hash(&mut c, &user.id, &phc, now).await?;
        }
    }
    Ok(user)
}

/// R6: one reserved password check. A verdict keeps it ([`Slot::counted`]); every other end —
/// an error, the pool busy, or the request dropped halfway (the future cancelled) — gives it
/// back, the last one from a task spawned when the slot is dropped.
struct Slot {
    store: crate::store::Store,
    user_id: String,
    count: i64,
    limit: i64,
    armed: bool,
}

impl Slot {
    fn new(deps: &Deps, user_id: &str, count: i64) -> Self {
        Self {
            store: deps.store.clone(),
            user_id: user_id.to_string(),
            count,
            limit: deps.settings.lockout_threshold,
            armed: true,
        }
    }

    /// A verdict was recorded: the reservation stands (a failure) or was reset (a success).
    fn counted(mut self) {
        self.armed = false;
    }

    async fn give_back(mut self) -> Result<(), sqlx::Error> {
        self.armed = false;
        release(&self.store, &self.user_id, self.count, self.limit).await
    }
}

async fn release(
    store: &crate::store::Store,
    user_id: &str,
    count: i64,
    limit: i64,
) -> Result<(), sqlx::Error> {
    let mut c = store.conn().await?;
    users::release_attempt(&mut c, user_id, count, limit).await
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (store, id, count, limit) = (
            self.store.clone(),
            std::mem::take(&mut self.user_id),
            self.count,
            self.limit,
        );
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = release(&store, &id, count, limit).await {
                    tracing::error!(error = %e, "could not give back a password attempt (R6)");
                }
            });
        }
    }
}

async fn failed_password(
    deps: &Deps,
    user: &User,
    count: i64,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<(), LoginError> {
    let mut tx = deps.store.begin().await?;
    events::record(&mut tx, Some(&user.id), EventKind::LoginFailed, client, now).await?;
    // R5: the reservation that reached the limit set the lock (R6); its failure tells the
    // owner, once.
    if count == deps.settings.lockout_threshold {
        events::record(
            &mut tx,
            Some(&user.id),
            EventKind::AccountLocked,
            client,
            now,
        )
        .await?;
        let m = messages::account_locked(
            user.email.as_str(),
            deps.settings.lockout_secs / 60,
            &deps.link("/login"),
        );
        outbox::enqueue(&mut tx, &m, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn resend_verification(deps: &Deps, user: &User, now: Timestamp) -> Result<(), LoginError> {
    let mut tx = deps.store.begin().await?;
    if challenges::send_limit(&mut tx, deps, "verify", "email", user.email.as_str(), now)
        .await
        .is_err()
    {
        return Ok(());
    }
    crate::accounts::queue_verification(
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
    client: &ClientInfo,
    now: Timestamp,
) -> Result<CodeOutcome, LoginError> {
    let Some(p) = crate::mfa::pending(conn, user_id, now).await? else {
        return Ok(CodeOutcome::SignedIn(
            sign_in(conn, deps, session, user_id, client, now).await?,
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

/// S2: the flow ends signed in, under a new session id.
async fn sign_in(
    conn: &mut Conn,
    deps: &Deps,
    session: &Session,
    user_id: &str,
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
    let crate::challenges::Passed {
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
            if let Some((phone, _)) = crate::mfa::phone_factor(&mut tx, user_id).await? {
                crate::mfa::activate_phone(&mut tx, user_id, &phone, client, now).await?;
            }
            CodeOutcome::SignedIn(sign_in(&mut tx, deps, session, user_id, client, now).await?)
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
            park_codes(&mut tx, key, &token.digest(), user_id, &codes).await?;
            CodeOutcome::ShowRecoveryCodes(token)
        }
        // M13: the active factor answered; a pending factor comes next, never instead.
        _ => after_first_factor(&mut tx, deps, session, user_id, client, now).await?,
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
        || !crate::recovery_codes::consume(&mut tx, &deps.secret_key, user_id, code, now).await?
    {
        events::record(&mut tx, Some(user_id), EventKind::MfaFailed, client, now).await?;
        tx.commit().await?;
        let remaining = MAX_CODE_ATTEMPTS - attempts;
        return Err(if remaining > 0 {
            LoginError::WrongRecoveryCode { remaining }
        } else {
            LoginError::ChallengeDead
        });
    }
    if !challenges::consume(&mut tx, &id, now).await? {
        return Err(LoginError::ChallengeDead);
    }
    events::record(
        &mut tx,
        Some(user_id),
        EventKind::RecoveryCodeUsed,
        client,
        now,
    )
    .await?;
    let outcome = after_first_factor(&mut tx, deps, session, user_id, client, now).await?;
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
    let mut c = deps.store.conn().await?;
    parked_codes(&mut c, &deps.secret_key, &session.id_hash, user_id).await
}

/// M6: new recovery codes wait on the session, sealed with the instance key (bound to the
/// user), until the person says they saved them.
pub(crate) async fn park_codes(
    conn: &mut Conn,
    key: &crate::crypto::SecretKey,
    session_hash: &str,
    user_id: &str,
    codes: &[String],
) -> Result<(), LoginError> {
    let sealed = key
        .seal(codes.join("\n").as_bytes(), user_id)
        .map_err(|_| LoginError::Internal)?;
    sessions::set_pending(conn, session_hash, Some(&sealed)).await?;
    Ok(())
}

/// The recovery codes parked on a session by [`park_codes`], if any.
pub(crate) async fn parked_codes(
    conn: &mut Conn,
    key: &crate::crypto::SecretKey,
    session_hash: &str,
    user_id: &str,
) -> Result<Vec<String>, LoginError> {
    let Some(sealed) = sessions::pending(conn, session_hash).await? else {
        return Ok(Vec::new());
    };
    let plain = key
        .open(&sealed, user_id)
        .map_err(|_| LoginError::Internal)?;
    Ok(String::from_utf8_lossy(&plain)
        .lines()
        .map(str::to_string)
        .collect())
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
    let token = sign_in(&mut tx, deps, session, user_id, client, now).await?;
    tx.commit().await?;
    Ok(token)
}

/// R4: a new code for the flow's challenge (email or text message), once per cooldown and
/// within the hourly cap. Attempts already spent stay spent (R3).
pub async fn resend_code(deps: &Deps, session: &Session) -> Result<(), LoginError> {
    if !matches!(session.state, SessionState::Partial { .. }) {
        return Err(LoginError::WrongStep);
    }
    challenges::resend(deps, session, Purpose::SignIn).await
}

pub use crate::factors::StepKind;

/// What the MFA step shows: the kind of code, where an emailed code went, when a resend is
/// possible, and during enrolment the authenticator's setup key and otpauth URI (M4).
#[derive(Debug, Clone)]
pub struct CodeStep {
    pub kind: StepKind,
    pub masked_destination: String,
    pub resend_in: i64,
    pub setup_key: String,
    pub otpauth_url: String,
}

pub async fn code_step(deps: &Deps, session: &Session) -> Result<Option<CodeStep>, LoginError> {
    let SessionState::Partial { user_id } = &session.state else {
        return Ok(None);
    };
    let now = deps.now();
    let mut c = deps.store.conn().await?;
    let Some(crate::challenges::Challenge {
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
        masked_destination: mask(&destination),
        resend_in: (last_sent_at + deps.settings.resend_cooldown_secs - now).max(0),
        setup_key: String::new(),
        otpauth_url: String::new(),
    };
    if step.kind == StepKind::SetUpAuthenticator {
        let secret = crate::mfa::enrolment_secret(&mut c, &deps.secret_key, user_id)
            .await
            .map_err(crate::challenges::mfa_error)?;
        let account = users::by_id(&mut c, user_id)
            .await?
            .map(|u| u.email.to_string())
            .unwrap_or_default();
        if let Some(secret) = secret {
            step.setup_key = secret.setup_key();
            step.otpauth_url = secret
                .otpauth_url(&account)
                .map_err(|_| LoginError::Internal)?;
        }
    }
    Ok(Some(step))
}

/// An email or phone destination as shown on screen.
pub fn mask(destination: &str) -> String {
    if let Ok(p) = crate::phone::Phone::parse(destination) {
        return p.masked();
    }
    Email::parse(destination)
        .map(|e| e.masked())
        .unwrap_or_default()
}

/// S4: sign-out deletes the server-side session.
pub async fn sign_out(
    deps: &Deps,
    session: &Session,
    client: &ClientInfo,
) -> Result<(), LoginError> {
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    if let Some(uid) = session.authenticated_user() {
        events::record(&mut tx, Some(uid), EventKind::SignedOut, client, now).await?;
    }
    sessions::revoke(&mut tx, &session.id_hash).await?;
    tx.commit().await?;
    Ok(())
}
