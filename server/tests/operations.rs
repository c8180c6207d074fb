//! Running Gatehouse for real (issue 12): two instances on one PostgreSQL behave as one service,
//! and a backup taken while serving restores.

mod support;

use support::flows::*;
use support::{eventually, postgres_url, Client, Server, SmtpServer};

/// One production instance on `db`, mailing through the plain loopback `relay`.
fn instance(db: &str, relay: u16) -> Server {
    let port = relay.to_string();
    Server::start(&production_env(&[
        ("DATABASE_URL", db),
        ("GATEHOUSE_SMTP_PORT", &port),
        ("GATEHOUSE_SMTP_SECURITY", "none"),
        ("GATEHOUSE_LOCKOUT_THRESHOLD", "3"),
        ("GATEHOUSE_LIMITS_REGISTER_PER_IP_PER_HOUR", "6"),
    ]))
}

/// The text of the newest mail to `to` whose subject has `subject`, as the relay got it (soft
/// line breaks and `=3D` of quoted-printable undone).
fn mail(relay: &SmtpServer, to: &str, subject: &str, after: usize) -> String {
    eventually(|| {
        let found: Vec<String> = relay
            .received()
            .into_iter()
            .filter(|m| {
                m.header("To").as_deref() == Some(to)
                    && m.header("Subject").is_some_and(|s| s.contains(subject))
            })
            .map(|m| m.data.replace("=\r\n", "").replace("=3D", "="))
            .collect();
        (found.len() > after).then(|| found[found.len() - 1].clone())
    })
}

fn count(relay: &SmtpServer, to: &str, subject: &str) -> usize {
    relay
        .received()
        .iter()
        .filter(|m| {
            m.header("To").as_deref() == Some(to)
                && m.header("Subject").is_some_and(|s| s.contains(subject))
        })
        .count()
}

/// A client of `s` holding `other`'s cookies: the same browser, sent to another instance by the
/// load balancer.
fn same_browser(s: &Server, other: &Client) -> Client {
    let mut c = Client::new(s);
    c.cookies = other.cookies.clone();
    c
}

fn wrong_password(s: &Server, email: &str) {
    let mut c = Client::new(s);
    c.form("/api/login_email", "/login", &[("email", email)]);
    c.form(
        "/api/login_password",
        "/login",
        &[("password", "not-the-password")],
    );
    assert!(c
        .get("/login")
        .body
        .contains("Email or password is incorrect"));
}

#[test]
fn several_instances_share_one_postgresql_sessions_limits_lockout_and_mail_exactly_once() {
    let Some(db) = postgres_url() else {
        eprintln!("GATEHOUSE_TEST_SQLITE_ONLY=1: the PostgreSQL-only test is not run");
        return;
    };
    let relay = SmtpServer::plain();
    // Both start at once on an empty database: one migrates, the other waits for its lock.
    let (a, b) = std::thread::scope(|sc| {
        let a = sc.spawn(|| instance(&db, relay.port));
        let b = sc.spawn(|| instance(&db, relay.port));
        (a.join().expect("a"), b.join().expect("b"))
    });

    // R2 across both: six registrations from this address alternate between the instances;
    // the seventh is refused wherever it lands. Six verification mails go out while both
    // workers run.
    let people: Vec<String> = (0..6).map(|i| format!("person{i}@example.com")).collect();
    for (i, email) in people.iter().enumerate() {
        let s = if i % 2 == 0 { &a } else { &b };
        register_only(&mut Client::new(s), email);
    }
    let mut late = Client::new(&a);
    register_only(&mut late, "seventh@example.com");
    assert!(
        late.get("/register").body.contains("Too many attempts"),
        "the register window counts both instances"
    );

    // The first person verifies on B a link mailed after registering on A.
    let ada = &people[0];
    let text = mail(&relay, ada, "Verify your email", 0);
    let token = after(&text, "token=").to_string();
    verify(&mut Client::new(&b), &token);

    // A session made on A (email, password) finishes on B (the code) and then works on A.
    let mut on_a = Client::new(&a);
    on_a.form("/api/login_email", "/login", &[("email", ada)]);
    on_a.form("/api/login_password", "/login", &[("password", PW)]);
    let code_mail = mail(&relay, ada, "sign-in code", 0);
    let code = after(&code_mail, "code is ").to_string();
    let mut on_b = same_browser(&b, &on_a);
    let r = on_b.form("/api/login_code", "/login", &[("code", &code)]);
    assert_eq!(r.header("location"), Some("/profile"), "{r:?}");
    let mut back_on_a = same_browser(&a, &on_b);
    assert!(back_on_a.get("/profile").body.contains("Welcome, Ada"));

    // Sign-out on B ends the session on A too.
    let r = on_b.form("/api/sign_out", "/profile", &[]);
    assert!(matches!(r.status, 302 | 303), "{r:?}");
    sent_to_sign_in(&mut back_on_a);

    // R1 across both: three wrong passwords, on A, B, A, lock the account once.
    wrong_password(&a, ada);
    wrong_password(&b, ada);
    wrong_password(&a, ada);
    mail(&relay, ada, "Sign-in to your account is paused", 0);
    let mut c = Client::new(&b);
    c.form("/api/login_email", "/login", &[("email", ada)]);
    c.form("/api/login_password", "/login", &[("password", PW)]);
    assert!(
        c.get("/login")
            .body
            .contains("Email or password is incorrect"),
        "locked on B by failures counted on both"
    );

    // Y1: every queued message reached the relay exactly once, whichever worker took it.
    let listed = || {
        let out = a.cli(&["outbox", "list"]);
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let rows = eventually(|| {
        let text = listed();
        let rows: Vec<String> = text.lines().map(str::to_string).collect();
        rows.iter().all(|l| l.ends_with(" sent")).then_some(rows)
    });
    assert_eq!(
        rows.len(),
        6 + 1 + 1,
        "verifications, the code, the lock notice:\n{}",
        rows.join("\n")
    );
    let ids: std::collections::BTreeSet<String> = relay
        .received()
        .iter()
        .map(|m| m.header("Message-ID").expect("Message-ID"))
        .collect();
    assert_eq!(relay.received().len(), rows.len(), "nothing doubled");
    assert_eq!(ids.len(), rows.len(), "distinct messages");
    assert_eq!(count(&relay, ada, "Sign-in to your account is paused"), 1);
    for p in &people {
        assert_eq!(count(&relay, p, "Verify your email"), 1, "{p}");
    }
}

#[test]
fn a_backup_taken_while_serving_restores_into_a_working_instance() {
    let s = Server::start(&[]);
    let (_, _) = sign_up_and_in(&s, "kept@example.com");
    let path = s.dir().join("backup.db").display().to_string();
    let out = s.cli(&["backup", &path]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("backup written to {path}")
    );
    let again = s.cli(&["backup", &path]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    // Restore = start on the copy.
    let restored = Server::start(&[("DATABASE_URL", &format!("sqlite://{path}"))]);
    let mut c = Client::new(&restored);
    c.form(
        "/api/login_email",
        "/login",
        &[("email", "kept@example.com")],
    );
    c.form("/api/login_password", "/login", &[("password", PW)]);
    assert!(
        c.get("/login").body.contains("We sent a six-digit code"),
        "the account and its password came back"
    );
}
