//! The Profile tab's names on SQLite and PostgreSQL: saved trimmed, refused per field with
//! nothing saved, recorded (G1), and only for a signed-in session (M5).

mod common;

use common::*;
use gatehouse_core::flows::profile::{self, NameFields, ProfileError, Saved};
use gatehouse_core::mechanisms::events::EventKind;
use gatehouse_core::mechanisms::users;
use gatehouse_core::store::testing;
use gatehouse_core::values::clock::FixedClock;

async fn names(d: &gatehouse_core::mechanisms::service::Deps) -> (String, String) {
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
        let saved = profile::save_names(&d, &s, "  Augusta Ada ", "King", &client()).await;
        assert_eq!(saved.expect("saved"), Saved::Changed);
        assert_eq!(names(&d).await, ("Augusta Ada".into(), "King".into()));
        let again = profile::save_names(&d, &s, "Augusta Ada", "King", &client()).await;
        assert_eq!(again.expect("saved"), Saved::Unchanged);
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
        let r = profile::save_names(&d, &s, "Ada\u{7}", "   ", &client()).await;
        match r {
            Err(ProfileError::Invalid(NameFields {
                first_name: Some(f),
                last_name: Some(l),
            })) => {
                assert_eq!(f, "Use letters, spaces and punctuation only.");
                assert_eq!(l, "Enter your last name.");
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
        let r = profile::save_names(&d, &partial, "Mallory", "X", &client()).await;
        assert!(matches!(r, Err(ProfileError::SignedOut)), "{r:?}");
        assert_eq!(names(&d).await, ("Ada".into(), "Lovelace".into()));
    }
}
