//! `/verify-email?token=…`: the page the emailed **Verify my email** link opens (E4). Opening
//! it changes nothing; it says who registered the address and when, and only its button
//! **Verify my email** (a POST) verifies. Someone who did not register is told to leave it.

use crate::api::accounts::{get_verify_view, VerifyEmail};
use crate::components::{
    failed_card, server_view, AuthCard, FormMessage, PostForm, ServerFn, SubmitButton,
};
use crate::wire::VerifyView;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let token = use_query_map()
        .get_untracked()
        .get("token")
        .unwrap_or_default();
    server_view(get_verify_view(token.clone()), move |r| match r {
        Ok(v) if v.live => confirm(v, token).into_any(),
        Ok(v) => dead(v).into_any(),
        Err(e) => failed_card("Verify your email", e),
    })
}

fn confirm(v: VerifyView, token: String) -> impl IntoView {
    view! {
        <AuthCard title="Verify your email">
            <FormMessage error=v.flash.form_error.clone() />
            <p>
                "An account for " <strong>{v.email}</strong> " was registered on " {v.registered_at}
                " with the name " <strong>{v.name}</strong> "."
            </p>
            <p>"If that was you, verify your address to finish."</p>
            <PostForm to=VerifyEmail::url()>
                <input type="hidden" name="token" value=token />
                <SubmitButton label="Verify my email" />
            </PostForm>
            <p class="card__aside">
                "If you did not create this account, do not verify it: close this page. Nobody can \
                 sign in with an address that was never verified, and the registration expires."
            </p>
        </AuthCard>
    }
}

fn dead(v: VerifyView) -> impl IntoView {
    view! {
        <AuthCard title="Verify your email">
            <FormMessage error=v.flash.form_error.clone().or_else(|| Some(
                "This verification link is invalid, was already used or has expired. Sign in to get a new one.".to_string()
            )) />
            <p><a class="button" href="/login">"Go to sign-in"</a></p>
        </AuthCard>
    }
}
