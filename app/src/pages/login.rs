//! `/login`: identifier first (E2). Which step shows comes from the server session, so the page
//! works the same with and without JavaScript: each step is a form posting to its server function,
//! whose redirect brings the page back at the next step.

use crate::api::login::{
    get_login_view, AckRecoveryCodes, LoginCode, LoginEmail, LoginPassword, LoginRecovery,
    LoginRestart, ResendCode,
};
use crate::components::{
    failed_card, server_view, AuthCard, Field, FormMessage, PasswordField, PostForm,
    RecoveryCodesList, ServerFn, SubmitButton,
};
use crate::wire::{Lifetimes, LoginStep, LoginView};
use gatehouse_core::values::factors::StepKind;
use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map().get_untracked();
    let recovery_mode = query.get("recovery").is_some();
    let verify = query.get("verify");
    // An application's `login_hint` (issue 13) arrives as `?email=`: the address is filled in.
    let hint = query.get("email").unwrap_or_default();
    server_view(get_login_view(), move |r| match r {
        Ok(v) => {
            // The verification result belongs to the first step only.
            let first = v.step == LoginStep::Email;
            let arrival = match verify.as_deref() {
                Some("ok") => Some("Your email is verified. Sign in to continue.".to_string()),
                _ => None,
            };
            let arrival_error = match verify.as_deref() {
                Some("invalid") => Some(
                    "That verification link is invalid or has expired. Sign in to get a new one."
                        .to_string(),
                ),
                _ => None,
            };
            let notice = v.flash.notice.clone().or(arrival.filter(|_| first));
            let error = v
                .flash
                .form_error
                .clone()
                .or(arrival_error.filter(|_| first));
            match v.step {
                LoginStep::Email => email_step(v, notice, error, hint.clone()).into_any(),
                LoginStep::Password => password_step(v, notice, error).into_any(),
                LoginStep::Code(StepKind::EmailCode | StepKind::SmsCode) => {
                    code_step(v, notice, error).into_any()
                }
                LoginStep::Code(StepKind::Authenticator) if recovery_mode => {
                    recovery_step(v, notice, error).into_any()
                }
                LoginStep::Code(StepKind::Authenticator) => {
                    authenticator_step(v, notice, error).into_any()
                }
                LoginStep::Code(StepKind::SetUpAuthenticator) => {
                    setup_step(v, notice, error).into_any()
                }
                LoginStep::RecoveryCodes => codes_step(v, error).into_any(),
                LoginStep::SignedIn => view! { <Redirect path="/profile" /> }.into_any(),
            }
        }
        Err(e) => failed_card("Sign in", e),
    })
}

fn email_step(
    v: LoginView,
    notice: Option<String>,
    error: Option<String>,
    hint: String,
) -> impl IntoView {
    let typed = v.flash.value("email");
    let email = if typed.is_empty() { hint } else { typed };
    // O7: the application this sign-in continues to, named; the form names its request.
    let (app, authz) = v.continues_to.clone().unzip();
    view! {
        <AuthCard title="Sign in">
            {app.map(|a| view! { <p class="card__lead">{format!("to continue to {a}")}</p> })}
            <FormMessage error=error notice=notice />
            <PostForm to=LoginEmail::url()>
                {authz.map(|id| view! { <input type="hidden" name="authz" value=id /> })}
                <Field
                    id="login-email"
                    label="Email"
                    name="email"
                    kind="email"
                    autocomplete="username"
                    value=email
                    error=v.flash.error("email")
                    autofocus=true
                />
                <SubmitButton label="Continue" />
            </PostForm>
            <p class="card__aside">"New here? " <a href="/register">"Create account"</a> " · " <a href="/forgot-password">"Forgot password?"</a></p>
        </AuthCard>
    }
}

fn password_step(v: LoginView, notice: Option<String>, error: Option<String>) -> impl IntoView {
    view! {
        <AuthCard title="Enter your password">
            <FormMessage error=error notice=notice />
            <p class="identity">
                <span class="identity__email">{v.email.clone()}</span>
            </p>
            <PostForm to=LoginPassword::url()>
                // Lets password managers pair the password with the account.
                <input type="email" name="username" autocomplete="username" value=v.email hidden=true readonly=true tabindex="-1" aria-hidden="true" />
                <PasswordField
                    id="login-password"
                    label="Password"
                    name="password"
                    autocomplete="current-password"
                    error=v.flash.error("password")
                    autofocus=true
                />
                <SubmitButton label="Sign in" />
            </PostForm>
            <div class="card__actions">
                <a href="/forgot-password">"Forgot password?"</a>
                <PostForm to=LoginRestart::url()>
                    <button type="submit" class="link-button">"Use another email"</button>
                </PostForm>
            </div>
        </AuthCard>
    }
}

fn code_step(v: LoginView, notice: Option<String>, error: Option<String>) -> impl IntoView {
    let by_sms = v.step == LoginStep::Code(StepKind::SmsCode);
    let sent_to = match (by_sms, v.destination.is_empty()) {
        (true, _) => format!(
            "We sent a six-digit code by text message to {}.",
            v.destination
        ),
        (false, true) => "We sent a six-digit code to your email address.".to_string(),
        (false, false) => format!("We sent a six-digit code to {}.", v.destination),
    };
    let title = if by_sms {
        "Check your phone"
    } else {
        "Check your email"
    };
    let wait = v.resend_in;
    view! {
        <AuthCard title=title>
            <FormMessage error=error notice=notice />
            <p>{sent_to}</p>
            {code_form(&v, &Lifetimes::current().code_hint())}
            <div class="card__actions">
                <PostForm to=ResendCode::url()>
                    <SubmitButton label="Resend code" secondary=true />
                </PostForm>
                {restart_form()}
            </div>
            {(wait > 0).then(|| view! { <p class="field__hint">{format!("You can ask for a new code in {wait} seconds.")}</p> })}
        </AuthCard>
    }
}

fn code_form(v: &LoginView, hint: &str) -> impl IntoView {
    let (value, error, hint) = (
        v.flash.value("code"),
        v.flash.error("code"),
        Some(hint.to_string()),
    );
    view! {
        <PostForm to=LoginCode::url()>
            <Field
                id="login-code"
                label="Verification code"
                name="code"
                autocomplete="one-time-code"
                inputmode="numeric"
                maxlength=Some(6)
                value=value
                error=error
                hint=hint
                autofocus=true
            />
            <SubmitButton label="Verify" />
        </PostForm>
    }
}

fn restart_form() -> impl IntoView {
    view! {
        <PostForm to=LoginRestart::url()>
            <button type="submit" class="link-button">"Start again"</button>
        </PostForm>
    }
}

/// M3: a code from the authenticator app (never named, M4).
fn authenticator_step(
    v: LoginView,
    notice: Option<String>,
    error: Option<String>,
) -> impl IntoView {
    view! {
        <AuthCard title="Confirm it is you">
            <FormMessage error=error notice=notice />
            <p>"Open your authenticator app and enter the six-digit code it shows for Gatehouse."</p>
            {code_form(&v, "A new code appears every 30 seconds.")}
            <div class="card__actions">
                <a href="/login?recovery=1">"Use a recovery code"</a>
                {restart_form()}
            </div>
        </AuthCard>
    }
}

/// M6: one of the ten recovery codes instead of the app.
fn recovery_step(v: LoginView, notice: Option<String>, error: Option<String>) -> impl IntoView {
    view! {
        <AuthCard title="Use a recovery code">
            <FormMessage error=error notice=notice />
            <p>"Enter one of the recovery codes you saved when you set up your authenticator app. Each code works once."</p>
            <PostForm to=LoginRecovery::url()>
                <Field
                    id="login-recovery"
                    label="Recovery code"
                    name="recovery_code"
                    autocomplete="off"
                    value=v.flash.value("recovery_code")
                    error=v.flash.error("recovery_code")
                    autofocus=true
                />
                <SubmitButton label="Verify" />
            </PostForm>
            <div class="card__actions">
                <a href="/login">"Use the code from your app"</a>
                {restart_form()}
            </div>
        </AuthCard>
    }
}

/// M4: the first sign-in after choosing an authenticator; active only after one valid code.
fn setup_step(v: LoginView, notice: Option<String>, error: Option<String>) -> impl IntoView {
    view! {
        <AuthCard title="Set up your authenticator app">
            <FormMessage error=error notice=notice />
            <p>"Scan the QR code with your authenticator app, or type the setup key into it. Then enter the six-digit code the app shows."</p>
            <img class="qr" src=v.qr_image.clone() alt="QR code" width="200" height="200" />
            <div class="field">
                <label for="setup-key">"Setup key"</label>
                <input id="setup-key" class="setup-key" type="text" readonly=true value=v.setup_key.clone() autocomplete="off" spellcheck="false" />
            </div>
            {code_form(&v, "The app shows a new code every 30 seconds.")}
            {restart_form()}
        </AuthCard>
    }
}

/// M6: the recovery codes, on their only showing.
fn codes_step(v: LoginView, error: Option<String>) -> impl IntoView {
    view! {
        <AuthCard title="Recovery codes">
            <FormMessage error=error />
            <p>"Your authenticator app is set up. Save these ten codes somewhere safe: each one signs you in once if you lose your phone. This is the only time they are shown."</p>
            <RecoveryCodesList codes=v.codes />
            <PostForm to=AckRecoveryCodes::url()>
                <SubmitButton label="I have saved these codes" />
            </PostForm>
        </AuthCard>
    }
}
