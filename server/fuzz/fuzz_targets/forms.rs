//! The server functions' form bodies: what a browser (or anyone) posts to `/api/*`. Any bytes go
//! through the very decoder the server uses (server_fn's `FromReq` for a urlencoded POST) into
//! each function's argument struct, and what decodes goes through the same checks the flows
//! run before touching the database — registration's whole-form validation (every field's
//! message at once), addresses, names, phone numbers, codes, passwords. None of it panics, and
//! an accepted six-digit code is exactly six ASCII digits.
//!
//! Input: one byte choosing the form, then the body.
#![no_main]
use app::api::{accounts, login, profile, recovery, security};
use axum::body::Body;
use gatehouse_core::flows::accounts::{validate, Registration};
use gatehouse_core::mechanisms::challenges::six_digits;
use gatehouse_core::mechanisms::service::Settings;
use gatehouse_core::values::email::Email;
use gatehouse_core::values::name::person_name;
use gatehouse_core::values::password::{Context, PasswordPolicy};
use gatehouse_core::values::phone::Phone;
use server_fn::ServerFnError;
use libfuzzer_sys::fuzz_target;
use server_fn::codec::{FromReq, PostUrl};
use std::sync::OnceLock;

type Request = http::Request<Body>;

/// Decodes `body` as the server does for a form post to a server function.
fn decode<T: FromReq<PostUrl, Request, ServerFnError>>(body: &[u8]) -> Option<T> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let rt = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    });
    let req = http::Request::post("/api/form")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_vec()))
        .ok()?;
    rt.block_on(T::from_req(req)).ok()
}

fn code(text: &str) {
    if let Ok(c) = six_digits(text) {
        assert!(c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()), "{c}");
    }
}

fn password(text: &str) {
    let _ = PasswordPolicy::new(8).map(|p| p.check(text, &Context { words: vec!["ada"] }));
}

fn email(text: &str) {
    let _ = Email::parse(text);
}

fuzz_target!(|input: &[u8]| {
    let Some((&which, body)) = input.split_first() else {
        return;
    };
    let settings = Settings::default();
    match which % 16 {
        0 => {
            if let Some(a) = decode::<accounts::Register>(body) {
                let r = Registration {
                    email: a.email,
                    first_name: a.first_name,
                    last_name: a.last_name,
                    password: a.password,
                    confirm: a.confirm,
                    mfa_method: a.mfa_method.unwrap_or_default(),
                    phone: a.phone,
                    invitation: a.invitation,
                };
                let _ = validate(&settings, &r);
            }
        }
        1 => decode::<login::LoginEmail>(body)
            .into_iter()
            .for_each(|a| email(&a.email)),
        2 => decode::<login::LoginPassword>(body)
            .into_iter()
            .for_each(|a| password(&a.password)),
        3 => decode::<login::LoginCode>(body)
            .into_iter()
            .for_each(|a| code(&a.code)),
        4 => decode::<login::LoginRecovery>(body)
            .into_iter()
            .for_each(|a| {
                let _ = gatehouse_core::mechanisms::recovery_codes::canonical(&a.recovery_code);
            }),
        5 => decode::<profile::SaveProfile>(body)
            .into_iter()
            .for_each(|a| {
                let _ = person_name(&a.first_name, "first name");
                let _ = person_name(&a.last_name, "last name");
                let _ = Phone::parse_allowed(&a.phone, &settings.sms_country_codes);
            }),
        6 => decode::<profile::ConfirmPhone>(body)
            .into_iter()
            .for_each(|a| code(&a.code)),
        7 => decode::<recovery::ForgotPassword>(body)
            .into_iter()
            .for_each(|a| email(&a.email)),
        8 => decode::<recovery::RecoverCode>(body)
            .into_iter()
            .for_each(|a| code(&a.code)),
        9 => decode::<recovery::RecoverReset>(body)
            .into_iter()
            .for_each(|a| password(&a.password)),
        10 => decode::<recovery::ResetPassword>(body)
            .into_iter()
            .for_each(|a| password(&a.password)),
        11 => decode::<security::ReauthCode>(body)
            .into_iter()
            .for_each(|a| code(&a.code)),
        12 => decode::<security::SaveMfaMethod>(body)
            .into_iter()
            .for_each(|a| {
                let _ = gatehouse_core::mechanisms::users::MfaMethod::parse(&a.mfa_method);
                let _ = Phone::parse(&a.phone);
            }),
        13 => decode::<security::ChangePassword>(body)
            .into_iter()
            .for_each(|a| {
                password(&a.current);
                password(&a.password);
            }),
        14 => decode::<security::VerifyPhone>(body)
            .into_iter()
            .for_each(|a| code(&a.code)),
        _ => {
            let _ = decode::<accounts::VerifyEmail>(body);
            let _ = decode::<security::SignOutSession>(body);
            let _ = decode::<security::ReauthPassword>(body);
            let _ = decode::<security::SecurityResend>(body);
        }
    }
});
