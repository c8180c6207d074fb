//! What an operator watches (issue 12): `/healthz`, `/readyz`, `/metrics` on its own address,
//! and a request id in the `X-Request-Id` header and on the request's log lines.

mod support;

use support::flows::*;
use support::{eventually, Client, Server};

/// The value of the sample `name` (with its labels, exactly as exposed) in a scrape.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn healthz_and_readyz_answer_and_every_response_has_its_request_id_in_the_log() {
    let s = Server::start(&[]);
    let mut c = Client::new(&s);
    let health = c.get("/healthz");
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
    let ready = c.get("/readyz");
    assert_eq!(
        (ready.status, ready.body.as_str()),
        (200, "ready"),
        "database, migrations and worker"
    );
    let id = ready
        .header("x-request-id")
        .expect("X-Request-Id")
        .to_string();
    assert_eq!(id.len(), 16, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    let other = c.get("/login");
    assert_ne!(
        other.header("x-request-id"),
        Some(id.as_str()),
        "one id per request"
    );
    // The server's stderr is read by a thread of the test: wait for the line to arrive.
    let line = eventually(|| {
        s.log()
            .lines()
            .find(|l| l.contains("\"path\":\"/readyz\""))
            .map(str::to_string)
    });
    assert!(line.contains(&format!("\"request_id\":\"{id}\"")), "{line}");
}

#[test]
fn metrics_are_off_unless_configured_and_count_what_happened() {
    let plain = Server::start(&[]);
    assert_eq!(
        Client::new(&plain).get("/metrics").status,
        404,
        "never on the public listener"
    );

    let s = Server::start(&[("GATEHOUSE_METRICS_LISTEN", "127.0.0.1:0")]);
    let (_, _) = sign_up_and_in(&s, "watched@example.com");
    let mut c = Client::new(&s);
    c.form(
        "/api/login_email",
        "/login",
        &[("email", "watched@example.com")],
    );
    c.form(
        "/api/login_password",
        "/login",
        &[("password", "not-the-password")],
    );
    let mut m = Client::to(&s.metrics_addr());
    let r = m.get("/metrics");
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        r.header("content-type")
    );
    let t = r.body;
    assert_eq!(
        sample(&t, "gatehouse_sign_ins_total{outcome=\"succeeded\"}"),
        Some(1.0),
        "{t}"
    );
    assert_eq!(
        sample(&t, "gatehouse_sign_ins_total{outcome=\"wrong_password\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&t, "gatehouse_codes_sent_total{channel=\"email\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&t, "gatehouse_codes_accepted_total{kind=\"login_email\"}"),
        Some(1.0)
    );
    assert_eq!(sample(&t, "gatehouse_lockouts_total"), Some(0.0));
    assert_eq!(sample(&t, "gatehouse_argon2_busy_total"), Some(0.0));
    assert_eq!(sample(&t, "gatehouse_database_up"), Some(1.0));
    // Verification mail and the code: both delivered to the dev mailbox by the worker.
    assert!(
        sample(&t, "gatehouse_outbox_deliveries_total{result=\"sent\"}").is_some_and(|n| n >= 2.0),
        "{t}"
    );
    assert_eq!(
        sample(&t, "gatehouse_outbox_messages{state=\"failed\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &t,
            "gatehouse_http_requests_total{route=\"/api/login_password\",status=\"303\"}"
        ),
        Some(2.0),
        "{t}"
    );
    assert!(
        sample(
            &t,
            "gatehouse_http_request_duration_seconds_count{route=\"/api/login_password\"}"
        ) == Some(2.0),
        "{t}"
    );
    assert!(
        t.contains("gatehouse_http_request_duration_seconds_bucket{route=\"/login\",le=\"+Inf\"}")
    );
    // Labels never carry a person.
    assert!(!t.contains("watched@example.com"));
}
