//! Gatehouse as an OpenID Connect provider (issue 13): what `/oauth2/*` does, endpoint by
//! endpoint, on top of the sign-in people already have.
//!
//! - O1: the client and its exact redirect URI are checked before anything else; until both
//!   are known good, every answer is an error page, never a redirect. Only `response_type=code`
//!   with PKCE S256.
//! - Sign-in reuses ours: a person without a session (or whose sign-in is too old for
//!   `max_age`, or asked again by `prompt=login`, O6) is sent through the identifier-first
//!   sign-in with MFA; the request waits in a MAC'd value ([`park`]) the browser carries, so any
//!   instance can resume it. A signed-in person goes straight back (SSO).
//! - Third-party clients get a consent page once per person and scope set; first-party ones
//!   skip it. Grants, refusals and removals are G1 events.
//! - O2/O3 live in `mechanisms::oidc_grants`; O4 in `mechanisms::signing`. O5: `sub` is the
//!   account's random id; userinfo and the ID token carry only what the scopes allow, read fresh
//!   from the account at every call.

use crate::mechanisms::events::{self, EventKind};
use crate::mechanisms::oidc_clients::{self, Client};
use crate::mechanisms::oidc_grants::{self as grants, CodeRequest, Grant, GrantError, TokenKind};
use crate::mechanisms::service::Deps;
use crate::mechanisms::sessions::{self, ClientInfo, Session, SessionState};
use crate::mechanisms::signing::{self, SigningError};
use crate::mechanisms::users;
use crate::store::Conn;
use crate::values::clock::Timestamp;
use crate::values::oidc::{base64url, Alg, CodeChallenge, OAuthError, Prompt, Refused, Scopes};
use crate::values::photo::AvatarSize;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Access and ID tokens live ten minutes.
pub const ACCESS_TTL: i64 = 600;
/// A refresh token (only with `offline_access`) lives thirty days, renewed at each rotation.
pub const REFRESH_TTL: i64 = 30 * 86_400;
/// A parked authorization request waits this long for the person to sign in.
pub const REQUEST_TTL: i64 = 15 * 60;
/// O4: a retired key stays published for the longest token lifetime, plus clock skew.
pub const KEY_KEEP: i64 = ACCESS_TTL + 60;
/// The `acr` of every sign-in: password and a second factor, always.
pub const ACR: &str = "urn:gatehouse:mfa";
/// O9: the level a phishing-resistant factor (a passkey) will meet; asked for in `acr_values`
/// it is answered `unmet_authentication_requirements` until passkeys exist.
pub const ACR_PHISHING_RESISTANT: &str = "urn:gatehouse:phr";
/// The `acr` values this provider can meet (published in discovery).
pub const ACR_SUPPORTED: [&str; 1] = [ACR];

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("{0}")]
    Refused(Refused),
    #[error(transparent)]
    Signing(#[from] SigningError),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl crate::values::failure::Refusal for OidcError {
    fn shown(&self) -> crate::values::failure::Shown {
        match self {
            Self::Store(e) => crate::store::shown(e),
            _ => crate::values::failure::Shown::Internal,
        }
    }
}

impl From<Refused> for OidcError {
    fn from(r: Refused) -> Self {
        Self::Refused(r)
    }
}

impl From<GrantError> for OidcError {
    fn from(e: GrantError) -> Self {
        match e {
            GrantError::Refused(r) => Self::Refused(r),
            GrantError::Store(e) => Self::Store(e),
        }
    }
}

/// The query of `/oauth2/authorize`, as received.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    /// O9: an ID token we issued, naming who the application expects.
    pub id_token_hint: Option<String>,
    /// O9: the authentication levels asked for, most wanted first.
    pub acr_values: Option<String>,
    /// O9: request objects are refused (`request_not_supported`).
    pub request: Option<String>,
    /// O9: request objects by reference are refused (`request_uri_not_supported`).
    pub request_uri: Option<String>,
}

/// Where `/oauth2/authorize` sends the browser next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// O1: the client or its redirect URI is not known: say so here, redirect nowhere.
    ErrorPage(&'static str),
    /// Back to the client (a registered redirect URI) with a code or an error.
    ToClient(String),
    /// Sign in first; the request waits in `parked`.
    SignIn {
        parked: String,
        login_hint: Option<String>,
    },
    /// O8: the person is signed in, but `prompt=login` or `max_age` asks for a newer sign-in:
    /// they prove it again (password and second factor) on the session they have, which stays
    /// as it is until that succeeds — then its `auth_time` is new and its `sid` the same.
    Reauthenticate { parked: String },
    /// Ask the person (third-party client).
    Consent { parked: String },
}

/// The checked request.
struct Checked {
    client: Client,
    redirect_uri: String,
    scope: Scopes,
    challenge: CodeChallenge,
    prompt: Prompt,
    max_age: Option<i64>,
    nonce: Option<String>,
    state: Option<String>,
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `uri` with `params` added to its query.
fn with_params(uri: &str, params: &[(&str, &str)]) -> String {
    let mut url = uri.to_string();
    let mut sep = if url.contains('?') { '&' } else { '?' };
    for (k, v) in params {
        url.push(sep);
        url.push_str(k);
        url.push('=');
        url.push_str(&encode(v));
        sep = '&';
    }
    url
}

/// The client's redirect URI with `params` and `iss` (RFC 9207) added to its query.
fn to_client(deps: &Deps, redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let issuer = issuer(deps);
    let mut all = params.to_vec();
    all.push(("iss", &issuer));
    with_params(redirect_uri, &all)
}

fn refused_to_client(deps: &Deps, redirect_uri: &str, r: &Refused, state: Option<&str>) -> Next {
    let mut params = vec![
        ("error", r.error.code()),
        ("error_description", r.description),
    ];
    if let Some(s) = state {
        params.push(("state", s));
    }
    Next::ToClient(to_client(deps, redirect_uri, &params))
}

/// The issuer: the public URL without a trailing slash.
pub fn issuer(deps: &Deps) -> String {
    deps.issuer().to_string()
}

/// The request, checked (the client read on `c`). `Err(Next)` is the answer when it is not good.
async fn check(
    deps: &Deps,
    c: &mut Conn,
    p: &AuthorizeParams,
) -> Result<Result<Checked, Next>, OidcError> {
    let Some(client) = oidc_clients::find(c, p.client_id.as_deref().unwrap_or("")).await? else {
        return Ok(Err(Next::ErrorPage(
            "This application is not registered with this sign-in service.",
        )));
    };
    let Some(redirect_uri) = p
        .redirect_uri
        .as_deref()
        .and_then(|u| client.redirect(u))
        .map(|r| r.as_str().to_string())
    else {
        return Ok(Err(Next::ErrorPage(
            "The application asked to send you to an address it has not registered.",
        )));
    };
    let state = p.state.clone();
    let fail = |r: Refused| {
        Ok(Err(refused_to_client(
            deps,
            &redirect_uri,
            &r,
            state.as_deref(),
        )))
    };
    if p.response_type.as_deref() != Some("code") {
        return fail(Refused::new(
            OAuthError::UnsupportedResponseType,
            "only response_type=code is supported",
        ));
    }
    if p.response_mode.as_deref().is_some_and(|m| m != "query") {
        return fail(Refused::new(
            OAuthError::InvalidRequest,
            "only response_mode=query is supported",
        ));
    }
    // O9 (Core 6): discovery says neither is supported, and a request that relies on one is
    // answered so, never silently served from the plain parameters.
    if p.request.is_some() {
        return fail(Refused::new(
            OAuthError::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if p.request_uri.is_some() {
        return fail(Refused::new(
            OAuthError::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    // O9: acr_values are honoured: a level none of whose values this provider meets is refused
    // rather than answered with a weaker sign-in.
    if let Some(acr) = p.acr_values.as_deref().filter(|a| !a.trim().is_empty()) {
        if !acr.split(' ').any(|v| ACR_SUPPORTED.contains(&v)) {
            return fail(Refused::new(
                OAuthError::UnmetAuthenticationRequirements,
                "the requested acr_values cannot be met",
            ));
        }
    }
    let checked = (|| {
        let scope = Scopes::parse(p.scope.as_deref().unwrap_or(""))?;
        let challenge = CodeChallenge::parse(
            p.code_challenge.as_deref(),
            p.code_challenge_method.as_deref(),
        )?;
        let prompt = Prompt::parse(p.prompt.as_deref())?;
        let max_age = match p.max_age.as_deref() {
            None | Some("") => None,
            Some(m) => Some(m.parse::<u32>().map(i64::from).map_err(|_| {
                Refused::new(OAuthError::InvalidRequest, "max_age must be a whole number")
            })?),
        };
        Ok::<_, Refused>((scope, challenge, prompt, max_age))
    })();
    let (scope, challenge, prompt, max_age) = match checked {
        Ok(v) => v,
        Err(r) => return fail(r),
    };
    Ok(Ok(Checked {
        client,
        redirect_uri,
        scope,
        challenge,
        prompt,
        max_age,
        nonce: p.nonce.clone(),
        state,
    }))
}

/// A parked request: `{started_at}.{base64url(json)}.{mac}` — the browser carries it while
/// the person signs in; the MAC (instance key) makes it tamper-proof, `started_at` dates it
/// (for `prompt=login` and the [`REQUEST_TTL`]).
pub fn park(deps: &Deps, p: &AuthorizeParams, started_at: Timestamp) -> String {
    let body = format!(
        "{started_at}.{}",
        base64url(serde_json::to_string(p).unwrap_or_default().as_bytes())
    );
    let mac = deps.secret_key.mac("oidc-request", body.as_bytes());
    format!("{body}.{mac}")
}

/// The parked request and when it started, if `value` is one of ours and still fresh.
pub fn unpark(deps: &Deps, value: &str) -> Option<(AuthorizeParams, Timestamp)> {
    use base64::Engine;
    let (body, mac) = value.rsplit_once('.')?;
    if !deps
        .secret_key
        .verify_mac("oidc-request", body.as_bytes(), mac)
    {
        return None;
    }
    let (started, json) = body.split_once('.')?;
    let started: Timestamp = started.parse().ok()?;
    if deps.now() - started >= REQUEST_TTL {
        return None;
    }
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(json)
        .ok()?;
    Some((serde_json::from_slice(&json).ok()?, started))
}

/// `/oauth2/authorize` (and its resumption after sign-in, `resumed_at` = when the request
/// started): where the browser goes next.
pub async fn authorize(
    deps: &Deps,
    session: Option<&Session>,
    p: &AuthorizeParams,
    resumed_at: Option<Timestamp>,
    client_info: &ClientInfo,
) -> Result<Next, OidcError> {
    // One read connection for the client, the SSO facts and the consent.
    let mut c = deps.store.read().await?;
    let req = match check(deps, &mut c, p).await? {
        Ok(r) => r,
        Err(next) => return Ok(next),
    };
    let now = deps.now();
    let started = resumed_at.unwrap_or(now);
    let signed_in = match session.map(|s| &s.state) {
        Some(SessionState::Authenticated {
            user_id,
            authenticated_at,
        }) => Some((user_id.clone(), *authenticated_at)),
        _ => None,
    };
    // O6: prompt=login and max_age ask for a sign-in newer than the request / than max_age.
    // A sign-in made for this very request (after it started) satisfies both, however long the
    // person took over it.
    let fresh_enough = |at: Timestamp| {
        let for_this_request = resumed_at.is_some() && at >= started;
        let login_ok = !req.prompt.login || for_this_request;
        let age_ok = for_this_request || req.max_age.is_none_or(|m| now - at <= m);
        login_ok && age_ok
    };
    let sso = match (session, &signed_in) {
        (Some(s), Some(_)) => sessions::sso(&mut c, &s.id_hash).await?,
        _ => None,
    };
    let (user_id, auth_time, (sid, amr)) = match (signed_in, sso) {
        (Some((u, at)), Some(sso)) if fresh_enough(at) => (u, at, sso),
        (signed_in, _) => {
            if req.prompt.none {
                let r = Refused::new(OAuthError::LoginRequired, "the person is not signed in");
                return Ok(refused_to_client(
                    deps,
                    &req.redirect_uri,
                    &r,
                    req.state.as_deref(),
                ));
            }
            let parked = park(deps, p, started);
            // O8: no link ends a session: a signed-in person re-authenticates in place.
            return Ok(if signed_in.is_some() {
                Next::Reauthenticate { parked }
            } else {
                Next::SignIn {
                    parked,
                    login_hint: p.login_hint.clone(),
                }
            });
        }
    };
    // O9: with prompt=none, a hint naming someone else (or not an ID token of ours for this
    // client) cannot be answered silently.
    if req.prompt.none {
        if let Some(hint) = p.id_token_hint.as_deref() {
            let keys = signing::public_keys(&mut c, now, KEY_KEEP).await?;
            let hinted = signing::verify_id_token(&keys, hint, req.client.alg)
                .ok()
                .filter(|h| h["aud"] == req.client.id.as_str() && h["iss"] == deps.issuer());
            if hinted.is_none_or(|h| h["sub"] != user_id.as_str()) {
                let r = Refused::new(
                    OAuthError::LoginRequired,
                    "the signed-in person is not the one id_token_hint names",
                );
                return Ok(refused_to_client(
                    deps,
                    &req.redirect_uri,
                    &r,
                    req.state.as_deref(),
                ));
            }
        }
    }
    let consented = grants::consented(&mut c, &user_id, &req.client.id).await?;
    drop(c);
    let covered = consented.is_some_and(|s| req.scope.within(s));
    // O9: prompt=consent asks every client's person, first-party ones too.
    if (!req.client.first_party && !covered) || req.prompt.consent {
        if req.prompt.none {
            let r = Refused::new(OAuthError::ConsentRequired, "the person has not consented");
            return Ok(refused_to_client(
                deps,
                &req.redirect_uri,
                &r,
                req.state.as_deref(),
            ));
        }
        return Ok(Next::Consent {
            parked: park(deps, p, started),
        });
    }
    let grant = Grant {
        family: String::new(),
        client_id: req.client.id.clone(),
        user_id,
        sid,
        scope: req.scope,
        auth_time,
        amr,
    };
    issue(deps, &req, grant, client_info, now).await
}

/// The code for a checked request, and the redirect that carries it.
async fn issue(
    deps: &Deps,
    req: &Checked,
    grant: Grant,
    client_info: &ClientInfo,
    now: Timestamp,
) -> Result<Next, OidcError> {
    let mut tx = deps.store.begin().await?;
    // O3: a code only for an SSO session that still exists once the person's row is ours: a
    // reset or sign-out that committed meanwhile has deleted it.
    users::lock(&mut tx, &grant.user_id).await?;
    if !sessions::sso_alive(&mut tx, &grant.sid).await? {
        return Ok(Next::ErrorPage(
            "Your sign-in has ended. Go back to the application and sign in again.",
        ));
    }
    let code = grants::issue_code(
        &mut tx,
        &CodeRequest {
            grant: grant.clone(),
            redirect_uri: req.redirect_uri.clone(),
            nonce: req.nonce.clone(),
            challenge: req.challenge.clone(),
        },
        now,
    )
    .await?;
    grants::record_use(&mut tx, &grant.user_id, &grant.client_id, req.scope, now).await?;
    events::record(
        &mut tx,
        Some(&grant.user_id),
        EventKind::AppAuthorized,
        client_info,
        now,
    )
    .await?;
    tx.commit().await?;
    let mut params = vec![("code", code.expose())];
    if let Some(s) = &req.state {
        params.push(("state", s));
    }
    Ok(Next::ToClient(to_client(deps, &req.redirect_uri, &params)))
}

/// O7: the id of the parked request `parked` as shown to the browser session `session_hash`:
/// a MAC over both, so a form can name the request it shows and nobody can name one for
/// another browser. A request parked later (another tab, a popup) has another id.
pub fn request_id(deps: &Deps, session_hash: &str, parked: &str) -> String {
    deps.secret_key
        .mac(SHOWN, shown_data(session_hash, parked).as_bytes())
}

/// O7: whether `shown` (posted by a form) names the request parked now, for this session.
pub fn shows_request(deps: &Deps, session_hash: &str, parked: &str, shown: &str) -> bool {
    deps.secret_key
        .verify_mac(SHOWN, shown_data(session_hash, parked).as_bytes(), shown)
}

/// The MAC context of [`request_id`] and what it covers.
const SHOWN: &str = "oidc-request-shown";

fn shown_data(session_hash: &str, parked: &str) -> String {
    format!("{session_hash}\n{parked}")
}

/// O7: the id a sign-in page gives the request it shows (the session rotates at each sign-in
/// step, so this one is bound to the request alone; the sign-in keeps its digest instead).
pub fn sign_in_request_id(deps: &Deps, parked: &str) -> String {
    deps.secret_key
        .mac("oidc-request-sign-in", parked.as_bytes())
}

/// O7: whether `shown` (posted by the sign-in page's first form) names the request parked now.
pub fn sign_in_shows_request(deps: &Deps, parked: &str, shown: &str) -> bool {
    deps.secret_key
        .verify_mac("oidc-request-sign-in", parked.as_bytes(), shown)
}

/// O7: the digest a sign-in keeps of the request it was started for.
pub fn request_digest(parked: &str) -> String {
    crate::mechanisms::secret::digest(parked)
}

/// The name of the application a parked request is for (the sign-in page says it).
pub async fn requesting_client(deps: &Deps, parked: &str) -> Result<Option<String>, OidcError> {
    let Some((p, _)) = unpark(deps, parked) else {
        return Ok(None);
    };
    let mut c = deps.store.read().await?;
    Ok(
        oidc_clients::find(&mut c, p.client_id.as_deref().unwrap_or(""))
            .await?
            .map(|client| client.name),
    )
}

/// O7: whether the signed-in session `session` may continue `parked` at `/oauth2/continue`: only
/// the request its sign-in (or O8 re-authentication) was started for — never one a popup
/// parked meanwhile, and never one when the sign-in was started for none. The binding is used
/// up here, by a signed-in session only (a cross-site visit in the middle of a sign-in cannot
/// spend it); a session that is not signed in is sent to sign in by `authorize` anyway.
pub async fn continues(deps: &Deps, session: &Session, parked: &str) -> Result<bool, OidcError> {
    if session.authenticated_user().is_none() {
        return Ok(true);
    }
    let mut c = deps.store.conn().await?;
    let bound = bound_to(&mut c, session, parked).await?;
    sessions::bind_authorization(&mut c, &session.id_hash, None).await?;
    Ok(bound)
}

/// O7: whether `session` is bound to the request `parked` (its sign-in or re-authentication
/// was started for it).
async fn bound_to(c: &mut Conn, session: &Session, parked: &str) -> Result<bool, sqlx::Error> {
    let bound = sessions::bound_authorization(c, &session.id_hash).await?;
    Ok(bound.is_some_and(|b| crate::mechanisms::secret::ct_eq(&b, &request_digest(parked))))
}

/// The parked request `parked`, checked again (its client and redirect URI still good), with
/// the read connection it was checked on; `None` when it is gone or no longer good.
async fn parked_request(
    deps: &Deps,
    parked: &str,
) -> Result<Option<(Checked, sqlx::pool::PoolConnection<sqlx::Any>)>, OidcError> {
    let Some((p, _)) = unpark(deps, parked) else {
        return Ok(None);
    };
    let mut c = deps.store.read().await?;
    Ok(match check(deps, &mut c, &p).await? {
        Ok(req) => Some((req, c)),
        Err(_) => None,
    })
}

/// O7/O8: the re-authentication page's password was posted for request `shown` (its
/// [`request_id`]): when that is the request parked now, the session is bound to it (the code
/// step follows); otherwise nothing happens and the page shows the request parked now.
pub async fn start_reauth(
    deps: &Deps,
    session: &Session,
    parked: &str,
    shown: &str,
) -> Result<bool, OidcError> {
    if !shows_request(deps, &session.id_hash, parked, shown) {
        return Ok(false);
    }
    let mut c = deps.store.conn().await?;
    sessions::bind_authorization(&mut c, &session.id_hash, Some(&request_digest(parked))).await?;
    Ok(true)
}

/// O8: the proof a logout question was answered on our own page by this browser session (the
/// question's form carries it; a form on another site cannot).
pub fn logout_confirmation(deps: &Deps, session_hash: &str) -> String {
    deps.secret_key
        .mac("oidc-logout-confirmed", session_hash.as_bytes())
}

/// O8: whether `given` is this session's [`logout_confirmation`].
pub fn confirms_logout(deps: &Deps, session_hash: &str, given: &str) -> bool {
    deps.secret_key
        .verify_mac("oidc-logout-confirmed", session_hash.as_bytes(), given)
}

/// O8: what the "sign in again" page shows: the application and where re-authentication
/// stands for this session (a fresh window does not count: this request wants a newer one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReauthPrompt {
    pub client_name: String,
    pub reauth: crate::mechanisms::reauth::Reauth,
    /// O7: the id of the request shown, for the password form to post back.
    pub request: String,
}

/// The "sign in again" page's content for a parked request (None: nothing waits).
pub async fn reauth_prompt(
    deps: &Deps,
    session: &Session,
    parked: &str,
) -> Result<Option<ReauthPrompt>, OidcError> {
    use crate::mechanisms::reauth::{self, Reauth};
    let Some((req, mut c)) = parked_request(deps, parked).await? else {
        return Ok(None);
    };
    // The code step shows only after this page's password step, for this request (a code
    // challenge left from the Security tab, or a fresh S5 window, does not count).
    let for_this = bound_to(&mut c, session, parked).await?;
    let state = match reauth::state(&mut c, deps, session, deps.now()).await? {
        code @ Reauth::Code { .. } if for_this => code,
        _ => Reauth::Password,
    };
    Ok(Some(ReauthPrompt {
        client_name: req.client.name,
        reauth: state,
        request: request_id(deps, &session.id_hash, parked),
    }))
}

/// What the consent page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentView {
    pub client_name: String,
    pub claims: Vec<&'static str>,
    /// O7: the id of the request shown, for the form to post back.
    pub request: String,
}

/// The consent page's content for a parked request, shown to `session` (None: nothing to ask
/// about).
pub async fn consent_view(
    deps: &Deps,
    session: &Session,
    parked: &str,
) -> Result<Option<ConsentView>, OidcError> {
    let Some((req, _)) = parked_request(deps, parked).await? else {
        return Ok(None);
    };
    Ok(Some(ConsentView {
        client_name: req.client.name,
        claims: req.scope.in_words(),
        request: request_id(deps, &session.id_hash, parked),
    }))
}

/// Why a consent answer cannot be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotDecided {
    /// The parked request is gone (expired, not ours, or the person is not signed in).
    Expired,
    /// O7: the answer was given for another request than the one parked now (one opened in
    /// another tab or a popup replaced it).
    OtherRequest,
}

/// The person answered the consent page shown for request `shown` ([`request_id`]): Allow
/// issues the code, Deny tells the client `access_denied`. O7: the answer applies only to the
/// request it was shown for.
pub async fn decide(
    deps: &Deps,
    session: &Session,
    parked: &str,
    shown: &str,
    allow: bool,
    client_info: &ClientInfo,
) -> Result<Result<Next, NotDecided>, OidcError> {
    let Some((p, _)) = unpark(deps, parked) else {
        return Ok(Err(NotDecided::Expired));
    };
    if !shows_request(deps, &session.id_hash, parked, shown) {
        tracing::warn!("O7: a consent answer for another request than the one parked: refused");
        return Ok(Err(NotDecided::OtherRequest));
    }
    let mut c = deps.store.read().await?;
    let req = match check(deps, &mut c, &p).await? {
        Ok(r) => r,
        Err(next) => return Ok(Ok(next)),
    };
    let sso = sessions::sso(&mut c, &session.id_hash).await?;
    drop(c);
    let SessionState::Authenticated {
        user_id,
        authenticated_at,
    } = &session.state
    else {
        return Ok(Err(NotDecided::Expired));
    };
    let now = deps.now();
    if !allow {
        let mut c = deps.store.conn().await?;
        events::record(
            &mut c,
            Some(user_id),
            EventKind::AppDenied,
            client_info,
            now,
        )
        .await?;
        let r = Refused::new(OAuthError::AccessDenied, "the person refused");
        return Ok(Ok(refused_to_client(
            deps,
            &req.redirect_uri,
            &r,
            req.state.as_deref(),
        )));
    }
    let Some((sid, amr)) = sso else {
        return Ok(Err(NotDecided::Expired));
    };
    let grant = Grant {
        family: String::new(),
        client_id: req.client.id.clone(),
        user_id: user_id.clone(),
        sid,
        scope: req.scope,
        auth_time: *authenticated_at,
        amr,
    };
    issue(deps, &req, grant, client_info, now).await.map(Ok)
}

/// A token request's client authentication and parameters.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenParams {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// RFC 7009 / RFC 7662.
    pub token: Option<String>,
}

/// The client behind a request to the token, revocation or introspection endpoint.
pub async fn client_of(
    deps: &Deps,
    basic: Option<(String, String)>,
    p: &TokenParams,
) -> Result<Client, OidcError> {
    let (id, secret) = match basic {
        Some((id, secret)) => (id, Some(secret)),
        None => (
            p.client_id.clone().unwrap_or_default(),
            p.client_secret.clone(),
        ),
    };
    let mut c = deps.store.read().await?;
    Ok(oidc_clients::authenticate(&mut c, &id, secret.as_deref()).await?)
}

fn required<'a>(v: &'a Option<String>, name: &'static str) -> Result<&'a str, Refused> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .ok_or(Refused::new(OAuthError::InvalidRequest, name))
}

/// `/oauth2/token`: a code (with its PKCE verifier) or a refresh token for fresh tokens.
pub async fn token(
    deps: &Deps,
    client: &Client,
    p: &TokenParams,
    who: &ClientInfo,
) -> Result<Value, OidcError> {
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    // O3: the person's row first, as a sign-out that revokes their tokens takes it first.
    let presented = match p.grant_type.as_deref() {
        Some("authorization_code") => p.code.as_deref().map(|c| (c, false)),
        Some("refresh_token") => p.refresh_token.as_deref().map(|t| (t, true)),
        _ => None,
    };
    if let Some((secret, refresh)) = presented {
        if let Some(owner) = grants::owner(&mut tx, secret, refresh).await? {
            users::lock(&mut tx, &owner).await?;
        }
    }
    let (grant, nonce) = match p.grant_type.as_deref() {
        Some("authorization_code") => {
            let code = required(&p.code, "code is required")?;
            let uri = required(&p.redirect_uri, "redirect_uri is required")?;
            let verifier = required(&p.code_verifier, "code_verifier is required (PKCE)")?;
            match grants::redeem_code(&mut tx, code, &client.id, uri, verifier, who, now).await {
                Ok(v) => v,
                Err(e) => {
                    // O2: a replay's revocation stands even though the request fails.
                    tx.commit().await?;
                    return Err(e.into());
                }
            }
        }
        Some("refresh_token") => {
            let token = required(&p.refresh_token, "refresh_token is required")?;
            match grants::use_refresh(&mut tx, token, &client.id, who, now).await {
                Ok(g) => (g, None),
                Err(e) => {
                    // O3: a reuse's revocation stands.
                    tx.commit().await?;
                    return Err(e.into());
                }
            }
        }
        None => {
            return Err(Refused::new(OAuthError::InvalidRequest, "grant_type is required").into())
        }
        Some(_) => {
            return Err(Refused::new(
                OAuthError::UnsupportedGrantType,
                "grant_type must be authorization_code or refresh_token",
            )
            .into())
        }
    };
    let Some(user) = users::by_id(&mut tx, &grant.user_id).await? else {
        return Err(Refused::new(OAuthError::InvalidGrant, "the account is gone").into());
    };
    let key = signing::signer(&mut tx, &deps.secret_key, client.alg, now).await?;
    let base = json!({
        "iss": issuer(deps), "sub": grant.user_id, "aud": client.id, "iat": now,
        "exp": now + ACCESS_TTL, "sid": grant.sid,
    });
    let mut access = base.clone();
    access["client_id"] = json!(client.id);
    access["scope"] = json!(grant.scope.as_string());
    access["jti"] = json!(crate::mechanisms::secret::random_hex(16));
    let access = key.sign("at+jwt", &access)?;
    grants::store_token(&mut tx, TokenKind::Access, &access, &grant, ACCESS_TTL, now).await?;
    let mut id = base;
    // O9 (Core 3.1.3.6): at_hash, the left half of the access token's SHA-256 (RS256 and ES256
    // both hash with SHA-256).
    let at_hash = {
        use sha2::{Digest, Sha256};
        base64url(&Sha256::digest(access.as_bytes())[..16])
    };
    id["at_hash"] = json!(at_hash);
    id["auth_time"] = json!(grant.auth_time);
    id["azp"] = json!(client.id);
    id["acr"] = json!(ACR);
    id["amr"] = json!(grant.amr.split(' ').collect::<Vec<_>>());
    if let Some(n) = nonce {
        id["nonce"] = json!(n);
    }
    for (k, v) in person_claims(deps, &user, grant.scope) {
        id[k] = v;
    }
    let mut answer = json!({
        "access_token": access, "token_type": "Bearer", "expires_in": ACCESS_TTL,
        "id_token": key.sign("JWT", &id)?, "scope": grant.scope.as_string(),
    });
    if grant.scope.offline_access {
        let refresh = grants::new_refresh(&mut tx, &grant, REFRESH_TTL, now).await?;
        answer["refresh_token"] = json!(refresh.expose());
    }
    tx.commit().await?;
    Ok(answer)
}

/// O5: the person's claims the scopes allow.
fn person_claims(deps: &Deps, user: &users::User, scope: Scopes) -> Vec<(&'static str, Value)> {
    let mut v = Vec::new();
    if scope.profile {
        let name = format!("{} {}", user.first_name, user.last_name);
        v.push(("name", json!(name.trim())));
        v.push(("given_name", json!(user.first_name)));
        v.push(("family_name", json!(user.last_name)));
        if let Some(id) = &user.avatar_id {
            v.push(("picture", json!(deps.link(&AvatarSize::Large.path(id)))));
        }
    }
    if scope.email {
        v.push(("email", json!(user.email.as_str())));
        v.push(("email_verified", json!(user.email_verified)));
    }
    v
}

/// `/oauth2/userinfo`: the claims, read fresh (a name changed a second ago shows).
pub async fn userinfo(deps: &Deps, bearer: &str) -> Result<Value, OidcError> {
    let mut c = deps.store.read().await?;
    let live = grants::live(&mut c, bearer, deps.now()).await?;
    let Some(live) = live.filter(|l| l.kind == TokenKind::Access) else {
        return Err(Refused::new(OAuthError::InvalidToken, "the access token is not valid").into());
    };
    let Some(user) = users::by_id(&mut c, &live.grant.user_id).await? else {
        return Err(Refused::new(OAuthError::InvalidToken, "the account is gone").into());
    };
    let mut answer = json!({"sub": user.id});
    for (k, v) in person_claims(deps, &user, live.grant.scope) {
        answer[k] = v;
    }
    Ok(answer)
}

/// RFC 7009 `/oauth2/revoke`: always "done" (unknown tokens included).
pub async fn revoke(
    deps: &Deps,
    client: &Client,
    p: &TokenParams,
    who: &ClientInfo,
) -> Result<(), OidcError> {
    let token = required(&p.token, "token is required")?;
    let mut tx = deps.store.begin().await?;
    // O3: after any token the person's token requests are issuing now.
    if let Some(owner) = grants::owner(&mut tx, token, true).await? {
        users::lock(&mut tx, &owner).await?;
    }
    grants::revoke(&mut tx, token, &client.id, who, deps.now()).await?;
    tx.commit().await?;
    Ok(())
}

/// RFC 7662 `/oauth2/introspect` for confidential clients, about their own tokens.
pub async fn introspect(deps: &Deps, client: &Client, p: &TokenParams) -> Result<Value, OidcError> {
    if client.public {
        return Err(Refused::new(
            OAuthError::InvalidClient,
            "introspection is for confidential clients",
        )
        .into());
    }
    let token = required(&p.token, "token is required")?;
    let mut c = deps.store.read().await?;
    let live = grants::live(&mut c, token, deps.now()).await?;
    Ok(match live.filter(|l| l.grant.client_id == client.id) {
        Some(l) => json!({
            "active": true, "scope": l.grant.scope.as_string(), "client_id": client.id,
            "sub": l.grant.user_id, "exp": l.expires_at, "sid": l.grant.sid,
            "token_type": if l.kind == TokenKind::Access { "Bearer" } else { "refresh_token" },
            "iss": issuer(deps),
        }),
        None => json!({"active": false}),
    })
}

/// `/oauth2/jwks`.
pub async fn jwks(deps: &Deps) -> Result<Value, OidcError> {
    let mut c = deps.store.conn().await?;
    let keys = signing::jwks(&mut c, &deps.secret_key, deps.now(), KEY_KEEP).await?;
    Ok(json!({ "keys": keys }))
}

/// O4: on start-up, the signing keys exist.
pub async fn ensure_keys(deps: &Deps) -> Result<(), OidcError> {
    let mut c = deps.store.conn().await?;
    signing::ensure(&mut c, &deps.secret_key, deps.now()).await?;
    Ok(())
}

/// `gatehouse keys rotate`.
pub async fn rotate_keys(deps: &Deps) -> Result<Vec<String>, OidcError> {
    let mut c = deps.store.conn().await?;
    Ok(signing::rotate(&mut c, &deps.secret_key, deps.now()).await?)
}

/// `/.well-known/openid-configuration`.
pub fn discovery(deps: &Deps) -> Value {
    let iss = issuer(deps);
    let at = |path: &str| format!("{iss}{path}");
    json!({
        "issuer": iss,
        "authorization_endpoint": at("/oauth2/authorize"),
        "token_endpoint": at("/oauth2/token"),
        "userinfo_endpoint": at("/oauth2/userinfo"),
        "jwks_uri": at("/oauth2/jwks"),
        "revocation_endpoint": at("/oauth2/revoke"),
        "introspection_endpoint": at("/oauth2/introspect"),
        "end_session_endpoint": at("/oauth2/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": Alg::ALL.map(Alg::as_str),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr",
            "sid", "azp", "at_hash", "name", "given_name", "family_name", "picture", "email", "email_verified"],
        "prompt_values_supported": ["none", "login", "consent"],
        "acr_values_supported": ACR_SUPPORTED,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    })
}

/// RP-initiated logout's query (`end_session_endpoint`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct LogoutParams {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    /// O8: posted by our own "Sign out?" page ([`logout_confirmation`]).
    pub confirm: Option<String>,
}

/// What RP-initiated logout may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutPlan {
    /// The request proves which application sent it (an ID token we signed for the signed-in
    /// person): sign out at once. Otherwise the person is asked (no logout by a stray link).
    pub trusted: bool,
    /// O9: the SSO session the trusted hint names (its `sid`): what a POST from the
    /// application's page ends, since the browser sends no SameSite=Lax cookie with it.
    pub sid: Option<String>,
    /// Where to send the browser afterwards: a URI the client registered (O1: exact), with
    /// `state`; `None` means our own signed-out page.
    pub redirect: Option<String>,
}

/// RP-initiated logout 1.0: checks the hint and the post-logout URI. O9: the hint must be an
/// ID token of ours (not an access token signed with the same key), and a `client_id` given
/// with it must be its audience.
pub async fn logout_plan(
    deps: &Deps,
    session: Option<&Session>,
    p: &LogoutParams,
) -> Result<LogoutPlan, OidcError> {
    use base64::Engine;
    let mut c = deps.store.conn().await?;
    // The hint's audience names the client; its signature (with that client's alg) proves it.
    let hinted = p.id_token_hint.as_deref().and_then(|t| {
        let payload = t.split('.').nth(1)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .ok()?;
        let claims: Value = serde_json::from_slice(&bytes).ok()?;
        Some((t.to_string(), claims["aud"].as_str()?.to_string()))
    });
    if let (Some(id), Some((_, aud))) = (&p.client_id, &hinted) {
        if id != aud {
            return Err(Refused::new(
                OAuthError::InvalidRequest,
                "client_id is not the audience of id_token_hint",
            )
            .into());
        }
    }
    let client_id = p
        .client_id
        .clone()
        .or_else(|| hinted.as_ref().map(|(_, aud)| aud.clone()));
    let client = match client_id {
        Some(id) => oidc_clients::find(&mut c, &id).await?,
        None => None,
    };
    let mut trusted = false;
    let mut sid = None;
    if let (Some((token, _)), Some(client)) = (&hinted, &client) {
        let keys = signing::published(&mut c, deps.now(), KEY_KEEP).await?;
        if let Ok(claims) = signing::verify_id_token(&keys, token, client.alg) {
            let me = session.and_then(Session::authenticated_user);
            trusted = claims["aud"] == client.id.as_str()
                && claims["iss"] == issuer(deps).as_str()
                && me.is_none_or(|u| claims["sub"] == u);
            if trusted {
                sid = claims["sid"].as_str().map(str::to_string);
            }
        }
    }
    let redirect = match (&client, p.post_logout_redirect_uri.as_deref()) {
        (Some(client), Some(uri)) => client.post_logout_redirect(uri).map(|r| match &p.state {
            Some(state) => with_params(r.as_str(), &[("state", state)]),
            None => r.as_str().to_string(),
        }),
        _ => None,
    };
    Ok(LogoutPlan {
        trusted,
        sid,
        redirect,
    })
}
