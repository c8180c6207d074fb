//! Page frame: banner, main landmark and footer on every page, and the centred card used by the
//! sign-in and registration pages.

use leptos::prelude::*;

#[component]
pub fn SiteHeader(children: Children) -> impl IntoView {
    view! {
        <header class="site-header">
            <a class="brand" href="/">
                <span class="brand__mark" aria-hidden="true">"◆"</span>
                " Gatehouse"
            </a>
            {children()}
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
pub fn AuthCard(#[prop(into)] title: String, children: Children) -> impl IntoView {
    view! {
        <SiteHeader>{()}</SiteHeader>
        <main class="auth" id="main">
            <section class="card" aria-labelledby="page-title">
                <h1 id="page-title">{title}</h1>
                {children()}
            </section>
        </main>
        <SiteFooter />
    }
}
