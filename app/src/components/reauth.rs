//! The confirmation blocks of the profile tabs.
//!
//! - S5 "Confirm it is you" ([`ReauthBox`]): the password, then a code from the current method
//!   (the app's, or one sent by email or text message). One block for every place a sensitive
//!   change is made — the Security tab and the Profile tab's phone; `tab` tells the server
//!   functions where to come back to (their messages go into that tab's flash).
//! - M9 ([`SentCodeBox`]): the code texted to a new number, with Verify and Resend.

use crate::api::security::{ReauthCode, ReauthPassword, SecurityResend};
use crate::components::{Field, PasswordField, PostForm, ServerFn, SubmitButton};
use crate::wire::{Flash, Lifetimes, ReauthView};
use leptos::prelude::*;

/// The re-authentication block; `why` says what it unlocks ("To change how you sign in").
#[component]
pub fn ReauthBox(
    reauth: ReauthView,
    flash: Flash,
    /// "security", "profile" or "org:{slug}": the page the answer comes back to.
    #[prop(into)]
    tab: String,
    why: &'static str,
    /// The prefix of the block's element ids (the gallery shows several).
    #[prop(default = "reauth")]
    id: &'static str,
    /// O7: the application request this re-authentication is for (its id), posted with the
    /// password; empty everywhere else.
    #[prop(optional, into)]
    authz: String,
) -> impl IntoView {
    let f = flash;
    let (title_id, code_id, password_id) = (
        format!("{id}-title"),
        format!("{id}-code"),
        format!("{id}-password"),
    );
    let body = match reauth {
        ReauthView::Code {
            by_app,
            destination,
            resend_in,
        } => {
            let (text, hint) = if by_app {
                (
                    "Enter the six-digit code your authenticator app shows for Gatehouse.".to_string(),
                    "A new code appears every 30 seconds.".to_string(),
                )
            } else {
                (
                    format!("We sent a six-digit code to {destination}."),
                    Lifetimes::current().code_hint(),
                )
            };
            let resend_tab = tab.clone();
            view! {
                <p>{text}</p>
                <PostForm to=ReauthCode::url()>
                    <input type="hidden" name="tab" value=tab />
                    <Field id=code_id label="Verification code" name="code" autocomplete="one-time-code" inputmode="numeric" maxlength=Some(6)
                        value=f.value("reauth_code") error=f.error("reauth_code") hint=Some(hint) />
                    <SubmitButton label="Verify" />
                </PostForm>
                {(!by_app).then(|| view! {
                    <PostForm to=SecurityResend::url()>
                        <input type="hidden" name="purpose" value="reauth" />
                        <input type="hidden" name="tab" value=resend_tab />
                        <SubmitButton label="Resend code" secondary=true />
                    </PostForm>
                    {(resend_in > 0).then(|| view! { <p class="field__hint">{format!("You can ask for a new code in {resend_in} seconds.")}</p> })}
                })}
            }
            .into_any()
        }
        _ => view! {
            <p>{format!("{why}, enter your password and then a code. After that you have {} minutes to make changes.", Lifetimes::current().reauth_minutes)}</p>
            <PostForm to=ReauthPassword::url()>
                <input type="hidden" name="tab" value=tab />
                {(!authz.is_empty()).then(|| view! { <input type="hidden" name="authz" value=authz /> })}
                <PasswordField id=password_id label="Password" name="password" autocomplete="current-password" error=f.error("reauth_password") />
                <SubmitButton label="Continue" />
            </PostForm>
        }
        .into_any(),
    };
    let labelled_by = title_id.clone();
    view! {
        <section class="reauth" aria-labelledby=labelled_by>
            <h4 id=title_id>"Confirm it is you"</h4>
            {body}
        </section>
    }
}

/// M9: "we texted a code to this new number": **Verification code**, **Verify**, **Resend code**
/// — the Security tab's "make SMS the method" and the Profile tab's new phone. `resend_purpose`
/// is the hidden field the resend endpoint needs (the Security tab's serves two purposes).
#[component]
pub fn SentCodeBox(
    /// The prefix of the block's element ids.
    id: &'static str,
    title: &'static str,
    #[prop(into)] text: String,
    verify: &'static str,
    resend: &'static str,
    #[prop(optional)] resend_purpose: Option<&'static str>,
    flash: Flash,
) -> impl IntoView {
    let (title_id, code_id) = (format!("{id}-title"), format!("{id}-code"));
    let labelled_by = title_id.clone();
    view! {
        <section class="reauth" aria-labelledby=labelled_by>
            <h4 id=title_id>{title}</h4>
            <p>{text}</p>
            <PostForm to=verify>
                <Field id=code_id label="Verification code" name="code" autocomplete="one-time-code" inputmode="numeric" maxlength=Some(6)
                    value=flash.value("phone_code") error=flash.error("phone_code") hint=Some(Lifetimes::current().code_hint()) />
                <SubmitButton label="Verify" />
            </PostForm>
            <PostForm to=resend>
                {resend_purpose.map(|p| view! { <input type="hidden" name="purpose" value=p /> })}
                <SubmitButton label="Resend code" secondary=true />
            </PostForm>
        </section>
    }
}
