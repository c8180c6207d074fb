//! `/profile/security`: how sign-ins are confirmed, and changing it.
//!
//! - S5: when the last authentication is older than ten minutes, a "Confirm it is you" section
//!   asks for the password and then a code from the current method before changes go through.
//! - M4: the active method is described without naming an app; a chosen authenticator waits for
//!   the next sign-in. M11: email and SMS users are told the app is stronger.
//! - M6: recovery codes left, "Regenerate recovery codes", and the new ones shown once.
//!
//! Every form posts to its server function and the page re-reads its state, with or without
//! JavaScript.

use crate::api::security::{
    get_security_view, ChangePassword, CodesSaved, ReauthCode, ReauthPassword, RegenerateCodes,
    SaveMfaMethod, SecurityResend, SendResetLink, SignOutOthers, SignOutSession, VerifyPhone,
};
use crate::components::{
    action_failure, Field, FormMessage, MfaMethodChoice, PasswordField, ProfileFrame,
    RecoveryCodesList, SubmitButton,
};
use crate::wire::{ReauthView, SecurityView};
use gatehouse_core::password::PasswordPolicy;
use leptos::prelude::*;
use leptos_router::components::Redirect;

/// Every action of the page; a finished one makes the page re-read its state.
#[derive(Clone, Copy)]
struct Actions {
    reauth_password: ServerAction<ReauthPassword>,
    reauth_code: ServerAction<ReauthCode>,
    resend: ServerAction<SecurityResend>,
    save: ServerAction<SaveMfaMethod>,
    verify_phone: ServerAction<VerifyPhone>,
    regenerate: ServerAction<RegenerateCodes>,
    saved: ServerAction<CodesSaved>,
    password: ServerAction<ChangePassword>,
    reset_link: ServerAction<SendResetLink>,
    end_one: ServerAction<SignOutSession>,
    end_others: ServerAction<SignOutOthers>,
}

impl Actions {
    fn new() -> Self {
        Self {
            reauth_password: ServerAction::new(),
            reauth_code: ServerAction::new(),
            resend: ServerAction::new(),
            save: ServerAction::new(),
            verify_phone: ServerAction::new(),
            regenerate: ServerAction::new(),
            saved: ServerAction::new(),
            password: ServerAction::new(),
            reset_link: ServerAction::new(),
            end_one: ServerAction::new(),
            end_others: ServerAction::new(),
        }
    }
    fn versions(&self) -> [usize; 11] {
        [
            self.reauth_password.version().get(),
            self.reauth_code.version().get(),
            self.resend.version().get(),
            self.save.version().get(),
            self.verify_phone.version().get(),
            self.regenerate.version().get(),
            self.saved.version().get(),
            self.password.version().get(),
            self.reset_link.version().get(),
            self.end_one.version().get(),
            self.end_others.version().get(),
        ]
    }
}

#[component]
pub fn SecurityPage() -> impl IntoView {
    let a = Actions::new();
    let state = Resource::new(move || a.versions(), |_| get_security_view());
    view! {
        <Transition fallback=|| ()>
            {move || {
                state
                    .get()
                    .map(|r| match r {
                        Ok(Some(v)) => page(v, a).into_any(),
                        _ => view! { <Redirect path="/login" /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

fn method_words(v: &SecurityView) -> String {
    match v.method.as_str() {
        "totp" => "Codes from your authenticator app.".to_string(),
        "sms" => format!("Codes by text message to {}.", v.destination),
        _ => format!("Codes by email to {}.", v.destination),
    }
}

fn page(v: SecurityView, a: Actions) -> impl IntoView {
    let me = v.me.clone();
    let flash = v.flash.clone();
    let fresh = matches!(v.reauth, ReauthView::Fresh { .. });
    view! {
        <ProfileFrame me=me active="/profile/security">
            <h2 class="visually-hidden">"Security"</h2>
            <FormMessage error=flash.form_error.clone() notice=flash.notice.clone() />
            <section class="panel__section" aria-labelledby="method-title">
                <h3 id="method-title">"How you confirm sign-ins"</h3>
                <p class="status">
                    <strong>"Active method: "</strong>
                    {method_words(&v)}
                </p>
                {v.pending.clone().map(|p| view! {
                    <p class="status status--pending">{p}</p>
                })}
                {(v.method != "totp").then(|| view! {
                    <p class="field__hint">"An authenticator app is the strongest choice: codes by email or text message can be intercepted."</p>
                })}
                {(!fresh).then(|| reauth_section(&v, a))}
                {v.verifying_phone.clone().filter(|_| fresh).map(|to| phone_section(&v, to, a))}
                {method_form(&v, a)}
            </section>
            {(v.method == "totp" || !v.new_codes.is_empty()).then(|| codes_section(&v, a))}
            {password_section(&v, a)}
            {sessions_section(&v, a)}
            {activity_section(&v)}
        </ProfileFrame>
    }
}

/// S5: "Confirm it is you" — the password, then a code from the current method.
fn reauth_section(v: &SecurityView, a: Actions) -> impl IntoView + use<> {
    let f = v.flash.clone();
    let body = match &v.reauth {
        ReauthView::Code {
            by_app,
            destination,
            resend_in,
        } => {
            let (text, hint) = if *by_app {
                (
                    "Enter the six-digit code your authenticator app shows for Gatehouse.".to_string(),
                    "A new code appears every 30 seconds.",
                )
            } else {
                (
                    format!("We sent a six-digit code to {destination}."),
                    "The code expires in 10 minutes.",
                )
            };
            let wait = *resend_in;
            view! {
                <p>{text}</p>
                <ActionForm action=a.reauth_code>
                    <Field id="reauth-code" label="Verification code" name="code" autocomplete="one-time-code" inputmode="numeric" maxlength=Some(6)
                        value=f.value("reauth_code") error=f.error("reauth_code") hint=Some(hint.to_string()) />
                    <SubmitButton label="Verify" pending=a.reauth_code.pending() />
                    {action_failure(a.reauth_code)}
                </ActionForm>
                {(!by_app).then(|| view! {
                    <ActionForm action=a.resend>
                        <input type="hidden" name="purpose" value="reauth" />
                        <SubmitButton label="Resend code" secondary=true pending=a.resend.pending() />
                        {action_failure(a.resend)}
                    </ActionForm>
                    {(wait > 0).then(|| view! { <p class="field__hint">{format!("You can ask for a new code in {wait} seconds.")}</p> })}
                })}
            }
            .into_any()
        }
        _ => view! {
            <p>"To change how you sign in, enter your password and then a code. After that you have 10 minutes to make changes."</p>
            <ActionForm action=a.reauth_password>
                <PasswordField id="reauth-password" label="Password" name="password" autocomplete="current-password"
                    clear_on=a.reauth_password.version() error=f.error("reauth_password") />
                <SubmitButton label="Continue" pending=a.reauth_password.pending() />
                {action_failure(a.reauth_password)}
            </ActionForm>
        }
        .into_any(),
    };
    view! {
        <section class="reauth" aria-labelledby="reauth-title">
            <h4 id="reauth-title">"Confirm it is you"</h4>
            {body}
        </section>
    }
}

/// M9: the code sent to the new number.
fn phone_section(v: &SecurityView, to: String, a: Actions) -> impl IntoView + use<> {
    let f = v.flash.clone();
    view! {
        <section class="reauth" aria-labelledby="phone-title">
            <h4 id="phone-title">"Verify your phone"</h4>
            <p>{format!("We sent a six-digit code to {to} by text message.")}</p>
            <ActionForm action=a.verify_phone>
                <Field id="phone-code" label="Verification code" name="code" autocomplete="one-time-code" inputmode="numeric" maxlength=Some(6)
                    value=f.value("phone_code") error=f.error("phone_code") hint=Some("The code expires in 10 minutes.".to_string()) />
                <SubmitButton label="Verify" pending=a.verify_phone.pending() />
                {action_failure(a.verify_phone)}
            </ActionForm>
            <ActionForm action=a.resend>
                <input type="hidden" name="purpose" value="phone" />
                <SubmitButton label="Resend code" secondary=true pending=a.resend.pending() />
                {action_failure(a.resend)}
            </ActionForm>
        </section>
    }
}

fn method_form(v: &SecurityView, a: Actions) -> impl IntoView + use<> {
    let f = v.flash.clone();
    let typed = f.value("mfa_method");
    let selected = if typed.is_empty() {
        v.method.clone()
    } else {
        typed
    };
    let email_note = format!(
        "We email you a code each time you sign in ({}).",
        v.me.email
    );
    let countries = v.sms_country_codes.clone();
    view! {
        <ActionForm action=a.save attr:class="method-form">
            <MfaMethodChoice
                id="sec"
                selected=selected
                phone=f.value("phone")
                phone_error=f.error("phone")
                error=f.error("mfa_method")
                sms_country_codes=countries
                email_note=email_note
                totp_note="The strongest choice: an app on your phone shows the code. You set it up at your next sign-in."
            />
            <SubmitButton label="Save" pending=a.save.pending() />
            {action_failure(a.save)}
        </ActionForm>
    }
}

/// P7/S6: the current password, the new one twice.
fn password_section(v: &SecurityView, a: Actions) -> impl IntoView + use<> {
    let f = v.flash.clone();
    let policy = PasswordPolicy {
        min_length: v.min_length,
    };
    let email = v.me.email.clone();
    let reset_note = match v.method.as_str() {
        "sms" => "We can text you a link to choose a new one.",
        "totp" => "We can email you a link to choose a new one (an authenticator app cannot receive links).",
        _ => "We can email you a link to choose a new one.",
    };
    let reset_status = v.reset_link.clone().map(|(sent, expires)| {
        view! { <p class="status status--pending">{format!("Reset link sent at {sent}; it expires at {expires}.")}</p> }
    });
    view! {
        <section class="panel__section" aria-labelledby="password-title">
            <h3 id="password-title">"Your password"</h3>
            <p>"Changing your password signs out every other session."</p>
            <ActionForm action=a.password attr:class="method-form">
                // Lets password managers pair the new password with the account.
                <input type="email" name="username" autocomplete="username" value=email hidden=true readonly=true tabindex="-1" aria-hidden="true" />
                <PasswordField id="pw-current" label="Current password" name="current" autocomplete="current-password" clear_on=a.password.version() error=f.error("current") />
                <PasswordField id="pw-new" label="New password" name="password" autocomplete="new-password" policy=Some(policy) clear_on=a.password.version() error=f.error("new_password") />
                <PasswordField id="pw-confirm" label="Confirm new password" name="confirm" autocomplete="new-password" clear_on=a.password.version() error=f.error("confirm") />
                <SubmitButton label="Change password" pending=a.password.pending() />
                {action_failure(a.password)}
            </ActionForm>
            <h4>"Forgot your current password?"</h4>
            <p>{reset_note}</p>
            {reset_status}
            <ActionForm action=a.reset_link attr:class="method-form">
                <SubmitButton label="Send reset password link" secondary=true pending=a.reset_link.pending() />
                {action_failure(a.reset_link)}
            </ActionForm>
        </section>
    }
}

/// S4: every signed-in session, this one first; the others can be ended one by one or together.
fn sessions_section(v: &SecurityView, a: Actions) -> impl IntoView + use<> {
    let others = v.sessions.iter().filter(|s| !s.current).count();
    let rows = v
        .sessions
        .clone()
        .into_iter()
        .map(|s| {
            let action = if s.current {
                view! { <strong>"This session"</strong> }.into_any()
            } else {
                view! {
                    <ActionForm action=a.end_one>
                        <input type="hidden" name="handle" value=s.handle.clone() />
                        <SubmitButton label="Sign out" secondary=true pending=a.end_one.pending() />
                        {action_failure(a.end_one)}
                    </ActionForm>
                }
                .into_any()
            };
            view! {
                <li class="session">
                    <div>
                        <span class="session__device">{s.device}</span>
                        <small>{format!(" · {} · signed in {} · last seen {}", s.ip, s.since, s.last_seen)}</small>
                    </div>
                    {action}
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="panel__section" aria-labelledby="sessions-title">
            <h3 id="sessions-title">"Active sessions"</h3>
            <ul class="sessions" aria-label="Signed-in sessions">{rows}</ul>
            {(others > 0).then(|| view! {
                <ActionForm action=a.end_others attr:class="method-form">
                    <SubmitButton label="Sign out other sessions" secondary=true pending=a.end_others.pending() />
                    {action_failure(a.end_others)}
                </ActionForm>
            })}
        </section>
    }
}

/// G1: the newest security events of the account.
fn activity_section(v: &SecurityView) -> impl IntoView + use<> {
    let rows = v
        .activity
        .clone()
        .into_iter()
        .map(|e| {
            view! {
                <li><span>{e.what}</span> <small>{format!(" · {} · {}", e.when, e.ip)}</small></li>
            }
        })
        .collect_view();
    view! {
        <section class="panel__section" aria-labelledby="activity-title">
            <h3 id="activity-title">"Recent security activity"</h3>
            <ul class="activity" aria-label="Security events">{rows}</ul>
        </section>
    }
}

/// M6: how many recovery codes are left, regenerate, and new ones on their one showing.
fn codes_section(v: &SecurityView, a: Actions) -> impl IntoView + use<> {
    let left = v.recovery_codes_left;
    let showing = !v.new_codes.is_empty();
    let codes = v.new_codes.clone();
    view! {
        <section class="panel__section" aria-labelledby="codes-title">
            <h3 id="codes-title">"Recovery codes"</h3>
            {if showing {
                view! {
                    <p>"Save these ten codes somewhere safe: each one signs you in once if you lose your phone. This is the only time they are shown."</p>
                    <RecoveryCodesList codes=codes />
                    <ActionForm action=a.saved>
                        <SubmitButton label="I have saved these codes" pending=a.saved.pending() />
                        {action_failure(a.saved)}
                    </ActionForm>
                }
                .into_any()
            } else {
                view! {
                    <p>{format!("{left} of 10 recovery codes left. Each one signs you in once if you lose your phone.")}</p>
                    <ActionForm action=a.regenerate>
                        <SubmitButton label="Regenerate recovery codes" secondary=true pending=a.regenerate.pending() />
                        {action_failure(a.regenerate)}
                    </ActionForm>
                }
                .into_any()
            }}
        </section>
    }
}
