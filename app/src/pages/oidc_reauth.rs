//! `/oauth2/reauthenticate` (O8): an application asked for a newer sign-in (`prompt=login`,
//! `max_age`) than the person's. They prove it again — password, then a code from their
//! method — on the session they have: nothing is signed out, and leaving the page changes
//! nothing. Once it succeeds the request continues (`/oauth2/continue`).

use super::consent::{expired_card, EXPIRED};
use crate::api::oidc::{get_oidc_reauth_view, TAB};
use crate::components::{failed_card, server_view, AuthCard, FormMessage, ReauthBox};
use crate::wire::OidcReauthView;
use leptos::prelude::*;

#[component]
pub fn OidcReauthPage() -> impl IntoView {
    server_view(get_oidc_reauth_view(), |r| match r {
        Ok(Some(v)) if v.live => ask(v).into_any(),
        Ok(_) => expired_card(),
        Err(e) => failed_card(EXPIRED, e),
    })
}

fn ask(v: OidcReauthView) -> impl IntoView {
    let title = format!("Sign in again to continue to {}", v.client_name);
    let error = v.flash.form_error.clone();
    view! {
        <AuthCard title=title>
            <p>{format!("{} asks you to confirm it is you. You stay signed in whatever you do here.", v.client_name)}</p>
            <FormMessage error=error />
            <ReauthBox reauth=v.reauth flash=v.flash tab=TAB why="To continue" authz=v.request />
            <p class="card__aside"><a href="/profile">"Cancel and stay signed in"</a></p>
        </AuthCard>
    }
}
