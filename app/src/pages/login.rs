//! `/login`: identifier first (E2). Which step shows comes from the server session, so the page
//! works the same with and without JavaScript: each step is a form posting to its server function,
//! after which the page re-reads the state.

use crate::api::{
    get_login_view, AckRecoveryCodes, LoginCode, LoginEmail, LoginPassword, LoginRecovery,
    LoginRestart, ResendCode,
};
use crate::components::{
    action_failure, AuthCard, Field, FormMessage, PasswordField, RecoveryCodesList, SubmitButton,
};
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
    let recovery = ServerAction::<LoginRecovery>::new();
    let ack = ServerAction::<AckRecoveryCodes>::new();
    let state = Resource::new(
        move || {
            (
                (
                    email.version().get(),
                    password.version().get(),
                    code.version().get(),
                ),
                (
                    resend.version().get(),
                    restart.version().get(),
                    recovery.version().get(),
                    ack.version().get(),
                ),
            )
        },
        |_| get_login_view(),
    );
    let query = use_query_map();
    let recovery_mode = move || query.read().get("recovery").is_some();
    let arrival = move || match query.read().get("verify").as_deref() {
        Some("ok") => Some("Your email is verified. Sign in to continue.".to_string()),
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
                                LoginStep::Code | LoginStep::SmsCode => code_step(v, code, resend, restart, notice, error).into_any(),
                                LoginStep::Authenticator if recovery_mode() => {
                                    recovery_step(v, recovery, restart, notice, error).into_any()
                                }
                                LoginStep::Authenticator => authenticator_step(v, code, restart, notice, error).into_any(),
                                LoginStep::SetUpAuthenticator => setup_step(v, code, restart, notice, error).into_any(),
                                LoginStep::RecoveryCodes => codes_step(v, ack, error).into_any(),
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
                {action_failure(action)}
            </ActionForm>
            <p class="card__aside">"New here? " <a href="/register">"Create account"</a> " · " <a href="/forgot-password">"Forgot password?"</a></p>
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
                {action_failure(action)}
            </ActionForm>
            <div class="card__actions">
                <a href="/forgot-password">"Forgot password?"</a>
                <ActionForm action=restart>
                    <button type="submit" class="link-button">"Use another email"</button>
                    {action_failure(restart)}
                </ActionForm>
            </div>
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
    let by_sms = v.step == LoginStep::SmsCode;
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
            {code_form(&v, action, "The code expires in 10 minutes.")}
            <div class="card__actions">
                <ActionForm action=resend>
                    <SubmitButton label="Resend code" secondary=true pending=resend.pending() />
                    {action_failure(resend)}
                </ActionForm>
                {restart_form(restart)}
            </div>
            {(wait > 0).then(|| view! { <p class="field__hint">{format!("You can ask for a new code in {wait} seconds.")}</p> })}
        </AuthCard>
    }
}

fn code_form(v: &LoginView, action: ServerAction<LoginCode>, hint: &str) -> impl IntoView {
    let (value, error, hint) = (
        v.flash.value("code"),
        v.flash.error("code"),
        Some(hint.to_string()),
    );
    view! {
        <ActionForm action=action>
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
            <SubmitButton label="Verify" pending=action.pending() />
            {action_failure(action)}
        </ActionForm>
    }
}

fn restart_form(restart: ServerAction<LoginRestart>) -> impl IntoView {
    view! {
        <ActionForm action=restart>
            <button type="submit" class="link-button">"Start again"</button>
            {action_failure(restart)}
        </ActionForm>
    }
}

/// M3: a code from the authenticator app (never named, M4).
fn authenticator_step(
    v: LoginView,
    action: ServerAction<LoginCode>,
    restart: ServerAction<LoginRestart>,
    notice: Option<String>,
    error: Option<String>,
) -> impl IntoView {
    view! {
        <AuthCard title="Confirm it is you">
            <FormMessage error=error notice=notice />
            <p>"Open your authenticator app and enter the six-digit code it shows for Gatehouse."</p>
            {code_form(&v, action, "A new code appears every 30 seconds.")}
            <div class="card__actions">
                <a href="/login?recovery=1">"Use a recovery code"</a>
                {restart_form(restart)}
            </div>
        </AuthCard>
    }
}

/// M6: one of the ten recovery codes instead of the app.
fn recovery_step(
    v: LoginView,
    action: ServerAction<LoginRecovery>,
    restart: ServerAction<LoginRestart>,
    notice: Option<String>,
    error: Option<String>,
) -> impl IntoView {
    view! {
        <AuthCard title="Use a recovery code">
            <FormMessage error=error notice=notice />
            <p>"Enter one of the recovery codes you saved when you set up your authenticator app. Each code works once."</p>
            <ActionForm action=action>
                <Field
                    id="login-recovery"
                    label="Recovery code"
                    name="recovery_code"
                    autocomplete="off"
                    value=v.flash.value("recovery_code")
                    error=v.flash.error("recovery_code")
                    autofocus=true
                />
                <SubmitButton label="Verify" pending=action.pending() />
                {action_failure(action)}
            </ActionForm>
            <div class="card__actions">
                <a href="/login">"Use the code from your app"</a>
                {restart_form(restart)}
            </div>
        </AuthCard>
    }
}

/// M4: the first sign-in after choosing an authenticator; active only after one valid code.
fn setup_step(
    v: LoginView,
    action: ServerAction<LoginCode>,
    restart: ServerAction<LoginRestart>,
    notice: Option<String>,
    error: Option<String>,
) -> impl IntoView {
    view! {
        <AuthCard title="Set up your authenticator app">
            <FormMessage error=error notice=notice />
            <p>"Scan the QR code with your authenticator app, or type the setup key into it. Then enter the six-digit code the app shows."</p>
            <img class="qr" src=v.qr_image.clone() alt="QR code" width="200" height="200" />
            <div class="field">
                <label for="setup-key">"Setup key"</label>
                <input id="setup-key" class="setup-key" type="text" readonly=true value=v.setup_key.clone() autocomplete="off" spellcheck="false" />
            </div>
            {code_form(&v, action, "The app shows a new code every 30 seconds.")}
            {restart_form(restart)}
        </AuthCard>
    }
}

/// M6: the recovery codes, on their only showing.
fn codes_step(
    v: LoginView,
    ack: ServerAction<AckRecoveryCodes>,
    error: Option<String>,
) -> impl IntoView {
    view! {
        <AuthCard title="Recovery codes">
            <FormMessage error=error />
            <p>"Your authenticator app is set up. Save these ten codes somewhere safe: each one signs you in once if you lose your phone. This is the only time they are shown."</p>
            <RecoveryCodesList codes=v.codes />
            <ActionForm action=ack>
                <SubmitButton label="I have saved these codes" pending=ack.pending() />
                {action_failure(ack)}
            </ActionForm>
        </AuthCard>
    }
}
