//! One-time-code challenges, shared by sign-in, re-authentication and phone verification.
//!
//! - M2: a challenge is bound to one session (one flow) and one user, expires, and is consumed
//!   once; a new challenge on a session kills the older ones (one live challenge per session).
//! - R3: five wrong codes kill a challenge; an hourly per-account window covers every code
//!   endpoint (sign-in, enrolment, recovery codes, re-auth, phone verification).
//! - R4: every send counts against an hourly cap per destination; resend waits a cooldown.
//! - R6: the caps (sends per destination, codes per account) are per purpose: notices and
//!   recovery never starve sign-in codes. Prefixes are compared as exact leading text (a `_` in
//!   a `LIKE` pattern would match any character).
//! - M10: sent codes are stored and compared as SHA-256 digests in constant time.
//!
//! A kind is a [`Purpose`] × [`Factor`] ([`ChallengeKind`]) and every caller looks only at
//! challenges of its own purpose, so a code asked for one purpose can never finish another.

use crate::mechanisms::events::{self, EventKind};
use crate::mechanisms::messages;
use crate::mechanisms::mfa::ActiveFactor;
use crate::mechanisms::outbox;
use crate::mechanisms::ratelimit::{self, Limit};
use crate::mechanisms::secret::{ct_eq, digest, new_id};
use crate::mechanisms::service::Deps;
use crate::mechanisms::sessions::{ClientInfo, Session};
use crate::store::{Conn, Tx};
use crate::values::clock::Timestamp;
use crate::values::factors::{ChallengeKind, Factor, Purpose};
use crate::values::failure::{Refusal, Shown};
use sqlx::Row;

pub const MAX_CODE_ATTEMPTS: i64 = 5;
const OTP_PER_ACCOUNT: Limit = Limit {
    max: 20,
    window_secs: 3600,
};

/// Why a code was not accepted, or no code could be sent.
#[derive(Debug, thiserror::Error)]
pub enum ChallengeError {
    #[error("That code is not correct. {remaining} attempt(s) left.")]
    WrongCode { remaining: i64 },
    /// M2/R3: expired, used, replaced, or out of attempts.
    #[error("This code can no longer be used. Start again to get a new one.")]
    Dead,
    #[error("Too many attempts. Try again in {retry_after} seconds.")]
    Limited { retry_after: i64 },
    #[error("Enter the six-digit code.")]
    Format,
    /// M3: this authenticator code (or a later one) was already used.
    #[error("That code was already used. Wait for the next one.")]
    Replayed,
    #[error("internal error")]
    Internal,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl Refusal for ChallengeError {
    fn shown(&self) -> Shown {
        match self {
            Self::WrongCode { .. } | Self::Limited { .. } | Self::Format | Self::Replayed => {
                Shown::Field
            }
            Self::Dead => Shown::Form,
            Self::Internal => Shown::Internal,
            Self::Store(e) => crate::store::shown(e),
        }
    }
}

crate::mechanisms::ratelimit::from_rate_error!(ChallengeError);

impl From<crate::mechanisms::mfa::MfaError> for ChallengeError {
    fn from(e: crate::mechanisms::mfa::MfaError) -> Self {
        use crate::mechanisms::mfa::MfaError;
        match e {
            MfaError::Code(crate::mechanisms::totp::TotpError::Replayed) => Self::Replayed,
            MfaError::Store(s) => Self::Store(s),
            MfaError::Code(_) | MfaError::NotEnrolling | MfaError::Crypto(_) => Self::Internal,
        }
    }
}

/// Where the code of a new challenge goes.
#[derive(Debug, Clone, Copy)]
pub enum Delivery<'a> {
    /// Nothing is sent: the code comes from an authenticator app.
    None,
    Email(&'a str),
    Sms(&'a str),
}

#[derive(Debug, Clone)]
pub struct Challenge {
    pub id: String,
    pub kind: ChallengeKind,
    pub destination: String,
    pub last_sent_at: Timestamp,
}

/// A stored kind read back; text outside the table (never written by this code) is a fault.
fn stored_kind(text: &str) -> Result<ChallengeKind, sqlx::Error> {
    ChallengeKind::parse(text)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown challenge kind {text:?}").into()))
}

/// The challenge kind and delivery for the factor active now; shared by the sign-in and
/// re-authentication (S5), so both ask for the same thing.
pub fn first_for<'a>(
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

/// R4/R6: one more send of `purpose` to `destination` this hour. Every purpose has its own
/// budget, so a stranger who triggers recovery texts or verification mails can never use up the
/// budget of the owner's sign-in codes.
pub(crate) async fn send_limit(
    conn: &mut Conn,
    deps: &Deps,
    purpose: &str,
    channel: &str,
    destination: &str,
    now: Timestamp,
) -> Result<(), ChallengeError> {
    let l = Limit {
        max: deps.settings.sends_per_hour,
        window_secs: 3600,
    };
    ratelimit::hit(
        conn,
        &format!("send:{purpose}:{channel}:{destination}"),
        l,
        now,
    )
    .await?;
    Ok(())
}

/// R4/R6: notices that anyone can trigger (such as "someone tried to register with your
/// address") reach one address at most once an hour; later ones in that hour are coalesced into
/// the one already sent. `true` when this one goes out.
pub(crate) async fn notice_allowed(
    conn: &mut Conn,
    what: &str,
    destination: &str,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let once_an_hour = Limit {
        max: 1,
        window_secs: 3600,
    };
    let key = format!("notice:{what}:{destination}");
    ratelimit::within(conn, &key, once_an_hour, now).await
}

/// Queues `code` to the destination (R4 counted against the budget of the kind's purpose). Run
/// inside the caller's transaction.
async fn send_code(
    conn: &mut Conn,
    deps: &Deps,
    kind: ChallengeKind,
    delivery: Delivery<'_>,
    code: &str,
    now: Timestamp,
) -> Result<(), ChallengeError> {
    let ttl = deps.settings.code_ttl_secs / 60;
    let purpose = kind.purpose.budget();
    let message = match delivery {
        Delivery::None => return Ok(()),
        Delivery::Email(to) => {
            send_limit(conn, deps, purpose, "email", to, now).await?;
            messages::login_code(to, code, ttl)
        }
        Delivery::Sms(to) => {
            send_limit(conn, deps, purpose, "sms", to, now).await?;
            messages::sms_code(to, code, ttl)
        }
    };
    outbox::enqueue(conn, &message, now).await?;
    crate::mechanisms::tally::code_sent(message.channel);
    Ok(())
}

/// M2: opens a challenge of `kind` on the session, sending a fresh code unless it comes from an
/// app. Older live challenges of the session die.
pub async fn open(
    conn: &mut Conn,
    deps: &Deps,
    user_id: &str,
    session_hash: &str,
    kind: ChallengeKind,
    delivery: Delivery<'_>,
    now: Timestamp,
) -> Result<(), ChallengeError> {
    sqlx::query(
        "UPDATE challenges SET consumed_at = $2 WHERE session_hash = $1 AND consumed_at IS NULL",
    )
    .bind(session_hash)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let (code_hash, destination) = match delivery {
        Delivery::None => (String::new(), ""),
        Delivery::Email(to) | Delivery::Sms(to) => {
            let code = deps.random.code();
            send_code(conn, deps, kind, delivery, code.expose(), now).await?;
            (code.digest(), to)
        }
    };
    sqlx::query(
        "INSERT INTO challenges (id, user_id, session_hash, kind, code_hash, destination, created_at, expires_at, last_sent_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7)",
    )
    .bind(new_id())
    .bind(user_id)
    .bind(session_hash)
    .bind(kind.as_str())
    .bind(code_hash)
    .bind(destination)
    .bind(now)
    .bind(now + deps.settings.code_ttl_secs)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The session's live challenge of `purpose`.
pub async fn live(
    conn: &mut Conn,
    session: &Session,
    purpose: Purpose,
    now: Timestamp,
) -> Result<Option<Challenge>, sqlx::Error> {
    let prefix = purpose.prefix();
    let row = sqlx::query(
        "SELECT id, kind, destination, last_sent_at FROM challenges WHERE session_hash = $1 \
         AND consumed_at IS NULL AND expires_at > $2 AND attempts < $3 AND substr(kind, 1, CAST($5 AS INTEGER)) = $4 \
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(&session.id_hash)
    .bind(now)
    .bind(MAX_CODE_ATTEMPTS)
    .bind(prefix)
    .bind(prefix.len() as i64)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(Challenge {
            id: r.try_get("id")?,
            kind: stored_kind(r.try_get("kind")?)?,
            destination: r.try_get("destination")?,
            last_sent_at: r.try_get("last_sent_at")?,
        })
    })
    .transpose()
}

/// Where the session's live code of `purpose` went, masked for the page ("We sent a code to
/// +•••0200"); `None` when there is none.
pub async fn waiting_at(
    conn: &mut Conn,
    session: &Session,
    purpose: Purpose,
    now: Timestamp,
) -> Result<Option<String>, sqlx::Error> {
    Ok(live(conn, session, purpose, now)
        .await?
        .map(|ch| crate::values::factors::mask(&ch.destination)))
}

/// R4: a new code for the live challenge of `purpose`, at most once per cooldown and within
/// the hourly cap. Attempts already spent stay spent (R3).
pub async fn resend(
    deps: &Deps,
    session: &Session,
    purpose: Purpose,
) -> Result<(), ChallengeError> {
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let ch = live(&mut tx, session, purpose, now - deps.settings.code_ttl_secs)
        .await?
        .filter(|ch| !ch.destination.is_empty())
        .ok_or(ChallengeError::Dead)?;
    let wait = ch.last_sent_at + deps.settings.resend_cooldown_secs - now;
    if wait > 0 {
        return Err(ChallengeError::Limited { retry_after: wait });
    }
    let code = deps.random.code();
    let delivery = if ch.kind.factor.by_sms() {
        Delivery::Sms(&ch.destination)
    } else {
        Delivery::Email(&ch.destination)
    };
    send_code(&mut tx, deps, ch.kind, delivery, code.expose(), now).await?;
    sqlx::query(
        "UPDATE challenges SET code_hash = $2, last_sent_at = $3, expires_at = $4 WHERE id = $1",
    )
    .bind(&ch.id)
    .bind(code.digest())
    .bind(now)
    .bind(now + deps.settings.code_ttl_secs)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One attempt reserved on a live challenge.
pub struct Reserved {
    pub id: String,
    pub kind: ChallengeKind,
    pub code_hash: String,
    pub destination: String,
    /// Attempts spent including this one.
    pub attempts: i64,
}

/// R3: opens the transaction of one code attempt: the per-account window, then one attempt on
/// the session's live challenge of `purpose`. A dead challenge ends here (counters stay counted).
pub async fn begin_attempt(
    deps: &Deps,
    session: &Session,
    user_id: &str,
    purpose: Purpose,
    now: Timestamp,
) -> Result<(Tx, Reserved), ChallengeError> {
    let prefix = purpose.prefix();
    let mut tx = deps.store.begin().await?;
    ratelimit::hit(
        &mut tx,
        // R6: per purpose, so wrong recovery codes never block sign-in codes.
        &format!("otp:{}:acct:{user_id}", purpose.budget()),
        OTP_PER_ACCOUNT,
        now,
    )
    .await?;
    let row = sqlx::query(
        "UPDATE challenges SET attempts = attempts + 1 WHERE session_hash = $1 \
         AND consumed_at IS NULL AND expires_at > $2 AND attempts < $3 AND substr(kind, 1, CAST($5 AS INTEGER)) = $4 \
         RETURNING id, kind, code_hash, attempts, destination",
    )
    .bind(&session.id_hash)
    .bind(now)
    .bind(MAX_CODE_ATTEMPTS)
    .bind(prefix)
    .bind(prefix.len() as i64)
    .fetch_optional(&mut *tx)
    .await?;
    match row {
        Some(r) => {
            let reserved = Reserved {
                id: r.try_get(0)?,
                kind: stored_kind(r.try_get(1)?)?,
                code_hash: r.try_get(2)?,
                attempts: r.try_get(3)?,
                destination: r.try_get(4)?,
            };
            Ok((tx, reserved))
        }
        None => {
            tx.commit().await?;
            Err(ChallengeError::Dead)
        }
    }
}

/// Single use: marks the challenge consumed; `false` when another request got there first.
pub async fn consume(
    conn: &mut Conn,
    challenge_id: &str,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let r =
        sqlx::query("UPDATE challenges SET consumed_at = $2 WHERE id = $1 AND consumed_at IS NULL")
            .bind(challenge_id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    Ok(r.rows_affected() == 1)
}

/// What a person typed as a six-digit code, without spaces; `CodeFormat` otherwise.
pub fn six_digits(code: &str) -> Result<String, ChallengeError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()) {
        Ok(code)
    } else {
        Err(ChallengeError::Format)
    }
}

/// A code that passed: the open transaction (commit it after the follow-up), the challenge's
/// kind, and — when it activated an authenticator — the recovery codes to show once (M6).
pub struct Passed {
    pub tx: Tx,
    pub kind: ChallengeKind,
    /// Where the code was sent (empty for app codes).
    pub destination: String,
    pub recovery_codes: Option<Vec<String>>,
}

/// Checks `code` against the session's live challenge of `purpose`: sent codes as digests
/// (M10), authenticator codes with replay refusal (M3), the first code of a new authenticator
/// (M4). A wrong code is recorded and counted (R3); a right one consumes the challenge (M2).
pub async fn attempt(
    deps: &Deps,
    session: &Session,
    user_id: &str,
    purpose: Purpose,
    code: &str,
    client: &ClientInfo,
) -> Result<Passed, ChallengeError> {
    let code = six_digits(code)?;
    let now = deps.now();
    let (mut tx, r) = begin_attempt(deps, session, user_id, purpose, now).await?;
    let key = deps.secret_key.as_ref();
    // A wrong or replayed code is counted (R3); a fault is not the person's mistake.
    let checked: Result<Option<Vec<String>>, Refused> = match r.kind.factor {
        Factor::Authenticator => {
            crate::mechanisms::mfa::verify_totp(&mut tx, key, user_id, &code, now)
                .await
                .map(|()| None)
                .map_err(Refused::from)
        }
        Factor::AuthenticatorEnrolment => {
            crate::mechanisms::mfa::confirm_totp(&mut tx, key, user_id, &code, client, now)
                .await
                .map(Some)
                .map_err(Refused::from)
        }
        Factor::Email | Factor::Sms | Factor::SmsEnrolment
            if !r.code_hash.is_empty() && ct_eq(&digest(&code), &r.code_hash) =>
        {
            Ok(None)
        }
        Factor::Email | Factor::Sms | Factor::SmsEnrolment => Err(Refused::Wrong),
    };
    let recovery_codes = match checked {
        Ok(codes) => codes,
        Err(e) => {
            events::record(&mut tx, Some(user_id), EventKind::MfaFailed, client, now).await?;
            tx.commit().await?;
            let remaining = MAX_CODE_ATTEMPTS - r.attempts;
            return Err(match e {
                Refused::Fault(f) => f,
                _ if remaining <= 0 => ChallengeError::Dead,
                Refused::Replayed => ChallengeError::Replayed,
                Refused::Wrong => ChallengeError::WrongCode { remaining },
            });
        }
    };
    if !consume(&mut tx, &r.id, now).await? {
        return Err(ChallengeError::Dead);
    }
    crate::mechanisms::tally::code_accepted(r.kind);
    Ok(Passed {
        tx,
        kind: r.kind,
        destination: r.destination,
        recovery_codes,
    })
}

/// How one code attempt failed, before the attempts left decide what the person is told.
enum Refused {
    Wrong,
    Replayed,
    Fault(ChallengeError),
}

impl From<crate::mechanisms::mfa::MfaError> for Refused {
    fn from(e: crate::mechanisms::mfa::MfaError) -> Self {
        use crate::mechanisms::mfa::MfaError;
        match e {
            MfaError::Code(crate::mechanisms::totp::TotpError::Replayed) => Refused::Replayed,
            MfaError::Code(_) => Refused::Wrong,
            e => Refused::Fault(e.into()),
        }
    }
}
