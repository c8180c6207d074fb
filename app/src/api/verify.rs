//! Server functions of the email-verification page (E4).
//!
//! - E4: opening the emailed link only reads it (`verify_view`); the address is verified by the
//!   POST of the page's button (`verify_email`), so a mail scanner that follows links verifies
//!   nothing, and the page says who registered, so a person who did not create the account
//!   knows not to confirm it.

#[cfg(feature = "ssr")]
use crate::server_ctx::{self as ctx, internal};
use crate::wire::VerifyView;
use leptos::prelude::*;

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
