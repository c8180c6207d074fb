//! Password recovery by a six-digit code sent to the account's verified phone (seed 004).
//!
//! - F6: six digits, valid 10 minutes, five tries (the shared `challenges`: M2, R3, M10), then a
//!   new password; the code proves the phone, the new password is then the only thing the flow
//!   can do (`ResetAllowed`), and it never signs anyone in (F5).
//! - F1/F7: the flow looks the same whether or not the address has an account or a verified
//!   phone: a flow session is always created, the same answer is shown, and a wrong code reads
//!   the same either way. Only a real account with a verified phone gets a text message.
//! - R2: the same per-IP and per-address windows as the email link.

use crate::flows::recovery::{check_new, set_password, RecoveryError};
use crate::mechanisms::challenges::{self, ChallengeError, Delivery};
use crate::mechanisms::secret::Secret;
use crate::mechanisms::service::Deps;
use crate::mechanisms::sessions::{self, ClientInfo, Session, SessionState};
use crate::mechanisms::users;
use crate::values::email::Email;
use crate::values::factors::{ChallengeKind, Factor, Purpose};

const KIND: ChallengeKind = ChallengeKind::new(Purpose::Recovery, Factor::Sms);

/// F1/F6: starts a recovery flow for `email` and returns its session id; a code goes out only
/// when the account exists and has a verified phone.
pub async fn start(
    deps: &Deps,
    current: Option<&Session>,
    email: &str,
    client: &ClientInfo,
) -> Result<Secret, RecoveryError> {
    let email = Email::parse(email)?;
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let may_send = crate::flows::recovery::request_windows(&mut tx, &email, client, now).await?;
    let mut target = None;
    if let (Some(u), true) = (users::by_email(&mut tx, &email).await?, may_send) {
        let phone = crate::mechanisms::mfa::verified_phone(&mut tx, &u.id).await?;
        // F7: only when the person's organizations allow a code by text message (otherwise
        // they are told by email what they allow; the answer stays the same, F1).
        if let Some(phone) = phone {
            let way = crate::flows::recovery::Way::SmsCode;
            if crate::flows::recovery::allowed_by_orgs(&mut tx, deps, &u, way, now).await? {
                target = Some((u.id, phone));
            }
        }
    }
    let state = SessionState::Recovering {
        email: email.to_string(),
        user_id: target.as_ref().map(|(id, _)| id.clone()),
    };
    let policy = &deps.settings.sessions;
    let rotated = match current {
        Some(s) => sessions::rotate(&mut tx, &s.id_hash, &state, policy, now).await?,
        None => None,
    };
    let token = match rotated {
        Some(t) => t,
        None => sessions::create(&mut tx, &state, client, policy, now).await?,
    };
    if let Some((uid, phone)) = &target {
        if let Some(u) = users::by_id(&mut tx, uid).await? {
            crate::flows::recovery::notice_if_new_place(&mut tx, deps, &u, client, now).await?;
            crate::mechanisms::events::record(
                &mut tx,
                Some(uid),
                crate::mechanisms::events::EventKind::PasswordResetRequested,
                client,
                now,
            )
            .await?;
        }
        let sent = challenges::open(
            &mut tx,
            deps,
            uid,
            &token.digest(),
            KIND,
            Delivery::Sms(phone.as_str()),
            now,
        )
        .await;
        match sent {
            // R4: a capped number gets no text; the answer stays the same (F1).
            Ok(()) | Err(ChallengeError::Limited { .. }) => {}
            Err(ChallengeError::Store(e)) => return Err(e.into()),
            Err(_) => return Err(RecoveryError::Internal),
        }
    }
    tx.commit().await?;
    Ok(token)
}

/// F6: the code; right → the flow may set a new password (under a new session id, S2).
pub async fn verify(
    deps: &Deps,
    session: &Session,
    code: &str,
    client: &ClientInfo,
) -> Result<Secret, RecoveryError> {
    let SessionState::Recovering { user_id, .. } = &session.state else {
        return Err(RecoveryError::Expired);
    };
    // F1: the same checks in the same order for every flow: the format first, then, without
    // an account (or a phone), every code is simply wrong.
    challenges::six_digits(code).map_err(|_| RecoveryError::CodeFormat)?;
    let Some(uid) = user_id else {
        return Err(RecoveryError::CodeRefused);
    };
    let mut passed =
        match challenges::attempt(deps, session, uid, Purpose::Recovery, code, client).await {
            Ok(p) => p,
            // F1: a wrong code, a dead challenge or a full per-account window reads exactly like a
            // wrong code for an address without an account.
            Err(
                ChallengeError::WrongCode { .. }
                | ChallengeError::Dead
                | ChallengeError::Limited { .. }
                | ChallengeError::Replayed
                | ChallengeError::Format,
            ) => return Err(RecoveryError::CodeRefused),
            Err(ChallengeError::Store(e)) => return Err(e.into()),
            Err(ChallengeError::Internal) => return Err(RecoveryError::Internal),
        };
    let state = SessionState::ResetAllowed {
        user_id: uid.clone(),
    };
    let token = sessions::rotate(
        &mut passed.tx,
        &session.id_hash,
        &state,
        &deps.settings.sessions,
        deps.now(),
    )
    .await?
    .ok_or(RecoveryError::Expired)?;
    passed.tx.commit().await?;
    Ok(token)
}

/// F5/F6: the new password; every session of the account ends, this flow included.
pub async fn reset(
    deps: &Deps,
    session: &Session,
    new: &str,
    confirm: &str,
    client: &ClientInfo,
) -> Result<(), RecoveryError> {
    let SessionState::ResetAllowed { user_id } = &session.state else {
        return Err(RecoveryError::Expired);
    };
    let user = {
        let mut c = deps.store.conn().await?;
        users::by_id(&mut c, user_id)
            .await?
            .ok_or(RecoveryError::Expired)?
    };
    let password = check_new(deps, &user, new, confirm)?;
    let phc = deps.hasher.hash(&password).await?;
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    set_password(&mut tx, deps, &user, &phc, None, client, now).await?;
    users::reset_failures(&mut tx, &user.id).await?;
    tx.commit().await?;
    Ok(())
}
