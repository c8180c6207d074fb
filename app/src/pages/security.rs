//! `/profile/security`: how sign-ins are confirmed, and changing it.
//!
//! - S5: when the last authentication is older than ten minutes, a "Confirm it is you" section
//!   asks for the password and then a code from the current method before changes go through.
//! - M4: the active method is described without naming an app; a chosen authenticator waits for
//!   the next sign-in. M11: email and SMS users are told the app is stronger.
//! - M6: recovery codes left, "Regenerate recovery codes", and the new ones shown once.
//!
//! Every form posts to its server function, whose redirect brings the page back with its
//! outcome, with or without JavaScript.

use crate::api::security::{
    get_security_view, ChangePassword, CodesSaved, RegenerateCodes, RemoveAppAccess, SaveMfaMethod,
    SecurityResend, SendResetLink, SignOutOthers, SignOutSession, VerifyPhone,
};
use crate::components::{
    server_view, ActivityList, FormMessage, MfaMethodChoice, PasswordField, PostForm, ProfileFrame,
    ReauthBox, RecoveryCodesList, SentCodeBox, ServerFn, SubmitButton,
};
use crate::wire::SecurityView;
use gatehouse_core::values::factors::MfaMethod;
use gatehouse_core::values::password::PasswordPolicy;
use leptos::prelude::*;
use leptos_router::components::Redirect;

#[component]
pub fn SecurityPage() -> impl IntoView {
    server_view(get_security_view(), |r| match r {
        Ok(Some(v)) => page(v).into_any(),
        _ => view! { <Redirect path="/login" /> }.into_any(),
    })
}

fn method_words(v: &SecurityView) -> String {
    match v.me.mfa_method {
        MfaMethod::Authenticator => "Codes from your authenticator app.".to_string(),
        MfaMethod::Sms => format!("Codes by text message to {}.", v.destination),
        MfaMethod::Email => format!("Codes by email to {}.", v.destination),
    }
}

fn page(v: SecurityView) -> impl IntoView {
    let me = v.me.clone();
    let flash = v.flash.clone();
    let fresh = v.reauth.fresh();
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
                {v.org_rules.clone().map(|w| view! { <p class="status">{w}</p> })}
                {(v.me.mfa_method != MfaMethod::Authenticator).then(|| view! {
                    <p class="field__hint">"An authenticator app is the strongest choice: codes by email or text message can be intercepted."</p>
                })}
                {(!fresh).then(|| view! { <ReauthBox reauth=v.reauth.clone() flash=flash.clone() tab="security" why="To change how you sign in" /> })}
                {v.verifying_phone.clone().filter(|_| fresh).map(|to| phone_section(&v, to))}
                {method_form(&v)}
            </section>
            {(v.me.mfa_method == MfaMethod::Authenticator || !v.new_codes.is_empty()).then(|| codes_section(&v))}
            {password_section(&v)}
            {sessions_section(&v)}
            {applications_section(&v)}
            {activity_section(&v)}
        </ProfileFrame>
    }
}

/// M9: the code sent to the new number.
fn phone_section(v: &SecurityView, to: String) -> impl IntoView + use<> {
    view! {
        <SentCodeBox id="phone" title="Verify your phone" text=format!("We sent a six-digit code to {to} by text message.")
            verify=VerifyPhone::url() resend=SecurityResend::url() resend_purpose="phone" flash=v.flash.clone() />
    }
}

fn method_form(v: &SecurityView) -> impl IntoView + use<> {
    let f = v.flash.clone();
    // What the person picked before a refusal, else the method they have.
    let selected = MfaMethod::parse(&f.value("mfa_method")).unwrap_or(v.me.mfa_method);
    let email_note = format!(
        "We email you a code each time you sign in ({}).",
        v.me.email
    );
    let countries = v.sms_country_codes.clone();
    view! {
        <PostForm to=SaveMfaMethod::url() class="method-form">
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
            <SubmitButton label="Save" />
        </PostForm>
    }
}

/// P7/S6: the current password, the new one twice.
fn password_section(v: &SecurityView) -> impl IntoView + use<> {
    let f = v.flash.clone();
    let policy = PasswordPolicy {
        min_length: v.min_length,
    };
    let email = v.me.email.clone();
    let reset_note = match v.me.mfa_method {
        MfaMethod::Sms => "We can text you a link to choose a new one.",
        MfaMethod::Authenticator => "We can email you a link to choose a new one (an authenticator app cannot receive links).",
        MfaMethod::Email => "We can email you a link to choose a new one.",
    };
    let reset_status = v.reset_link.clone().map(|(sent, expires)| {
        view! { <p class="status status--pending">{format!("Reset link sent at {sent}; it expires at {expires}.")}</p> }
    });
    view! {
        <section class="panel__section" aria-labelledby="password-title">
            <h3 id="password-title">"Your password"</h3>
            <p>"Changing your password signs out every other session."</p>
            <PostForm to=ChangePassword::url() class="method-form">
                // Lets password managers pair the new password with the account.
                <input type="email" name="username" autocomplete="username" value=email hidden=true readonly=true tabindex="-1" aria-hidden="true" />
                <PasswordField id="pw-current" label="Current password" name="current" autocomplete="current-password" error=f.error("current") />
                <PasswordField id="pw-new" label="New password" name="password" autocomplete="new-password" policy=Some(policy) error=f.error("password") />
                <PasswordField id="pw-confirm" label="Confirm new password" name="confirm" autocomplete="new-password" error=f.error("confirm") />
                <SubmitButton label="Change password" />
            </PostForm>
            <h4>"Forgot your current password?"</h4>
            <p>{reset_note}</p>
            {reset_status}
            <PostForm to=SendResetLink::url() class="method-form">
                <SubmitButton label="Send reset password link" secondary=true />
            </PostForm>
        </section>
    }
}

/// S4: every signed-in session, this one first; the others can be ended one by one or together.
fn sessions_section(v: &SecurityView) -> impl IntoView + use<> {
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
                    <PostForm to=SignOutSession::url()>
                        <input type="hidden" name="handle" value=s.handle.clone() />
                        <SubmitButton label="Sign out" secondary=true />
                    </PostForm>
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
                <PostForm to=SignOutOthers::url() class="method-form">
                    <SubmitButton label="Sign out other sessions" secondary=true />
                </PostForm>
            })}
        </section>
    }
}

/// Issue 13: the applications the person signed in to through Gatehouse, each with
/// **Remove access** (its tokens are revoked; it asks again next time).
fn applications_section(v: &SecurityView) -> impl IntoView + use<> {
    let rows = v
        .applications
        .clone()
        .into_iter()
        .map(|a| {
            view! {
                <li class="session">
                    <div>
                        <span class="session__device">{a.name}</span>
                        <small>{format!(" · sees: {} · last used {}", a.sees, a.last_used)}</small>
                    </div>
                    <PostForm to=RemoveAppAccess::url()>
                        <input type="hidden" name="client_id" value=a.client_id />
                        <SubmitButton label="Remove access" secondary=true />
                    </PostForm>
                </li>
            }
        })
        .collect_view();
    let none = v.applications.is_empty();
    view! {
        <section class="panel__section" aria-labelledby="applications-title">
            <h3 id="applications-title">"Applications"</h3>
            {if none {
                view! { <p>"You have not signed in to any application with this account."</p> }.into_any()
            } else {
                view! { <ul class="sessions" aria-label="Applications signed in to">{rows}</ul> }.into_any()
            }}
        </section>
    }
}

/// G1: the newest security events of the account.
fn activity_section(v: &SecurityView) -> impl IntoView + use<> {
    let items = v.activity.clone();
    view! {
        <section class="panel__section" aria-labelledby="activity-title">
            <h3 id="activity-title">"Recent security activity"</h3>
            <ActivityList items=items />
        </section>
    }
}

/// M6: how many recovery codes are left, regenerate, and new ones on their one showing.
fn codes_section(v: &SecurityView) -> impl IntoView + use<> {
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
                    <PostForm to=CodesSaved::url()>
                        <SubmitButton label="I have saved these codes" />
                    </PostForm>
                }
                .into_any()
            } else {
                view! {
                    <p>{format!("{left} of 10 recovery codes left. Each one signs you in once if you lose your phone.")}</p>
                    <PostForm to=RegenerateCodes::url()>
                        <SubmitButton label="Regenerate recovery codes" secondary=true />
                    </PostForm>
                }
                .into_any()
            }}
        </section>
    }
}
