//! Y4: nothing waits for ever and nothing grows without bound — a stalled request is answered
//! 503 when the request timeout runs out, and requests beyond the concurrency limit are answered
//! 503 at once (the body limits' 413 is in http.rs, the pool and statement limits in core's store
//! tests).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use support::{eventually, Client, Server};

/// Sends a POST whose body never finishes (declares 100 bytes, sends 7); the socket stays open.
fn stalled_post(s: &Server) -> TcpStream {
    let mut stream = TcpStream::connect(&s.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let head = format!(
        "POST /api/login_email HTTP/1.1\r\nHost: {}\r\nSec-Fetch-Site: same-origin\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=a",
        s.addr
    );
    stream.write_all(head.as_bytes()).expect("send");
    stream
}

/// Whether the server has answered `stream` (without waiting for an answer).
fn answered(stream: &mut TcpStream) -> bool {
    let _ = stream.set_nonblocking(true);
    let mut byte = [0u8; 1];
    let got = matches!(stream.peek(&mut byte), Ok(n) if n > 0);
    let _ = stream.set_nonblocking(false);
    got
}

#[test]
fn y4_a_request_that_stalls_mid_body_is_answered_503_when_the_timeout_runs_out() {
    let s = Server::start(&[("GATEHOUSE_LIMITS_REQUEST_TIMEOUT_SECS", "1")]);
    let mut stream = stalled_post(&s);
    // The read returns because the server answers; a hang would fail it after 20 s.
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\r\n\r\n") {
        let n = stream
            .read(&mut buf)
            .expect("the server answers before our read timeout");
        assert!(n > 0, "closed without an answer");
        answer.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&answer).to_string();
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("retry-after: 2"),
        "{text}"
    );
    eventually(|| s.log().contains("request timed out").then_some(()));
}

#[test]
fn y4_requests_beyond_the_concurrency_limit_get_503_at_once_and_liveness_still_answers() {
    let s = Server::start(&[
        ("GATEHOUSE_LIMITS_MAX_CONCURRENT_REQUESTS", "1"),
        // However the stalled request ends (its client leaves, or the timeout), the slot returns.
        ("GATEHOUSE_LIMITS_REQUEST_TIMEOUT_SECS", "5"),
    ]);
    let mut c = Client::new(&s);
    // The stalled request must hold the one slot. Our probe can win the race for it (the
    // server may take the probe's connection first), and then the stalled request is the one
    // refused: it is opened again until it holds the slot (a condition, not a sleep).
    let mut stalled = stalled_post(&s);
    let refused = eventually(|| {
        let r = c.get("/login");
        if r.status == 503 {
            return Some(r);
        }
        if answered(&mut stalled) {
            stalled = stalled_post(&s);
        }
        None
    });
    assert_eq!(refused.header("retry-after"), Some("2"));
    assert!(
        refused.body.contains("The server is busy"),
        "{}",
        refused.body
    );
    assert_eq!(c.get("/healthz").status, 200, "liveness is always answered");
    // The stalled client goes away: its slot comes back (at the latest when it times out).
    drop(stalled);
    let again = eventually(|| {
        let r = c.get("/login");
        (r.status == 200).then_some(r)
    });
    assert!(again.body.contains("Sign in"), "{}", again.body);
}

/// Y4: a database that does not answer — every table a sign-in touches is locked by another
/// transaction — costs a request at most the pool's acquire timeout or the statement timeout,
/// and the person gets the busy page (503 + Retry-After), not a 500 and not a hang. Two requests
/// at once on a pool of one connection: one waits in a statement (cancelled at the statement
/// timeout), the other waits for the connection (refused at the acquire timeout).
#[test]
fn y4_a_database_that_does_not_answer_gets_503_not_500_nor_a_hang() {
    let Some(db) = support::postgres_url() else {
        return;
    };
    let s = Server::start(&[
        ("DATABASE_URL", &db),
        ("GATEHOUSE_DATABASE_MAX_CONNECTIONS", "1"),
        ("GATEHOUSE_DATABASE_ACQUIRE_TIMEOUT_SECS", "1"),
        ("GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_SECS", "1"),
    ]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let holder = rt
        .block_on(gatehouse_core::store::Store::connect(&db))
        .expect("connect");
    let lock = rt.block_on(gatehouse_core::store::testing::lock_tables(
        &holder,
        &[
            "users",
            "sessions",
            "rate_limits",
            "oidc_clients",
            "_sqlx_migrations",
        ],
    ));
    let sign_in = |s: &Server| {
        let mut c = Client::new(s);
        c.form(
            "/api/login_email",
            "/login",
            &[("email", "ada@example.com")],
        )
    };
    let answers = std::thread::scope(|scope| {
        let both = [scope.spawn(|| sign_in(&s)), scope.spawn(|| sign_in(&s))];
        both.map(|h| h.join().expect("request thread"))
    });
    for r in &answers {
        assert_eq!(r.status, 503, "{}", r.body);
        assert_eq!(r.header("retry-after"), Some("2"));
        assert!(r.body.contains("The server is busy"), "{}", r.body);
    }
    // The OpenID Connect endpoints answer the same way: a busy page, or the protocol's
    // temporarily_unavailable.
    let mut c = Client::new(&s);
    let r = c.get("/oauth2/authorize?client_id=x&redirect_uri=https%3A%2F%2Fa.example%2Fcb");
    assert_eq!(
        (r.status, r.header("retry-after")),
        (503, Some("2")),
        "{}",
        r.body
    );
    let r = c.request(
        "POST",
        "/oauth2/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "grant_type=authorization_code&client_id=x&code=y",
    );
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("temporarily_unavailable"), "{}", r.body);
    eventually(|| s.log().contains("database overloaded").then_some(()));
    // Y4: readiness names its reason whatever the client accepts (a browser asks for HTML;
    // the busy page would hide why).
    let r = c.get("/readyz");
    assert_eq!(
        (r.status, r.body.as_str()),
        (503, "database unreachable"),
        "y4_readyz_names_its_reason_whatever_it_accepts"
    );
    // The database answers again: so does the server.
    rt.block_on(lock.rollback()).expect("unlock");
    let r = sign_in(&s);
    assert_eq!(r.status, 303, "{}", r.body);
}
