//! Server functions of the Profile tab (`/profile/details`): thin adapters to
//! `gatehouse_core::flows::profile`. M5: only a signed-in session; anything else goes to
//! `/login`. No-JS: the form ends in `back_to("/profile/details")` (POST → redirect → GET).

#[cfg(feature = "ssr")]
use crate::server_ctx::{self as ctx, internal};
use crate::wire::ProfileView;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
const PAGE: &str = "/profile/details";
#[cfg(feature = "ssr")]
const FORM: &str = "profile";

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
    }
    ctx::back_to(PAGE);
    Ok(())
}
