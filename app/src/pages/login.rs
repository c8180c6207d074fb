//! `/login`: identifier first (E2). Which step shows comes from the server session, so the page
//! works the same with and without JavaScript: each step is a form posting to its server function,
//! after which the page re-reads the state.

use crate::api::{get_login_view, LoginCode, LoginEmail, LoginPassword, LoginRestart, ResendCode};
use crate::components::{AuthCard, Field, FormMessage, PasswordField, SubmitButton};
use crate::wire::{LoginStep, LoginView};
use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let email = ServerAction::<LoginEmail>::new();
    let password = ServerAction::<LoginPassword>::new();
    let code = ServerAction::<LoginCode>::new();
    let resend = ServerAction::<ResendCode>::new();
    let restart = ServerAction::<LoginRestart>::new();
    let state = Resource::new(
        move || {
            (
                email.version().get(),
                password.version().get(),
                code.version().get(),
                resend.version().get(),
                restart.version().get(),
            )
        },
        |_| get_login_view(),
    );
    let query = use_query_map();
    let arrival = move || match query.read().get("verify").as_deref() {
        Some("ok") => Some("Your email address is confirmed. Sign in to continue.".to_string()),
        _ => None,
    };
    let arrival_error = move || match query.read().get("verify").as_deref() {
        Some("invalid") => Some(
            "That verification link is invalid or has expired. Sign in to get a new one."
                .to_string(),
        ),
        _ => None,
    };
    view! {
        <Transition fallback=|| view! { <AuthCard title="Sign in" /> }>
            {move || {
                state
                    .get()
                    .map(|r| match r {
                        Ok(v) => {
                            // The verification result belongs to the first step only.
                            let first = v.step == LoginStep::Email;
                            let notice = v.flash.notice.clone().or_else(|| arrival().filter(|_| first));
                            let error = v.flash.form_error.clone().or_else(|| arrival_error().filter(|_| first));
                            match v.step {
                                LoginStep::Email => email_step(v, email, notice, error).into_any(),
                                LoginStep::Password => password_step(v, password, restart, notice, error).into_any(),
                                LoginStep::Code => code_step(v, code, resend, restart, notice, error).into_any(),
                                LoginStep::SignedIn => view! { <Redirect path="/profile" /> }.into_any(),
                            }
                        }
                        Err(e) => view! {
                            <AuthCard title="Sign in">
                                <FormMessage error=Some(e.to_string()) />
                            </AuthCard>
                        }
                        .into_any(),
                    })
            }}
        </Transition>
    }
}

fn email_step(
    v: LoginView,
    action: ServerAction<LoginEmail>,
    notice: Option<String>,
    error: Option<String>,
) -> impl IntoView {
    view! {
        <AuthCard title="Sign in">
            <FormMessage error=error notice=notice />
            <ActionForm action=action>
                <Field
                    id="login-email"
                    label="Email"
                    name="email"
                    kind="email"
                    autocomplete="username"
                    value=v.flash.value("email")
                    error=v.flash.error("email")
                    autofocus=true
                />
                <SubmitButton label="Continue" pending=action.pending() />
            </ActionForm>
            <p class="card__aside">"New here? " <a href="/register">"Create account"</a></p>
        </AuthCard>
    }
}

fn password_step(
    v: LoginView,
    action: ServerAction<LoginPassword>,
    restart: ServerAction<LoginRestart>,
    notice: Option<String>,
    error: Option<String>,
) -> impl IntoView {
    view! {
        <AuthCard title="Enter your password">
            <FormMessage error=error notice=notice />
            <p class="identity">
                <span class="identity__email">{v.email.clone()}</span>
            </p>
            <ActionForm action=action>
                // Lets password managers pair the password with the account.
                <input type="email" name="username" autocomplete="username" value=v.email hidden=true readonly=true tabindex="-1" aria-hidden="true" />
                <PasswordField
                    id="login-password"
                    label="Password"
                    name="password"
                    autocomplete="current-password"
                    clear_on=action.version()
                    error=v.flash.error("password")
                    autofocus=true
                />
                <SubmitButton label="Sign in" pending=action.pending() />
            </ActionForm>
            <ActionForm action=restart>
                <button type="submit" class="link-button">"Use another email"</button>
            </ActionForm>
        </AuthCard>
    }
}

fn code_step(
    v: LoginView,
    action: ServerAction<LoginCode>,
    resend: ServerAction<ResendCode>,
    restart: ServerAction<LoginRestart>,
    notice: Option<String>,
    error: Option<String>,
) -> impl IntoView {
    let sent_to = if v.destination.is_empty() {
        "We sent a six-digit code to your email address.".to_string()
    } else {
        format!("We sent a six-digit code to {}.", v.destination)
    };
    let wait = v.resend_in;
    view! {
        <AuthCard title="Check your email">
            <FormMessage error=error notice=notice />
            <p>{sent_to}</p>
            <ActionForm action=action>
                <Field
                    id="login-code"
                    label="Verification code"
                    name="code"
                    autocomplete="one-time-code"
                    inputmode="numeric"
                    maxlength=Some(6)
                    value=v.flash.value("code")
                    error=v.flash.error("code")
                    hint=Some("The code expires in 10 minutes.".to_string())
                    autofocus=true
                />
                <SubmitButton label="Verify" pending=action.pending() />
            </ActionForm>
            <div class="card__actions">
                <ActionForm action=resend>
                    <SubmitButton label="Resend code" secondary=true pending=resend.pending() />
                </ActionForm>
                <ActionForm action=restart>
                    <button type="submit" class="link-button">"Start again"</button>
                </ActionForm>
            </div>
            {(wait > 0).then(|| view! { <p class="field__hint">{format!("You can ask for a new code in {wait} seconds.")}</p> })}
        </AuthCard>
    }
}
