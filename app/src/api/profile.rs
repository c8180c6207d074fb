//! Server functions of the Dashboard (`/profile`) and the Profile tab (`/profile/details`): thin
//! adapters to `gatehouse_core::flows::profile`. M5: only a signed-in session; anything else
//! goes to `/login`. A plain form ends in `back_to(..)` (POST → redirect → GET) with its outcome
//! in the flash; a script caller (the avatar dialog) gets the outcome as the answer.
//!
//! U1: the avatar upload is the one multipart endpoint; the server reads at most 5 MiB of it
//! (the middleware refuses a larger declared body first) and core decodes it off the runtime.

#[cfg(feature = "ssr")]
use crate::server_ctx::{self as ctx, internal};
use crate::wire::{AvatarAnswer, DashboardView, Flash, ProfileView};
use leptos::prelude::*;
use leptos::server_fn::codec::{MultipartData, MultipartFormData};

#[cfg(feature = "ssr")]
pub(crate) const PAGE: &str = "/profile/details";
#[cfg(feature = "ssr")]
pub(crate) const FORM: &str = "profile";
#[cfg(feature = "ssr")]
const DASHBOARD: &str = "/profile";
#[cfg(feature = "ssr")]
/// The Dashboard's flash: its avatar forms and (issue 14) its invitations' answers.
pub(crate) const AVATAR_FORM: &str = "dashboard";

/// The Dashboard: the person, their previous sign-in, the avatar form's outcome.
#[server(endpoint = "dashboard_view")]
pub async fn get_dashboard_view() -> Result<Option<DashboardView>, ServerFnError> {
    use gatehouse_core::values::clock::format_utc;
    let st = ctx::state()?;
    let Some((session, _)) = ctx::signed_in(&st).await? else {
        return Ok(None);
    };
    let d = gatehouse_core::flows::profile::dashboard(&st.deps, &session)
        .await
        .map_err(internal)?;
    let invitations = gatehouse_core::flows::orgs::waiting(&st.deps, &session)
        .await
        .map_err(internal)?;
    Ok(Some(DashboardView {
        me: ctx::me_with_orgs(&st, &session, d.user).await?,
        invitations: invitations
            .into_iter()
            .map(super::orgs::waiting_item)
            .collect(),
        previous_sign_in: d
            .previous_sign_in
            .map(|e| (format_utc(e.at), e.ip, super::device(&e.user_agent))),
        flash: ctx::take_flash(&st, AVATAR_FORM),
    }))
}

/// U1: a new avatar from the form field `photo` (the dialog sends its cropped square, the
/// no-JS form the whole photo, which the server centre-crops).
#[server(endpoint = "upload_avatar", input = MultipartFormData)]
pub async fn upload_avatar(data: MultipartData) -> Result<AvatarAnswer, ServerFnError> {
    use gatehouse_core::flows::profile::{self, ProfileError};
    let st = ctx::state()?;
    let Some((s, _)) = ctx::signed_in(&st).await? else {
        return Ok(signed_out());
    };
    let saved = match read_photo(data).await {
        Ok(bytes) => profile::set_avatar(&st.deps, &s, bytes, &ctx::client()).await,
        Err(e) => Err(ProfileError::Picture(e)),
    };
    let answer = match saved {
        Ok(id) => AvatarAnswer {
            flash: ctx::notice(&st, AVATAR_FORM, "Your new picture is saved."),
            avatar: Some(id),
        },
        Err(e) => AvatarAnswer {
            flash: ctx::fail(&st, AVATAR_FORM, "photo", &e, &[]),
            avatar: None,
        },
    };
    ctx::back_to(DASHBOARD);
    Ok(answer)
}

/// M5: no signed-in session: to the sign-in page, nothing changed; `form`'s answer says so.
#[cfg(feature = "ssr")]
fn signed_out_flash(form: &str, field: &str) -> Flash {
    use gatehouse_core::flows::profile::ProfileError;
    leptos_axum::redirect("/login");
    let refusal = crate::wire::AppError::from_refusal(&ProfileError::SignedOut, field);
    Flash::for_form(form).with_failure(refusal)
}

#[cfg(feature = "ssr")]
fn signed_out() -> AvatarAnswer {
    AvatarAnswer {
        flash: signed_out_flash(AVATAR_FORM, "photo"),
        avatar: None,
    }
}

/// The bytes of the `photo` part, at most 5 MiB (U1): reading stops past the limit.
#[cfg(feature = "ssr")]
async fn read_photo(
    data: MultipartData,
) -> Result<Vec<u8>, gatehouse_core::mechanisms::picture::PictureError> {
    use gatehouse_core::mechanisms::picture::{PictureError, MAX_BYTES};
    let mut parts = data.into_inner().ok_or(PictureError::Internal)?;
    while let Some(mut field) = parts
        .next_field()
        .await
        .map_err(|_| PictureError::Damaged)?
    {
        if field.name() != Some("photo") {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|_| PictureError::Damaged)? {
            if bytes.len() + chunk.len() > MAX_BYTES {
                return Err(PictureError::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok(bytes);
    }
    Err(PictureError::Empty)
}

/// Removes the avatar; the initials show again.
#[server(endpoint = "remove_avatar")]
pub async fn remove_avatar() -> Result<AvatarAnswer, ServerFnError> {
    let st = ctx::state()?;
    let Some((s, _)) = ctx::signed_in(&st).await? else {
        return Ok(signed_out());
    };
    let f = match gatehouse_core::flows::profile::remove_avatar(&st.deps, &s, &ctx::client()).await
    {
        Ok(true) => ctx::notice(
            &st,
            AVATAR_FORM,
            "Your picture is removed. Your initials show instead.",
        ),
        Ok(false) => ctx::notice(&st, AVATAR_FORM, "There was no picture to remove."),
        Err(e) => ctx::fail(&st, AVATAR_FORM, "photo", &e, &[]),
    };
    ctx::back_to(DASHBOARD);
    Ok(AvatarAnswer {
        flash: f,
        avatar: None,
    })
}

#[server(endpoint = "profile_view")]
pub async fn get_profile_view() -> Result<Option<ProfileView>, ServerFnError> {
    let st = ctx::state()?;
    let Some((session, _)) = ctx::signed_in(&st).await? else {
        return Ok(None);
    };
    let tab = gatehouse_core::flows::profile::tab(&st.deps, &session)
        .await
        .map_err(internal)?;
    Ok(Some(ProfileView {
        me: ctx::me_with_orgs(&st, &session, tab.user).await?,
        phone: tab
            .phone
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        verifying_phone: tab.verifying_phone,
        reauth: crate::wire::ReauthView::of(tab.reauth, st.deps.now()),
        sms_available: !tab.sms_country_codes.is_empty(),
        flash: ctx::take_flash(&st, FORM),
    }))
}

/// Saves the names and starts a phone change (M9: a code to the new number; S5: after a
/// re-authentication); what was typed stays in the form when anything is refused.
#[server(endpoint = "save_profile")]
pub async fn save_profile(
    first_name: String,
    last_name: String,
    #[server(default)] phone: String,
) -> Result<Flash, ServerFnError> {
    use gatehouse_core::flows::profile::{self, Form};
    let st = ctx::state()?;
    let Some((s, _)) = ctx::signed_in(&st).await? else {
        return Ok(signed_out_flash(FORM, "first_name"));
    };
    let keep = [
        ("first_name", first_name.as_str()),
        ("last_name", &last_name),
        ("phone", &phone),
    ];
    let form = Form {
        first_name: &first_name,
        last_name: &last_name,
        phone: &phone,
    };
    let f = match profile::save(&st.deps, &s, form, &ctx::client()).await {
        // The number waiting for its code stays in the field.
        Ok(saved) => ctx::notice_keeping(&st, FORM, saved_words(&saved), &[("phone", &phone)]),
        Err(e) => ctx::fail(&st, FORM, "phone", &e, &keep),
    };
    ctx::back_to(PAGE);
    Ok(f)
}

/// What saving did, in words.
#[cfg(feature = "ssr")]
fn saved_words(saved: &gatehouse_core::flows::profile::Saved) -> String {
    use gatehouse_core::flows::profile::phone::PhoneStep;
    let names = saved
        .names
        .then_some("Saved. Your name is updated everywhere.");
    let phone = match &saved.phone {
        PhoneStep::Unchanged => None,
        PhoneStep::CodeSent(to) => Some(format!(
            "We sent a code to {to}. Enter it below to use this number."
        )),
        PhoneStep::Removed => Some("Your phone number is removed.".to_string()),
    };
    match (names, phone) {
        (None, None) => "Nothing to save: nothing changed.".to_string(),
        (Some(n), None) => n.to_string(),
        (None, Some(p)) => p,
        (Some(n), Some(p)) => format!("{n} {p}"),
    }
}

/// M9: the code sent to the new number; the number is stored when it is right.
#[server(endpoint = "confirm_phone")]
pub async fn confirm_phone(code: String) -> Result<Flash, ServerFnError> {
    let st = ctx::state()?;
    let Some((s, _)) = ctx::signed_in(&st).await? else {
        return Ok(signed_out_flash(FORM, "first_name"));
    };
    let f =
        match gatehouse_core::flows::profile::phone::confirm(&st.deps, &s, &code, &ctx::client())
            .await
        {
            Ok(masked) => ctx::notice(&st, FORM, format!("Your phone number is now {masked}.")),
            Err(e) => ctx::fail(&st, FORM, "phone_code", &e, &[("phone_code", &code)]),
        };
    ctx::back_to(PAGE);
    Ok(f)
}

/// R4: a new code to the number being verified.
#[server(endpoint = "resend_phone_code")]
pub async fn resend_phone_code() -> Result<Flash, ServerFnError> {
    let st = ctx::state()?;
    let Some((s, _)) = ctx::signed_in(&st).await? else {
        return Ok(signed_out_flash(FORM, "first_name"));
    };
    let f = match gatehouse_core::flows::profile::phone::resend(&st.deps, &s).await {
        Ok(()) => ctx::notice(&st, FORM, "We sent you a new code."),
        Err(e) => ctx::fail(&st, FORM, "phone_code", &e, &[]),
    };
    ctx::back_to(PAGE);
    Ok(f)
}
