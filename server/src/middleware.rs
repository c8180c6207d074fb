//! HTTP middleware: what every request passes through.
//!
//! - H1: security headers on every response (CSP itself is set per page with its nonce), HSTS
//!   when the public URL is https; `Referrer-Policy: same-origin` so no-JS form posts can return
//!   to their page while no URL ever leaks to another site.
//! - H2: state-changing requests must come from our own origin (`Sec-Fetch-Site`, `Origin`).
//! - Dev routes (`/dev/…`) answer 404 in production.
//! - H3: every request's `Host` must be one this instance serves (the public URL's, the listen
//!   address, and `localhost` in dev mode), so a DNS-rebinding page cannot read it through a
//!   name of its own; `/healthz` is exempt for load balancers.
//! - R2/R7: the client address is the peer, or — only from `trusted_proxies`, and only from the
//!   one header the operator named — the forwarded one.
//! - Request logs carry method, path (never the query: it may hold a token, G1), status, time.

use app::server_ctx::PeerIp;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::time::Instant;

/// H3: the CSP of pages without any script (the dev mailbox).
pub const NO_SCRIPT_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// H1: the CSP of every HTML answer that sets none itself — the pages the server writes
/// ([`card_page`]: OIDC errors, "Returning to the application", the logout question, busy and
/// too-large pages). No script at all; forms post only to us.
pub const CARD_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

#[derive(Clone)]
pub struct HttpPolicy {
    pub dev: bool,
    pub hsts: bool,
    /// H3: the `Host` values this instance answers (lowercase `host[:port]`).
    pub hosts: std::sync::Arc<Vec<String>>,
    /// R2/R7: proxies whose forwarded-for header (the named one) names the client.
    pub trusted_proxies: std::sync::Arc<gatehouse_core::values::netaddr::TrustedProxies>,
    /// Requests by route, status and time taken.
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// Y4: one permit per request being handled (`limits.max_concurrent_requests`).
    pub slots: std::sync::Arc<tokio::sync::Semaphore>,
    /// Y4: the longest a request may take (`limits.request_timeout_secs`).
    pub request_timeout: std::time::Duration,
}

impl HttpPolicy {
    /// H3: the public URL's authority and the listen address; in dev mode also `localhost`.
    pub fn allowed_hosts(public_url: &str, listen: SocketAddr, dev: bool) -> Vec<String> {
        let authority = public_url
            .split("://")
            .nth(1)
            .unwrap_or_default()
            .split('/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mut hosts = vec![authority.clone(), listen.to_string()];
        // A default port may be left out of Host.
        for (scheme, port) in [("https://", ":443"), ("http://", ":80")] {
            if public_url.starts_with(scheme) {
                if let Some(bare) = authority.strip_suffix(port) {
                    hosts.push(bare.to_string());
                } else if !authority.contains(':') || authority.ends_with(']') {
                    hosts.push(format!("{authority}{port}"));
                }
            }
        }
        if dev {
            hosts.push(format!("localhost:{}", listen.port()));
        }
        hosts
    }

    fn host_allowed(&self, req: &Request<Body>) -> bool {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()))
            .map(str::to_ascii_lowercase);
        host.is_some_and(|h| self.hosts.contains(&h))
    }
}

/// Every request gets an id: in the `X-Request-Id` response header and on every log line written
/// while it is handled (the `request` span), so a person's "it failed at 10:32, id 3f…" finds
/// the lines. It is made here, never taken from the caller, so it cannot be forged into the logs.
/// The request is also counted by route, status and time taken (metrics).
pub async fn policy(State(p): State<HttpPolicy>, req: Request<Body>, next: Next) -> Response {
    let id = gatehouse_core::mechanisms::secret::random_hex(8);
    let route = route_label(&req);
    let metrics = std::sync::Arc::clone(&p.metrics);
    let started = Instant::now();
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = bounded(p, req, next, span).await;
    metrics.request(&route, res.status().as_u16(), started.elapsed());
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

/// Y4: a full house answers 503 at once (liveness is always answered), and a request not
/// answered within the timeout — a client stalling mid-body, a backend that hangs — gets 503.
async fn bounded(p: HttpPolicy, req: Request<Body>, next: Next, span: tracing::Span) -> Response {
    use tracing::Instrument;
    let wants_html = accepts_html(&req);
    let permit = if req.uri().path() == "/healthz" {
        None
    } else {
        match std::sync::Arc::clone(&p.slots).try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                span.in_scope(|| tracing::warn!("too many requests at once; answered 503 (Y4)"));
                return overloaded(wants_html);
            }
        }
    };
    let limit = p.request_timeout;
    let handled = tokio::time::timeout(limit, guarded(p, req, next).instrument(span.clone())).await;
    drop(permit);
    handled.unwrap_or_else(|_| {
        span.in_scope(|| {
            tracing::warn!(
                secs = limit.as_secs(),
                "request timed out; answered 503 (Y4)"
            )
        });
        overloaded(wants_html)
    })
}

fn accepts_html(req: &Request<Body>) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// Y4/P6: 503 with Retry-After; a readable page for a browser.
fn overloaded(wants_html: bool) -> Response {
    let mut res = (
        StatusCode::SERVICE_UNAVAILABLE,
        "The server is busy. Nothing was lost; try again in a moment.",
    )
        .into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if wants_html {
        busy_page(res)
    } else {
        res
    }
}

/// The metrics label of a request: the router's pattern (`/login`, `/avatars/{id}/{size}`), a
/// server function's name, or "static" for files and pages no route matched.
fn route_label(req: &Request<Body>) -> String {
    let Some(pattern) = req.extensions().get::<axum::extract::MatchedPath>() else {
        return "static".into();
    };
    let pattern = pattern.as_str();
    if pattern == "/api/{*fn_name}" {
        let name = req.uri().path().trim_start_matches("/api/");
        let known = !name.is_empty()
            && name.len() <= 40
            && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        return if known {
            format!("/api/{name}")
        } else {
            "/api/other".into()
        };
    }
    pattern.to_string()
}

async fn guarded(p: HttpPolicy, mut req: Request<Body>, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    if !p.dev && path.starts_with("/dev/") {
        return StatusCode::NOT_FOUND.into_response();
    }
    if path != "/healthz" && path != "/readyz" && !p.host_allowed(&req) {
        tracing::warn!(%method, %path, "request for another host refused (H3)");
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "This server does not answer for that host name.",
        )
            .into_response();
    }
    if is_state_changing(&method)
        && !cookieless(&path)
        && !cross_site_by_design(&path)
        && !same_origin(&req)
    {
        tracing::warn!(%method, %path, "cross-site request refused (H2)");
        return (StatusCode::FORBIDDEN, "Cross-site request refused.").into_response();
    }
    let wants_html = accepts_html(&req);
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| {
            let h = req.headers();
            gatehouse_core::values::netaddr::client_ip(
                c.0.ip(),
                |name| {
                    let lines: Vec<&str> = h
                        .get_all(name)
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .collect();
                    (!lines.is_empty()).then(|| lines.join(","))
                },
                &p.trusted_proxies,
            )
            .to_string()
        })
        .unwrap_or_default();
    req.extensions_mut().insert(PeerIp(ip));
    // Y4: a body over the limit is refused before anything reads it.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let upload = path == UPLOAD_PATH;
    let mut res = if declared.is_some_and(|n| n > body_limit(&path)) {
        let text = if upload { PHOTO_TOO_LARGE } else { TOO_LARGE };
        (StatusCode::PAYLOAD_TOO_LARGE, text).into_response()
    } else if upload && method == Method::POST && !upload_well_formed(&req, declared) {
        (
            StatusCode::BAD_REQUEST,
            "Request|a photo upload is multipart/form-data with a declared length",
        )
            .into_response()
    } else {
        next.run(req).await
    };
    // A server function's argument error comes as a 500, or — for a form without JavaScript —
    // as a redirect back to the form carrying the error; both become 400.
    if path.starts_with("/api/")
        && matches!(
            res.status(),
            StatusCode::INTERNAL_SERVER_ERROR | StatusCode::FOUND | StatusCode::SEE_OTHER
        )
    {
        res = bad_call(res).await;
    }
    res = match res.status() {
        // Probes keep their own words ("database unreachable"), whatever they accept.
        StatusCode::SERVICE_UNAVAILABLE if wants_html && !is_probe(&path) => busy_page(res),
        StatusCode::PAYLOAD_TOO_LARGE if wants_html => {
            let text = if upload { PHOTO_TOO_LARGE } else { TOO_LARGE };
            message_page(res, "That was too much to send", text)
        }
        // A caller of the API (not a browser page) gets the refusal as a server function error.
        StatusCode::PAYLOAD_TOO_LARGE if path.starts_with("/api/") => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "ServerError|{}",
                if upload { PHOTO_TOO_LARGE } else { TOO_LARGE }
            ),
        )
            .into_response(),
        StatusCode::BAD_REQUEST if wants_html && path.starts_with("/api/") => message_page(
            res,
            "That form could not be read",
            "Something in it was missing or malformed. Go back, reload the page and try again.",
        ),
        _ => res,
    };
    let h = res.headers_mut();
    let html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if html {
        // H1: every HTML answer has a CSP; Leptos pages set theirs (with the nonce) already.
        h.entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static(CARD_CSP));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if path.starts_with("/reset-password")
        || path.starts_with("/forgot-password")
        || path.starts_with("/verify-email")
        || path.starts_with("/confirm-email")
        || path.starts_with("/invitation")
    {
        // F4: nothing on the pages opened by an emailed link (its token in the address) ever
        // leaves in a Referer.
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    } else {
        h.entry(header::REFERRER_POLICY)
            .or_insert(HeaderValue::from_static("same-origin"));
    }
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(self), microphone=(), geolocation=(), payment=()"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if p.hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    if !path.starts_with("/pkg/") && !path.starts_with("/favicon") {
        h.entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    tracing::info!(%method, %path, status = res.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
    res
}

/// Y4: no form needs more than this (a password is at most 128 code points, P2).
pub const BODY_LIMIT: usize = 64 * 1024;

const TOO_LARGE: &str =
    "What you sent is larger than any form here accepts (64 KiB). Nothing was saved.";

/// U1: the one route that takes more: a photo of up to 5 MiB, plus the form around it.
pub const UPLOAD_PATH: &str = "/api/upload_avatar";
pub const UPLOAD_LIMIT: usize = gatehouse_core::mechanisms::picture::MAX_BYTES + BODY_LIMIT;
const PHOTO_TOO_LARGE: &str = "That photo is larger than 5 MiB. Nothing was saved.";

/// Y4/U1: the most a request to `path` may send.
pub fn body_limit(path: &str) -> usize {
    if path == UPLOAD_PATH {
        UPLOAD_LIMIT
    } else {
        BODY_LIMIT
    }
}

/// U1: an upload declares its length (so the limit above bounds it; a chunked body would be
/// read without one) and is `multipart/form-data` with a boundary.
fn upload_well_formed(req: &Request<Body>, declared: Option<usize>) -> bool {
    let boundary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.to_ascii_lowercase().starts_with("multipart/form-data") && ct.contains("boundary=")
        });
    declared.is_some() && boundary
}

/// A malformed call of a server function (a missing field, a wrong content type, an
/// undecodable or oversized body) is the caller's mistake: 400 (413 for size), not 500. Real
/// faults keep their 500. The error text stays the server function's own, so an API caller
/// can still read it.
async fn bad_call(res: Response) -> Response {
    let (mut parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, 16 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let status = if text.contains("length limit exceeded") {
        Some(StatusCode::PAYLOAD_TOO_LARGE)
    } else if ["Args|", "Deserialization|", "MissingArg|", "Request|"]
        .iter()
        .any(|p| text.starts_with(p))
    {
        Some(StatusCode::BAD_REQUEST)
    } else {
        None
    };
    if let Some(s) = status {
        parts.status = s;
        parts.headers.remove(header::LOCATION);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// P6/Y4: a browser without JavaScript gets a readable page with a 503, 413 or 400, not a bare
/// body.
/// P6/Y4: the one page a browser gets for any 503.
fn busy_page(res: Response) -> Response {
    message_page(
        res,
        "The server is busy",
        "Nothing was lost. Go back and try again in a moment.",
    )
}

fn message_page(res: Response, title: &str, text: &str) -> Response {
    let (mut parts, _) = res.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = card_page(
        title,
        "",
        &format!("<p>{text}</p><p><a href=\"/login\">Back to sign-in</a></p>"),
    );
    Response::from_parts(parts, Body::from(body))
}

/// A page of one card, without script: a heading `title`, `inner` HTML (already escaped) and
/// `head` for extra head elements (a refresh). For answers no Leptos page gives.
pub fn card_page(title: &str, head: &str, inner: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Gatehouse</title>{head}\
        <link rel=\"stylesheet\" href=\"/pkg/gatehouse.css\"></head><body><main class=\"auth\" id=\"main\">\
        <section class=\"card\"><h1>{title}</h1>{inner}</section></main></body></html>"
    )
}

/// Text made safe inside HTML (element content and quoted attribute values).
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `/healthz` and `/readyz`: a load balancer's (or a person's) question, answered as text.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

/// Issue 13: endpoints a relying party's server (or a browser app, cross-origin) calls with
/// its own credentials, never with cookies: H2's same-origin rule has nothing to protect there.
fn cookieless(path: &str) -> bool {
    matches!(
        path,
        "/oauth2/token" | "/oauth2/revoke" | "/oauth2/introspect" | "/oauth2/userinfo"
    )
}

/// O9: forms on an application's own page post here (OpenID Connect Core 3.1.2.1, RP-Initiated
/// Logout 1.0 §2), cross-site by design. Neither gains anything from the cookie a same-site
/// page could send along: authorize does what its GET does, and logout without a trusted
/// `id_token_hint` only asks, unless our own page's confirmation comes with it (O8).
fn cross_site_by_design(path: &str) -> bool {
    matches!(path, "/oauth2/authorize" | "/oauth2/logout")
}

fn is_state_changing(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// H2: browsers send `Sec-Fetch-Site`; older ones at least `Origin`. A request with neither is
/// not from a browser page (curl, tests) and cannot carry a victim's cookies cross-site.
fn same_origin(req: &Request<Body>) -> bool {
    let h = req.headers();
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin" || site == "none";
    }
    match (
        h.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        h.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) => origin.split("://").nth(1) == Some(host),
        (Some(_), None) => false,
        (None, _) => true,
    }
}
