//! `/profile`: the Dashboard — the avatar, the person's name and email, how their sign-in codes
//! come, the sign-in before this one (time and place), and invitations waiting. Only an
//! authenticated session gets here (M5); any other visitor is sent to `/login`.
//!
//! The avatar: with JavaScript, **Edit avatar** opens the cropper dialog; without it, a plain
//! file form (**Photo**, **Upload photo**) whose photo the server centre-crops (U1). Either way
//! the outcome shows here, and **Remove avatar** brings the initials back.

use crate::api::orgs::AnswerInvitation;
use crate::api::profile::{get_dashboard_view, RemoveAvatar, UploadAvatar};
use crate::components::{
    server_view, AvatarEditor, AvatarImage, Field, FormMessage, PostForm, ProfileFrame, ServerFn,
    SubmitButton,
};
use crate::wire::DashboardView;
use gatehouse_core::values::factors::MfaMethod;
use gatehouse_core::values::photo::AvatarSize;
use leptos::prelude::*;
use leptos_router::components::Redirect;

#[component]
pub fn ProfilePage() -> impl IntoView {
    server_view(get_dashboard_view(), |r| match r {
        Ok(Some(v)) => dashboard(v).into_any(),
        _ => view! { <Redirect path="/login" /> }.into_any(),
    })
}

fn dashboard(v: DashboardView) -> impl IntoView {
    let me = v.me;
    let f = v.flash;
    let name = me.display_name();
    let first = me.first_name.clone();
    let email = me.email.clone();
    let codes = match me.mfa_method {
        MfaMethod::Authenticator => "From your authenticator app",
        MfaMethod::Sms => "By text message",
        MfaMethod::Email => "By email",
    };
    let previous = match v.previous_sign_in {
        Some((when, ip, device)) => format!("{when} from {ip} ({device})"),
        None => "None before this one".to_string(),
    };
    let has_avatar = me.avatar.is_some();
    let photo_error = f.error("photo");
    view! {
        <ProfileFrame me=me.clone() active="/profile">
            <section class="dashboard" aria-labelledby="dash-title">
                <div class="dashboard__avatar">
                    <AvatarImage me=me.clone() size=AvatarSize::Large />
                    <FormMessage error=f.form_error.clone() notice=f.notice.clone() />
                    <AvatarEditor has_avatar=has_avatar initials=me.initials() upload_to=UploadAvatar::url().to_string() remove_to=RemoveAvatar::url().to_string() />
                </div>
                <div class="dashboard__who">
                    <h2 id="dash-title">{format!("Welcome, {first}")}</h2>
                    <dl class="facts">
                        <div><dt>"Name"</dt><dd>{name}</dd></div>
                        <div><dt>"Email"</dt><dd>{email}</dd></div>
                        <div><dt>"Sign-in codes"</dt><dd>{codes} " · " <a href="/profile/security">"Change"</a></dd></div>
                        <div><dt>"Last sign-in"</dt><dd>{previous}</dd></div>
                    </dl>
                </div>
            </section>
            <section class="panel__section avatar-plain" aria-labelledby="photo-title">
                <h3 id="photo-title">"Profile picture"</h3>
                <PostForm to=UploadAvatar::url() class="upload-form" multipart=true>
                    <Field id="avatar-photo" label="Photo" name="photo" kind="file" accept="image/png,image/jpeg,image/webp" error=photo_error hint=Some("PNG, JPEG or WebP, up to 5 MiB. The middle of the photo is used.".to_string()) />
                    <SubmitButton label="Upload photo" secondary=true />
                </PostForm>
                {has_avatar.then(|| view! {
                    <PostForm to=RemoveAvatar::url() class="remove-avatar-form">
                        <SubmitButton label="Remove avatar" secondary=true />
                    </PostForm>
                })}
            </section>
            {invitations_section(v.invitations, f.error("invitations"))}
        </ProfileFrame>
    }
}

/// Issue 14: invitations to organizations waiting for an answer, each with **Accept** and
/// **Decline** (plain forms; Accept lands in the organization).
fn invitations_section(
    list: Vec<crate::wire::orgs::WaitingItem>,
    error: Option<String>,
) -> impl IntoView {
    let empty = list.is_empty();
    let items = list
        .into_iter()
        .map(|i| {
            let by = i
                .invited_by
                .map(|b| format!(" · invited by {b}"))
                .unwrap_or_default();
            view! {
                <li class="invitation">
                    <div>
                        <strong>{i.org_name}</strong>
                        <small>{format!(" · as {}{by} · expires {}", i.role.label(), i.expires)}</small>
                    </div>
                    <PostForm to=AnswerInvitation::url() class="row-actions">
                        <input type="hidden" name="invitation" value=i.id />
                        <SubmitButton label="Accept" name=Some("answer".to_string()) value="accept" />
                        <SubmitButton label="Decline" secondary=true name=Some("answer".to_string()) value="decline" />
                    </PostForm>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="panel__section" aria-labelledby="invitations-title">
            <h3 id="invitations-title">"Invitations"</h3>
            {error.map(|e| view! { <p class="field__error" role="alert">{e}</p> })}
            {empty.then(|| view! { <p class="empty">"No invitations waiting"</p> })}
            <ul class="invitations" aria-label="Invitations waiting">{items}</ul>
        </section>
    }
}
