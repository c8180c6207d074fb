//! `/reset-password`: the new password for the link just opened. The token is in an HttpOnly
//! cookie (F4), so this page's address is always clean. After the reset: "Your password has
//! been reset." and a link to sign in — never an automatic sign-in (F5).

use crate::api::recovery::{get_reset_view, ResetPassword};
use crate::components::{
    failed_card, server_view, AuthCard, FormMessage, PasswordField, PostForm, ServerFn,
    SubmitButton,
};
use crate::wire::ResetView;
use gatehouse_core::values::password::PasswordPolicy;
use leptos::prelude::*;

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    server_view(get_reset_view(), |r| match r {
        Ok(v) if v.flash.notice.is_some() => reset_done(v.flash.notice).into_any(),
        Ok(v) if !v.link_live => expired(v).into_any(),
        Ok(v) => form(v).into_any(),
        Err(e) => failed_card("Choose a new password", e),
    })
}

/// F5: the password is reset; nobody is signed in.
pub(crate) fn reset_done(notice: Option<String>) -> impl IntoView {
    view! {
        <AuthCard title="Password reset">
            <FormMessage notice=notice />
            <p>"Every session of your account was signed out. Sign in with your new password; we will still ask for your code."</p>
            <p><a class="button" href="/login">"Sign in"</a></p>
        </AuthCard>
    }
}

fn expired(v: ResetView) -> impl IntoView {
    let error = v.flash.form_error.or_else(|| {
        Some(
            "This reset link is invalid, was already used or has expired. Ask for a new one."
                .into(),
        )
    });
    view! {
        <AuthCard title="Choose a new password">
            <FormMessage error=error />
            <p><a href="/forgot-password">"Ask for a new link"</a></p>
        </AuthCard>
    }
}

fn form(v: ResetView) -> impl IntoView {
    let f = v.flash;
    let policy = PasswordPolicy {
        min_length: v.min_length,
    };
    view! {
        <AuthCard title="Choose a new password">
            <FormMessage error=f.form_error.clone() />
            <PostForm to=ResetPassword::url()>
                <PasswordField id="reset-password" label="New password" name="password" autocomplete="new-password" policy=Some(policy) error=f.error("password") autofocus=true />
                <PasswordField id="reset-confirm" label="Confirm new password" name="confirm" autocomplete="new-password" error=f.error("confirm") />
                <SubmitButton label="Reset My Password" />
            </PostForm>
        </AuthCard>
    }
}
