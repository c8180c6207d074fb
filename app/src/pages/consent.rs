//! `/oauth2/consent`: a third-party application asks to use the person's account (issue 13,
//! O5). It names the application and, in words, what it will see; **Allow** and **Deny** post
//! to `/oauth2/consent` (a plain form, no script), whose answer returns to the application.

use crate::api::oidc::get_consent_view;
use crate::components::{failed_card, server_view, AuthCard, FormMessage, PostForm, SubmitButton};
use crate::wire::ConsentView;
use leptos::prelude::*;

pub(crate) const EXPIRED: &str = "This sign-in request has expired";

/// Nothing waits for this browser (expired, answered, or never started): the way back.
pub(crate) fn expired_card() -> AnyView {
    view! {
        <AuthCard title=EXPIRED>
            <FormMessage error=Some("Go back to the application and sign in again.".to_string()) />
        </AuthCard>
    }
    .into_any()
}

#[component]
pub fn ConsentPage() -> impl IntoView {
    server_view(get_consent_view(), |r| match r {
        Ok(v) if v.live => ask(v).into_any(),
        Ok(_) => expired_card(),
        Err(e) => failed_card(EXPIRED, e),
    })
}

fn ask(v: ConsentView) -> impl IntoView {
    let title = format!("Allow {} to use your account?", v.client_name);
    view! {
        <AuthCard title=title>
            <p>{v.client_name.clone()} " will see:"</p>
            <ul class="consent__claims">
                {v.claims.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}
            </ul>
            <PostForm to="/oauth2/consent" class="consent__actions">
                // O7: the answer names the request it was shown for.
                <input type="hidden" name="request" value=v.request />
                <SubmitButton label="Allow" name=Some("decision".to_string()) value="allow" />
                <SubmitButton label="Deny" secondary=true name=Some("decision".to_string()) value="deny" />
            </PostForm>
            <p class="card__aside">"You can remove its access at any time on the Security tab."</p>
        </AuthCard>
    }
}
