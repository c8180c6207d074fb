//! Server functions of the organization pages: thin adapters to
//! `gatehouse_core::flows::orgs`, which checks every role (a member posting to an admin's
//! function is refused there, not here).
//!
//! - M5: every one needs a fully signed-in session; anything else goes to `/login`.
//! - A stranger to an organization gets 404, as for one that does not exist.
//! - No-JS: every form ends in a redirect back to its page (POST → redirect → GET), with its
//!   outcome in the `org` flash; the invitation link's page only reads (E4).

#[cfg(feature = "ssr")]
use crate::server_ctx::{self as ctx, internal};
use crate::wire::orgs::{InvitationLinkView, OrgView, OrgsView};
#[cfg(feature = "ssr")]
use gatehouse_core::flows::orgs::{self, OrgError};
use leptos::prelude::*;

/// The flash of `/orgs/{slug}` and its tabs.
#[cfg(feature = "ssr")]
pub(crate) const FORM: &str = "org";
#[cfg(feature = "ssr")]
const LIST_FORM: &str = "orgs";

/// The page of the organization `slug` (only a slug this code could have made; anything else
/// goes to the list).
#[cfg(feature = "ssr")]
fn org_page(slug: &str, tab: &str) -> String {
    match gatehouse_core::values::org::is_slug(slug) {
        true => format!("/orgs/{slug}{tab}"),
        false => "/orgs".into(),
    }
}

/// Every form of an organization's page ends the same way: its notice or its refusal (next
/// to `field`, keeping `keep`), then back to `page`.
#[cfg(feature = "ssr")]
fn done<T>(
    st: &ctx::AppState,
    page: &str,
    r: Result<T, OrgError>,
    field: &str,
    ok: impl FnOnce(T) -> String,
    keep: &[(&str, &str)],
) {
    let page = refused_page(page, &r);
    ctx::answer(st, FORM, &page, r, field, ok, keep);
}

/// A refusal by role comes back on the Members tab, which every member sees (a member who
/// posted to an admin's form has no Invitations tab to read it on).
#[cfg(feature = "ssr")]
fn refused_page<T>(page: &str, r: &Result<T, OrgError>) -> String {
    let members = ["/invitations", "/settings"]
        .into_iter()
        .find_map(|tab| page.strip_suffix(tab));
    match (r, members) {
        (Err(OrgError::NotAllowed), Some(members)) => members.to_string(),
        _ => page.to_string(),
    }
}

#[cfg(feature = "ssr")]
pub(crate) fn waiting_item(
    i: gatehouse_core::mechanisms::invitations::Invitation,
) -> crate::wire::orgs::WaitingItem {
    crate::wire::orgs::WaitingItem {
        id: i.id,
        org_name: i.org_name,
        role: i.role,
        invited_by: i.invited_by,
        expires: gatehouse_core::values::clock::format_utc(i.expires_at),
    }
}

#[server(endpoint = "orgs_view")]
pub async fn get_orgs_view() -> Result<Option<OrgsView>, ServerFnError> {
    let st = ctx::state()?;
    let Some((session, _)) = ctx::signed_in(&st).await? else {
        return Ok(None);
    };
    let Some(user) = gatehouse_core::flows::caller::me(&st.deps, &session)
        .await
        .map_err(internal)?
    else {
        return Ok(None);
    };
    Ok(Some(OrgsView {
        me: ctx::me_with_orgs(&st, &session, user).await?,
        flash: ctx::take_flash(&st, LIST_FORM),
    }))
}

/// A new organization; its owner lands on its page.
#[server(endpoint = "create_org")]
pub async fn create_org(name: String) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    match orgs::create(&st.deps, &s, &name, &ctx::client()).await {
        Ok(org) => {
            ctx::notice(
                &st,
                FORM,
                format!("{} is created. You are its owner.", org.name),
            );
            ctx::back_to(&org_page(&org.slug, ""));
        }
        Err(e) => {
            ctx::fail(&st, LIST_FORM, "name", &e, &[("name", &name)]);
            ctx::back_to("/orgs");
        }
    }
    Ok(())
}

/// `/orgs/{slug}`: `Ok(None)` signed out; a stranger's answer is 404.
#[server(endpoint = "org_view")]
pub async fn get_org_view(slug: String) -> Result<Option<OrgView>, ServerFnError> {
    use crate::wire::orgs::{InvitationItem, MemberItem};
    use gatehouse_core::values::clock::format_utc;
    use gatehouse_core::values::org::{allows, Action, InvitationState, Role};
    let st = ctx::state()?;
    let Some((session, _)) = ctx::signed_in(&st).await? else {
        return Ok(None);
    };
    let v = match orgs::view(&st.deps, &session, &slug).await {
        Ok(v) => v,
        Err(OrgError::NotFound) => {
            if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
                res.set_status(http::StatusCode::NOT_FOUND);
            }
            return Err(ServerFnError::new(OrgError::NotFound.to_string()));
        }
        Err(e) => return Err(internal(e)),
    };
    let Some(user) = gatehouse_core::flows::caller::me(&st.deps, &session)
        .await
        .map_err(internal)?
    else {
        return Ok(None);
    };
    let now = st.deps.now();
    let role = v.my_role;
    let grantable: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| allows(role, Action::Invite(*r)))
        .collect();
    Ok(Some(OrgView {
        me: ctx::me_with_orgs(&st, &session, user).await?,
        name: v.org.name,
        slug: v.org.slug,
        my_role: role,
        members: v
            .members
            .into_iter()
            .map(|m| MemberItem {
                me: m.user_id == v.my_id,
                name: format!("{} {}", m.first_name, m.last_name).trim().into(),
                user_id: m.user_id,
                email: m.email,
                role: m.role,
            })
            .collect(),
        invitations: v.invitations.map(|list| {
            list.into_iter()
                .map(|i| {
                    let state = i.state(now);
                    let when = match (state, i.answered_at) {
                        (InvitationState::Pending, _) => {
                            format!("Expires {}", format_utc(i.expires_at))
                        }
                        (InvitationState::Expired, _) => {
                            format!("Expired {}", format_utc(i.expires_at))
                        }
                        (_, Some(at)) => format!("{} {}", state.label(), format_utc(at)),
                        (_, None) => String::new(),
                    };
                    InvitationItem {
                        id: i.id,
                        email: i.email,
                        role: i.role,
                        state,
                        when,
                        invited_by: i.invited_by,
                    }
                })
                .collect()
        }),
        manages: allows(
            role,
            Action::ChangeRole {
                from: Role::Member,
                to: Role::Admin,
            },
        ),
        owner: allows(role, Action::TransferOwnership),
        grantable,
        invitation_days: st.deps.settings.invitation_ttl_secs / 86_400,
        policy: v.policy,
        sms_available: !st.deps.settings.sms_country_codes.is_empty(),
        reauth: crate::wire::ReauthView::of(v.reauth, now),
        flash: ctx::take_flash(&st, FORM),
    }))
}

#[server(endpoint = "change_member_role")]
pub async fn change_member_role(
    slug: String,
    member: String,
    role: String,
) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    let r = orgs::change_role(&st.deps, &s, &slug, &member, &role, &ctx::client()).await;
    let ok = |r: gatehouse_core::values::org::Role| format!("The role is now {}.", r.label());
    done(&st, &org_page(&slug, ""), r, "members", ok, &[]);
    Ok(())
}

#[server(endpoint = "remove_member")]
pub async fn remove_member(slug: String, member: String) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    let r = orgs::remove(&st.deps, &s, &slug, &member, &ctx::client()).await;
    let ok = |_| "They are no longer a member.".to_string();
    done(&st, &org_page(&slug, ""), r, "members", ok, &[]);
    Ok(())
}

/// The person leaves; they land on their list of organizations.
#[server(endpoint = "leave_org")]
pub async fn leave_org(slug: String) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    match orgs::leave(&st.deps, &s, &slug, &ctx::client()).await {
        Ok(()) => {
            ctx::notice(&st, LIST_FORM, "You left the organization.");
            ctx::back_to("/orgs");
        }
        Err(e) => {
            ctx::fail(&st, FORM, "members", &e, &[]);
            ctx::back_to(&org_page(&slug, ""));
        }
    }
    Ok(())
}

/// S5: an owner hands ownership to an admin.
#[server(endpoint = "transfer_ownership")]
pub async fn transfer_ownership(slug: String, member: String) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    let r = orgs::transfer(&st.deps, &s, &slug, &member, &ctx::client()).await;
    let ok = |_| "Ownership is handed over. You are now an admin; both of you got an email.".into();
    done(
        &st,
        &org_page(&slug, ""),
        r,
        "transfer",
        ok,
        &[("member", &member)],
    );
    Ok(())
}

/// F7: the Settings tab's form. Checkboxes send `on` when ticked and nothing otherwise.
#[server(endpoint = "save_org_settings")]
pub async fn save_org_settings(
    slug: String,
    #[server(default)] recovery_email: String,
    #[server(default)] recovery_sms: String,
    #[server(default)] mfa_email: String,
    #[server(default)] mfa_sms: String,
    #[server(default)] mfa_totp: String,
    #[server(default)] sms_codes: String,
) -> Result<(), ServerFnError> {
    use gatehouse_core::values::factors::MfaMethod;
    use gatehouse_core::values::org::Policy;
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    let on = |v: &str| !v.is_empty();
    let mfa: Vec<MfaMethod> = [
        (MfaMethod::Email, &mfa_email),
        (MfaMethod::Sms, &mfa_sms),
        (MfaMethod::Authenticator, &mfa_totp),
    ]
    .into_iter()
    .filter(|(_, v)| on(v))
    .map(|(m, _)| m)
    .collect();
    let form = Policy::from_form(on(&recovery_email), on(&recovery_sms), &mfa, &sms_codes);
    let r = orgs::save_settings(&st.deps, &s, &slug, form, &ctx::client()).await;
    let keep = [
        ("recovery_email", recovery_email.as_str()),
        ("recovery_sms", &recovery_sms),
        ("mfa_email", &mfa_email),
        ("mfa_sms", &mfa_sms),
        ("mfa_totp", &mfa_totp),
        ("sms_codes", &sms_codes),
        ("kept", "1"),
    ];
    let ok =
        |_| "The rules are saved. Members are asked to follow them at their next sign-in.".into();
    done(&st, &org_page(&slug, "/settings"), r, "settings", ok, &keep);
    Ok(())
}

/// E1: the same answer whether or not the address has an account.
#[server(endpoint = "send_invitation")]
pub async fn send_invitation(
    slug: String,
    email: String,
    #[server(default)] role: String,
) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    let r = orgs::invite(&st.deps, &s, &slug, &email, &role, &ctx::client()).await;
    let field = match &r {
        Err(OrgError::Role) => "role",
        _ => "email",
    };
    let ok = |to| format!("Invitation sent to {to}.");
    let page = org_page(&slug, "/invitations");
    let keep = [("email", email.as_str()), ("role", role.as_str())];
    done(&st, &page, r, field, ok, &keep);
    Ok(())
}

#[server(endpoint = "resend_invitation")]
pub async fn resend_invitation(slug: String, invitation: String) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    let r = orgs::resend(&st.deps, &s, &slug, &invitation, &ctx::client()).await;
    let ok =
        |to| format!("A new invitation is on its way to {to}. The earlier link no longer works.");
    done(
        &st,
        &org_page(&slug, "/invitations"),
        r,
        "invitations",
        ok,
        &[],
    );
    Ok(())
}

#[server(endpoint = "revoke_invitation")]
pub async fn revoke_invitation(slug: String, invitation: String) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    let r = orgs::revoke(&st.deps, &s, &slug, &invitation, &ctx::client()).await;
    let ok = |_| "The invitation is revoked; its link no longer works.".to_string();
    done(
        &st,
        &org_page(&slug, "/invitations"),
        r,
        "invitations",
        ok,
        &[],
    );
    Ok(())
}

/// Accept (`answer` = "accept") lands in the organization; Decline goes back to the Dashboard.
#[server(endpoint = "answer_invitation")]
pub async fn answer_invitation(invitation: String, answer: String) -> Result<(), ServerFnError> {
    let st = ctx::state()?;
    let Some(s) = ctx::signed_in_or_login(&st).await? else {
        return Ok(());
    };
    let accept = answer == "accept";
    let form = super::profile::AVATAR_FORM;
    match orgs::answer(&st.deps, &s, &invitation, accept, &ctx::client()).await {
        Ok(inv) if accept => {
            let role = inv.role.label();
            let text = format!("Welcome to {}. Your role: {role}.", inv.org_name);
            ctx::notice(&st, FORM, text);
            ctx::back_to(&org_page(&inv.org_slug, ""));
        }
        Ok(inv) => {
            let text = format!("You declined the invitation to {}.", inv.org_name);
            ctx::notice(&st, form, text);
            ctx::back_to("/profile");
        }
        Err(e) => {
            ctx::fail(&st, form, "invitations", &e, &[]);
            ctx::back_to("/profile");
        }
    }
    Ok(())
}

/// `/invitation?token=…`: reads the invitation; answering is a POST (E4).
#[server(endpoint = "invitation_link_view")]
pub async fn get_invitation_link_view(token: String) -> Result<InvitationLinkView, ServerFnError> {
    use gatehouse_core::flows::orgs::LinkView;
    let st = ctx::state()?;
    let session = ctx::session(&st).await?;
    let v = orgs::link_view(&st.deps, session.as_ref(), &token)
        .await
        .map_err(internal)?;
    Ok(match v {
        LinkView::Unknown => InvitationLinkView::Unknown,
        LinkView::Found {
            invitation,
            state,
            for_me,
        } => InvitationLinkView::Found(Box::new(crate::wire::orgs::LinkFound {
            email: invitation.email.clone(),
            item: waiting_item(invitation),
            state,
            for_me,
            token,
            flash: ctx::take_flash(&st, super::profile::AVATAR_FORM),
        })),
    })
}
