//! Server functions: thin adapters from forms to `gatehouse_core`'s flows, one module per flow
//! (`core/src/flows/<flow>.rs` ↔ `app/src/api/<flow>.rs`).
//!
//! Each one reads the session from the cookie (never a user id from arguments), calls core once,
//! and reports a refusal with `ctx::fail` (core says where its message goes). Endpoint names are
//! stable (`/api/<name>`): the no-JS forms post to them directly.

pub mod accounts;
pub mod login;
pub mod oidc;
pub mod orgs;
pub mod profile;
pub mod recovery;
pub mod security;
pub mod support;

/// A short, readable name for a browser from its User-Agent.
#[cfg(feature = "ssr")]
pub(crate) fn device(ua: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(k, _)| ua.contains(k))
    .map(|(_, v)| *v);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("Windows", "Windows"),
        ("Mac OS", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(k, _)| ua.contains(k))
    .map(|(_, v)| *v);
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_string(),
        (None, Some(o)) => o.to_string(),
        (None, None) => "Unknown browser".to_string(),
    }
}
