//! The attacks of the security review (issue 9), each as a test named after its rule, on
//! SQLite and PostgreSQL. Each one failed on the code before its fix.

mod common;

use common::*;
use gatehouse_core::flows::accounts::{self, Registration};
use gatehouse_core::flows::login::{self, CodeOutcome, LoginError, StepKind};
use gatehouse_core::mechanisms::challenges::ChallengeError;
use gatehouse_core::mechanisms::credentials::CredentialError;
use gatehouse_core::mechanisms::mfa::{self, Enrolment, ENROLMENT_TTL_SECS};
use gatehouse_core::mechanisms::outbox::Channel;
use gatehouse_core::mechanisms::users::{self, MfaMethod};
use gatehouse_core::store::testing;
use gatehouse_core::values::clock::FixedClock;

const ATTACKER_PHONE: &str = "+1 555 010 0666";

fn registration(email: &str, password: &str, method: &str, phone: &str) -> Registration {
    Registration {
        email: email.into(),
        first_name: "Mallory".into(),
        last_name: "Attacker".into(),
        password: password.into(),
        confirm: password.into(),
        mfa_method: method.into(),
        phone: phone.into(),
        invitation: String::new(),
    }
}

/// The token of the newest verification mail to `email`.
async fn verification_token(d: &gatehouse_core::mechanisms::service::Deps, email: &str) -> String {
    let m = last_message(d).await;
    assert_eq!(
        (m.recipient.as_str(), m.subject.as_str()),
        (email, "Verify your email address")
    );
    m.text
        .split("token=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .expect("token")
        .to_string()
}

async fn user(d: &gatehouse_core::mechanisms::service::Deps, email: &str) -> users::User {
    let mut c = d.store.conn().await.expect("conn");
    let e = gatehouse_core::values::email::Email::parse(email).expect("email");
    users::by_email(&mut c, &e)
        .await
        .expect("load")
        .expect("user")
}

/// M13, attack 1: the password alone shows no QR code. With an authenticator pending (chosen at
/// registration), the sign-in first asks for the code of the factor active now — the verified
/// email — and only then shows the set-up step.
#[tokio::test]
async fn m13_knowing_the_password_never_binds_an_authenticator() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        register_verified(&d, "grace@example.com", "totp").await;
        let s = to_code_step(&d, "grace@example.com").await;
        let step = login::code_step(&d, &s).await.expect("step").expect("live");
        assert_eq!(
            step.kind,
            StepKind::EmailCode,
            "M13: the active factor first"
        );
        assert_eq!(
            (step.setup_key.as_str(), step.otpauth_url.as_str()),
            ("", ""),
            "no secret is shown before the second factor"
        );
        let m = last_message(&d).await;
        assert_eq!(m.recipient, "grace@example.com");
        // A made-up authenticator code cannot stand in for the emailed one.
        let emailed = last_code(&d).await;
        assert!(matches!(
            login::verify_code(&d, &s, wrong_code(&emailed), &client()).await,
            Err(LoginError::Code(ChallengeError::WrongCode { .. }))
        ));
        let s = match login::verify_code(&d, &s, &emailed, &client())
            .await
            .expect("emailed code")
        {
            CodeOutcome::SetUpNext(t) => session(&d, t.expose()).await,
            other => panic!("expected the set-up step, got {other:?}"),
        };
        assert!(s.authenticated_user().is_none(), "M5: still not signed in");
        let step = login::code_step(&d, &s).await.expect("step").expect("live");
        assert_eq!(step.kind, StepKind::SetUpAuthenticator);
        assert!(step.otpauth_url.starts_with("otpauth://totp/"));
    }
}

/// M13: a phone given at registration is not texted before the emailed code came back.
#[tokio::test]
async fn m13_a_pending_phone_gets_its_code_only_after_the_emailed_one() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        register_verified_with_phone(&d, "grace@example.com", "sms", ATTACKER_PHONE).await;
        let s = to_code_step(&d, "grace@example.com").await;
        let m = last_message(&d).await;
        assert_eq!(
            (m.channel, m.recipient.as_str()),
            (Channel::Email, "grace@example.com")
        );
        let t = login::verify_code(&d, &s, &last_code(&d).await, &client())
            .await
            .expect("emailed code");
        assert!(matches!(t, CodeOutcome::SetUpNext(_)));
        let m = last_message(&d).await;
        assert_eq!(
            (m.channel, m.recipient.as_str()),
            (Channel::Sms, "+15550100666")
        );
    }
}

/// M13: a pending enrolment expires after seven days; the sign-in then simply ends after the
/// active factor, and the Security tab no longer lists it.
#[tokio::test]
async fn m13_pending_enrolments_expire() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        register_verified(&d, "grace@example.com", "totp").await;
        let uid = user(&d, "grace@example.com").await.id;
        {
            let mut c = d.store.conn().await.expect("conn");
            let p = mfa::pending(&mut c, &uid, d.now()).await.expect("pending");
            assert_eq!(p.map(|p| p.enrolment), Some(Enrolment::Authenticator));
        }
        clock.advance(ENROLMENT_TTL_SECS - 1);
        let s = to_code_step(&d, "grace@example.com").await;
        let out = login::verify_code(&d, &s, &last_code(&d).await, &client())
            .await
            .expect("code");
        assert!(
            matches!(out, CodeOutcome::SetUpNext(_)),
            "still fresh at 7 days - 1 s"
        );
        clock.advance(2);
        let s = to_code_step(&d, "grace@example.com").await;
        let out = login::verify_code(&d, &s, &last_code(&d).await, &client())
            .await
            .expect("code");
        let CodeOutcome::SignedIn(t) = out else {
            panic!("an expired enrolment is not offered: {out:?}")
        };
        let signed = session(&d, t.expose()).await;
        let ov = gatehouse_core::flows::security::overview(&d, &signed)
            .await
            .expect("overview");
        assert_eq!(ov.pending, None);
        assert_eq!(ov.user.mfa_method, MfaMethod::Email);
    }
}

/// E4, attack 2: opening the link reads it; only the POST verifies. The page learns who
/// registered and when.
#[tokio::test]
async fn e4_opening_the_verification_link_changes_nothing() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        accounts::register(
            &d,
            &registration("ada@example.com", PW, "email", ""),
            &client(),
        )
        .await
        .expect("register");
        let token = verification_token(&d, "ada@example.com").await;
        let shown = accounts::pending_verification(&d, &token)
            .await
            .expect("read")
            .expect("live link");
        assert_eq!(
            (
                shown.user.email.as_str(),
                shown.user.first_name.as_str(),
                shown.registered_at
            ),
            ("ada@example.com", "Mallory", 1_700_000_000)
        );
        accounts::pending_verification(&d, &token)
            .await
            .expect("read again");
        assert!(
            !user(&d, "ada@example.com").await.email_verified,
            "a GET verifies nothing"
        );
        accounts::verify_email(&d, &token, &client())
            .await
            .expect("POST");
        assert!(user(&d, "ada@example.com").await.email_verified);
        assert_eq!(
            accounts::pending_verification(&d, &token)
                .await
                .expect("read")
                .map(|p| p.user.id),
            None,
            "a used link shows nothing"
        );
    }
}

/// E4: the victim's own registration replaces the attacker's pending one — the attacker's
/// password, phone and link all die, the victim's work.
#[tokio::test]
async fn e4_a_new_registration_replaces_an_unverified_one() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        let attacker_pw = "owned-by-eve-1999";
        accounts::register(
            &d,
            &registration("victim@example.com", attacker_pw, "sms", ATTACKER_PHONE),
            &client(),
        )
        .await
        .expect("attacker registers");
        let attacker_link = verification_token(&d, "victim@example.com").await;
        clock.advance(60);
        let mut mine = registration("victim@example.com", PW, "email", "");
        mine.first_name = "Victoria".into();
        accounts::register(&d, &mine, &client())
            .await
            .expect("victim registers");
        let victim_link = verification_token(&d, "victim@example.com").await;
        assert_ne!(attacker_link, victim_link);
        assert!(matches!(
            accounts::verify_email(&d, &attacker_link, &client()).await,
            Err(accounts::VerifyError::Invalid)
        ));
        let shown = accounts::pending_verification(&d, &victim_link)
            .await
            .expect("read")
            .expect("live");
        assert_eq!(shown.user.first_name, "Victoria");
        accounts::verify_email(&d, &victim_link, &client())
            .await
            .expect("verify");
        let u = user(&d, "victim@example.com").await;
        let mut c = d.store.conn().await.expect("conn");
        assert_eq!(mfa::phone_factor(&mut c, &u.id).await.expect("phone"), None);
        drop(c);
        let s = to_password_step(&d, "victim@example.com").await;
        assert!(matches!(
            login::submit_password(&d, &s, attacker_pw, &client()).await,
            Err(LoginError::Password(CredentialError::Incorrect))
        ));
        let s = to_code_step(&d, "victim@example.com").await;
        assert!(s.authenticated_user().is_none());
        assert_eq!(last_message(&d).await.recipient, "victim@example.com");
    }
}

/// E4: a mail scanner verified the attacker's registration. The attacker still knows the
/// password, but the factors they chose wait for an emailed code, which goes to the victim; no
/// recovery text reaches the attacker's phone.
#[tokio::test]
async fn e4_factors_chosen_at_registration_wait_for_the_owners_emailed_code() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        register_verified_with_phone(&d, "victim@example.com", "sms", ATTACKER_PHONE).await;
        let uid = user(&d, "victim@example.com").await.id;
        let s = to_code_step(&d, "victim@example.com").await;
        let m = last_message(&d).await;
        assert_eq!(
            (m.channel, m.recipient.as_str()),
            (Channel::Email, "victim@example.com")
        );
        let step = login::code_step(&d, &s).await.expect("step").expect("live");
        assert_eq!(step.kind, StepKind::EmailCode);
        let mut c = d.store.conn().await.expect("conn");
        assert_eq!(
            mfa::phone_factor(&mut c, &uid)
                .await
                .expect("phone")
                .map(|(_, v)| v),
            Some(false),
            "the attacker's number is not verified"
        );
        drop(c);
        gatehouse_core::flows::recovery::sms::start(&d, None, "victim@example.com", &client())
            .await
            .expect("recovery flow");
        let last = last_message(&d).await;
        assert_ne!(
            last.channel,
            Channel::Sms,
            "no recovery code to the attacker's phone"
        );
    }
}

/// The failure counter and lock of `email`.
async fn counter(d: &gatehouse_core::mechanisms::service::Deps, email: &str) -> (i64, Option<i64>) {
    let mut c = d.store.conn().await.expect("conn");
    sqlx::query_as("SELECT failed_count, locked_until FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&mut *c)
        .await
        .expect("counter")
}

/// Waits, yielding to the runtime (no sleep), until `f` holds; fails after 10 s.
async fn until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !f().await {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::task::yield_now().await;
    }
}

fn with_hasher(
    d: gatehouse_core::mechanisms::service::Deps,
    workers: usize,
    queue: usize,
) -> gatehouse_core::mechanisms::service::Deps {
    gatehouse_core::mechanisms::service::Deps {
        hasher: gatehouse_core::mechanisms::hashing::Hasher::start(FAST, workers, queue)
            .expect("hasher"),
        ..d
    }
}

/// R1/R6, attack 3: a full hashing queue answers Busy and gives the attempt back — fifteen
/// busy answers (more than the limit of ten) leave the counter at zero and nobody locked out.
#[tokio::test]
async fn r6_a_busy_hashing_pool_gives_the_attempt_back() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let normal = deps(store, &clock);
        verified_user(&normal, "ada@example.com").await;
        // One worker and no queue: once the worker is held, every hash is refused at once.
        let d = with_hasher(normal.clone(), 1, 0);
        let hold = d.hasher.occupy().expect("occupy the only worker");
        for _ in 0..15 {
            let s = to_password_step(&d, "ada@example.com").await;
            assert!(matches!(
                login::submit_password(&d, &s, "wrong-password-1", &client()).await,
                Err(LoginError::Password(CredentialError::Busy))
            ));
        }
        assert_eq!(
            counter(&d, "ada@example.com").await,
            (0, None),
            "R6: nothing kept"
        );
        drop(hold);
        // Nobody was locked out: the owner signs in (through a pool with room).
        to_code_step(&normal, "ada@example.com").await;
    }
}

/// R6: a request dropped while its password waits for the pool (the client went away) gives
/// its attempt back, and no failure is recorded.
#[tokio::test]
async fn r6_a_cancelled_sign_in_gives_the_attempt_back() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = with_hasher(deps(store, &clock), 1, 1);
        verified_user(&d, "ada@example.com").await;
        let hold = d.hasher.occupy().expect("occupy the only worker");
        let s = to_password_step(&d, "ada@example.com").await;
        let (d2, s2) = (d.clone(), s.clone());
        let request = tokio::spawn(async move {
            login::submit_password(&d2, &s2, "wrong-password-1", &client()).await
        });
        // Parked on the held pool: the attempt is reserved and its hash handed over.
        until("the hash is handed to the pool", || async {
            d.hasher.work().submitted == 1
        })
        .await;
        assert_eq!(counter(&d, "ada@example.com").await.0, 1, "reserved");
        request.abort();
        assert!(request.await.expect_err("cancelled").is_cancelled());
        until("the attempt is given back", || async {
            counter(&d, "ada@example.com").await.0 == 0
        })
        .await;
        drop(hold);
        let uid = user(&d, "ada@example.com").await.id;
        let mut c = d.store.conn().await.expect("conn");
        let kinds: Vec<_> = gatehouse_core::mechanisms::events::recent(&mut c, &uid, 100)
            .await
            .expect("events")
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, Vec::new(), "no failure recorded");
    }
}

/// R1/R6: the reservation that reaches the limit sets the lock in the same statement; a
/// reservation given back lifts it again; a wrong tenth password keeps it and tells the owner
/// once (R5); the lock ends by itself.
#[tokio::test]
async fn r1_r6_the_attempt_that_reaches_the_limit_locks_in_the_same_update() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let uid = user(&d, "ada@example.com").await.id;
        for _ in 0..9 {
            let s = to_password_step(&d, "ada@example.com").await;
            assert!(matches!(
                login::submit_password(&d, &s, "wrong-password-1", &client()).await,
                Err(LoginError::Password(CredentialError::Incorrect))
            ));
        }
        assert_eq!(counter(&d, "ada@example.com").await, (9, None));
        let lock_until = d.now() + d.settings.lockout_secs;
        let mut c = d.store.conn().await.expect("conn");
        let tenth = users::reserve_attempt(&mut c, &uid, 10, lock_until, d.now())
            .await
            .expect("reserve");
        assert_eq!(tenth, Some(10));
        drop(c);
        assert_eq!(
            counter(&d, "ada@example.com").await,
            (10, Some(lock_until)),
            "locked by the same UPDATE"
        );
        let mut c = d.store.conn().await.expect("conn");
        users::release_attempt(&mut c, &uid, 10, 10)
            .await
            .expect("release");
        drop(c);
        assert_eq!(
            counter(&d, "ada@example.com").await,
            (9, None),
            "given back, unlocked"
        );
        let s = to_password_step(&d, "ada@example.com").await;
        assert!(matches!(
            login::submit_password(&d, &s, "wrong-password-1", &client()).await,
            Err(LoginError::Password(CredentialError::Incorrect))
        ));
        assert_eq!(counter(&d, "ada@example.com").await, (10, Some(lock_until)));
        let m = last_message(&d).await;
        assert_eq!(m.subject, "Sign-in to your account is paused", "R5");
        clock.advance(d.settings.lockout_secs);
        to_code_step(&d, "ada@example.com").await;
        assert_eq!(counter(&d, "ada@example.com").await, (0, None));
    }
}

/// R4/R6, attack 4: an anonymous attacker fills every budget they can reach — "someone tried to
/// register" notices, recovery texts, wrong recovery codes — and the owner's sign-in codes still
/// go out and still count.
#[tokio::test]
async fn r6_notices_and_recovery_never_starve_sign_in_codes() {
    use gatehouse_core::flows::recovery::sms;
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        // An account with a verified phone (its first sign-in verified it).
        register_verified_with_phone(&d, "ada@example.com", "sms", "+1 555 010 0777").await;
        let s = to_setup_step(&d, "ada@example.com").await;
        login::verify_code(&d, &s, &last_code(&d).await, &client())
            .await
            .expect("phone verified");
        for _ in 0..8 {
            accounts::register(
                &d,
                &registration("ada@example.com", PW, "email", ""),
                &client(),
            )
            .await
            .expect("same answer");
        }
        let notices = {
            let mut c = d.store.conn().await.expect("conn");
            gatehouse_core::mechanisms::outbox::recent(&mut c, 50)
                .await
                .expect("recent")
                .iter()
                .filter(|q| q.message.subject == "Someone tried to register with your address")
                .count()
        };
        assert_eq!(notices, 1, "R6: capped and coalesced");
        for _ in 0..8 {
            let t = sms::start(&d, None, "ada@example.com", &client())
                .await
                .expect("recovery flow");
            let flow = session(&d, t.expose()).await;
            for _ in 0..5 {
                let _ = sms::verify(&d, &flow, "000000", &client()).await;
            }
            clock.advance(61);
        }
        // The owner signs in: the code goes out by text message and is accepted.
        let s = to_code_step(&d, "ada@example.com").await;
        let m = last_message(&d).await;
        assert_eq!(
            (m.channel, m.recipient.as_str()),
            (Channel::Sms, "+15550100777"),
            "R6: the sign-in code was sent"
        );
        let out = login::verify_code(&d, &s, &last_code(&d).await, &client())
            .await
            .expect("R6: the sign-in code still counts");
        assert!(matches!(out, CodeOutcome::SignedIn(_)));
    }
}

/// E1/F1, attack 6: in SMS recovery a real account whose code window is full answers a code
/// exactly like an address without an account, and a badly formed code gets the same format
/// message on both.
#[tokio::test]
async fn f1_sms_recovery_answers_the_same_at_the_cap_and_for_a_bad_format() {
    use gatehouse_core::flows::recovery::sms;
    use gatehouse_core::flows::recovery::RecoveryError;
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        register_verified_with_phone(&d, "ada@example.com", "sms", "+1 555 010 0888").await;
        let s = to_setup_step(&d, "ada@example.com").await;
        login::verify_code(&d, &s, &last_code(&d).await, &client())
            .await
            .expect("phone verified");
        let answer = |email: &'static str, code: &'static str| {
            let d = d.clone();
            async move {
                let t = sms::start(&d, None, email, &client()).await.expect("flow");
                let flow = session(&d, t.expose()).await;
                format!("{:?}", sms::verify(&d, &flow, code, &client()).await)
            }
        };
        // Burn the real account's hourly code window (20) across flows.
        for _ in 0..4 {
            for _ in 0..5 {
                answer("ada@example.com", "000000").await;
            }
            clock.advance(61);
        }
        let unknown = answer("nobody@example.com", "000000").await;
        let capped = answer("ada@example.com", "000000").await;
        assert_eq!(
            unknown,
            format!("{:?}", Err::<(), _>(RecoveryError::CodeRefused))
        );
        assert_eq!(capped, unknown, "F1: the cap reads like a wrong code");
        assert_eq!(
            answer("ada@example.com", "12ab").await,
            answer("nobody@example.com", "12ab").await
        );
        assert!(answer("nobody@example.com", "12ab")
            .await
            .contains("CodeFormat"));
    }
}

async fn rows(d: &gatehouse_core::mechanisms::service::Deps, table: &str) -> i64 {
    let mut c = d.store.conn().await.expect("conn");
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&mut *c)
        .await
        .expect("count")
}

/// F2/Y5, attack 7: a delivered message keeps no body (no live link or code at rest), and the
/// sweeper removes what expired — sessions, challenges, tokens, rate windows, stale pending
/// factors, old delivered messages — on both databases, leaving live rows alone.
#[tokio::test]
async fn y5_delivered_bodies_are_blanked_and_expired_rows_swept() {
    use gatehouse_core::mechanisms::outbox;
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        register_verified(&d, "grace@example.com", "totp").await;
        let s = to_code_step(&d, "grace@example.com").await;
        let code = last_code(&d).await;
        // The worker delivers every queued message.
        {
            let mut c = d.store.conn().await.expect("conn");
            while let Some(q) = outbox::claim_next(&mut c, d.now(), outbox::LEASE_SECS)
                .await
                .expect("claim")
            {
                outbox::mark_sent(&mut c, q.id, d.now())
                    .await
                    .expect("sent");
            }
            let left: Vec<(String, String)> =
                sqlx::query_as("SELECT body_text, body_html FROM outbox")
                    .fetch_all(&mut *c)
                    .await
                    .expect("bodies");
            assert_eq!(
                left.len(),
                2,
                "the verification mail and the code: the rows stay"
            );
            assert!(
                left.iter().all(|(t, h)| t.is_empty() && h.is_empty()),
                "{left:?}"
            );
        }
        let live = (rows(&d, "sessions").await, rows(&d, "challenges").await);
        let mut c = d.store.conn().await.expect("conn");
        let now = gatehouse_core::mechanisms::sweep::run(&mut c, &d.settings, d.now())
            .await
            .expect("sweep");
        drop(c);
        assert_eq!(now.total(), 0, "nothing is expired yet: {now:?}");
        assert_eq!(
            (rows(&d, "sessions").await, rows(&d, "challenges").await),
            live
        );
        // Eight days later: the flow, its code, the rate windows, the used verification link,
        // the pending authenticator and (after 30 days) the delivered messages are gone.
        clock.advance(8 * 86_400);
        let mut c = d.store.conn().await.expect("conn");
        let swept = gatehouse_core::mechanisms::sweep::run(&mut c, &d.settings, d.now())
            .await
            .expect("sweep");
        drop(c);
        assert_eq!(
            swept,
            gatehouse_core::mechanisms::sweep::Swept {
                sessions: 1,     // the sign-in flow
                challenges: 1,   // its emailed code
                email_tokens: 1, // the used verification link
                rate_limits: 5,  // register and login per IP, login per account, code sends,
                // verification mails per recipient (R4)
                mfa_factors: 1, // the pending authenticator, past its 7 days (M13)
                outbox: 0,      // delivered rows stay 30 days, bodies already blank
            }
        );
        for table in [
            "sessions",
            "challenges",
            "email_tokens",
            "rate_limits",
            "mfa_factors",
        ] {
            assert_eq!(rows(&d, table).await, 0, "{table}");
        }
        assert!(matches!(
            login::verify_code(&d, &s, &code, &client()).await,
            Err(LoginError::WrongStep | LoginError::Code(ChallengeError::Dead))
        ));
        clock.advance(30 * 86_400);
        let mut c = d.store.conn().await.expect("conn");
        let swept = gatehouse_core::mechanisms::sweep::run(&mut c, &d.settings, d.now())
            .await
            .expect("sweep");
        assert_eq!(swept.outbox, 2);
    }
}

/// Regression 3 (Zitadel CVE-2025-64103), M5: every service of a signed-in person refuses every
/// session that is not fully signed in — an email typed, a password passed, recovery codes on
/// screen, a recovery flow, a reset allowed — and nothing changes.
#[tokio::test]
async fn m5_regression_3_no_signed_in_service_accepts_an_unfinished_session() {
    use gatehouse_core::flows::recovery::{self, RecoveryError};
    use gatehouse_core::flows::security::{self, Choice, SecurityError};
    use gatehouse_core::mechanisms::sessions::{self, SessionState};
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let uid = user(&d, "ada@example.com").await.id;
        let states = [
            SessionState::Identified {
                email: "ada@example.com".into(),
            },
            SessionState::Partial {
                user_id: uid.clone(),
            },
            SessionState::ShowingCodes {
                user_id: uid.clone(),
            },
            SessionState::Recovering {
                email: "ada@example.com".into(),
                user_id: Some(uid.clone()),
            },
            SessionState::ResetAllowed {
                user_id: uid.clone(),
            },
        ];
        for state in states {
            let token = {
                let mut c = d.store.conn().await.expect("conn");
                sessions::create(&mut c, &state, &client(), &d.settings.sessions, d.now())
                    .await
                    .expect("session")
            };
            let s = session(&d, token.expose()).await;
            let wrong_step = |r: Result<(), SecurityError>, what: &str| {
                assert!(
                    matches!(r, Err(SecurityError::SignedOut)),
                    "{state:?} {what}: {r:?}"
                );
            };
            wrong_step(security::overview(&d, &s).await.map(|_| ()), "overview");
            wrong_step(
                security::reauth_password(&d, &s, PW, &client()).await,
                "reauth",
            );
            wrong_step(
                security::reauth_code(&d, &s, "123456", &client()).await,
                "reauth code",
            );
            wrong_step(
                security::resend(&d, &s, gatehouse_core::values::factors::Purpose::Reauth).await,
                "resend",
            );
            for choice in [
                Choice::Email,
                Choice::Authenticator,
                Choice::Sms {
                    phone: "+1 555 010 0999".into(),
                },
            ] {
                wrong_step(
                    security::change_method(&d, &s, &choice, &client())
                        .await
                        .map(|_| ()),
                    "change method",
                );
            }
            wrong_step(
                security::verify_phone(&d, &s, "123456", &client()).await,
                "phone",
            );
            wrong_step(
                security::regenerate_recovery_codes(&d, &s, &client()).await,
                "regenerate",
            );
            wrong_step(security::recovery_codes_saved(&d, &s).await, "codes saved");
            let recovery_refused = |r: Result<(), RecoveryError>, what: &str| {
                assert!(
                    matches!(r, Err(RecoveryError::SignedOut)),
                    "{state:?} {what}: {r:?}"
                );
            };
            recovery_refused(
                recovery::send_link_to_factor(&d, &s, &client())
                    .await
                    .map(|_| ()),
                "send link",
            );
            recovery_refused(
                recovery::change_password(
                    &d,
                    &s,
                    PW,
                    "a-new-password-9",
                    "a-new-password-9",
                    &client(),
                )
                .await,
                "change password",
            );
        }
        let mut c = d.store.conn().await.expect("conn");
        assert_eq!(
            mfa::pending(&mut c, &uid, d.now()).await.expect("pending"),
            None
        );
        drop(c);
        let u = user(&d, "ada@example.com").await;
        assert_eq!(u.mfa_method, MfaMethod::Email, "nothing changed");
        to_code_step(&d, "ada@example.com").await; // the password is the old one
    }
}

/// Regression 8 (authentik CVE-2022-23555 class), S5/M7/M13: a person who took over the reset
/// flow (the SMS code to the owner's phone passed) can set a password, but not bind a factor —
/// and the next sign-in still asks for the owner's active factor first.
#[tokio::test]
async fn s5_regression_8_the_reset_flow_cannot_bind_a_factor() {
    use gatehouse_core::flows::recovery::sms;
    use gatehouse_core::flows::security::{self, Choice, SecurityError};
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        register_verified_with_phone(&d, "ada@example.com", "sms", "+1 555 010 0444").await;
        let s = to_setup_step(&d, "ada@example.com").await;
        login::verify_code(&d, &s, &last_code(&d).await, &client())
            .await
            .expect("phone verified");
        let t = sms::start(&d, None, "ada@example.com", &client())
            .await
            .expect("recovery flow");
        let recovering = session(&d, t.expose()).await;
        let t = sms::verify(&d, &recovering, &last_code(&d).await, &client())
            .await
            .expect("code right");
        let allowed = session(&d, t.expose()).await;
        for choice in [
            Choice::Authenticator,
            Choice::Sms {
                phone: ATTACKER_PHONE.into(),
            },
        ] {
            assert!(matches!(
                security::change_method(&d, &allowed, &choice, &client()).await,
                Err(SecurityError::SignedOut)
            ));
        }
        assert!(matches!(
            security::reauth_password(&d, &allowed, PW, &client()).await,
            Err(SecurityError::SignedOut)
        ));
        sms::reset(
            &d,
            &allowed,
            "a-new-password-9",
            "a-new-password-9",
            &client(),
        )
        .await
        .expect("reset");
        let uid = user(&d, "ada@example.com").await.id;
        let mut c = d.store.conn().await.expect("conn");
        assert_eq!(
            mfa::pending(&mut c, &uid, d.now()).await.expect("pending"),
            None
        );
        drop(c);
        let s = to_password_step(&d, "ada@example.com").await;
        let login::PasswordOutcome::CodeSent(t) =
            login::submit_password(&d, &s, "a-new-password-9", &client())
                .await
                .expect("new password");
        let partial = session(&d, t.expose()).await;
        let step = login::code_step(&d, &partial)
            .await
            .expect("step")
            .expect("live");
        assert_eq!(step.kind, StepKind::SmsCode, "the owner's phone, as before");
        assert_eq!(user(&d, "ada@example.com").await.mfa_method, MfaMethod::Sms);
    }
}

/// E3: an unknown address costs the same argon2 work as a wrong password for a real account
/// (counted by the hashing pool, not timed).
#[tokio::test]
async fn e3_an_unknown_account_costs_the_same_argon2_work() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let mut cost = Vec::new();
        for email in ["ada@example.com", "nobody@example.com"] {
            let s = to_password_step(&d, email).await;
            let before = d.hasher.work();
            assert!(matches!(
                login::submit_password(&d, &s, "wrong-password-1", &client()).await,
                Err(LoginError::Password(CredentialError::Incorrect))
            ));
            let after = d.hasher.work();
            cost.push((
                after.verifications - before.verifications,
                after.block_passes - before.block_passes,
            ));
        }
        assert_eq!(cost[0], (1, 64), "one verification, m=64 blocks x t=1");
        assert_eq!(cost[1], cost[0], "E3: the same work for an unknown account");
    }
}

/// R4/R7 (issue 24, item 8): registering an unverified address again and again, from many
/// addresses, cannot fill its inbox: links waiting in the outbox are replaced by the newest
/// (one mail), and at most three verification mails reach one address in an hour.
#[tokio::test]
async fn r4_verification_mail_is_capped_per_recipient_and_coalesced() {
    use gatehouse_core::mechanisms::outbox;
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        let from = |i: usize| gatehouse_core::mechanisms::sessions::ClientInfo {
            ip: format!("198.51.100.{i}"),
            user_agent: "bomber".into(),
        };
        let register = |i: usize| {
            let d = d.clone();
            async move {
                accounts::register(
                    &d,
                    &registration("victim@example.com", PW, "email", ""),
                    &from(i),
                )
                .await
                .expect("registers");
            }
        };
        let queued = || {
            let d = d.clone();
            async move {
                let mut c = d.store.read().await.expect("conn");
                outbox::recent(&mut c, 1000)
                    .await
                    .expect("recent")
                    .into_iter()
                    .filter(|q| q.message.recipient == "victim@example.com")
                    .count()
            }
        };
        // A burst before the worker runs: one mail, carrying the newest link.
        for i in 0..5 {
            register(i).await;
        }
        assert_eq!(queued().await, 1, "coalesced");
        let newest = verification_token(&d, "victim@example.com").await;
        assert!(accounts::pending_verification(&d, &newest)
            .await
            .expect("read")
            .is_some());
        // Each one delivered before the next: three in the hour, then nothing more.
        let deliver = || {
            let d = d.clone();
            async move {
                let mut c = d.store.conn().await.expect("conn");
                while let Some(q) = outbox::claim_next(&mut c, d.now(), 60)
                    .await
                    .expect("claim")
                {
                    outbox::mark_sent(&mut c, q.id, d.now())
                        .await
                        .expect("sent");
                }
            }
        };
        for i in 5..15 {
            deliver().await;
            register(i).await;
        }
        deliver().await;
        assert_eq!(
            queued().await,
            3,
            "r4_verification_mail_is_capped_per_recipient"
        );
        // The next hour, a registration mails its link again.
        clock.advance(3601);
        register(20).await;
        assert_eq!(queued().await, 4);
    }
}
