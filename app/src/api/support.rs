//! Server functions of the support console (`/support`): thin adapters to
//! `gatehouse_core::flows::support` and `flows::email_change`, which check the support role and
//! S5 themselves (`mechanisms::staff::By`). Anyone without the role gets 404 — signed out too.
//! The search is a GET (`/support?email=…`): it changes nothing.

#[cfg(feature = "ssr")]
use crate::server_ctx::{self as ctx, internal};
use crate::wire::support::SupportView;
use leptos::prelude::*;

/// The console's flash.
#[cfg(feature = "ssr")]
pub(crate) const FORM: &str = "support";

/// The console, showing the person of `email` (if any).
#[cfg(feature = "ssr")]
pub(crate) fn page(email: &str) -> String {
    match email.trim() {
        "" => "/support".into(),
        e => format!("/support?email={}", crate::wire::query_value(e)),
    }
}

#[cfg(feature = "ssr")]
fn not_found() -> ServerFnError {
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    ServerFnError::new("not found")
}

#[server(endpoint = "support_view")]
pub async fn get_support_view(
    #[server(default)] email: String,
) -> Result<SupportView, ServerFnError> {
    use gatehouse_core::flows::support::{self, SupportError};
    let st = ctx::state()?;
    let Some((session, _)) = ctx::signed_in(&st).await? else {
        return Err(not_found());
    };
    let reauth = match support::desk(&st.deps, &session).await {
        Ok(r) => r,
        Err(SupportError::NotSupport) => return Err(not_found()),
        Err(e) => return Err(internal(e)),
    };
    let Some(user) = gatehouse_core::flows::caller::me(&st.deps, &session)
        .await
        .map_err(internal)?
    else {
        return Err(not_found());
    };
    let mut flash = ctx::take_flash(&st, FORM);
    let found = match email.trim() {
        "" => None,
        q => match support::find(&st.deps, &session, q).await {
            Ok(f) => Some(crate::wire::support::Person {
                name: f.user.display_name(),
                email: f.user.email.to_string(),
                mfa_method: f.user.mfa_method,
                locked: f.locked,
                activity: f
                    .activity
                    .into_iter()
                    .map(super::security::activity_item)
                    .collect(),
            }),
            Err(e @ (SupportError::NoAccount | SupportError::Email(_))) => {
                flash = flash.with_error("email", e.to_string());
                None
            }
            Err(e) => return Err(internal(e)),
        },
    };
    Ok(SupportView {
        me: ctx::me_with_orgs(&st, &session, user).await?,
        query: email.trim().to_string(),
        found,
        reauth: crate::wire::ReauthView::of(reauth, st.deps.now()),
        flash,
    })
}

/// One console action's ending: its notice or refusal, back to the person's page. A caller
/// without the role gets 404 (nothing tells them the console exists).
#[cfg(feature = "ssr")]
fn done<T, E: gatehouse_core::values::failure::Refusal>(
    st: &ctx::AppState,
    email: &str,
    r: Result<T, E>,
    not_support: bool,
    field: &str,
    ok: &str,
    keep: &[(&str, &str)],
) -> Result<(), ServerFnError> {
    if not_support {
        return Err(not_found());
    }
    ctx::answer(st, FORM, &page(email), r, field, |_| ok.into(), keep);
    Ok(())
}

/// M8: the person's sign-in codes come by email again; they are told.
#[server(endpoint = "support_reset_mfa")]
pub async fn support_reset_mfa(email: String) -> Result<(), ServerFnError> {
    use gatehouse_core::flows::support::{self, SupportError};
    use gatehouse_core::mechanisms::staff::By;
    let st = ctx::state()?;
    let session = ctx::session(&st).await?.ok_or_else(not_found)?;
    let client = ctx::client();
    let r = support::reset_mfa(&st.deps, &email, By::Support(&session, &client)).await;
    let denied = matches!(r, Err(SupportError::NotSupport));
    let ok = "Done: their sign-in codes now come by email. They were told by email.";
    done(&st, &email, r, denied, "actions", ok, &[])
}

/// R1: lifts the pause on signing in; they are told.
#[server(endpoint = "support_unlock")]
pub async fn support_unlock(email: String) -> Result<(), ServerFnError> {
    use gatehouse_core::flows::support::{self, SupportError};
    use gatehouse_core::mechanisms::staff::By;
    let st = ctx::state()?;
    let session = ctx::session(&st).await?.ok_or_else(not_found)?;
    let client = ctx::client();
    let r = support::unlock(&st.deps, &email, By::Support(&session, &client)).await;
    let denied = matches!(r, Err(SupportError::NotSupport));
    let ok = "Done: they can sign in again. They were told by email.";
    done(&st, &email, r, denied, "actions", ok, &[])
}

/// Starts an email change: nothing changes until the addresses confirm.
#[server(endpoint = "support_change_email")]
pub async fn support_change_email(email: String, new_email: String) -> Result<(), ServerFnError> {
    use gatehouse_core::flows::email_change::{self, EmailChangeError};
    use gatehouse_core::mechanisms::staff::By;
    let st = ctx::state()?;
    let session = ctx::session(&st).await?.ok_or_else(not_found)?;
    let client = ctx::client();
    let by = By::Support(&session, &client);
    let r = email_change::start(&st.deps, &email, &new_email, by).await;
    let denied = matches!(r, Err(EmailChangeError::NotSupport));
    let ok = "Started: a confirmation link went to the new address and a notice to the current one. Nothing changes until the new address confirms.";
    done(
        &st,
        &email,
        r,
        denied,
        "new_email",
        ok,
        &[("new_email", &new_email)],
    )
}
