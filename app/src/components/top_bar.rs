//! The signed-in top bar: initials and name as a menu button with **My Profile** and **Sign out**.
//! Without JavaScript the menu opens on focus (CSS `:focus-within`) and Sign out is a plain form.

use crate::api::SignOut;
use crate::components::SiteHeader;
use crate::wire::Me;
use leptos::prelude::*;

#[component]
pub fn TopBar(me: Me) -> impl IntoView {
    let (open, set_open) = signal(false);
    let sign_out = ServerAction::<SignOut>::new();
    view! {
        <SiteHeader>
            <nav class="user-menu" aria-label="Account">
                <button
                    type="button"
                    class="user-menu__button"
                    aria-haspopup="menu"
                    aria-expanded=move || if open.get() { "true" } else { "false" }
                    aria-controls="user-menu-items"
                    on:click=move |_| set_open.update(|o| *o = !*o)
                >
                    <span class="avatar avatar--small" aria-hidden="true">{me.initials()}</span>
                    <span class="user-menu__name">{me.display_name()}</span>
                </button>
                <ul class="user-menu__items" class:open=open id="user-menu-items" role="menu">
                    <li role="none">
                        <a role="menuitem" href="/profile">"My Profile"</a>
                    </li>
                    <li role="none">
                        <ActionForm action=sign_out>
                            <button type="submit" role="menuitem" class="user-menu__signout">"Sign out"</button>
                        </ActionForm>
                    </li>
                </ul>
            </nav>
        </SiteHeader>
    }
}
