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

use crate::clock::Timestamp;
use crate::email::Email;
use crate::events::{self, EventKind};
use crate::hashing::HashError;
use crate::messages;
use crate::outbox;
use crate::ratelimit::{self, Limit, RateError};
use crate::secret::{ct_eq, digest, new_code, new_id, Secret};
use crate::service::Deps;
use crate::sessions::{self, ClientInfo, Session, SessionState};
use crate::store::Conn;
use crate::users::{self, User};
use sqlx::Row;

pub const MAX_CODE_ATTEMPTS: i64 = 5;
const OTP_PER_ACCOUNT: Limit = Limit {
    max: 20,
    window_secs: 3600,
};

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
    #[error("Confirm your email address first: we have sent you a new verification link.")]
    NotVerified,
    #[error("Your sign-in has expired. Start again.")]
    WrongStep,
    #[error("Enter the six-digit code from the message.")]
    CodeFormat,
    #[error(transparent)]
    Email(#[from] crate::email::EmailError),
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
        ratelimit::hit(&mut c, &format!("login:ip:{}", client.ip), per_ip, now).await?;
        ratelimit::hit(
            &mut c,
            &format!("login:acct:{}", email.as_str()),
            per_account,
            now,
        )
        .await?;
        match users::by_email(&mut c, &email).await? {
            Some(u) => {
                let r = users::reserve_attempt(&mut c, &u.id, deps.settings.lockout_threshold, now)
                    .await?;
                (Some(u), r)
            }
            None => (None, None),
        }
    };
    let (Some(user), Some(count)) = (user.as_ref(), reserved) else {
        // E3: unknown account, or locked (R1): same cost, same answer.
        deps.hasher.verify_dummy(&password).await?;
        return Err(LoginError::Incorrect);
    };
    let verified = deps.hasher.verify(&password, &user.password_hash).await?;
    if !verified.ok {
        failed_password(deps, user, count, client, now).await?;
        return Err(LoginError::Incorrect);
    }
    let mut tx = deps.store.begin().await?;
    users::reset_failures(&mut tx, &user.id).await?;
    tx.commit().await?;
    if verified.needs_rehash {
        // P5: upgrade the stored hash to the configured parameters.
        if let Ok(phc) = deps.hasher.hash(&password).await {
            let mut c = deps.store.conn().await?;
            users::set_password_hash(&mut c, &user.id, &phc, now).await?;
        }
    }
    if !user.email_verified {
        resend_verification(deps, user, now).await?;
        return Err(LoginError::NotVerified);
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
    send_limit(&mut tx, deps, user.email.as_str(), now).await?;
    let code = new_code();
    sqlx::query(
        "INSERT INTO challenges (id, user_id, session_hash, kind, code_hash, destination, created_at, expires_at, last_sent_at) \
         VALUES ($1, $2, $3, 'login_mfa', $4, $5, $6, $7, $6)",
    )
    .bind(new_id())
    .bind(&user.id)
    .bind(token.digest())
    .bind(code.digest())
    .bind(user.email.as_str())
    .bind(now)
    .bind(now + deps.settings.code_ttl_secs)
    .execute(&mut *tx)
    .await?;
    outbox::enqueue(
        &mut tx,
        &messages::login_code(
            user.email.as_str(),
            code.expose(),
            deps.settings.code_ttl_secs / 60,
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(PasswordOutcome::CodeSent(token))
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
    if count >= deps.settings.lockout_threshold
        && users::lock(&mut tx, &user.id, now + deps.settings.lockout_secs).await?
    {
        // R5: tell the owner once.
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

async fn send_limit(
    conn: &mut Conn,
    deps: &Deps,
    destination: &str,
    now: Timestamp,
) -> Result<(), LoginError> {
    let l = Limit {
        max: deps.settings.sends_per_hour,
        window_secs: 3600,
    };
    ratelimit::hit(conn, &format!("send:email:{destination}"), l, now).await?;
    Ok(())
}

async fn resend_verification(deps: &Deps, user: &User, now: Timestamp) -> Result<(), LoginError> {
    let mut tx = deps.store.begin().await?;
    if send_limit(&mut tx, deps, user.email.as_str(), now)
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

struct Challenge {
    id: String,
    destination: String,
    last_sent_at: Timestamp,
}

async fn live_challenge(
    conn: &mut Conn,
    session: &Session,
    now: Timestamp,
) -> Result<Option<Challenge>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, destination, last_sent_at FROM challenges WHERE session_hash = $1 AND kind = 'login_mfa' \
         AND consumed_at IS NULL AND expires_at > $2 AND attempts < $3 ORDER BY created_at DESC LIMIT 1",
    )
    .bind(&session.id_hash)
    .bind(now)
    .bind(MAX_CODE_ATTEMPTS)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(Challenge {
            id: r.try_get("id")?,
            destination: r.try_get("destination")?,
            last_sent_at: r.try_get("last_sent_at")?,
        })
    })
    .transpose()
}

/// Step 3: check the code (R3, M2, M10); on success the session is authenticated under a new id.
pub async fn verify_code(
    deps: &Deps,
    session: &Session,
    code: &str,
    client: &ClientInfo,
) -> Result<Secret, LoginError> {
    let SessionState::Partial { user_id } = &session.state else {
        return Err(LoginError::WrongStep);
    };
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return Err(LoginError::CodeFormat);
    }
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    ratelimit::hit(
        &mut tx,
        &format!("otp:acct:{user_id}"),
        OTP_PER_ACCOUNT,
        now,
    )
    .await?;
    // R3: reserve one attempt atomically; a dead or expired challenge reserves nothing.
    let row = sqlx::query(
        "UPDATE challenges SET attempts = attempts + 1 WHERE session_hash = $1 AND kind = 'login_mfa' \
         AND consumed_at IS NULL AND expires_at > $2 AND attempts < $3 RETURNING id, code_hash, attempts",
    )
    .bind(&session.id_hash)
    .bind(now)
    .bind(MAX_CODE_ATTEMPTS)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        tx.commit().await?;
        return Err(LoginError::ChallengeDead);
    };
    let (id, stored, attempts): (String, String, i64) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    if !ct_eq(&digest(&code), &stored) {
        events::record(&mut tx, Some(user_id), EventKind::MfaFailed, client, now).await?;
        tx.commit().await?;
        let remaining = MAX_CODE_ATTEMPTS - attempts;
        return Err(if remaining > 0 {
            LoginError::WrongCode { remaining }
        } else {
            LoginError::ChallengeDead
        });
    }
    let consumed =
        sqlx::query("UPDATE challenges SET consumed_at = $2 WHERE id = $1 AND consumed_at IS NULL")
            .bind(&id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    if consumed.rows_affected() != 1 {
        return Err(LoginError::ChallengeDead);
    }
    let state = SessionState::Authenticated {
        user_id: user_id.clone(),
        authenticated_at: now,
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
    events::record(
        &mut tx,
        Some(user_id),
        EventKind::LoginSucceeded,
        client,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// R4: a new code for the same challenge, at most once a minute and within the hourly cap.
/// Attempts already spent stay spent (R3).
pub async fn resend_code(deps: &Deps, session: &Session) -> Result<(), LoginError> {
    if !matches!(session.state, SessionState::Partial { .. }) {
        return Err(LoginError::WrongStep);
    }
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let ch = live_challenge(&mut tx, session, now - deps.settings.code_ttl_secs)
        .await?
        .ok_or(LoginError::ChallengeDead)?;
    let wait = ch.last_sent_at + deps.settings.resend_cooldown_secs - now;
    if wait > 0 {
        return Err(LoginError::Limited { retry_after: wait });
    }
    send_limit(&mut tx, deps, &ch.destination, now).await?;
    let code = new_code();
    sqlx::query(
        "UPDATE challenges SET code_hash = $2, last_sent_at = $3, expires_at = $4 WHERE id = $1",
    )
    .bind(&ch.id)
    .bind(code.digest())
    .bind(now)
    .bind(now + deps.settings.code_ttl_secs)
    .execute(&mut *tx)
    .await?;
    outbox::enqueue(
        &mut tx,
        &messages::login_code(
            &ch.destination,
            code.expose(),
            deps.settings.code_ttl_secs / 60,
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What the MFA step shows: where the code went and when a resend is possible.
#[derive(Debug, Clone)]
pub struct CodeStep {
    pub masked_destination: String,
    pub resend_in: i64,
}

pub async fn code_step(deps: &Deps, session: &Session) -> Result<Option<CodeStep>, LoginError> {
    let now = deps.now();
    let mut c = deps.store.conn().await?;
    let ch = live_challenge(&mut c, session, now).await?;
    Ok(ch.map(|ch| CodeStep {
        masked_destination: Email::parse(&ch.destination)
            .map(|e| e.masked())
            .unwrap_or_default(),
        resend_in: (ch.last_sent_at + deps.settings.resend_cooldown_secs - now).max(0),
    }))
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
