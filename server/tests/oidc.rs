//! Gatehouse as an OpenID Connect provider, over HTTP (issue 13): an application sends a person
//! to sign in (password and emailed code), gets a code back, trades it for tokens whose ID
//! token verifies against the JWKS, reads fresh claims from userinfo; single sign-on for the
//! next request; consent for a third-party application; O1/O2/O3 at the endpoints.

mod support;

use gatehouse_core::mechanisms::signing;
use gatehouse_core::values::oidc::Alg;
use serde_json::Value;
use support::flows::*;
use support::{urldecode, urlencode, Client, Server};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const CB: &str = "http://127.0.0.1:9/cb";
/// Where Wiki registered people to land after logout (O9: apart from its redirect URI).
const BYE: &str = "http://127.0.0.1:9/bye";
const EMAIL: &str = "ada@example.com";

/// `gatehouse client create …`: (client_id, client_secret).
fn client(s: &Server, args: &[&str]) -> (String, Option<String>) {
    let mut all = vec!["client", "create"];
    all.extend_from_slice(args);
    let out = s.cli(&all);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(str::to_string)
    };
    (
        value("client_id=").expect("client_id"),
        value("client_secret="),
    )
}

/// A first-party application "Wiki" and a registered person: (client id, client secret).
fn wiki_and_person(s: &Server) -> (String, String) {
    let (id, secret) = client(
        s,
        &[
            "Wiki",
            "--redirect-uri",
            CB,
            "--first-party",
            "--post-logout-uri",
            BYE,
        ],
    );
    register_and_verify(&mut Client::new(s), EMAIL, "email", "");
    (id, secret.expect("a confidential client"))
}

fn authorize(client_id: &str, extra: &str) -> String {
    format!(
        "/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope={}\
         &state=st-1&nonce=n-1&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        urlencode(CB),
        urlencode("openid profile email offline_access"),
    )
}

/// The query parameters of the URL a page or redirect sends the browser to.
fn params(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    query
        .replace("&amp;", "&")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let v = urldecode(v);
            (k.to_string(), v)
        })
        .collect()
}

fn param(url: &str, name: &str) -> Option<String> {
    params(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The address the "Returning to the application" page moves on to.
fn continue_url(page: &str) -> String {
    let start = page.find("url=").expect("a refresh to the application") + 4;
    let rest = &page[start..];
    rest[..rest.find('"').expect("end of url")].replace("&amp;", "&")
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

fn post_form(c: &mut Client, path: &str, auth: Option<&str>, body: &str) -> (u16, Value) {
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    let r = c.request("POST", path, &headers, body);
    (
        r.status,
        serde_json::from_str(&r.body).unwrap_or(Value::Null),
    )
}

fn exchange(c: &mut Client, auth: &str, code: &str) -> (u16, Value) {
    post_form(
        c,
        "/oauth2/token",
        Some(auth),
        &format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
            urlencode(CB)
        ),
    )
}

fn userinfo(c: &mut Client, access: &str) -> (u16, Value) {
    let auth = format!("Bearer {access}");
    let r = c.request("GET", "/oauth2/userinfo", &[("Authorization", &auth)], "");
    (
        r.status,
        serde_json::from_str(&r.body).unwrap_or(Value::Null),
    )
}

/// Email → password → emailed code in browser `b`; returns where the last step sent it.
fn sign_in(b: &mut Client) -> Option<String> {
    sign_in_as(b, EMAIL)
}

/// [`sign_in`] as `email`.
fn sign_in_as(b: &mut Client, email: &str) -> Option<String> {
    // As a browser does: the page first; its form names the application's request (O7).
    let page = b.get("/login").body;
    let authz = if page.contains("name=\"authz\"") {
        hidden_value(&page, "authz")
    } else {
        String::new()
    };
    assert_eq!(
        b.form(
            "/api/login_email",
            "/login",
            &[("email", email), ("authz", &authz)]
        )
        .status,
        303
    );
    let before = count(b, email, "sign-in code");
    assert_eq!(
        b.form("/api/login_password", "/login", &[("password", PW)])
            .status,
        303
    );
    let code = after(&newest(b, email, "sign-in code", before), "code is ").to_string();
    let r = b.form("/api/login_code", "/login", &[("code", &code)]);
    r.header("location").map(str::to_string)
}

/// Where a plain authorization request of `id` sends the signed-in browser `b` (SSO).
fn to_client_after(b: &mut Client, id: &str) -> String {
    b.get(&authorize(id, ""))
        .header("location")
        .expect("back to the client")
        .to_string()
}

#[test]
fn an_application_signs_a_person_in_with_mfa_and_gets_verified_tokens_and_fresh_claims() {
    let s = Server::start(&[]);
    let (id, secret) = client(&s, &["Wiki", "--redirect-uri", CB, "--first-party"]);
    let secret = secret.expect("a confidential client");
    let mut reg = Client::new(&s);
    register_and_verify(&mut reg, EMAIL, "email", "");

    // Discovery names every endpoint under our issuer.
    let mut rp = Client::new(&s);
    let d: Value = serde_json::from_str(&rp.get("/.well-known/openid-configuration").body)
        .expect("discovery json");
    assert_eq!(d["issuer"], s.base.trim_end_matches('/'));
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );

    // A browser without a session is sent through our sign-in, then back to the application.
    let mut b = Client::new(&s);
    let r = b.get(&authorize(&id, ""));
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));
    assert_eq!(sign_in(&mut b).as_deref(), Some("/oauth2/continue"));
    let page = b.get("/oauth2/continue");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Continue to the application"),
        "{}",
        page.body
    );
    let back = continue_url(&page.body);
    assert!(back.starts_with(&format!("{CB}?code=")), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(
        param(&back, "iss").as_deref(),
        Some(s.base.trim_end_matches('/')),
        "RFC 9207"
    );
    let code = param(&back, "code").expect("code");

    // The code becomes tokens; the ID token verifies against the published keys.
    let (status, tokens) = exchange(&mut rp, &basic(&id, &secret), &code);
    assert_eq!(status, 200, "{tokens}");
    let jwks: Value = serde_json::from_str(&rp.get("/oauth2/jwks").body).expect("jwks");
    let keys = jwks["keys"].as_array().expect("keys").clone();
    let claims = signing::verify(
        &keys,
        tokens["id_token"].as_str().expect("id_token"),
        Alg::Rs256,
    )
    .expect("the ID token verifies with RS256 (the client's alg)");
    assert_eq!(claims["aud"], id.as_str());
    assert_eq!(claims["nonce"], "n-1", "nonce carried through");
    assert_eq!(claims["email"], EMAIL);
    assert_eq!(claims["given_name"], "Ada");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    let sub = claims["sub"].as_str().expect("sub").to_string();
    assert!(!sub.contains('@'), "O5: sub is never the email");
    assert!(claims["sid"].as_str().is_some_and(|s| !s.is_empty()));

    // Userinfo is read fresh: a name changed in the profile shows at the next call.
    let access = tokens["access_token"].as_str().expect("access").to_string();
    let (status, info) = userinfo(&mut rp, &access);
    assert_eq!((status, info["given_name"].as_str()), (200, Some("Ada")));
    let r = b.form(
        "/api/save_profile",
        "/profile/details",
        &[("first_name", "Augusta"), ("last_name", "Lovelace")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let (_, info) = userinfo(&mut rp, &access);
    assert_eq!(
        (info["sub"].as_str(), info["given_name"].as_str()),
        (Some(sub.as_str()), Some("Augusta"))
    );

    // SSO: the next request of a signed-in browser goes straight back, no sign-in asked.
    let r = b.get(&authorize(&id, ""));
    assert_eq!(r.status, 303);
    let again = r.header("location").expect("to the client").to_string();
    assert!(again.starts_with(&format!("{CB}?code=")), "{again}");

    // O3: the refresh token rotates; the old one coming back ends the chain.
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    let body = |t: &str| format!("grant_type=refresh_token&refresh_token={t}");
    let (status, next) = post_form(
        &mut rp,
        "/oauth2/token",
        Some(&basic(&id, &secret)),
        &body(&refresh),
    );
    assert_eq!(status, 200, "{next}");
    let newer = next["refresh_token"].as_str().expect("rotated").to_string();
    assert_ne!(newer, refresh);
    let (status, err) = post_form(
        &mut rp,
        "/oauth2/token",
        Some(&basic(&id, &secret)),
        &body(&refresh),
    );
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (_, err) = post_form(
        &mut rp,
        "/oauth2/token",
        Some(&basic(&id, &secret)),
        &body(&newer),
    );
    assert_eq!(
        err["error"], "invalid_grant",
        "O3: the whole chain is revoked"
    );

    // O2: the first code again: refused, and the access token it gave stops working.
    let (status, err) = exchange(&mut rp, &basic(&id, &secret), &code);
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = userinfo(&mut rp, &access);
    assert_eq!(status, 401);

    // A wrong secret is invalid_client, 401.
    let (status, err) = exchange(&mut rp, &basic(&id, "wrong"), "x");
    assert_eq!(
        (status, err["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

#[test]
fn o1_a_wrong_redirect_uri_gets_an_error_page_and_is_never_redirected_to() {
    let s = Server::start(&[]);
    let (id, _) = client(&s, &["Wiki", "--redirect-uri", CB, "--first-party"]);
    let mut b = Client::new(&s);
    for wrong in [
        "http://127.0.0.1:9/cb/",
        "http://127.0.0.1:9/cb?x=1",
        "http://127.0.0.1:10/cb",
        "http://evil@127.0.0.1:9/cb",
    ] {
        let path = authorize(&id, "").replace(&urlencode(CB), &urlencode(wrong));
        let r = b.get(&path);
        assert_eq!((r.status, r.header("location")), (400, None), "{wrong}");
        assert!(r.body.contains("has not registered"), "{}", r.body);
    }
    let r = b.get(&authorize("unknown-client", ""));
    assert_eq!((r.status, r.header("location")), (400, None));
    // H1: the server's own pages carry the same CSP as every HTML answer.
    assert_eq!(
        r.header("content-security-policy"),
        Some("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
        "h1_every_html_answer_has_a_csp"
    );
    // With the right URI, protocol errors go back to the client: no PKCE, prompt=none.
    let no_pkce =
        authorize(&id, "").replace("code_challenge_method=S256", "code_challenge_method=plain");
    let r = b.get(&no_pkce);
    let to = r.header("location").expect("to the client").to_string();
    assert_eq!(
        param(&to, "error").as_deref(),
        Some("invalid_request"),
        "{to}"
    );
    let r = b.get(&authorize(&id, "&prompt=none"));
    let to = r.header("location").expect("to the client").to_string();
    assert_eq!(
        param(&to, "error").as_deref(),
        Some("login_required"),
        "{to}"
    );
    assert_eq!(param(&to, "state").as_deref(), Some("st-1"));
    // login_hint fills in the sign-in page's address.
    let r = b.get(&authorize(&id, "&login_hint=grace%40example.com"));
    let to = r.header("location").expect("to sign-in").to_string();
    assert_eq!(to, "/login?email=grace%40example.com");
    let page = b.get(&to).body;
    assert!(page.contains("value=\"grace@example.com\""), "{page}");
}

/// O7: the id of the request the consent page in `b` shows now.
fn shown_request(b: &mut Client) -> String {
    let page = b.get("/oauth2/consent");
    let marker = "name=\"request\" value=\"";
    let start = page
        .body
        .find(marker)
        .unwrap_or_else(|| panic!("a request id on the consent page: {}", page.body))
        + marker.len();
    let rest = &page.body[start..];
    rest[..rest.find('"').expect("end of value")].to_string()
}

/// Answers the consent page in `b` as a person does: for the request it shows.
fn answer_consent(b: &mut Client, decision: &str) -> support::Response {
    let request = shown_request(b);
    b.form(
        "/oauth2/consent",
        "/oauth2/consent",
        &[("decision", decision), ("request", &request)],
    )
}

#[test]
fn a_third_party_application_asks_for_consent_once_and_deny_tells_it_access_denied() {
    let s = Server::start(&[]);
    let (id, _) = client(
        &s,
        &["Chat", "--redirect-uri", CB, "--public", "--alg", "ES256"],
    );
    let mut reg = Client::new(&s);
    register_and_verify(&mut reg, EMAIL, "email", "");
    let mut b = Client::new(&s);
    b.get(&authorize(&id, ""));
    assert_eq!(sign_in(&mut b).as_deref(), Some("/oauth2/continue"));
    let r = b.get("/oauth2/continue");
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/oauth2/consent"))
    );
    let page = b.get("/oauth2/consent");
    assert!(
        page.body.contains("Allow Chat to use your account?"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Your email address"), "{}", page.body);
    // Deny: the application hears access_denied.
    let r = answer_consent(&mut b, "deny");
    let to = continue_url(&r.body);
    assert_eq!(
        param(&to, "error").as_deref(),
        Some("access_denied"),
        "{to}"
    );
    // Allow (asked again, since nothing was granted): a code, which a public client redeems
    // with its PKCE verifier alone; its ID token is ES256.
    assert_eq!(
        b.get(&authorize(&id, "")).header("location"),
        Some("/oauth2/consent")
    );
    let r = answer_consent(&mut b, "allow");
    let code = param(&continue_url(&r.body), "code").expect("code");
    let mut rp = Client::new(&s);
    let (status, tokens) = post_form(
        &mut rp,
        "/oauth2/token",
        None,
        &format!(
            "grant_type=authorization_code&client_id={id}&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
            urlencode(CB)
        ),
    );
    assert_eq!(status, 200, "{tokens}");
    let jwks: Value = serde_json::from_str(&rp.get("/oauth2/jwks").body).expect("jwks");
    let keys = jwks["keys"].as_array().expect("keys").clone();
    let id_token = tokens["id_token"].as_str().expect("id_token");
    let claims = signing::verify(&keys, id_token, Alg::Es256).expect("ES256 verifies");
    assert_eq!(claims["aud"], id.as_str());
    assert_eq!(
        signing::verify(&keys, id_token, Alg::Rs256),
        Err(signing::VerifyError::WrongAlg),
        "O4: the client's alg, not the token's"
    );
    // prompt=consent asks again even so.
    let r = b.get(&authorize(&id, "&prompt=consent"));
    assert_eq!(r.header("location"), Some("/oauth2/consent"));
    // Consent is remembered: the next request goes straight back.
    let r = b.get(&authorize(&id, ""));
    assert!(r
        .header("location")
        .is_some_and(|l| l.starts_with(&format!("{CB}?code="))));
}

/// O7: a popup that opens another application's authorization request while the person reads
/// "Chat wants…" replaces the parked request; Allow, posted for Chat's request, grants nothing —
/// neither to the other application nor to Chat — and says why.
#[test]
fn o7_consent_applies_to_the_request_shown() {
    let s = Server::start(&[]);
    let (chat, _) = client(&s, &["Chat", "--redirect-uri", CB, "--public"]);
    let (evil, _) = client(&s, &["Evil", "--redirect-uri", CB, "--public"]);
    register_and_verify(&mut Client::new(&s), EMAIL, "email", "");
    let mut b = Client::new(&s);
    b.get(&authorize(&chat, ""));
    sign_in(&mut b);
    b.get("/oauth2/continue");
    let shown = shown_request(&mut b);
    assert!(b
        .get("/oauth2/consent")
        .body
        .contains("Allow Chat to use your account?"));
    // The popup: the same browser, another application's request.
    assert_eq!(
        b.get(&authorize(&evil, "")).header("location"),
        Some("/oauth2/consent")
    );
    let r = b.form(
        "/oauth2/consent",
        "/oauth2/consent",
        &[("decision", "allow"), ("request", &shown)],
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body.contains("This answer was for another request"),
        "{}",
        r.body
    );
    assert_eq!(r.header("location"), None, "no code went anywhere");
    // Nothing was stored either: a silent request still needs consent.
    let r = b.get(&authorize(&evil, "&prompt=none"));
    let to = r
        .header("location")
        .expect("back to the client")
        .to_string();
    assert_eq!(
        param(&to, "error").as_deref(),
        Some("consent_required"),
        "{to}"
    );
    // A made-up or missing id is refused the same way.
    b.get(&authorize(&evil, ""));
    let r = b.form(
        "/oauth2/consent",
        "/oauth2/consent",
        &[("decision", "allow")],
    );
    assert_eq!(r.status, 409, "{}", r.body);
    // The page as shown now (Evil's) is answered normally.
    assert!(b
        .get("/oauth2/consent")
        .body
        .contains("Allow Evil to use your account?"));
    let r = answer_consent(&mut b, "deny");
    assert_eq!(
        param(&continue_url(&r.body), "error").as_deref(),
        Some("access_denied")
    );
}

/// The value of the hidden field `name` on `page`.
fn hidden_value(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("a hidden {name}: {page}"))
        + marker.len();
    page[start..start + page[start..].find('"').expect("end")].to_string()
}

/// O7 for sign-in: the sign-in page names the application and its first form the request; a
/// popup's request parked before that form is posted is said, not signed in to; one parked
/// after it is not continued when the sign-in ends.
#[test]
fn o7_a_sign_in_continues_only_the_request_it_was_started_for() {
    let s = Server::start(&[]);
    let (wiki, _) = wiki_and_person(&s);
    let (evil, _) = client(&s, &["Evil", "--redirect-uri", CB, "--first-party"]);
    let mut b = Client::new(&s);
    b.get(&authorize(&wiki, ""));
    let page = b.get("/login").body;
    assert!(page.contains("to continue to Wiki"), "{page}");
    let marker = "name=\"authz\" value=\"";
    let id_of = |page: &str| {
        let start = page
            .find(marker)
            .unwrap_or_else(|| panic!("an authz id: {page}"))
            + marker.len();
        page[start..start + page[start..].find('"').expect("end")].to_string()
    };
    let shown = id_of(&page);
    // The popup parks Evil's request before the email is sent: refused, and the page says so.
    b.get(&authorize(&evil, ""));
    b.form(
        "/api/login_email",
        "/login",
        &[("email", EMAIL), ("authz", &shown)],
    );
    let page = b.get("/login").body;
    assert!(
        page.contains("Another application asked you to sign in"),
        "{page}"
    );
    assert!(
        page.contains("to continue to Evil"),
        "the page names the new one: {page}"
    );
    // Started for Wiki (the form names it) …
    b.get(&authorize(&wiki, ""));
    let shown = id_of(&b.get("/login").body);
    b.form(
        "/api/login_email",
        "/login",
        &[("email", EMAIL), ("authz", &shown)],
    );
    // … then the popup parks Evil's request, and the person finishes signing in.
    b.get(&authorize(&evil, ""));
    let before = count(&mut b, EMAIL, "sign-in code");
    b.form("/api/login_password", "/login", &[("password", PW)]);
    let code = after(&newest(&mut b, EMAIL, "sign-in code", before), "code is ").to_string();
    let r = b.form("/api/login_code", "/login", &[("code", &code)]);
    assert_eq!(r.header("location"), Some("/oauth2/continue"));
    let r = b.get("/oauth2/continue");
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body.contains("This sign-in request changed"),
        "{}",
        r.body
    );
    assert_eq!(r.header("location"), None, "no code for Evil");
    // Signed in all the same; the next request of an application is single sign-on again.
    assert_eq!(b.get("/profile").status, 200);
    assert!(to_client_after(&mut b, &wiki).contains("code="));
    b.form("/api/sign_out", "/profile", &[]);

    // A sign-in whose page named no request continues none that a popup parks — before the
    // email is sent (the form names none) or after …
    let mut c = Client::new(&s);
    c.get(&authorize(&evil, ""));
    c.form("/api/login_email", "/login", &[("email", EMAIL)]);
    c.get(&authorize(&evil, ""));
    // … and a popup's visit to /oauth2/continue in the middle of a sign-in spends nothing.
    c.get("/oauth2/continue");
    let before = count(&mut c, EMAIL, "sign-in code");
    c.form("/api/login_password", "/login", &[("password", PW)]);
    let code = after(&newest(&mut c, EMAIL, "sign-in code", before), "code is ").to_string();
    c.form("/api/login_code", "/login", &[("code", &code)]);
    let r = c.get("/oauth2/continue");
    assert_eq!(
        r.status, 409,
        "o7_a_sign_in_for_no_request_continues_none: {}",
        r.body
    );
}

/// A browser signed in to `id` through the authorization flow; returns (browser, tokens).
fn signed_in_to(s: &Server, id: &str, secret: &str) -> (Client, Value) {
    let mut b = Client::new(s);
    b.get(&authorize(id, ""));
    assert_eq!(sign_in(&mut b).as_deref(), Some("/oauth2/continue"));
    let code = param(&continue_url(&b.get("/oauth2/continue").body), "code").expect("code");
    let (status, tokens) = exchange(&mut Client::new(s), &basic(id, secret), &code);
    assert_eq!(status, 200, "{tokens}");
    (b, tokens)
}

/// An application with a back-channel logout endpoint (an HTTP receiver that keeps what it
/// gets) and a person registered: (receiver, path of its endpoint, client id, secret).
fn with_back_channel(s: &Server) -> (support::SmsProvider, &'static str, String, String) {
    let receiver = support::SmsProvider::start();
    let path = "/backchannel-logout";
    let logout_uri = format!("{}{path}", receiver.url());
    let (id, secret) = client(
        s,
        &[
            "Wiki",
            "--redirect-uri",
            CB,
            "--first-party",
            "--logout-uri",
            &logout_uri,
        ],
    );
    register_and_verify(&mut Client::new(s), EMAIL, "email", "");
    (receiver, path, id, secret.expect("secret"))
}

/// The first back-channel logout request `receiver` got at `path`.
fn logout_notice(receiver: &support::SmsProvider, path: &str) -> support::ProviderRequest {
    support::eventually(|| {
        let got = receiver.requests.lock().ok()?.clone();
        got.into_iter().find(|r| r.path == path)
    })
}

#[test]
fn o6_signing_out_ends_the_sso_session_and_tells_the_application_by_back_channel() {
    let s = Server::start(&[]);
    let (receiver, path, id, secret) = with_back_channel(&s);
    let (mut b, tokens) = signed_in_to(&s, &id, &secret);
    let mut rp = Client::new(&s);
    let keys: Value = serde_json::from_str(&rp.get("/oauth2/jwks").body).expect("jwks");
    let keys = keys["keys"].as_array().expect("keys").clone();
    let id_claims =
        signing::verify(&keys, tokens["id_token"].as_str().expect("id"), Alg::Rs256).expect("id");

    let r = b.form("/api/sign_out", "/profile", &[]);
    assert_eq!(r.header("location"), Some("/login"));
    let notice = logout_notice(&receiver, path);
    assert_eq!(notice.method, "POST");
    let token = notice
        .body
        .strip_prefix("logout_token=")
        .expect("a logout_token form");
    let claims = signing::verify(&keys, token, Alg::Rs256).expect("signed by us, client's alg");
    assert_eq!(claims["aud"], id.as_str());
    assert_eq!(claims["sid"], id_claims["sid"], "the session that ended");
    assert_eq!(claims["sub"], id_claims["sub"]);
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(
        claims.get("nonce").is_none(),
        "a logout token never has a nonce"
    );

    // Its tokens are dead, and the browser has no SSO session any more.
    let (status, _) = userinfo(&mut rp, tokens["access_token"].as_str().expect("access"));
    assert_eq!(status, 401);
    let refresh = tokens["refresh_token"].as_str().expect("refresh");
    let (_, err) = post_form(
        &mut rp,
        "/oauth2/token",
        Some(&basic(&id, &secret)),
        &format!("grant_type=refresh_token&refresh_token={refresh}"),
    );
    assert_eq!(err["error"], "invalid_grant");
    let r = b.get(&authorize(&id, "&prompt=none"));
    let to = r.header("location").expect("to the client").to_string();
    assert_eq!(
        param(&to, "error").as_deref(),
        Some("login_required"),
        "{to}"
    );
}

#[test]
fn rp_initiated_logout_with_an_id_token_hint_signs_out_and_returns_to_a_registered_uri() {
    let s = Server::start(&[]);
    let (id, secret) = wiki_and_person(&s);
    let (mut b, tokens) = signed_in_to(&s, &id, &secret);
    let hint = tokens["id_token"].as_str().expect("id token");
    // Without a hint the person is asked first; nothing ends yet.
    let r = b.get(&format!(
        "/oauth2/logout?client_id={id}&post_logout_redirect_uri={}",
        urlencode(CB)
    ));
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Sign out of Gatehouse?"), "{}", r.body);
    assert_eq!(b.get("/profile").status, 200, "still signed in");
    // An unregistered post-logout URI is not redirected to, even with a good hint; nor is a
    // redirect URI that was not registered for logout (O9).
    for not_for_logout in ["https://evil.example.net/", CB] {
        let r = b.get(&format!(
            "/oauth2/logout?id_token_hint={hint}&post_logout_redirect_uri={}",
            urlencode(not_for_logout)
        ));
        assert_eq!(r.header("location"), Some("/login"), "{not_for_logout}");
        let (again, _) = signed_in_to(&s, &id, &secret);
        b = again;
    }
    // Signed in again, a hint and a registered URI: out at once, back to the application.
    let (mut b, tokens) = signed_in_to(&s, &id, &secret);
    let hint = tokens["id_token"].as_str().expect("id token");
    let r = b.get(&format!(
        "/oauth2/logout?id_token_hint={hint}&post_logout_redirect_uri={}&state=bye",
        urlencode(BYE)
    ));
    assert_eq!(
        r.header("location"),
        Some(format!("{BYE}?state=bye").as_str())
    );
    sent_to_sign_in(&mut b);
}

/// O9 (RP-Initiated Logout 1.0 §2): the application's page POSTs the logout (no SameSite=Lax
/// cookie comes along): the hint's `sid` ends the session. An access token is no hint, and a
/// `client_id` must be the hint's audience. O8: a form on another site without a hint signs
/// nobody out — only our own question's answer does.
#[test]
fn o9_logout_by_post_from_the_application_ends_the_session_its_hint_names() {
    let s = Server::start(&[]);
    let (id, secret) = wiki_and_person(&s);
    let (mut b, tokens) = signed_in_to(&s, &id, &secret);
    let hint = tokens["id_token"].as_str().expect("id token");
    let access = tokens["access_token"].as_str().expect("access token");
    let mut app_page = Client::new(&s); // the application's page: no cookie of ours
    let post = |c: &mut Client, body: &str| {
        c.request(
            "POST",
            "/oauth2/logout",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Sec-Fetch-Site", "cross-site"),
                ("Origin", "http://127.0.0.1:9"),
            ],
            body,
        )
    };
    // An access token signed with the same key is not an ID token: nothing ends.
    post(
        &mut app_page,
        &format!(
            "id_token_hint={access}&post_logout_redirect_uri={}",
            urlencode(BYE)
        ),
    );
    assert_eq!(b.get("/profile").status, 200, "still signed in");
    // A client_id that is not the hint's audience is refused.
    let r = post(
        &mut app_page,
        &format!("id_token_hint={hint}&client_id=someone-else"),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("client_id is not the audience"),
        "{}",
        r.body
    );
    // A foreign form with the person's cookie but no hint only asks (O8) …
    let r = post(&mut b, &format!("client_id={id}"));
    assert!(r.body.contains("Sign out of Gatehouse?"), "{}", r.body);
    assert_eq!(b.get("/profile").status, 200, "still signed in");
    // … and without it (a real browser holds the Lax cookie back) it neither signs out nor
    // drops the cookie: the question is asked over a GET, which brings the cookie.
    let r = post(&mut app_page, &format!("client_id={id}&state=s1"));
    assert_eq!(r.status, 303);
    let to = r.header("location").expect("to the question").to_string();
    assert!(to.starts_with("/oauth2/logout?"), "{to}");
    assert_eq!(
        r.header("set-cookie"),
        None,
        "o8_a_foreign_form_never_drops_the_cookie"
    );
    assert!(b.get(&to).body.contains("Sign out of Gatehouse?"));
    // The question's confirmation counts only as a POST from its own page.
    let page = b.get(&format!("/oauth2/logout?client_id={id}")).body;
    let confirm = page
        .split("name=\"confirm\" value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .expect("a confirmation")
        .to_string();
    let r = b.get(&format!("/oauth2/logout?client_id={id}&confirm={confirm}"));
    assert!(
        r.body.contains("Sign out of Gatehouse?"),
        "a GET with it still asks"
    );
    assert_eq!(b.get("/profile").status, 200, "still signed in");
    // The ID token as hint, posted: the session it names ends, and back to the application.
    let r = post(
        &mut app_page,
        &format!(
            "id_token_hint={hint}&client_id={id}&post_logout_redirect_uri={}&state=s2",
            urlencode(BYE)
        ),
    );
    assert_eq!(
        continue_url(&r.body),
        format!("{BYE}?state=s2"),
        "{}",
        r.body
    );
    sent_to_sign_in(&mut b);
    // Signed in again (a new sid), the application posts the old hint: its sign-in is over, so
    // the browser's newer one (whose cookie the POST held back) is found over a GET.
    let (mut b, _) = signed_in_to(&s, &id, &secret);
    let r = post(
        &mut app_page,
        &format!(
            "id_token_hint={hint}&post_logout_redirect_uri={}",
            urlencode(BYE)
        ),
    );
    let to = r.header("location").expect("over a GET").to_string();
    assert!(to.starts_with("/oauth2/logout?"), "{to}");
    assert_eq!(b.get(&to).header("location"), Some(BYE));
    sent_to_sign_in(&mut b);
}

/// O9: the endpoints as relying-party libraries call them — authorize by POST, any case of
/// the auth scheme, RFC 6749 JSON errors for malformed token requests, the truth in discovery,
/// request objects refused, acr_values honoured, at_hash, the userinfo preflight and a 401
/// without an error when no token came.
#[test]
fn o9_the_endpoints_follow_the_specs_musts() {
    let s = Server::start(&[]);
    let (id, secret) = wiki_and_person(&s);
    let (mut b, _) = signed_in_to(&s, &id, &secret);
    // Authorize by POST (a form on the application's page, cross-site): SSO answers with a code.
    let query = authorize(&id, "");
    let (_, form) = query.split_once('?').expect("query");
    let r = b.request(
        "POST",
        "/oauth2/authorize",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        form,
    );
    // The browser holds its SameSite=Lax cookie back on a cross-site POST, so the request goes
    // on as a top-level GET, which carries it: single sign-on then answers with a code.
    let again = r
        .header("location")
        .expect("the same request by GET")
        .to_string();
    assert!(again.starts_with("/oauth2/authorize?"), "{again}");
    assert_eq!(param(&again, "client_id").as_deref(), Some(id.as_str()));
    let to = b
        .get(&again)
        .header("location")
        .expect("back to the client")
        .to_string();
    let code = param(&to, "code").expect("a code");
    let mut rp = Client::new(&s);
    // A lower-case "basic" authenticates the client.
    let lower = basic(&id, &secret).replacen("Basic", "basic", 1);
    let (status, tokens) = exchange(&mut rp, &lower, &code);
    assert_eq!(status, 200, "{tokens}");
    // at_hash: the left half of the access token's SHA-256.
    let jwks: Value = serde_json::from_str(&rp.get("/oauth2/jwks").body).expect("jwks");
    let keys = jwks["keys"].as_array().expect("keys").clone();
    let claims =
        signing::verify(&keys, tokens["id_token"].as_str().expect("id"), Alg::Rs256).expect("ok");
    let access = tokens["access_token"].as_str().expect("access");
    let expected = {
        use sha2::Digest;
        gatehouse_core::values::oidc::base64url(&sha2::Sha256::digest(access.as_bytes())[..16])
    };
    assert_eq!(claims["at_hash"], expected.as_str());
    // A lower-case "bearer" reads userinfo.
    let r = rp.request(
        "GET",
        "/oauth2/userinfo",
        &[("Authorization", &format!("bearer {access}"))],
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // No token: 401 with a bare challenge, no error code (RFC 6750 §3.1).
    let r = rp.request("GET", "/oauth2/userinfo", &[], "");
    assert_eq!(
        (r.status, r.header("www-authenticate")),
        (401, Some("Bearer"))
    );
    // The browser application's preflight.
    let r = rp.request(
        "OPTIONS",
        "/oauth2/userinfo",
        &[
            ("Origin", "http://127.0.0.1:9"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "authorization"),
        ],
        "",
    );
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r
        .header("access-control-allow-headers")
        .is_some_and(|h| h.eq_ignore_ascii_case("authorization")));
    // Malformed token requests: 400 invalid_request as JSON.
    let auth = basic(&id, &secret);
    for (content_type, body) in [
        (
            "application/x-www-form-urlencoded",
            "grant_type=refresh_token&grant_type=refresh_token&refresh_token=x",
        ),
        ("application/json", "{\"grant_type\":\"refresh_token\"}"),
        ("application/x-www-form-urlencoded", "refresh_token=x"),
    ] {
        let r = rp.request(
            "POST",
            "/oauth2/token",
            &[("Content-Type", content_type), ("Authorization", &auth)],
            body,
        );
        let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
        assert_eq!(
            (r.status, v["error"].as_str()),
            (400, Some("invalid_request")),
            "{body}: {}",
            r.body
        );
    }
    // Discovery tells the truth.
    let d: Value =
        serde_json::from_str(&rp.get("/.well-known/openid-configuration").body).expect("json");
    assert_eq!(d["request_uri_parameter_supported"], false);
    assert_eq!(d["request_parameter_supported"], false);
    assert_eq!(
        d["acr_values_supported"],
        serde_json::json!(["urn:gatehouse:mfa"])
    );
    // … and what it says is not supported is refused, as is an acr that cannot be met.
    for (extra, error) in [
        (
            "&request_uri=https%3A%2F%2Fapp%2Freq",
            "request_uri_not_supported",
        ),
        ("&request=eyJhbGciOiJub25lIn0.e30.", "request_not_supported"),
        (
            "&acr_values=urn%3Agatehouse%3Aphr",
            "unmet_authentication_requirements",
        ),
    ] {
        let r = b.get(&authorize(&id, extra));
        let to = r.header("location").expect("to the client").to_string();
        assert_eq!(param(&to, "error").as_deref(), Some(error), "{to}");
    }
    // acr_values we meet are fine.
    let r = b.get(&authorize(&id, "&acr_values=urn%3Agatehouse%3Amfa"));
    assert!(r.header("location").is_some_and(|l| l.contains("code=")));
    // prompt=consent asks a first-party client's person too.
    let r = b.get(&authorize(&id, "&prompt=consent"));
    assert_eq!(r.header("location"), Some("/oauth2/consent"));
}

/// O9: with prompt=none, an id_token_hint naming someone else than the signed-in person
/// cannot be answered silently: login_required.
#[test]
fn o9_prompt_none_with_a_hint_for_someone_else_is_login_required() {
    let s = Server::start(&[]);
    let (id, secret) = wiki_and_person(&s);
    let (_, tokens) = signed_in_to(&s, &id, &secret);
    let ada_hint = tokens["id_token"].as_str().expect("id token").to_string();
    register_and_verify(&mut Client::new(&s), "grace@example.com", "email", "");
    let mut grace = Client::new(&s);
    grace.get(&authorize(&id, "&login_hint=grace%40example.com"));
    sign_in_as(&mut grace, "grace@example.com");
    grace.get("/oauth2/continue");
    let r = grace.get(&authorize(
        &id,
        &format!("&prompt=none&id_token_hint={ada_hint}"),
    ));
    let to = r
        .header("location")
        .unwrap_or_else(|| panic!("to the client: {} {}", r.status, r.body))
        .to_string();
    assert_eq!(
        param(&to, "error").as_deref(),
        Some("login_required"),
        "{to}"
    );
    // Her own hint is fine.
    let mut rp = Client::new(&s);
    let code = param(&to_client_after(&mut grace, &id), "code").expect("code");
    let (_, own) = exchange(&mut rp, &basic(&id, &secret), &code);
    let own_hint = own["id_token"].as_str().expect("id token");
    let r = grace.get(&authorize(
        &id,
        &format!("&prompt=none&id_token_hint={own_hint}"),
    ));
    assert!(
        r.header("location").is_some_and(|l| l.contains("code=")),
        "{:?}",
        r.header("location")
    );
}

#[test]
fn the_security_tab_lists_applications_and_remove_access_revokes_their_tokens() {
    let s = Server::start(&[]);
    let (id, secret) = client(&s, &["Team wiki", "--redirect-uri", CB, "--first-party"]);
    let secret = secret.expect("secret");
    register_and_verify(&mut Client::new(&s), EMAIL, "email", "");
    let (mut b, tokens) = signed_in_to(&s, &id, &secret);
    let page = b.get("/profile/security").body;
    assert!(page.contains(">Applications<"), "{page}");
    assert!(page.contains("Team wiki"), "{page}");
    assert!(page.contains("Remove access"), "{page}");
    let r = b.form(
        "/api/remove_app_access",
        "/profile/security",
        &[("client_id", &id)],
    );
    assert_eq!(r.status, 303);
    let page = b.get("/profile/security").body;
    assert!(
        page.contains("The application no longer has access"),
        "{page}"
    );
    assert!(
        page.contains("You have not signed in to any application"),
        "{page}"
    );
    assert!(page.contains("Application access removed"), "G1: {page}");
    let (status, _) = userinfo(
        &mut Client::new(&s),
        tokens["access_token"].as_str().expect("access"),
    );
    assert_eq!(status, 401, "its tokens are revoked");
}

#[test]
fn clients_are_listed_updated_and_deleted_from_the_cli_and_bad_uris_are_refused() {
    let s = Server::start(&[]);
    let (id, _) = client(&s, &["Wiki", "--redirect-uri", CB]);
    let out = |args: &[&str]| {
        let o = s.cli(args);
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    let (ok, text) = out(&["client", "list"]);
    assert!(
        ok && text.contains(&id) && text.contains("Wiki") && text.contains("confidential"),
        "{text}"
    );
    let (ok, text) = out(&[
        "client",
        "update",
        &id,
        "Team wiki",
        "--redirect-uri",
        CB,
        "--first-party",
        "--alg",
        "ES256",
    ]);
    assert!(
        ok && text.contains("Team wiki") && text.contains("first-party, ES256"),
        "{text}"
    );
    let (ok, text) = out(&[
        "client",
        "create",
        "Bad",
        "--redirect-uri",
        "http://wiki.example.com/cb",
    ]);
    assert!(!ok && text.contains("must use https"), "O1: {text}");
    let (ok, text) = out(&["client", "delete", &id]);
    assert!(ok && text.contains("deleted"), "{text}");
    let mut b = Client::new(&s);
    let r = b.get(&authorize(&id, ""));
    assert_eq!(
        (r.status, r.header("location")),
        (400, None),
        "a deleted client is unknown"
    );
}

#[test]
fn o6_signing_out_another_session_from_the_security_tab_tells_its_applications_too() {
    let s = Server::start(&[]);
    let (receiver, path, id, secret) = with_back_channel(&s);
    // The laptop signed in to the wiki; the phone signs in to Gatehouse and ends the others.
    let (_laptop, tokens) = signed_in_to(&s, &id, &secret);
    let mut phone = Client::new(&s);
    assert_eq!(sign_in(&mut phone).as_deref(), Some("/profile"));
    let r = phone.form("/api/sign_out_others", "/profile/security", &[]);
    assert_eq!(r.status, 303);
    let notice = logout_notice(&receiver, path);
    assert!(notice.body.starts_with("logout_token="), "{}", notice.body);
    let (status, _) = userinfo(
        &mut Client::new(&s),
        tokens["access_token"].as_str().expect("access"),
    );
    assert_eq!(status, 401, "the laptop session's tokens are revoked");
    assert_eq!(phone.get("/profile").status, 200, "this session stays");
}

#[test]
fn introspection_tells_a_confidential_client_about_its_tokens_and_revocation_ends_them() {
    let s = Server::start(&[]);
    let (id, secret) = wiki_and_person(&s);
    let (other, other_secret) = client(&s, &["Chat", "--redirect-uri", CB, "--first-party"]);
    let (mut b, tokens) = signed_in_to(&s, &id, &secret);
    let access = tokens["access_token"].as_str().expect("access");
    let mut rp = Client::new(&s);
    let auth = basic(&id, &secret);
    let (status, info) = post_form(
        &mut rp,
        "/oauth2/introspect",
        Some(&auth),
        &format!("token={access}"),
    );
    assert_eq!(status, 200, "{info}");
    assert_eq!(
        (info["active"].as_bool(), info["client_id"].as_str()),
        (Some(true), Some(id.as_str()))
    );
    assert_eq!(info["token_type"], "Bearer");
    // Another client learns nothing about it.
    let other_auth = basic(&other, &other_secret.expect("secret"));
    let (_, info) = post_form(
        &mut rp,
        "/oauth2/introspect",
        Some(&other_auth),
        &format!("token={access}"),
    );
    assert_eq!(info, serde_json::json!({"active": false}));
    // RFC 7009: revoked by its client, then inactive everywhere.
    let (status, _) = post_form(
        &mut rp,
        "/oauth2/revoke",
        Some(&auth),
        &format!("token={access}"),
    );
    assert_eq!(status, 200);
    let (_, info) = post_form(
        &mut rp,
        "/oauth2/introspect",
        Some(&auth),
        &format!("token={access}"),
    );
    assert_eq!(info["active"], false);
    assert_eq!(userinfo(&mut rp, access).0, 401);
    let page = b.get("/profile/security").body;
    assert!(page.contains("Application sign-in revoked"), "G1: {page}");
    // An unknown token is "revoked" too (200), and introspection needs client credentials.
    assert_eq!(
        post_form(&mut rp, "/oauth2/revoke", Some(&auth), "token=nothing").0,
        200
    );
    let (status, err) = post_form(
        &mut rp,
        "/oauth2/introspect",
        None,
        &format!("token={access}"),
    );
    assert_eq!(
        (status, err["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

/// A small PNG (the avatar pipeline re-encodes whatever it gets).
fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 64, |x, _| image::Rgb([(x * 4) as u8, 90, 160]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

#[test]
fn the_picture_claim_is_the_avatar_every_application_can_show() {
    let s = Server::start(&[]);
    let (id, secret) = wiki_and_person(&s);
    let (mut b, tokens) = signed_in_to(&s, &id, &secret);
    let access = tokens["access_token"].as_str().expect("access");
    let mut rp = Client::new(&s);
    assert_eq!(
        userinfo(&mut rp, access).1.get("picture"),
        None,
        "no avatar yet"
    );
    let r = b.upload("/api/upload_avatar", "photo", "me.png", &png());
    assert_eq!(r.status, 303, "{}", r.body);
    let (_, info) = userinfo(&mut rp, access);
    let picture = info["picture"]
        .as_str()
        .expect("the avatar's URL")
        .to_string();
    let prefix = format!("{}/avatars/", s.base.trim_end_matches('/'));
    assert!(
        picture.starts_with(&prefix) && picture.ends_with("/256"),
        "{picture}"
    );
    // Anyone with the URL (another application's page) gets the picture, no cookie needed.
    let image = rp.get(&picture[s.base.trim_end_matches('/').len()..]);
    assert_eq!(
        (image.status, image.header("content-type")),
        (200, Some("image/webp"))
    );
}

#[test]
fn o8_prompt_login_and_max_age_reauthenticate_in_place() {
    let s = Server::start(&[]);
    let (id, secret) = wiki_and_person(&s);
    let (mut b, tokens) = signed_in_to(&s, &id, &secret);
    let mut rp = Client::new(&s);
    let keys: Value = serde_json::from_str(&rp.get("/oauth2/jwks").body).expect("jwks");
    let keys = keys["keys"].as_array().expect("keys").clone();
    let first = signing::verify(&keys, tokens["id_token"].as_str().expect("id"), Alg::Rs256)
        .expect("id token");
    // A signed-in browser normally goes straight back; max_age=0 and prompt=login ask the
    // person to prove it again — on the session they have.
    for extra in ["&max_age=0", "&prompt=login"] {
        // The clock moves on a second so a fresh sign-in has a later auth_time.
        b.request("POST", "/dev/clock?advance=1", &[], "");
        let r = b.get(&authorize(&id, extra));
        assert_eq!(
            (r.status, r.header("location")),
            (303, Some("/oauth2/reauthenticate")),
            "{extra}"
        );
        assert!(
            r.header("set-cookie")
                .is_none_or(|c| !c.contains("gatehouse_session")),
            "O8: the link ends nothing"
        );
        // Giving up changes nothing: still signed in, and SSO still answers without a prompt.
        assert_eq!(b.get("/profile").status, 200, "{extra}: still signed in");
        let page = b.get("/oauth2/reauthenticate");
        assert!(
            page.body.contains("Sign in again to continue to Wiki"),
            "{}",
            page.body
        );
        b.get(&authorize(&id, extra));
        let before = count(&mut b, EMAIL, "sign-in code");
        let authz = hidden_value(&b.get("/oauth2/reauthenticate").body, "authz");
        let r = b.form(
            "/api/reauth_password",
            "/oauth2/reauthenticate",
            &[("password", PW), ("tab", "oauth"), ("authz", &authz)],
        );
        assert_eq!(
            r.header("location"),
            Some("/oauth2/reauthenticate"),
            "{extra}"
        );
        let code = after(&newest(&mut b, EMAIL, "sign-in code", before), "code is ").to_string();
        let r = b.form(
            "/api/reauth_code",
            "/oauth2/reauthenticate",
            &[("code", &code), ("tab", "oauth")],
        );
        assert_eq!(r.header("location"), Some("/oauth2/continue"), "{extra}");
        let page = b.get("/oauth2/continue");
        let code = param(&continue_url(&page.body), "code").expect("code");
        let (status, fresh) = exchange(&mut rp, &basic(&id, &secret), &code);
        assert_eq!(status, 200, "{fresh}");
        let claims = signing::verify(&keys, fresh["id_token"].as_str().expect("id"), Alg::Rs256)
            .expect("id token");
        assert!(
            claims["auth_time"].as_i64() > first["auth_time"].as_i64(),
            "{extra}: a new sign-in, not the old one: {claims}"
        );
        assert_eq!(claims["sid"], first["sid"], "{extra}: the same SSO session");
        assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    }
    // O7: a popup that parks another request (here the same application's, with its own
    // state) while the person re-authenticates is not what the code goes to.
    b.get(&authorize(&id, "&prompt=login"));
    let authz = hidden_value(&b.get("/oauth2/reauthenticate").body, "authz");
    let before = count(&mut b, EMAIL, "sign-in code");
    b.form(
        "/api/reauth_password",
        "/oauth2/reauthenticate",
        &[("password", PW), ("tab", "oauth"), ("authz", &authz)],
    );
    b.get(&authorize(&id, "&prompt=login").replace("state=st-1", "state=from-popup"));
    let code = after(&newest(&mut b, EMAIL, "sign-in code", before), "code is ").to_string();
    b.form(
        "/api/reauth_code",
        "/oauth2/reauthenticate",
        &[("code", &code), ("tab", "oauth")],
    );
    let r = b.get("/oauth2/continue");
    assert_eq!(
        r.status, 409,
        "o7_reauthentication_continues_only_its_request: {}",
        r.body
    );
    // The first application's tokens were never revoked along the way.
    let (status, _) = userinfo(&mut rp, tokens["access_token"].as_str().expect("access"));
    assert_eq!(status, 200, "O8: no sign-out happened");
}

#[test]
fn o4_keys_rotate_from_the_cli_and_tokens_signed_before_still_verify() {
    let s = Server::start(&[]);
    let (id, secret) = wiki_and_person(&s);
    let (_b, tokens) = signed_in_to(&s, &id, &secret);
    let id_token = tokens["id_token"].as_str().expect("id");
    let mut rp = Client::new(&s);
    let jwks = |rp: &mut Client| -> Vec<Value> {
        let v: Value = serde_json::from_str(&rp.get("/oauth2/jwks").body).expect("jwks");
        v["keys"].as_array().expect("keys").clone()
    };
    assert_eq!(jwks(&mut rp).len(), 2, "one RS256 and one ES256 key");
    let out = s.cli(&["keys", "rotate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys = jwks(&mut rp);
    assert_eq!(keys.len(), 4, "the retired keys stay published");
    let old = signing::verify(&keys, id_token, Alg::Rs256).expect("old tokens still verify");
    assert_eq!(old["aud"], id.as_str());
    // New tokens are signed with the new key.
    let (_b2, newer) = signed_in_to(&s, &id, &secret);
    let kid = |t: &str| -> String {
        use base64::Engine;
        let head = t.split('.').next().expect("header");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(head)
            .expect("b64");
        serde_json::from_slice::<Value>(&bytes).expect("json")["kid"]
            .as_str()
            .expect("kid")
            .to_string()
    };
    assert_ne!(kid(newer["id_token"].as_str().expect("id")), kid(id_token));
}
