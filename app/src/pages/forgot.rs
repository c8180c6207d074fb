//! `/forgot-password`: asks for the email and answers the same for every address (F1). The
//! address typed at sign-in is filled in; the answer keeps what was typed.

use crate::api::recovery::{get_forgot_view, ForgotPassword};
use crate::components::{AuthCard, Field, FormMessage, SubmitButton};
use crate::wire::ForgotView;
use leptos::prelude::*;

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<ForgotPassword>::new();
    let state = Resource::new(move || action.version().get(), |_| get_forgot_view());
    view! {
        <Transition fallback=|| view! { <AuthCard title="Reset your password" /> }>
            {move || {
                state
                    .get()
                    .map(|r| match r {
                        Ok(v) => form(v, action).into_any(),
                        Err(e) => view! {
                            <AuthCard title="Reset your password">
                                <FormMessage error=Some(e.to_string()) />
                            </AuthCard>
                        }
                        .into_any(),
                    })
            }}
        </Transition>
    }
}

fn form(v: ForgotView, action: ServerAction<ForgotPassword>) -> impl IntoView {
    let f = v.flash;
    let typed = f.value("email");
    let email = if typed.is_empty() { v.email } else { typed };
    view! {
        <AuthCard title="Reset your password">
            <FormMessage error=f.form_error.clone() notice=f.notice.clone() />
            <p>"Enter the email address of your account. We will send you a link to choose a new password."</p>
            <ActionForm action=action>
                <Field id="forgot-email" label="Email" name="email" kind="email" autocomplete="username" value=email error=f.error("email") autofocus=true />
                <SubmitButton label="Continue" pending=action.pending() />
            </ActionForm>
            <p class="card__aside"><a href="/login">"Back to sign-in"</a></p>
        </AuthCard>
    }
}
