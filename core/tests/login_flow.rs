//! Sign-in rules end to end through the domain services, on SQLite and (when configured) PostgreSQL.

mod common;

use common::*;
use gatehouse_core::flows::accounts::{self, Registration};
use gatehouse_core::flows::login::{self, LoginError, PasswordOutcome};
use gatehouse_core::mechanisms::challenges::ChallengeError;
use gatehouse_core::mechanisms::credentials::CredentialError;
use gatehouse_core::mechanisms::outbox;
use gatehouse_core::mechanisms::secret::ScriptedRandom;
use gatehouse_core::mechanisms::service::Settings;
use gatehouse_core::mechanisms::sessions::{self, ClientInfo, SessionState};
use gatehouse_core::store::testing;
use gatehouse_core::values::clock::FixedClock;
use std::sync::Arc;

#[tokio::test]
async fn full_sign_in_rotates_the_session_at_each_step() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let s1 = to_password_step(&d, "Ada@Example.com").await;
        assert_eq!(
            s1.state,
            SessionState::Identified {
                email: "ada@example.com".into()
            }
        );
        let PasswordOutcome::CodeSent(t2) = login::submit_password(&d, &s1, PW, &client())
            .await
            .expect("password");
        let s2 = session(&d, t2.expose()).await;
        assert_ne!(s1.id_hash, s2.id_hash, "S2: new id after the password");
        let code = last_code(&d).await;
        let t3 = login::verify_code(&d, &s2, &code, &client())
            .await
            .expect("code");
        let s3 = session(&d, t3.token().expose()).await;
        assert_ne!(s2.id_hash, s3.id_hash, "S2: new id after MFA");
        assert!(s3.authenticated_user().is_some());
        login::sign_out(&d, &s3, &client()).await.expect("sign out");
        let mut c = d.store.conn().await.expect("conn");
        assert!(
            sessions::lookup(&mut c, t3.token().expose(), &d.settings.sessions, d.now())
                .await
                .expect("lookup")
                .is_none(),
            "S4"
        );
    }
}

#[tokio::test]
async fn e2_unknown_email_and_wrong_password_get_the_same_answer() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let s = to_password_step(&d, "nobody@example.com").await;
        let unknown = login::submit_password(&d, &s, PW, &client())
            .await
            .expect_err("unknown")
            .to_string();
        let s = to_password_step(&d, "ada@example.com").await;
        let wrong = login::submit_password(&d, &s, "wrong-password", &client())
            .await
            .expect_err("wrong")
            .to_string();
        assert_eq!(unknown, wrong);
        assert!(
            wrong.starts_with("Email or password is incorrect."),
            "{wrong}"
        );
    }
}

/// Regression 1 (Keycloak CVE-2024-4629): parallel wrong passwords are counted exactly — on
/// worker threads released together, so on PostgreSQL the reservations truly race.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r1_regression_1_parallel_wrong_passwords_never_exceed_the_lockout_limit() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let mut flows = Vec::new();
        for _ in 0..50 {
            flows.push(to_password_step(&d, "ada@example.com").await);
        }
        let mut tasks = Vec::new();
        let start = Arc::new(tokio::sync::Barrier::new(flows.len()));
        for s in flows {
            let d = d.clone();
            let start = start.clone();
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                let ip = ClientInfo {
                    ip: format!("198.51.100.{}", rand_octet(&s.id_hash)),
                    user_agent: String::new(),
                };
                login::submit_password(&d, &s, "wrong-password", &ip).await
            }));
        }
        for t in tasks {
            assert!(matches!(
                t.await.expect("join"),
                Err(LoginError::Password(CredentialError::Incorrect))
            ));
        }
        let mut c = d.store.conn().await.expect("conn");
        let failed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM security_events WHERE kind = 'login_failed'")
                .fetch_one(&mut *c)
                .await
                .expect("count");
        assert_eq!(
            failed, d.settings.lockout_threshold,
            "exactly the limit of real checks"
        );
        let locks: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM security_events WHERE kind = 'account_locked'",
        )
        .fetch_one(&mut *c)
        .await
        .expect("count");
        assert_eq!(locks, 1, "R5: one lock, one email");
        drop(c);
        // Even the right password is refused while locked …
        let s = to_password_step(&d, "ada@example.com").await;
        assert!(matches!(
            login::submit_password(&d, &s, PW, &client()).await,
            Err(LoginError::Password(CredentialError::Incorrect))
        ));
        // … and the lock ends by itself after 15 minutes.
        clock.advance(15 * 60);
        let s = to_password_step(&d, "ada@example.com").await;
        assert!(login::submit_password(&d, &s, PW, &client()).await.is_ok());
    }
}

fn rand_octet(s: &str) -> u8 {
    s.bytes().fold(0u8, |a, b| a.wrapping_add(b))
}

/// Regression 2 (Zitadel CVE-2024-32868): a challenge dies after five wrong codes.
#[tokio::test]
async fn r3_regression_2_five_wrong_codes_kill_the_challenge() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let random = Arc::new(ScriptedRandom::default());
        let d = deps_with(store, &clock, random.clone());
        verified_user(&d, "ada@example.com").await;
        // The injected randomness names the code, so the test knows it without the mail.
        random.next_code("424242");
        let s = to_code_step(&d, "ada@example.com").await;
        let (good, bad) = ("424242", "424243");
        assert_eq!(
            last_code(&d).await,
            good,
            "the scripted code was the one sent"
        );
        for left in (1..5).rev() {
            match login::verify_code(&d, &s, bad, &client()).await {
                Err(LoginError::Code(ChallengeError::WrongCode { remaining })) => {
                    assert_eq!(remaining, left)
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            login::verify_code(&d, &s, bad, &client()).await,
            Err(LoginError::Code(ChallengeError::Dead))
        ));
        assert!(
            matches!(
                login::verify_code(&d, &s, good, &client()).await,
                Err(LoginError::Code(ChallengeError::Dead))
            ),
            "even the right code"
        );
        assert!(
            matches!(
                login::resend_code(&d, &s).await,
                Err(LoginError::Code(ChallengeError::Dead))
            ),
            "no resend revives it"
        );
    }
}

#[tokio::test]
async fn m2_code_expires_after_ten_minutes_and_is_single_use() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let random = Arc::new(ScriptedRandom::default());
        let d = deps_with(store, &clock, random.clone());
        verified_user(&d, "ada@example.com").await;
        random.next_code("135790");
        let s = to_code_step(&d, "ada@example.com").await;
        clock.advance(10 * 60);
        assert!(matches!(
            login::verify_code(&d, &s, "135790", &client()).await,
            Err(LoginError::Code(ChallengeError::Dead))
        ));
        random.next_code("246801");
        let s = to_code_step(&d, "ada@example.com").await;
        let code = "246801".to_string();
        clock.advance(10 * 60 - 1);
        let t = login::verify_code(&d, &s, &code, &client())
            .await
            .expect("just in time");
        assert!(
            matches!(
                login::verify_code(&d, &s, &code, &client()).await,
                Err(LoginError::Code(ChallengeError::Dead))
            ),
            "old session id is gone"
        );
        let s_auth = session(&d, t.token().expose()).await;
        assert!(matches!(
            login::verify_code(&d, &s_auth, &code, &client()).await,
            Err(LoginError::WrongStep)
        ));
    }
}

/// Regression 3 (Zitadel CVE-2025-64103): a partial session is not a signed-in session.
#[tokio::test]
async fn m5_regression_3_partial_session_cannot_act_as_signed_in() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let s = to_code_step(&d, "ada@example.com").await;
        assert!(matches!(s.state, SessionState::Partial { .. }));
        assert_eq!(s.authenticated_user(), None);
        // A code sent to another login flow cannot finish this one.
        let other = to_code_step(&d, "ada@example.com").await;
        let other_code = last_code(&d).await;
        let r = login::verify_code(&d, &s, &other_code, &client()).await;
        assert!(
            r.is_err() || s.id_hash == other.id_hash,
            "M2: codes are bound to their flow"
        );
    }
}

#[tokio::test]
async fn r4_resend_waits_for_the_cooldown_then_sends_a_new_code() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let s = to_code_step(&d, "ada@example.com").await;
        let first = last_code(&d).await;
        clock.advance(30);
        assert!(matches!(
            login::resend_code(&d, &s).await,
            Err(LoginError::Code(ChallengeError::Limited {
                retry_after: 30
            }))
        ));
        clock.advance(30);
        login::resend_code(&d, &s).await.expect("resend after 60 s");
        let second = last_code(&d).await;
        if first != second {
            assert!(
                login::verify_code(&d, &s, &first, &client()).await.is_err(),
                "the old code is replaced"
            );
        }
        assert!(login::verify_code(&d, &s, &second, &client()).await.is_ok());
    }
}

#[tokio::test]
async fn e1_registering_an_existing_email_answers_the_same_and_mails_the_owner() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let d = deps(store, &clock);
        let r = Registration {
            email: "grace@example.com".into(),
            first_name: "Grace".into(),
            last_name: "Hopper".into(),
            password: PW.into(),
            confirm: PW.into(),
            mfa_method: "email".into(),
            phone: String::new(),
            invitation: String::new(),
        };
        accounts::register(&d, &r, &client()).await.expect("first");
        let verify = last_message(&d).await.text;
        assert!(
            verify.contains("https://id.example.com/verify-email?token="),
            "F3: links from public_url"
        );
        let token = verify
            .split("token=")
            .nth(1)
            .expect("token")
            .split_whitespace()
            .next()
            .expect("token")
            .to_string();
        accounts::verify_email(&d, &token, &client())
            .await
            .expect("verify");
        assert!(
            matches!(
                accounts::verify_email(&d, &token, &client()).await,
                Err(accounts::VerifyError::Invalid)
            ),
            "single use"
        );
        // R6: three more attempts on the verified address answer the same; the owner gets one
        // notice, the others are coalesced into it.
        for _ in 0..3 {
            accounts::register(&d, &r, &client())
                .await
                .expect("answers the same");
        }
        let mut c = d.store.conn().await.expect("conn");
        let subjects: Vec<String> = outbox::recent(&mut c, 5)
            .await
            .expect("recent")
            .into_iter()
            .map(|q| q.message.subject)
            .collect();
        assert_eq!(
            subjects,
            vec![
                "Someone tried to register with your address",
                "Verify your email address"
            ]
        );
    }
}

/// E1: "register X, then sign in with the password just chosen" must not tell a new address
/// (unverified) from a taken one: both answer "incorrect". The owner of the unverified account
/// gets a fresh verification link instead of a code.
#[tokio::test]
async fn e1_an_unverified_account_answers_like_a_wrong_password_and_gets_a_new_link() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "taken@example.com").await;
        for email in ["linus@example.com", "taken@example.com"] {
            let r = Registration {
                email: email.into(),
                first_name: "Linus".into(),
                last_name: "Pauling".into(),
                password: "chosen-by-the-prober-9".into(),
                confirm: "chosen-by-the-prober-9".into(),
                mfa_method: "email".into(),
                phone: String::new(),
                invitation: String::new(),
            };
            accounts::register(&d, &r, &client())
                .await
                .expect("register");
        }
        let mut answers = Vec::new();
        for email in ["linus@example.com", "taken@example.com"] {
            let s = to_password_step(&d, email).await;
            let answer = login::submit_password(&d, &s, "chosen-by-the-prober-9", &client()).await;
            assert!(
                matches!(
                    answer,
                    Err(LoginError::Password(CredentialError::Incorrect))
                ),
                "{email}: {answer:?}"
            );
            answers.push(format!("{answer:?}"));
        }
        assert_eq!(answers[0], answers[1], "E1: the same answer");
        // The owner of the new address gets a fresh link — in the one verification mail still
        // waiting in the outbox (R4: coalesced, not a second mail).
        let mut c = d.store.read().await.expect("conn");
        let to_linus: Vec<_> = outbox::recent(&mut c, 100)
            .await
            .expect("recent")
            .into_iter()
            .filter(|q| q.message.recipient == "linus@example.com")
            .collect();
        drop(c);
        assert_eq!(to_linus.len(), 1, "one mail");
        assert_eq!(to_linus[0].message.subject, "Verify your email address");
        let token = to_linus[0]
            .message
            .text
            .split("token=")
            .nth(1)
            .expect("link");
        let token = token.split_whitespace().next().expect("token");
        assert!(
            accounts::pending_verification(&d, token)
                .await
                .expect("read")
                .is_some(),
            "the link in it is the fresh one"
        );
    }
}

#[tokio::test]
async fn y3_sqlite_and_postgres_schemas_match() {
    let sqlite = testing::sqlite()
        .await
        .schema_columns()
        .await
        .expect("sqlite schema");
    assert!(sqlite.contains(&("users".to_string(), "password_hash".to_string())));
    let pg = testing::postgres()
        .await
        .expect("Y3 compares the two schemas: GATEHOUSE_TEST_POSTGRES must be set");
    assert_eq!(sqlite, pg.schema_columns().await.expect("pg schema"));
}

#[tokio::test]
async fn r2_password_step_is_rate_limited_per_ip_from_settings() {
    let store = testing::sqlite().await;
    let clock = FixedClock::at(1_000_040);
    let mut d = deps(store, &clock);
    d.settings = Arc::new(Settings {
        login_per_ip_per_minute: 3,
        ..(*d.settings).clone()
    });
    verified_user(&d, "ada@example.com").await;
    for _ in 0..3 {
        let s = to_password_step(&d, "ada@example.com").await;
        assert!(matches!(
            login::submit_password(&d, &s, "wrong-password", &client()).await,
            Err(LoginError::Password(CredentialError::Incorrect))
        ));
    }
    let s = to_password_step(&d, "ada@example.com").await;
    match login::submit_password(&d, &s, PW, &client()).await {
        Err(LoginError::Password(CredentialError::Limited { retry_after })) => {
            assert_eq!(retry_after, 40)
        }
        other => panic!("expected the per-IP limit, got {other:?}"),
    }
    let other_ip = ClientInfo {
        ip: "203.0.113.9".into(),
        user_agent: String::new(),
    };
    assert!(
        login::submit_password(&d, &s, PW, &other_ip).await.is_ok(),
        "another address is not limited"
    );
}

/// M4/M6/M3 through the sign-in flow: set up at the first sign-in, recovery codes shown once,
/// then codes from the app, no replay, and a recovery code as the way out.
#[tokio::test]
async fn authenticator_is_set_up_at_first_sign_in_then_asked_for_with_replay_refused() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        register_verified(&d, "grace@example.com", "totp").await;
        let s = to_setup_step(&d, "grace@example.com").await;
        let step = login::code_step(&d, &s).await.expect("step").expect("live");
        assert_eq!(step.kind, login::StepKind::SetUpAuthenticator);
        assert!(step.otpauth_url.starts_with("otpauth://totp/"));
        let app = totp_from_key(&step.setup_key);
        let code = app.code_at(d.now()).expect("code");
        let outcome = login::verify_code(&d, &s, &code, &client())
            .await
            .expect("enrolled");
        let login::CodeOutcome::ShowRecoveryCodes(t) = outcome else {
            panic!("codes first")
        };
        let showing = session(&d, t.expose()).await;
        assert!(
            showing.authenticated_user().is_none(),
            "M5: not signed in while codes show"
        );
        let codes = login::recovery_codes_to_show(&d, &showing)
            .await
            .expect("codes");
        assert_eq!(codes.len(), 10);
        let t = login::acknowledge_recovery_codes(&d, &showing, &client())
            .await
            .expect("ack");
        let signed = session(&d, t.expose()).await;
        assert!(signed.authenticated_user().is_some());
        assert!(
            login::recovery_codes_to_show(&d, &signed)
                .await
                .expect("none")
                .is_empty(),
            "shown once"
        );

        // Next sign-in, same 30-second step: the code already used is refused (M3).
        let s = to_code_step(&d, "grace@example.com").await;
        assert_eq!(
            login::code_step(&d, &s)
                .await
                .expect("step")
                .expect("live")
                .kind,
            login::StepKind::Authenticator
        );
        assert!(matches!(
            login::verify_code(&d, &s, &code, &client()).await,
            Err(LoginError::Code(ChallengeError::Replayed))
        ));
        clock.advance(30);
        let next = app.code_at(d.now()).expect("code");
        assert!(matches!(
            login::verify_code(&d, &s, &next, &client()).await,
            Ok(login::CodeOutcome::SignedIn(_))
        ));

        // A recovery code works once (M6).
        let s = to_code_step(&d, "grace@example.com").await;
        assert!(matches!(
            login::use_recovery_code(&d, &s, &codes[0], &client()).await,
            Ok(login::CodeOutcome::SignedIn(_))
        ));
        let s = to_code_step(&d, "grace@example.com").await;
        assert!(matches!(
            login::use_recovery_code(&d, &s, &codes[0], &client()).await,
            Err(LoginError::WrongRecoveryCode { remaining: 4 })
        ));
    }
}

/// Regression 2 (Zitadel CVE-2024-32868) for enrolment: the setup step has the same five tries.
#[tokio::test]
async fn r3_regression_2_enrolment_codes_are_limited_too() {
    let store = testing::sqlite().await;
    let clock = FixedClock::at(1_700_000_000);
    let d = deps(store, &clock);
    register_verified(&d, "limit@example.com", "totp").await;
    let s = to_setup_step(&d, "limit@example.com").await;
    let step = login::code_step(&d, &s).await.expect("step").expect("live");
    let right = totp_from_key(&step.setup_key)
        .code_at(d.now())
        .expect("code");
    let wrong = wrong_code(&right);
    for _ in 0..4 {
        assert!(matches!(
            login::verify_code(&d, &s, wrong, &client()).await,
            Err(LoginError::Code(ChallengeError::WrongCode { .. }))
        ));
    }
    assert!(matches!(
        login::verify_code(&d, &s, wrong, &client()).await,
        Err(LoginError::Code(ChallengeError::Dead))
    ));
    assert!(matches!(
        login::verify_code(&d, &s, &right, &client()).await,
        Err(LoginError::Code(ChallengeError::Dead))
    ));
}

/// O6 (issue 24, item 10): a sign-in on a browser that was already signed in — as the same
/// person or someone else — gets a new `sid`; the earlier sign-in's id is never handed on.
#[tokio::test]
async fn o6_a_new_sign_in_on_a_signed_in_browser_gets_a_new_sid() {
    for store in testing::all().await {
        let d = deps(store, &FixedClock::at(1000));
        verified_user(&d, "ada@example.com").await;
        verified_user(&d, "bob@example.com").await;
        let first = signed_in(&d, "ada@example.com").await;
        let s = session(&d, &first).await;
        let sid = |id_hash: String| {
            let d = d.clone();
            async move {
                let mut c = d.store.conn().await.expect("conn");
                sessions::sso(&mut c, &id_hash)
                    .await
                    .expect("sso")
                    .expect("signed in")
                    .0
            }
        };
        let first_sid = sid(s.id_hash.clone()).await;
        // An application holds a token of Ada's sign-in.
        let mut c = d.store.conn().await.expect("conn");
        let spec = gatehouse_core::mechanisms::oidc_clients::ClientSpec {
            name: "Wiki".into(),
            redirect_uris: vec!["https://wiki.example.com/cb".into()],
            public: true,
            first_party: true,
            logout_uri: None,
            post_logout_uris: Vec::new(),
            alg: gatehouse_core::values::oidc::Alg::Rs256,
        };
        let (wiki, _) = gatehouse_core::mechanisms::oidc_clients::create(&mut c, &spec, 1000)
            .await
            .expect("client");
        drop(c);
        let grant = gatehouse_core::mechanisms::oidc_grants::Grant {
            family: "f1".into(),
            client_id: wiki.id.clone(),
            user_id: s.authenticated_user().expect("ada").to_string(),
            sid: first_sid.clone(),
            scope: gatehouse_core::values::oidc::Scopes::default(),
            auth_time: 1000,
            amr: "pwd otp mfa".into(),
        };
        let mut c = d.store.conn().await.expect("conn");
        gatehouse_core::mechanisms::oidc_grants::store_token(
            &mut c,
            gatehouse_core::mechanisms::oidc_grants::TokenKind::Access,
            "ada-token",
            &grant,
            600,
            1000,
        )
        .await
        .expect("token");
        drop(c);
        // The same browser (its session cookie) signs in again, as Bob.
        let t = login::submit_email(&d, Some(&s), "bob@example.com", None, &client())
            .await
            .expect("email step");
        let s = session(&d, t.expose()).await;
        let PasswordOutcome::CodeSent(t) = login::submit_password(&d, &s, PW, &client())
            .await
            .expect("password ok");
        let s = session(&d, t.expose()).await;
        let code = last_code(&d).await;
        let t = login::verify_code(&d, &s, &code, &client())
            .await
            .expect("signed in");
        let second = session(&d, t.token().expose()).await;
        assert_ne!(sid(second.id_hash).await, first_sid);
        // Ada's sign-in ended when Bob's began: her application's token with it.
        let mut c = d.store.conn().await.expect("conn");
        assert_eq!(
            gatehouse_core::mechanisms::oidc_grants::live(&mut c, "ada-token", 1001)
                .await
                .expect("live"),
            None
        );
    }
}
