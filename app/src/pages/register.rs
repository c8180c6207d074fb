//! `/register`: create an account (E1: the answer never says whether the address exists).
//! Every field is checked on the server; the browser shows live password hints from the same
//! policy code (P1–P3).

use crate::api::accounts::{get_register_view, Register};
use crate::components::{
    failed_card, server_view, AuthCard, Field, FormMessage, MfaMethodChoice, PasswordField,
    PostForm, ServerFn, SubmitButton,
};
use crate::wire::{Lifetimes, RegisterView};
use gatehouse_core::values::factors::MfaMethod;
use gatehouse_core::values::password::PasswordPolicy;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn RegisterPage() -> impl IntoView {
    // Issue 14: from an invitation's page, `?invitation=TOKEN&email=ADDRESS`.
    let query = use_query_map().get_untracked();
    let invited = Invited {
        token: query.get("invitation").unwrap_or_default(),
        email: query.get("email").unwrap_or_default(),
    };
    server_view(get_register_view(), move |r| match r {
        Ok(v) if v.flash.notice.is_some() => sent(v).into_any(),
        Ok(v) => form(v, invited).into_any(),
        Err(e) => failed_card("Create your account", e),
    })
}

fn sent(v: RegisterView) -> impl IntoView {
    view! {
        <AuthCard title="Check your email">
            <FormMessage notice=v.flash.notice />
            <p>"Open the message and choose " <strong>"Verify my email"</strong> {format!(". The link works for {} hours.", Lifetimes::current().verify_hours)}</p>
            <p class="card__aside"><a href="/login">"Go to sign-in"</a></p>
        </AuthCard>
    }
}

/// The invitation a registration comes from (the new account joins once its address is
/// verified).
struct Invited {
    token: String,
    email: String,
}

fn form(v: RegisterView, invited: Invited) -> impl IntoView {
    let f = v.flash;
    let token = Some(f.value("invitation"))
        .filter(|t| !t.is_empty())
        .unwrap_or(invited.token);
    let email = Some(f.value("email"))
        .filter(|t| !t.is_empty())
        .unwrap_or(invited.email);
    let joining = !token.is_empty();
    let policy = PasswordPolicy {
        min_length: v.min_length,
    };
    view! {
        <AuthCard title="Create your account">
            <FormMessage error=f.form_error.clone() />
            {joining.then(|| view! {
                <p class="status">"You were invited to an organization: register with the address the invitation was sent to, and you join it when you confirm that address."</p>
            })}
            <PostForm to=Register::url()>
                <input type="hidden" name="invitation" value=token />
                <Field id="reg-email" label="Email" name="email" kind="email" autocomplete="email" value=email error=f.error("email") />
                <div class="field-row">
                    <Field id="reg-first" label="First name" name="first_name" autocomplete="given-name" value=f.value("first_name") error=f.error("first_name") />
                    <Field id="reg-last" label="Last name" name="last_name" autocomplete="family-name" value=f.value("last_name") error=f.error("last_name") />
                </div>
                <PasswordField id="reg-password" label="Password" name="password" autocomplete="new-password" policy=Some(policy) error=f.error("password") />
                <PasswordField id="reg-confirm" label="Confirm password" name="confirm" autocomplete="new-password" error=f.error("confirm") />
                <MfaMethodChoice
                    id="reg"
                    selected=MfaMethod::parse(&f.value("mfa_method")).unwrap_or(MfaMethod::Email)
                    phone=f.value("phone")
                    phone_error=f.error("phone")
                    error=f.error("mfa_method")
                    sms_country_codes=v.sms_country_codes
                    email_note="We email you a code each time you sign in."
                    totp_note="The strongest choice: an app on your phone shows the code. You set it up at your first sign-in."
                />
                <SubmitButton label="Create account" />
            </PostForm>
            <p class="card__aside">"Already have an account? " <a href="/login">"Sign in"</a></p>
        </AuthCard>
    }
}
