//! The 404 page.

use crate::components::AuthCard;
use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <AuthCard title="Page not found">
            <p>"There is nothing at this address."</p>
            <p><a href="/login">"Go to sign-in"</a></p>
        </AuthCard>
    }
}
