//! `/register`: create an account (E1: the answer never says whether the address exists).
//! Every field is checked on the server; the browser shows live password hints from the same
//! policy code (P1–P3).

use crate::api::{get_register_view, Register};
use crate::components::{AuthCard, Field, FormMessage, PasswordField, SubmitButton};
use crate::wire::RegisterView;
use gatehouse_core::password::PasswordPolicy;
use leptos::prelude::*;

#[component]
pub fn RegisterPage() -> impl IntoView {
    let action = ServerAction::<Register>::new();
    let state = Resource::new(move || action.version().get(), |_| get_register_view());
    view! {
        <Transition fallback=|| view! { <AuthCard title="Create your account" /> }>
            {move || {
                state
                    .get()
                    .map(|r| match r {
                        Ok(v) if v.flash.notice.is_some() => sent(v).into_any(),
                        Ok(v) => form(v, action).into_any(),
                        Err(e) => view! {
                            <AuthCard title="Create your account">
                                <FormMessage error=Some(e.to_string()) />
                            </AuthCard>
                        }
                        .into_any(),
                    })
            }}
        </Transition>
    }
}

fn sent(v: RegisterView) -> impl IntoView {
    view! {
        <AuthCard title="Check your email">
            <FormMessage notice=v.flash.notice />
            <p>"Open the message and choose " <strong>"Verify my email"</strong> ". The link works for 24 hours."</p>
            <p class="card__aside"><a href="/login">"Go to sign-in"</a></p>
        </AuthCard>
    }
}

fn form(v: RegisterView, action: ServerAction<Register>) -> impl IntoView {
    let f = v.flash;
    let policy = PasswordPolicy {
        min_length: v.min_length,
    };
    let mfa_error = f.error("mfa_method");
    let selected_totp = f.value("mfa_method") == "totp";
    view! {
        <AuthCard title="Create your account">
            <FormMessage error=f.form_error.clone() />
            <ActionForm action=action>
                <Field id="reg-email" label="Email" name="email" kind="email" autocomplete="email" value=f.value("email") error=f.error("email") />
                <div class="field-row">
                    <Field id="reg-first" label="First name" name="first_name" autocomplete="given-name" value=f.value("first_name") error=f.error("first_name") />
                    <Field id="reg-last" label="Last name" name="last_name" autocomplete="family-name" value=f.value("last_name") error=f.error("last_name") />
                </div>
                <PasswordField id="reg-password" label="Password" name="password" autocomplete="new-password" policy=Some(policy) clear_on=action.version() error=f.error("password") />
                <PasswordField id="reg-confirm" label="Confirm password" name="confirm" autocomplete="new-password" clear_on=action.version() error=f.error("confirm") />
                <fieldset class="choice" aria-describedby="mfa-hint">
                    <legend>"MFA method"</legend>
                    <p class="field__hint" id="mfa-hint">"Every sign-in asks for a six-digit code after your password."</p>
                    <div class="choice__option">
                        <input type="radio" id="mfa-email" name="mfa_method" value="email" checked=!selected_totp aria-describedby="mfa-email-desc" />
                        <label for="mfa-email">"Email"</label>
                        <small id="mfa-email-desc">"We email you a code each time you sign in."</small>
                    </div>
                    <div class="choice__option">
                        <input type="radio" id="mfa-totp" name="mfa_method" value="totp" checked=selected_totp aria-describedby="mfa-totp-desc" />
                        <label for="mfa-totp">"Authenticator app"</label>
                        <small id="mfa-totp-desc">"The strongest choice: an app on your phone shows the code. You set it up at your first sign-in."</small>
                    </div>
                    {mfa_error.map(|e| view! { <p class="field__error">{e}</p> })}
                </fieldset>
                <SubmitButton label="Create account" pending=action.pending() />
            </ActionForm>
            <p class="card__aside">"Already have an account? " <a href="/login">"Sign in"</a></p>
        </AuthCard>
    }
}
