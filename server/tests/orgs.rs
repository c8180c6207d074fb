//! Organizations over HTTP (issue 14): the role table holds when a member posts straight to
//! an admin's server function (no page involved), and a stranger gets 404 for an organization
//! that exists, as for one that does not.

mod support;

use support::flows::*;
use support::{Client, Server};

/// The value of the hidden input `name` in `page` (the first one).
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).expect("the hidden input") + marker.len();
    page[start..]
        .split('"')
        .next()
        .expect("its value")
        .to_string()
}

/// The member ids the Members table's forms name, in order (a row may have two forms).
fn member_ids(page: &str) -> Vec<String> {
    let marker = "name=\"member\" value=\"";
    page.match_indices(marker)
        .map(|(i, _)| {
            page[i + marker.len()..]
                .split('"')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn a_member_posting_to_admin_functions_directly_is_refused_and_nothing_changes() {
    let s = Server::start(&[]);
    let (mut owner, _) = sign_up_and_in(&s, "olga@example.com");
    let (mut member, _) = sign_up_and_in(&s, "mia@example.com");
    let (mut stranger, _) = sign_up_and_in(&s, "sam@example.com");

    let r = owner.form("/api/create_org", "/orgs", &[("name", "Acme Corp")]);
    assert_eq!(r.header("location"), Some("/orgs/acme-corp"));
    let page = owner.get("/orgs/acme-corp").body;
    assert!(
        page.contains("Acme Corp is created. You are its owner."),
        "{page}"
    );
    let owner_id = member_ids(&page).remove(0);

    let r = owner.form(
        "/api/send_invitation",
        "/orgs/acme-corp/invitations",
        &[
            ("slug", "acme-corp"),
            ("email", "mia@example.com"),
            ("role", "member"),
        ],
    );
    assert_eq!(r.header("location"), Some("/orgs/acme-corp/invitations"));
    // The emailed link's page (its token in the address) never sends a Referer (F4).
    let link = newest(
        &mut member,
        "mia@example.com",
        "Invitation to an organization",
        0,
    );
    let path = format!("/invitation?token={}", after(&link, "invitation?token="));
    let page = member.get(&path);
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert!(
        page.body.contains("to join Acme Corp as Member."),
        "{}",
        page.body
    );
    let dash = member.get("/profile").body;
    assert!(
        dash.contains("Acme Corp"),
        "the invitation waits on the Dashboard: {dash}"
    );
    let invitation = hidden(&dash, "invitation");
    let r = member.form(
        "/api/answer_invitation",
        "/profile",
        &[("invitation", &invitation), ("answer", "accept")],
    );
    assert_eq!(r.header("location"), Some("/orgs/acme-corp"));
    let page = member.get("/orgs/acme-corp").body;
    assert!(
        page.contains("Welcome to Acme Corp. Your role: Member."),
        "{page}"
    );
    // A member's page offers no admin actions…
    assert!(!page.contains("Change role"), "{page}");
    assert!(member_ids(&page).is_empty(), "{page}");

    // …and posting to them directly changes nothing.
    let refused = "Your role in this organization does not allow that.";
    let attempts: [(&str, Vec<(&str, &str)>); 4] = [
        (
            "/api/send_invitation",
            vec![
                ("slug", "acme-corp"),
                ("email", "pal@example.com"),
                ("role", "admin"),
            ],
        ),
        (
            "/api/change_member_role",
            vec![
                ("slug", "acme-corp"),
                ("member", &owner_id),
                ("role", "member"),
            ],
        ),
        (
            "/api/remove_member",
            vec![("slug", "acme-corp"), ("member", &owner_id)],
        ),
        (
            "/api/transfer_ownership",
            vec![("slug", "acme-corp"), ("member", &owner_id)],
        ),
    ];
    for (path, fields) in attempts {
        let r = member.form(path, "/orgs/acme-corp", &fields);
        assert_eq!(r.status, 303, "{path}");
        let back = r.header("location").expect("back to the page").to_string();
        let page = member.get(&back).body;
        assert!(page.contains(refused), "{path}: {page}");
    }
    let page = owner.get("/orgs/acme-corp/invitations").body;
    assert!(
        !page.contains("pal@example.com"),
        "no invitation was sent: {page}"
    );
    assert!(
        page.contains("mia@example.com"),
        "the owner's list is there: {page}"
    );
    let page = owner.get("/orgs/acme-corp").body;
    let mut ids = member_ids(&page);
    ids.dedup();
    assert_eq!(ids.len(), 2, "still two members, the owner first: {page}");
    assert_eq!(ids[0], owner_id);
    assert!(
        page.contains("<span>Owner</span>") || page.contains("selected>Owner"),
        "{page}"
    );

    // A stranger: 404 for this organization, as for one that does not exist.
    let r = stranger.get("/orgs/acme-corp");
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("Page not found"), "{}", r.body);
    assert_eq!(stranger.get("/orgs/no-such-org").status, 404);
    let r = stranger.form(
        "/api/send_invitation",
        "/orgs/acme-corp",
        &[
            ("slug", "acme-corp"),
            ("email", "pal@example.com"),
            ("role", "member"),
        ],
    );
    assert_eq!(r.status, 303);
    let page = stranger.get("/orgs/acme-corp/invitations");
    assert_eq!(page.status, 404);
    // Signed out: to sign-in.
    let r = Client::new(&s).get("/orgs/acme-corp");
    assert_eq!(r.header("location"), Some("/login"), "{}", r.body);
}

/// The support console: 404 for everyone without the role (signed out too), even for its
/// actions; a support person finds a person, unlocks them, and the person's activity names who
/// did it (G1) and they are emailed.
#[test]
fn the_support_console_is_404_for_everyone_else_and_its_actions_name_the_support_person() {
    let s = Server::start(&[]);
    let (mut sue, _) = sign_up_and_in(&s, "sue@example.com");
    let (mut ada, _) = sign_up_and_in(&s, "ada@example.com");
    assert_eq!(sue.get("/support").status, 404, "not support yet");
    let out = s.cli(&["user", "grant-support", "sue@example.com"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = sue.get("/support");
    assert_eq!(page.status, 200);
    assert!(page.body.contains(">Support<"), "{}", page.body);
    assert_eq!(ada.get("/support").status, 404);
    assert_eq!(Client::new(&s).get("/support").status, 404);
    let r = ada.form(
        "/api/support_unlock",
        "/support",
        &[("email", "sue@example.com")],
    );
    assert_eq!(r.status, 404, "{}", r.body);

    let page = sue.get("/support?email=ada%40example.com").body;
    assert!(page.contains("Recent security activity"), "{page}");
    assert!(
        page.contains("Unlock account"),
        "fresh sign-in, no re-authentication: {page}"
    );
    let r = sue.form(
        "/api/support_unlock",
        "/support?email=ada%40example.com",
        &[("email", "ada@example.com")],
    );
    assert_eq!(
        r.header("location"),
        Some("/support?email=ada%40example.com")
    );
    let page = sue.get("/support?email=ada%40example.com").body;
    assert!(page.contains("Done: they can sign in again."), "{page}");
    let mail = newest(&mut sue, "ada@example.com", "Your account was unlocked", 0);
    assert!(mail.contains("support lifted the pause"), "{mail}");
    let theirs = ada.get("/profile/security").body;
    assert!(
        theirs.contains("Sign-in unlocked by support (by Ada Lovelace (sue@example.com))"),
        "{theirs}"
    );
    let page = sue.get("/support?email=nobody%40example.com").body;
    assert!(
        page.contains("No account uses that email address."),
        "{page}"
    );
}

/// F7: when an organization no longer allows a member's method, their next sign-in lands on
/// the Security tab, which says why; choosing a method it does not allow is refused there.
#[test]
fn f7_a_member_whose_method_is_no_longer_allowed_sets_up_an_allowed_one_before_sign_in_ends() {
    let s = Server::start(&[]);
    let (mut owner, _) = sign_up_and_in(&s, "olga@example.com");
    let (mut member, _) = sign_up_and_in(&s, "mia@example.com");
    owner.form("/api/create_org", "/orgs", &[("name", "Strict Co")]);
    owner.form(
        "/api/send_invitation",
        "/orgs/strict-co/invitations",
        &[
            ("slug", "strict-co"),
            ("email", "mia@example.com"),
            ("role", "member"),
        ],
    );
    let invitation = hidden(&member.get("/profile").body, "invitation");
    member.form(
        "/api/answer_invitation",
        "/profile",
        &[("invitation", &invitation), ("answer", "accept")],
    );
    // No recovery method at all: refused next to the group, what was ticked kept.
    owner.form(
        "/api/save_org_settings",
        "/orgs/strict-co/settings",
        &[
            ("slug", "strict-co"),
            ("mfa_totp", "on"),
            ("sms_codes", "+44"),
        ],
    );
    let page = owner.get("/orgs/strict-co/settings").body;
    assert!(
        page.contains("Keep at least one recovery method."),
        "{page}"
    );
    assert!(page.contains("value=\"+44\""), "{page}");
    let r = owner.form(
        "/api/save_org_settings",
        "/orgs/strict-co/settings",
        &[
            ("slug", "strict-co"),
            ("recovery_email", "on"),
            ("mfa_totp", "on"),
            ("sms_codes", ""),
        ],
    );
    assert_eq!(r.header("location"), Some("/orgs/strict-co/settings"));
    assert!(owner
        .get("/orgs/strict-co/settings")
        .body
        .contains("The rules are saved."));

    // Mia signs in again with her emailed code.
    let mut again = Client::new(&s);
    again.form(
        "/api/login_email",
        "/login",
        &[("email", "mia@example.com")],
    );
    let before = count(&mut again, "mia@example.com", "sign-in code");
    again.form("/api/login_password", "/login", &[("password", PW)]);
    let code = after(
        &newest(&mut again, "mia@example.com", "sign-in code", before),
        "code is ",
    )
    .to_string();
    // F7 (issue 24, item 6): the rule is enforced, not advised. After the emailed code the
    // sign-in does not end: the authenticator is set up first, and until then no signed-in
    // page answers (nor an application's authorization: the sign-in never finished).
    let r = again.form("/api/login_code", "/login", &[("code", &code)]);
    assert_eq!(r.header("location"), Some("/login"), "{}", r.body);
    let page = again.get("/login").body;
    assert!(page.contains("Set up your authenticator app"), "{page}");
    let r = again.get("/profile");
    assert_eq!(
        (r.status, r.header("location")),
        (302, Some("/login")),
        "f7_no_signed_in_page_before_an_allowed_method"
    );
    let app = gatehouse_core::mechanisms::totp::TotpSecret::from_setup_key(&setup_key_on(&page))
        .expect("base32");
    let now = unix_now();
    let r = again.form(
        "/api/login_code",
        "/login",
        &[("code", &app.code_at(now).expect("code"))],
    );
    assert_eq!(r.status, 303);
    let r = again.form("/api/ack_recovery_codes", "/login", &[]);
    assert_eq!(r.header("location"), Some("/profile"));
    let page = again.get("/profile/security").body;
    assert!(
        !page.contains("Choose another way to confirm sign-ins below"),
        "nothing left to change: {page}"
    );
    // The Security tab still refuses a method the organization does not allow.
    again.form(
        "/api/save_mfa_method",
        "/profile/security",
        &[("mfa_method", "email")],
    );
    let page = again.get("/profile/security").body;
    assert!(
        page.contains("Strict Co allows only these sign-in methods: Authenticator app."),
        "the refusal next to the choice: {page}"
    );
}
