//! Server functions of the OpenID Connect pages (issue 13): the consent page's content. The
//! decision itself posts to `/oauth2/consent` (server/src/oidc.rs), whose answer moves the
//! browser on to the application without a cross-origin redirect after a form post.

#[cfg(feature = "ssr")]
use crate::server_ctx::{self as ctx, internal};
use crate::wire::{ConsentView, OidcReauthView};

/// The flash of the "sign in again" page (O8).
#[cfg(feature = "ssr")]
pub(crate) const FORM: &str = "oidc_reauth";
/// Where it lives.
#[cfg(feature = "ssr")]
pub(crate) const PAGE: &str = "/oauth2/reauthenticate";
/// The `tab` its re-authentication forms post (see `api::security::back_for`).
pub const TAB: &str = "oauth";
use leptos::prelude::*;

#[server(endpoint = "consent_view")]
pub async fn get_consent_view() -> Result<ConsentView, ServerFnError> {
    let st = ctx::state()?;
    let Some((session, _)) = ctx::signed_in(&st).await? else {
        return Ok(ConsentView::default());
    };
    let Some(parked) = ctx::parked_authorization(&st) else {
        return Ok(ConsentView::default());
    };
    let view = gatehouse_core::flows::oidc::consent_view(&st.deps, &session, &parked)
        .await
        .map_err(internal)?;
    Ok(match view {
        Some(v) => ConsentView {
            live: true,
            client_name: v.client_name,
            claims: v.claims.into_iter().map(String::from).collect(),
            request: v.request,
        },
        None => ConsentView::default(),
    })
}

/// O8: the "sign in again" page's content. `None`: nothing waits (not signed in, or no request).
#[server(endpoint = "oidc_reauth_view")]
pub async fn get_oidc_reauth_view() -> Result<Option<OidcReauthView>, ServerFnError> {
    let st = ctx::state()?;
    let Some((session, _)) = ctx::signed_in(&st).await? else {
        return Ok(None);
    };
    let Some(parked) = ctx::parked_authorization(&st) else {
        return Ok(None);
    };
    let prompt = gatehouse_core::flows::oidc::reauth_prompt(&st.deps, &session, &parked)
        .await
        .map_err(internal)?;
    Ok(prompt.map(|p| OidcReauthView {
        live: true,
        client_name: p.client_name,
        reauth: crate::wire::ReauthView::of(p.reauth, st.deps.now()),
        request: p.request,
        flash: ctx::take_flash(&st, FORM),
    }))
}
