//! Gatehouse UI: Leptos components and the thin server functions behind them.
//!
//! Built twice: with `ssr` into the server (rendering and server functions) and with `hydrate`
//! into the WASM that makes the same pages interactive. Every form works before the WASM loads.

pub mod api;
pub mod components;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod server_ctx;
pub mod wire;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, Meta, MetaTags, Stylesheet, Title};
use leptos_router::components::{Redirect, Route, Router, Routes};
use leptos_router::{path, SsrMode};
use pages::{
    forgot::ForgotPasswordPage, gallery::GalleryPage, login::LoginPage, not_found::NotFound,
    profile::ProfilePage, register::RegisterPage, reset::ResetPasswordPage, security::SecurityPage,
    verify::VerifyEmailPage,
};

/// The HTML document around the app (server side only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_security_headers();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// H1: CSP with a per-response nonce for the hydration script, no framing.
#[cfg(feature = "ssr")]
fn set_security_headers() {
    use http::header::{HeaderName, HeaderValue};
    let Some(res) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let nonce = leptos::nonce::use_nonce()
        .map(|n| format!(" 'nonce-{n}'"))
        .unwrap_or_default();
    let dev = use_context::<server_ctx::AppState>()
        .map(|s| !s.secure_cookies)
        .unwrap_or(false);
    let reload = if dev { " ws://127.0.0.1:3001" } else { "" };
    let csp = format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{nonce}; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'{reload}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        res.insert_header(HeaderName::from_static("content-security-policy"), v);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Tests wait for this marker before using the hydrated (JavaScript) path.
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    view! {
        <div id="app-state" hidden=true data-hydrated=move || if hydrated.get() { "true" } else { "false" }></div>
        <Stylesheet id="leptos" href="/pkg/gatehouse.css" />
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml" />
        <Title formatter=|t: String| if t.is_empty() { "Gatehouse".to_string() } else { format!("{t} · Gatehouse") } />
        <Meta name="description" content="Gatehouse account" />
        <Router>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=|| view! { <Redirect path="/login" /> } />
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                <Route path=path!("/register") view=RegisterPage ssr=SsrMode::Async />
                <Route path=path!("/forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async />
                <Route path=path!("/reset-password") view=ResetPasswordPage ssr=SsrMode::Async />
                <Route path=path!("/verify-email") view=VerifyEmailPage ssr=SsrMode::Async />
                <Route path=path!("/profile") view=ProfilePage ssr=SsrMode::Async />
                <Route path=path!("/profile/security") view=SecurityPage ssr=SsrMode::Async />
                <Route path=path!("/dev/gallery") view=GalleryPage />
            </Routes>
        </Router>
    }
}
