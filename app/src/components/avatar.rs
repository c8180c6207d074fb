//! The avatar: the person's picture (U2: served by the avatar route, never inline) or, without
//! one, their initials on a colour. One view for the top bar (inside the menu button, next to
//! the name, so the image itself is decorative) and the Dashboard (where it is named).

use crate::wire::Me;
use leptos::prelude::*;

/// The picture at `src`, or the initials when there is none.
pub fn avatar_view(
    src: Option<String>,
    initials: String,
    size: u32,
    alt: &'static str,
) -> impl IntoView {
    use leptos::either::Either;
    let class = if size <= 64 {
        "avatar avatar--small"
    } else {
        "avatar avatar--large"
    };
    // The top bar shows the 64-pixel picture at 32 CSS pixels (sharp on 2× screens).
    let shown = if size <= 64 { 32 } else { 160 };
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
pub fn AvatarImage(me: Me, size: u32) -> impl IntoView {
    avatar_view(
        me.avatar_url(size),
        me.initials(),
        size,
        "Your profile picture",
    )
}
