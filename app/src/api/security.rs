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
pub(crate) const FORM: &str = "security";

/// The page (and its flash's form) a form returns to.
#[cfg(feature = "ssr")]
#[derive(Clone)]
struct Back {
    page: String,
    form: &'static str,
}

/// S5: the re-authentication forms serve the Security tab, the Profile tab's phone (`tab` =
/// "profile"), an organization's ownership hand-over (`org:{slug}`) and the support console
/// (`support:{email searched}`); the answer goes back to the page they were on.
#[cfg(feature = "ssr")]
fn back_for(tab: &str) -> Back {
    if let Some(email) = tab.strip_prefix("support:") {
        return Back {
            page: super::support::page(email),
            form: super::support::FORM,
        };
    }
    let slug = tab
        .strip_prefix("org:")
        .filter(|s| gatehouse_core::values::org::is_slug(s));
    match (tab, slug) {
        (super::oidc::TAB, _) => Back {
            page: super::oidc::PAGE.into(),
            form: super::oidc::FORM,
        },
        (_, Some(slug)) => Back {
            page: format!("/orgs/{slug}"),
            form: super::orgs::FORM,
        },
        ("profile", _) => Back {
            page: super::profile::PAGE.into(),
            form: super::profile::FORM,
        },
        _ => Back {
            page: PAGE.into(),
            form: FORM,
        },
    }
}

/// Every form here ends the same way: its notice or its refusal, then back to its tab.
#[cfg(feature = "ssr")]
fn done<T, E: gatehouse_core::values::failure::Refusal>(
    st: &ctx::AppState,
    back: Back,
    r: Result<T, E>,
    field: &str,
    ok: &str,
    keep: &[(&str, &str)],
) {
    ctx::answer(st, back.form, &back.page, r, field, |_| ok.into(), keep);
}

#[server(endpoint = "security_view")]
pub async fn get_security_view() -> Result<Option<SecurityView>, ServerFnError> {
    let st = ctx::state()?;
    let Some((session, _)) = ctx::signed_in(&st).await? else {
        return Ok(None);
    };
    let ov = gatehouse_core::flows::security::overview(&st.deps, &session)
        .await
        .map_err(internal)?;
    let flash = ctx::take_flash(&st, FORM);
    let user = ov.user.clone();
    let mut v = view_of(ov, &session.id_hash, &st, flash);
    v.me = ctx::me_with_orgs(&st, &session, user).await?;
    Ok(Some(v))
}

/// The tab as the page shows it: words and times for people, no digests.
#[cfg(feature = "ssr")]
fn view_of(
    ov: gatehouse_core::flows::security::Overview,
    current: &str,
    st: &ctx::AppState,
    flash: Flash,
) -> SecurityView {
    use crate::wire::{ApplicationItem, Me, ReauthView, SessionItem};
    use gatehouse_core::values::clock::format_utc;
    use gatehouse_core::values::factors::MfaMethod;
    let now = st.deps.now();
    let u = ov.user;
    SecurityView {
        destination: match u.mfa_method {
            MfaMethod::Sms => ov.phone.clone().unwrap_or_default(),
            MfaMethod::Email => u.email.masked(),
            MfaMethod::Authenticator => String::new(),
        },
        me: Me::from(u),
        pending: ov.pending.as_ref().map(pending_words),
        recovery_codes_left: ov.recovery_codes_left,
        reauth: ReauthView::of(ov.reauth, now),
        verifying_phone: ov.verifying_phone,
        new_codes: ov.new_recovery_codes,
        sms_country_codes: ov.sms_country_codes,
        min_length: st.deps.settings.password.min_length,
        org_rules: ov.org_rules,
        reset_link: ov
            .reset_link
            .map(|(sent, expires)| (format_utc(sent), format_utc(expires))),
        sessions: ov
            .sessions
            .into_iter()
            .map(|s| SessionItem {
                handle: gatehouse_core::flows::security::handle(&s.id_hash),
                current: s.id_hash == current,
                device: super::device(&s.user_agent),
                ip: s.ip,
                since: format_utc(s.created_at),
                last_seen: format_utc(s.last_seen_at),
            })
            .collect(),
        activity: ov.activity.into_iter().map(activity_item).collect(),
        applications: ov
            .applications
            .into_iter()
            .map(|a| ApplicationItem {
                client_id: a.client_id,
                name: a.name,
                sees: a.scope.in_words().join(" · "),
                last_used: format_utc(a.last_used_at),
            })
            .collect(),
        flash,
    }
}

/// G1: an event as the activity lists show it.
#[cfg(feature = "ssr")]
pub(crate) fn activity_item(
    e: gatehouse_core::mechanisms::events::Recorded,
) -> crate::wire::ActivityItem {
    crate::wire::ActivityItem {
        what: activity_words(&e),
        when: gatehouse_core::values::clock::format_utc(e.at),
        ip: e.ip,
    }
}

/// G1: an event in words, with the organization it was about and who did it.
#[cfg(feature = "ssr")]
fn activity_words(e: &gatehouse_core::mechanisms::events::Recorded) -> String {
    let mut w = e.kind.describe().to_string();
    if let Some(org) = &e.org {
        w.push_str(&format!(": {org}"));
    }
    if let Some(actor) = &e.actor {
        w.push_str(&format!(" (by {actor})"));
    }
    w
}

/// S4: ends one of the person's other sessions ("Sign out" on its row).
#[server(endpoint = "sign_out_session")]
pub async fn sign_out_session(handle: String) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    let r = gatehouse_core::flows::security::sign_out_session(&st.deps, &s, &handle).await;
    let r = r.map(|ended| match ended {
        true => "That session is signed out.",
        false => "That session had already ended.",
    });
    match r {
        Ok(text) => {
            ctx::notice(&st, FORM, text);
        }
        Err(e) => {
            ctx::fail(&st, FORM, "sessions", &e, &[]);
        }
    }
    ctx::back_to(PAGE);
    Ok(())
}

/// Issue 13: "Remove access" on an application's row.
#[server(endpoint = "remove_app_access")]
pub async fn remove_app_access(client_id: String) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    let r = gatehouse_core::flows::security::remove_app_access(
        &st.deps,
        &s,
        &client_id,
        &ctx::client(),
    )
    .await;
    match r {
        Ok(true) => {
            ctx::notice(
                &st,
                FORM,
                "The application no longer has access. It will ask again.",
            );
        }
        Ok(false) => {
            ctx::notice(&st, FORM, "That application had no access.");
        }
        Err(e) => {
            ctx::fail(&st, FORM, "applications", &e, &[]);
        }
    }
    ctx::back_to(PAGE);
    Ok(())
}

/// S4/S6: ends every session of the person except this one.
#[server(endpoint = "sign_out_others")]
pub async fn sign_out_others() -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    match gatehouse_core::flows::security::sign_out_others(&st.deps, &s).await {
        Ok(n) => {
            ctx::notice(&st, FORM, format!("Signed out {n} other session(s)."));
        }
        Err(e) => {
            ctx::fail(&st, FORM, "sessions", &e, &[]);
        }
    }
    ctx::back_to(PAGE);
    Ok(())
}

/// S5 step 1: the password; a code from the current method is asked next.
#[server(endpoint = "reauth_password")]
pub async fn reauth_password(
    password: String,
    #[server(default)] tab: String,
    #[server(default)] authz: String,
) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    if tab == super::oidc::TAB {
        // O7: for the application's request the page showed, and only while it is the one
        // waiting; otherwise the page shows the request waiting now.
        let parked = ctx::parked_authorization(&st).unwrap_or_default();
        let bound = gatehouse_core::flows::oidc::start_reauth(&st.deps, &s, &parked, &authz)
            .await
            .map_err(internal)?;
        if !bound {
            ctx::fail(
                &st,
                super::oidc::FORM,
                "reauth_password",
                &gatehouse_core::flows::login::LoginError::OtherRequest,
                &[],
            );
            ctx::back_to(super::oidc::PAGE);
            return Ok(());
        }
    }
    let r =
        gatehouse_core::flows::security::reauth_password(&st.deps, &s, &password, &ctx::client())
            .await;
    let back = back_for(&tab);
    if let Err(e) = r {
        ctx::fail(&st, back.form, "reauth_password", &e, &[]);
    }
    ctx::back_to(&back.page);
    Ok(())
}

/// S5 step 2: the code; changes are allowed for ten minutes.
#[server(endpoint = "reauth_code")]
pub async fn reauth_code(
    code: String,
    #[server(default)] tab: String,
) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    let r = gatehouse_core::flows::security::reauth_code(&st.deps, &s, &code, &ctx::client()).await;
    if tab == super::oidc::TAB && r.is_ok() {
        // O8: proven again for an application's request: it continues.
        leptos_axum::redirect("/oauth2/continue");
        return Ok(());
    }
    done(
        &st,
        back_for(&tab),
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
pub async fn security_resend(
    purpose: String,
    #[server(default)] tab: String,
) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    use gatehouse_core::values::factors::Purpose;
    let (purpose, field) = if purpose == "phone" {
        (Purpose::PhoneVerification, "phone_code")
    } else {
        (Purpose::Reauth, "reauth_code")
    };
    let r = gatehouse_core::flows::security::resend(&st.deps, &s, purpose).await;
    done(
        &st,
        back_for(&tab),
        r,
        field,
        "We sent you a new code.",
        &[],
    );
    Ok(())
}

/// S5/M7/M9/M4: saves the chosen method (or starts the change).
#[server(endpoint = "save_mfa_method")]
pub async fn save_mfa_method(
    #[server(default)] mfa_method: String,
    #[server(default)] phone: String,
) -> Result<(), ServerFnError> {
    use gatehouse_core::flows::security::{self, Choice, SecurityError};
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    let keep = [("mfa_method", mfa_method.as_str()), ("phone", &phone)];
    let r = match Choice::from_form(&mfa_method, &phone) {
        Ok(choice) => security::change_method(&st.deps, &s, &choice, &ctx::client()).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(changed) => {
            ctx::notice(&st, FORM, changed_words(changed));
        }
        Err(e @ SecurityError::Phone(_)) => {
            ctx::fail(&st, FORM, "phone", &e, &keep);
        }
        Err(e) => {
            ctx::fail(&st, FORM, "mfa_method", &e, &keep);
        }
    }
    ctx::back_to(PAGE);
    Ok(())
}

/// S5/M7/M9/M4: what saving the method did, in words.
#[cfg(feature = "ssr")]
fn changed_words(changed: gatehouse_core::flows::security::Changed) -> String {
    use gatehouse_core::flows::security::Changed;
    match changed {
        Changed::Unchanged => "That is already your sign-in method.".to_string(),
        Changed::ToEmail => "Saved. Sign-in codes now come by email.".to_string(),
        Changed::AuthenticatorAtNextSignIn => "Saved. At your next sign-in you will scan a QR code with your authenticator app, right after a code from your current method; it is used from then on.".to_string(),
        Changed::VerifyPhone(to) => format!("We sent a code to {to}. Enter it to start using text messages."),
    }
}

/// M9: the code sent to the new number.
#[server(endpoint = "verify_phone")]
pub async fn verify_phone(code: String) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    let r =
        gatehouse_core::flows::security::verify_phone(&st.deps, &s, &code, &ctx::client()).await;
    done(
        &st,
        back_for(""),
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
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
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
    done(&st, back_for(""), r, "current", ok, &[]);
    Ok(())
}

/// F8: a reset link through the second-factor channel; the answer names the channel.
#[server(endpoint = "send_reset_link")]
pub async fn send_reset_link() -> Result<(), ServerFnError> {
    use gatehouse_core::flows::recovery;
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    match recovery::send_link_to_factor(&st.deps, &s, &ctx::client()).await {
        Ok(sent) => {
            ctx::notice(&st, FORM, link_sent_words(&sent));
        }
        Err(e) => {
            ctx::fail(&st, FORM, "reset_link", &e, &[]);
        }
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
    let minutes = gatehouse_core::mechanisms::email_links::RESET_TTL_SECS / 60;
    format!("We sent a reset link {how}. It expires in {minutes} minutes.")
}

/// M6: ten new recovery codes replace the old ones.
#[server(endpoint = "regenerate_codes")]
pub async fn regenerate_codes() -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    let r =
        gatehouse_core::flows::security::regenerate_recovery_codes(&st.deps, &s, &ctx::client())
            .await;
    done(
        &st,
        back_for(""),
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
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    let r = gatehouse_core::flows::security::recovery_codes_saved(&st.deps, &s).await;
    done(
        &st,
        back_for(""),
        r,
        "codes",
        "Your recovery codes are saved.",
        &[],
    );
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
