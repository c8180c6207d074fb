//! Security tab rules through the domain services, on SQLite and (when configured) PostgreSQL:
//! re-authentication (S5), method changes told on the old channel (M7), text messages only to a
//! verified, allowed number (M9, R4), the authenticator at the next sign-in (M4), new recovery
//! codes (M6), and the per-challenge limits on every code here (R3).

mod common;

use common::*;
use gatehouse_core::flows::login::{self, StepKind};
use gatehouse_core::flows::security::{self, Changed, Choice, SecurityError};
use gatehouse_core::mechanisms::challenges::ChallengeError;
use gatehouse_core::mechanisms::credentials::CredentialError;
use gatehouse_core::mechanisms::outbox::Channel;
use gatehouse_core::mechanisms::reauth::{Reauth, WINDOW_SECS as REAUTH_WINDOW_SECS};
use gatehouse_core::mechanisms::service::Deps;
use gatehouse_core::mechanisms::users::{self, MfaMethod};
use gatehouse_core::store::testing;
use gatehouse_core::values::clock::FixedClock;
use gatehouse_core::values::phone::PhoneError;

const PHONE: &str = "+1 555 010 0200";

/// Signs in with emailed codes; returns the session cookie (re-read it with `session` to see
/// changes such as a re-authentication).
async fn method(d: &Deps, email: &str) -> MfaMethod {
    let mut c = d.store.conn().await.expect("conn");
    let e = gatehouse_core::values::email::Email::parse(email).expect("email");
    users::by_email(&mut c, &e)
        .await
        .expect("load")
        .expect("user")
        .mfa_method
}

#[tokio::test]
async fn s5_regression_8_a_stale_session_cannot_change_the_method_without_reauthentication() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let tok = signed_in(&d, "ada@example.com").await;
        let s = session(&d, &tok).await;
        assert!(
            matches!(
                security::overview(&d, &s).await.expect("overview").reauth,
                Reauth::Fresh { .. }
            ),
            "a sign-in counts as authentication"
        );
        clock.advance(REAUTH_WINDOW_SECS + 1);
        let s = session(&d, &tok).await;
        assert!(matches!(
            security::change_method(&d, &s, &Choice::Authenticator, &client()).await,
            Err(SecurityError::ReauthRequired)
        ));
        assert!(matches!(
            security::reauth_password(&d, &s, "wrong-password-1", &client()).await,
            Err(SecurityError::Password(CredentialError::Incorrect))
        ));
        security::reauth_password(&d, &s, PW, &client())
            .await
            .expect("password");
        let ov = security::overview(&d, &s).await.expect("overview");
        assert!(
            matches!(
                ov.reauth,
                Reauth::Code {
                    kind: StepKind::EmailCode,
                    ..
                }
            ),
            "{:?}",
            ov.reauth
        );
        let code = last_code(&d).await;
        security::reauth_code(&d, &s, &code, &client())
            .await
            .expect("code");
        let s = session(&d, &tok).await;
        assert_eq!(
            security::change_method(&d, &s, &Choice::Authenticator, &client())
                .await
                .expect("fresh now"),
            Changed::AuthenticatorAtNextSignIn
        );
    }
}

#[tokio::test]
async fn m9_m7_text_messages_need_a_verified_number_and_the_old_channel_is_told() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let tok = signed_in(&d, "ada@example.com").await;
        let s = session(&d, &tok).await;
        let sms = |phone: &str| Choice::Sms {
            phone: phone.into(),
        };
        // M9/R4: refused before anything is sent.
        let before = last_message(&d).await;
        assert!(matches!(
            security::change_method(&d, &s, &sms("555 0100"), &client()).await,
            Err(SecurityError::Phone(PhoneError::Format))
        ));
        assert!(matches!(
            security::change_method(&d, &s, &sms("+882 1234 5678"), &client()).await,
            Err(SecurityError::Phone(PhoneError::NotAllowed))
        ));
        assert_eq!(last_message(&d).await, before, "nothing sent");
        let changed = security::change_method(&d, &s, &sms(PHONE), &client())
            .await
            .expect("code sent");
        assert_eq!(changed, Changed::VerifyPhone("+•••••••0200".into()));
        let m = last_message(&d).await;
        assert_eq!(
            (m.channel, m.recipient.as_str()),
            (Channel::Sms, "+15550100200")
        );
        assert_eq!(
            method(&d, "ada@example.com").await,
            MfaMethod::Email,
            "M9: not before the number is verified"
        );
        let right = last_code(&d).await;
        let wrong = wrong_code(&right);
        assert!(matches!(
            security::verify_phone(&d, &s, wrong, &client()).await,
            Err(SecurityError::Code(ChallengeError::WrongCode {
                remaining: 4
            }))
        ));
        security::verify_phone(&d, &s, &right, &client())
            .await
            .expect("verified");
        assert_eq!(method(&d, "ada@example.com").await, MfaMethod::Sms);
        let notice = last_message(&d).await;
        assert_eq!(
            (notice.channel, notice.recipient.as_str()),
            (Channel::Email, "ada@example.com"),
            "M7: the old channel (email) is told"
        );
        assert!(notice.text.contains("text messages to +•••••••0200"));
        // The next sign-in sends its code by text message.
        let s2 = to_code_step(&d, "ada@example.com").await;
        let step = login::code_step(&d, &s2)
            .await
            .expect("step")
            .expect("live");
        assert_eq!(step.kind, StepKind::SmsCode);
        assert_eq!(step.masked_destination, "+•••••••0200");
        let m = last_message(&d).await;
        assert_eq!(m.channel, Channel::Sms);
        login::verify_code(&d, &s2, &last_code(&d).await, &client())
            .await
            .expect("signed in by SMS");
        // M7: leaving SMS tells the old phone.
        let s3 = session(&d, &signed_in_by_sms(&d, "ada@example.com").await).await;
        assert_eq!(
            security::change_method(&d, &s3, &Choice::Email, &client())
                .await
                .expect("to email"),
            Changed::ToEmail
        );
        let told = last_message(&d).await;
        assert_eq!(
            (told.channel, told.recipient.as_str()),
            (Channel::Sms, "+15550100200")
        );
        assert_eq!(method(&d, "ada@example.com").await, MfaMethod::Email);
    }
}

async fn signed_in_by_sms(d: &Deps, email: &str) -> String {
    let s = to_code_step(d, email).await;
    let t = login::verify_code(d, &s, &last_code(d).await, &client())
        .await
        .expect("signed in");
    t.token().expose().to_string()
}

#[tokio::test]
async fn m9_registration_with_sms_verifies_the_number_at_the_first_sign_in() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        register_verified_with_phone(&d, "grace@example.com", "sms", PHONE).await;
        assert_eq!(method(&d, "grace@example.com").await, MfaMethod::Email);
        // E4/M13: the emailed code first, then the number.
        let s = to_setup_step(&d, "grace@example.com").await;
        let step = login::code_step(&d, &s).await.expect("step").expect("live");
        assert_eq!(step.kind, StepKind::SmsCode);
        assert_eq!(last_message(&d).await.recipient, "+15550100200");
        login::verify_code(&d, &s, &last_code(&d).await, &client())
            .await
            .expect("signed in");
        assert_eq!(
            method(&d, "grace@example.com").await,
            MfaMethod::Sms,
            "the first code verified the number"
        );
    }
}

#[tokio::test]
async fn m4_an_authenticator_chosen_on_the_security_tab_is_set_up_at_the_next_sign_in() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let s = session(&d, &signed_in(&d, "ada@example.com").await).await;
        security::change_method(&d, &s, &Choice::Authenticator, &client())
            .await
            .expect("chosen");
        assert_eq!(method(&d, "ada@example.com").await, MfaMethod::Email);
        let ov = security::overview(&d, &s).await.expect("overview");
        let pending = ov.pending.expect("M13: the pending choice is shown");
        assert_eq!(
            pending.enrolment,
            gatehouse_core::mechanisms::mfa::Enrolment::Authenticator
        );
        assert_eq!(
            pending.expires_at,
            d.now() + gatehouse_core::mechanisms::mfa::ENROLMENT_TTL_SECS
        );
        let told = last_message(&d).await;
        assert_eq!(told.recipient, "ada@example.com", "M7");
        assert!(told.text.contains("next sign-in"));
        let s2 = to_setup_step(&d, "ada@example.com").await;
        let step = login::code_step(&d, &s2)
            .await
            .expect("step")
            .expect("live");
        assert_eq!(step.kind, StepKind::SetUpAuthenticator);
        let app = totp_from_key(&step.setup_key);
        login::verify_code(&d, &s2, &app.code_at(d.now()).expect("code"), &client())
            .await
            .expect("enrolled");
        assert_eq!(
            method(&d, "ada@example.com").await,
            MfaMethod::Authenticator
        );
    }
}

#[tokio::test]
async fn r3_a_reauthentication_challenge_dies_after_five_wrong_codes() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let tok = signed_in(&d, "ada@example.com").await;
        clock.advance(REAUTH_WINDOW_SECS + 1);
        let s = session(&d, &tok).await;
        security::reauth_password(&d, &s, PW, &client())
            .await
            .expect("password");
        let right = last_code(&d).await;
        let wrong = wrong_code(&right);
        for _ in 0..4 {
            assert!(matches!(
                security::reauth_code(&d, &s, wrong, &client()).await,
                Err(SecurityError::Code(ChallengeError::WrongCode { .. }))
            ));
        }
        assert!(matches!(
            security::reauth_code(&d, &s, wrong, &client()).await,
            Err(SecurityError::Code(ChallengeError::Dead))
        ));
        assert!(
            matches!(
                security::reauth_code(&d, &s, &right, &client()).await,
                Err(SecurityError::Code(ChallengeError::Dead))
            ),
            "the right code is too late"
        );
        assert_eq!(
            security::overview(&d, &s).await.expect("overview").reauth,
            Reauth::Password,
            "start again with the password"
        );
    }
}

#[tokio::test]
async fn m6_regenerated_recovery_codes_replace_the_old_ones_and_are_shown_once() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        register_verified(&d, "grace@example.com", "totp").await;
        let s = to_setup_step(&d, "grace@example.com").await;
        let step = login::code_step(&d, &s).await.expect("step").expect("live");
        let app = totp_from_key(&step.setup_key);
        let out = login::verify_code(&d, &s, &app.code_at(d.now()).expect("code"), &client())
            .await
            .expect("enrolled");
        let s = session(&d, out.token().expose()).await;
        let old = login::recovery_codes_to_show(&d, &s).await.expect("codes");
        let t = login::acknowledge_recovery_codes(&d, &s, &client())
            .await
            .expect("signed in");
        let s = session(&d, t.expose()).await;
        security::regenerate_recovery_codes(&d, &s, &client())
            .await
            .expect("regenerated");
        let fresh = security::overview(&d, &s)
            .await
            .expect("overview")
            .new_recovery_codes;
        assert_eq!(fresh.len(), 10);
        assert!(fresh.iter().all(|c| !old.contains(c)));
        security::recovery_codes_saved(&d, &s).await.expect("saved");
        assert!(security::overview(&d, &s)
            .await
            .expect("overview")
            .new_recovery_codes
            .is_empty());
        // An old code no longer signs in; a new one does.
        clock.advance(60);
        let s2 = to_code_step(&d, "grace@example.com").await;
        assert!(login::use_recovery_code(&d, &s2, &old[0], &client())
            .await
            .is_err());
        login::use_recovery_code(&d, &s2, &fresh[0], &client())
            .await
            .expect("new code works");
    }
}

#[tokio::test]
async fn s4_g1_a_person_sees_their_sessions_and_activity_and_ends_another_session() {
    use gatehouse_core::mechanisms::events;
    use gatehouse_core::mechanisms::sessions;
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        verified_user(&d, "eve@example.com").await;
        let first = session(&d, &signed_in(&d, "ada@example.com").await).await;
        clock.advance(60);
        let second = session(&d, &signed_in(&d, "ada@example.com").await).await;
        let eve = session(&d, &signed_in(&d, "eve@example.com").await).await;
        let uid = second.authenticated_user().expect("user").to_string();
        let mut c = d.store.conn().await.expect("conn");
        let listed = sessions::list_for_user(&mut c, &uid, &d.settings.sessions, d.now())
            .await
            .expect("list");
        assert_eq!(listed.len(), 2, "only Ada's signed-in sessions");
        assert_eq!(listed[0].id_hash, second.id_hash, "most recent first");
        assert!(
            !sessions::revoke_own(&mut c, &uid, &eve.id_hash)
                .await
                .expect("revoke"),
            "someone else's session is not Ada's to end"
        );
        assert!(sessions::revoke_own(&mut c, &uid, &first.id_hash)
            .await
            .expect("revoke"));
        let left = sessions::list_for_user(&mut c, &uid, &d.settings.sessions, d.now())
            .await
            .expect("list");
        assert_eq!(left.len(), 1);
        let log = events::recent(&mut c, &uid, 10).await.expect("events");
        assert_eq!(log[0].kind.describe(), "Signed in");
        assert_eq!(log[0].ip, "192.0.2.1");
        assert!(log.len() >= 2);
    }
}
