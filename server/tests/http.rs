//! HTTP integration tests against the real `gatehouse` binary: the no-JS form flow, headers,
//! CSRF, dev-only routes, SMTP delivery through a real SMTP conversation, graceful shutdown,
//! and that no secret reaches the logs.

mod support;

use support::flows::*;
use support::{eventually, Client, Server, SmsProvider, SmtpServer};

#[test]
fn no_js_register_verify_sign_in_and_sign_out() {
    let s = Server::start(&[]);
    let (mut c, _) = sign_up_and_in(&s, "ada@example.com");
    let r = c.form("/api/sign_out", "/profile", &[]);
    assert_eq!(r.header("location"), Some("/login"));
    sent_to_sign_in(&mut c); // S4: signed out
}

#[test]
fn m5_partial_session_cannot_see_the_profile() {
    let s = Server::start(&[]);
    let mut c = Client::new(&s);
    c.form(
        "/api/register",
        "/register",
        &[
            ("email", "m5@example.com"),
            ("first_name", "Ada"),
            ("last_name", "Lovelace"),
            ("password", PW),
            ("confirm", PW),
            ("mfa_method", "email"),
        ],
    );
    let token = after(&newest(&mut c, "m5@example.com", "Verify", 0), "token=").to_string();
    verify(&mut c, &token);
    c.form("/api/login_email", "/login", &[("email", "m5@example.com")]);
    c.form("/api/login_password", "/login", &[("password", PW)]);
    assert!(
        c.get("/login").body.contains("Check your email"),
        "at the MFA step"
    );
    // M5: the password alone does not sign in.
    sent_to_sign_in(&mut c);
    let me = c.request(
        "POST",
        "/api/me",
        &[
            ("Sec-Fetch-Site", "same-origin"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        "",
    );
    assert_eq!(
        me.body.trim(),
        "null",
        "M5: server function refuses a partial session"
    );
}

#[test]
fn h1_security_headers_and_h2_cross_site_posts_are_refused() {
    let s = Server::start(&[]);
    let mut c = Client::new(&s);
    let r = c.get("/login");
    assert_eq!(r.status, 200);
    let csp = r.header("content-security-policy").expect("CSP");
    assert!(
        csp.contains("frame-ancestors 'none'")
            && csp.contains("'wasm-unsafe-eval'")
            && csp.contains("'nonce-")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("referrer-policy"), Some("same-origin"));
    assert!(r
        .header("permissions-policy")
        .is_some_and(|p| p.contains("camera=(self)")));
    let r = c.request(
        "POST",
        "/api/login_email",
        &[
            ("Sec-Fetch-Site", "cross-site"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        "email=a%40b.co",
    );
    assert_eq!(r.status, 403);
    let r = c.request(
        "POST",
        "/api/login_email",
        &[
            ("Origin", "https://evil.example"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        "email=a%40b.co",
    );
    assert_eq!(r.status, 403);
    assert!(c.cookies.is_empty(), "refused requests set nothing");
}

#[test]
fn s1_dev_mode_cookie_is_http_only_and_same_site() {
    let s = Server::start(&[]);
    let mut c = Client::new(&s);
    let r = c.form("/api/login_email", "/login", &[("email", "x@example.com")]);
    let cookie = r
        .headers_named("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("gatehouse_session="))
        .expect("session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/")
    );
    assert!(s.log().contains("dev mode"), "start-up says dev mode");
}

#[test]
fn production_mode_delivers_by_smtp_hides_dev_routes_and_uses_secure_cookies() {
    let sink = SmtpServer::plain();
    let s = production(&sink);
    let mut c = Client::new(&s);
    assert_eq!(c.request("GET", "/dev/mailbox.json", &[], "").status, 404);
    assert_eq!(c.get("/dev/gallery").status, 404);
    assert_eq!(
        c.request("POST", "/dev/clock?advance=600", &[], "").status,
        404,
        "no time travel in production"
    );
    let r = c.form(
        "/api/register",
        "/register",
        &[
            ("email", "smtp@example.com"),
            ("first_name", "Ada"),
            ("last_name", "Lovelace"),
            ("password", PW),
            ("confirm", PW),
            ("mfa_method", "email"),
        ],
    );
    assert_eq!(r.status, 303);
    let data = eventually(|| sink.first_data());
    assert!(data.contains("To: smtp@example.com"), "{data}");
    assert!(data.contains("Subject: Verify your email address"));
    assert!(data.contains("multipart/alternative") && data.contains("text/html"));
    // F3: links come from public_url, not from the Host header the request used.
    assert!(
        data.contains("https://id.example.com/verify-email?token="),
        "{data}"
    );
    let r = c.form("/api/login_email", "/login", &[("email", "x@example.com")]);
    let cookie = r
        .headers_named("set-cookie")
        .into_iter()
        .find(|c| c.contains("session="))
        .expect("cookie")
        .to_string();
    assert!(
        cookie.starts_with("__Host-gatehouse_session=") && cookie.contains("Secure"),
        "S1: {cookie}"
    );
    assert!(
        r.header("strict-transport-security").is_some(),
        "HSTS over https"
    );
}

#[test]
fn y1_smtp_failure_keeps_the_message_queued_for_retry() {
    // Reserve a port, then free it: nothing listens there yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let p = port.to_string();
    let s = Server::start(&production_env(&[
        ("GATEHOUSE_SMTP_PORT", &p),
        ("GATEHOUSE_SMTP_SECURITY", "none"),
    ]));
    let mut c = Client::new(&s);
    c.form(
        "/api/register",
        "/register",
        &[
            ("email", "later@example.com"),
            ("first_name", "Ada"),
            ("last_name", "Lovelace"),
            ("password", PW),
            ("confirm", PW),
            ("mfa_method", "email"),
        ],
    );
    eventually(|| s.log().contains("message delivery failed").then_some(()));
    assert!(!s.log().contains("message delivered"));
}

#[test]
fn y2_sigterm_stops_the_server_cleanly() {
    let s = Server::start(&[]);
    let mut c = Client::new(&s);
    assert_eq!(c.request("GET", "/healthz", &[], "").status, 200);
    let status = s.terminate();
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn g1_no_password_token_code_or_session_id_reaches_the_logs() {
    let s = Server::start(&[]);
    let (c, secrets) = sign_up_and_in(&s, "logs@example.com");
    let log = s.log();
    assert!(
        log.contains("login_succeeded"),
        "the flow was logged at all"
    );
    let session = c
        .cookies
        .get("gatehouse_session")
        .cloned()
        .expect("session");
    for secret in secrets.iter().chain([&session, &PW.to_string()]) {
        assert!(!log.contains(secret.as_str()), "secret leaked into logs");
    }
}

#[test]
fn p6_full_hashing_queue_answers_503_with_retry_after() {
    let s = Server::start(&[
        ("GATEHOUSE_PASSWORD_HASH_WORKERS", "1"),
        ("GATEHOUSE_PASSWORD_HASH_QUEUE", "1"),
        ("GATEHOUSE_PASSWORD_ARGON2_MEMORY_KIB", "65536"),
        ("GATEHOUSE_PASSWORD_ARGON2_ITERATIONS", "4"),
    ]);
    let mut clients: Vec<Client> = (0..8)
        .map(|i| {
            let mut c = Client::new(&s);
            c.form(
                "/api/login_email",
                "/login",
                &[("email", &format!("p6-{i}@example.com"))],
            );
            c
        })
        .collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(clients.len()));
    let handles: Vec<_> = clients
        .drain(..)
        .map(|mut c| {
            let b = std::sync::Arc::clone(&barrier);
            std::thread::spawn(move || {
                b.wait();
                let r = c.form("/api/login_password", "/login", &[("password", PW)]);
                (r.status, r.header("retry-after").map(str::to_string))
            })
        })
        .collect();
    let results: Vec<(u16, Option<String>)> = handles
        .into_iter()
        .map(|h| h.join().expect("join"))
        .collect();
    let busy: Vec<_> = results.iter().filter(|(s, _)| *s == 503).collect();
    assert!(
        !busy.is_empty(),
        "some requests must be refused with 503: {results:?}"
    );
    assert!(
        busy.iter().all(|(_, ra)| ra.is_some()),
        "503 carries Retry-After"
    );
    assert!(
        results.iter().any(|(s, _)| *s == 303),
        "the pool still serves what it can: {results:?}"
    );
}

#[test]
fn m8_cli_reset_mfa_switches_to_email_and_notifies_the_user() {
    let s = Server::start(&[]);
    let (mut c, _) = sign_up_and_in(&s, "reset@example.com");
    let out = s.cli(&["user", "reset-mfa", "reset@example.com"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("now come by email"));
    let mail = newest(&mut c, "reset@example.com", "sign-in method was reset", 0);
    assert!(mail.contains("recovery codes no longer work"));
    let out = s.cli(&["user", "reset-mfa", "nobody@example.com"]);
    assert!(
        !out.status.success(),
        "unknown users are an error for support"
    );
}

/// Support's email change (`gatehouse user change-email OLD NEW`): each address gets a link
/// whose page changes nothing until its button is pressed (E4); the change is made when both
/// have confirmed, and the old address is told.
#[test]
fn cli_change_email_waits_for_both_addresses_and_tells_the_old_one() {
    let s = Server::start(&[]);
    let (mut c, _) = sign_up_and_in(&s, "ada@example.com");
    let out = s.cli(&["user", "change-email", "ada@example.com", "ada@new.example"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("a confirmation link went to ada@new.example"));
    let notice = newest(
        &mut c,
        "ada@example.com",
        "change of your email address was requested",
        0,
    );
    assert!(
        notice.contains("Nothing changes until both that address and this one confirm it."),
        "{notice}"
    );
    let current_link = after(&notice, "confirm here: ").to_string();
    let mail = newest(
        &mut c,
        "ada@new.example",
        "Confirm your new email address",
        0,
    );
    let link = after(&mail, "Confirm my new email: ");
    let path = link
        .split_once("127.0.0.1")
        .and_then(|(_, p)| p.split_once('/'))
        .map(|(_, p)| format!("/{p}"))
        .expect("path");
    let token = path
        .split_once("token=")
        .map(|(_, t)| t.to_string())
        .expect("token");

    // E4: opening the link changes nothing and leaks nothing in a Referer.
    let page = c.get(&path);
    assert_eq!(page.status, 200);
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert!(page.body.contains("Confirm my new email"), "{}", page.body);
    assert!(c.get("/profile").body.contains("ada@example.com"));

    let r = c.form("/api/confirm_email_change", &path, &[("token", &token)]);
    assert_eq!(r.header("location"), Some("/confirm-email"));
    assert!(c
        .get("/confirm-email")
        .body
        .contains("The address in use now must confirm too"));
    assert!(
        c.get("/profile").body.contains("ada@example.com"),
        "not yet"
    );
    // The address in use confirms: now it changes.
    let current_token = current_link
        .split_once("token=")
        .map(|(_, t)| t.to_string())
        .expect("token");
    let current_path = format!("/confirm-email?token={current_token}");
    assert!(c.get(&current_path).body.contains("Confirm the change"));
    let r = c.form(
        "/api/confirm_email_change",
        &current_path,
        &[("token", &current_token)],
    );
    assert_eq!(r.header("location"), Some("/confirm-email"));
    assert!(c
        .get("/confirm-email")
        .body
        .contains("Your email address is now ada@new.example."));
    let done = newest(
        &mut c,
        "ada@example.com",
        "Your email address was changed",
        0,
    );
    assert!(done.contains("no longer does"), "{done}");
    assert!(c.get("/profile").body.contains("ada@new.example"));
    // The link worked once.
    let again = c.get(&path);
    assert!(again
        .body
        .contains("This link is invalid, was already used or has expired."));

    let out = s.cli(&[
        "user",
        "change-email",
        "nobody@example.com",
        "x@example.com",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no account uses that email address"));
}

#[test]
fn no_js_posts_without_a_sign_in_flow_return_to_login_with_a_message() {
    let s = Server::start(&[]);
    let mut c = Client::new(&s);
    for (path, field) in [
        ("/api/login_password", "password"),
        ("/api/login_code", "code"),
        ("/api/resend_code", "x"),
    ] {
        let r = c.form(path, "/elsewhere", &[(field, "123456")]);
        assert_eq!(r.status, 303, "{path}");
        assert_eq!(
            r.header("location"),
            Some("/login"),
            "{path}: back to the start, not to the Referer"
        );
        assert!(
            c.get("/login")
                .body
                .contains("Your sign-in has expired. Start again."),
            "{path}"
        );
    }
}

/// M9: a person registered with text messages gets their codes through the HTTP provider: the
/// provider sees one authenticated, url-encoded POST per code, and the first code verifies the
/// number. G1: the provider token never reaches the logs.
#[test]
fn m9_sms_codes_go_through_the_http_provider() {
    let provider = SmsProvider::start();
    let url = provider.url();
    let s = Server::start(&[
        ("GATEHOUSE_SMS_API_URL", &url),
        ("GATEHOUSE_SMS_ACCOUNT_ID", "AC0123"),
        ("GATEHOUSE_SMS_TOKEN", "provider-token-9876"),
        ("GATEHOUSE_SMS_FROM", "+15550009999"),
    ]);
    let mut c = Client::new(&s);
    register_and_verify(&mut c, "sms@example.com", "sms", "+1 (555) 010-0200");
    // E4/M13: the emailed code first, then the number given at registration.
    let page = past_emailed_code(&mut c, "sms@example.com");
    assert!(page.contains("Check your phone"), "{page}");
    assert!(page.contains("+•••••••0200"), "masked number on screen");
    let req = eventually(|| {
        provider
            .requests
            .lock()
            .ok()
            .and_then(|r| r.first().cloned())
    });
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/2010-04-01/Accounts/AC0123/Messages.json");
    // Basic base64("AC0123:provider-token-9876")
    assert_eq!(
        req.header("authorization"),
        Some("Basic QUMwMTIzOnByb3ZpZGVyLXRva2VuLTk4NzY=")
    );
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(req.field("To").as_deref(), Some("+15550100200"));
    assert_eq!(req.field("From").as_deref(), Some("+15550009999"));
    let body = req.field("Body").expect("body");
    let code = after(&body, "code is ").trim_end_matches('.').to_string();
    assert_eq!(code.len(), 6, "{body}");
    let r = c.form("/api/login_code", "/login", &[("code", &code)]);
    assert_eq!(r.header("location"), Some("/profile"));
    assert!(c.get("/profile").body.contains("By text message"));
    assert!(!s.log().contains("provider-token-9876"), "G1");
}

/// M4/M7 without JavaScript: the Security tab saves "Authenticator app" (the session is fresh
/// from sign-in, S5), the old channel is told, and the next sign-in shows the QR step.
#[test]
fn no_js_security_tab_chooses_the_authenticator_for_the_next_sign_in() {
    let s = Server::start(&[]);
    let (mut c, _) = sign_up_and_in(&s, "sec@example.com");
    let page = c.get("/profile/security");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Codes by email"), "{}", page.body);
    let r = c.form(
        "/api/save_mfa_method",
        "/profile/security",
        &[("mfa_method", "totp"), ("phone", "")],
    );
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/profile/security"));
    let page = c.get("/profile/security").body;
    assert!(
        page.contains("At your next sign-in you will scan a QR code"),
        "{page}"
    );
    newest(&mut c, "sec@example.com", "sign-in method was changed", 0);
    // A bad phone keeps what was typed and says why, next to the field.
    c.form(
        "/api/save_mfa_method",
        "/profile/security",
        &[("mfa_method", "sms"), ("phone", "555 0100")],
    );
    let page = c.get("/profile/security").body;
    assert!(
        page.contains("Enter the number with its country code"),
        "{page}"
    );
    assert!(page.contains("value=\"555 0100\""), "kept what was typed");
    c.form("/api/sign_out", "/profile", &[]);
    let page = past_emailed_code(&mut c, "sec@example.com");
    assert!(page.contains("Set up your authenticator app"), "{page}");
}

/// G1 for the authenticator: set it up without JavaScript (setup key, first code, the recovery
/// codes on their one showing), then grep the logs for every one of those secrets.
#[test]
fn g1_authenticator_secrets_and_recovery_codes_never_reach_the_logs() {
    let s = Server::start(&[]);
    let mut c = Client::new(&s);
    register_and_verify(&mut c, "totp-logs@example.com", "totp", "");
    let page = past_emailed_code(&mut c, "totp-logs@example.com");
    let key = setup_key_on(&page);
    let secret =
        gatehouse_core::mechanisms::totp::TotpSecret::from_setup_key(&key).expect("base32");
    let now = unix_now();
    let code = secret.code_at(now).expect("code");
    let r = c.form("/api/login_code", "/login", &[("code", &code)]);
    assert_eq!(r.status, 303);
    let page = c.get("/login").body;
    let codes: Vec<String> = page
        .split("<li><code>")
        .skip(1)
        .filter_map(|p| p.split("</code>").next().map(str::to_string))
        .collect();
    assert_eq!(codes.len(), 10, "{page}");
    let r = c.form("/api/ack_recovery_codes", "/login", &[]);
    assert_eq!(r.header("location"), Some("/profile"));
    let log = s.log();
    assert!(
        log.contains("mfa_enrolled") || log.contains("login_succeeded"),
        "{log}"
    );
    let compact_key: String = key.chars().filter(|c| !c.is_whitespace()).collect();
    for secret in codes
        .iter()
        .chain([&key, &compact_key, &code, &PW.to_string()])
    {
        assert!(
            !log.contains(secret.as_str()),
            "G1: {secret} leaked into logs"
        );
    }
}

/// H3: a page that rebinds its own DNS name to this server reaches it under that name; the
/// server answers only for its own names — the dev mailbox and the clock included. Load
/// balancers may still ask `/healthz` under any name.
#[test]
fn h3_requests_for_another_host_name_are_refused() {
    let s = Server::start(&[]);
    let mut c = Client::new(&s);
    let evil = [("Host", "rebind.attacker.example:80")];
    let r = c.request("GET", "/dev/mailbox.json", &evil, "");
    assert_eq!(r.status, 421, "{r:?}");
    assert_eq!(r.body, "This server does not answer for that host name.");
    assert_eq!(c.request("GET", "/login", &evil, "").status, 421);
    assert_eq!(
        c.request("POST", "/dev/clock?advance=600", &evil, "")
            .status,
        421
    );
    assert_eq!(c.request("GET", "/healthz", &evil, "").body, "ok");
    // Its own names work: the bound address and, in dev mode, localhost.
    let port = s.addr.rsplit(':').next().expect("port").to_string();
    let local = format!("localhost:{port}");
    assert_eq!(
        c.request("GET", "/dev/mailbox.json", &[("Host", &local)], "")
            .status,
        200
    );
    let page = c.request("GET", "/dev/mailbox", &[], "");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<h1>Dev mailbox</h1>"));
    assert_eq!(
        page.header("content-security-policy"),
        Some("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
        "H3: the mailbox carries its own CSP"
    );
    // The clock moves only for a same-origin POST.
    let cross = c.request(
        "POST",
        "/dev/clock?advance=600",
        &[("Sec-Fetch-Site", "cross-site")],
        "",
    );
    assert_eq!(cross.status, 403);
}

/// A production-mode server delivering to `sink`, public URL `https://id.example.com`.
fn production(sink: &SmtpServer) -> Server {
    let port = sink.port.to_string();
    Server::start(&production_env(&[
        ("GATEHOUSE_SMTP_PORT", &port),
        // A plain relay on loopback: allowed without allow_plaintext.
        ("GATEHOUSE_SMTP_SECURITY", "none"),
    ]))
}

/// H3: production answers for the public URL's name.
#[test]
fn h3_production_answers_for_the_public_url() {
    let sink = SmtpServer::plain();
    let s = production(&sink);
    let mut c = Client::new(&s);
    let page = c.request("GET", "/login", &[("Host", "id.example.com")], "");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Sign in"));
    assert_eq!(
        c.request("GET", "/login", &[("Host", "other.example.com")], "")
            .status,
        421
    );
}

/// The flash cookie of `r`, decoded: (JSON, signature).
fn flash_of(r: &support::Response) -> (String, String) {
    let set = r
        .headers_named("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("gatehouse_flash="))
        .expect("a flash cookie");
    let value = set
        .trim_start_matches("gatehouse_flash=")
        .split(';')
        .next()
        .expect("value");
    let (body, mac) = value.split_once('.').expect("signed: body.mac");
    let json = String::from_utf8(hex::decode(body).expect("hex")).expect("utf-8");
    (json, mac.to_string())
}

/// Item 8 of the review: the flash is signed with the instance key — a page shows only a flash
/// this server wrote — and never carries a code back to the browser.
#[test]
fn flash_is_signed_and_never_echoes_a_code() {
    let s = Server::start(&[("GATEHOUSE_MFA_SECRET_KEY", TEST_KEY)]);
    let mut c = Client::new(&s);
    register_and_verify(&mut c, "flash@example.com", "email", "");
    c.form(
        "/api/login_email",
        "/login",
        &[("email", "flash@example.com")],
    );
    c.form("/api/login_password", "/login", &[("password", PW)]);
    let r = c.form("/api/login_code", "/login", &[("code", "987654")]);
    let (json, mac) = flash_of(&r);
    assert!(json.contains("\"values\":{}"), "no code kept: {json}");
    assert!(json.contains("That code is not correct."), "{json}");
    let key = gatehouse_core::mechanisms::crypto::SecretKey::from_hex(TEST_KEY).expect("key");
    let body = hex::encode(&json);
    assert_eq!(
        mac,
        key.mac("flash", body.as_bytes()),
        "HMAC with the instance key"
    );
    // A flash written by someone else is not shown; the same one, signed, is.
    let forged = r#"{"form":"login","errors":{},"values":{},"notice":null,"form_error":"Call +1 555 0100 to unlock your account"}"#;
    let hexed = hex::encode(forged);
    let mut other = Client::new(&s);
    other.cookies.insert(
        "gatehouse_flash".into(),
        format!("{hexed}.{}", "0".repeat(64)),
    );
    let page = other.get("/login").body;
    assert!(page.contains("New here? "), "the email step: {page}");
    assert!(
        !page.contains("Call +1 555 0100"),
        "an unsigned flash is ignored"
    );
    other.cookies.insert(
        "gatehouse_flash".into(),
        format!("{hexed}.{}", key.mac("flash", hexed.as_bytes())),
    );
    assert!(other.get("/login").body.contains("Call +1 555 0100"));
}

const ENDPOINTS: &[&str] = &[
    "security_view",
    "sign_out_session",
    "sign_out_others",
    "reauth_password",
    "reauth_code",
    "security_resend",
    "save_mfa_method",
    "verify_phone",
    "change_password",
    "send_reset_link",
    "regenerate_codes",
    "codes_saved",
    "verify_view",
    "verify_email",
    "forgot_view",
    "forgot_password",
    "recover_code",
    "recover_reset",
    "recover_restart",
    "reset_view",
    "reset_password",
    "login_view",
    "login_email",
    "login_password",
    "login_code",
    "resend_code",
    "login_recovery",
    "ack_recovery_codes",
    "login_restart",
    "sign_out",
    "register_view",
    "register",
    "me",
    "profile_view",
    "save_profile",
    "confirm_phone",
    "resend_phone_code",
    "dashboard_view",
    "upload_avatar",
    "remove_avatar",
    "email_change_view",
    "confirm_email_change",
];

/// Y4, item 8 of the review: a body over the limit answers 413 — a readable page for a form
/// without JavaScript — before anything reads it.
#[test]
fn y4_a_body_over_the_limit_answers_413_with_a_readable_page() {
    let s = Server::start(&[]);
    let mut c = Client::new(&s);
    c.form(
        "/api/login_email",
        "/login",
        &[("email", "big@example.com")],
    );
    let huge = "p".repeat(200 * 1024);
    let r = c.form("/api/login_password", "/login", &[("password", &huge)]);
    assert_eq!(r.status, 413, "{:?}", r.headers);
    assert!(
        r.body.contains("<h1>That was too much to send</h1>"),
        "{}",
        r.body
    );
    let r = c.request(
        "POST",
        "/api/register",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        &format!("email={}", "a".repeat(3 * 1024 * 1024)),
    );
    assert_eq!(r.status, 413);
    assert_eq!(
        r.body,
        "ServerError|What you sent is larger than any form here accepts (64 KiB). Nothing was saved.",
        "a hydrated form reads it as its server function's error"
    );
}

/// Item 8: malformed calls of server functions are the caller's mistake — 400 with a readable
/// page without JavaScript — and a bounded fuzz loop over every endpoint (loopback, fixed seed)
/// finds no 500 and no crash.
#[test]
fn malformed_server_function_calls_answer_400_and_fuzzing_finds_no_500() {
    let s = Server::start(&[]);
    let mut c = Client::new(&s);
    let r = c.form("/api/login_code", "/login", &[("nope", "1")]);
    assert_eq!(r.status, 400, "missing field: {}", r.body);
    assert!(
        r.body.contains("<h1>That form could not be read</h1>"),
        "{}",
        r.body
    );
    let js = c.request(
        "POST",
        "/api/login_code",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        "nope=1",
    );
    assert_eq!(js.status, 400);
    assert!(js.body.contains("missing field"), "{}", js.body);
    // A small deterministic generator: the same run every time.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let content_types = [
        "application/x-www-form-urlencoded",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/cbor",
    ];
    let mut statuses = std::collections::BTreeMap::new();
    for round in 0..12 {
        for ep in ENDPOINTS {
            let n = next();
            let body: String = match round % 4 {
                0 => String::new(),
                1 => format!("email=%{:x}&code={}&x=%ZZ", n & 0xff, n),
                2 => format!("{{\"code\": {n}, \"email\": [1,2]}}"),
                _ => (0..(n % 300))
                    .map(|i| char::from(b' ' + ((n >> (i % 60)) as u8 % 90)))
                    .collect(),
            };
            let ct = content_types[(n % content_types.len() as u64) as usize];
            let r = c.request(
                "POST",
                &format!("/api/{ep}"),
                &[("Content-Type", ct), ("Sec-Fetch-Site", "same-origin")],
                &body,
            );
            assert_ne!(r.status, 500, "{ep} {ct} {body:?}: {}", r.body);
            assert_ne!(r.status, 0, "{ep}: no answer (crash?)");
            *statuses.entry(r.status).or_insert(0) += 1;
        }
    }
    assert!(statuses.contains_key(&400), "{statuses:?}");
    assert_eq!(c.get("/healthz").body, "ok", "still serving");
}

/// Regression 3 (Zitadel CVE-2025-64103), M5 over HTTP: with only the password passed, every
/// server function of a signed-in person refuses — it sends the browser to sign-in or answers
/// "nobody" — and the Security tab never renders.
#[test]
fn m5_regression_3_every_signed_in_server_function_refuses_a_partial_session() {
    let s = Server::start(&[]);
    let mut c = Client::new(&s);
    register_and_verify(&mut c, "partial@example.com", "email", "");
    c.form(
        "/api/login_email",
        "/login",
        &[("email", "partial@example.com")],
    );
    c.form("/api/login_password", "/login", &[("password", PW)]);
    assert!(c.get("/login").body.contains("We sent a six-digit code"));
    let calls: &[(&str, &[(&str, &str)])] = &[
        ("sign_out_session", &[("handle", "0123456789abcdef")]),
        ("sign_out_others", &[]),
        ("reauth_password", &[("password", PW)]),
        ("reauth_code", &[("code", "123456")]),
        ("security_resend", &[("purpose", "reauth")]),
        ("save_mfa_method", &[("mfa_method", "totp"), ("phone", "")]),
        ("verify_phone", &[("code", "123456")]),
        (
            "change_password",
            &[
                ("current", PW),
                ("password", "a-new-password-9"),
                ("confirm", "a-new-password-9"),
            ],
        ),
        ("send_reset_link", &[]),
        ("regenerate_codes", &[]),
        ("codes_saved", &[]),
        (
            "save_profile",
            &[
                ("first_name", "Eve"),
                ("last_name", "X"),
                ("phone", "+15550100999"),
            ],
        ),
        ("confirm_phone", &[("code", "123456")]),
        ("resend_phone_code", &[]),
        ("remove_avatar", &[]),
    ];
    for (name, fields) in calls {
        let r = c.form(&format!("/api/{name}"), "/profile/security", fields);
        assert_eq!(
            r.header("location"),
            Some("/login"),
            "{name} must send a partial session to sign-in: {r:?}"
        );
    }
    for name in ["me", "security_view", "dashboard_view", "profile_view"] {
        let r = c.request(
            "POST",
            &format!("/api/{name}"),
            &[
                ("Sec-Fetch-Site", "same-origin"),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            "",
        );
        assert_eq!((r.status, r.body.trim()), (200, "null"), "{name}");
    }
    sent_to_sign_in(&mut c);
    // The flow itself is untouched: the emailed code still finishes it.
    let code = after(
        &newest(&mut c, "partial@example.com", "sign-in code", 0),
        "code is ",
    )
    .to_string();
    let r = c.form("/api/login_code", "/login", &[("code", &code)]);
    assert_eq!(r.header("location"), Some("/profile"));
}
