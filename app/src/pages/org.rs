//! `/orgs/{slug}` (Members) and `/orgs/{slug}/invitations` (Invitations).
//!
//! The buttons shown follow the role table (`values::org::allows`), but only as a courtesy:
//! every action is checked again by core. Every form is a plain POST that comes back here
//! with its outcome, with or without JavaScript.
//!
//! - Members: a table of name, email and role; **Change role** (select **Role**) and
//!   **Remove** per row where the role allows; **Leave organization**; owners get
//!   **Transfer ownership** to an admin, after S5's "Confirm it is you".
//! - Invitations: **Email**, **Role**, **Send invitation**; a table with each invitation's
//!   state and **Resend** / **Revoke** while it is unanswered.
//! - Settings (F7): **Recovery methods** (**Email link**, **SMS code**), **Allowed MFA methods**
//!   (**Email**, **Text message (SMS)**, **Authenticator app**), the calling codes text messages
//!   may go to, **Save**.

use crate::api::orgs::{
    get_org_view, ChangeMemberRole, LeaveOrg, RemoveMember, ResendInvitation, RevokeInvitation,
    SaveOrgSettings, SendInvitation, TransferOwnership,
};
use crate::components::{
    server_view, Field, FormMessage, OrgFrame, PostForm, ReauthBox, ServerFn, SubmitButton,
};
use crate::pages::not_found::NotFound;
use crate::wire::orgs::{InvitationItem, MemberItem, OrgTab, OrgView};
use gatehouse_core::values::org::Role;
use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_params_map;

#[component]
pub fn OrgMembersPage() -> impl IntoView {
    org_page(OrgTab::Members)
}

#[component]
pub fn OrgInvitationsPage() -> impl IntoView {
    org_page(OrgTab::Invitations)
}

#[component]
pub fn OrgSettingsPage() -> impl IntoView {
    org_page(OrgTab::Settings)
}

fn org_page(tab: OrgTab) -> impl IntoView {
    let slug = use_params_map()
        .get_untracked()
        .get("slug")
        .unwrap_or_default();
    server_view(get_org_view(slug), move |r| match r {
        Ok(Some(v))
            if (tab == OrgTab::Invitations && v.invitations.is_none())
                || (tab == OrgTab::Settings && v.policy.is_none()) =>
        {
            view! { <NotFound /> }.into_any()
        }
        Ok(Some(v)) => frame(v, tab).into_any(),
        Ok(None) => view! { <Redirect path="/login" /> }.into_any(),
        Err(_) => view! { <NotFound /> }.into_any(),
    })
}

fn frame(v: OrgView, tab: OrgTab) -> impl IntoView {
    let body = match tab {
        OrgTab::Members => members_tab(&v).into_any(),
        OrgTab::Invitations => invitations_tab(&v).into_any(),
        OrgTab::Settings => settings_tab(&v).into_any(),
    };
    let f = v.flash.clone();
    view! {
        <OrgFrame me=v.me.clone() name=v.name.clone() slug=v.slug.clone() active=tab invitations=v.invitations.is_some() settings=v.policy.is_some()>
            <FormMessage error=f.form_error.clone() notice=f.notice.clone() />
            {body}
        </OrgFrame>
    }
}

/// A select named `role` labelled **Role** offering `roles`, with `selected` chosen; in a table
/// row the label is for assistive technology only (the column says it).
fn role_select(
    id: String,
    roles: &[Role],
    selected: Role,
    error: Option<String>,
    in_row: bool,
) -> impl IntoView {
    let err_id = format!("{id}-error");
    let described = error.is_some().then(|| err_id.clone());
    view! {
        <div class="field field--inline">
            <label for=id.clone() class:visually-hidden=in_row>"Role"</label>
            <select id=id name="role" aria-describedby=described aria-invalid=error.is_some().then_some("true")>
                {roles.iter().map(|r| view! {
                    <option value=r.as_str() selected=*r == selected>{r.label()}</option>
                }).collect_view()}
            </select>
            {error.map(|e| view! { <p class="field__error" id=err_id>{e}</p> })}
        </div>
    }
}

fn members_tab(v: &OrgView) -> impl IntoView + use<> {
    let rows = v.members.iter().map(|m| member_row(v, m)).collect_view();
    let error = v.flash.error("members");
    let slug = v.slug.clone();
    let transfer = v.owner.then(|| transfer_section(v).into_any());
    view! {
        <section class="panel__section" aria-labelledby="members-title">
            <h2 id="members-title">"Members"</h2>
            {error.map(|e| view! { <p class="field__error" role="alert">{e}</p> })}
            <table class="table">
                <thead><tr><th scope="col">"Name"</th><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <PostForm to=LeaveOrg::url() class="inline-form">
                <input type="hidden" name="slug" value=slug />
                <SubmitButton label="Leave organization" secondary=true />
            </PostForm>
        </section>
        {transfer}
    }
}

fn member_row(v: &OrgView, m: &MemberItem) -> impl IntoView + use<> {
    let mine = v.my_role;
    // Roles the person may set for this member (the server decides again).
    let settable: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|to| {
            *to == m.role
                || gatehouse_core::values::org::allows(
                    mine,
                    gatehouse_core::values::org::Action::ChangeRole {
                        from: m.role,
                        to: *to,
                    },
                )
        })
        .collect();
    let can_change = v.manages && settable.len() > 1;
    let can_remove = !m.me
        && gatehouse_core::values::org::allows(
            mine,
            gatehouse_core::values::org::Action::Remove(m.role),
        );
    let slug = v.slug.clone();
    let name = if m.me {
        format!("{} (you)", m.name)
    } else {
        m.name.clone()
    };
    let (id, email, role) = (m.user_id.clone(), m.email.clone(), m.role);
    let role_cell = match can_change {
        true => {
            let (slug, id) = (slug.clone(), id.clone());
            let select = role_select(format!("role-{id}"), &settable, role, None, true);
            view! {
                <PostForm to=ChangeMemberRole::url() class="inline-form">
                    <input type="hidden" name="slug" value=slug />
                    <input type="hidden" name="member" value=id />
                    {select}
                    <SubmitButton label="Change role" secondary=true />
                </PostForm>
            }
            .into_any()
        }
        false => view! { <span>{role.label()}</span> }.into_any(),
    };
    let actions = can_remove.then(move || {
        view! {
            <PostForm to=RemoveMember::url()>
                <input type="hidden" name="slug" value=slug />
                <input type="hidden" name="member" value=id />
                <SubmitButton label="Remove" secondary=true />
            </PostForm>
        }
    });
    view! {
        <tr>
            <th scope="row">{name}</th>
            <td>{email}</td>
            <td>{role_cell}</td>
            <td>{actions}</td>
        </tr>
    }
}

/// S5: ownership goes to an admin, after a fresh re-authentication.
fn transfer_section(v: &OrgView) -> impl IntoView + use<> {
    let admins: Vec<MemberItem> = v
        .members
        .iter()
        .filter(|m| m.role == Role::Admin)
        .cloned()
        .collect();
    let f = v.flash.clone();
    let slug = v.slug.clone();
    let body = if admins.is_empty() {
        view! { <p class="empty">"Make someone an admin first; ownership goes to an admin."</p> }
            .into_any()
    } else if !v.reauth.fresh() {
        view! {
            <ReauthBox reauth=v.reauth.clone() flash=f.clone() tab=format!("org:{slug}") why="To hand over ownership" />
        }
        .into_any()
    } else {
        let chosen = f.value("member");
        view! {
            <PostForm to=TransferOwnership::url() class="inline-form">
                <input type="hidden" name="slug" value=slug />
                <div class="field field--inline">
                    <label for="transfer-to">"New owner"</label>
                    <select id="transfer-to" name="member">
                        {admins.into_iter().map(|a| view! {
                            <option value=a.user_id.clone() selected=a.user_id == chosen>{format!("{} ({})", a.name, a.email)}</option>
                        }).collect_view()}
                    </select>
                </div>
                <SubmitButton label="Transfer ownership" />
            </PostForm>
            <p class="field__hint">"You become an admin. Both of you get an email."</p>
        }
        .into_any()
    };
    let error = f.error("transfer");
    view! {
        <section class="panel__section" aria-labelledby="transfer-title">
            <h2 id="transfer-title">"Transfer ownership"</h2>
            {error.map(|e| view! { <p class="field__error" role="alert">{e}</p> })}
            {body}
        </section>
    }
}

fn invitations_tab(v: &OrgView) -> impl IntoView + use<> {
    let f = v.flash.clone();
    let list = v.invitations.clone().unwrap_or_default();
    let empty = list.is_empty();
    let selected = Role::parse(&f.value("role")).unwrap_or(Role::Member);
    let rows = list
        .into_iter()
        .map(|i| invitation_row(v.slug.clone(), i).into_any())
        .collect_view();
    let slug = v.slug.clone();
    let select = role_select(
        "invite-role".into(),
        &v.grantable,
        selected,
        f.error("role"),
        false,
    );
    let (email, email_error, list_error) =
        (f.value("email"), f.error("email"), f.error("invitations"));
    let days = v.invitation_days;
    view! {
        <section class="panel__section" aria-labelledby="invite-title">
            <h2 id="invite-title">"Invite someone"</h2>
            <PostForm to=SendInvitation::url() class="inline-form">
                <input type="hidden" name="slug" value=slug />
                <Field id="invite-email" label="Email" name="email" kind="email" autocomplete="off" value=email error=email_error />
                {select}
                <SubmitButton label="Send invitation" />
            </PostForm>
            <p class="field__hint">{format!("The link works for {days} days. We send the same email whether or not the address has an account.")}</p>
        </section>
        <section class="panel__section" aria-labelledby="sent-title">
            <h2 id="sent-title">"Invitations"</h2>
            {list_error.map(|e| view! { <p class="field__error" role="alert">{e}</p> })}
            {empty.then(|| view! { <p class="empty">"No invitations sent yet."</p> })}
            {(!empty).then(|| view! {
                <table class="table">
                    <thead><tr><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"State"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            }.into_any())}
        </section>
    }
}

fn invitation_row(slug: String, i: InvitationItem) -> impl IntoView + use<> {
    let open = i.state.open();
    let (id, id2, slug2) = (i.id.clone(), i.id.clone(), slug.clone());
    let by = i
        .invited_by
        .clone()
        .map(|b| format!(" · invited by {b}"))
        .unwrap_or_default();
    let actions = open.then(move || {
        view! {
            <div class="row-actions">
                <PostForm to=ResendInvitation::url()>
                    <input type="hidden" name="slug" value=slug />
                    <input type="hidden" name="invitation" value=id />
                    <SubmitButton label="Resend" secondary=true />
                </PostForm>
                <PostForm to=RevokeInvitation::url()>
                    <input type="hidden" name="slug" value=slug2 />
                    <input type="hidden" name="invitation" value=id2 />
                    <SubmitButton label="Revoke" secondary=true />
                </PostForm>
            </div>
        }
    });
    view! {
        <tr>
            <th scope="row">{i.email.clone()}</th>
            <td>{i.role.label()}</td>
            <td><span class="badge">{i.state.label()}</span> <small>{format!("{}{by}", i.when)}</small></td>
            <td>{actions}</td>
        </tr>
    }
}

/// One checkbox named `name`, labelled `label`.
fn check(id: &'static str, name: &'static str, label: &'static str, on: bool) -> impl IntoView {
    view! {
        <label class="check" for=id>
            <input type="checkbox" id=id name=name value="on" checked=on />
            " " {label}
        </label>
    }
}

/// F7: the organization's rules. After a refusal the boxes show what was sent.
fn settings_tab(v: &OrgView) -> impl IntoView + use<> {
    use gatehouse_core::values::factors::MfaMethod;
    let f = v.flash.clone();
    let p = v.policy.clone().unwrap_or_default();
    let kept = !f.value("kept").is_empty();
    let on = |field: &str, stored: bool| {
        if kept {
            !f.value(field).is_empty()
        } else {
            stored
        }
    };
    let boxes = (
        on("recovery_email", p.recovery_email),
        on("recovery_sms", p.recovery_sms),
        on("mfa_email", p.allows_mfa(MfaMethod::Email)),
        on("mfa_sms", p.allows_mfa(MfaMethod::Sms)),
        on("mfa_totp", p.allows_mfa(MfaMethod::Authenticator)),
    );
    let codes = if kept {
        f.value("sms_codes")
    } else {
        p.sms_codes.join(" ")
    };
    let (recovery_error, mfa_error, codes_error) =
        (f.error("recovery"), f.error("mfa"), f.error("sms_codes"));
    let slug = v.slug.clone();
    let rec_described = recovery_error.is_some().then_some("recovery-error");
    let mfa_described = mfa_error.is_some().then_some("mfa-error");
    let sms_note = (!v.sms_available)
        .then(|| view! { <p class="field__hint">"This server sends no text messages, so SMS methods are not offered whatever is ticked here."</p> });
    view! {
        <section class="panel__section" aria-labelledby="settings-title">
            <h2 id="settings-title">"Sign-in and recovery rules"</h2>
            <p class="field__hint">"They apply to every member. A person in several organizations gets what all of them allow (the strictest rules win)."</p>
            {sms_note}
            <PostForm to=SaveOrgSettings::url() class="settings-form">
                <input type="hidden" name="slug" value=slug />
                <fieldset class="choices" aria-describedby=rec_described>
                    <legend>"Recovery methods"</legend>
                    {check("set-rec-email", "recovery_email", "Email link", boxes.0)}
                    {check("set-rec-sms", "recovery_sms", "SMS code", boxes.1)}
                    {recovery_error.map(|e| view! { <p class="field__error" id="recovery-error">{e}</p> })}
                </fieldset>
                <fieldset class="choices" aria-describedby=mfa_described>
                    <legend>"Allowed MFA methods"</legend>
                    {check("set-mfa-email", "mfa_email", "Email", boxes.2)}
                    {check("set-mfa-sms", "mfa_sms", "Text message (SMS)", boxes.3)}
                    {check("set-mfa-totp", "mfa_totp", "Authenticator app", boxes.4)}
                    {mfa_error.map(|e| view! { <p class="field__error" id="mfa-error">{e}</p> })}
                </fieldset>
                <Field id="set-codes" label="SMS calling codes" name="sms_codes" value=codes error=codes_error optional=true
                    hint=Some("Leave empty for every code this server allows, or list some, like +1 +44.".to_string()) />
                <SubmitButton label="Save" />
            </PostForm>
        </section>
    }
}
