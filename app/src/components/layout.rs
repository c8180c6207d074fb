//! Page frame: banner, main landmark and footer on every page, and the centred card used by the
//! sign-in and registration pages.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SiteHeader(#[prop(optional)] children: Option<Children>) -> impl IntoView {
    view! {
        <header class="site-header">
            <a class="brand" href="/">
                <span class="brand__mark" aria-hidden="true">"◆"</span>
                " Gatehouse"
            </a>
            {children.map(|c| c())}
        </header>
    }
}

#[component]
pub fn SiteFooter() -> impl IntoView {
    view! {
        <footer class="site-footer">
            <p>"Gatehouse — your account, your keys."</p>
        </footer>
    }
}

/// A centred card with a heading, for the signed-out pages.
#[component]
pub fn AuthCard(
    #[prop(into)] title: String,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <Title text=title.clone() />
        <SiteHeader />
        <main class="auth" id="main">
            <section class="card" aria-labelledby="page-title">
                <h1 id="page-title">{title}</h1>
                {children.map(|c| c())}
            </section>
        </main>
        <SiteFooter />
    }
}
