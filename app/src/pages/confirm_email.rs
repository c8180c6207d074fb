//! `/confirm-email?token=…`: the page the links of support's email change open (one went to
//! the new address, one to the address in use). Opening it changes nothing (E4); it says whose
//! address changes to what, and only its button (**Confirm my new email** or **Confirm the
//! change**, a POST) confirms; the address changes once both have.

use crate::api::accounts::{get_email_change_view, ConfirmEmailChange};
use crate::components::{
    failed_card, server_view, AuthCard, FormMessage, PostForm, ServerFn, SubmitButton,
};
use crate::wire::EmailChangeView;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

const TITLE: &str = "Confirm your new email";

#[component]
pub fn ConfirmEmailPage() -> impl IntoView {
    let token = use_query_map()
        .get_untracked()
        .get("token")
        .unwrap_or_default();
    server_view(get_email_change_view(token.clone()), move |r| match r {
        Ok(v) if v.live => confirm(v, token).into_any(),
        Ok(v) => done_or_dead(v).into_any(),
        Err(e) => failed_card(TITLE, e),
    })
}

fn confirm(v: EmailChangeView, token: String) -> impl IntoView {
    let label = if v.to_current {
        "Confirm the change"
    } else {
        "Confirm my new email"
    };
    view! {
        <AuthCard title=TITLE>
            <FormMessage error=v.flash.form_error.clone() />
            <p>
                "Support was asked to change the email of " <strong>{v.name}</strong> "'s account from "
                {v.old_email} " to " <strong>{v.new_email}</strong> "."
            </p>
            <p>"Nothing changes until both addresses confirm. This link works until " {v.expires_at} "."</p>
            <PostForm to=ConfirmEmailChange::url()>
                <input type="hidden" name="token" value=token />
                <SubmitButton label=label />
            </PostForm>
            <p class="card__aside">"If you did not ask for this, close this page: nothing will change."</p>
        </AuthCard>
    }
}

fn done_or_dead(v: EmailChangeView) -> impl IntoView {
    let error = match (&v.flash.notice, &v.flash.form_error) {
        (Some(_), _) => None,
        (None, Some(e)) => Some(e.clone()),
        (None, None) => Some("This link is invalid, was already used or has expired.".to_string()),
    };
    view! {
        <AuthCard title=TITLE>
            <FormMessage error=error notice=v.flash.notice.clone() />
            <p><a class="button" href="/login">"Go to sign-in"</a></p>
        </AuthCard>
    }
}
