//! The support console's rules on both databases (issue 14): only the `support` role opens it,
//! every action needs a fresh re-authentication (S5), is an event of the person acted on naming
//! the support person, and tells that person by email (G1); R1 unlock, M8 reset, and the start
//! of an email change.

mod common;

use common::*;
use gatehouse_core::flows::email_change;
use gatehouse_core::flows::support::{self, SupportError};
use gatehouse_core::mechanisms::events::{self, EventKind};
use gatehouse_core::mechanisms::outbox;
use gatehouse_core::mechanisms::service::Deps;
use gatehouse_core::mechanisms::sessions::Session;
use gatehouse_core::mechanisms::staff::By;
use gatehouse_core::mechanisms::users;
use gatehouse_core::store::testing;
use gatehouse_core::values::clock::FixedClock;
use gatehouse_core::values::email::Email;

async fn person(d: &Deps, email: &str) -> Session {
    verified_user(d, email).await;
    let t = signed_in(d, email).await;
    session(d, &t).await
}

/// The newest event of `email`'s account: (kind, who did it).
async fn newest(d: &Deps, email: &str) -> (EventKind, Option<String>) {
    let mut c = d.store.read().await.expect("conn");
    let e = Email::parse(email).expect("email");
    let u = users::by_email(&mut c, &e)
        .await
        .expect("load")
        .expect("user");
    let ev = events::recent(&mut c, &u.id, 1)
        .await
        .expect("events")
        .remove(0);
    (ev.kind, ev.actor)
}

async fn newest_subject(d: &Deps, to: &str) -> String {
    let mut c = d.store.read().await.expect("conn");
    outbox::recent(&mut c, 20)
        .await
        .expect("recent")
        .into_iter()
        .map(|q| q.message)
        .find(|m| m.recipient == to)
        .map(|m| m.subject)
        .unwrap_or_default()
}

#[tokio::test]
async fn only_support_opens_the_console_and_every_action_needs_s5_and_names_the_support_person() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_800_000_000);
        let d = deps(store, &clock);
        let c = client();
        let sue = person(&d, "sue@example.com").await;
        let bob = person(&d, "bob@example.com").await;
        verified_user(&d, "ada@example.com").await;

        // Not (yet) support: the console does not exist for Sue.
        for r in [
            support::desk(&d, &sue).await.map(|_| ()),
            support::find(&d, &sue, "ada@example.com").await.map(|_| ()),
            support::unlock(&d, "ada@example.com", By::Support(&sue, &c))
                .await
                .map(|_| ()),
        ] {
            assert!(matches!(r, Err(SupportError::NotSupport)), "{r:?}");
        }
        support::grant(&d, "sue@example.com").await.expect("grant");
        let found = support::find(&d, &sue, "ada@example.com")
            .await
            .expect("find");
        assert_eq!(found.user.email.as_str(), "ada@example.com");
        assert!(!found.locked);
        assert!(matches!(
            support::find(&d, &sue, "nobody@example.com").await,
            Err(SupportError::NoAccount)
        ));
        // Bob, a plain user, still cannot.
        let r = support::reset_mfa(&d, "ada@example.com", By::Support(&bob, &c)).await;
        assert!(matches!(r, Err(SupportError::NotSupport)), "{r:?}");

        // R1 unlock: recorded with Sue's name, Ada told.
        support::unlock(&d, "ada@example.com", By::Support(&sue, &c))
            .await
            .expect("unlock");
        assert_eq!(
            newest(&d, "ada@example.com").await,
            (
                EventKind::AccountUnlocked,
                Some("Ada Lovelace (sue@example.com)".into())
            )
        );
        assert_eq!(
            newest_subject(&d, "ada@example.com").await,
            "Your account was unlocked"
        );

        // M8 reset.
        support::reset_mfa(&d, "ada@example.com", By::Support(&sue, &c))
            .await
            .expect("reset");
        assert_eq!(
            newest(&d, "ada@example.com").await,
            (
                EventKind::MfaReset,
                Some("Ada Lovelace (sue@example.com)".into())
            )
        );
        assert_eq!(
            newest_subject(&d, "ada@example.com").await,
            "Your sign-in method was reset"
        );

        // An email change starts (the new address confirms); Ada's log names Sue.
        email_change::start(
            &d,
            "ada@example.com",
            "ada@new.example",
            By::Support(&sue, &c),
        )
        .await
        .expect("change");
        assert_eq!(
            newest(&d, "ada@example.com").await,
            (
                EventKind::EmailChangeStarted,
                Some("Ada Lovelace (sue@example.com)".into())
            )
        );

        // S5: ten minutes after Sue's sign-in, nothing goes through until she confirms.
        clock.advance(601);
        let r = support::unlock(&d, "ada@example.com", By::Support(&sue, &c)).await;
        assert!(matches!(r, Err(SupportError::ReauthRequired)), "{r:?}");
        let r = email_change::start(
            &d,
            "ada@example.com",
            "x@new.example",
            By::Support(&sue, &c),
        )
        .await;
        assert!(
            matches!(r, Err(email_change::EmailChangeError::ReauthRequired)),
            "{r:?}"
        );
        assert_eq!(
            newest(&d, "ada@example.com").await.0,
            EventKind::EmailChangeStarted
        );

        // The role can be taken away.
        support::revoke(&d, "sue@example.com")
            .await
            .expect("revoke");
        assert!(matches!(
            support::desk(&d, &sue).await,
            Err(SupportError::NotSupport)
        ));
    }
}

/// Issue 24, item 10: one support person cannot reset, unlock or re-address another support
/// person's account from the console (a stolen staff account must not open the others); the
/// operator at the command line can.
#[tokio::test]
async fn staff_actions_on_staff_need_the_operator() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_800_000_000);
        let d = deps(store, &clock);
        let c = client();
        let sue = person(&d, "sue@example.com").await;
        person(&d, "tom@example.com").await;
        support::grant(&d, "sue@example.com").await.expect("grant");
        support::grant(&d, "tom@example.com").await.expect("grant");
        let by_sue = By::Support(&sue, &c);
        assert!(matches!(
            support::reset_mfa(&d, "tom@example.com", by_sue).await,
            Err(SupportError::StaffTarget)
        ));
        assert!(matches!(
            support::unlock(&d, "tom@example.com", by_sue).await,
            Err(SupportError::StaffTarget)
        ));
        assert!(matches!(
            email_change::start(&d, "tom@example.com", "tom@evil.example", by_sue).await,
            Err(email_change::EmailChangeError::StaffTarget)
        ));
        // The operator may; and once Tom is no longer staff, Sue may too.
        support::reset_mfa(&d, "tom@example.com", By::Operator(&c))
            .await
            .expect("the operator");
        support::revoke(&d, "tom@example.com")
            .await
            .expect("revoke");
        support::reset_mfa(&d, "tom@example.com", by_sue)
            .await
            .expect("not staff any more");
    }
}
