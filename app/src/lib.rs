//! Gatehouse UI: Leptos components and the thin server functions behind them.
//!
//! Islands (Leptos `islands` mode): every page, its layout and its forms are server-only
//! components, rendered once on the server and never re-run in the browser. Only the few
//! `#[island]`s that need the browser (the password field's toggle and live hints, the account
//! menu, the tabs' arrow keys) are compiled into the WASM with the `hydrate` feature and wake up
//! after it loads. Every form is a plain POST answered with a redirect, so it works the same
//! before, after and without the WASM.

// The pages' view types nest deeply (tables of forms); the default limit (128) is too low
// for the release build's layout queries.
#![recursion_limit = "256"]

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
    confirm_email::ConfirmEmailPage, consent::ConsentPage, details::ProfileDetailsPage,
    forgot::ForgotPasswordPage, gallery::GalleryPage, invitation::InvitationPage, login::LoginPage,
    not_found::NotFound, oidc_reauth::OidcReauthPage, org::OrgInvitationsPage, org::OrgMembersPage,
    org::OrgSettingsPage, orgs::OrgsPage, profile::ProfilePage, register::RegisterPage,
    reset::ResetPasswordPage, security::SecurityPage, support::SupportPage,
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
                <IslandLoader options=options.clone() />
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

/// Loads the WASM only on a page that has an island, once the browser is idle, and wakes each
/// island; a page without one (the sign-in page's first step, among others) never downloads it.
/// Nothing is preloaded, so the WASM never competes with the page itself. The loader marks
/// `<html data-hydrated>` (`true`, or `none` on a page without islands) for the tests.
#[component]
fn IslandLoader(options: LeptosOptions) -> impl IntoView {
    // Islands mode: the page itself renders as not hydrating (only islands opt back in).
    if let Some(sc) = Owner::current_shared_context() {
        sc.set_is_hydrating(false);
    }
    let name = options.output_name.to_string();
    // cargo-leptos names the WASM after the output; a plain cargo build adds `_bg`.
    let wasm = match option_env!("LEPTOS_OUTPUT_NAME") {
        Some(_) => name.clone(),
        None => format!("{name}_bg"),
    };
    let pkg = format!("/{}", options.site_pkg_dir);
    let script = format!(
        r#"const islands = document.querySelectorAll("leptos-island");
const done = (how) => {{ document.documentElement.dataset.hydrated = how; }};
if (islands.length === 0) {{ done("none"); }} else {{
  const wake = async () => {{
    const mod = await import("{pkg}/{name}.js");
    await mod.default({{ module_or_path: "{pkg}/{wasm}.wasm" }});
    mod.hydrate();
    for (const el of islands) {{ mod[el.dataset.component]?.(el); }}
    done("true");
  }};
  if ("requestIdleCallback" in window) {{ requestIdleCallback(wake); }} else {{ wake(); }}
}}"#
    );
    view! { <script type="module" nonce=leptos::nonce::use_nonce()>{script}</script> }
}

/// Called by the WASM entry point so that the linker keeps this crate's island exports.
pub fn islands_linked() {}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
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
                <Route path=path!("/confirm-email") view=ConfirmEmailPage ssr=SsrMode::Async />
                <Route path=path!("/oauth2/consent") view=ConsentPage ssr=SsrMode::Async />
                <Route path=path!("/oauth2/reauthenticate") view=OidcReauthPage ssr=SsrMode::Async />
                <Route path=path!("/profile") view=ProfilePage ssr=SsrMode::Async />
                <Route path=path!("/profile/details") view=ProfileDetailsPage ssr=SsrMode::Async />
                <Route path=path!("/profile/security") view=SecurityPage ssr=SsrMode::Async />
                <Route path=path!("/orgs") view=OrgsPage ssr=SsrMode::Async />
                <Route path=path!("/orgs/:slug") view=OrgMembersPage ssr=SsrMode::Async />
                <Route path=path!("/orgs/:slug/invitations") view=OrgInvitationsPage ssr=SsrMode::Async />
                <Route path=path!("/orgs/:slug/settings") view=OrgSettingsPage ssr=SsrMode::Async />
                <Route path=path!("/invitation") view=InvitationPage ssr=SsrMode::Async />
                <Route path=path!("/support") view=SupportPage ssr=SsrMode::Async />
                <Route path=path!("/dev/gallery") view=GalleryPage />
            </Routes>
        </Router>
    }
}
