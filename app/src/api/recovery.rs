//! Server functions of "Forgot password?" and the reset page: thin adapters to
//! `gatehouse_core::flows::recovery`.
//!
//! - F1: every request to `forgot_password` is answered with the same text and status, after the
//!   same fixed deadline (`FORGOT_DEADLINE`), whether or not the address has an account.
//! - F4: the reset token comes from its HttpOnly cookie, never from the page or the URL.
//! - F5: a successful reset clears the cookie and points to sign-in; it never signs in.

#[cfg(feature = "ssr")]
use crate::server_ctx::{self as ctx, internal};
#[cfg(feature = "ssr")]
use crate::wire::Flash;
use crate::wire::{ForgotView, ResetView};
use leptos::prelude::*;

/// F1: the enumeration-safe answer, for every address.
pub const FORGOT_ANSWER: &str = "If an account exists for that email, we have sent instructions. The link expires in 30 minutes.";

/// F1: every answer leaves after this long, so timing tells nothing.
#[cfg(feature = "ssr")]
const FORGOT_DEADLINE: std::time::Duration = std::time::Duration::from_millis(500);

#[server(endpoint = "forgot_view")]
pub async fn get_forgot_view() -> Result<ForgotView, ServerFnError> {
    use crate::wire::ForgotStep;
    use gatehouse_core::mechanisms::sessions::SessionState;
    let st = ctx::state()?;
    let flash = ctx::take_flash(&st, "forgot");
    let settings = &st.deps.settings;
    let (mut step, mut email) = (ForgotStep::Request, String::new());
    match ctx::session(&st).await?.map(|s| s.state) {
        // Prefilled from the sign-in flow, so the address never travels in a URL.
        Some(SessionState::Identified { email: e }) => email = e,
        Some(SessionState::Recovering { email: e, .. }) => {
            step = ForgotStep::Code;
            email = e;
        }
        Some(SessionState::ResetAllowed { .. }) => step = ForgotStep::NewPassword,
        _ => {}
    }
    if flash.value("done") == "1" {
        step = ForgotStep::Done;
    }
    Ok(ForgotView {
        email,
        step,
        email_link: settings.recovery_email_link,
        sms_code: settings.sms_recovery(),
        min_length: settings.password.min_length,
        flash,
    })
}

/// F1/F7: the email link, or (`method` = "sms_code") a recovery flow with a code by text
/// message. Every answer is the same and leaves after the same deadline.
#[server(endpoint = "forgot_password")]
pub async fn forgot_password(
    email: String,
    #[server(default)] method: String,
) -> Result<(), ServerFnError> {
    use gatehouse_core::flows::recovery::{self, Forgot};
    let started = tokio::time::Instant::now();
    let st = ctx::state()?;
    let current = ctx::session(&st).await?;
    let sms = method == "sms_code";
    let keep = [("email", email.as_str()), ("method", &method)];
    match recovery::forgot(&st.deps, current.as_ref(), &email, sms, &ctx::client()).await {
        Ok(Forgot::SmsCode(token)) => {
            ctx::set_session_cookie(&st, &token);
            ctx::notice_keeping(&st, "forgot", sms_answer(), &keep);
        }
        Ok(Forgot::Link) => {
            ctx::notice_keeping(&st, "forgot", FORGOT_ANSWER, &keep);
        }
        Err(e) => {
            ctx::fail(&st, "forgot", "email", &e, &keep);
        }
    }
    tokio::time::sleep_until(started + FORGOT_DEADLINE).await;
    ctx::back_to("/forgot-password");
    Ok(())
}

/// F1 for the SMS way: the same words whether or not a phone exists.
#[cfg(feature = "ssr")]
fn sms_answer() -> String {
    format!(
        "If an account with a verified phone exists for that email, we have sent a six-digit code by text message. It expires in {} minutes. If your organization does not allow codes by text message, we emailed you what it allows instead.",
        crate::wire::Lifetimes::current().code_minutes
    )
}

/// F6: the code from the text message.
#[server(endpoint = "recover_code")]
pub async fn recover_code(code: String) -> Result<(), ServerFnError> {
    use gatehouse_core::flows::recovery::{sms, RecoveryError};
    let started = tokio::time::Instant::now();
    let st = ctx::state()?;
    // The code is never echoed back (it is a secret, and the flash travels in a cookie).
    let session = ctx::session(&st).await?;
    let r = match &session {
        Some(s) => sms::verify(&st.deps, s, &code, &ctx::client()).await,
        None => Err(RecoveryError::Expired),
    };
    // F1: a wrong, used-up or never-sent code, or a full window, all read the same (core
    // answers `CodeRefused` for each).
    match r {
        Ok(token) => ctx::set_session_cookie(&st, &token),
        Err(e) => {
            ctx::fail(&st, "forgot", "code", &e, &[]);
        }
    }
    // F1: this step too answers after the same deadline for every flow.
    tokio::time::sleep_until(started + FORGOT_DEADLINE).await;
    ctx::back_to("/forgot-password");
    Ok(())
}

/// F5/F6: the new password after a right code ("Proceed").
#[server(endpoint = "recover_reset")]
pub async fn recover_reset(password: String, confirm: String) -> Result<(), ServerFnError> {
    use gatehouse_core::flows::recovery::{sms, RecoveryError};
    let st = ctx::state()?;
    let session = ctx::session(&st).await?;
    let r = match &session {
        Some(s) => sms::reset(&st.deps, s, &password, &confirm, &ctx::client()).await,
        None => Err(RecoveryError::Expired),
    };
    match r {
        Ok(()) => {
            ctx::clear_session_cookie(&st);
            let mut f = Flash::for_form("forgot").with_value("done", "1");
            f.notice = Some("Your password has been reset.".into());
            ctx::write_flash(&st, &f);
        }
        Err(e) => {
            ctx::fail(&st, "forgot", "password", &e, &[]);
        }
    }
    ctx::back_to("/forgot-password");
    Ok(())
}

/// Abandons an SMS recovery flow ("Start again").
#[server(endpoint = "recover_restart")]
pub async fn recover_restart() -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    ctx::abandon_flow(&st).await?;
    ctx::back_to("/forgot-password");
    Ok(())
}

#[server(endpoint = "reset_view")]
pub async fn get_reset_view() -> Result<ResetView, ServerFnError> {
    let st = ctx::state()?;
    let link_live = match ctx::reset_token(&st) {
        Some(t) => gatehouse_core::flows::recovery::link_is_live(&st.deps, &t)
            .await
            .map_err(internal)?,
        None => false,
    };
    Ok(ResetView {
        link_live,
        min_length: st.deps.settings.password.min_length,
        flash: ctx::take_flash(&st, "reset"),
    })
}

/// F2/F5: the new password through the link; the link is used up and every session ends.
#[server(endpoint = "reset_password")]
pub async fn reset_password(password: String, confirm: String) -> Result<(), ServerFnError> {
    use gatehouse_core::flows::recovery;
    let st = ctx::state()?;
    let token = ctx::reset_token(&st).unwrap_or_default();
    match recovery::reset_password(&st.deps, &token, &password, &confirm, &ctx::client()).await {
        Ok(()) => {
            ctx::clear_reset_cookie(&st);
            ctx::notice(&st, "reset", "Your password has been reset.");
        }
        Err(e) => {
            ctx::fail(&st, "reset", "password", &e, &[]);
        }
    }
    ctx::back_to("/reset-password");
    Ok(())
}
