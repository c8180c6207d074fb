//! The signed-in top bar: the avatar (or initials) and name as a menu button with **My Profile**,
//! one item per organization (its name), **Organizations** and **Sign out**.
//! Without JavaScript the menu opens on focus (CSS `:focus-within`) and Sign out is a plain form;
//! the [`UserMenu`] island adds the button's open/closed state (`aria-expanded`) and Escape.

use crate::api::login::SignOut;
use crate::components::avatar::avatar_view;
use crate::components::SiteHeader;
use crate::wire::Me;
use gatehouse_core::values::photo::AvatarSize;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

#[component]
pub fn TopBar(me: Me) -> impl IntoView {
    view! {
        <SiteHeader>
            <UserMenu initials=me.initials() name=me.display_name() avatar=me.avatar_url(AvatarSize::Small)
                orgs=me.orgs.iter().map(|o| (o.name.clone(), o.href())).collect() />
        </SiteHeader>
    }
}

#[island]
fn UserMenu(
    initials: String,
    name: String,
    avatar: Option<String>,
    /// The person's organizations: (name, link).
    orgs: Vec<(String, String)>,
) -> impl IntoView {
    let (open, set_open) = signal(false);
    view! {
        <nav
            class="user-menu"
            aria-label="Account"
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    set_open.set(false);
                }
            }
        >
            <button
                type="button"
                class="user-menu__button"
                aria-haspopup="menu"
                aria-expanded=move || if open.get() { "true" } else { "false" }
                aria-controls="user-menu-items"
                on:click=move |_| set_open.update(|o| *o = !*o)
            >
                {avatar_view(avatar, initials, AvatarSize::Small, "")}
                <span class="user-menu__name">{name}</span>
            </button>
            <ul class="user-menu__items" class:open=open id="user-menu-items" role="menu">
                <li role="none">
                    <a role="menuitem" href="/profile">"My Profile"</a>
                </li>
                {orgs.into_iter().map(|(name, href)| view! {
                    <li role="none"><a role="menuitem" href=href>{name}</a></li>
                }).collect_view()}
                <li role="none">
                    <a role="menuitem" href="/orgs">"Organizations"</a>
                </li>
                <li role="none">
                    <form method="post" action=SignOut::url()>
                        <button type="submit" role="menuitem" class="user-menu__signout">"Sign out"</button>
                    </form>
                </li>
            </ul>
        </nav>
    }
}
