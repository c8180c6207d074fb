//! The Profile tab on SQLite and PostgreSQL: names saved trimmed, refused per field with nothing
//! saved, recorded (G1), and only for a signed-in session (M5); the phone verified by a code
//! before it is stored (M9), only after a re-authentication (S5), told to the old number and the
//! email (M7), never removed while it is the sign-in method.

mod common;

use common::*;
use gatehouse_core::flows::profile::phone::{self, PhoneStep};
use gatehouse_core::flows::profile::{self, Fields, Form, ProfileError, Saved};
use gatehouse_core::flows::security::{self, Choice, SecurityError};
use gatehouse_core::mechanisms::challenges::ChallengeError;
use gatehouse_core::mechanisms::events::EventKind;
use gatehouse_core::mechanisms::mfa;
use gatehouse_core::mechanisms::outbox::Channel;
use gatehouse_core::mechanisms::reauth::WINDOW_SECS;
use gatehouse_core::mechanisms::service::Deps;
use gatehouse_core::mechanisms::sessions::Session;
use gatehouse_core::mechanisms::users;
use gatehouse_core::store::testing;
use gatehouse_core::values::clock::FixedClock;

/// Saves the form with these values.
async fn save(
    d: &Deps,
    s: &Session,
    first: &str,
    last: &str,
    phone: &str,
) -> Result<Saved, ProfileError> {
    let form = Form {
        first_name: first,
        last_name: last,
        phone,
    };
    profile::save(d, s, form, &client()).await
}

const fn names_only(names: bool) -> Saved {
    Saved {
        names,
        phone: PhoneStep::Unchanged,
    }
}

async fn names(d: &Deps) -> (String, String) {
    let mut c = d.store.conn().await.expect("conn");
    let e = gatehouse_core::values::email::Email::parse("ada@example.com").expect("email");
    let u = users::by_email(&mut c, &e)
        .await
        .expect("user")
        .expect("exists");
    (u.first_name, u.last_name)
}

#[tokio::test]
async fn names_are_saved_trimmed_and_recorded() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let s = session(&d, &signed_in(&d, "ada@example.com").await).await;
        let saved = save(&d, &s, "  Augusta Ada ", "King", "").await;
        assert_eq!(saved.expect("saved"), names_only(true));
        assert_eq!(names(&d).await, ("Augusta Ada".into(), "King".into()));
        let again = save(&d, &s, "Augusta Ada", "King", "").await;
        assert_eq!(again.expect("saved"), names_only(false));
        let kinds = event_kinds(&d, s.authenticated_user().expect("uid")).await;
        assert_eq!(
            kinds.first(),
            Some(&EventKind::NameChanged),
            "G1: {kinds:?}"
        );
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == EventKind::NameChanged)
                .count(),
            1,
            "an unchanged save records nothing"
        );
    }
}

#[tokio::test]
async fn a_bad_name_is_refused_next_to_its_field_and_nothing_is_saved() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let s = session(&d, &signed_in(&d, "ada@example.com").await).await;
        let r = save(&d, &s, "Ada\u{7}", "   ", "555 0100").await;
        match r {
            Err(ProfileError::Invalid(Fields {
                first_name: Some(f),
                last_name: Some(l),
                phone: Some(p),
            })) => {
                assert_eq!(f, "Use letters, spaces and punctuation only.");
                assert_eq!(l, "Enter your last name.");
                assert_eq!(
                    p,
                    "Enter the number with its country code, like +1 555 010 0200."
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(names(&d).await, ("Ada".into(), "Lovelace".into()));
    }
}

#[tokio::test]
async fn m5_a_partial_session_cannot_change_names() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let partial = to_code_step(&d, "ada@example.com").await;
        let r = save(&d, &partial, "Mallory", "X", "").await;
        assert!(matches!(r, Err(ProfileError::SignedOut)), "{r:?}");
        assert_eq!(names(&d).await, ("Ada".into(), "Lovelace".into()));
    }
}

const PHONE: &str = "+1 555 010 0200";
const NEW_PHONE: &str = "+44 7700 900123";

async fn phone_of(d: &Deps, s: &Session) -> Option<String> {
    let mut c = d.store.conn().await.expect("conn");
    let uid = s.authenticated_user().expect("uid");
    mfa::verified_phone(&mut c, uid)
        .await
        .expect("phone")
        .map(|p| p.as_str().to_string())
}

async fn method(d: &Deps, s: &Session) -> users::MfaMethod {
    let mut c = d.store.conn().await.expect("conn");
    let uid = s.authenticated_user().expect("uid");
    users::by_id(&mut c, uid)
        .await
        .expect("load")
        .expect("user")
        .mfa_method
}

/// The outbox's newest messages, newest first, as (channel, recipient, text).
async fn sent(d: &Deps, n: i64) -> Vec<(Channel, String, String)> {
    let mut c = d.store.conn().await.expect("conn");
    gatehouse_core::mechanisms::outbox::recent(&mut c, n)
        .await
        .expect("recent")
        .into_iter()
        .map(|m| (m.message.channel, m.message.recipient, m.message.text))
        .collect()
}

#[tokio::test]
async fn m9_a_new_phone_is_stored_only_after_the_code_sent_to_it_comes_back() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let s = session(&d, &signed_in(&d, "ada@example.com").await).await;
        let saved = save(&d, &s, "Ada", "Lovelace", PHONE).await.expect("saved");
        assert_eq!(saved.phone, PhoneStep::CodeSent("+•••••••0200".into()));
        let (channel, to, _) = sent(&d, 1).await.remove(0);
        assert_eq!((channel, to.as_str()), (Channel::Sms, "+15550100200"));
        assert_eq!(phone_of(&d, &s).await, None, "M9: not before the code");
        let right = last_code(&d).await;
        // M2: the Security tab's "make SMS the method" cannot take this code.
        assert!(matches!(
            security::verify_phone(&d, &s, &right, &client()).await,
            Err(SecurityError::Code(ChallengeError::Dead))
        ));
        assert!(matches!(
            phone::confirm(&d, &s, wrong_code(&right), &client()).await,
            Err(ProfileError::Code(ChallengeError::WrongCode {
                remaining: 4
            }))
        ));
        assert_eq!(
            phone::confirm(&d, &s, &right, &client())
                .await
                .expect("confirmed"),
            "+•••••••0200"
        );
        assert_eq!(phone_of(&d, &s).await.as_deref(), Some("+15550100200"));
        assert_eq!(
            method(&d, &s).await,
            users::MfaMethod::Email,
            "the method stays"
        );
        let (channel, to, text) = sent(&d, 1).await.remove(0);
        assert_eq!(
            (channel, to.as_str()),
            (Channel::Email, "ada@example.com"),
            "M7"
        );
        assert!(text.contains("is now +•••••••0200"), "{text}");
        let uid = s.authenticated_user().expect("uid");
        assert_eq!(
            event_kinds(&d, uid).await.first(),
            Some(&EventKind::PhoneChanged)
        );
        // Saving the same number again changes nothing and sends nothing.
        let again = save(&d, &s, "Ada", "Lovelace", "+15550100200")
            .await
            .expect("saved");
        assert_eq!(again, names_only(false));
        assert_eq!(sent(&d, 1).await.remove(0).0, Channel::Email);
    }
}

#[tokio::test]
async fn r4_a_number_outside_the_texted_countries_is_refused_next_to_the_field() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let s = session(&d, &signed_in(&d, "ada@example.com").await).await;
        let before = sent(&d, 1).await;
        match save(&d, &s, "Augusta", "Lovelace", "+882 1234 5678").await {
            Err(ProfileError::Invalid(Fields { phone: Some(p), .. })) => {
                assert!(
                    p.starts_with("We can't send text messages to that country"),
                    "{p}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(sent(&d, 1).await, before, "nothing sent");
        assert_eq!(
            names(&d).await.0,
            "Ada",
            "all or nothing: the name is not saved either"
        );
    }
}

/// Ada with text messages as her method, to `PHONE`; her session's token.
async fn sms_user(d: &Deps) -> String {
    verified_user(d, "ada@example.com").await;
    let tok = signed_in(d, "ada@example.com").await;
    let s = session(d, &tok).await;
    let choice = Choice::Sms {
        phone: PHONE.into(),
    };
    security::change_method(d, &s, &choice, &client())
        .await
        .expect("code sent");
    security::verify_phone(d, &s, &last_code(d).await, &client())
        .await
        .expect("verified");
    tok
}

#[tokio::test]
async fn s5_m7_with_sms_as_the_method_a_new_phone_needs_reauthentication_and_tells_the_old_number()
{
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        let tok = sms_user(&d).await;
        clock.advance(WINDOW_SECS + 1);
        let s = session(&d, &tok).await;
        let before = sent(&d, 1).await;
        assert!(matches!(
            save(&d, &s, "Ada", "Lovelace", NEW_PHONE).await,
            Err(ProfileError::ReauthRequired)
        ));
        assert_eq!(
            sent(&d, 1).await,
            before,
            "S5: nothing sent before re-authentication"
        );
        security::reauth_password(&d, &s, PW, &client())
            .await
            .expect("password");
        let (channel, to, _) = sent(&d, 1).await.remove(0);
        assert_eq!(
            (channel, to.as_str()),
            (Channel::Sms, "+15550100200"),
            "code to the current phone"
        );
        security::reauth_code(&d, &s, &last_code(&d).await, &client())
            .await
            .expect("re-authenticated");
        let s = session(&d, &tok).await;
        let saved = save(&d, &s, "Ada", "Lovelace", NEW_PHONE)
            .await
            .expect("saved");
        assert_eq!(saved.phone, PhoneStep::CodeSent("+••••••••0123".into()));
        phone::confirm(&d, &s, &last_code(&d).await, &client())
            .await
            .expect("confirmed");
        assert_eq!(phone_of(&d, &s).await.as_deref(), Some("+447700900123"));
        assert_eq!(method(&d, &s).await, users::MfaMethod::Sms);
        let told = sent(&d, 2).await;
        assert!(
            told.iter().any(|(c, to, text)| *c == Channel::Sms
                && to == "+15550100200"
                && text.contains("this number was removed from your account")),
            "M7: the old number is told: {told:?}"
        );
        assert!(told
            .iter()
            .any(|(c, to, _)| *c == Channel::Email && to == "ada@example.com"));
        // The next sign-in's code goes to the new number.
        let s2 = to_code_step(&d, "ada@example.com").await;
        let (channel, to, _) = sent(&d, 1).await.remove(0);
        assert_eq!((channel, to.as_str()), (Channel::Sms, "+447700900123"));
        drop(s2);
    }
}

#[tokio::test]
async fn the_phone_is_never_removed_while_it_is_the_sign_in_method() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_700_000_000);
        let d = deps(store, &clock);
        let tok = sms_user(&d).await;
        let s = session(&d, &tok).await;
        assert!(matches!(
            save(&d, &s, "Ada", "Lovelace", "").await,
            Err(ProfileError::PhoneIsMethod)
        ));
        assert_eq!(phone_of(&d, &s).await.as_deref(), Some("+15550100200"));
        // Back to email codes, the phone can go; the old number is told.
        security::change_method(&d, &s, &Choice::Email, &client())
            .await
            .expect("email");
        let saved = save(&d, &s, "Ada", "Lovelace", "").await.expect("saved");
        assert_eq!(saved.phone, PhoneStep::Removed);
        assert_eq!(phone_of(&d, &s).await, None);
        let told = sent(&d, 2).await;
        assert!(
            told.iter()
                .any(|(c, to, _)| *c == Channel::Sms && to == "+15550100200"),
            "{told:?}"
        );
        let uid = s.authenticated_user().expect("uid");
        assert_eq!(
            event_kinds(&d, uid).await.first(),
            Some(&EventKind::PhoneRemoved)
        );
    }
}
