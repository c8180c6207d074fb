//! `/profile/details`: the Profile tab — first and last name (saved on the server, checked by
//! core's `values::name`), the email read-only (support changes it), the verified phone.
//! Only an authenticated session gets here (M5). The form posts to `save_profile`, whose
//! redirect brings the tab back with its outcome; the top bar shows the new name from then on.

use crate::api::profile::{get_profile_view, SaveProfile};
use crate::components::{
    server_view, Field, FormMessage, PostForm, ProfileFrame, ServerFn, SubmitButton,
};
use crate::wire::ProfileView;
use gatehouse_core::values::name::NAME_MAX;
use leptos::prelude::*;
use leptos_router::components::Redirect;

#[component]
pub fn ProfileDetailsPage() -> impl IntoView {
    server_view(get_profile_view(), |r| match r {
        Ok(Some(v)) => page(v).into_any(),
        _ => view! { <Redirect path="/login" /> }.into_any(),
    })
}

fn page(v: ProfileView) -> impl IntoView {
    let f = v.flash;
    // After a refusal the form shows what was typed; otherwise the saved names.
    let typed = |field: &str, saved: &str| {
        if f.errors.is_empty() {
            saved.to_string()
        } else {
            f.value(field)
        }
    };
    let first = typed("first_name", &v.me.first_name);
    let last = typed("last_name", &v.me.last_name);
    let email = v.me.email.clone();
    let phone = if v.phone.is_empty() {
        "No verified phone".to_string()
    } else {
        v.phone.clone()
    };
    view! {
        <ProfileFrame me=v.me active="/profile/details">
            <h2 class="visually-hidden">"Profile"</h2>
            <FormMessage error=f.form_error.clone() notice=f.notice.clone() />
            <section class="panel__section" aria-labelledby="names-title">
                <h3 id="names-title">"Your name"</h3>
                <PostForm to=SaveProfile::url() class="method-form">
                    <div class="field-row">
                        <Field id="profile-first" label="First name" name="first_name" autocomplete="given-name" value=first error=f.error("first_name") maxlength=Some(NAME_MAX) />
                        <Field id="profile-last" label="Last name" name="last_name" autocomplete="family-name" value=last error=f.error("last_name") maxlength=Some(NAME_MAX) />
                    </div>
                    <SubmitButton label="Save" />
                </PostForm>
            </section>
            <section class="panel__section" aria-labelledby="contact-title">
                <h3 id="contact-title">"How we reach you"</h3>
                <dl class="facts">
                    <div><dt>"Email"</dt><dd><span>{email}</span><p class="field__hint">"To change your email, contact support."</p></dd></div>
                    <div><dt>"Phone"</dt><dd><span>{phone}</span><p class="field__hint">"A new number is verified with a text message on the " <a href="/profile/security">"Security"</a> " tab."</p></dd></div>
                </dl>
            </section>
        </ProfileFrame>
    }
}
