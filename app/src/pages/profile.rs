//! `/profile`: the signed-in home (Dashboard). Only an authenticated session gets here (M5); any
//! other visitor is sent to `/login`.

use crate::api::accounts::current_user;
use crate::components::{server_view, ProfileFrame};
use crate::wire::Me;
use gatehouse_core::values::factors::MfaMethod;
use leptos::prelude::*;
use leptos_router::components::Redirect;

#[component]
pub fn ProfilePage() -> impl IntoView {
    server_view(current_user(), |r| match r {
        Ok(Some(me)) => dashboard(me).into_any(),
        _ => view! { <Redirect path="/login" /> }.into_any(),
    })
}

fn dashboard(me: Me) -> impl IntoView {
    let name = me.first_name.clone();
    let email = me.email.clone();
    let codes = match me.mfa_method {
        MfaMethod::Authenticator => "From your authenticator app",
        MfaMethod::Sms => "By text message",
        MfaMethod::Email => "By email",
    };
    view! {
        <ProfileFrame me=me active="/profile">
            <h2 id="dash-title">{format!("Welcome, {name}")}</h2>
            <dl class="facts">
                <div><dt>"Email"</dt><dd>{email}</dd></div>
                <div><dt>"Sign-in codes"</dt><dd>{codes} " · " <a href="/profile/security">"Change"</a></dd></div>
            </dl>
        </ProfileFrame>
    }
}
