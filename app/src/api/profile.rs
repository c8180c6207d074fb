//! Server functions of the Dashboard (`/profile`) and the Profile tab (`/profile/details`): thin
//! adapters to `gatehouse_core::flows::profile`. M5: only a signed-in session; anything else
//! goes to `/login`. A plain form ends in `back_to(..)` (POST → redirect → GET) with its outcome
//! in the flash; a script caller (the avatar dialog) gets the outcome as the answer.
//!
//! U1: the avatar upload is the one multipart endpoint; the server reads at most 5 MiB of it
//! (the middleware refuses a larger declared body first) and core decodes it off the runtime.

#[cfg(feature = "ssr")]
use crate::server_ctx::{self as ctx, internal};
#[cfg(feature = "ssr")]
use crate::wire::Flash;
use crate::wire::{AvatarAnswer, DashboardView, ProfileView};
use leptos::prelude::*;
use leptos::server_fn::codec::{MultipartData, MultipartFormData};

#[cfg(feature = "ssr")]
const PAGE: &str = "/profile/details";
#[cfg(feature = "ssr")]
const FORM: &str = "profile";
#[cfg(feature = "ssr")]
const DASHBOARD: &str = "/profile";
#[cfg(feature = "ssr")]
const AVATAR_FORM: &str = "avatar";

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
    Ok(Some(DashboardView {
        me: crate::wire::Me::from(d.user),
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

/// M5: no signed-in session: to the sign-in page, nothing changed.
#[cfg(feature = "ssr")]
fn signed_out() -> AvatarAnswer {
    use gatehouse_core::flows::profile::ProfileError;
    leptos_axum::redirect("/login");
    let refusal = crate::wire::AppError::from_refusal(&ProfileError::SignedOut, "photo");
    AvatarAnswer {
        flash: Flash::for_form(AVATAR_FORM).with_failure(refusal),
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
        me: crate::wire::Me::from(tab.user),
        phone: tab.phone.unwrap_or_default(),
        flash: ctx::take_flash(&st, FORM),
    }))
}

/// Saves the first and last name; what was typed stays in the form when a name is refused.
#[server(endpoint = "save_profile")]
pub async fn save_profile(first_name: String, last_name: String) -> Result<(), ServerFnError> {
    use gatehouse_core::flows::profile::{self, Saved};
    let st = ctx::state()?;
    let Some((s, _)) = ctx::signed_in(&st).await? else {
        leptos_axum::redirect("/login");
        return Ok(());
    };
    let keep = [
        ("first_name", first_name.as_str()),
        ("last_name", &last_name),
    ];
    match profile::save_names(&st.deps, &s, &first_name, &last_name, &ctx::client()).await {
        Ok(Saved::Changed) => ctx::notice(&st, FORM, "Saved. Your name is updated everywhere."),
        Ok(Saved::Unchanged) => {
            ctx::notice(&st, FORM, "Nothing to save: that is your name already.")
        }
        Err(e) => ctx::fail(&st, FORM, "first_name", &e, &keep),
    };
    ctx::back_to(PAGE);
    Ok(())
}
