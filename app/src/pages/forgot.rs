//! `/forgot-password`: asks for the email and answers the same for every address (F1). With
//! both recovery methods on (F7) a radio group **Recovery method** offers **Email link** and
//! **SMS code**; the SMS way continues here: **Code** → Continue → new password → **Proceed**
//! (F6). The address typed at sign-in is filled in; answers keep what was typed.

use crate::api::recovery::{
    get_forgot_view, ForgotPassword, RecoverCode, RecoverReset, RecoverRestart,
};
use crate::components::{
    failed_card, server_view, AuthCard, Field, FormMessage, PasswordField, PostForm, ServerFn,
    SubmitButton,
};
use crate::pages::reset::reset_done;
use crate::wire::{ForgotStep, ForgotView, Lifetimes};
use gatehouse_core::values::password::PasswordPolicy;
use leptos::prelude::*;

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    server_view(get_forgot_view(), |r| match r {
        Ok(v) => match v.step {
            ForgotStep::Request => request(v).into_any(),
            ForgotStep::Code => code(v).into_any(),
            ForgotStep::NewPassword => new_password(v).into_any(),
            ForgotStep::Done => reset_done(v.flash.notice).into_any(),
        },
        Err(e) => failed_card("Reset your password", e),
    })
}

fn request(v: ForgotView) -> impl IntoView {
    let f = v.flash;
    let typed = f.value("email");
    let email = if typed.is_empty() { v.email } else { typed };
    let both = v.email_link && v.sms_code;
    let sms_first = !v.email_link || f.value("method") == "sms_code";
    let text = match (v.email_link, v.sms_code) {
        (true, true) => "Enter the email address of your account, and choose how we reach you: a link by email, or a code by text message to your verified phone.",
        (false, true) => "Enter the email address of your account. We will send a code by text message to its verified phone.",
        _ => "Enter the email address of your account. We will send you a link to choose a new password.",
    };
    view! {
        <AuthCard title="Reset your password">
            <FormMessage error=f.form_error.clone() notice=f.notice.clone() />
            <p>{text}</p>
            <PostForm to=ForgotPassword::url()>
                <Field id="forgot-email" label="Email" name="email" kind="email" autocomplete="username" value=email error=f.error("email") autofocus=true />
                {both.then(|| view! {
                    <fieldset class="choice">
                        <legend>"Recovery method"</legend>
                        <div class="choice__option">
                            <input type="radio" id="forgot-link" name="method" value="email_link" checked=!sms_first />
                            <label for="forgot-link">"Email link"</label>
                        </div>
                        <div class="choice__option">
                            <input type="radio" id="forgot-sms" name="method" value="sms_code" checked=sms_first />
                            <label for="forgot-sms">"SMS code"</label>
                        </div>
                        <p class="field__hint">"Your organization may allow only one of these; if you pick another, we email you which to use."</p>
                    </fieldset>
                })}
                <SubmitButton label="Continue" />
            </PostForm>
            <p class="card__aside"><a href="/login">"Back to sign-in"</a></p>
        </AuthCard>
    }
}

/// F6: the six digits from the text message.
fn code(v: ForgotView) -> impl IntoView {
    let f = v.flash;
    view! {
        <AuthCard title="Enter the code">
            <FormMessage error=f.form_error.clone() notice=f.notice.clone() />
            <p>{format!("We sent a six-digit code by text message to the verified phone of {}, if it has one.", v.email)}</p>
            <PostForm to=RecoverCode::url()>
                <Field id="recover-code" label="Code" name="code" autocomplete="one-time-code" inputmode="numeric" maxlength=Some(6)
                    value=f.value("code") error=f.error("code") hint=Some(Lifetimes::current().code_hint()) autofocus=true />
                <SubmitButton label="Continue" />
            </PostForm>
            {restart()}
        </AuthCard>
    }
}

fn new_password(v: ForgotView) -> impl IntoView {
    let f = v.flash;
    let policy = PasswordPolicy {
        min_length: v.min_length,
    };
    view! {
        <AuthCard title="Choose a new password">
            <FormMessage error=f.form_error.clone() />
            <PostForm to=RecoverReset::url()>
                <PasswordField id="recover-password" label="New password" name="password" autocomplete="new-password" policy=Some(policy) error=f.error("password") autofocus=true />
                <PasswordField id="recover-confirm" label="Confirm new password" name="confirm" autocomplete="new-password" error=f.error("confirm") />
                <SubmitButton label="Proceed" />
            </PostForm>
            {restart()}
        </AuthCard>
    }
}

fn restart() -> impl IntoView {
    view! {
        <PostForm to=RecoverRestart::url()>
            <button type="submit" class="link-button">"Start again"</button>
        </PostForm>
    }
}
