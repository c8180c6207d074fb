//! Server functions of the sign-in page (`/login`): thin adapters to
//! `gatehouse_core::flows::login` (E2, M5, M6, M13, S2, S4).

#[cfg(feature = "ssr")]
use crate::server_ctx::{self as ctx, internal};
use crate::wire::LoginView;
use leptos::prelude::*;

#[server(endpoint = "login_view")]
pub async fn get_login_view() -> Result<LoginView, ServerFnError> {
    let st = ctx::state()?;
    let flash = ctx::take_flash(&st, "login");
    let session = ctx::session(&st).await?;
    let stage = gatehouse_core::flows::login::stage(&st.deps, session.as_ref())
        .await
        .map_err(internal)?;
    let mut v = login_view_of(stage, flash);
    if let Some(parked) = ctx::parked_authorization(&st) {
        use gatehouse_core::flows::oidc;
        let name = oidc::requesting_client(&st.deps, &parked)
            .await
            .map_err(internal)?;
        v.continues_to = name.map(|n| (n, oidc::sign_in_request_id(&st.deps, &parked)));
    }
    Ok(v)
}

/// The sign-in page for a stage of the flow.
#[cfg(feature = "ssr")]
fn login_view_of(
    stage: gatehouse_core::flows::login::Stage,
    flash: crate::wire::Flash,
) -> LoginView {
    use crate::wire::LoginStep;
    use gatehouse_core::flows::login::{Stage, StepKind};
    let mut v = LoginView {
        setup_key: String::new(),
        qr_image: String::new(),
        codes: Vec::new(),
        continues_to: None,
        step: LoginStep::Email,
        email: String::new(),
        destination: String::new(),
        resend_in: 0,
        flash,
    };
    match stage {
        Stage::Email => {}
        Stage::Password { email } => {
            v.step = LoginStep::Password;
            v.email = email;
        }
        Stage::Code(None) => v.step = LoginStep::Code(StepKind::EmailCode),
        Stage::Code(Some(cs)) => {
            v.step = LoginStep::Code(cs.kind);
            v.destination = cs.masked_destination;
            v.resend_in = cs.resend_in;
            v.setup_key = cs.setup_key;
            if !cs.qr_svg.is_empty() {
                v.qr_image = svg_data_url(&cs.qr_svg);
            }
        }
        Stage::RecoveryCodes(codes) => {
            v.step = LoginStep::RecoveryCodes;
            v.codes = codes;
        }
        Stage::SignedIn => v.step = LoginStep::SignedIn,
    }
    v
}

/// An SVG as a `data:` URL for an `<img>` (CSP allows `img-src data:`).
#[cfg(feature = "ssr")]
fn svg_data_url(svg: &str) -> String {
    let escaped: String = svg
        .chars()
        .map(|c| match c {
            '%' => "%25".to_string(),
            '#' => "%23".to_string(),
            '<' => "%3C".to_string(),
            '>' => "%3E".to_string(),
            '"' => "'".to_string(),
            c => c.to_string(),
        })
        .collect();
    format!("data:image/svg+xml,{escaped}")
}

/// The sign-in flow this form belonged to is gone (expired, or ended in another tab): say so and
/// go back to the start of `/login`, with or without JavaScript.
#[cfg(feature = "ssr")]
fn flow_expired(st: &ctx::AppState, field: &str) {
    login_failed(
        st,
        field,
        gatehouse_core::flows::login::LoginError::WrongStep,
        None,
    );
    ctx::back_to("/login");
}

/// The flow ended signed in: the new session cookie, then the profile — or, when an
/// application sent the person here (issue 13), back to finish its authorization request; or
/// (F7) when their organizations no longer allow their method, the Security tab, which says so.
#[cfg(feature = "ssr")]
async fn signed_in(st: &ctx::AppState, token: &gatehouse_core::mechanisms::secret::Secret) {
    ctx::set_session_cookie(st, token);
    if ctx::authorization_waiting(st) {
        leptos_axum::redirect("/oauth2/continue");
        return;
    }
    match method_change_needed(st, token).await {
        Some(words) => {
            ctx::notice(st, super::security::FORM, words);
            leptos_axum::redirect("/profile/security");
        }
        None => leptos_axum::redirect("/profile"),
    }
}

/// F7: the words asking the person to change their method, if their organizations want it. A
/// fault here never stops the sign-in (it is logged; the next sign-in asks again).
#[cfg(feature = "ssr")]
async fn method_change_needed(
    st: &ctx::AppState,
    token: &gatehouse_core::mechanisms::secret::Secret,
) -> Option<String> {
    let deps = &st.deps;
    let session = match gatehouse_core::flows::caller::session(deps, token.expose()).await {
        Ok(s) => s?,
        Err(e) => {
            let _ = internal(e);
            return None;
        }
    };
    match gatehouse_core::flows::orgs::method_change_needed(deps, &session).await {
        Ok(words) => words,
        Err(e) => {
            let _ = internal(e);
            None
        }
    }
}

#[cfg(feature = "ssr")]
fn login_failed(
    st: &ctx::AppState,
    field: &str,
    e: gatehouse_core::flows::login::LoginError,
    keep: Option<(&str, &str)>,
) {
    ctx::fail(st, "login", field, &e, keep.as_slice());
}

/// Step 1 (E2): always moves on to the password step when the address is well-formed.
/// O7: `authz` names the application's request the page showed; the sign-in is bound to it,
/// and a request parked since (another tab, a popup) is said instead of signed in to.
#[server(endpoint = "login_email")]
pub async fn login_email(
    email: String,
    #[server(default)] authz: String,
) -> Result<(), ServerFnError> {
    use gatehouse_core::flows::oidc;
    let st = ctx::state()?;
    let session = ctx::session(&st).await?;
    let parked = ctx::parked_authorization(&st);
    if let Some(p) = &parked {
        if !authz.is_empty() && !oidc::sign_in_shows_request(&st.deps, p, &authz) {
            ctx::fail(
                &st,
                "login",
                "email",
                &gatehouse_core::flows::login::LoginError::OtherRequest,
                &[("email", &email)],
            );
            ctx::back_to("/login");
            return Ok(());
        }
    }
    // Bound only to a request the page named: one parked after a page that showed none is
    // not this sign-in's (it ends on the "request changed" page).
    let bound = parked
        .as_deref()
        .filter(|_| !authz.is_empty())
        .map(oidc::request_digest);
    match gatehouse_core::flows::login::submit_email(
        &st.deps,
        session.as_ref(),
        &email,
        bound.as_deref(),
        &ctx::client(),
    )
    .await
    {
        Ok(token) => ctx::set_session_cookie(&st, &token),
        Err(e) => login_failed(&st, "email", e, Some(("email", &email))),
    }
    ctx::back_to("/login");
    Ok(())
}

#[server(endpoint = "login_password")]
pub async fn login_password(password: String) -> Result<(), ServerFnError> {
    use gatehouse_core::flows::login::PasswordOutcome;
    let st = ctx::state()?;
    let Some(session) = ctx::session(&st).await? else {
        flow_expired(&st, "password");
        return Ok(());
    };
    match gatehouse_core::flows::login::submit_password(
        &st.deps,
        &session,
        &password,
        &ctx::client(),
    )
    .await
    {
        Ok(PasswordOutcome::CodeSent(token)) => ctx::set_session_cookie(&st, &token),
        // E1: an unverified account gets the same "incorrect" (core's words carry the hint).
        Err(e) => login_failed(&st, "password", e, None),
    }
    ctx::back_to("/login");
    Ok(())
}

#[server(endpoint = "login_code")]
pub async fn login_code(code: String) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(session) = ctx::session(&st).await? else {
        flow_expired(&st, "code");
        return Ok(());
    };
    match gatehouse_core::flows::login::verify_code(&st.deps, &session, &code, &ctx::client()).await
    {
        Ok(outcome) => code_passed(&st, outcome).await,
        Err(e) => {
            // The code is never echoed back (the flash is a cookie; a code is a secret).
            login_failed(&st, "code", e, None);
            ctx::back_to("/login");
        }
    }
    Ok(())
}

/// A second factor answered: signed in, or on to the recovery codes or to setting up a pending
/// factor (M13), each under its new session id.
#[cfg(feature = "ssr")]
async fn code_passed(st: &ctx::AppState, outcome: gatehouse_core::flows::login::CodeOutcome) {
    use gatehouse_core::flows::login::CodeOutcome;
    match outcome {
        CodeOutcome::SignedIn(token) => signed_in(st, &token).await,
        CodeOutcome::ShowRecoveryCodes(token) | CodeOutcome::SetUpNext(token) => {
            ctx::set_session_cookie(st, &token);
            ctx::back_to("/login");
        }
    }
}

#[server(endpoint = "resend_code")]
pub async fn resend_code() -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(session) = ctx::session(&st).await? else {
        flow_expired(&st, "code");
        return Ok(());
    };
    match gatehouse_core::flows::login::resend_code(&st.deps, &session).await {
        Ok(()) => {
            ctx::notice(&st, "login", "We sent you a new code.");
        }
        Err(e) => login_failed(&st, "code", e, None),
    }
    ctx::back_to("/login");
    Ok(())
}

/// M6: a recovery code instead of the authenticator.
#[server(endpoint = "login_recovery")]
pub async fn login_recovery(recovery_code: String) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(session) = ctx::session(&st).await? else {
        flow_expired(&st, "recovery_code");
        return Ok(());
    };
    match gatehouse_core::flows::login::use_recovery_code(
        &st.deps,
        &session,
        &recovery_code,
        &ctx::client(),
    )
    .await
    {
        Ok(outcome) => code_passed(&st, outcome).await,
        Err(e) => {
            login_failed(&st, "recovery_code", e, None);
            ctx::back_to("/login?recovery=1");
        }
    }
    Ok(())
}

/// "I have saved these codes": ends the one showing of the recovery codes and signs in.
#[server(endpoint = "ack_recovery_codes")]
pub async fn ack_recovery_codes() -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(session) = ctx::session(&st).await? else {
        flow_expired(&st, "codes");
        return Ok(());
    };
    match gatehouse_core::flows::login::acknowledge_recovery_codes(
        &st.deps,
        &session,
        &ctx::client(),
    )
    .await
    {
        Ok(token) => signed_in(&st, &token).await,
        Err(e) => {
            login_failed(&st, "codes", e, None);
            ctx::back_to("/login");
        }
    }
    Ok(())
}

/// Abandons the current sign-in flow (e.g. "Use another email").
#[server(endpoint = "login_restart")]
pub async fn login_restart() -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    ctx::abandon_flow(&st).await?;
    ctx::back_to("/login");
    Ok(())
}

/// S4: sign-out deletes the server session, then returns to the sign-in page.
#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    if let Some(s) = ctx::session(&st).await? {
        gatehouse_core::flows::login::sign_out(&st.deps, &s, &ctx::client())
            .await
            .map_err(internal)?;
    }
    ctx::clear_session_cookie(&st);
    leptos_axum::redirect("/login");
    Ok(())
}
