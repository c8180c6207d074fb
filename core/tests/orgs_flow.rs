//! Organizations on both databases (issue 14): the role table enforced by the flows (not only
//! by pages), the last-owner guard (also under two concurrent demotions on PostgreSQL),
//! invitations (accept, decline, expiry, resend, revoke, E1, registration through the link),
//! and handing over ownership (S5).

mod common;

use common::*;
use gatehouse_core::flows::accounts::{self, Registration};
use gatehouse_core::flows::orgs::{self, LinkView, OrgError};
use gatehouse_core::mechanisms::events::EventKind;
use gatehouse_core::mechanisms::outbox;
use gatehouse_core::mechanisms::service::Deps;
use gatehouse_core::mechanisms::sessions::Session;
use gatehouse_core::mechanisms::users;
use gatehouse_core::store::testing;
use gatehouse_core::values::clock::FixedClock;
use gatehouse_core::values::email::Email;
use gatehouse_core::values::org::{InvitationState, Role};

/// A signed-in session of a new verified account `email`.
async fn person(d: &Deps, email: &str) -> Session {
    verified_user(d, email).await;
    let t = signed_in(d, email).await;
    session(d, &t).await
}

async fn user_id(d: &Deps, email: &str) -> String {
    let mut c = d.store.read().await.expect("conn");
    let e = Email::parse(email).expect("email");
    users::by_email(&mut c, &e)
        .await
        .expect("load")
        .expect("user")
        .id
}

/// The newest message to `to`.
async fn last_to(d: &Deps, to: &str) -> outbox::Message {
    let mut c = d.store.read().await.expect("conn");
    outbox::recent(&mut c, 50)
        .await
        .expect("recent")
        .into_iter()
        .map(|q| q.message)
        .find(|m| m.recipient == to)
        .expect("a message to the address")
}

/// The invitation link's token in the newest message to `to`.
async fn invitation_token(d: &Deps, to: &str) -> String {
    let m = last_to(d, to).await;
    assert_eq!(m.subject, "Invitation to an organization on Gatehouse");
    m.text
        .split("/invitation?token=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .expect("link in the invitation")
        .to_string()
}

/// `who` joins `slug` with `role` through an invitation from `by`.
async fn join(d: &Deps, by: &Session, slug: &str, who: &Session, email: &str, role: Role) {
    orgs::invite(d, by, slug, email, role.as_str(), &client())
        .await
        .expect("invite");
    let waiting = orgs::waiting(d, who).await.expect("waiting");
    let inv = waiting.iter().find(|i| i.org_slug == slug).expect("listed");
    orgs::answer(d, who, &inv.id, true, &client())
        .await
        .expect("accept");
}

async fn role(d: &Deps, s: &Session, slug: &str, email: &str) -> Option<Role> {
    orgs::view(d, s, slug)
        .await
        .expect("view")
        .members
        .into_iter()
        .find(|m| m.email == email)
        .map(|m| m.role)
}

/// An organization with an owner, an admin and a member; (slug, owner, admin, member).
async fn team(d: &Deps) -> (String, Session, Session, Session) {
    let owner = person(d, "olga@example.com").await;
    let admin = person(d, "adam@example.com").await;
    let member = person(d, "mia@example.com").await;
    let org = orgs::create(d, &owner, "Acme Corp", &client())
        .await
        .expect("create");
    assert_eq!(org.slug, "acme-corp");
    join(
        d,
        &owner,
        &org.slug,
        &admin,
        "adam@example.com",
        Role::Admin,
    )
    .await;
    join(
        d,
        &owner,
        &org.slug,
        &member,
        "mia@example.com",
        Role::Member,
    )
    .await;
    (org.slug, owner, admin, member)
}

fn refused(r: Result<impl std::fmt::Debug, OrgError>, what: &str) -> OrgError {
    match r {
        Ok(v) => panic!("{what}: expected a refusal, got {v:?}"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn roles_are_enforced_in_core_for_every_action() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_800_000_000);
        let d = deps(store, &clock);
        let (slug, owner, admin, member) = team(&d).await;
        let mia = user_id(&d, "mia@example.com").await;
        let adam = user_id(&d, "adam@example.com").await;
        let olga = user_id(&d, "olga@example.com").await;
        let c = client();

        // A member: sees the members, nothing of the invitations, changes nothing.
        let v = orgs::view(&d, &member, &slug).await.expect("member view");
        assert_eq!(v.my_role, Role::Member);
        assert_eq!(v.members.len(), 3);
        assert!(v.invitations.is_none());
        let e = refused(
            orgs::invite(&d, &member, &slug, "x@example.com", "member", &c).await,
            "member invites",
        );
        assert!(matches!(e, OrgError::NotAllowed), "{e:?}");
        let e = refused(
            orgs::change_role(&d, &member, &slug, &adam, "member", &c).await,
            "member demotes an admin",
        );
        assert!(matches!(e, OrgError::NotAllowed), "{e:?}");
        let e = refused(
            orgs::remove(&d, &member, &slug, &adam, &c).await,
            "member removes",
        );
        assert!(matches!(e, OrgError::NotAllowed), "{e:?}");
        let e = refused(
            orgs::transfer(&d, &member, &slug, &adam, &c).await,
            "member transfers",
        );
        assert!(matches!(e, OrgError::NotAllowed), "{e:?}");
        let e = refused(
            orgs::change_role(&d, &member, &slug, &mia, "admin", &c).await,
            "member promotes themself",
        );
        assert!(matches!(e, OrgError::NotAllowed), "{e:?}");

        // An admin: manages admins and members, never owners.
        let v = orgs::view(&d, &admin, &slug).await.expect("admin view");
        assert_eq!(v.invitations.map(|i| i.len()), Some(2));
        let e = refused(
            orgs::invite(&d, &admin, &slug, "x@example.com", "owner", &c).await,
            "admin invites an owner",
        );
        assert!(matches!(e, OrgError::NotAllowed), "{e:?}");
        let e = refused(
            orgs::change_role(&d, &admin, &slug, &olga, "member", &c).await,
            "admin demotes the owner",
        );
        assert!(matches!(e, OrgError::NotAllowed), "{e:?}");
        let e = refused(
            orgs::change_role(&d, &admin, &slug, &mia, "owner", &c).await,
            "admin makes an owner",
        );
        assert!(matches!(e, OrgError::NotAllowed), "{e:?}");
        let e = refused(
            orgs::remove(&d, &admin, &slug, &olga, &c).await,
            "admin removes the owner",
        );
        assert!(matches!(e, OrgError::NotAllowed), "{e:?}");
        assert_eq!(
            orgs::change_role(&d, &admin, &slug, &mia, "admin", &c)
                .await
                .expect("admin promotes a member"),
            Role::Admin
        );
        assert_eq!(
            role(&d, &owner, &slug, "mia@example.com").await,
            Some(Role::Admin)
        );
        let e = refused(
            orgs::change_role(&d, &admin, &slug, &mia, "superuser", &c).await,
            "unknown role",
        );
        assert!(matches!(e, OrgError::Role), "{e:?}");

        // A stranger learns nothing, not even that the organization exists.
        let stranger = person(&d, "sam@example.com").await;
        for e in [
            refused(orgs::view(&d, &stranger, &slug).await, "stranger views"),
            refused(orgs::view(&d, &stranger, "no-such-org").await, "no org"),
            refused(
                orgs::invite(&d, &stranger, &slug, "x@example.com", "member", &c).await,
                "stranger invites",
            ),
            refused(
                orgs::leave(&d, &stranger, &slug, &c).await,
                "stranger leaves",
            ),
        ] {
            assert!(matches!(e, OrgError::NotFound), "{e:?}");
        }

        // G1: the member saw their role change, naming who did it.
        let mut c2 = d.store.read().await.expect("conn");
        let ev = gatehouse_core::mechanisms::events::recent(&mut c2, &mia, 1)
            .await
            .expect("events")
            .remove(0);
        assert_eq!(ev.kind, EventKind::OrgRoleChanged);
        assert_eq!(ev.org.as_deref(), Some("Acme Corp"));
        assert_eq!(ev.actor.as_deref(), Some("Ada Lovelace (adam@example.com)"));
    }
}

#[tokio::test]
async fn the_last_owner_can_never_be_removed_demoted_or_leave() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_800_000_000);
        let d = deps(store, &clock);
        let (slug, owner, admin, _member) = team(&d).await;
        let olga = user_id(&d, "olga@example.com").await;
        let adam = user_id(&d, "adam@example.com").await;
        let c = client();
        let e = refused(
            orgs::leave(&d, &owner, &slug, &c).await,
            "last owner leaves",
        );
        assert!(matches!(e, OrgError::LastOwner), "{e:?}");
        let e = refused(
            orgs::change_role(&d, &owner, &slug, &olga, "admin", &c).await,
            "last owner demotes themself",
        );
        assert!(matches!(e, OrgError::LastOwner), "{e:?}");
        let e = refused(
            orgs::remove(&d, &owner, &slug, &olga, &c).await,
            "last owner removes themself",
        );
        assert!(matches!(e, OrgError::LastOwner), "{e:?}");
        assert_eq!(
            role(&d, &owner, &slug, "olga@example.com").await,
            Some(Role::Owner)
        );

        // With a second owner, the first may step down and leave; then the second is the last.
        orgs::change_role(&d, &owner, &slug, &adam, "owner", &c)
            .await
            .expect("second owner");
        orgs::leave(&d, &owner, &slug, &c).await.expect("leave");
        let e = refused(orgs::view(&d, &owner, &slug).await, "after leaving");
        assert!(matches!(e, OrgError::NotFound), "{e:?}");
        let e = refused(
            orgs::change_role(&d, &admin, &slug, &adam, "member", &c).await,
            "the new last owner demotes themself",
        );
        assert!(matches!(e, OrgError::LastOwner), "{e:?}");
    }
}

/// Two owners demote each other at the same moment: exactly one succeeds (PostgreSQL, where
/// transactions really run side by side). Repeated so that the race is actually run.
#[tokio::test]
async fn the_last_owner_guard_holds_under_two_concurrent_demotions_on_postgres() {
    let store = testing::postgres()
        .await
        .expect("the PostgreSQL half runs whenever GATEHOUSE_TEST_POSTGRES is set");
    let clock = FixedClock::at(1_800_000_000);
    let d = deps(store, &clock);
    let a = person(&d, "anna@example.com").await;
    let b = person(&d, "bert@example.com").await;
    let anna = user_id(&d, "anna@example.com").await;
    let bert = user_id(&d, "bert@example.com").await;
    let c = client();
    for round in 0..12 {
        // R7: one account makes a few organizations a day; the race needs twelve.
        clock.advance(86_401);
        let org = orgs::create(&d, &a, &format!("Race {round}"), &c)
            .await
            .expect("create");
        join(&d, &a, &org.slug, &b, "bert@example.com", Role::Owner).await;
        let (x, y) = tokio::join!(
            orgs::change_role(&d, &a, &org.slug, &bert, "admin", &c),
            orgs::change_role(&d, &b, &org.slug, &anna, "admin", &c),
        );
        let ok = [x.is_ok(), y.is_ok()].iter().filter(|o| **o).count();
        assert_eq!(ok, 1, "round {round}: exactly one demotion goes through");
        for r in [x, y] {
            if let Err(e) = r {
                assert!(
                    matches!(e, OrgError::LastOwner | OrgError::NotAllowed),
                    "round {round}: {e:?}"
                );
            }
        }
        let v = orgs::view(&d, &a, &org.slug).await.expect("view");
        let owners = v.members.iter().filter(|m| m.role == Role::Owner).count();
        assert_eq!(owners, 1, "round {round}: one owner is left");
    }
}

#[tokio::test]
async fn invitations_accept_decline_expire_resend_and_revoke() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_800_000_000);
        let d = deps(store, &clock);
        let owner = person(&d, "olga@example.com").await;
        let bob = person(&d, "bob@example.com").await;
        let cat = person(&d, "cat@example.com").await;
        let dan = person(&d, "dan@example.com").await;
        let c = client();
        let org = orgs::create(&d, &owner, "Acme", &c).await.expect("create");
        let slug = org.slug.as_str();

        // Bob accepts: the role applies at once (an admin may invite).
        orgs::invite(&d, &owner, slug, " Bob@Example.com ", "admin", &c)
            .await
            .expect("invite bob");
        let token = invitation_token(&d, "bob@example.com").await;
        let w = orgs::waiting(&d, &bob).await.expect("waiting");
        assert_eq!(w.len(), 1);
        assert_eq!((w[0].org_name.as_str(), w[0].role), ("Acme", Role::Admin));
        assert_eq!(w[0].invited_by.as_deref(), Some("Ada Lovelace"));
        assert!(orgs::waiting(&d, &dan).await.expect("dan").is_empty());
        // Someone else cannot answer Bob's invitation.
        let e = refused(
            orgs::answer(&d, &dan, &w[0].id, true, &c).await,
            "dan accepts bob's",
        );
        assert!(matches!(e, OrgError::InvitationGone), "{e:?}");
        let e = refused(
            orgs::invite(&d, &owner, slug, "bob@example.com", "member", &c).await,
            "pending twice",
        );
        assert!(matches!(e, OrgError::AlreadyInvited), "{e:?}");
        orgs::answer(&d, &bob, &w[0].id, true, &c)
            .await
            .expect("accept");
        assert_eq!(
            role(&d, &owner, slug, "bob@example.com").await,
            Some(Role::Admin)
        );
        orgs::invite(&d, &bob, slug, "eve@example.com", "member", &c)
            .await
            .expect("bob, now an admin, invites");
        let e = refused(
            orgs::answer(&d, &bob, &w[0].id, true, &c).await,
            "accept twice",
        );
        assert!(matches!(e, OrgError::InvitationGone), "{e:?}");
        let e = refused(
            orgs::invite(&d, &owner, slug, "bob@example.com", "member", &c).await,
            "a member again",
        );
        assert!(matches!(e, OrgError::AlreadyMember), "{e:?}");
        match orgs::link_view(&d, Some(&bob), &token).await.expect("link") {
            LinkView::Found { state, for_me, .. } => {
                assert_eq!((state, for_me), (InvitationState::Accepted, Some(true)))
            }
            LinkView::Unknown => panic!("bob's link is known"),
        }
        let bob_events = event_kinds(&d, &user_id(&d, "bob@example.com").await).await;
        assert!(bob_events.contains(&EventKind::OrgJoined), "{bob_events:?}");

        // Cat declines: no membership.
        orgs::invite(&d, &owner, slug, "cat@example.com", "member", &c)
            .await
            .expect("invite cat");
        let w = orgs::waiting(&d, &cat).await.expect("waiting");
        orgs::answer(&d, &cat, &w[0].id, false, &c)
            .await
            .expect("decline");
        assert_eq!(role(&d, &owner, slug, "cat@example.com").await, None);

        // Dan's expires after 7 days; a resend gives a new link and kills the old one.
        orgs::invite(&d, &owner, slug, "dan@example.com", "member", &c)
            .await
            .expect("invite dan");
        let old = invitation_token(&d, "dan@example.com").await;
        let id = orgs::waiting(&d, &dan).await.expect("w")[0].id.clone();
        clock.advance(7 * 86_400);
        assert!(orgs::waiting(&d, &dan).await.expect("w").is_empty());
        let e = refused(orgs::answer(&d, &dan, &id, true, &c).await, "expired");
        assert!(matches!(e, OrgError::InvitationGone), "{e:?}");
        let states = |v: orgs::OrgView| {
            v.invitations
                .expect("owner sees invitations")
                .into_iter()
                .map(|i| (i.email.clone(), i.state(clock_now(&d))))
                .collect::<Vec<_>>()
        };
        let listed = states(orgs::view(&d, &owner, slug).await.expect("view"));
        assert!(listed.contains(&("dan@example.com".into(), InvitationState::Expired)));
        assert!(listed.contains(&("cat@example.com".into(), InvitationState::Declined)));
        assert!(listed.contains(&("bob@example.com".into(), InvitationState::Accepted)));
        orgs::resend(&d, &owner, slug, &id, &c)
            .await
            .expect("resend");
        let new = invitation_token(&d, "dan@example.com").await;
        assert_ne!(old, new);
        assert!(matches!(
            orgs::link_view(&d, None, &old).await.expect("old"),
            LinkView::Unknown
        ));
        match orgs::link_view(&d, Some(&owner), &new).await.expect("new") {
            LinkView::Found { state, for_me, .. } => {
                assert_eq!((state, for_me), (InvitationState::Pending, Some(false)))
            }
            LinkView::Unknown => panic!("the new link works"),
        }

        // Revoked: the link shows it, nobody can accept, it cannot be resent.
        orgs::revoke(&d, &owner, slug, &id, &c)
            .await
            .expect("revoke");
        let e = refused(orgs::answer(&d, &dan, &id, true, &c).await, "revoked");
        assert!(matches!(e, OrgError::InvitationGone), "{e:?}");
        let e = refused(
            orgs::resend(&d, &owner, slug, &id, &c).await,
            "resend revoked",
        );
        assert!(matches!(e, OrgError::Answered), "{e:?}");
        let listed = states(orgs::view(&d, &owner, slug).await.expect("view"));
        assert!(listed.contains(&("dan@example.com".into(), InvitationState::Revoked)));
    }
}

fn clock_now(d: &Deps) -> i64 {
    d.now()
}

/// E1: inviting an address with an account and one without answers alike and sends the same
/// email; a new person registering through the link joins when their address is verified.
#[tokio::test]
async fn e1_invitations_do_not_tell_accounts_apart_and_a_new_person_joins_through_the_link() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_800_000_000);
        let d = deps(store, &clock);
        let owner = person(&d, "olga@example.com").await;
        verified_user(&d, "has@example.com").await;
        let c = client();
        let org = orgs::create(&d, &owner, "Acme", &c).await.expect("create");
        let a = orgs::invite(&d, &owner, &org.slug, "has@example.com", "member", &c).await;
        let b = orgs::invite(&d, &owner, &org.slug, "new@example.com", "member", &c).await;
        assert_eq!(a.expect("has").as_str(), "has@example.com");
        assert_eq!(b.expect("new").as_str(), "new@example.com");
        let (ma, mb) = (
            last_to(&d, "has@example.com").await,
            last_to(&d, "new@example.com").await,
        );
        assert_eq!(ma.subject, mb.subject);
        let strip = |t: &str| t.split("token=").next().unwrap_or_default().to_string();
        assert_eq!(strip(&ma.text), strip(&mb.text));

        // The new person registers through the link and verifies their address.
        let token = invitation_token(&d, "new@example.com").await;
        let r = Registration {
            email: "new@example.com".into(),
            first_name: "Nina".into(),
            last_name: "New".into(),
            password: PW.into(),
            confirm: PW.into(),
            mfa_method: "email".into(),
            phone: String::new(),
            invitation: token,
        };
        accounts::register(&d, &r, &c).await.expect("register");
        let verify = last_to(&d, "new@example.com").await;
        let vt = verify
            .text
            .split("token=")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .expect("verification link")
            .to_string();
        accounts::verify_email(&d, &vt, &c).await.expect("verify");
        let nina = signed_in(&d, "new@example.com").await;
        let nina = session(&d, &nina).await;
        let mine = orgs::mine(&d, &nina).await.expect("mine");
        assert_eq!(mine.len(), 1, "joined through the link");
        assert_eq!((mine[0].0.name.as_str(), mine[0].1), ("Acme", Role::Member));
    }
}

#[tokio::test]
async fn s5_ownership_goes_to_an_admin_after_a_fresh_sign_in_and_both_are_told() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_800_000_000);
        let d = deps(store, &clock);
        let (slug, owner, _admin, _member) = team(&d).await;
        let adam = user_id(&d, "adam@example.com").await;
        let mia = user_id(&d, "mia@example.com").await;
        let c = client();
        let e = refused(
            orgs::transfer(&d, &owner, &slug, &mia, &c).await,
            "to a member",
        );
        assert!(matches!(e, OrgError::NotAdmin), "{e:?}");
        clock.advance(601);
        let e = refused(
            orgs::transfer(&d, &owner, &slug, &adam, &c).await,
            "stale sign-in",
        );
        assert!(matches!(e, OrgError::ReauthRequired), "{e:?}");
        assert_eq!(
            role(&d, &owner, &slug, "adam@example.com").await,
            Some(Role::Admin)
        );

        let fresh = signed_in(&d, "olga@example.com").await;
        let owner = session(&d, &fresh).await;
        orgs::transfer(&d, &owner, &slug, &adam, &c)
            .await
            .expect("transfer");
        assert_eq!(
            role(&d, &owner, &slug, "adam@example.com").await,
            Some(Role::Owner)
        );
        assert_eq!(
            role(&d, &owner, &slug, "olga@example.com").await,
            Some(Role::Admin)
        );
        let to_adam = last_to(&d, "adam@example.com").await;
        assert!(
            to_adam.text.contains("made you an owner of Acme Corp"),
            "{}",
            to_adam.text
        );
        let to_olga = last_to(&d, "olga@example.com").await;
        assert!(
            to_olga
                .text
                .contains("You handed over ownership of Acme Corp"),
            "{}",
            to_olga.text
        );
        let ev = event_kinds(&d, &adam).await;
        assert_eq!(ev.first(), Some(&EventKind::OrgOwnershipReceived));
    }
}

fn policy(
    email: bool,
    sms: bool,
    mfa: &[gatehouse_core::values::factors::MfaMethod],
    codes: &str,
) -> Result<gatehouse_core::values::org::Policy, gatehouse_core::values::org::PolicyError> {
    gatehouse_core::values::org::Policy::from_form(email, sms, mfa, codes)
}

#[tokio::test]
async fn f7_only_owners_and_admins_set_the_rules_and_every_member_sees_the_change() {
    use gatehouse_core::values::factors::MfaMethod::*;
    for store in testing::all().await {
        let clock = FixedClock::at(1_800_000_000);
        let d = deps(store, &clock);
        let (slug, owner, admin, member) = team(&d).await;
        let c = client();
        let e = refused(
            orgs::save_settings(&d, &member, &slug, policy(true, false, &[Email], ""), &c).await,
            "a member sets the rules",
        );
        assert!(matches!(e, OrgError::NotAllowed), "{e:?}");
        assert!(orgs::view(&d, &member, &slug)
            .await
            .expect("v")
            .policy
            .is_none());
        let e = refused(
            orgs::save_settings(&d, &owner, &slug, policy(false, false, &[Email], ""), &c).await,
            "no recovery method",
        );
        assert_eq!(e.to_string(), "Keep at least one recovery method.");
        orgs::save_settings(
            &d,
            &admin,
            &slug,
            policy(true, false, &[Authenticator], "+44"),
            &c,
        )
        .await
        .expect("an admin sets them");
        let p = orgs::view(&d, &owner, &slug)
            .await
            .expect("v")
            .policy
            .expect("owner sees");
        assert_eq!(p, policy(true, false, &[Authenticator], "+44").expect("p"));
        let mia = user_id(&d, "mia@example.com").await;
        assert_eq!(
            event_kinds(&d, &mia).await.first(),
            Some(&EventKind::OrgSettingsChanged)
        );
    }
}

/// F7, the strictest wins: a person in an email-only organization asking for a code by text
/// message gets none (and an email saying what is allowed); the page's answer is the one an
/// unknown address gets (F1).
#[tokio::test]
async fn f7_recovery_goes_only_the_ways_every_organization_of_the_person_allows() {
    use gatehouse_core::flows::recovery::{self, Forgot};
    use gatehouse_core::values::factors::MfaMethod::*;
    for store in testing::all().await {
        let clock = FixedClock::at(1_800_000_000);
        let d = deps(store, &clock);
        let c = client();
        let grace = sms_user(&d, "grace@example.com", "+1 555 010 0200").await;
        let grace = session(&d, &grace).await;
        let owner = person(&d, "olga@example.com").await;
        let a = orgs::create(&d, &owner, "Email Only", &c).await.expect("a");
        join(
            &d,
            &owner,
            &a.slug,
            &grace,
            "grace@example.com",
            Role::Member,
        )
        .await;
        orgs::save_settings(
            &d,
            &owner,
            &a.slug,
            policy(true, false, &[Email, Sms], ""),
            &c,
        )
        .await
        .expect("rules");
        let texts = |d: &Deps| {
            let d = d.clone();
            async move {
                let mut c = d.store.read().await.expect("conn");
                outbox::recent(&mut c, 100)
                    .await
                    .expect("recent")
                    .into_iter()
                    .filter(|q| q.message.channel == outbox::Channel::Sms)
                    .count()
            }
        };
        let before = texts(&d).await;
        let asked = recovery::forgot(&d, None, "grace@example.com", true, &c)
            .await
            .expect("asked");
        let unknown = recovery::forgot(&d, None, "nobody@example.com", true, &c)
            .await
            .expect("unknown");
        assert!(matches!(asked, Forgot::SmsCode(_)) && matches!(unknown, Forgot::SmsCode(_)));
        assert_eq!(texts(&d).await, before, "no code by text message");
        let told = last_to(&d, "grace@example.com").await;
        assert_eq!(told.subject, "Your password reset request");
        assert!(
            told.text.contains("Email Only allows only a link by email"),
            "{}",
            told.text
        );

        // F7/F8: the Security tab's "Send reset password link" asks the same rules: her
        // factor's channel (text message) is not allowed, so the link goes by email.
        let sent = recovery::send_link_to_factor(&d, &grace, &c)
            .await
            .expect("sent");
        assert!(
            !sent.via_sms,
            "f7_the_security_tab_link_follows_the_organizations_rules"
        );
        assert_eq!(texts(&d).await, before, "no link by text message");
        let link = last_to(&d, "grace@example.com").await;
        assert!(
            link.text.contains("/reset-password/open?token="),
            "{}",
            link.text
        );

        // The email link still works for her.
        recovery::forgot(&d, None, "grace@example.com", false, &c)
            .await
            .expect("link");
        let link = last_to(&d, "grace@example.com").await;
        assert!(
            link.text.contains("/reset-password/open?token="),
            "{}",
            link.text
        );

        // A second organization allowing only text messages: together, no way is left.
        let b = orgs::create(&d, &owner, "Sms Only", &c).await.expect("b");
        join(
            &d,
            &owner,
            &b.slug,
            &grace,
            "grace@example.com",
            Role::Member,
        )
        .await;
        orgs::save_settings(
            &d,
            &owner,
            &b.slug,
            policy(false, true, &[Email, Sms], ""),
            &c,
        )
        .await
        .expect("rules");
        recovery::forgot(&d, None, "grace@example.com", false, &c)
            .await
            .expect("asked");
        let told = last_to(&d, "grace@example.com").await;
        assert!(
            told.text.contains("no self-service password reset"),
            "{}",
            told.text
        );
        // … and the Security tab refuses to send one, saying why.
        match recovery::send_link_to_factor(&d, &grace, &c).await {
            Err(recovery::RecoveryError::NotAllowed(words)) => {
                assert!(words.contains("no self-service password reset"), "{words}")
            }
            other => panic!("expected NotAllowed, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn f7_a_method_an_organization_no_longer_allows_is_to_be_changed_at_the_next_sign_in() {
    use gatehouse_core::flows::login;
    use gatehouse_core::flows::security::{self, Choice, SecurityError};
    use gatehouse_core::values::factors::MfaMethod::*;
    for store in testing::all().await {
        let clock = FixedClock::at(1_800_000_000);
        let d = deps(store, &clock);
        let c = client();
        let (slug, owner, _admin, _member) = team(&d).await;
        let mia = signed_in(&d, "mia@example.com").await;
        let mia = session(&d, &mia).await;
        assert_eq!(
            orgs::method_change_needed(&d, &mia).await.expect("ok"),
            None
        );
        orgs::save_settings(
            &d,
            &owner,
            &slug,
            policy(true, true, &[Authenticator], ""),
            &c,
        )
        .await
        .expect("authenticator only");
        // F7 (issue 24, item 6): the rule is enforced at sign-in. After the emailed code (the
        // factor active now, M13) the sign-in does not end: an authenticator is set up first,
        // on a partial session that can do nothing else (M5) — no signed-in page, no code for
        // an application.
        let setup = to_setup_step(&d, "mia@example.com").await;
        assert_eq!(
            setup.authenticated_user(),
            None,
            "f7_a_disallowed_method_finishes_sign_in_only_through_an_allowed_one"
        );
        let step = login::code_step(&d, &setup)
            .await
            .expect("step")
            .expect("live");
        let app = totp_from_key(&step.setup_key);
        let shown = login::verify_code(&d, &setup, &app.code_at(d.now()).expect("code"), &c)
            .await
            .expect("enrolled");
        let s = session(&d, shown.token().expose()).await;
        let t = login::acknowledge_recovery_codes(&d, &s, &c)
            .await
            .expect("signed in");
        let mia = session(&d, t.expose()).await;
        assert_eq!(
            orgs::method_change_needed(&d, &mia).await.expect("ok"),
            None,
            "the method is now one the organization allows"
        );
        // Only email allowed now: the authenticator is replaced by emailed codes at the next
        // sign-in, after the authenticator's code.
        orgs::save_settings(&d, &owner, &slug, policy(true, true, &[Email], ""), &c)
            .await
            .expect("email only");
        let s = to_password_step(&d, "mia@example.com").await;
        let login::PasswordOutcome::CodeSent(t) = login::submit_password(&d, &s, PW, &c)
            .await
            .expect("password");
        let s = session(&d, t.expose()).await;
        let done = login::verify_code(&d, &s, &app.code_at(d.now() + 30).expect("code"), &c)
            .await
            .expect("the authenticator's code");
        assert!(matches!(done, login::CodeOutcome::SignedIn(_)), "{done:?}");
        let mia_id = user_id(&d, "mia@example.com").await;
        let mut conn = d.store.read().await.expect("conn");
        let method = users::by_id(&mut conn, &mia_id)
            .await
            .expect("read")
            .expect("user")
            .mfa_method;
        drop(conn);
        assert_eq!(method, Email);
        // Authenticator only again, for the Security tab's refusals below.
        orgs::save_settings(
            &d,
            &owner,
            &slug,
            policy(true, true, &[Authenticator], ""),
            &c,
        )
        .await
        .expect("authenticator only");
        let mia = session(&d, done.token().expose()).await;
        let asked = orgs::method_change_needed(&d, &mia).await.expect("ok");
        assert_eq!(
            asked.as_deref(),
            Some("Acme Corp allows only these sign-in methods: Authenticator app. Choose another way to confirm sign-ins below.")
        );
        match security::change_method(&d, &mia, &Choice::Email, &c).await {
            Err(SecurityError::OrgRules(w)) => assert!(w.contains("Authenticator app"), "{w}"),
            other => panic!("F7: email refused, got {other:?}"),
        }
        // Text messages allowed, but only to +44: a +1 number is refused (R4 narrowed, F7).
        orgs::save_settings(
            &d,
            &owner,
            &slug,
            policy(true, true, &[Authenticator, Sms], "+44"),
            &c,
        )
        .await
        .expect("+44 only");
        let to_us = Choice::Sms {
            phone: "+1 555 010 0200".into(),
        };
        match security::change_method(&d, &mia, &to_us, &c).await {
            Err(SecurityError::Phone(_)) => {}
            other => panic!("F7: a +1 number refused, got {other:?}"),
        }
        security::change_method(&d, &mia, &Choice::Authenticator, &c)
            .await
            .expect("the allowed method");
    }
}

/// R4/R7 (issue 24, item 4): one account cannot relay mail through organizations it makes up:
/// organizations per account per day, invitations per inviter per hour across organizations and
/// per recipient per day from everyone are capped; the mail quotes the organization's name as
/// data, never as its subject.
#[tokio::test]
async fn r7_invitations_are_capped_per_inviter_and_recipient_across_organizations() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_800_000_000);
        let d = deps(store, &clock);
        let c = client();
        let spammer = person(&d, "sam@example.com").await;
        let mut slugs = Vec::new();
        for i in 0..gatehouse_core::flows::orgs::ORGS_PER_ACCOUNT_PER_DAY {
            let org = orgs::create(&d, &spammer, &format!("Your Bank Security Team {i}"), &c)
                .await
                .expect("org");
            slugs.push(org.slug);
        }
        assert!(matches!(
            orgs::create(&d, &spammer, "One more", &c).await,
            Err(OrgError::TooManyOrgs)
        ));
        // The same stranger from every organization: five a day, then no more from anyone.
        for slug in &slugs {
            orgs::invite(&d, &spammer, slug, "victim@example.com", "member", &c)
                .await
                .expect("invited");
        }
        let m = last_to(&d, "victim@example.com").await;
        assert_eq!(m.subject, "Invitation to an organization on Gatehouse");
        assert!(
            m.text.contains(
                "Organization name (as its owner typed it): \"Your Bank Security Team 4\""
            ),
            "{}",
            m.text
        );
        assert!(m.text.contains("you can ignore this email"), "{}", m.text);
        let other = person(&d, "olga@example.com").await;
        let theirs = orgs::create(&d, &other, "Other Org", &c)
            .await
            .expect("org");
        assert!(matches!(
            orgs::invite(&d, &other, &theirs.slug, "victim@example.com", "member", &c).await,
            Err(OrgError::RecipientLimited)
        ));
        // Many addresses, spread over organizations: the inviter's hourly budget holds.
        let per_inviter = gatehouse_core::flows::orgs::INVITES_PER_INVITER_PER_HOUR as usize;
        let mut refused = None;
        for i in 0..per_inviter {
            let slug = &slugs[i % slugs.len()];
            let r = orgs::invite(
                &d,
                &spammer,
                slug,
                &format!("p{i}@example.com"),
                "member",
                &c,
            )
            .await;
            if let Err(e) = r {
                refused = Some((i, e));
                break;
            }
        }
        let (at, e) = refused.expect("the inviter's cap is reached");
        assert_eq!(
            at,
            per_inviter - slugs.len(),
            "five went to the victim first"
        );
        assert!(matches!(e, OrgError::Limited { .. }), "{e:?}");
        // The next hour the inviter may send again; the victim's day is still full.
        clock.advance(3601);
        orgs::invite(&d, &spammer, &slugs[0], "late@example.com", "member", &c)
            .await
            .expect("a new hour");
    }
}
