//! Server functions of the Security tab (`/profile/security`): thin adapters to
//! `gatehouse_core::flows::security`.
//!
//! - M5: every one needs a fully signed-in session; anything else goes back to `/login`.
//! - S5: the core refuses sensitive changes without a fresh re-authentication; the page shows
//!   the re-auth form and keeps the person's choice (method, phone) for the next try.
//! - No-JS: every form ends in `back_to("/profile/security")` (POST → redirect → GET).

#[cfg(feature = "ssr")]
use crate::server_ctx::{self as ctx, internal};
#[cfg(feature = "ssr")]
use crate::wire::Flash;
use crate::wire::SecurityView;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
const PAGE: &str = "/profile/security";
#[cfg(feature = "ssr")]
const FORM: &str = "security";

/// M5: the signed-in session, or a redirect to sign-in.
#[cfg(feature = "ssr")]
async fn signed_in(
    st: &ctx::AppState,
) -> Result<Option<gatehouse_core::mechanisms::sessions::Session>, ServerFnError> {
    match ctx::signed_in(st).await? {
        Some((s, _)) => Ok(Some(s)),
        None => {
            leptos_axum::redirect("/login");
            Ok(None)
        }
    }
}

/// Every Security-tab form ends the same way: its notice or its refusal, then back to the tab.
#[cfg(feature = "ssr")]
fn done<T, E: gatehouse_core::values::failure::Refusal>(
    st: &ctx::AppState,
    r: Result<T, E>,
    field: &str,
    ok: &str,
    keep: &[(&str, &str)],
) {
    match r {
        Ok(_) => ctx::notice(st, FORM, ok),
        Err(e) => ctx::fail(st, FORM, field, &e, keep),
    }
    ctx::back_to(PAGE);
}

#[server(endpoint = "security_view")]
pub async fn get_security_view() -> Result<Option<SecurityView>, ServerFnError> {
    use crate::wire::{Me, ReauthView};
    use gatehouse_core::flows::login::StepKind;
    use gatehouse_core::flows::security::{self, Reauth};
    use gatehouse_core::mechanisms::users::MfaMethod;
    let st = ctx::state()?;
    let Some((session, uid)) = ctx::signed_in(&st).await? else {
        return Ok(None);
    };
    let ov = security::overview(&st.deps, &session)
        .await
        .map_err(internal)?;
    let mut c = st.deps.store.conn().await.map_err(internal)?;
    let Some(u) = gatehouse_core::mechanisms::users::by_id(&mut c, &uid)
        .await
        .map_err(internal)?
    else {
        return Ok(None);
    };
    let (sessions, activity) = lists(&st, &mut c, &session.id_hash, &uid).await?;
    // SQLite runs with one connection: give it back before the next query takes one.
    drop(c);
    let now = st.deps.now();
    let destination = match ov.method {
        MfaMethod::Sms => ov.phone.clone().unwrap_or_default(),
        MfaMethod::Email => u.email.masked(),
        MfaMethod::Authenticator => String::new(),
    };
    Ok(Some(SecurityView {
        me: Me {
            first_name: u.first_name,
            last_name: u.last_name,
            email: u.email.to_string(),
            mfa_method: ov.method,
        },
        destination,
        pending: ov.pending.as_ref().map(pending_words),
        recovery_codes_left: ov.recovery_codes_left,
        reauth: match ov.reauth {
            Reauth::Fresh { until } => ReauthView::Fresh {
                minutes_left: ((until - now) + 59) / 60,
            },
            Reauth::Password => ReauthView::Password,
            Reauth::Code {
                kind,
                masked,
                resend_in,
            } => ReauthView::Code {
                by_app: kind == StepKind::Authenticator,
                destination: masked,
                resend_in,
            },
        },
        verifying_phone: ov.verifying_phone,
        new_codes: ov.new_recovery_codes,
        sms_country_codes: ov.sms_country_codes,
        min_length: st.deps.settings.password.min_length,
        reset_link: gatehouse_core::flows::recovery::open_link(&st.deps, &uid)
            .await
            .map_err(internal)?
            .map(|(sent, expires)| {
                use gatehouse_core::values::clock::format_utc;
                (format_utc(sent), format_utc(expires))
            }),
        sessions,
        activity,
        flash: ctx::take_flash(&st, FORM),
    }))
}

/// S4/G1: the signed-in sessions (this one first) and the newest security events.
#[cfg(feature = "ssr")]
async fn lists(
    st: &ctx::AppState,
    c: &mut gatehouse_core::store::Conn,
    current: &str,
    uid: &str,
) -> Result<
    (
        Vec<crate::wire::SessionItem>,
        Vec<crate::wire::ActivityItem>,
    ),
    ServerFnError,
> {
    use crate::wire::{ActivityItem, SessionItem};
    use gatehouse_core::values::clock::format_utc;
    let now = st.deps.now();
    let mut sessions: Vec<SessionItem> = gatehouse_core::mechanisms::sessions::list_for_user(
        c,
        uid,
        &st.deps.settings.sessions,
        now,
    )
    .await
    .map_err(internal)?
    .into_iter()
    .map(|s| SessionItem {
        handle: s.id_hash.chars().take(HANDLE_LEN).collect(),
        current: s.id_hash == current,
        device: device(&s.user_agent),
        ip: s.ip,
        since: format_utc(s.created_at),
        last_seen: format_utc(s.last_seen_at),
    })
    .collect();
    sessions.sort_by_key(|s| !s.current);
    let activity = gatehouse_core::mechanisms::events::recent(c, uid, 15)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|e| ActivityItem {
            what: e.describe().to_string(),
            when: format_utc(e.at),
            ip: e.ip,
        })
        .collect();
    Ok((sessions, activity))
}

/// How many hex digits of a session's digest name it to its owner.
#[cfg(feature = "ssr")]
const HANDLE_LEN: usize = 16;

/// A short, readable name for a browser from its User-Agent.
#[cfg(feature = "ssr")]
fn device(ua: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(k, _)| ua.contains(k))
    .map(|(_, v)| *v);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("Windows", "Windows"),
        ("Mac OS", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(k, _)| ua.contains(k))
    .map(|(_, v)| *v);
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_string(),
        (None, Some(o)) => o.to_string(),
        (None, None) => "Unknown browser".to_string(),
    }
}

/// S4: ends one of the person's other sessions ("Sign out" on its row).
#[server(endpoint = "sign_out_session")]
pub async fn sign_out_session(handle: String) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some((s, uid)) = ctx::signed_in(&st).await? else {
        leptos_axum::redirect("/login");
        return Ok(());
    };
    let mut c = st.deps.store.conn().await.map_err(internal)?;
    let target = gatehouse_core::mechanisms::sessions::list_for_user(
        &mut c,
        &uid,
        &st.deps.settings.sessions,
        st.deps.now(),
    )
    .await
    .map_err(internal)?
    .into_iter()
    .find(|l| {
        handle.len() == HANDLE_LEN && l.id_hash.starts_with(&handle) && l.id_hash != s.id_hash
    });
    let ended = match target {
        Some(l) => gatehouse_core::mechanisms::sessions::revoke_own(&mut c, &uid, &l.id_hash)
            .await
            .map_err(internal)?,
        None => false,
    };
    drop(c);
    ctx::notice(
        &st,
        FORM,
        if ended {
            "That session is signed out."
        } else {
            "That session had already ended."
        },
    );
    ctx::back_to(PAGE);
    Ok(())
}

/// S4/S6: ends every session of the person except this one.
#[server(endpoint = "sign_out_others")]
pub async fn sign_out_others() -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some((s, uid)) = ctx::signed_in(&st).await? else {
        leptos_axum::redirect("/login");
        return Ok(());
    };
    let mut c = st.deps.store.conn().await.map_err(internal)?;
    let n =
        gatehouse_core::mechanisms::sessions::revoke_all_for_user(&mut c, &uid, Some(&s.id_hash))
            .await
            .map_err(internal)?;
    drop(c);
    ctx::notice(&st, FORM, format!("Signed out {n} other session(s)."));
    ctx::back_to(PAGE);
    Ok(())
}

/// S5 step 1: the password; a code from the current method is asked next.
#[server(endpoint = "reauth_password")]
pub async fn reauth_password(password: String) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = signed_in(&st).await? else {
        return Ok(());
    };
    let r =
        gatehouse_core::flows::security::reauth_password(&st.deps, &s, &password, &ctx::client())
            .await;
    if let Err(e) = r {
        ctx::fail(&st, FORM, "reauth_password", &e, &[]);
    }
    ctx::back_to(PAGE);
    Ok(())
}

/// S5 step 2: the code; changes are allowed for ten minutes.
#[server(endpoint = "reauth_code")]
pub async fn reauth_code(code: String) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = signed_in(&st).await? else {
        return Ok(());
    };
    let r = gatehouse_core::flows::security::reauth_code(&st.deps, &s, &code, &ctx::client()).await;
    done(
        &st,
        r,
        "reauth_code",
        &format!(
            "Thank you. You can change your security settings for the next {} minutes.",
            crate::wire::Lifetimes::current().reauth_minutes
        ),
        &[("reauth_code", &code)],
    );
    Ok(())
}

/// R4: a new code for re-authentication (`purpose` = "reauth") or phone verification ("phone").
#[server(endpoint = "security_resend")]
pub async fn security_resend(purpose: String) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = signed_in(&st).await? else {
        return Ok(());
    };
    use gatehouse_core::values::factors::Purpose;
    let (purpose, field) = if purpose == "phone" {
        (Purpose::PhoneVerification, "phone_code")
    } else {
        (Purpose::Reauth, "reauth_code")
    };
    let r = gatehouse_core::flows::security::resend(&st.deps, &s, purpose).await;
    done(&st, r, field, "We sent you a new code.", &[]);
    Ok(())
}

/// S5/M7/M9/M4: saves the chosen method (or starts the change).
#[server(endpoint = "save_mfa_method")]
pub async fn save_mfa_method(
    #[server(default)] mfa_method: String,
    #[server(default)] phone: String,
) -> Result<(), ServerFnError> {
    use gatehouse_core::flows::security::{self, Changed, Choice, SecurityError};
    let st = ctx::state()?;
    let Some(s) = signed_in(&st).await? else {
        return Ok(());
    };
    let keep = [
        ("mfa_method", mfa_method.as_str()),
        ("phone", phone.as_str()),
    ];
    let choice = match mfa_method.as_str() {
        "email" => Choice::Email,
        "totp" => Choice::Authenticator,
        "sms" => Choice::Sms {
            phone: phone.clone(),
        },
        _ => {
            let f = keep.iter().fold(
                Flash::for_form(FORM).with_error(
                    "mfa_method",
                    "Choose how you want to receive sign-in codes.",
                ),
                |f, (k, v)| f.with_value(k, v),
            );
            ctx::write_flash(&st, &f);
            ctx::back_to(PAGE);
            return Ok(());
        }
    };
    match security::change_method(&st.deps, &s, &choice, &ctx::client()).await {
        Ok(changed) => {
            let text = match changed {
                Changed::Unchanged => "That is already your sign-in method.".to_string(),
                Changed::ToEmail => "Saved. Sign-in codes now come by email.".to_string(),
                Changed::AuthenticatorAtNextSignIn => "Saved. At your next sign-in you will scan a QR code with your authenticator app, right after a code from your current method; it is used from then on.".to_string(),
                Changed::VerifyPhone(to) => format!("We sent a code to {to}. Enter it to start using text messages."),
            };
            ctx::notice(&st, FORM, text);
        }
        Err(e @ SecurityError::Phone(_)) => ctx::fail(&st, FORM, "phone", &e, &keep),
        Err(e) => ctx::fail(&st, FORM, "mfa_method", &e, &keep),
    }
    ctx::back_to(PAGE);
    Ok(())
}

/// M9: the code sent to the new number.
#[server(endpoint = "verify_phone")]
pub async fn verify_phone(code: String) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = signed_in(&st).await? else {
        return Ok(());
    };
    let r =
        gatehouse_core::flows::security::verify_phone(&st.deps, &s, &code, &ctx::client()).await;
    done(
        &st,
        r,
        "phone_code",
        "Your phone number is verified. Sign-in codes now come by text message.",
        &[("phone_code", &code)],
    );
    Ok(())
}

/// P7/S6: a new password with the current one; every other session ends.
#[server(endpoint = "change_password")]
pub async fn change_password(
    current: String,
    password: String,
    confirm: String,
) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = signed_in(&st).await? else {
        return Ok(());
    };
    let r = gatehouse_core::flows::recovery::change_password(
        &st.deps,
        &s,
        &current,
        &password,
        &confirm,
        &ctx::client(),
    )
    .await;
    let ok = "Your password was changed. Every other session was signed out.";
    done(&st, r, "current", ok, &[]);
    Ok(())
}

/// F8: a reset link through the second-factor channel; the answer names the channel.
#[server(endpoint = "send_reset_link")]
pub async fn send_reset_link() -> Result<(), ServerFnError> {
    use gatehouse_core::flows::recovery;
    let st = ctx::state()?;
    let Some(s) = signed_in(&st).await? else {
        return Ok(());
    };
    match recovery::send_link_to_factor(&st.deps, &s, &ctx::client()).await {
        Ok(sent) => ctx::notice(&st, FORM, link_sent_words(&sent)),
        Err(e) => ctx::fail(&st, FORM, "reset_link", &e, &[]),
    }
    ctx::back_to(PAGE);
    Ok(())
}

/// F8: where the link went, in words.
#[cfg(feature = "ssr")]
fn link_sent_words(sent: &gatehouse_core::flows::recovery::LinkSent) -> String {
    let how = match (sent.via_sms, sent.authenticator) {
        (true, _) => format!("by text message to {}", sent.masked),
        (false, true) => format!(
            "by email to {} (an authenticator app cannot receive links)",
            sent.masked
        ),
        (false, false) => format!("by email to {}", sent.masked),
    };
    let minutes = gatehouse_core::flows::recovery::RESET_TTL_SECS / 60;
    format!("We sent a reset link {how}. It expires in {minutes} minutes.")
}

/// M6: ten new recovery codes replace the old ones.
#[server(endpoint = "regenerate_codes")]
pub async fn regenerate_codes() -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = signed_in(&st).await? else {
        return Ok(());
    };
    let r =
        gatehouse_core::flows::security::regenerate_recovery_codes(&st.deps, &s, &ctx::client())
            .await;
    done(
        &st,
        r,
        "codes",
        "Here are your new recovery codes. The old ones no longer work.",
        &[],
    );
    Ok(())
}

/// "I have saved these codes" on the Security tab.
#[server(endpoint = "codes_saved")]
pub async fn codes_saved() -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = signed_in(&st).await? else {
        return Ok(());
    };
    let r = gatehouse_core::flows::security::recovery_codes_saved(&st.deps, &s).await;
    done(&st, r, "codes", "Your recovery codes are saved.", &[]);
    Ok(())
}

/// M13: the pending choice as the Security tab says it.
#[cfg(feature = "ssr")]
fn pending_words(p: &gatehouse_core::mechanisms::mfa::Pending) -> String {
    use gatehouse_core::mechanisms::mfa::Enrolment;
    let what = match &p.enrolment {
        Enrolment::Authenticator => {
            "Authenticator app chosen: you will scan its QR code at your next sign-in".to_string()
        }
        Enrolment::Phone(phone) => format!(
            "Phone {} given at registration: it is verified with a text message at your next sign-in",
            phone.masked()
        ),
    };
    format!(
        "{what}, after a code from your current method. This choice expires on {} if it is not set up.",
        gatehouse_core::values::clock::format_utc(p.expires_at)
    )
}
