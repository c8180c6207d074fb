//! Password checks for every flow that asks for the password (sign-in, re-authentication S5,
//! the password change): one routine, so each rule holds everywhere it is asked.
//!
//! - R2: per-IP and per-account windows before any work is done.
//! - R1/R6: the attempt is reserved atomically before argon2 runs (`users::reserve_attempt`);
//!   a verdict keeps it, anything else (busy pool, error, a cancelled request) gives it back.
//! - R5: the failure that reaches the threshold locks the account and tells the owner once.
//! - E3: unknown and locked accounts cost one argon2 verification too and get the same answer.
//! - P5: a correct password stored with old parameters is rehashed.

use crate::mechanisms::events::{self, EventKind};
use crate::mechanisms::hashing::HashError;
use crate::mechanisms::messages;
use crate::mechanisms::outbox;
use crate::mechanisms::ratelimit::{self, Limit};
use crate::mechanisms::service::Deps;
use crate::mechanisms::sessions::ClientInfo;
use crate::mechanisms::users::{self, User};
use crate::values::clock::Timestamp;
use crate::values::email::Email;
use crate::values::failure::{Refusal, Shown};

/// Why a password check gave no user.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// Wrong password, unknown account or locked account: one answer (E2, E3).
    #[error("Email or password is incorrect.")]
    Incorrect,
    #[error("Too many attempts. Try again in {retry_after} seconds.")]
    Limited { retry_after: i64 },
    /// P6: the hashing pool is full.
    #[error("The server is busy. Try again in a moment.")]
    Busy,
    #[error("internal error")]
    Internal,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl Refusal for CredentialError {
    fn shown(&self) -> Shown {
        match self {
            Self::Incorrect | Self::Limited { .. } => Shown::Field,
            Self::Busy => Shown::Busy,
            Self::Internal => Shown::Internal,
            Self::Store(e) => crate::store::shown(e),
        }
    }
}

crate::mechanisms::ratelimit::from_rate_error!(CredentialError);

impl From<HashError> for CredentialError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => Self::Busy,
            HashError::Internal => Self::Internal,
        }
    }
}

/// R1, R2, E3, P5: checks a password for `email` — rate windows, the atomic failure counter,
/// the same cost for unknown or locked accounts, a rehash when parameters changed. Used by the
/// sign-in password step and by re-authentication (S5).
pub async fn check_password(
    deps: &Deps,
    email: &Email,
    password: &str,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<User, CredentialError> {
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
        return Err(CredentialError::Incorrect);
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
        return Err(CredentialError::Incorrect);
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
) -> Result<(), CredentialError> {
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
