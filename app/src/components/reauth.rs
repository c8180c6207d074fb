//! S5 "Confirm it is you": the password, then a code from the current method (the app's, or one
//! sent by email or text message). One block for every place a sensitive change is made — the
//! Security tab and the Profile tab's phone; `tab` tells the server functions where to come
//! back to (their messages go into that tab's flash).

use crate::api::security::{ReauthCode, ReauthPassword, SecurityResend};
use crate::components::{Field, PasswordField, PostForm, ServerFn, SubmitButton};
use crate::wire::{Flash, Lifetimes, ReauthView};
use leptos::prelude::*;

/// The re-authentication block; `why` says what it unlocks ("To change how you sign in").
#[component]
pub fn ReauthBox(
    reauth: ReauthView,
    flash: Flash,
    /// "security" or "profile": the tab the answer comes back to.
    tab: &'static str,
    why: &'static str,
    /// The prefix of the block's element ids (the gallery shows several).
    #[prop(default = "reauth")]
    id: &'static str,
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
                        <input type="hidden" name="tab" value=tab />
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
