//! Mail to a real TLS SMTP server (issue 12): STARTTLS and implicit TLS with a certificate from a
//! CA the test makes, AUTH PLAIN and LOGIN, a wrong CA refused, a relay without STARTTLS refused,
//! a permanent refusal not retried, and (Y1) a server killed mid-message that delivers after
//! restart with the same Message-ID.

mod support;

use support::flows::*;
use support::{eventually, Client, Protection, Server, SmtpServer, TestCa};

/// Production settings delivering to a relay on 127.0.0.1:`port`, plus `extra`.
fn production(port: u16, extra: &[(&str, &str)]) -> Server {
    let port = port.to_string();
    let mut env = vec![("GATEHOUSE_SMTP_PORT", port.as_str())];
    env.extend_from_slice(extra);
    Server::start(&production_env(&env))
}

/// A CA certificate in a file of its own (it must exist before the server starts); removed on
/// drop.
struct CaFile(std::path::PathBuf);

impl CaFile {
    fn of(ca: &TestCa, name: &str) -> CaFile {
        let p = std::env::temp_dir().join(format!("gatehouse-{}-{name}.pem", std::process::id()));
        std::fs::write(&p, &ca.pem).expect("write ca");
        CaFile(p)
    }
    fn path(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Registers `email` on `s`, which queues its verification mail.
fn register(s: &Server, email: &str) {
    register_only(&mut Client::new(s), email);
}

/// Waits until delivering the mail to `email` has failed once, and returns `outbox list`, which
/// shows it waiting for its retry.
fn refused_and_retrying(s: &Server, email: &str) -> String {
    eventually(|| {
        s.log()
            .contains("message delivery failed; will retry")
            .then_some(())
    });
    let list = s.cli(&["outbox", "list"]);
    let text = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(text.contains(email) && text.contains("retrying:"), "{text}");
    text
}

#[test]
fn smtp_starttls_with_auth_plain_sends_encrypted_with_the_configured_headers() {
    let ca = TestCa::new("Relay test CA");
    let relay = SmtpServer::tls(&ca, Protection::StartTls, Some("PLAIN"));
    let ca_file = CaFile::of(&ca, "starttls-ca");
    let s = production(
        relay.port,
        &[
            // security is left to its default: starttls.
            ("GATEHOUSE_SMTP_CA_FILE", &ca_file.path()),
            ("GATEHOUSE_SMTP_USERNAME", "mailer@id.example.com"),
            ("GATEHOUSE_SMTP_PASSWORD", "relay-secret-1"),
            ("GATEHOUSE_SMTP_REPLY_TO", "Support <help@id.example.com>"),
            ("GATEHOUSE_SMTP_HELLO_NAME", "id.example.com"),
        ],
    );
    register(&s, "tls-user@example.com");
    let got = eventually(|| relay.received().into_iter().next());
    assert!(got.tls, "DATA came after STARTTLS");
    assert_eq!(
        got.auth,
        Some((
            "PLAIN".to_string(),
            "mailer@id.example.com".to_string(),
            "relay-secret-1".to_string()
        ))
    );
    assert_eq!(got.ehlo, "id.example.com");
    assert_eq!(
        got.header("From").as_deref(),
        Some("Gatehouse <no-reply@id.example.com>")
    );
    assert_eq!(
        got.header("Reply-To").as_deref(),
        Some("Support <help@id.example.com>")
    );
    let id = got.header("Message-ID").expect("Message-ID");
    assert!(
        id.starts_with('<') && id.ends_with("@id.example.com>"),
        "{id}"
    );
    assert!(
        got.data.contains("To: tls-user@example.com"),
        "{}",
        got.data
    );
    // G1: the relay password never reaches the log.
    eventually(|| s.log().contains("message delivered").then_some(()));
    assert!(!s.log().contains("relay-secret-1"));
}

#[test]
fn smtp_implicit_tls_from_one_url_with_auth_login() {
    let ca = TestCa::new("Relay test CA");
    let relay = SmtpServer::tls(&ca, Protection::ImplicitTls, Some("LOGIN"));
    let ca_file = CaFile::of(&ca, "implicit-ca");
    let url = format!(
        "smtps://mailer%40id.example.com:p%40ss-word@127.0.0.1:{}",
        relay.port
    );
    let s = Server::start(&[
        ("GATEHOUSE_SMTP_URL", &url),
        ("GATEHOUSE_SMTP_CA_FILE", &ca_file.path()),
        ("GATEHOUSE_SMTP_FROM", "no-reply@id.example.com"),
        ("GATEHOUSE_PUBLIC_URL", "https://id.example.com"),
        ("GATEHOUSE_MFA_SECRET_KEY", TEST_KEY),
    ]);
    register(&s, "smtps-user@example.com");
    let got = eventually(|| relay.received().into_iter().next());
    assert!(got.tls, "TLS from the first byte");
    assert_eq!(
        got.auth,
        Some((
            "LOGIN".to_string(),
            "mailer@id.example.com".to_string(),
            "p@ss-word".to_string()
        ))
    );
    assert!(!s.log().contains("p@ss-word") && !s.log().contains("p%40ss-word"));
}

#[test]
fn smtp_a_relay_whose_certificate_another_ca_signed_gets_nothing() {
    let real = TestCa::new("The relay's CA");
    let other = TestCa::new("Some other CA");
    let relay = SmtpServer::tls(&real, Protection::StartTls, None);
    let wrong = CaFile::of(&other, "wrong-ca");
    let s = production(relay.port, &[("GATEHOUSE_SMTP_CA_FILE", &wrong.path())]);
    register(&s, "mitm@example.com");
    let text = refused_and_retrying(&s, "mitm@example.com");
    assert!(
        text.to_ascii_lowercase().contains("certificate"),
        "the error names the certificate: {text}"
    );
    assert!(relay.received().is_empty(), "nothing reached the relay");
}

#[test]
fn smtp_starttls_is_required_a_relay_that_does_not_offer_it_gets_nothing() {
    let relay = SmtpServer::plain();
    let s = production(relay.port, &[]);
    register(&s, "downgrade@example.com");
    refused_and_retrying(&s, "downgrade@example.com");
    assert!(relay.received().is_empty(), "no mail in clear text");
}

#[test]
fn y1_a_permanent_refusal_is_not_retried_is_listed_and_can_be_retried_by_id() {
    let relay = SmtpServer::plain();
    let s = production(relay.port, &[("GATEHOUSE_SMTP_SECURITY", "none")]);
    register(&s, "bounce@example.com");
    eventually(|| s.log().contains("failed for good").then_some(()));
    assert!(
        !s.log().contains("will retry"),
        "a 5xx is not retried like a 4xx"
    );
    let failed = s.cli(&["outbox", "list", "--failed"]);
    let text = String::from_utf8_lossy(&failed.stdout).to_string();
    let line = text
        .lines()
        .find(|l| l.contains("bounce@example.com"))
        .unwrap_or_else(|| panic!("listed as failed: {text}"));
    assert!(line.contains("failed: ") && line.contains("550"), "{line}");
    let id = line.split_whitespace().next().expect("id");
    let retried = s.cli(&["outbox", "retry", id]);
    assert!(retried.status.success(), "{retried:?}");
    assert_eq!(
        String::from_utf8_lossy(&retried.stdout).trim(),
        format!("message {id} due now")
    );
    // Tried once more (and refused again): a second "failed for good" for the same row.
    eventually(|| (s.log().matches("failed for good").count() == 2).then_some(()));
    let missing = s.cli(&["outbox", "retry", "999999"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no undelivered message 999999"));
}

#[test]
fn y1_a_server_killed_mid_message_delivers_after_restart_with_the_same_message_id() {
    let relay = SmtpServer::plain();
    relay.stall.store(true, std::sync::atomic::Ordering::SeqCst);
    let env = [
        ("GATEHOUSE_SMTP_SECURITY", "none"),
        // A short lease and send timeout, so the restarted server takes the message back soon.
        ("GATEHOUSE_SMTP_TIMEOUT_SECS", "2"),
        ("GATEHOUSE_OUTBOX_LEASE_SECS", "3"),
    ];
    let s = production(relay.port, &env);
    register(&s, "crash@example.com");
    // The relay has the whole message but never answers: the sender is mid-delivery.
    let stalled = eventually(|| relay.stalled().into_iter().next());
    let port = relay.port.to_string();
    let mut env2 = vec![("GATEHOUSE_SMTP_PORT", port.as_str())];
    env2.extend_from_slice(&env);
    relay
        .stall
        .store(false, std::sync::atomic::Ordering::SeqCst);
    // SIGKILL: no shutdown, the claim stays on the row until its lease runs out.
    let s = s.kill_and_restart(&production_env(&env2));
    let got = eventually(|| relay.received().into_iter().next());
    assert!(got.data.contains("To: crash@example.com"), "{}", got.data);
    assert_eq!(
        got.header("Message-ID"),
        stalled.header("Message-ID"),
        "the repeat is the same message to mail systems"
    );
    assert!(got.header("Message-ID").is_some());
    eventually(|| s.log().contains("message delivered").then_some(()));
    assert_eq!(relay.received().len(), 1, "delivered once");
}

#[test]
fn y2_shutdown_finishes_the_message_in_flight_and_leaves_the_rest_queued() {
    let relay = SmtpServer::plain();
    relay.stall.store(true, std::sync::atomic::Ordering::SeqCst);
    let s = production(
        relay.port,
        &[
            ("GATEHOUSE_SMTP_SECURITY", "none"),
            ("GATEHOUSE_SMTP_TIMEOUT_SECS", "2"),
            ("GATEHOUSE_OUTBOX_LEASE_SECS", "3"),
        ],
    );
    for who in ["first", "second", "third"] {
        register(&s, &format!("{who}@example.com"));
    }
    // The worker is mid-delivery of one message (the relay holds it unanswered).
    eventually(|| relay.stalled().into_iter().next());
    let kept = s.keep_dir();
    let status = s.terminate();
    assert!(status.success(), "a clean stop: {status:?}");
    // The outbox of the stopped server, read by the CLI from its database file.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["outbox", "list"])
        .env_clear()
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/db.sqlite", kept.0.display()),
        )
        .output()
        .expect("cli");
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(listing.lines().count(), 3, "{listing}");
    let attempted: Vec<&str> = listing
        .lines()
        .filter(|l| !l.contains("attempts=0"))
        .collect();
    assert_eq!(
        attempted.len(),
        1,
        "only the message in flight was tried:\n{listing}"
    );
    assert!(attempted[0].contains("retrying:"), "{listing}");
    assert_eq!(
        listing
            .lines()
            .filter(|l| l.contains("attempts=0") && l.ends_with("queued"))
            .count(),
        2,
        "the rest wait for the next start:\n{listing}"
    );
    assert_eq!(relay.stalled().len(), 1);
}
