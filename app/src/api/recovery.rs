//! Server functions of "Forgot password?" and the reset page: thin adapters to
//! `gatehouse_core::recovery`.
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
    use gatehouse_core::sessions::SessionState;
    let st = ctx::state()?;
    let flash = ctx::take_flash(&st, "forgot");
    // Prefilled from the sign-in flow, so the address never travels in a URL.
    let email = match ctx::session(&st).await?.map(|s| s.state) {
        Some(SessionState::Identified { email }) => email,
        _ => String::new(),
    };
    Ok(ForgotView { email, flash })
}

#[server(endpoint = "forgot_password")]
pub async fn forgot_password(email: String) -> Result<(), ServerFnError> {
    use gatehouse_core::recovery::{self, RecoveryError};
    let started = tokio::time::Instant::now();
    let st = ctx::state()?;
    let mut f = Flash::for_form("forgot").with_value("email", &email);
    match recovery::request_reset(&st.deps, &email, &ctx::client()).await {
        Ok(()) => f.notice = Some(FORGOT_ANSWER.into()),
        Err(RecoveryError::Email(e)) => f = f.with_error("email", e.to_string()),
        Err(e @ RecoveryError::Limited { .. }) => f.form_error = Some(e.to_string()),
        Err(e) => {
            let _ = internal(&e);
            f.form_error = Some("Something went wrong on our side. Please try again.".into());
        }
    }
    ctx::write_flash(&st, &f);
    tokio::time::sleep_until(started + FORGOT_DEADLINE).await;
    ctx::back_to("/forgot-password");
    Ok(())
}

#[server(endpoint = "reset_view")]
pub async fn get_reset_view() -> Result<ResetView, ServerFnError> {
    let st = ctx::state()?;
    let link_live = match ctx::reset_token(&st) {
        Some(t) => gatehouse_core::recovery::link_is_live(&st.deps, &t)
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
    use gatehouse_core::recovery::{self, RecoveryError};
    let st = ctx::state()?;
    let token = ctx::reset_token(&st).unwrap_or_default();
    let mut f = Flash::for_form("reset");
    match recovery::reset_password(&st.deps, &token, &password, &confirm, &ctx::client()).await {
        Ok(()) => {
            ctx::clear_reset_cookie(&st);
            f.notice = Some("Your password has been reset.".into());
        }
        Err(RecoveryError::Invalid(e)) => {
            for (k, v) in [("password", e.password), ("confirm", e.confirm)] {
                if let Some(v) = v {
                    f = f.with_error(k, v);
                }
            }
        }
        Err(e @ (RecoveryError::LinkInvalid | RecoveryError::Limited { .. })) => {
            f.form_error = Some(e.to_string())
        }
        Err(RecoveryError::Busy) => {
            ctx::busy();
            f.form_error = Some("The server is busy. Try again in a moment.".into());
        }
        Err(e) => {
            let _ = internal(&e);
            f.form_error = Some("Something went wrong on our side. Please try again.".into());
        }
    }
    ctx::write_flash(&st, &f);
    ctx::back_to("/reset-password");
    Ok(())
}
