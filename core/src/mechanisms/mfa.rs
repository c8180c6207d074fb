//! Second factors beyond email codes: the authenticator app and support resets.
//!
//! - M4: enrolment stores a fresh secret sealed with the instance key and leaves it unconfirmed;
//!   only a valid code confirms it, switches the method and issues recovery codes (M6).
//! - M3: every accepted code records its time step with a conditional `UPDATE`, so the same
//!   code (or an older one) is refused afterwards, even by a second server instance.
//! - M8: support can reset an account to email codes; the secret and recovery codes go, the event
//!   is recorded and the owner is told.
//!
//! - M9: a phone is a factor row of kind 'phone' (M12); it counts only once a code sent to it
//!   came back, and only then can text messages become the method.
//!
//! The sign-in flow (`login`) and the Security tab (`security`) call these.

use crate::mechanisms::crypto::{CryptoError, SecretKey};
use crate::mechanisms::events::{self, EventKind};
use crate::mechanisms::messages;
use crate::mechanisms::outbox;
use crate::mechanisms::recovery_codes;
use crate::mechanisms::secret::new_id;
use crate::mechanisms::sessions::ClientInfo;
use crate::mechanisms::totp::{self, TotpError, TotpSecret};
use crate::mechanisms::users::{self, MfaMethod};
use crate::store::Conn;
use crate::values::clock::Timestamp;
use crate::values::phone::Phone;
use sqlx::Row;

#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    #[error(transparent)]
    Code(#[from] TotpError),
    #[error("No authenticator is being set up for this account.")]
    NotEnrolling,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

struct Factor {
    id: String,
    secret: TotpSecret,
    confirmed: bool,
    last_used_step: Option<i64>,
}

async fn totp_factor(
    conn: &mut Conn,
    key: &SecretKey,
    user_id: &str,
) -> Result<Option<Factor>, MfaError> {
    let row = sqlx::query("SELECT id, secret_sealed, confirmed_at, last_used_step FROM mfa_factors WHERE user_id = $1 AND kind = 'totp'")
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(r) = row else { return Ok(None) };
    let sealed: Option<String> = r.try_get("secret_sealed")?;
    let secret = TotpSecret::from_bytes(key.open(sealed.as_deref().unwrap_or_default(), user_id)?);
    Ok(Some(Factor {
        id: r.try_get("id")?,
        secret,
        confirmed: r.try_get::<Option<i64>, _>("confirmed_at")?.is_some(),
        last_used_step: r.try_get("last_used_step")?,
    }))
}

/// M13: how long a factor chosen at registration or on the Security tab waits to be set up at
/// a sign-in; after that it is ignored (and swept).
pub const ENROLMENT_TTL_SECS: i64 = 7 * 86_400;

/// The second factor that is active now: the one a sign-in (and a re-authentication) asks for
/// first. A pending factor is never in this list (M13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActiveFactor {
    Email,
    Authenticator,
    /// A code by text message to this verified number.
    Sms(Phone),
}

/// M13: a factor waiting to be bound. It is set up only after a code from the active factor
/// came back, never instead of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enrolment {
    /// An authenticator app: QR code, then its first code (M4).
    Authenticator,
    /// A number given at registration: verified by a code sent to it (M9).
    Phone(Phone),
}

/// A pending enrolment and when it stops counting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub enrolment: Enrolment,
    pub expires_at: Timestamp,
}

/// A phone factor: the number and whether a code sent to it was ever entered (M9). Whether an
/// unverified number is still a fresh enrolment is [`pending`]'s question (M13).
pub async fn phone_factor(
    conn: &mut Conn,
    user_id: &str,
) -> Result<Option<(Phone, bool)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT phone, confirmed_at FROM mfa_factors WHERE user_id = $1 AND kind = 'phone'",
    )
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let phone: Option<String> = r.try_get("phone")?;
    let confirmed = r.try_get::<Option<i64>, _>("confirmed_at")?.is_some();
    Ok(phone
        .and_then(|p| Phone::parse(&p).ok())
        .map(|p| (p, confirmed)))
}

/// M9: the account's phone, only once a code sent to it came back.
pub async fn verified_phone(conn: &mut Conn, user_id: &str) -> Result<Option<Phone>, sqlx::Error> {
    Ok(phone_factor(conn, user_id)
        .await?
        .and_then(|(p, verified)| verified.then_some(p)))
}

/// M13: the factor waiting to be set up, if one was chosen less than [`ENROLMENT_TTL_SECS`] ago.
/// An authenticator wins over a number (the Security tab allows only one pending choice).
pub async fn pending(
    conn: &mut Conn,
    user_id: &str,
    now: Timestamp,
) -> Result<Option<Pending>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT kind, phone, created_at FROM mfa_factors WHERE user_id = $1 \
         AND confirmed_at IS NULL AND created_at > $2 ORDER BY kind DESC",
    )
    .bind(user_id)
    .bind(now - ENROLMENT_TTL_SECS)
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let kind: String = r.try_get("kind")?;
        let expires_at = r.try_get::<i64, _>("created_at")? + ENROLMENT_TTL_SECS;
        let enrolment = match kind.as_str() {
            "totp" => Enrolment::Authenticator,
            "phone" => match r
                .try_get::<Option<String>, _>("phone")?
                .and_then(|p| Phone::parse(&p).ok())
            {
                Some(p) => Enrolment::Phone(p),
                None => continue,
            },
            _ => continue,
        };
        return Ok(Some(Pending {
            enrolment,
            expires_at,
        }));
    }
    Ok(None)
}

/// M13: the factor active now — what the sign-in and re-authentication ask for first. An
/// authenticator counts once it is confirmed, a phone once it is verified; otherwise email.
pub async fn active_factor(
    conn: &mut Conn,
    user_id: &str,
    method: MfaMethod,
) -> Result<ActiveFactor, sqlx::Error> {
    Ok(match method {
        MfaMethod::Sms => match verified_phone(conn, user_id).await? {
            Some(p) => ActiveFactor::Sms(p),
            None => ActiveFactor::Email,
        },
        MfaMethod::Authenticator => {
            let confirmed: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM mfa_factors WHERE user_id = $1 AND kind = 'totp' AND confirmed_at IS NOT NULL",
            )
            .bind(user_id)
            .fetch_one(&mut *conn)
            .await?;
            if confirmed > 0 {
                ActiveFactor::Authenticator
            } else {
                ActiveFactor::Email
            }
        }
        MfaMethod::Email => ActiveFactor::Email,
    })
}

/// M9: remembers a number given at registration; it is verified by the first code sent to it.
pub async fn add_unverified_phone(
    conn: &mut Conn,
    user_id: &str,
    phone: &Phone,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM mfa_factors WHERE user_id = $1 AND kind = 'phone'")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO mfa_factors (id, user_id, kind, phone, created_at) VALUES ($1, $2, 'phone', $3, $4)")
        .bind(new_id())
        .bind(user_id)
        .bind(phone.as_str())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// M9: a code sent to `phone` came back: the number is verified and text messages become the
/// method. One active method (M1): an authenticator and its recovery codes go.
pub async fn activate_phone(
    conn: &mut Conn,
    user_id: &str,
    phone: &Phone,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    replace_phone(conn, user_id, phone, now).await?;
    switch_method(
        conn,
        user_id,
        MfaMethod::Sms,
        EventKind::MfaEnrolled,
        None,
        client,
        now,
    )
    .await?;
    Ok(())
}

/// M1: the one routine that makes `to` the account's only active method. What belonged to the
/// old method goes: an authenticator (unless it is the new method), factors never verified,
/// and the recovery codes (which come with an authenticator: new ones when it becomes the
/// method, M6). A verified phone stays for account recovery. Run inside the caller's
/// transaction; `why` is the G1 event recorded.
async fn switch_method(
    conn: &mut Conn,
    user_id: &str,
    to: MfaMethod,
    why: EventKind,
    actor: Option<&str>,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let keep_totp = to == MfaMethod::Authenticator;
    sqlx::query(
        "DELETE FROM mfa_factors WHERE user_id = $1 AND (confirmed_at IS NULL OR (kind = 'totp' AND NOT $2))",
    )
    .bind(user_id)
    .bind(keep_totp)
    .execute(&mut *conn)
    .await?;
    recovery_codes::clear(conn, user_id).await?;
    users::set_mfa_method(conn, user_id, to, now).await?;
    let about = events::About::by(actor);
    events::record_about(conn, Some(user_id), why, about, client, now).await?;
    Ok(())
}

/// Back to email codes from the Security tab: other factors that are not verified go, an
/// authenticator and its recovery codes go; a verified phone stays for account recovery.
pub async fn use_email(
    conn: &mut Conn,
    user_id: &str,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    switch_method(
        conn,
        user_id,
        MfaMethod::Email,
        EventKind::MfaChanged,
        None,
        client,
        now,
    )
    .await
}

/// M7: tells the owner on the old channel that the sign-in method changed: the old phone by
/// text message when codes came by SMS, else the email address. Run inside the change's
/// transaction (through the outbox), so the notice goes exactly when the change lands.
pub async fn tell_old_channel(
    conn: &mut Conn,
    user: &users::User,
    change: &messages::MethodChange<'_>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let phone = verified_phone(conn, &user.id).await?;
    let m = match (user.mfa_method, phone) {
        (MfaMethod::Sms, Some(p)) => messages::mfa_changed_sms(p.as_str()),
        _ => messages::mfa_changed_email(user.email.as_str(), change),
    };
    outbox::enqueue(conn, &m, now).await
}

/// M9: a code sent to `phone` came back on the Profile tab: it becomes the account's verified
/// phone in place of any other; the method stays what it is (with SMS as the method, codes go to
/// the new number from now on). The caller re-authenticated (S5) and tells the old channels (M7).
pub async fn replace_phone(
    conn: &mut Conn,
    user_id: &str,
    phone: &Phone,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    add_unverified_phone(conn, user_id, phone, now).await?;
    sqlx::query("UPDATE mfa_factors SET confirmed_at = $2 WHERE user_id = $1 AND kind = 'phone'")
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// M9: the account keeps no phone. Refused by the caller while text messages are the method.
pub async fn remove_phone(conn: &mut Conn, user_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM mfa_factors WHERE user_id = $1 AND kind = 'phone'")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// M4: the secret of an authenticator being set up, shown only on the enrolment step.
pub async fn enrolment_secret(
    conn: &mut Conn,
    key: &SecretKey,
    user_id: &str,
) -> Result<Option<TotpSecret>, MfaError> {
    Ok(totp_factor(conn, key, user_id)
        .await?
        .filter(|f| !f.confirmed)
        .map(|f| f.secret))
}

/// M4: starts (or restarts) authenticator enrolment; returns the secret to show once.
pub async fn begin_totp(
    conn: &mut Conn,
    key: &SecretKey,
    user_id: &str,
    now: Timestamp,
) -> Result<TotpSecret, MfaError> {
    let secret = TotpSecret::generate();
    let sealed = key.seal(secret.bytes(), user_id)?;
    sqlx::query(
        "DELETE FROM mfa_factors WHERE user_id = $1 AND (kind = 'totp' OR confirmed_at IS NULL)",
    )
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO mfa_factors (id, user_id, kind, secret_sealed, created_at) VALUES ($1, $2, 'totp', $3, $4)")
        .bind(new_id())
        .bind(user_id)
        .bind(sealed)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(secret)
}

/// M3: records `step` as used; `false` when another request used this or a later step first.
async fn claim_step(conn: &mut Conn, factor_id: &str, step: i64) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        "UPDATE mfa_factors SET last_used_step = $2 WHERE id = $1 AND (last_used_step IS NULL OR last_used_step < $2)",
    )
    .bind(factor_id)
    .bind(step)
    .execute(&mut *conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// M4/M6: the first valid code confirms the authenticator, makes it the method and returns the
/// ten recovery codes to show once. Run inside a transaction.
pub async fn confirm_totp(
    conn: &mut Conn,
    key: &SecretKey,
    user_id: &str,
    code: &str,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<Vec<String>, MfaError> {
    let f = totp_factor(conn, key, user_id)
        .await?
        .filter(|f| !f.confirmed)
        .ok_or(MfaError::NotEnrolling)?;
    let step = totp::check(&f.secret, code, now, f.last_used_step)?;
    if !claim_step(conn, &f.id, step).await? {
        return Err(TotpError::Replayed.into());
    }
    sqlx::query("UPDATE mfa_factors SET confirmed_at = $2 WHERE id = $1")
        .bind(&f.id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let why = EventKind::MfaEnrolled;
    switch_method(
        conn,
        user_id,
        MfaMethod::Authenticator,
        why,
        None,
        client,
        now,
    )
    .await?;
    Ok(recovery_codes::regenerate(conn, key, user_id, now).await?)
}

/// M3: checks a sign-in code against the confirmed authenticator, refusing replays.
pub async fn verify_totp(
    conn: &mut Conn,
    key: &SecretKey,
    user_id: &str,
    code: &str,
    now: Timestamp,
) -> Result<(), MfaError> {
    let f = totp_factor(conn, key, user_id)
        .await?
        .filter(|f| f.confirmed)
        .ok_or(MfaError::NotEnrolling)?;
    let step = totp::check(&f.secret, code, now, f.last_used_step)?;
    if claim_step(conn, &f.id, step).await? {
        Ok(())
    } else {
        Err(TotpError::Replayed.into())
    }
}

/// M8: back to email codes; the authenticator and the recovery codes are removed. The caller
/// notifies the owner (in the same transaction, through the outbox).
pub async fn reset_to_email(
    conn: &mut Conn,
    user_id: &str,
    actor: Option<&str>,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<(), MfaError> {
    let why = EventKind::MfaReset;
    Ok(switch_method(conn, user_id, MfaMethod::Email, why, actor, client, now).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    async fn user(c: &mut Conn) -> String {
        let e = crate::values::email::Email::parse("totp@example.com").expect("email");
        let nu = users::NewUser {
            email: &e,
            first_name: "T",
            last_name: "O",
            password_hash: "x",
            mfa_method: MfaMethod::Email,
            verified: true,
        };
        users::insert(c, nu, 0).await.expect("insert").expect("new")
    }

    /// An authenticator set up and confirmed at `t`.
    async fn enrolled(c: &mut Conn, key: &SecretKey, uid: &str, t: Timestamp) -> TotpSecret {
        let secret = begin_totp(c, key, uid, t).await.expect("begin");
        let code = secret.code_at(t).expect("code");
        confirm_totp(c, key, uid, &code, &ClientInfo::default(), t)
            .await
            .expect("confirm");
        secret
    }

    async fn method(c: &mut Conn, uid: &str) -> MfaMethod {
        users::by_id(c, uid)
            .await
            .expect("load")
            .expect("user")
            .mfa_method
    }

    #[tokio::test]
    async fn m4_authenticator_is_active_only_after_one_valid_code_and_its_secret_is_sealed() {
        for store in testing::all().await {
            let mut c = store.conn().await.expect("conn");
            let key = SecretKey::generate();
            let uid = user(&mut c).await;
            let t = 1_700_000_000;
            let secret = begin_totp(&mut c, &key, &uid, t).await.expect("begin");
            let sealed: String = sqlx::query_scalar("SELECT secret_sealed FROM mfa_factors")
                .fetch_one(&mut *c)
                .await
                .expect("row");
            assert!(
                !sealed.contains(&hex::encode(secret.bytes())),
                "M4: encrypted at rest"
            );
            assert_eq!(
                method(&mut c, &uid).await,
                MfaMethod::Email,
                "not active before a code"
            );
            assert!(matches!(
                verify_totp(&mut c, &key, &uid, &secret.code_at(t).expect("code"), t).await,
                Err(MfaError::NotEnrolling)
            ));
            let right = secret.code_at(t).expect("code");
            let wrong = if right == "000000" {
                "111111"
            } else {
                "000000"
            };
            assert!(matches!(
                confirm_totp(&mut c, &key, &uid, wrong, &ClientInfo::default(), t).await,
                Err(MfaError::Code(_))
            ));
            assert_eq!(
                method(&mut c, &uid).await,
                MfaMethod::Email,
                "a wrong code activates nothing"
            );
            let codes = confirm_totp(
                &mut c,
                &key,
                &uid,
                &secret.code_at(t).expect("code"),
                &ClientInfo::default(),
                t,
            )
            .await
            .expect("confirm");
            assert_eq!(
                codes.len(),
                recovery_codes::COUNT,
                "M6: recovery codes issued on activation"
            );
            assert_eq!(method(&mut c, &uid).await, MfaMethod::Authenticator);
        }
    }

    #[tokio::test]
    async fn m3_a_sign_in_code_cannot_be_replayed() {
        for store in testing::all().await {
            let mut c = store.conn().await.expect("conn");
            let key = SecretKey::generate();
            let uid = user(&mut c).await;
            let t = 1_700_000_000;
            let secret = enrolled(&mut c, &key, &uid, t).await;
            let t2 = t + 30;
            let code = secret.code_at(t2).expect("code");
            verify_totp(&mut c, &key, &uid, &code, t2)
                .await
                .expect("first use");
            assert!(matches!(
                verify_totp(&mut c, &key, &uid, &code, t2 + 5).await,
                Err(MfaError::Code(TotpError::Replayed))
            ));
            let next = secret.code_at(t2 + 30).expect("code");
            verify_totp(&mut c, &key, &uid, &next, t2 + 30)
                .await
                .expect("next step works");
        }
    }

    #[tokio::test]
    async fn m8_reset_returns_to_email_and_removes_secret_and_recovery_codes() {
        for store in testing::all().await {
            let mut c = store.conn().await.expect("conn");
            let key = SecretKey::generate();
            let uid = user(&mut c).await;
            let t = 1_700_000_000;
            enrolled(&mut c, &key, &uid, t).await;
            reset_to_email(&mut c, &uid, None, &ClientInfo::default(), t + 60)
                .await
                .expect("reset");
            assert_eq!(method(&mut c, &uid).await, MfaMethod::Email);
            assert_eq!(
                recovery_codes::remaining(&mut c, &uid)
                    .await
                    .expect("count"),
                0
            );
            let factors: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mfa_factors")
                .fetch_one(&mut *c)
                .await
                .expect("count");
            assert_eq!(factors, 0);
            let kinds: Vec<_> = events::recent(&mut c, &uid, 100)
                .await
                .expect("events")
                .into_iter()
                .map(|e| e.kind)
                .collect();
            assert_eq!(kinds.first(), Some(&EventKind::MfaReset), "M8: audited");
        }
    }
}
