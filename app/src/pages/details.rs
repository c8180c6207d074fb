//! `/profile/details`: the Profile tab — first and last name (checked by core's `values::name`),
//! the phone, and the email read-only (support changes it). Only an authenticated session gets
//! here (M5).
//!
//! - M9: a new phone is stored only after the code sent to it comes back: Save sends the code,
//!   the tab then asks for it (**Verification code**, **Verify**).
//! - S5: a phone change needs a fresh re-authentication; when Save was refused for that (or one
//!   is half done) the tab shows the same "Confirm it is you" block as the Security tab.
//! - The form posts to `save_profile`, whose redirect brings the tab back with its outcome and
//!   what was typed; once hydrated, [`ProfileForm`] saves names in place (the top bar's name
//!   changes without a reload).

use crate::api::profile::{get_profile_view, ConfirmPhone, ResendPhoneCode};
use crate::components::{
    server_view, Field, FormMessage, ProfileForm, ProfileFrame, ReauthBox, SentCodeBox, ServerFn,
    SubmitButton,
};
use crate::wire::{ProfileView, ReauthView};
use gatehouse_core::values::name::NAME_MAX;
use leptos::prelude::*;
use leptos_router::components::Redirect;

#[component]
pub fn ProfileDetailsPage() -> impl IntoView {
    server_view(get_profile_view(), |r| match r {
        Ok(Some(v)) => page(v).into_any(),
        _ => view! { <Redirect path="/login" /> }.into_any(),
    })
}

fn page(v: ProfileView) -> impl IntoView {
    let f = v.flash.clone();
    // After a refusal the form shows what was typed; otherwise what is saved (and a number
    // waiting for its code).
    let typed = |field: &str, saved: &str| {
        if f.errors.is_empty() && !f.values.contains_key(field) {
            saved.to_string()
        } else {
            f.value(field)
        }
    };
    let first = typed("first_name", &v.me.first_name);
    let last = typed("last_name", &v.me.last_name);
    let phone = typed("phone", &v.phone);
    let email = v.me.email.clone();
    let reauth_box = v.reauth.clone();
    let verifying = v.verifying_phone.clone();
    let fresh = v.reauth.fresh();
    // S5: asked for after a refused phone change, and while a re-authentication is half done.
    let reauth_asked = !fresh
        && (matches!(v.reauth, ReauthView::Code { .. })
            || ["phone", "reauth_password", "reauth_code"]
                .iter()
                .any(|k| f.error(k).is_some()));
    let phone_hint = if v.sms_available {
        "With its country code, like +1 555 010 0200. A new number gets a text message with a code. Text messages are less safe than an authenticator app and may not reach every country."
    } else {
        "Text messages are off on this server, so a new number cannot be verified."
    };
    let reauth_box = reauth_asked.then(|| {
        view! { <ReauthBox reauth=reauth_box flash=f.clone() tab="profile" why="To change your phone" /> }
    });
    let verify = verifying.filter(|_| fresh).map(|to| verify_section(&f, to));
    view! {
        <ProfileFrame me=v.me active="/profile/details">
            <h2 class="visually-hidden">"Profile"</h2>
            <FormMessage error=f.form_error.clone() notice=f.notice.clone() />
            <section class="panel__section" aria-labelledby="names-title">
                <h3 id="names-title">"Your details"</h3>
                <ProfileForm>
                    <div class="field-row">
                        <Field id="profile-first" label="First name" name="first_name" autocomplete="given-name" value=first error=f.error("first_name") maxlength=Some(NAME_MAX) />
                        <Field id="profile-last" label="Last name" name="last_name" autocomplete="family-name" value=last error=f.error("last_name") maxlength=Some(NAME_MAX) />
                    </div>
                    <Field id="profile-phone" label="Phone" name="phone" kind="tel" autocomplete="tel" inputmode="tel" optional=true
                        value=phone error=f.error("phone") hint=Some(phone_hint.to_string()) />
                    <SubmitButton label="Save" />
                </ProfileForm>
                {reauth_box}
                {verify}
            </section>
            <section class="panel__section" aria-labelledby="contact-title">
                <h3 id="contact-title">"Your email"</h3>
                <dl class="facts">
                    <div><dt>"Email"</dt><dd><span>{email}</span><p class="field__hint">"To change your email, contact support."</p></dd></div>
                </dl>
            </section>
        </ProfileFrame>
    }
}

/// M9: the code sent to the new number.
fn verify_section(f: &crate::wire::Flash, to: String) -> impl IntoView + use<> {
    let text = format!(
        "We sent a six-digit code to {to} by text message. Your number changes when you enter it."
    );
    view! {
        <SentCodeBox id="new-phone" title="Verify your new phone" text=text
            verify=ConfirmPhone::url() resend=ResendPhoneCode::url() flash=f.clone() />
    }
}
