//! `/dev/gallery` (dev mode only; the server answers 404 in production): every component in each
//! of its states — empty, filled, error, disabled, loading — so a designer running
//! `cargo leptos watch` sees them all at once.

use crate::components::{
    AvatarImage, Field, FormMessage, MfaMethodChoice, PasswordField, ReauthBox, RecoveryCodesList,
    SiteFooter, SiteHeader, SubmitButton, TopBar,
};
use crate::wire::{Flash, Me, ReauthView};
use gatehouse_core::values::factors::MfaMethod;
use gatehouse_core::values::password::PasswordPolicy;
use gatehouse_core::values::photo::AvatarSize;
use leptos::prelude::*;
use leptos_meta::Title;

const EMAIL_NOTE: &str = "We email you a code each time you sign in.";
const TOTP_NOTE: &str = "The strongest choice: an app on your phone shows the code.";

fn codes() -> Vec<String> {
    vec!["+1".into(), "+44".into()]
}

#[component]
fn Specimen(#[prop(into)] title: String, children: Children) -> impl IntoView {
    view! {
        <section class="specimen">
            <h3>{title}</h3>
            <div class="specimen__body">{children()}</div>
        </section>
    }
}

#[component]
pub fn GalleryPage() -> impl IntoView {
    let me = Me {
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        email: "ada@example.com".into(),
        mfa_method: gatehouse_core::values::factors::MfaMethod::Email,
        avatar: None,
        orgs: vec![crate::wire::orgs::OrgLink {
            name: "Acme Corp".into(),
            slug: "acme-corp".into(),
            role: gatehouse_core::values::org::Role::Owner,
        }],
    };
    let me_avatar = me.clone();
    view! {
        <Title text="Component gallery" />
        <SiteHeader />
        <main class="page gallery" id="main">
            <h1>"Component gallery"</h1>
            <p>"Every component in each of its states. Edit " <code>"style/"</code> " or " <code>"app/src/components/"</code> " with " <code>"cargo leptos watch"</code> " running."</p>
            <h2>"Field"</h2>
            <div class="gallery__grid">
                <Specimen title="Empty"><Field id="g-f1" label="Email" name="g1" kind="email" /></Specimen>
                <Specimen title="Filled"><Field id="g-f2" label="Email" name="g2" kind="email" value="ada@example.com" /></Specimen>
                <Specimen title="Error"><Field id="g-f3" label="Email" name="g3" kind="email" value="ada@" error=Some("Enter an email address like name@example.com.".to_string()) /></Specimen>
                <Specimen title="Disabled"><Field id="g-f4" label="Email" name="g4" kind="email" value="ada@example.com" disabled=true /></Specimen>
                <Specimen title="With hint"><Field id="g-f5" label="Verification code" name="g5" inputmode="numeric" hint=Some("The code expires in 10 minutes.".to_string()) /></Specimen>
            </div>
            <h2>"Password field"</h2>
            <div class="gallery__grid">
                <Specimen title="Empty"><PasswordField id="g-p1" label="Password" name="gp1" /></Specimen>
                <Specimen title="New password with meter"><PasswordField id="g-p2" label="New password" name="gp2" autocomplete="new-password" policy=Some(PasswordPolicy::default()) /></Specimen>
                <Specimen title="Error"><PasswordField id="g-p3" label="Password" name="gp3" error=Some("Email or password is incorrect.".to_string()) /></Specimen>
                <Specimen title="Disabled"><PasswordField id="g-p4" label="Password" name="gp4" disabled=true /></Specimen>
            </div>
            <h2>"Buttons"</h2>
            <div class="gallery__grid">
                <Specimen title="Primary"><SubmitButton label="Continue" /></Specimen>
                <Specimen title="Secondary"><SubmitButton label="Resend code" secondary=true /></Specimen>
                <Specimen title="Disabled"><SubmitButton label="Continue" disabled=true /></Specimen>
                <Specimen title="Loading"><SubmitButton label="Signing in" busy=true /></Specimen>
            </div>
            <h2>"Form messages"</h2>
            <div class="gallery__grid">
                <Specimen title="Error"><FormMessage error=Some("Your sign-in has expired. Start again.".to_string()) /></Specimen>
                <Specimen title="Notice"><FormMessage notice=Some("We sent you a new code.".to_string()) /></Specimen>
            </div>
            <h2>"MFA method"</h2>
            // Each specimen is its own form, so the radio groups stay apart.
            <div class="gallery__grid">
                <Specimen title="Email (default)"><form><MfaMethodChoice id="g-m1" sms_country_codes=codes() email_note=EMAIL_NOTE totp_note=TOTP_NOTE /></form></Specimen>
                <Specimen title="SMS picked, phone error"><form><MfaMethodChoice id="g-m2" selected=MfaMethod::Sms phone="555 0100" phone_error=Some("Enter the number with its country code, like +1 555 010 0200.".to_string()) sms_country_codes=codes() email_note=EMAIL_NOTE totp_note=TOTP_NOTE /></form></Specimen>
                <Specimen title="SMS not available"><form><MfaMethodChoice id="g-m3" selected=MfaMethod::Authenticator sms_country_codes=Vec::new() email_note=EMAIL_NOTE totp_note=TOTP_NOTE /></form></Specimen>
            </div>
            <h2>"Recovery codes"</h2>
            <div class="gallery__wide"><RecoveryCodesList codes=(1..=10).map(|i| format!("abcd-{i:04}-efgh")).collect() /></div>
            <h2>"Avatar"</h2>
            <div class="gallery__grid">
                <Specimen title="Initials (no picture)"><AvatarImage me=me_avatar size=AvatarSize::Large /></Specimen>
                <Specimen title="Picture (a built-in one)"><img class="avatar avatar--large" src="/builtin-avatars/owl.svg" alt="A built-in avatar" width="160" height="160" /></Specimen>
            </div>
            // One specimen: each is a region named "Confirm it is you", and landmarks must be unique.
            <h2>"Confirm it is you (S5)"</h2>
            <div class="gallery__grid">
                <Specimen title="Password refused"><ReauthBox reauth=ReauthView::Password flash=Flash::default().with_error("reauth_password", "Email or password is incorrect.") tab="security" why="To change how you sign in" id="g-r2" /></Specimen>
            </div>
            <h2>"Top bar"</h2>
            <div class="gallery__wide"><TopBar me=me /></div>
        </main>
        <SiteFooter />
    }
}
