//! `/profile`: the signed-in home (Dashboard). Only an authenticated session gets here (M5); any
//! other visitor is sent to `/login`.

use crate::api::current_user;
use crate::components::{SiteFooter, TopBar};
use crate::wire::Me;
use leptos::prelude::*;
use leptos_meta::Title;
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
    view! {
        <Title text="Your account" />
        <TopBar me=me />
        <main class="page" id="main">
            <h1>"Your account"</h1>
            <nav class="tabs" aria-label="Profile sections">
                <div role="tablist" aria-label="Profile sections">
                    <a role="tab" href="/profile" aria-selected="true" aria-current="page" class="tabs__tab tabs__tab--active">"Dashboard"</a>
                </div>
            </nav>
            <section class="panel" role="tabpanel" aria-labelledby="dash-title">
                <h2 id="dash-title">{format!("Welcome, {name}")}</h2>
                <dl class="facts">
                    <div><dt>"Email"</dt><dd>{email}</dd></div>
                    <div><dt>"Sign-in codes"</dt><dd>"By email"</dd></div>
                </dl>
            </section>
        </main>
        <SiteFooter />
    }
}
