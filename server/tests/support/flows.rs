//! The steps a person takes, over HTTP without JavaScript: register, verify, sign in; and the
//! dev mailbox as JSON.

use super::{eventually, Client, Server};

pub const PW: &str = "tulip-rain-77";
pub const TEST_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Production settings for a test: mail to a relay on 127.0.0.1 (its port and anything else in
/// `extra`, which wins), public URL `https://id.example.com`, the test key.
pub fn production_env<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("GATEHOUSE_SMTP_HOST", "127.0.0.1"),
        ("GATEHOUSE_SMTP_FROM", "Gatehouse <no-reply@id.example.com>"),
        ("GATEHOUSE_PUBLIC_URL", "https://id.example.com"),
        ("GATEHOUSE_MFA_SECRET_KEY", TEST_KEY),
    ];
    env.extend_from_slice(extra);
    env
}

pub fn mailbox(c: &mut Client) -> Vec<serde_json::Value> {
    let r = c.request("GET", "/dev/mailbox.json", &[], "");
    assert_eq!(r.status, 200);
    serde_json::from_str(&r.body).expect("mailbox json")
}

pub fn newest(c: &mut Client, to: &str, subject: &str, after: usize) -> String {
    eventually(|| {
        let list: Vec<String> = mailbox(c)
            .into_iter()
            .filter(|m| m["to"] == to && m["subject"].as_str().is_some_and(|s| s.contains(subject)))
            .filter_map(|m| m["text"].as_str().map(str::to_string))
            .collect();
        (list.len() > after).then(|| list[0].clone())
    })
}

pub fn count(c: &mut Client, to: &str, subject: &str) -> usize {
    mailbox(c)
        .iter()
        .filter(|m| m["to"] == to && m["subject"].as_str().is_some_and(|s| s.contains(subject)))
        .count()
}

pub fn after<'a>(text: &'a str, marker: &str) -> &'a str {
    text.split(marker)
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("marker in text")
}

/// Posts the registration form without JavaScript (Ada Lovelace, [`PW`], `method`, `phone`).
pub fn register_with(c: &mut Client, email: &str, method: &str, phone: &str) {
    let r = c.form(
        "/api/register",
        "/register",
        &[
            ("email", email),
            ("first_name", "Ada"),
            ("last_name", "Lovelace"),
            ("password", PW),
            ("confirm", PW),
            ("mfa_method", method),
            ("phone", phone),
        ],
    );
    assert_eq!(r.status, 303, "no-JS post redirects back: {r:?}");
}

/// Registers with emailed codes; the verification mail is queued, nothing more.
pub fn register_only(c: &mut Client, email: &str) {
    register_with(c, email, "email", "");
}

/// Registers without JavaScript with `method` (and `phone`), then follows the verification
/// link; returns the verification token.
pub fn register_and_verify(c: &mut Client, email: &str, method: &str, phone: &str) -> String {
    register_with(c, email, method, phone);
    assert!(c.get("/register").body.contains("Check your email"));
    let text = newest(c, email, "Verify your email", 0);
    let token = after(&text, "token=").to_string();
    verify(c, &token);
    token
}

/// E4: the link opens a page that says who registered; its button (a POST) verifies.
pub fn verify(c: &mut Client, token: &str) {
    let page = c.get(&format!("/verify-email?token={token}"));
    assert_eq!(page.status, 200);
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert!(page.body.contains("Verify my email"), "{}", page.body);
    assert!(page.body.contains("If you did not create this account"));
    let r = c.form("/api/verify_email", "/verify-email", &[("token", token)]);
    assert!(matches!(r.status, 302 | 303), "{r:?}");
    assert_eq!(r.header("location"), Some("/login?verify=ok"));
    assert!(c
        .get("/login?verify=ok")
        .body
        .contains("Your email is verified"));
}

/// M13: email → password → the emailed code (the factor active now); the page after it is the
/// set-up step of a pending factor. Returns that page.
pub fn past_emailed_code(c: &mut Client, email: &str) -> String {
    c.form("/api/login_email", "/login", &[("email", email)]);
    let before = count(c, email, "sign-in code");
    c.form("/api/login_password", "/login", &[("password", PW)]);
    let page = c.get("/login").body;
    assert!(
        page.contains("We sent a six-digit code"),
        "M13: email first: {page}"
    );
    let code = after(&newest(c, email, "sign-in code", before), "code is ").to_string();
    let r = c.form("/api/login_code", "/login", &[("code", &code)]);
    assert_eq!(r.header("location"), Some("/login"));
    c.get("/login").body
}

/// Register, verify, sign in with the emailed code; returns (client, the secrets seen).
pub fn sign_up_and_in(s: &Server, email: &str) -> (Client, Vec<String>) {
    let mut c = Client::new(s);
    let token = register_and_verify(&mut c, email, "email", "");
    assert_eq!(
        c.form("/api/login_email", "/login", &[("email", email)])
            .status,
        303
    );
    assert!(c.get("/login").body.contains("Enter your password"));
    let before = count(&mut c, email, "sign-in code");
    assert_eq!(
        c.form("/api/login_password", "/login", &[("password", PW)])
            .status,
        303
    );
    assert!(c.get("/login").body.contains("We sent a six-digit code"));
    let mail = newest(&mut c, email, "sign-in code", before);
    let code = after(&mail, "code is ").to_string();
    let r = c.form("/api/login_code", "/login", &[("code", &code)]);
    assert_eq!(r.header("location"), Some("/profile"));
    let p = c.get("/profile");
    assert!(p.body.contains("Welcome, Ada"), "{}", p.body);
    (c, vec![token, code])
}

/// Not signed in (M5, S4): the profile sends the browser to sign-in.
pub fn sent_to_sign_in(c: &mut Client) {
    let r = c.get("/profile");
    assert_eq!(
        (r.status, r.header("location")),
        (302, Some("/login")),
        "the profile redirects to sign-in: {}",
        r.body
    );
}

/// The authenticator's setup key shown on the sign-in page's set-up step.
pub fn setup_key_on(page: &str) -> String {
    page.split("id=\"setup-key\"")
        .nth(1)
        .and_then(|rest| rest.split("value=\"").nth(1))
        .and_then(|v| v.split('"').next())
        .expect("setup key on the page")
        .to_string()
}

/// Now, in seconds (authenticator codes follow the real clock).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .expect("clock")
}
