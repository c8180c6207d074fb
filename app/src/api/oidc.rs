//! Server functions of the OpenID Connect pages (issue 13): the consent page's content. The
//! decision itself posts to `/oauth2/consent` (server/src/oidc.rs), whose answer moves the
//! browser on to the application without a cross-origin redirect after a form post.

#[cfg(feature = "ssr")]
use crate::server_ctx::{self as ctx, internal};
use crate::wire::ConsentView;
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
