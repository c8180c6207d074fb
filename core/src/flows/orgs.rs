//! Organizations: creating one, its members and their roles, invitations, and handing over
//! ownership.
//!
//! - Roles: every change asks `values::org::allows` with the caller's role read in the same
//!   transaction as the change, so a member calling an admin's server function directly is
//!   refused here, whatever the page showed.
//! - The last owner can never be removed, demoted or leave (`mechanisms::orgs::change`, checked
//!   under the organization's row lock).
//! - Someone who does not belong to an organization learns nothing about it: every action
//!   answers "not found", as for an organization that does not exist.
//! - E1: inviting an address answers the same whether or not it has an account; the invitation
//!   is answered only by the signed-in account whose address it names.
//! - S5: handing over ownership needs a re-authentication within the last ten minutes.
//! - G1: every change is a security event of the person it concerns, naming the organization and
//!   who did it; both sides of an ownership change are told by email.

use crate::mechanisms::events::{self, About, EventKind};
use crate::mechanisms::invitations::{self, Invitation};
use crate::mechanisms::messages;
use crate::mechanisms::orgs::{self, Change, Member, MembershipError, Org};
use crate::mechanisms::outbox;
use crate::mechanisms::ratelimit::{self, from_rate_error, Limit};
use crate::mechanisms::reauth::{self, Reauth};
use crate::mechanisms::service::Deps;
use crate::mechanisms::sessions::{ClientInfo, Session};
use crate::mechanisms::users::{self, User};
use crate::store::Conn;
use crate::values::email::{Email, EmailError};
use crate::values::failure::{Refusal, Shown};
use crate::values::org::{self as rules, allows, Action, Outcome, Policy, Role};

/// Invitations one organization may send per hour (resends included): an admin's account in
/// the wrong hands cannot turn Gatehouse into a mailer.
pub const INVITES_PER_HOUR: i64 = 50;
/// R7: invitations one person may send per hour across all their organizations (making more
/// organizations does not multiply it).
pub const INVITES_PER_INVITER_PER_HOUR: i64 = 50;
/// R7: invitations one address may receive per day, from every organization together.
pub const INVITES_PER_RECIPIENT_PER_DAY: i64 = 5;
/// R7: organizations one account may create per day.
pub const ORGS_PER_ACCOUNT_PER_DAY: i64 = 5;

/// Why an organization action did not happen.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    #[error("Your sign-in has expired. Sign in again.")]
    SignedOut,
    /// No such organization, or the caller does not belong to it (the same answer).
    #[error("There is no such organization, or you are not a member of it.")]
    NotFound,
    #[error("Your role in this organization does not allow that.")]
    NotAllowed,
    #[error("An organization always keeps an owner. Make someone else an owner first.")]
    LastOwner,
    #[error("That person is no longer a member.")]
    NotMember,
    #[error("{0}")]
    Name(String),
    #[error(transparent)]
    Email(#[from] EmailError),
    #[error("Choose a role: Owner, Admin or Member.")]
    Role,
    #[error("That address already belongs to a member.")]
    AlreadyMember,
    #[error("That address already has a pending invitation. Resend it instead.")]
    AlreadyInvited,
    #[error("That invitation was already answered or revoked.")]
    Answered,
    #[error("This invitation is no longer open. Ask for a new one.")]
    InvitationGone,
    #[error("Ownership goes to an admin. Make them an admin first.")]
    NotAdmin,
    #[error("For your safety, confirm it is you first.")]
    ReauthRequired,
    #[error("{0}")]
    Policy(crate::values::org::PolicyError),
    #[error("Too many invitations were sent. Try again in {retry_after} seconds.")]
    Limited { retry_after: i64 },
    /// R7: the address got as many invitations as it may today (from anyone).
    #[error("This address has received as many invitations as it can today. Try again tomorrow.")]
    RecipientLimited,
    /// R7: the account created as many organizations as it may today.
    #[error("You have created as many organizations as you can today. Try again tomorrow.")]
    TooManyOrgs,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

from_rate_error!(OrgError);

impl Refusal for OrgError {
    fn shown(&self) -> Shown {
        match self {
            Self::Name(_)
            | Self::Email(_)
            | Self::Role
            | Self::RecipientLimited
            | Self::TooManyOrgs => Shown::Field,
            Self::Policy(p) => Shown::Fields(vec![(p.field(), p.to_string())]),
            Self::Store(e) => crate::store::shown(e),
            _ => Shown::Form,
        }
    }
}

impl From<MembershipError> for OrgError {
    fn from(e: MembershipError) -> Self {
        match e {
            MembershipError::LastOwner => Self::LastOwner,
            MembershipError::NotMember => Self::NotMember,
            MembershipError::Store(s) => Self::Store(s),
        }
    }
}

fn user_of(session: &Session) -> Result<&str, OrgError> {
    session.authenticated_user().ok_or(OrgError::SignedOut)
}

async fn me(conn: &mut Conn, uid: &str) -> Result<User, OrgError> {
    users::by_id(conn, uid).await?.ok_or(OrgError::SignedOut)
}

/// The organization of `slug` and the caller's role in it; `NotFound` for a stranger. For a
/// change (`lock`), the organization's row is taken before the role is read, so a role changed
/// by a concurrent transaction is seen as it is now.
async fn membership_of(
    conn: &mut Conn,
    slug: &str,
    uid: &str,
    lock: bool,
) -> Result<(Org, Role), OrgError> {
    if !rules::is_slug(slug) {
        return Err(OrgError::NotFound);
    }
    let org = orgs::by_slug(conn, slug).await?.ok_or(OrgError::NotFound)?;
    if lock {
        orgs::lock(conn, &org.id).await?;
    }
    let role = orgs::role_of(conn, &org.id, uid)
        .await?
        .ok_or(OrgError::NotFound)?;
    Ok((org, role))
}

/// For a page: the organization and the caller's role.
async fn membership(conn: &mut Conn, slug: &str, uid: &str) -> Result<(Org, Role), OrgError> {
    membership_of(conn, slug, uid, false).await
}

/// For a change: the same, under the organization's row lock.
async fn locked(conn: &mut Conn, slug: &str, uid: &str) -> Result<(Org, Role), OrgError> {
    membership_of(conn, slug, uid, true).await
}

/// [`locked`], then the role table: the caller may do `action`, or `NotAllowed`.
async fn allowed(
    conn: &mut Conn,
    slug: &str,
    uid: &str,
    action: impl FnOnce(Role) -> bool,
) -> Result<(Org, Role), OrgError> {
    let (org, role) = locked(conn, slug, uid).await?;
    if action(role) {
        Ok((org, role))
    } else {
        Err(OrgError::NotAllowed)
    }
}

/// G1: `kind` for `user`, about `org`, done by `actor` when that is someone else.
async fn record(
    conn: &mut Conn,
    user: &str,
    kind: EventKind,
    org: &Org,
    actor: Option<&str>,
    client: &ClientInfo,
    now: i64,
) -> Result<(), sqlx::Error> {
    let about = About::org(&org.id, actor);
    events::record_about(conn, Some(user), kind, about, client, now).await
}

/// The organizations the person belongs to, by name, with their role (the menu, `/orgs`).
pub async fn mine(deps: &Deps, session: &Session) -> Result<Vec<(Org, Role)>, OrgError> {
    let uid = user_of(session)?;
    let mut c = deps.store.read().await?;
    Ok(orgs::of_user(&mut c, uid).await?)
}

/// A new organization named `name`; the person becomes its owner.
pub async fn create(
    deps: &Deps,
    session: &Session,
    name: &str,
    client: &ClientInfo,
) -> Result<Org, OrgError> {
    let uid = user_of(session)?;
    let name = rules::org_name(name).map_err(OrgError::Name)?;
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let per_day = Limit {
        max: ORGS_PER_ACCOUNT_PER_DAY,
        window_secs: 86_400,
    };
    if !ratelimit::within(&mut tx, &format!("org:create:{uid}"), per_day, now).await? {
        return Err(OrgError::TooManyOrgs);
    }
    let org = orgs::create(&mut tx, &name, uid, now).await?;
    record(&mut tx, uid, EventKind::OrgCreated, &org, None, client, now).await?;
    tx.commit().await?;
    Ok(org)
}

/// What `/orgs/{slug}` shows the caller.
#[derive(Debug, Clone)]
pub struct OrgView {
    pub org: Org,
    pub my_role: Role,
    pub my_id: String,
    pub members: Vec<Member>,
    /// `None` when the caller's role may not see them.
    pub invitations: Option<Vec<Invitation>>,
    /// S5: where re-authentication stands (handing over ownership needs it fresh).
    pub reauth: Reauth,
    /// F7: the organization's rules, for those whose role edits them.
    pub policy: Option<Policy>,
}

pub async fn view(deps: &Deps, session: &Session, slug: &str) -> Result<OrgView, OrgError> {
    let uid = user_of(session)?;
    let mut c = deps.store.read().await?;
    let (org, my_role) = membership(&mut c, slug, uid).await?;
    let members = orgs::members(&mut c, &org.id).await?;
    let invitations = match allows(my_role, Action::ManageInvitations) {
        true => Some(invitations::of_org(&mut c, &org.id).await?),
        false => None,
    };
    let reauth = reauth::state(&mut c, deps, session, deps.now()).await?;
    let policy = match allows(my_role, Action::EditSettings) {
        true => Some(orgs::policy(&mut c, &org.id).await?),
        false => None,
    };
    Ok(OrgView {
        policy,
        org,
        my_role,
        my_id: uid.to_string(),
        members,
        invitations,
        reauth,
    })
}

/// Changes `member_id`'s role to `role` (text from the form).
pub async fn change_role(
    deps: &Deps,
    session: &Session,
    slug: &str,
    member_id: &str,
    role: &str,
    client: &ClientInfo,
) -> Result<Role, OrgError> {
    let uid = user_of(session)?;
    let to = Role::parse(role).ok_or(OrgError::Role)?;
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let (org, my_role) = locked(&mut tx, slug, uid).await?;
    let from = orgs::role_of(&mut tx, &org.id, member_id)
        .await?
        .ok_or(OrgError::NotMember)?;
    if !allows(my_role, Action::ChangeRole { from, to }) {
        return Err(OrgError::NotAllowed);
    }
    if from == to {
        return Ok(to);
    }
    orgs::change(&mut tx, &org.id, member_id, Change::Role(to)).await?;
    let actor = (member_id != uid).then_some(uid);
    record(
        &mut tx,
        member_id,
        EventKind::OrgRoleChanged,
        &org,
        actor,
        client,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(to)
}

/// Removes `member_id` from the organization (someone else; oneself is [`leave`]).
pub async fn remove(
    deps: &Deps,
    session: &Session,
    slug: &str,
    member_id: &str,
    client: &ClientInfo,
) -> Result<(), OrgError> {
    let uid = user_of(session)?;
    if member_id == uid {
        return leave(deps, session, slug, client).await;
    }
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let (org, my_role) = locked(&mut tx, slug, uid).await?;
    let their = orgs::role_of(&mut tx, &org.id, member_id)
        .await?
        .ok_or(OrgError::NotMember)?;
    if !allows(my_role, Action::Remove(their)) {
        return Err(OrgError::NotAllowed);
    }
    orgs::change(&mut tx, &org.id, member_id, Change::Remove).await?;
    let kind = EventKind::OrgMemberRemoved;
    record(&mut tx, member_id, kind, &org, Some(uid), client, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The person leaves the organization (never its last owner).
pub async fn leave(
    deps: &Deps,
    session: &Session,
    slug: &str,
    client: &ClientInfo,
) -> Result<(), OrgError> {
    let uid = user_of(session)?;
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let (org, _) = allowed(&mut tx, slug, uid, |r| allows(r, Action::Leave)).await?;
    orgs::change(&mut tx, &org.id, uid, Change::Remove).await?;
    record(&mut tx, uid, EventKind::OrgLeft, &org, None, client, now).await?;
    tx.commit().await?;
    Ok(())
}

/// S5: an owner makes admin `to_id` an owner and becomes an admin; both are told by email.
pub async fn transfer(
    deps: &Deps,
    session: &Session,
    slug: &str,
    to_id: &str,
    client: &ClientInfo,
) -> Result<(), OrgError> {
    let uid = user_of(session)?;
    let now = deps.now();
    reauth::require_fresh(session, now).map_err(|_| OrgError::ReauthRequired)?;
    let mut tx = deps.store.begin().await?;
    let (org, _) = allowed(&mut tx, slug, uid, |r| allows(r, Action::TransferOwnership)).await?;
    match orgs::role_of(&mut tx, &org.id, to_id).await? {
        None => return Err(OrgError::NotMember),
        Some(Role::Admin) if to_id != uid => {}
        Some(_) => return Err(OrgError::NotAdmin),
    }
    orgs::change(&mut tx, &org.id, to_id, Change::Role(Role::Owner)).await?;
    orgs::change(&mut tx, &org.id, uid, Change::Role(Role::Admin)).await?;
    let from = me(&mut tx, uid).await?;
    let to = me(&mut tx, to_id).await?;
    let link = deps.link(&format!("/orgs/{}", org.slug));
    for (user, other, received) in [(&to, &from, true), (&from, &to, false)] {
        let kind = match received {
            true => EventKind::OrgOwnershipReceived,
            false => EventKind::OrgOwnershipHandedOver,
        };
        let actor = received.then_some(uid);
        record(&mut tx, &user.id, kind, &org, actor, client, now).await?;
        let m = messages::ownership_transferred(
            user.email.as_str(),
            &org.name,
            &other.display_name(),
            received,
            &link,
        );
        outbox::enqueue(&mut tx, &m, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// F7: the organization's recovery and MFA rules (the form's fields, checked here); every
/// member's activity log shows the change, naming who made it.
pub async fn save_settings(
    deps: &Deps,
    session: &Session,
    slug: &str,
    form: Result<Policy, crate::values::org::PolicyError>,
    client: &ClientInfo,
) -> Result<(), OrgError> {
    let uid = user_of(session)?;
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let (org, _) = allowed(&mut tx, slug, uid, |r| allows(r, Action::EditSettings)).await?;
    let policy = form.map_err(OrgError::Policy)?;
    orgs::set_policy(&mut tx, &org.id, &policy).await?;
    for m in orgs::members(&mut tx, &org.id).await? {
        let actor = (m.user_id != uid).then_some(uid);
        let kind = EventKind::OrgSettingsChanged;
        record(&mut tx, &m.user_id, kind, &org, actor, client, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// F7: after a sign-in, whether the person's method (or their phone's calling code) is one
/// their organizations no longer allow: the words that ask them to change it, or `None`.
pub async fn method_change_needed(
    deps: &Deps,
    session: &Session,
) -> Result<Option<String>, OrgError> {
    let uid = user_of(session)?;
    let mut c = deps.store.read().await?;
    let Some((policy, names)) = orgs::rules_for(&mut c, uid).await? else {
        return Ok(None);
    };
    let user = me(&mut c, uid).await?;
    let method = user.mfa_method;
    let phone = match method {
        crate::values::factors::MfaMethod::Sms => {
            crate::mechanisms::mfa::verified_phone(&mut c, uid).await?
        }
        _ => None,
    };
    let codes = &deps.settings.sms_country_codes;
    Ok(
        (!policy.allows_method(method, phone.as_ref(), codes)).then(|| {
            format!(
                "{} Choose another way to confirm sign-ins below.",
                policy.mfa_words(&names)
            )
        }),
    )
}

/// Invites `email` with `role` (texts from the form) and emails the link. E1: the same answer
/// whether or not the address has an account.
pub async fn invite(
    deps: &Deps,
    session: &Session,
    slug: &str,
    email: &str,
    role: &str,
    client: &ClientInfo,
) -> Result<Email, OrgError> {
    let uid = user_of(session)?;
    let email = Email::parse(email)?;
    let role = Role::parse(role).ok_or(OrgError::Role)?;
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let (org, _) = allowed(&mut tx, slug, uid, |r| allows(r, Action::Invite(role))).await?;
    if orgs::has_member_email(&mut tx, &org.id, &email).await? {
        return Err(OrgError::AlreadyMember);
    }
    invitation_sent(&mut tx, &org, uid, &email, now).await?;
    let token = deps.random.token(32);
    let new = invitations::New {
        org_id: &org.id,
        email: email.as_str(),
        role,
        invited_by: uid,
        ttl_secs: deps.settings.invitation_ttl_secs,
    };
    invitations::create(&mut tx, new, &token, now)
        .await?
        .ok_or(OrgError::AlreadyInvited)?;
    let inviter = me(&mut tx, uid).await?;
    queue_invitation(&mut tx, deps, &org, &inviter, &email, role, &token, now).await?;
    record(
        &mut tx,
        uid,
        EventKind::OrgInvitationSent,
        &org,
        None,
        client,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(email)
}

/// Counts one invitation email against every budget it spends (R4/R7): the organization's
/// per hour, the inviter's per hour across all their organizations, and the recipient's per
/// day from everyone.
async fn invitation_sent(
    conn: &mut Conn,
    org: &Org,
    inviter: &str,
    to: &Email,
    now: i64,
) -> Result<(), OrgError> {
    let hourly = |max| Limit {
        max,
        window_secs: 3600,
    };
    ratelimit::hit(
        conn,
        &format!("invite:org:{}", org.id),
        hourly(INVITES_PER_HOUR),
        now,
    )
    .await?;
    ratelimit::hit(
        conn,
        &format!("invite:by:{inviter}"),
        hourly(INVITES_PER_INVITER_PER_HOUR),
        now,
    )
    .await?;
    let daily = Limit {
        max: INVITES_PER_RECIPIENT_PER_DAY,
        window_secs: 86_400,
    };
    let key = format!("invite:to:{}", to.as_str());
    if ratelimit::within(conn, &key, daily, now).await? {
        Ok(())
    } else {
        Err(OrgError::RecipientLimited)
    }
}

#[allow(clippy::too_many_arguments)]
async fn queue_invitation(
    conn: &mut Conn,
    deps: &Deps,
    org: &Org,
    inviter: &User,
    email: &Email,
    role: Role,
    token: &crate::mechanisms::secret::Secret,
    now: i64,
) -> Result<(), sqlx::Error> {
    let link = deps.link(&format!("/invitation?token={}", token.expose()));
    let m = messages::invitation(
        email.as_str(),
        &org.name,
        &inviter.display_name(),
        role.label(),
        &link,
        deps.settings.invitation_ttl_secs / 86_400,
    );
    outbox::enqueue(conn, &m, now).await
}

/// Sends an unanswered invitation again with a new link (the old one dies) and a new expiry.
pub async fn resend(
    deps: &Deps,
    session: &Session,
    slug: &str,
    invitation_id: &str,
    client: &ClientInfo,
) -> Result<Email, OrgError> {
    let uid = user_of(session)?;
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let (org, role) = allowed(&mut tx, slug, uid, |r| allows(r, Action::ManageInvitations)).await?;
    let inv = invitations::by_id(&mut tx, &org.id, invitation_id)
        .await?
        .ok_or(OrgError::Answered)?;
    if !allows(role, Action::Invite(inv.role)) {
        return Err(OrgError::NotAllowed);
    }
    let email = Email::parse(&inv.email)?;
    invitation_sent(&mut tx, &org, uid, &email, now).await?;
    let token = deps.random.token(32);
    let ttl = deps.settings.invitation_ttl_secs;
    if !invitations::renew(&mut tx, &org.id, &inv.id, &token, ttl, now).await? {
        return Err(OrgError::Answered);
    }
    let inviter = me(&mut tx, uid).await?;
    queue_invitation(&mut tx, deps, &org, &inviter, &email, inv.role, &token, now).await?;
    record(
        &mut tx,
        uid,
        EventKind::OrgInvitationSent,
        &org,
        None,
        client,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(email)
}

/// Revokes an unanswered invitation: its link stops working.
pub async fn revoke(
    deps: &Deps,
    session: &Session,
    slug: &str,
    invitation_id: &str,
    client: &ClientInfo,
) -> Result<(), OrgError> {
    let uid = user_of(session)?;
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let (org, _) = allowed(&mut tx, slug, uid, |r| allows(r, Action::ManageInvitations)).await?;
    if !invitations::revoke(&mut tx, &org.id, invitation_id, now).await? {
        return Err(OrgError::Answered);
    }
    record(
        &mut tx,
        uid,
        EventKind::OrgInvitationRevoked,
        &org,
        None,
        client,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The pending invitations to the person's address (the Dashboard).
pub async fn waiting(deps: &Deps, session: &Session) -> Result<Vec<Invitation>, OrgError> {
    let uid = user_of(session)?;
    let mut c = deps.store.read().await?;
    let u = me(&mut c, uid).await?;
    Ok(invitations::waiting_for(&mut c, u.email.as_str(), deps.now()).await?)
}

/// The person accepts (`true`) or declines invitation `id` to their own address; accepting
/// makes them a member with the invited role. Answers the invitation (its organization).
pub async fn answer(
    deps: &Deps,
    session: &Session,
    invitation_id: &str,
    accept: bool,
    client: &ClientInfo,
) -> Result<Invitation, OrgError> {
    let uid = user_of(session)?;
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let u = me(&mut tx, uid).await?;
    let outcome = match accept {
        true => Outcome::Accepted,
        false => Outcome::Declined,
    };
    let inv = invitations::answer(&mut tx, invitation_id, u.email.as_str(), outcome, now)
        .await?
        .ok_or(OrgError::InvitationGone)?;
    invitations::settle(&mut tx, &inv, uid, accept, client, now).await?;
    tx.commit().await?;
    Ok(inv)
}

/// What an invitation link's page shows (a GET: it reads, never answers — E4).
#[derive(Debug, Clone)]
pub enum LinkView {
    /// The link is unknown, or was replaced by a newer one.
    Unknown,
    /// The invitation, and whether the signed-in person (if any) is the one invited.
    Found {
        invitation: Invitation,
        state: crate::values::org::InvitationState,
        for_me: Option<bool>,
    },
}

pub async fn link_view(
    deps: &Deps,
    session: Option<&Session>,
    token: &str,
) -> Result<LinkView, OrgError> {
    let mut c = deps.store.read().await?;
    let Some(invitation) = invitations::by_token(&mut c, token).await? else {
        return Ok(LinkView::Unknown);
    };
    let for_me = match session.and_then(Session::authenticated_user) {
        Some(uid) => Some(me(&mut c, uid).await?.email.as_str() == invitation.email),
        None => None,
    };
    Ok(LinkView::Found {
        state: invitation.state(deps.now()),
        invitation,
        for_me,
    })
}
