//! Helpers shared by the domain flow tests: deps with a fixed clock and fast hashing, and the
//! steps a person takes (register, verify, sign in up to the code step).
#![allow(dead_code)]

use gatehouse_core::flows::accounts::{self, Registration};
use gatehouse_core::flows::login::{self, PasswordOutcome};
use gatehouse_core::mechanisms::hashing::{HashParams, Hasher};
use gatehouse_core::mechanisms::outbox;
use gatehouse_core::mechanisms::secret::ScriptedRandom;
use gatehouse_core::mechanisms::service::{Deps, Settings};
use gatehouse_core::mechanisms::sessions::{self, ClientInfo, Session};
use gatehouse_core::store::Store;
use gatehouse_core::values::clock::FixedClock;
use std::sync::Arc;

pub const FAST: HashParams = HashParams {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};
pub const PW: &str = "tulip-rain-77";

pub fn deps(store: Store, clock: &FixedClock) -> Deps {
    deps_with(store, clock, Arc::new(ScriptedRandom::default()))
}

/// Deps whose codes come from `random` (script a code with `ScriptedRandom::next_code`).
pub fn deps_with(store: Store, clock: &FixedClock, random: Arc<ScriptedRandom>) -> Deps {
    Deps {
        random,
        store,
        hasher: Hasher::start(FAST, 2, 256).expect("hasher"),
        clock: Arc::new(clock.clone()),
        settings: Arc::new(Settings {
            public_url: "https://id.example.com".into(),
            ..Settings::default()
        }),
        secret_key: Arc::new(gatehouse_core::mechanisms::crypto::SecretKey::generate()),
        pictures: gatehouse_core::mechanisms::picture::Pictures::new(2, 4),
    }
}

pub fn client() -> ClientInfo {
    ClientInfo {
        ip: "192.0.2.1".into(),
        user_agent: "test".into(),
    }
}

pub async fn verified_user(d: &Deps, email: &str) {
    let e = gatehouse_core::values::email::Email::parse(email).expect("email");
    accounts::create_verified(d, &e, "Ada", "Lovelace", PW)
        .await
        .expect("create");
}

pub async fn session(d: &Deps, token: &str) -> Session {
    let mut c = d.store.conn().await.expect("conn");
    sessions::lookup(&mut c, token, &d.settings.sessions, d.now())
        .await
        .expect("lookup")
        .expect("live session")
}

/// The six digits of the newest message (email or text message).
pub async fn last_code(d: &Deps) -> String {
    let m = last_message(d).await;
    let i = m.text.find("code is ").expect("code in text") + 8;
    m.text[i..i + 6].to_string()
}

pub async fn to_password_step(d: &Deps, email: &str) -> Session {
    let t = login::submit_email(d, None, email, None, &client())
        .await
        .expect("email step");
    session(d, t.expose()).await
}

pub async fn to_code_step(d: &Deps, email: &str) -> Session {
    let s = to_password_step(d, email).await;
    let PasswordOutcome::CodeSent(t) = login::submit_password(d, &s, PW, &client())
        .await
        .expect("password ok");
    session(d, t.expose()).await
}

/// M13: past the emailed code (the factor active now), on to setting up the pending factor
/// chosen at registration or on the Security tab; returns the set-up step's session.
/// Signs `email` in with the emailed code; the signed-in session's token.
pub async fn signed_in(d: &Deps, email: &str) -> String {
    let s = to_code_step(d, email).await;
    let code = last_code(d).await;
    let t = login::verify_code(d, &s, &code, &client())
        .await
        .expect("signed in");
    t.token().expose().to_string()
}

pub async fn to_setup_step(d: &Deps, email: &str) -> Session {
    let s = to_code_step(d, email).await;
    let code = last_code(d).await;
    match login::verify_code(d, &s, &code, &client())
        .await
        .expect("emailed code")
    {
        login::CodeOutcome::SetUpNext(t) => session(d, t.expose()).await,
        other => panic!("M13: expected the set-up step after the emailed code, got {other:?}"),
    }
}

pub async fn register_verified(d: &Deps, email: &str, method: &str) {
    register_verified_with_phone(d, email, method, "").await
}

pub async fn register_verified_with_phone(d: &Deps, email: &str, method: &str, phone: &str) {
    let r = Registration {
        email: email.into(),
        first_name: "Grace".into(),
        last_name: "Hopper".into(),
        password: PW.into(),
        confirm: PW.into(),
        mfa_method: method.into(),
        phone: phone.into(),
        invitation: String::new(),
    };
    accounts::register(d, &r, &client())
        .await
        .expect("register");
    let mut c = d.store.conn().await.expect("conn");
    let text = outbox::recent(&mut c, 1)
        .await
        .expect("recent")
        .remove(0)
        .message
        .text;
    drop(c);
    let token = text
        .split("token=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .expect("token")
        .to_string();
    accounts::verify_email(d, &token, &client())
        .await
        .expect("verify");
}

pub fn totp_from_key(setup_key: &str) -> gatehouse_core::mechanisms::totp::TotpSecret {
    gatehouse_core::mechanisms::totp::TotpSecret::from_setup_key(setup_key)
        .expect("base32 setup key")
}

/// The newest message in the outbox.
pub async fn last_message(d: &Deps) -> outbox::Message {
    let mut c = d.store.conn().await.expect("conn");
    outbox::recent(&mut c, 1)
        .await
        .expect("recent")
        .remove(0)
        .message
}

/// A six-digit code that is surely not `right`.
pub fn wrong_code(right: &str) -> &'static str {
    if right == "000000" {
        "111111"
    } else {
        "000000"
    }
}

/// An account whose authenticator is set up and confirmed (M4, M13: after the emailed code),
/// recovery codes acknowledged; returns the app's secret.
pub async fn authenticator_user(
    d: &Deps,
    email: &str,
) -> gatehouse_core::mechanisms::totp::TotpSecret {
    register_verified(d, email, "totp").await;
    let s = to_setup_step(d, email).await;
    let step = login::code_step(d, &s).await.expect("step").expect("live");
    let app = totp_from_key(&step.setup_key);
    let code = app.code_at(d.now()).expect("code");
    let shown = login::verify_code(d, &s, &code, &client())
        .await
        .expect("enrolled");
    let s = session(d, shown.token().expose()).await;
    login::acknowledge_recovery_codes(d, &s, &client())
        .await
        .expect("signed in");
    app
}

/// G1: the kinds of the account's newest security events, newest first.
pub async fn event_kinds(
    d: &Deps,
    user_id: &str,
) -> Vec<gatehouse_core::mechanisms::events::EventKind> {
    let mut c = d.store.read().await.expect("conn");
    gatehouse_core::mechanisms::events::recent(&mut c, user_id, 50)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// An account whose phone was verified by its first SMS sign-in; returns the signed-in cookie.
pub async fn sms_user(d: &Deps, email: &str, phone: &str) -> String {
    register_verified_with_phone(d, email, "sms", phone).await;
    let s = to_setup_step(d, email).await;
    let code = sms_code(d).await;
    login::verify_code(d, &s, &code, &client())
        .await
        .expect("signed in by SMS")
        .token()
        .expose()
        .to_string()
}

pub async fn sms_code(d: &Deps) -> String {
    assert_eq!(last_message(d).await.channel, outbox::Channel::Sms);
    last_code(d).await
}
