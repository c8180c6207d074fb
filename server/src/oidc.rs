//! The OpenID Connect endpoints (issue 13): HTTP in and out around `flows::oidc`.
//!
//! - O1: an unknown client or redirect URI gets an error page here, never a redirect.
//! - The form-action rule (H1): our CSP's `form-action 'self'` also covers the redirects that
//!   follow a form post, so a sign-in or consent form cannot end in a 303 to the client's
//!   origin. Those answers are instead a small page that moves on by `<meta http-equiv=refresh>`
//!   (a navigation of its own, not a form's) with a link for people; a plain GET of
//!   `/oauth2/authorize` (single sign-on, no form involved) answers with a 303 as usual. No page
//!   loosens `form-action`.
//! - Token, revocation, introspection and userinfo answers are `no-store` and open to other
//!   origins (they take credentials, never cookies); errors are the RFC 6749 JSON.

use crate::middleware::html_escape;
use app::server_ctx::{cookie_from, AppState};
use axum::extract::Form;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use gatehouse_core::flows::oidc::{
    self, AuthorizeParams, Next, NotDecided, OidcError, TokenParams,
};
use gatehouse_core::mechanisms::sessions::{ClientInfo, Session};
use gatehouse_core::values::oidc::{OAuthError, Refused};
use serde_json::json;
use std::collections::HashMap;

/// The session of the browser behind `headers`, if any.
async fn session(st: &AppState, headers: &HeaderMap) -> Result<Option<Session>, OidcError> {
    match cookie_from(headers, st.session_cookie()) {
        Some(token) => Ok(gatehouse_core::flows::caller::session(&st.deps, &token).await?),
        None => Ok(None),
    }
}

fn client_info(headers: &HeaderMap, ip: Option<String>) -> ClientInfo {
    ClientInfo {
        ip: ip.unwrap_or_default(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
    }
}

fn peer(ext: &axum::http::Extensions) -> Option<String> {
    ext.get::<app::server_ctx::PeerIp>().map(|p| p.0.clone())
}

/// Y4: the database is overloaded (no connection in time, a statement cancelled).
fn overloaded(e: &OidcError) -> bool {
    matches!(e, OidcError::Store(db) if gatehouse_core::store::overloaded(db))
}

/// A fault or an overload, for a browser (an overload: 503, which the middleware turns into
/// the busy page).
fn fault_page(e: &OidcError) -> Response {
    if overloaded(e) {
        tracing::warn!(error = %e, "database overloaded: answered 503");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, HeaderValue::from_static("2"))],
        )
            .into_response();
    }
    tracing::error!(error = %e, "oidc: authorization failed");
    card(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "<p>Something went wrong on our side. Go back to the application and try again.</p>",
    )
}

/// A page of the server's own ([`crate::middleware::card_page`]) with `status`. Like every
/// answer here it is `no-store` and gets the card CSP (the middleware adds both).
fn card(status: StatusCode, title: &str, inner: &str) -> Response {
    let page = crate::middleware::card_page(title, "", inner);
    (status, axum::response::Html(page)).into_response()
}

/// The browser's next step. `after_form`: this answers a form post (sign-in or consent), so a
/// redirect to the client must not be a 303 (see the module comment).
fn respond(st: &AppState, next: Next, after_form: bool) -> Response {
    let mut res = match &next {
        Next::ErrorPage(text) => card(
            StatusCode::BAD_REQUEST,
            "This sign-in request cannot continue",
            &format!("<p>{}</p>", html_escape(text)),
        ),
        Next::ToClient(url) if after_form => {
            let url = html_escape(url);
            let page = crate::middleware::card_page(
                "Returning to the application",
                &format!("<meta http-equiv=\"refresh\" content=\"0;url={url}\">"),
                &format!("<p>Taking you back to the application.</p><p><a class=\"button\" href=\"{url}\">Continue to the application</a></p>"),
            );
            axum::response::Html(page).into_response()
        }
        Next::ToClient(url) => redirect(url),
        Next::SignIn { login_hint, .. } => {
            let to = match login_hint {
                Some(h) if !h.is_empty() => format!("/login?email={}", app::wire::query_value(h)),
                _ => "/login".to_string(),
            };
            redirect(&to)
        }
        Next::Consent { .. } => redirect("/oauth2/consent"),
        Next::Reauthenticate { .. } => redirect("/oauth2/reauthenticate"),
    };
    let h = res.headers_mut();
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let cookie = match &next {
        Next::SignIn { parked, .. }
        | Next::Consent { parked }
        | Next::Reauthenticate { parked } => st.authz_cookie_value(parked, oidc::REQUEST_TTL),
        Next::ToClient(_) | Next::ErrorPage(_) => st.authz_cookie_value("", 0),
    };
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        h.append(header::SET_COOKIE, v);
    }
    res
}

fn redirect(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// `GET|POST /oauth2/authorize` (O9, Core 3.1.2.1: both methods; a POST is a form on the
/// application's own page, cross-site by design, with no power the same GET lacks).
pub async fn authorize(st: AppState, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let params = if parts.method == axum::http::Method::POST {
        form_params::<AuthorizeParams>(&parts.headers, body).await
    } else {
        query_params(&parts.uri)
    };
    let Ok(p) = params else {
        return respond(
            &st,
            Next::ErrorPage("The sign-in request is malformed."),
            false,
        );
    };
    if parts.method == axum::http::Method::POST {
        // A form on the application's page is cross-site: the browser holds the SameSite=Lax
        // session cookie back, so a signed-in person would look signed out. The same request
        // as a top-level GET carries it (and changes nothing the POST could not).
        let query = serde_urlencoded::to_string(&p).unwrap_or_default();
        return redirect(&format!("/oauth2/authorize?{query}"));
    }
    let info = client_info(&parts.headers, peer(&parts.extensions));
    let answer = async {
        let s = session(&st, &parts.headers).await?;
        oidc::authorize(&st.deps, s.as_ref(), &p, None, &info).await
    };
    match answer.await {
        Ok(next) => respond(&st, next, false),
        Err(e) => fault_page(&e),
    }
}

/// `GET /oauth2/continue`: the parked request, after the person signed in.
pub async fn resume(st: AppState, req: axum::extract::Request) -> Response {
    let (parts, _) = req.into_parts();
    let info = client_info(&parts.headers, peer(&parts.extensions));
    let parked = cookie_from(&parts.headers, st.authz_cookie()).unwrap_or_default();
    let Some((p, started)) = oidc::unpark(&st.deps, &parked) else {
        return respond(
            &st,
            Next::ErrorPage(
                "This sign-in request has expired. Go back to the application and start again.",
            ),
            true,
        );
    };
    let answer = async {
        let s = session(&st, &parts.headers).await?;
        // O7: a sign-in started for one request continues that one only.
        if let Some(s) = &s {
            if !oidc::continues(&st.deps, s, &parked).await? {
                return Ok(None);
            }
        }
        oidc::authorize(&st.deps, s.as_ref(), &p, Some(started), &info)
            .await
            .map(Some)
    };
    match answer.await {
        Ok(Some(next)) => respond(&st, next, true),
        Ok(None) => {
            let mut res = changed_request_page();
            if let Ok(v) = HeaderValue::from_str(&st.authz_cookie_value("", 0)) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            res
        }
        Err(e) => fault_page(&e),
    }
}

/// O7: the sign-in finished, but the request waiting now is not the one it was started for
/// (another was opened in this browser meanwhile): it is not continued.
fn changed_request_page() -> Response {
    card(
        StatusCode::CONFLICT,
        "This sign-in request changed",
        "<p>You are signed in. Another application's sign-in request was started in this browser \
         while you were signing in, so it was not continued. Go back to the application you were \
         using and start again.</p><p><a class=\"button\" href=\"/profile\">Go to your account</a></p>",
    )
}

/// `POST /oauth2/consent`: Allow or Deny from the consent page.
pub async fn consent(
    st: AppState,
    headers: HeaderMap,
    ext: axum::http::Extensions,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let info = client_info(&headers, peer(&ext));
    let parked = cookie_from(&headers, st.authz_cookie()).unwrap_or_default();
    let allow = form.get("decision").map(String::as_str) == Some("allow");
    let shown = form.get("request").map(String::as_str).unwrap_or_default();
    let answer = async {
        let Some(s) = session(&st, &headers).await? else {
            return Ok(Err(NotDecided::Expired));
        };
        oidc::decide(&st.deps, &s, &parked, shown, allow, &info).await
    };
    match answer.await {
        Ok(Ok(next)) => respond(&st, next, true),
        Ok(Err(NotDecided::Expired)) => respond(
            &st,
            Next::ErrorPage(
                "This sign-in request has expired. Go back to the application and start again.",
            ),
            true,
        ),
        // O7: nothing is granted, and the request parked now stays for its own page.
        Ok(Err(NotDecided::OtherRequest)) => other_request_page(),
        Err(e) => fault_page(&e),
    }
}

/// O7: a consent answer arrived for another request than the one this browser holds now.
fn other_request_page() -> Response {
    card(
        StatusCode::CONFLICT,
        "This answer was for another request",
        "<p>Another sign-in request was started in this browser while you were reading this one, \
         so your answer was not applied to either. Nothing was shared.</p>\
         <p><a class=\"button\" href=\"/oauth2/consent\">See the request waiting now</a></p>",
    )
}

/// The most a form body to an OAuth endpoint may hold.
const FORM_LIMIT: usize = 16 * 1024;

/// O9 (RFC 6749 §3.1, §3.2): the parameters of a form-encoded body. A body that is not
/// `application/x-www-form-urlencoded`, cannot be read, or repeats a parameter is an
/// `invalid_request` (answered as the RFC's JSON, never a framework's plain-text 415/422).
pub async fn form_params<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<T, Refused> {
    let malformed = |why| Refused::new(OAuthError::InvalidRequest, why);
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(malformed(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let bytes = axum::body::to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| malformed("the body could not be read"))?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&bytes).map_err(|_| malformed("the body is not a form"))?;
    unique(pairs)
}

/// The query of `uri`, with the same rules as [`form_params`] (a repeated parameter refused).
fn query_params<T: serde::de::DeserializeOwned>(uri: &axum::http::Uri) -> Result<T, Refused> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or(""))
        .map_err(|_| Refused::new(OAuthError::InvalidRequest, "the query is malformed"))?;
    unique(pairs)
}

fn unique<T: serde::de::DeserializeOwned>(pairs: Vec<(String, String)>) -> Result<T, Refused> {
    let mut map = serde_json::Map::new();
    for (k, v) in pairs {
        if map.insert(k, serde_json::Value::String(v)).is_some() {
            return Err(Refused::new(
                OAuthError::InvalidRequest,
                "a parameter is repeated",
            ));
        }
    }
    serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|_| Refused::new(OAuthError::InvalidRequest, "a parameter is malformed"))
}

/// The RFC 6749 §5.2 error answer.
fn oauth_error(e: OidcError) -> Response {
    let (status, error, description) = match &e {
        OidcError::Refused(r) => {
            let status = match r.error {
                OAuthError::InvalidClient => StatusCode::UNAUTHORIZED,
                OAuthError::InvalidToken => StatusCode::UNAUTHORIZED,
                _ => StatusCode::BAD_REQUEST,
            };
            (status, r.error.code(), r.description)
        }
        other if overloaded(other) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "try again in a moment",
        ),
        other => {
            tracing::error!(error = %other, "oidc: endpoint failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "try again",
            )
        }
    };
    let mut res = (
        status,
        json_headers(),
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        let challenge = if error == "invalid_token" {
            "Bearer error=\"invalid_token\""
        } else {
            "Basic realm=\"gatehouse\""
        };
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    res
}

fn json_headers() -> [(header::HeaderName, HeaderValue); 3] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
        (
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ),
    ]
}

fn json_answer(r: Result<serde_json::Value, OidcError>) -> Response {
    match r {
        Ok(v) => (json_headers(), Json(v)).into_response(),
        Err(e) => oauth_error(e),
    }
}

/// O9 (RFC 7235 §2.1): the credentials of `Authorization: <scheme> …`, the scheme compared
/// without regard to case (`bearer`, `BASIC` …).
fn credentials<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (given, rest) = v.trim_start().split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then_some(rest.trim())
}

/// HTTP Basic client credentials (`client_secret_basic`, form-encoded id and secret).
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let encoded = credentials(headers, "Basic")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    Some((decode(id)?, decode(secret)?))
}

/// The client-authenticated endpoints.
#[derive(Debug, Clone, Copy)]
pub enum ClientEndpoint {
    /// `POST /oauth2/token`.
    Token,
    /// `POST /oauth2/revoke` (RFC 7009): 200 whatever the token was.
    Revoke,
    /// `POST /oauth2/introspect` (RFC 7662).
    Introspect,
}

/// `POST /oauth2/token|revoke|introspect`: the form read by [`form_params`], the client
/// authenticated, then the endpoint's answer or the RFC's JSON error.
pub async fn client_endpoint(
    st: AppState,
    which: ClientEndpoint,
    req: axum::extract::Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let who = client_info(&parts.headers, peer(&parts.extensions));
    json_answer(
        async {
            let p: TokenParams = form_params(&parts.headers, body).await?;
            let client = oidc::client_of(&st.deps, basic(&parts.headers), &p).await?;
            match which {
                ClientEndpoint::Token => oidc::token(&st.deps, &client, &p, &who).await,
                ClientEndpoint::Revoke => {
                    oidc::revoke(&st.deps, &client, &p, &who).await?;
                    Ok(json!({}))
                }
                ClientEndpoint::Introspect => oidc::introspect(&st.deps, &client, &p).await,
            }
        }
        .await,
    )
}

/// `GET|POST /oauth2/userinfo` with `Authorization: Bearer` (any case, O9). Without a token
/// the 401 names no error (RFC 6750 §3.1): the client just did not authenticate.
pub async fn userinfo(st: AppState, headers: HeaderMap) -> Response {
    let Some(bearer) = credentials(&headers, "Bearer").filter(|b| !b.is_empty()) else {
        return (
            StatusCode::UNAUTHORIZED,
            json_headers(),
            [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
        )
            .into_response();
    };
    json_answer(oidc::userinfo(&st.deps, bearer).await)
}

/// `OPTIONS /oauth2/userinfo`: the CORS preflight of a browser application, which sends its
/// access token in `Authorization` (O9). No cookies are involved, so any origin may ask.
pub async fn userinfo_preflight() -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, "Authorization"),
            (header::ACCESS_CONTROL_MAX_AGE, "600"),
        ],
    )
        .into_response()
}

/// `GET /oauth2/jwks`.
pub async fn jwks(st: AppState) -> Response {
    json_answer(oidc::jwks(&st.deps).await)
}

/// `GET /.well-known/openid-configuration`.
pub async fn discovery(st: AppState) -> Response {
    json_answer(Ok(oidc::discovery(&st.deps)))
}

/// `GET|POST /oauth2/logout` (RP-initiated logout): with an ID token we signed for this
/// person, sign out at once (S4, and O6 tells the other applications); without one, ask first
/// (O8: no link or foreign form ends a session — only the answer posted from our own page,
/// which carries this session's confirmation). O9: the application may POST (its page, so no
/// SameSite=Lax cookie comes along): then the hint's `sid` names the session to end. Then back
/// to a registered post-logout URI, or to sign-in.
pub async fn logout(st: AppState, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let posted = parts.method == axum::http::Method::POST;
    let params = if posted {
        form_params::<oidc::LogoutParams>(&parts.headers, body).await
    } else {
        query_params(&parts.uri)
    };
    let Ok(p) = params else {
        return respond(
            &st,
            Next::ErrorPage("The sign-out request is malformed."),
            false,
        );
    };
    let info = client_info(&parts.headers, peer(&parts.extensions));
    let answer = async {
        let s = session(&st, &parts.headers).await?;
        let plan = oidc::logout_plan(&st.deps, s.as_ref(), &p).await?;
        let signed_in = s.as_ref().filter(|s| s.authenticated_user().is_some());
        // O8: the question's answer counts only as a POST from its own page.
        let confirmed = posted
            && signed_in.is_some_and(|s| {
                p.confirm
                    .as_deref()
                    .is_some_and(|c| oidc::confirms_logout(&st.deps, &s.id_hash, c))
            });
        let ended = match (signed_in, &plan.sid) {
            (Some(s), _) if plan.trusted || confirmed => {
                gatehouse_core::flows::login::sign_out(&st.deps, s, &info)
                    .await
                    .map_err(|e| OidcError::Refused(oidc_fault(e)))?;
                Ended::ThisBrowser
            }
            (Some(s), _) => {
                return Ok(Logout::Ask(oidc::logout_confirmation(&st.deps, &s.id_hash)))
            }
            // O9: the application's own page posted (no SameSite=Lax cookie comes along): the
            // trusted hint's sid names the session.
            (None, Some(sid)) if plan.trusted => {
                let ended = gatehouse_core::flows::login::sign_out_sid(&st.deps, sid, &info)
                    .await
                    .map_err(|e| OidcError::Refused(oidc_fault(e)))?;
                // The hinted sign-in is over already; a newer one of this browser, whose
                // cookie the POST held back, is found over a GET.
                if !ended && posted && s.is_none() {
                    return Ok(Logout::AskOverGet);
                }
                Ended::Elsewhere
            }
            // A cross-site POST without a trusted hint: the browser held its cookie back. Ask
            // the same question over a top-level GET, which carries it (O8: never sign out,
            // never drop the cookie, on a stranger's form).
            (None, _) if posted && s.is_none() => return Ok(Logout::AskOverGet),
            (None, _) => Ended::Nothing,
        };
        Ok::<_, OidcError>(Logout::Done(plan.redirect, ended))
    };
    let (to, ended) = match answer.await {
        Ok(Logout::Ask(confirm)) => return logout_question(&p, &confirm),
        Ok(Logout::AskOverGet) => {
            let query = serde_urlencoded::to_string(&oidc::LogoutParams {
                confirm: None,
                ..p.clone()
            })
            .unwrap_or_default();
            return redirect(&format!("/oauth2/logout?{query}"));
        }
        Ok(Logout::Done(to, ended)) => (to, ended),
        Err(OidcError::Refused(r)) if r.error == OAuthError::InvalidRequest => {
            return respond(&st, Next::ErrorPage(r.description), false)
        }
        Err(e) => return fault_page(&e),
    };
    let mut res = match to {
        Some(url) if posted => respond(&st, Next::ToClient(url), true),
        Some(url) => redirect(&url),
        None => redirect("/login"),
    };
    // The session cookie goes only with the session it named.
    if ended == Ended::ThisBrowser {
        if let Ok(v) = HeaderValue::from_str(&st.session_cookie_clear_value()) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// What RP-initiated logout does.
enum Logout {
    /// Ask the person (their confirmation for the question's form).
    Ask(String),
    /// Ask, after a GET that brings the browser's cookie.
    AskOverGet,
    /// Done: back to the application's address (or sign-in), having ended this.
    Done(Option<String>, Ended),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// The session of this browser's cookie.
    ThisBrowser,
    /// The session a trusted hint named, with no cookie of it here.
    Elsewhere,
    Nothing,
}

/// O8: "Sign out of Gatehouse?" — the only way a sign-out without a trusted hint happens is
/// its button, whose form carries this session's confirmation.
fn logout_question(p: &oidc::LogoutParams, confirm: &str) -> Response {
    let field = |name: &str, v: Option<&str>| {
        v.map(|v| {
            format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                html_escape(v)
            )
        })
        .unwrap_or_default()
    };
    let hidden = [
        field("client_id", p.client_id.as_deref()),
        field(
            "post_logout_redirect_uri",
            p.post_logout_redirect_uri.as_deref(),
        ),
        field("state", p.state.as_deref()),
        field("confirm", Some(confirm)),
    ]
    .concat();
    card(
        StatusCode::OK,
        "Sign out of Gatehouse?",
        &format!(
            "<p>An application asked to sign you out. This signs you out of every application that uses your Gatehouse account.</p>\
             <form method=\"post\" action=\"/oauth2/logout\">{hidden}<button class=\"button\" type=\"submit\">Sign out</button></form>\
             <p><a href=\"/profile\">Stay signed in</a></p>"
        ),
    )
}

/// A sign-out that failed, as a fault (logged by the caller's page).
fn oidc_fault(
    e: gatehouse_core::flows::login::LoginError,
) -> gatehouse_core::values::oidc::Refused {
    tracing::error!(error = %e, "oidc: sign-out failed");
    gatehouse_core::values::oidc::Refused::new(OAuthError::ServerError, "sign-out failed")
}
