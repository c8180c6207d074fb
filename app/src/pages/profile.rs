//! `/profile`: the signed-in home (Dashboard). Only an authenticated session gets here (M5); any
//! other visitor is sent to `/login`.

use crate::api::current_user;
use crate::components::ProfileFrame;
use crate::wire::Me;
use leptos::prelude::*;
use leptos_router::components::Redirect;

#[component]
pub fn ProfilePage() -> impl IntoView {
    let me = Resource::new(|| (), |_| current_user());
    view! {
        <Transition fallback=|| ()>
            {move || {
                me.get()
                    .map(|r| match r {
                        Ok(Some(me)) => dashboard(me).into_any(),
                        _ => view! { <Redirect path="/login" /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

fn dashboard(me: Me) -> impl IntoView {
    let name = me.first_name.clone();
    let email = me.email.clone();
    let codes = match me.mfa_method.as_str() {
        "totp" => "From your authenticator app",
        "sms" => "By text message",
        _ => "By email",
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
