//! Server-side plumbing for server functions: the shared state, the caller's session, cookies
//! and the flash. Only compiled with `ssr`.
//!
//! - S1: the session cookie is `HttpOnly`, `SameSite=Lax`, `Path=/`, and `__Host-` + `Secure` unless
//!   the server runs in dev mode over plain http.
//! - M5: [`signed_in`] returns a user only for an authenticated session, never a partial one.
//! - The flash (a form's messages and typed values across a no-JS redirect) is signed with the
//!   instance key, `__Host-` like the session cookie, and never holds a secret (`Flash`).

use crate::wire::{AppError, Flash};
use gatehouse_core::mechanisms::service::Deps;
use gatehouse_core::mechanisms::sessions::{ClientInfo, Session};
use gatehouse_core::values::failure::{Refusal, Shown};
use http::header::{HeaderValue, COOKIE, SET_COOKIE, USER_AGENT};
use http::request::Parts;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

/// Everything server functions need, provided as context by the server.
#[derive(Clone)]
pub struct AppState {
    pub deps: Deps,
    pub secure_cookies: bool,
    /// Dev mode only: the clock `/dev/clock` moves (the same one `deps.clock` reads).
    pub dev_clock: Option<gatehouse_core::values::clock::OffsetClock>,
}

impl AppState {
    /// S1: a cookie's name — the `__Host-` form whenever cookies are `Secure`.
    fn cookie_name(&self, host_name: &'static str) -> &'static str {
        match (self.secure_cookies, host_name.strip_prefix("__Host-")) {
            (false, Some(plain)) => plain,
            _ => host_name,
        }
    }
    pub fn session_cookie(&self) -> &'static str {
        self.cookie_name("__Host-gatehouse_session")
    }
    /// The flash cookie: `__Host-` whenever the session cookie is, and signed with the instance
    /// key (HMAC), so a page renders only a flash this server wrote.
    fn flash_cookie(&self) -> &'static str {
        self.cookie_name("__Host-gatehouse_flash")
    }
    fn attrs(&self) -> &'static str {
        if self.secure_cookies {
            "; Path=/; HttpOnly; SameSite=Lax; Secure"
        } else {
            "; Path=/; HttpOnly; SameSite=Lax"
        }
    }
}

/// The peer address, put into request extensions by the server.
#[derive(Clone, Debug)]
pub struct PeerIp(pub String);

/// F4: the reset token travels from the emailed link to the reset form in this HttpOnly cookie,
/// never in the address bar.
impl AppState {
    pub fn reset_cookie(&self) -> &'static str {
        self.cookie_name("__Host-gatehouse_reset")
    }
    /// The `Set-Cookie` value that carries a reset token for its lifetime.
    pub fn reset_cookie_value(&self, token: &str, max_age: i64) -> String {
        format!(
            "{}={token}; Max-Age={max_age}{}",
            self.reset_cookie(),
            self.attrs()
        )
    }
}

/// Issue 13: an OpenID Connect authorization request waits in this HttpOnly cookie (MAC'd by
/// core, `flows::oidc::park`) while the person signs in or answers the consent page.
impl AppState {
    pub fn authz_cookie(&self) -> &'static str {
        self.cookie_name("__Host-gatehouse_authz")
    }
    /// The `Set-Cookie` value that parks (or, with `max_age` 0, forgets) a request.
    pub fn authz_cookie_value(&self, parked: &str, max_age: i64) -> String {
        format!(
            "{}={parked}; Max-Age={max_age}{}",
            self.authz_cookie(),
            self.attrs()
        )
    }
    /// The `Set-Cookie` value that ends the session cookie.
    pub fn session_cookie_clear_value(&self) -> String {
        format!("{}=; Max-Age=0{}", self.session_cookie(), self.attrs())
    }
}

/// The parked authorization request waiting for this browser, if any.
pub fn parked_authorization(st: &AppState) -> Option<String> {
    cookie(st.authz_cookie()).filter(|v| !v.is_empty())
}

/// A parked authorization request is waiting for this browser's sign-in.
pub fn authorization_waiting(st: &AppState) -> bool {
    parked_authorization(st).is_some()
}

/// F4: the reset token from its cookie.
pub fn reset_token(st: &AppState) -> Option<String> {
    cookie(st.reset_cookie())
}

pub fn clear_reset_cookie(st: &AppState) {
    set_cookie(st.reset_cookie_value("", 0));
}

pub fn state() -> Result<AppState, ServerFnError> {
    use_context::<AppState>().ok_or_else(|| ServerFnError::new("server state missing"))
}

fn parts() -> Option<Parts> {
    use_context::<Parts>()
}

pub fn client() -> ClientInfo {
    let Some(p) = parts() else {
        return ClientInfo::default();
    };
    ClientInfo {
        ip: p
            .extensions
            .get::<PeerIp>()
            .map(|i| i.0.clone())
            .unwrap_or_default(),
        user_agent: p
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
    }
}

fn cookie(name: &str) -> Option<String> {
    cookie_from(&parts()?.headers, name)
}

/// The cookie `name` of a request's headers.
pub fn cookie_from(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn set_cookie(value: String) {
    if let (Some(res), Ok(v)) = (
        use_context::<ResponseOptions>(),
        HeaderValue::from_str(&value),
    ) {
        res.append_header(SET_COOKIE, v);
    }
}

/// The caller's live session, if any (S3 checked in `sessions::lookup`).
pub async fn session(st: &AppState) -> Result<Option<Session>, ServerFnError> {
    let Some(token) = cookie(st.session_cookie()) else {
        return Ok(None);
    };
    gatehouse_core::flows::caller::session(&st.deps, &token)
        .await
        .map_err(internal)
}

/// M5: the user id of a fully signed-in caller.
pub async fn signed_in(st: &AppState) -> Result<Option<(Session, String)>, ServerFnError> {
    Ok(session(st)
        .await?
        .and_then(|s| s.authenticated_user().map(str::to_string).map(|u| (s, u))))
}

/// M5: the fully signed-in session behind a form post, or (`None`) a redirect to sign-in.
pub async fn signed_in_or_login(st: &AppState) -> Result<Option<Session>, ServerFnError> {
    match signed_in(st).await? {
        Some((s, _)) => Ok(Some(s)),
        None => {
            leptos_axum::redirect("/login");
            Ok(None)
        }
    }
}

pub fn set_session_cookie(st: &AppState, token: &gatehouse_core::mechanisms::secret::Secret) {
    set_cookie(format!(
        "{}={}{}",
        st.session_cookie(),
        token.expose(),
        st.attrs()
    ));
}

pub fn clear_session_cookie(st: &AppState) {
    set_cookie(st.session_cookie_clear_value());
}

/// Stores the outcome of a form for the next render (no-JS POST → redirect → GET). A script
/// caller (an island) gets the outcome in the answer instead, so nothing is stored for it.
pub fn write_flash(st: &AppState, flash: &Flash) {
    if !plain_form() {
        return;
    }
    let body = hex::encode(serde_json_string(flash));
    let mac = st.deps.secret_key.mac("flash", body.as_bytes());
    set_cookie(format!(
        "{}={body}.{mac}; Max-Age=120{}",
        st.flash_cookie(),
        st.attrs()
    ));
}

/// Reads and clears the flash for `form` (another form's flash is left alone).
pub fn take_flash(st: &AppState, form: &str) -> Flash {
    let flash = cookie(st.flash_cookie())
        .and_then(|v| {
            let (body, mac) = v.split_once('.')?;
            st.deps
                .secret_key
                .verify_mac("flash", body.as_bytes(), mac)
                .then(|| body.to_string())
        })
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| serde_json::from_slice::<Flash>(&b).ok())
        .filter(|f| f.form == form);
    match flash {
        Some(f) => {
            set_cookie(format!("{}=; Max-Age=0{}", st.flash_cookie(), st.attrs()));
            f
        }
        None => Flash::for_form(form),
    }
}

fn serde_json_string(f: &Flash) -> String {
    serde_json::to_string(f).unwrap_or_default()
}

/// The caller is a browser's own form post (it accepts HTML), not a script.
fn plain_form() -> bool {
    parts()
        .and_then(|p| {
            p.headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.contains("text/html"))
        })
        .unwrap_or(false)
}

/// Without JavaScript a form post must end in a redirect back to its page (POST → redirect →
/// GET); with JavaScript the page re-reads its state itself, so nothing is done. This does not
/// rely on the Referer header.
pub fn back_to(path: &str) {
    if let (true, Some(res)) = (plain_form(), use_context::<ResponseOptions>()) {
        // P6: a 503 from the hashing pool is the answer; the no-JS page shows its own message.
        if res
            .0
            .read()
            .map(|p| p.status == Some(http::StatusCode::SERVICE_UNAVAILABLE))
            .unwrap_or(false)
        {
            return;
        }
        if let Ok(location) = HeaderValue::from_str(path) {
            res.set_status(http::StatusCode::SEE_OTHER);
            res.insert_header(http::header::LOCATION, location);
        }
    }
}

/// P6: the hashing queue is full; answer 503 with Retry-After.
pub fn busy() {
    if let Some(res) = use_context::<ResponseOptions>() {
        res.set_status(http::StatusCode::SERVICE_UNAVAILABLE);
        res.insert_header(http::header::RETRY_AFTER, HeaderValue::from_static("2"));
    }
}

/// The one way a server function reports a refused action: the message goes into `form`'s
/// flash (returned too, for a script caller) where core says it belongs (`field` is the input
/// the action was about), with what the person typed (`keep`; secrets are dropped by
/// [`Flash::with_value`]). A fault is logged and shown generically; busy answers 503 +
/// Retry-After (P6).
pub fn fail(
    st: &AppState,
    form: &str,
    field: &str,
    e: &dyn Refusal,
    keep: &[(&str, &str)],
) -> Flash {
    let a = AppError::from_refusal(e, field);
    if matches!(a, AppError::Busy | AppError::Internal) {
        let _ = internal(e);
    }
    let f = Flash::for_form(form).with_failure(a).with_values(keep);
    write_flash(st, &f);
    f
}

/// The ending a form's server function shares: the notice (`ok` of the outcome) or the refusal
/// (where core says, `field` being the input the action was about, keeping `keep`) in `form`'s
/// flash, then back to `page` (POST → redirect → GET).
pub fn answer<T, E: Refusal>(
    st: &AppState,
    form: &str,
    page: &str,
    r: Result<T, E>,
    field: &str,
    ok: impl FnOnce(T) -> String,
    keep: &[(&str, &str)],
) {
    match r {
        Ok(v) => {
            notice(st, form, ok(v));
        }
        Err(e) => {
            fail(st, form, field, &e, keep);
        }
    }
    back_to(page);
}

/// A success: `text` for the whole form.
pub fn notice(st: &AppState, form: &str, text: impl Into<String>) -> Flash {
    notice_keeping(st, form, text, &[])
}

/// A success that leaves what was typed in the form (F1: the same address stays in the field,
/// whichever way the answer went).
pub fn notice_keeping(
    st: &AppState,
    form: &str,
    text: impl Into<String>,
    keep: &[(&str, &str)],
) -> Flash {
    let mut f = Flash::for_form(form).with_values(keep);
    f.notice = Some(text.into());
    write_flash(st, &f);
    f
}

/// Abandons a flow that has not signed anyone in ("Start again"): its session row goes.
pub async fn abandon_flow(st: &AppState) -> Result<(), ServerFnError> {
    if let Some(s) = session(st).await? {
        if gatehouse_core::flows::caller::abandon(&st.deps, &s)
            .await
            .map_err(internal)?
        {
            clear_session_cookie(st);
        }
    }
    Ok(())
}

/// A fault: logs the cause and returns a generic error (no details to the browser). Y4: when the
/// database is overloaded (no connection within the acquire timeout, a statement cancelled at
/// its timeout) the answer is 503 with Retry-After and the busy words instead, as for P6.
pub fn internal(e: impl Refusal) -> ServerFnError {
    if e.shown() == Shown::Busy {
        tracing::warn!(error = %e, "database overloaded: answered 503");
        busy();
        return ServerFnError::new(crate::wire::BUSY);
    }
    tracing::error!(error = %e, "internal error in server function");
    ServerFnError::new("Something went wrong on our side. Please try again.")
}

/// Issue 14: the person as the signed-in pages show them, with their organizations for the
/// top-bar menu.
pub async fn me_with_orgs(
    st: &AppState,
    session: &Session,
    user: gatehouse_core::mechanisms::users::User,
) -> Result<crate::wire::Me, ServerFnError> {
    let mut me = crate::wire::Me::from(user);
    me.orgs = gatehouse_core::flows::orgs::mine(&st.deps, session)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|(o, role)| crate::wire::orgs::OrgLink {
            name: o.name,
            slug: o.slug,
            role,
        })
        .collect();
    Ok(me)
}
