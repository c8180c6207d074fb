//! Support's email change on SQLite and PostgreSQL: nothing changes until both addresses used
//! their links (in either order); the old address is told at the end; reading a link changes
//! nothing (E4); a link works once, dies with a newer request and with time; an address another
//! account took meanwhile is refused; both steps are in the activity log (G1).

mod common;

use common::*;
use gatehouse_core::flows::email_change::{self, Confirmed, EmailChangeError, Side};
use gatehouse_core::mechanisms::events::EventKind;
use gatehouse_core::mechanisms::outbox;
use gatehouse_core::mechanisms::service::Deps;
use gatehouse_core::mechanisms::staff::By;
use gatehouse_core::mechanisms::users;
use gatehouse_core::store::testing;
use gatehouse_core::values::clock::FixedClock;
use gatehouse_core::values::email::Email;

/// The newest messages to `to`, newest first.
async fn mail_to(d: &Deps, to: &str) -> Vec<outbox::Message> {
    let mut c = d.store.conn().await.expect("conn");
    outbox::recent(&mut c, 50)
        .await
        .expect("recent")
        .into_iter()
        .map(|q| q.message)
        .filter(|m| m.recipient == to)
        .collect()
}

/// The token in the newest confirmation link sent to the new address `to`.
async fn link_token(d: &Deps, to: &str) -> String {
    token_in(d, to, "Confirm your new email address").await
}

/// The token in the newest confirmation link sent to the address in use, `to`.
async fn old_link_token(d: &Deps, to: &str) -> String {
    token_in(d, to, "A change of your email address was requested").await
}

async fn token_in(d: &Deps, to: &str, subject: &str) -> String {
    let m = mail_to(d, to).await.remove(0);
    assert_eq!(m.subject, subject);
    let at = m.text.find("/confirm-email?token=").expect("the link");
    assert!(
        m.text[..at].ends_with("https://id.example.com"),
        "F3: built from the public URL"
    );
    m.text[at + 21..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect()
}

async fn email_of_ada(d: &Deps, id: &str) -> String {
    let mut c = d.store.read().await.expect("conn");
    users::by_id(&mut c, id)
        .await
        .expect("user")
        .expect("exists")
        .email
        .to_string()
}

async fn ada_id(d: &Deps) -> String {
    let mut c = d.store.read().await.expect("conn");
    let e = Email::parse("ada@example.com").expect("email");
    users::by_email(&mut c, &e)
        .await
        .expect("user")
        .expect("exists")
        .id
}

#[tokio::test]
async fn nothing_changes_until_both_addresses_confirm_and_the_old_one_is_told() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let id = ada_id(&d).await;
        let new = email_change::start(
            &d,
            "ada@example.com",
            " Ada@New.example ",
            By::Operator(&client()),
        )
        .await
        .expect("started");
        assert_eq!(new.as_str(), "ada@new.example");
        assert_eq!(
            email_of_ada(&d, &id).await,
            "ada@example.com",
            "nothing yet"
        );
        let told = mail_to(&d, "ada@example.com").await;
        assert!(told[0].text.contains(&new.masked()), "{}", told[0].text);
        let old_token = old_link_token(&d, "ada@example.com").await;

        let token = link_token(&d, "ada@new.example").await;
        // E4: reading the link changes nothing.
        let p = email_change::pending(&d, &token)
            .await
            .expect("read")
            .expect("live");
        assert_eq!(p.new_email.as_str(), "ada@new.example");
        assert_eq!(p.user.email.as_str(), "ada@example.com");
        assert_eq!(p.side, Side::New);
        assert_eq!(email_of_ada(&d, &id).await, "ada@example.com");

        // The new address alone does not change it.
        let first = email_change::confirm(&d, &token, &client())
            .await
            .expect("confirmed");
        assert_eq!(first, Confirmed::Waiting(Side::New));
        assert_eq!(email_of_ada(&d, &id).await, "ada@example.com", "one of two");
        // Single use.
        match email_change::confirm(&d, &token, &client()).await {
            Err(EmailChangeError::LinkDead) => {}
            other => panic!("{other:?}"),
        }
        assert!(email_change::pending(&d, &token)
            .await
            .expect("read")
            .is_none());
        // The address in use agrees: now it changes.
        let p = email_change::pending(&d, &old_token).await.expect("read");
        assert_eq!(p.map(|p| p.side), Some(Side::Current));
        let done = email_change::confirm(&d, &old_token, &client())
            .await
            .expect("confirmed");
        assert_eq!(done, Confirmed::Changed(new.clone()));
        assert_eq!(email_of_ada(&d, &id).await, "ada@new.example");
        assert_eq!(
            mail_to(&d, "ada@example.com").await[0].subject,
            "Your email address was changed"
        );
        let kinds = event_kinds(&d, &id).await;
        assert_eq!(
            &kinds[..2],
            &[EventKind::EmailChanged, EventKind::EmailChangeStarted],
            "G1"
        );
    }
}

#[tokio::test]
async fn a_newer_request_or_time_kills_a_link() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let id = ada_id(&d).await;
        email_change::start(
            &d,
            "ada@example.com",
            "first@new.example",
            By::Operator(&client()),
        )
        .await
        .expect("started");
        let old_link = link_token(&d, "first@new.example").await;
        email_change::start(
            &d,
            "ada@example.com",
            "second@new.example",
            By::Operator(&client()),
        )
        .await
        .expect("started again");
        match email_change::confirm(&d, &old_link, &client()).await {
            Err(EmailChangeError::LinkDead) => {}
            other => panic!("{other:?}"),
        }
        let link = link_token(&d, "second@new.example").await;
        // The address in use confirms the second request; the first request's new-address
        // link stays dead, so nothing changes through it.
        let current = old_link_token(&d, "ada@example.com").await;
        assert_eq!(
            email_change::confirm(&d, &current, &client())
                .await
                .expect("ok"),
            Confirmed::Waiting(Side::Current)
        );
        clock.advance(email_change::TTL_SECS + 1);
        match email_change::confirm(&d, &link, &client()).await {
            Err(EmailChangeError::LinkDead) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(email_of_ada(&d, &id).await, "ada@example.com");
    }
}

#[tokio::test]
async fn an_address_in_use_is_refused_at_the_start_and_at_the_confirmation() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        verified_user(&d, "grace@example.com").await;
        let id = ada_id(&d).await;
        match email_change::start(
            &d,
            "ada@example.com",
            "grace@example.com",
            By::Operator(&client()),
        )
        .await
        {
            Err(EmailChangeError::Taken) => {}
            other => panic!("{other:?}"),
        }
        match email_change::start(
            &d,
            "nobody@example.com",
            "x@example.com",
            By::Operator(&client()),
        )
        .await
        {
            Err(EmailChangeError::NoAccount) => {}
            other => panic!("{other:?}"),
        }
        match email_change::start(
            &d,
            "ada@example.com",
            "ADA@example.com",
            By::Operator(&client()),
        )
        .await
        {
            Err(EmailChangeError::Same) => {}
            other => panic!("{other:?}"),
        }
        match email_change::start(
            &d,
            "ada@example.com",
            "not an address",
            By::Operator(&client()),
        )
        .await
        {
            Err(EmailChangeError::Email(_)) => {}
            other => panic!("{other:?}"),
        }
        // Free when asked, taken by the time the link is used.
        email_change::start(
            &d,
            "ada@example.com",
            "late@example.com",
            By::Operator(&client()),
        )
        .await
        .expect("started");
        let token = link_token(&d, "late@example.com").await;
        let current = old_link_token(&d, "ada@example.com").await;
        email_change::confirm(&d, &current, &client())
            .await
            .expect("the address in use agrees");
        verified_user(&d, "late@example.com").await;
        match email_change::confirm(&d, &token, &client()).await {
            Err(EmailChangeError::Taken) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(email_of_ada(&d, &id).await, "ada@example.com");
    }
}
