//! The one page pattern: a page's whole view comes from one server function, awaited on the
//! server and rendered once (islands mode never re-renders it in the browser); every action is a
//! [`PostForm`] to its server function, whose redirect brings the page back with the outcome
//! (field errors, notice) in the signed flash.

use crate::components::{AuthCard, FormMessage};
use leptos::prelude::*;
use std::future::Future;

/// Renders `render(view)` once `load` (the page's view server function) has answered.
pub fn server_view<T, V>(
    load: impl Future<Output = T> + Send + 'static,
    render: impl FnOnce(T) -> V + Send + 'static,
) -> impl IntoView
where
    T: Send + 'static,
    V: IntoView + 'static,
{
    view! { <Suspense fallback=|| ()>{Suspend::new(async move { render(load.await) })}</Suspense> }
}

/// A signed-out page whose view could not be loaded: its card with the reason.
pub fn failed_card(title: &'static str, e: ServerFnError) -> AnyView {
    view! {
        <AuthCard title=title>
            <FormMessage error=Some(e.to_string()) />
        </AuthCard>
    }
    .into_any()
}

/// A form posting to a server function: `to` is its `ServerFn::url()` (`/api/<name>`). No
/// script needed, ever.
#[component]
pub fn PostForm(
    to: &'static str,
    #[prop(optional)] class: Option<&'static str>,
    /// A form with a file input posts `multipart/form-data`.
    #[prop(optional)]
    multipart: bool,
    children: Children,
) -> impl IntoView {
    let enctype = multipart.then_some("multipart/form-data");
    view! {
        <form method="post" action=to class=class enctype=enctype>
            {children()}
        </form>
    }
}
