//! Password recovery over HTTP against the real binary, without JavaScript: the F1 enumeration
//! check (status, headers that matter, body bytes and time for a known and an unknown address),
//! the F4 link that becomes a cookie, a whole reset (F2, F5), and the G1 log grep.

mod support;

use std::time::{Duration, Instant};
use support::flows::*;
use support::{Client, Server};

const NEW_PW: &str = "harbour-lamp-58";

/// What an attacker can compare of one forgot-password answer.
#[derive(Debug, PartialEq, Eq)]
struct Observable {
    status: u16,
    location: Option<String>,
    cookie_names: Vec<String>,
    page: String,
}

fn forgot(s: &Server, email: &str) -> (Observable, Duration) {
    let mut c = Client::new(s);
    c.get("/forgot-password");
    let started = Instant::now();
    let r = c.form(
        "/api/forgot_password",
        "/forgot-password",
        &[("email", email)],
    );
    let took = started.elapsed();
    let mut cookie_names: Vec<String> = r
        .headers_named("set-cookie")
        .iter()
        .filter_map(|c| c.split('=').next().map(str::to_string))
        .collect();
    cookie_names.sort();
    let page = c.get("/forgot-password").body;
    // The page echoes the typed address and carries a per-response CSP nonce (also used as the
    // preload links' crossorigin value); neither tells anything about the account.
    let page = page.replace(email, "EMAIL");
    let nonce = page
        .split("nonce=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("none")
        .to_string();
    let page = page.replace(&nonce, "NONCE");
    let o = Observable {
        status: r.status,
        location: r.header("location").map(str::to_string),
        cookie_names,
        page,
    };
    (o, took)
}

#[test]
fn f1_known_and_unknown_addresses_get_byte_identical_answers_within_the_deadline() {
    let s = Server::start(&[]);
    let mut c = Client::new(&s);
    register_and_verify(&mut c, "known@example.com", "email", "");
    let (known, t_known) = forgot(&s, "known@example.com");
    let (unknown, t_unknown) = forgot(&s, "unknown@example.com");
    assert_eq!(known.status, 303);
    assert_eq!(known.location.as_deref(), Some("/forgot-password"));
    assert!(
        known
            .page
            .contains("If an account exists for that email, we have sent instructions."),
        "{}",
        known.page
    );
    assert_eq!(
        known, unknown,
        "F1: same status, redirect, cookies and page"
    );
    for t in [t_known, t_unknown] {
        assert!(
            t >= Duration::from_millis(500),
            "F1: fixed deadline, took {t:?}"
        );
        assert!(
            t < Duration::from_millis(1500),
            "answered promptly after it: {t:?}"
        );
    }
    newest(&mut c, "known@example.com", "Reset your password", 0);
    assert_eq!(
        count(&mut c, "unknown@example.com", "Reset your password"),
        0
    );
}

#[test]
fn f4_the_emailed_link_becomes_an_http_only_cookie_and_a_clean_address() {
    let s = Server::start(&[]);
    let mut c = Client::new(&s);
    let r = c.get("/reset-password/open?token=abc123");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/reset-password"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    let cookie = r
        .headers_named("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("gatehouse_reset="))
        .expect("reset cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let page = c.get("/reset-password");
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert!(
        page.body
            .contains("invalid, was already used or has expired"),
        "a made-up token"
    );
}

/// F2/F5 without JavaScript, end to end; G1: neither the token nor the new password is logged.
#[test]
fn no_js_reset_by_email_link_ends_sessions_and_keeps_mfa() {
    let s = Server::start(&[]);
    let (mut old, _) = sign_up_and_in(&s, "reset-me@example.com");
    let mut c = Client::new(&s);
    c.form(
        "/api/forgot_password",
        "/forgot-password",
        &[("email", "reset-me@example.com")],
    );
    let mail = newest(&mut c, "reset-me@example.com", "Reset your password", 0);
    let link = after(&mail, "Reset My Password: ").to_string();
    let path = link
        .split_once("//")
        .and_then(|(_, r)| r.split_once('/'))
        .map(|(_, p)| format!("/{p}"))
        .expect("path");
    let token = after(&link, "token=").to_string();
    assert_eq!(c.get(&path).header("location"), Some("/reset-password"));
    let page = c.get("/reset-password").body;
    assert!(
        page.contains("Choose a new password") && page.contains("Confirm new password"),
        "{page}"
    );
    assert!(!page.contains(&token), "F4: the token is not on the page");
    // Bad input: a message next to the field, and the form again.
    c.form(
        "/api/reset_password",
        "/reset-password",
        &[("password", NEW_PW), ("confirm", "something-else")],
    );
    assert!(c
        .get("/reset-password")
        .body
        .contains("The passwords do not match."));
    let r = c.form(
        "/api/reset_password",
        "/reset-password",
        &[("password", NEW_PW), ("confirm", NEW_PW)],
    );
    assert_eq!(r.header("location"), Some("/reset-password"));
    let done = c.get("/reset-password").body;
    assert!(done.contains("Your password has been reset."), "{done}");
    assert!(done.contains(">Sign in</a>"));
    assert!(
        !c.cookies.contains_key("gatehouse_session"),
        "F5: not signed in"
    );
    sent_to_sign_in(&mut old); // F5: the old session ended
    newest(
        &mut c,
        "reset-me@example.com",
        "Your password was changed",
        0,
    );
    // The link is used up (F2), and the new password still leads to the code step (F5, M5).
    c.get(&path);
    assert!(c
        .get("/reset-password")
        .body
        .contains("invalid, was already used or has expired"));
    c.form(
        "/api/login_email",
        "/login",
        &[("email", "reset-me@example.com")],
    );
    c.form("/api/login_password", "/login", &[("password", NEW_PW)]);
    assert!(c.get("/login").body.contains("We sent a six-digit code"));
    let log = s.log();
    assert!(!log.contains(&token), "G1: token");
    assert!(!log.contains(NEW_PW), "G1: password");
}

/// F6/F7 without JavaScript: "SMS code" → Code → Continue → new password → Proceed; the answer
/// for an address without a phone reads the same (F1).
#[test]
fn no_js_reset_by_sms_code() {
    let s = Server::start(&[]);
    let phone = "+15550100300";
    let mut c = Client::new(&s);
    register_and_verify(&mut c, "sms-reset@example.com", "sms", "+1 555 010 0300");
    // E4/M13: the emailed code, then the first text message verifies the number.
    assert!(past_emailed_code(&mut c, "sms-reset@example.com").contains("Check your phone"));
    let sms = newest(&mut c, phone, "", 0);
    let code = after(&sms, "code is ").trim_end_matches('.').to_string();
    assert_eq!(
        c.form("/api/login_code", "/login", &[("code", &code)])
            .header("location"),
        Some("/profile")
    );

    let mut r = Client::new(&s);
    let page = r.get("/forgot-password").body;
    assert!(
        page.contains("Recovery method") && page.contains("SMS code"),
        "{page}"
    );
    let ask = |r: &mut Client, email: &str| {
        r.form(
            "/api/forgot_password",
            "/forgot-password",
            &[("email", email), ("method", "sms_code")],
        );
        r.get("/forgot-password").body
    };
    let mut nobody = Client::new(&s);
    let unknown = ask(&mut nobody, "nobody@example.com");
    let known = ask(&mut r, "sms-reset@example.com");
    for page in [&unknown, &known] {
        assert!(
            page.contains("If an account with a verified phone exists for that email"),
            "{page}"
        );
        assert!(page.contains("Enter the code"), "{page}");
    }
    let sms = newest(&mut r, phone, "", 1);
    let code = after(&sms, "code is ").trim_end_matches('.').to_string();
    r.form(
        "/api/recover_code",
        "/forgot-password",
        &[("code", "000000")],
    );
    let page = r.get("/forgot-password").body;
    if code != "000000" {
        assert!(page.contains("That code is not correct"), "{page}");
    }
    r.form("/api/recover_code", "/forgot-password", &[("code", &code)]);
    let page = r.get("/forgot-password").body;
    assert!(
        page.contains("Choose a new password") && page.contains("Proceed"),
        "{page}"
    );
    r.form(
        "/api/recover_reset",
        "/forgot-password",
        &[("password", NEW_PW), ("confirm", NEW_PW)],
    );
    let page = r.get("/forgot-password").body;
    assert!(page.contains("Your password has been reset."), "{page}");
    sent_to_sign_in(&mut c); // F5: every session ended
    let log = s.log();
    for secret in [code.as_str(), NEW_PW, PW] {
        assert!(!log.contains(secret), "G1: {secret} in the logs");
    }
}

/// P7/S6/F8 without JavaScript: change the password on the Security tab (the other session
/// ends), send a reset link through the second-factor channel; G1: the logs hold neither
/// password nor the link's token.
#[test]
fn no_js_change_password_and_send_reset_link_from_the_security_tab() {
    let s = Server::start(&[]);
    let (mut a, _) = sign_up_and_in(&s, "change@example.com");
    let mut b = Client::new(&s);
    b.form(
        "/api/login_email",
        "/login",
        &[("email", "change@example.com")],
    );
    b.form("/api/login_password", "/login", &[("password", PW)]);
    let mail = newest(&mut b, "change@example.com", "sign-in code", 1);
    let code = after(&mail, "code is ").to_string();
    b.form("/api/login_code", "/login", &[("code", &code)]);
    assert!(b.get("/profile").body.contains("Welcome, Ada"));

    a.form(
        "/api/change_password",
        "/profile/security",
        &[
            ("current", "wrong-one-42"),
            ("password", NEW_PW),
            ("confirm", NEW_PW),
        ],
    );
    assert!(a
        .get("/profile/security")
        .body
        .contains("Your current password is not correct."));
    let r = a.form(
        "/api/change_password",
        "/profile/security",
        &[("current", PW), ("password", NEW_PW), ("confirm", NEW_PW)],
    );
    assert_eq!(r.header("location"), Some("/profile/security"));
    assert!(a
        .get("/profile/security")
        .body
        .contains("Every other session was signed out."));
    sent_to_sign_in(&mut b); // S6
    assert!(
        a.get("/profile").body.contains("Welcome, Ada"),
        "this one stays"
    );

    a.form("/api/send_reset_link", "/profile/security", &[]);
    let page = a.get("/profile/security").body;
    assert!(page.contains("We sent a reset link by email to"), "{page}");
    assert!(page.contains("Reset link sent at"), "{page}");
    let mail = newest(&mut a, "change@example.com", "Reset your password", 0);
    let token = after(&mail, "token=").to_string();
    let log = s.log();
    for secret in [token.as_str(), NEW_PW, PW] {
        assert!(!log.contains(secret), "G1: {secret} in the logs");
    }
}
