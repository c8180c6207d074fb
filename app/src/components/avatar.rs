//! The avatar: the person's picture (U2: served by the avatar route, never inline) or, without
//! one, their initials on a colour. One view for the top bar (inside the menu button, next to
//! the name, so the image itself is decorative) and the Dashboard (where it is named).

use crate::wire::Me;
use gatehouse_core::values::photo::AvatarSize;
use leptos::prelude::*;

/// The picture at `src`, or the initials when there is none.
pub fn avatar_view(
    src: Option<String>,
    initials: String,
    size: AvatarSize,
    alt: &'static str,
) -> impl IntoView {
    use leptos::either::Either;
    let class = match size {
        AvatarSize::Small => "avatar avatar--small",
        AvatarSize::Large => "avatar avatar--large",
    };
    let shown = size.shown();
    // Either, not AnyView: the top bar's island stays small in the WASM.
    match src {
        Some(src) => {
            Either::Left(view! { <img class=class src=src alt=alt width=shown height=shown /> })
        }
        None => Either::Right(view! { <span class=class aria-hidden="true">{initials}</span> }),
    }
}

/// The Dashboard's large avatar.
#[component]
pub fn AvatarImage(me: Me, size: AvatarSize) -> impl IntoView {
    avatar_view(
        me.avatar_url(size),
        me.initials(),
        size,
        "Your profile picture",
    )
}
