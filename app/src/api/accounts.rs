//! Server functions of registration, email verification and the signed-in person:
//! thin adapters to `gatehouse_core::flows::accounts`.
//!
//! - E1: registering answers "check your email" whether or not the address has an account.
//! - E4: opening the emailed link only reads it (`verify_view`); the address is verified by the
//!   POST of the page's button (`verify_email`), so a mail scanner that follows links verifies
//!   nothing, and the page says who registered, so a person who did not create the account
//!   knows not to confirm it.

// A server function takes one argument per form field, and the registration form has eight
// (the browser-side stub the macro makes for `hydrate` does not carry an item attribute).
#![allow(clippy::too_many_arguments)]

#[cfg(feature = "ssr")]
use crate::server_ctx::{self as ctx, internal};
use crate::wire::{EmailChangeView, Me, RegisterView, VerifyView};
use leptos::prelude::*;

#[server(endpoint = "register_view")]
pub async fn get_register_view() -> Result<RegisterView, ServerFnError> {
    let st = ctx::state()?;
    Ok(RegisterView {
        min_length: st.deps.settings.password.min_length,
        sms_country_codes: st.deps.settings.sms_country_codes.clone(),
        flash: ctx::take_flash(&st, "register"),
    })
}

/// E1: "check your email" whether or not the address already has an account.
#[server(endpoint = "register")]
pub async fn register(
    email: String,
    first_name: String,
    last_name: String,
    password: String,
    confirm: String,
    mfa_method: Option<String>,
    #[server(default)] phone: String,
    #[server(default)] invitation: String,
) -> Result<(), ServerFnError> {
    use gatehouse_core::flows::accounts::{self, Registration};
    let st = ctx::state()?;
    let r = Registration {
        email,
        first_name,
        last_name,
        password,
        confirm,
        mfa_method: mfa_method.unwrap_or_default(),
        phone,
        invitation,
    };
    match accounts::register(&st.deps, &r, &ctx::client()).await {
        Ok(()) => {
            ctx::notice(
                &st,
                "register",
                format!(
                    "Check your email. If {} can receive mail, a link to confirm it is on its way.",
                    r.email.trim()
                ),
            );
        }
        Err(e) => {
            ctx::fail(&st, "register", "email", &e, &r.typed());
        }
    }
    ctx::back_to("/register");
    Ok(())
}

/// M5: the signed-in person, or `None` for anonymous and partial sessions.
#[server(endpoint = "me")]
pub async fn current_user() -> Result<Option<Me>, ServerFnError> {
    let st = ctx::state()?;
    let Some(session) = ctx::session(&st).await? else {
        return Ok(None);
    };
    let u = gatehouse_core::flows::caller::me(&st.deps, &session)
        .await
        .map_err(internal)?;
    Ok(u.map(Me::from))
}

#[server(endpoint = "verify_view")]
pub async fn get_verify_view(token: String) -> Result<VerifyView, ServerFnError> {
    let st = ctx::state()?;
    let flash = ctx::take_flash(&st, "verify");
    let pending = gatehouse_core::flows::accounts::pending_verification(&st.deps, &token)
        .await
        .map_err(internal)?;
    Ok(match pending {
        Some(p) => VerifyView {
            live: true,
            email: p.user.email.to_string(),
            name: p.user.display_name(),
            registered_at: gatehouse_core::values::clock::format_utc(p.registered_at),
            flash,
        },
        None => VerifyView {
            flash,
            ..VerifyView::default()
        },
    })
}

/// E4: the button on the verification page; then the sign-in page says the address is verified.
#[server(endpoint = "verify_email")]
pub async fn verify_email(token: String) -> Result<(), ServerFnError> {
    use gatehouse_core::flows::accounts::VerifyError;
    let st = ctx::state()?;
    match gatehouse_core::flows::accounts::verify_email(&st.deps, &token, &ctx::client()).await {
        Ok(()) => {
            // A sign-in begun before the address was verified starts again from the email
            // step, where the page says the address is verified.
            ctx::abandon_flow(&st).await?;
            leptos_axum::redirect("/login?verify=ok")
        }
        Err(VerifyError::Invalid) => leptos_axum::redirect("/login?verify=invalid"),
        Err(e) => return Err(internal(e)),
    }
    Ok(())
}

/// Support's email change: what the emailed link would change (opening it changes nothing, E4).
#[server(endpoint = "email_change_view")]
pub async fn get_email_change_view(token: String) -> Result<EmailChangeView, ServerFnError> {
    let st = ctx::state()?;
    let flash = ctx::take_flash(&st, "email_change");
    let pending = gatehouse_core::flows::email_change::pending(&st.deps, &token)
        .await
        .map_err(internal)?;
    Ok(match pending {
        Some(p) => EmailChangeView {
            live: true,
            to_current: p.side == gatehouse_core::flows::email_change::Side::Current,
            name: p.user.display_name(),
            old_email: p.user.email.masked(),
            new_email: p.new_email.to_string(),
            expires_at: gatehouse_core::values::clock::format_utc(p.expires_at),
            flash,
        },
        None => EmailChangeView {
            flash,
            ..EmailChangeView::default()
        },
    })
}

/// The button on the confirmation page: this address confirms; the address changes when both
/// have.
#[server(endpoint = "confirm_email_change")]
pub async fn confirm_email_change(token: String) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    use gatehouse_core::flows::email_change::{Confirmed, Side};
    match gatehouse_core::flows::email_change::confirm(&st.deps, &token, &ctx::client()).await {
        Ok(done) => {
            let text = match done {
                Confirmed::Changed(new) => {
                    format!("Your email address is now {new}. Use it to sign in.")
                }
                Confirmed::Waiting(Side::New) => "Thank you. The address in use now must confirm too; nothing changes until it does.".to_string(),
                Confirmed::Waiting(Side::Current) => "Thank you. The new address must confirm too; nothing changes until it does.".to_string(),
            };
            ctx::notice(&st, "email_change", text);
        }
        Err(e) => {
            ctx::fail(&st, "email_change", "token", &e, &[]);
        }
    }
    ctx::back_to("/confirm-email");
    Ok(())
}
