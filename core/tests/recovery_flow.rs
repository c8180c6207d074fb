//! Password recovery and change through the domain services, on SQLite and (when configured)
//! PostgreSQL, with a fixed clock: link lifetime and single use (F2, regressions 4 and 9), the
//! same answer for every address (F1), links from the public URL (F3, regression 6), a reset that
//! signs nobody in and keeps MFA (F5, regression 7), and a change that needs the current password
//! and ends the other sessions (P7/S6, regression 10).

mod common;

use common::*;
use gatehouse_core::flows::login::{self, PasswordOutcome};
use gatehouse_core::flows::recovery::{self, RecoveryError};
use gatehouse_core::flows::security;
use gatehouse_core::mechanisms::email_links::RESET_TTL_SECS;
use gatehouse_core::mechanisms::outbox;
use gatehouse_core::mechanisms::service::Deps;
use gatehouse_core::mechanisms::sessions;
use gatehouse_core::store::testing;
use gatehouse_core::values::clock::FixedClock;

const NEW_PW: &str = "harbour-lamp-58";

async fn outbox_len(d: &Deps) -> usize {
    let mut c = d.store.conn().await.expect("conn");
    outbox::recent(&mut c, 1000).await.expect("recent").len()
}

/// Asks for a link and returns its token.
async fn reset_token(d: &Deps, email: &str) -> String {
    recovery::request_reset(d, email, &client())
        .await
        .expect("answered");
    let m = last_message(d).await;
    assert_eq!(m.subject, "Reset your password");
    m.text
        .split("token=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .expect("token in mail")
        .to_string()
}

async fn live(d: &Deps, token: &str) -> bool {
    let mut c = d.store.conn().await.expect("conn");
    sessions::lookup(&mut c, token, &d.settings.sessions, d.now())
        .await
        .expect("lookup")
        .is_some()
}

#[tokio::test]
async fn f1_known_and_unknown_addresses_get_the_same_answer_and_only_the_owner_gets_mail() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let before = outbox_len(&d).await;
        let unknown = recovery::request_reset(&d, "nobody@example.com", &client()).await;
        assert!(unknown.is_ok());
        assert_eq!(outbox_len(&d).await, before, "nothing sent for nobody");
        let known = recovery::request_reset(&d, "ada@example.com", &client()).await;
        assert!(known.is_ok());
        assert!(outbox_len(&d).await > before);
        assert_eq!(last_message(&d).await.subject, "Reset your password");
    }
}

#[tokio::test]
async fn f7_an_unverified_address_gets_no_reset_link() {
    use gatehouse_core::flows::accounts::{self, Registration};
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        let r = Registration {
            email: "new@example.com".into(),
            first_name: "New".into(),
            last_name: "Person".into(),
            password: PW.into(),
            confirm: PW.into(),
            mfa_method: "email".into(),
            phone: String::new(),
            invitation: String::new(),
        };
        accounts::register(&d, &r, &client())
            .await
            .expect("registered");
        let before = outbox_len(&d).await;
        recovery::request_reset(&d, "new@example.com", &client())
            .await
            .expect("the same answer");
        assert_eq!(
            outbox_len(&d).await,
            before,
            "no link to an unverified address"
        );
    }
}

#[tokio::test]
async fn f3_regression_6_the_link_is_built_from_the_public_url() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        reset_token(&d, "ada@example.com").await;
        let m = last_message(&d).await;
        assert!(
            m.text
                .contains("Reset My Password: https://id.example.com/reset-password/open?token="),
            "{}",
            m.text
        );
        assert!(m.html.contains(">Reset My Password</a>"));
    }
}

#[tokio::test]
async fn f2_a_link_works_until_29_59_and_not_at_30_01() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let late = reset_token(&d, "ada@example.com").await;
        clock.advance(RESET_TTL_SECS + 1);
        assert!(!recovery::link_is_live(&d, &late).await.expect("check"));
        assert!(matches!(
            recovery::reset_password(&d, &late, NEW_PW, NEW_PW, &client()).await,
            Err(RecoveryError::LinkInvalid)
        ));
        let token = reset_token(&d, "ada@example.com").await;
        clock.advance(RESET_TTL_SECS - 1);
        assert!(recovery::link_is_live(&d, &token).await.expect("check"));
        recovery::reset_password(&d, &token, NEW_PW, NEW_PW, &client())
            .await
            .expect("29:59 still works");
    }
}

#[tokio::test]
async fn f2_regression_4_a_used_link_cannot_be_replayed() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let token = reset_token(&d, "ada@example.com").await;
        recovery::reset_password(&d, &token, NEW_PW, NEW_PW, &client())
            .await
            .expect("first use");
        assert!(matches!(
            recovery::reset_password(&d, &token, "other-pass-91", "other-pass-91", &client()).await,
            Err(RecoveryError::LinkInvalid)
        ));
    }
}

#[tokio::test]
async fn f2_regression_9_a_newer_link_or_a_password_change_kills_older_links() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let older = reset_token(&d, "ada@example.com").await;
        let newer = reset_token(&d, "ada@example.com").await;
        assert!(!recovery::link_is_live(&d, &older).await.expect("check"));
        assert!(recovery::link_is_live(&d, &newer).await.expect("check"));
        let s = session(&d, &signed_in(&d, "ada@example.com").await).await;
        recovery::change_password(&d, &s, PW, NEW_PW, NEW_PW, &client())
            .await
            .expect("changed");
        assert!(
            !recovery::link_is_live(&d, &newer).await.expect("check"),
            "a password change kills open links"
        );
    }
}

#[tokio::test]
async fn f5_regression_7_a_reset_signs_nobody_in_ends_every_session_and_keeps_mfa() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        // An authenticator user: a reset that dropped the authenticator would show here.
        let app = authenticator_user(&d, "grace@example.com").await;
        clock.advance(30);
        let s = to_code_step(&d, "grace@example.com").await;
        let t = login::verify_code(&d, &s, &app.code_at(d.now()).expect("code"), &client())
            .await
            .expect("signed in with the app");
        let before_reset = t.token().expose().to_string();
        let token = reset_token(&d, "grace@example.com").await;
        let weak =
            recovery::reset_password(&d, &token, "grace-hopper-1", "grace-hopper-1", &client())
                .await;
        assert!(
            matches!(&weak, Err(RecoveryError::Invalid(f)) if f.password.is_some()),
            "P4: the name is refused: {weak:?}"
        );
        recovery::reset_password(&d, &token, NEW_PW, NEW_PW, &client())
            .await
            .expect("reset");
        assert!(!live(&d, &before_reset).await, "F5: every session ended");
        assert_eq!(last_message(&d).await.subject, "Your password was changed");
        // The next sign-in with the new password still asks for the authenticator (M5, F5).
        let s = to_password_step(&d, "grace@example.com").await;
        let PasswordOutcome::CodeSent(t) = login::submit_password(&d, &s, NEW_PW, &client())
            .await
            .expect("new password works");
        let partial = session(&d, t.expose()).await;
        assert!(partial.authenticated_user().is_none(), "MFA still asked");
        let step = login::code_step(&d, &partial)
            .await
            .expect("step")
            .expect("live");
        assert_eq!(
            step.kind,
            login::StepKind::Authenticator,
            "the same factor as before"
        );
        clock.advance(30);
        let out = login::verify_code(
            &d,
            &partial,
            &app.code_at(d.now()).expect("code"),
            &client(),
        )
        .await
        .expect("the same app still works");
        assert!(matches!(out, login::CodeOutcome::SignedIn(_)));
    }
}

#[tokio::test]
async fn p7_s6_regression_10_a_change_needs_the_current_password_and_ends_other_sessions() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let other = signed_in(&d, "ada@example.com").await;
        let mine = signed_in(&d, "ada@example.com").await;
        let s = session(&d, &mine).await;
        let wrong =
            recovery::change_password(&d, &s, "not-my-password", NEW_PW, "typo", &client()).await;
        match wrong {
            Err(RecoveryError::Invalid(f)) => {
                assert!(f.current.is_some(), "P7: current password checked");
                assert!(f.confirm.is_some(), "all problems at once");
            }
            other => panic!("expected field errors, got {other:?}"),
        }
        assert!(live(&d, &other).await, "nothing changed");
        recovery::change_password(&d, &s, PW, NEW_PW, NEW_PW, &client())
            .await
            .expect("changed");
        assert!(!live(&d, &other).await, "S6: the other session ended");
        assert!(live(&d, &mine).await, "this one stays");
        assert_eq!(last_message(&d).await.subject, "Your password was changed");
    }
}

#[tokio::test]
async fn f8_the_security_tab_sends_the_link_through_the_second_factor_channel() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        // Email user: by email, and the tab shows when it was sent and when it expires.
        verified_user(&d, "ada@example.com").await;
        let s = session(&d, &signed_in(&d, "ada@example.com").await).await;
        let sent = recovery::send_link_to_factor(&d, &s, &client())
            .await
            .expect("sent");
        assert!(!sent.via_sms && !sent.authenticator);
        assert_eq!(sent.expires_at, d.now() + RESET_TTL_SECS);
        assert_eq!(last_message(&d).await.recipient, "ada@example.com");
        let tab = security::overview(&d, &s).await.expect("tab");
        assert_eq!(tab.reset_link, Some((d.now(), d.now() + RESET_TTL_SECS)));
        clock.advance(RESET_TTL_SECS);
        let tab = security::overview(&d, &s).await.expect("tab");
        assert_eq!(tab.reset_link, None);

        // SMS user: a short link by text message to the verified number.
        register_verified_with_phone(&d, "grace@example.com", "sms", "+1 555 010 0200").await;
        let first = to_setup_step(&d, "grace@example.com").await;
        let code = sms_code(&d).await;
        let t = login::verify_code(&d, &first, &code, &client())
            .await
            .expect("signed in by SMS");
        let s = session(&d, t.token().expose()).await;
        let sent = recovery::send_link_to_factor(&d, &s, &client())
            .await
            .expect("sent");
        assert!(sent.via_sms);
        assert_eq!(sent.masked, "+•••••••0200");
        let m = last_message(&d).await;
        assert_eq!(m.channel, outbox::Channel::Sms);
        let token = m
            .text
            .split("token=")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .expect("token");
        assert_eq!(token.len(), 32, "128 bits, short enough for SMS (F2)");
        assert!(recovery::link_is_live(&d, token).await.expect("live"));
    }
}

#[tokio::test]
async fn f6_a_code_to_the_verified_phone_leads_to_a_new_password_and_ends_every_session() {
    use gatehouse_core::flows::recovery::sms;
    use gatehouse_core::mechanisms::sessions::SessionState;
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        let before = sms_user(&d, "grace@example.com", "+1 555 010 0200").await;
        let t = sms::start(&d, None, "grace@example.com", &client())
            .await
            .expect("started");
        let flow = session(&d, t.expose()).await;
        assert!(flow.authenticated_user().is_none(), "M5: not signed in");
        let right = sms_code(&d).await;
        let wrong = wrong_code(&right);
        assert!(matches!(
            sms::verify(&d, &flow, wrong, &client()).await,
            Err(RecoveryError::CodeRefused)
        ));
        let t2 = sms::verify(&d, &flow, &right, &client())
            .await
            .expect("right code");
        let allowed = session(&d, t2.expose()).await;
        assert!(matches!(allowed.state, SessionState::ResetAllowed { .. }));
        assert!(
            allowed.authenticated_user().is_none(),
            "F5: never signed in"
        );
        sms::reset(&d, &allowed, NEW_PW, NEW_PW, &client())
            .await
            .expect("reset");
        assert!(!live(&d, &before).await, "F5: every session ended");
        assert!(!live(&d, t2.expose()).await, "the flow too");
        assert_eq!(last_message(&d).await.subject, "Your password was changed");
    }
}

#[tokio::test]
async fn f6_the_code_expires_after_ten_minutes() {
    use gatehouse_core::flows::recovery::sms;
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        sms_user(&d, "grace@example.com", "+1 555 010 0200").await;
        let t = sms::start(&d, None, "grace@example.com", &client())
            .await
            .expect("started");
        let code = sms_code(&d).await;
        clock.advance(10 * 60 + 1);
        let flow = session(&d, t.expose()).await;
        assert!(matches!(
            sms::verify(&d, &flow, &code, &client()).await,
            Err(RecoveryError::CodeRefused)
        ));
    }
}

#[tokio::test]
async fn f1_an_sms_flow_for_an_unknown_address_or_one_without_a_phone_looks_the_same() {
    use gatehouse_core::flows::recovery::sms;
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await; // email codes, no phone
        let before = outbox_len(&d).await;
        for email in ["nobody@example.com", "ada@example.com"] {
            let t = sms::start(&d, None, email, &client())
                .await
                .expect("the same answer");
            let flow = session(&d, t.expose()).await;
            assert!(matches!(
                sms::verify(&d, &flow, "123456", &client()).await,
                Err(RecoveryError::CodeRefused)
            ));
        }
        assert_eq!(outbox_len(&d).await, before, "no text message to send");
    }
}

#[tokio::test]
async fn a_reset_asked_from_a_new_place_is_told_to_the_owner() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        signed_in(&d, "ada@example.com").await; // the account is used from client()'s address
        let subjects = |d: &Deps| {
            let d = d.clone();
            async move {
                let mut c = d.store.conn().await.expect("conn");
                outbox::recent(&mut c, 100)
                    .await
                    .expect("recent")
                    .into_iter()
                    .map(|q| q.message.subject)
                    .filter(|s| s.contains("new place"))
                    .count()
            }
        };
        recovery::request_reset(&d, "ada@example.com", &client())
            .await
            .expect("known place");
        assert_eq!(
            subjects(&d).await,
            0,
            "the address the account was used from"
        );
        let elsewhere = gatehouse_core::mechanisms::sessions::ClientInfo {
            ip: "198.51.100.7".into(),
            user_agent: "elsewhere".into(),
        };
        recovery::request_reset(&d, "ada@example.com", &elsewhere)
            .await
            .expect("new place");
        assert_eq!(subjects(&d).await, 1, "told once");
        recovery::request_reset(&d, "ada@example.com", &elsewhere)
            .await
            .expect("now known");
        assert_eq!(subjects(&d).await, 1, "not again from the same place");
    }
}
