//! The provider's codes and tokens on both databases (issue 13): O2 (codes: single use, 60 s,
//! bound to client, redirect URI and PKCE verifier; a replay revokes what the code issued) and
//! O3 (refresh tokens rotate; a reused one revokes the chain), consent and "Remove access".

mod common;

use common::*;
use gatehouse_core::mechanisms::oidc_clients::{self, ClientSpec};
use gatehouse_core::mechanisms::oidc_grants::{self as grants, CodeRequest, Grant, GrantError};
use gatehouse_core::mechanisms::users;
use gatehouse_core::store::testing;
use gatehouse_core::values::clock::FixedClock;
use gatehouse_core::values::oidc::{Alg, CodeChallenge, OAuthError, Scopes};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const URI: &str = "https://wiki.example.com/cb";

fn spec(name: &str) -> ClientSpec {
    ClientSpec {
        name: name.into(),
        redirect_uris: vec![URI.into()],
        public: false,
        first_party: false,
        logout_uri: None,
        post_logout_uris: Vec::new(),
        alg: Alg::Rs256,
    }
}

/// A person and two clients; returns (user id, client id, other client id).
async fn setup(d: &gatehouse_core::mechanisms::service::Deps) -> (String, String, String) {
    // Before any connection is held: SQLite has one writer.
    verified_user(d, "ada@example.com").await;
    let mut c = d.store.conn().await.expect("conn");
    let c = &mut c;
    let e = gatehouse_core::values::email::Email::parse("ada@example.com").expect("email");
    let user = users::by_email(c, &e).await.expect("load").expect("user");
    let (wiki, _) = oidc_clients::create(c, &spec("Wiki"), 1)
        .await
        .expect("client");
    let (other, _) = oidc_clients::create(c, &spec("Chat"), 1)
        .await
        .expect("client");
    (user.id, wiki.id, other.id)
}

/// G1: the newest security event of `user`.
async fn newest_event(
    c: &mut gatehouse_core::store::Conn,
    user: &str,
) -> Option<gatehouse_core::mechanisms::events::EventKind> {
    gatehouse_core::mechanisms::events::recent(c, user, 1)
        .await
        .expect("events")
        .first()
        .map(|e| e.kind)
}

fn who() -> gatehouse_core::mechanisms::sessions::ClientInfo {
    gatehouse_core::mechanisms::sessions::ClientInfo {
        ip: "198.51.100.7".into(),
        user_agent: "wiki-backend".into(),
    }
}

fn request(user: &str, client: &str) -> CodeRequest {
    CodeRequest {
        grant: Grant {
            family: String::new(),
            client_id: client.into(),
            user_id: user.into(),
            sid: "sid-1".into(),
            scope: Scopes::parse("openid profile offline_access").expect("scope"),
            auth_time: 1000,
            amr: "pwd otp mfa".into(),
        },
        redirect_uri: URI.into(),
        nonce: Some("n-0S6_WzA2Mj".into()),
        challenge: CodeChallenge::parse(Some(CHALLENGE), Some("S256")).expect("pkce"),
    }
}

/// A code issued to `wiki` at 1000 and redeemed at 1001: its grant (a new family).
async fn redeemed(c: &mut gatehouse_core::store::Conn, user: &str, wiki: &str) -> Grant {
    let code = grants::issue_code(c, &request(user, wiki), 1000)
        .await
        .expect("code");
    grants::redeem_code(c, code.expose(), wiki, URI, VERIFIER, &who(), 1001)
        .await
        .expect("first use")
        .0
}

/// An access token `name` and a refresh token of `grant`'s family, issued at 1001.
async fn tokens(c: &mut gatehouse_core::store::Conn, grant: &Grant, name: &str) -> String {
    grants::store_token(c, grants::TokenKind::Access, name, grant, 600, 1001)
        .await
        .expect("access");
    grants::new_refresh(c, grant, 86_400, 1001)
        .await
        .expect("refresh")
        .expose()
        .to_string()
}

fn refused(r: Result<impl std::fmt::Debug, GrantError>) -> &'static str {
    match r {
        Err(GrantError::Refused(x)) => {
            assert_eq!(x.error, OAuthError::InvalidGrant);
            x.description
        }
        other => panic!("expected invalid_grant, got {other:?}"),
    }
}

#[tokio::test]
async fn o2_a_code_is_good_once_for_59_seconds_and_only_with_its_client_uri_and_verifier() {
    for store in testing::all().await {
        let d = deps(store, &FixedClock::at(1000));
        let (user, wiki, chat) = setup(&d).await;
        let mut c = d.store.conn().await.expect("conn");
        let code = grants::issue_code(&mut c, &request(&user, &wiki), 1000)
            .await
            .expect("code");
        assert_eq!(code.expose().len(), 64, "256 bits");
        let stored: String = sqlx::query_scalar("SELECT code_hash FROM oidc_codes")
            .fetch_one(&mut *c)
            .await
            .expect("row");
        assert_eq!(stored, code.digest(), "O2: only the digest is stored");
        let (grant, nonce) =
            grants::redeem_code(&mut c, code.expose(), &wiki, URI, VERIFIER, &who(), 1059)
                .await
                .expect("59 s after issue the code works");
        assert_eq!(
            nonce.as_deref(),
            Some("n-0S6_WzA2Mj"),
            "nonce carried through"
        );
        assert_eq!(
            (grant.user_id.as_str(), grant.sid.as_str()),
            (user.as_str(), "sid-1")
        );
        assert_eq!(
            refused(
                grants::redeem_code(&mut c, code.expose(), &wiki, URI, VERIFIER, &who(), 1059)
                    .await
            ),
            "code already used"
        );

        let late = grants::issue_code(&mut c, &request(&user, &wiki), 1000)
            .await
            .expect("code");
        assert_eq!(
            refused(
                grants::redeem_code(&mut c, late.expose(), &wiki, URI, VERIFIER, &who(), 1061)
                    .await
            ),
            "code expired"
        );
        let cases: [(&str, &str, &str, &str); 3] = [
            (&chat, URI, VERIFIER, "code was issued to another client"),
            (
                &wiki,
                "https://wiki.example.com/cb/",
                VERIFIER,
                "redirect_uri differs from the authorization request",
            ),
            (
                &wiki,
                URI,
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl",
                "code_verifier does not match the code_challenge",
            ),
        ];
        for (client, uri, verifier, why) in cases {
            let code = grants::issue_code(&mut c, &request(&user, &wiki), 1000)
                .await
                .expect("code");
            assert_eq!(
                refused(
                    grants::redeem_code(&mut c, code.expose(), client, uri, verifier, &who(), 1001)
                        .await
                ),
                why
            );
        }
        assert_eq!(
            refused(
                grants::redeem_code(&mut c, "not-a-code", &wiki, URI, VERIFIER, &who(), 1001).await
            ),
            "unknown code"
        );
    }
}

#[tokio::test]
async fn o2_a_replayed_code_revokes_every_token_it_issued() {
    for store in testing::all().await {
        let d = deps(store, &FixedClock::at(1000));
        let (user, wiki, _) = setup(&d).await;
        let mut c = d.store.conn().await.expect("conn");
        let code = grants::issue_code(&mut c, &request(&user, &wiki), 1000)
            .await
            .expect("code");
        let (grant, _) =
            grants::redeem_code(&mut c, code.expose(), &wiki, URI, VERIFIER, &who(), 1001)
                .await
                .expect("first use");
        let refresh = tokens(&mut c, &grant, "access-jwt").await;
        assert!(grants::live(&mut c, "access-jwt", 1002)
            .await
            .expect("live")
            .is_some());
        assert_eq!(
            refused(
                grants::redeem_code(&mut c, code.expose(), &wiki, URI, VERIFIER, &who(), 1002)
                    .await
            ),
            "code already used"
        );
        assert_eq!(
            newest_event(&mut c, &user).await,
            Some(gatehouse_core::mechanisms::events::EventKind::AppTokensRevoked),
            "G1: the person can see it"
        );
        assert_eq!(
            grants::live(&mut c, "access-jwt", 1003)
                .await
                .expect("live"),
            None
        );
        assert_eq!(
            grants::live(&mut c, &refresh, 1003).await.expect("live"),
            None
        );
    }
}

#[tokio::test]
async fn o3_refresh_tokens_rotate_and_a_reused_one_revokes_the_whole_chain() {
    for store in testing::all().await {
        let d = deps(store, &FixedClock::at(1000));
        let (user, wiki, chat) = setup(&d).await;
        let mut c = d.store.conn().await.expect("conn");
        let grant = redeemed(&mut c, &user, &wiki).await;
        let first = grants::new_refresh(&mut c, &grant, 86_400, 1001)
            .await
            .expect("refresh");
        let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM oidc_tokens")
            .fetch_all(&mut *c)
            .await
            .expect("rows");
        assert_eq!(
            stored,
            vec![first.digest()],
            "O3: only the digest is stored"
        );
        assert_eq!(
            refused(grants::use_refresh(&mut c, first.expose(), &chat, &who(), 1002).await),
            "refresh token of another client",
            "another client cannot use it"
        );
        let g = grants::use_refresh(&mut c, first.expose(), &wiki, &who(), 1002)
            .await
            .expect("rotate");
        assert_eq!(g.family, grant.family);
        let second = grants::new_refresh(&mut c, &g, 86_400, 1002)
            .await
            .expect("next");
        let g2 = grants::use_refresh(&mut c, second.expose(), &wiki, &who(), 1003)
            .await
            .expect("rotate");
        let third = grants::new_refresh(&mut c, &g2, 86_400, 1003)
            .await
            .expect("next");
        // The first token comes back (stolen): the chain dies, the newest token with it.
        assert_eq!(
            refused(grants::use_refresh(&mut c, first.expose(), &wiki, &who(), 1004).await),
            "refresh token already used"
        );
        assert_eq!(
            newest_event(&mut c, &user).await,
            Some(gatehouse_core::mechanisms::events::EventKind::AppTokensRevoked),
            "G1"
        );
        assert_eq!(
            refused(grants::use_refresh(&mut c, third.expose(), &wiki, &who(), 1005).await),
            "refresh token revoked"
        );
        // RFC 7009 on another chain: revoking a refresh token revokes its family.
        let other = redeemed(&mut c, &user, &wiki).await;
        let r = tokens(&mut c, &other, "jwt-2").await;
        assert!(!grants::revoke(&mut c, &r, &chat, &who(), 1002)
            .await
            .expect("revoke"));
        assert!(grants::revoke(&mut c, &r, &wiki, &who(), 1002)
            .await
            .expect("revoke"));
        assert_eq!(
            grants::live(&mut c, "jwt-2", 1003).await.expect("live"),
            None
        );
    }
}

#[tokio::test]
async fn consent_is_remembered_and_remove_access_revokes_the_clients_tokens() {
    for store in testing::all().await {
        let d = deps(store, &FixedClock::at(1000));
        let (user, wiki, _) = setup(&d).await;
        let mut c = d.store.conn().await.expect("conn");
        assert_eq!(
            grants::consented(&mut c, &user, &wiki).await.expect("q"),
            None
        );
        let email = Scopes::parse("openid email").expect("scope");
        let profile = Scopes::parse("openid profile").expect("scope");
        grants::record_use(&mut c, &user, &wiki, email, 1000)
            .await
            .expect("use");
        grants::record_use(&mut c, &user, &wiki, profile, 1010)
            .await
            .expect("use");
        let both = grants::consented(&mut c, &user, &wiki)
            .await
            .expect("q")
            .expect("some");
        assert!(email.within(both) && profile.within(both), "consent grows");
        let apps = grants::applications(&mut c, &user).await.expect("apps");
        assert_eq!(apps.len(), 1);
        assert_eq!(
            (apps[0].name.as_str(), apps[0].last_used_at),
            ("Wiki", 1010)
        );
        let grant = redeemed(&mut c, &user, &wiki).await;
        let r = tokens(&mut c, &grant, "jwt-3").await;
        assert!(grants::remove_access(&mut c, &user, &wiki, 1020)
            .await
            .expect("remove"));
        assert_eq!(grants::live(&mut c, &r, 1021).await.expect("live"), None);
        assert_eq!(
            grants::consented(&mut c, &user, &wiki).await.expect("q"),
            None
        );
        assert!(grants::applications(&mut c, &user)
            .await
            .expect("apps")
            .is_empty());
    }
}

/// The SSO id of the signed-in session behind `token`.
async fn sid_of(d: &gatehouse_core::mechanisms::service::Deps, token: &str) -> (String, String) {
    let s = session(d, token).await;
    let mut c = d.store.conn().await.expect("conn");
    let (sid, _) = gatehouse_core::mechanisms::sessions::sso(&mut c, &s.id_hash)
        .await
        .expect("sso")
        .expect("signed in");
    (s.id_hash, sid)
}

/// O3/S6/O6: "Sign out other sessions" and a password change or reset end every token of the
/// person — also those of an SSO session whose row idled out and was swept — and every code not
/// yet redeemed; only the kept session's tokens live on.
#[tokio::test]
async fn o3_s6_every_token_of_the_person_dies_with_a_reset_whatever_the_session_rows() {
    for store in testing::all().await {
        let clock = FixedClock::at(1000);
        let d = deps(store, &clock);
        let (user, wiki, _) = setup(&d).await;
        let attacker = signed_in(&d, "ada@example.com").await;
        let (attacker_hash, attacker_sid) = sid_of(&d, &attacker).await;
        let victim = signed_in(&d, "ada@example.com").await;
        let (_, victim_sid) = sid_of(&d, &victim).await;
        assert_ne!(attacker_sid, victim_sid, "each sign-in its own sid");
        let mut c = d.store.conn().await.expect("conn");
        let under = |sid: &str| {
            let mut r = request(&user, &wiki);
            r.grant.sid = sid.to_string();
            r
        };
        // The attacker's offline_access refresh token and a code not redeemed yet.
        let code = grants::issue_code(&mut c, &under(&attacker_sid), 1000)
            .await
            .expect("code");
        let stolen = grants::issue_code(&mut c, &under(&attacker_sid), 1000)
            .await
            .expect("code");
        let g = grants::redeem_code(&mut c, stolen.expose(), &wiki, URI, VERIFIER, &who(), 1001)
            .await
            .expect("redeem")
            .0;
        let refresh = tokens(&mut c, &g, "jwt-attacker").await;
        // The victim's own application session, on the session that is kept.
        let code_v = grants::issue_code(&mut c, &under(&victim_sid), 1000)
            .await
            .expect("code");
        let gv = grants::redeem_code(&mut c, code_v.expose(), &wiki, URI, VERIFIER, &who(), 1001)
            .await
            .expect("redeem")
            .0;
        let refresh_v = tokens(&mut c, &gv, "jwt-victim").await;
        // The attacker's session idles out and is swept: its row is gone.
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(&attacker_hash)
            .execute(&mut *c)
            .await
            .expect("swept");
        drop(c);
        let kept = session(&d, &victim).await;
        gatehouse_core::flows::security::sign_out_others(&d, &kept)
            .await
            .expect("sign out others");
        let mut c = d.store.conn().await.expect("conn");
        assert_eq!(
            refused(grants::use_refresh(&mut c, &refresh, &wiki, &who(), 1002).await),
            "refresh token revoked",
            "O3: the swept session's refresh token died"
        );
        assert_eq!(
            grants::live(&mut c, "jwt-attacker", 1002)
                .await
                .expect("live"),
            None
        );
        assert_eq!(
            refused(
                grants::redeem_code(&mut c, code.expose(), &wiki, URI, VERIFIER, &who(), 1002)
                    .await
            ),
            "code expired",
            "a code issued before the sign-out is refused after it"
        );
        // The kept session's tokens live on …
        let next = grants::use_refresh(&mut c, &refresh_v, &wiki, &who(), 1002)
            .await
            .expect("the kept session's token rotates");
        let refresh_v = grants::new_refresh(&mut c, &next, 86_400, 1002)
            .await
            .expect("next");
        // … until a password reset, which keeps no session at all (F5).
        d.end_sso(
            &mut c,
            &user,
            gatehouse_core::mechanisms::oidc_logout::Ending::AllBut(None),
            1003,
        )
        .await
        .expect("reset");
        assert_eq!(
            refused(grants::use_refresh(&mut c, refresh_v.expose(), &wiki, &who(), 1004).await),
            "refresh token revoked"
        );
    }
}

/// O3 on PostgreSQL (found by review): an attacker's refresh loop racing "Sign out other
/// sessions" cannot leave a live token behind — the token endpoint and the sign-out both take
/// the person's row first, so each refresh lands wholly before the revocation (which then sees
/// its new token) or after it (and is refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn o3_a_refresh_racing_a_sign_out_leaves_no_live_token_on_postgres() {
    use gatehouse_core::flows::oidc::{self as flow, TokenParams};
    let store = testing::postgres()
        .await
        .expect("the PostgreSQL half runs whenever GATEHOUSE_TEST_POSTGRES is set");
    let d = deps(store, &FixedClock::at(1000));
    let (user, _, _) = setup(&d).await;
    let attacker = signed_in(&d, "ada@example.com").await;
    let (_, attacker_sid) = sid_of(&d, &attacker).await;
    let victim = signed_in(&d, "ada@example.com").await;
    let mut c = d.store.conn().await.expect("conn");
    let mut spec = spec("Notes");
    spec.public = true;
    spec.alg = Alg::Es256;
    let (notes, _) = oidc_clients::create(&mut c, &spec, 1)
        .await
        .expect("client");
    let mut r = request(&user, &notes.id);
    r.grant.sid = attacker_sid.clone();
    let code = grants::issue_code(&mut c, &r, 1000).await.expect("code");
    let g = grants::redeem_code(
        &mut c,
        code.expose(),
        &notes.id,
        URI,
        VERIFIER,
        &who(),
        1000,
    )
    .await
    .expect("redeem")
    .0;
    let first = grants::new_refresh(&mut c, &g, 86_400, 1000)
        .await
        .expect("refresh")
        .expose()
        .to_string();
    drop(c);
    let looping = {
        let d = d.clone();
        let client = notes.clone();
        tokio::spawn(async move {
            let mut token = first;
            for _ in 0..200 {
                let p = TokenParams {
                    grant_type: Some("refresh_token".into()),
                    refresh_token: Some(token.clone()),
                    client_id: Some(client.id.clone()),
                    ..TokenParams::default()
                };
                match flow::token(&d, &client, &p, &who()).await {
                    Ok(answer) => {
                        token = answer["refresh_token"]
                            .as_str()
                            .expect("rotated")
                            .to_string()
                    }
                    Err(_) => break,
                }
            }
        })
    };
    tokio::task::yield_now().await;
    let kept = session(&d, &victim).await;
    gatehouse_core::flows::security::sign_out_others(&d, &kept)
        .await
        .expect("sign out others");
    looping.await.expect("the loop ends");
    let mut c = d.store.conn().await.expect("conn");
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM oidc_tokens WHERE sid = $1 AND revoked_at IS NULL AND used_at IS NULL",
    )
    .bind(&attacker_sid)
    .fetch_one(&mut *c)
    .await
    .expect("count");
    assert_eq!(live, 0, "no token of the ended sign-in lives on");
}
