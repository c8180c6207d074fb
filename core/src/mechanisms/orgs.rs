//! Organizations and memberships in the store.
//!
//! - The last owner: a change that would leave an organization without an owner (demoting,
//!   removing or the leaving of its last owner) is refused inside the transaction that makes it,
//!   after [`lock`] has taken the organization's row (`FOR UPDATE` on PostgreSQL; SQLite has one
//!   writer), so two owners demoting each other at the same moment cannot both succeed.
//! - F7: each organization's rules live on its row; a person in several gets the strictest of
//!   them ([`rules_for`]).
//! - Roles are checked by the flow (`values::org::allows`) before it calls here; this module
//!   only keeps the data consistent.

use crate::store::{is_postgres, Conn};
use crate::values::clock::Timestamp;
use crate::values::org::{slug_of, Policy, Role, MFA_ORDER};
use sqlx::Row;

/// An organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: String,
    pub slug: String,
    pub name: String,
}

/// A person in an organization, as the Members tab lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub role: Role,
    pub joined_at: Timestamp,
}

/// Why a membership change was refused by the data itself.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    #[error("an organization always keeps an owner")]
    LastOwner,
    #[error("not a member")]
    NotMember,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

fn org_of(r: &sqlx::any::AnyRow) -> Result<Org, sqlx::Error> {
    Ok(Org {
        id: r.try_get("id")?,
        slug: r.try_get("slug")?,
        name: r.try_get("name")?,
    })
}

fn role_of_row(r: &sqlx::any::AnyRow) -> Result<Role, sqlx::Error> {
    let role: String = r.try_get("role")?;
    Role::parse(&role).ok_or_else(|| sqlx::Error::Decode(format!("unknown role {role:?}").into()))
}

/// Creates an organization named `name` (already checked) with `owner_id` as its owner; the
/// slug is made from the name, with `-2`, `-3`… when it is taken.
pub async fn create(
    conn: &mut Conn,
    name: &str,
    owner_id: &str,
    now: Timestamp,
) -> Result<Org, sqlx::Error> {
    let id = crate::mechanisms::secret::new_id();
    let base = slug_of(name);
    let mut n = 1;
    let slug = loop {
        let slug = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let done = sqlx::query(
            "INSERT INTO organizations (id, slug, name, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (slug) DO NOTHING",
        )
        .bind(&id)
        .bind(&slug)
        .bind(name)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 1 {
            break slug;
        }
        n += 1;
    };
    add_member(conn, &id, owner_id, Role::Owner, now).await?;
    Ok(Org {
        id,
        slug,
        name: name.to_string(),
    })
}

/// Adds `user_id` with `role`; `false` when they already belong (their role is left alone).
pub async fn add_member(
    conn: &mut Conn,
    org_id: &str,
    user_id: &str,
    role: Role,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (org_id, user_id) DO NOTHING",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn by_slug(conn: &mut Conn, slug: &str) -> Result<Option<Org>, sqlx::Error> {
    sqlx::query("SELECT id, slug, name FROM organizations WHERE slug = $1")
        .bind(slug)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(org_of)
        .transpose()
}

pub async fn by_id(conn: &mut Conn, id: &str) -> Result<Option<Org>, sqlx::Error> {
    sqlx::query("SELECT id, slug, name FROM organizations WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(org_of)
        .transpose()
}

/// `user_id`'s role in the organization, if they belong to it.
pub async fn role_of(
    conn: &mut Conn,
    org_id: &str,
    user_id: &str,
) -> Result<Option<Role>, sqlx::Error> {
    sqlx::query("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(role_of_row)
        .transpose()
}

/// Whether the account of `email` belongs to the organization.
pub async fn has_member_email(
    conn: &mut Conn,
    org_id: &str,
    email: &crate::values::email::Email,
) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.org_id = $1 AND u.email = $2",
    )
    .bind(org_id)
    .bind(email.as_str())
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// The organizations `user_id` belongs to, by name, with their role.
pub async fn of_user(conn: &mut Conn, user_id: &str) -> Result<Vec<(Org, Role)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT o.id, o.slug, o.name, m.role FROM memberships m \
         JOIN organizations o ON o.id = m.org_id WHERE m.user_id = $1 ORDER BY o.name, o.slug",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((org_of(r)?, role_of_row(r)?)))
        .collect()
}

/// Everyone in the organization: owners first, then admins, then members, each by name.
pub async fn members(conn: &mut Conn, org_id: &str) -> Result<Vec<Member>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT m.user_id, u.first_name, u.last_name, u.email, m.role, m.joined_at \
         FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 \
         ORDER BY u.first_name, u.last_name, u.email",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut all = rows
        .iter()
        .map(|r| {
            Ok(Member {
                user_id: r.try_get("user_id")?,
                first_name: r.try_get("first_name")?,
                last_name: r.try_get("last_name")?,
                email: r.try_get("email")?,
                role: role_of_row(r)?,
                joined_at: r.try_get("joined_at")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    all.sort_by_key(|m| std::cmp::Reverse(m.role));
    Ok(all)
}

/// Takes the organization's row for the rest of the transaction, so membership changes of one
/// organization happen one after the other (the last-owner rule counts owners after this).
pub async fn lock(conn: &mut Conn, org_id: &str) -> Result<(), sqlx::Error> {
    let sql = if is_postgres(conn) {
        "SELECT id FROM organizations WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT id FROM organizations WHERE id = $1"
    };
    sqlx::query(sql)
        .bind(org_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(())
}

async fn owners(conn: &mut Conn, org_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND role = 'owner'")
        .bind(org_id)
        .fetch_one(&mut *conn)
        .await
}

/// What happens to a membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The member's role becomes this.
    Role(Role),
    /// The member goes (removed, or leaving).
    Remove,
}

/// Applies `change` to `user_id`'s membership, in the caller's transaction, after [`lock`]:
/// refused when it would leave the organization without an owner. Answers the role they had.
pub async fn change(
    conn: &mut Conn,
    org_id: &str,
    user_id: &str,
    change: Change,
) -> Result<Role, MembershipError> {
    lock(conn, org_id).await?;
    let was = role_of(conn, org_id, user_id)
        .await?
        .ok_or(MembershipError::NotMember)?;
    let stays_owner = change == Change::Role(Role::Owner);
    if was == Role::Owner && !stays_owner && owners(conn, org_id).await? <= 1 {
        return Err(MembershipError::LastOwner);
    }
    match change {
        Change::Role(role) => {
            sqlx::query("UPDATE memberships SET role = $3 WHERE org_id = $1 AND user_id = $2")
                .bind(org_id)
                .bind(user_id)
                .bind(role.as_str())
                .execute(&mut *conn)
                .await?;
        }
        Change::Remove => {
            sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
                .bind(org_id)
                .bind(user_id)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(was)
}

const POLICY: &str = "recovery_email, recovery_sms, mfa_methods, sms_calling_codes";

fn policy_of(r: &sqlx::any::AnyRow) -> Result<Policy, sqlx::Error> {
    let mfa: String = r.try_get("mfa_methods")?;
    let codes: String = r.try_get("sms_calling_codes")?;
    Ok(Policy {
        recovery_email: r.try_get::<i64, _>("recovery_email")? != 0,
        recovery_sms: r.try_get::<i64, _>("recovery_sms")? != 0,
        mfa: MFA_ORDER
            .into_iter()
            .filter(|m| mfa.split_whitespace().any(|w| w == m.as_str()))
            .collect(),
        sms_codes: codes.split_whitespace().map(str::to_string).collect(),
    })
}

/// F7: the organization's rules.
pub async fn policy(conn: &mut Conn, org_id: &str) -> Result<Policy, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {POLICY} FROM organizations WHERE id = $1"))
        .bind(org_id)
        .fetch_one(&mut *conn)
        .await?;
    policy_of(&row)
}

/// F7: stores the organization's rules (already checked by `Policy::from_form`).
pub async fn set_policy(conn: &mut Conn, org_id: &str, p: &Policy) -> Result<(), sqlx::Error> {
    let mfa: Vec<&str> = p.mfa.iter().map(|m| m.as_str()).collect();
    sqlx::query(
        "UPDATE organizations SET recovery_email = $2, recovery_sms = $3, mfa_methods = $4, \
         sms_calling_codes = $5 WHERE id = $1",
    )
    .bind(org_id)
    .bind(i64::from(p.recovery_email))
    .bind(i64::from(p.recovery_sms))
    .bind(mfa.join(" "))
    .bind(p.sms_codes.join(" "))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// F7: the rules that apply to `user_id` — the strictest of their organizations'
/// (`Policy::strictest`) — with the names of the organizations; `None` outside any.
pub async fn rules_for(
    conn: &mut Conn,
    user_id: &str,
) -> Result<Option<(Policy, Vec<String>)>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT o.name, {POLICY} FROM memberships m JOIN organizations o ON o.id = m.org_id \
         WHERE m.user_id = $1 ORDER BY o.name"
    ))
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut names = Vec::new();
    let mut all = Vec::new();
    for r in &rows {
        names.push(r.try_get::<String, _>("name")?);
        all.push(policy_of(r)?);
    }
    Ok(Policy::strictest(&all).map(|p| (p, names)))
}

/// F7/R4: the calling codes text messages to `user_id` may go to — the instance's, narrowed by
/// the person's organizations.
pub async fn sms_codes_for(
    conn: &mut Conn,
    instance: &[String],
    user_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let rules = rules_for(conn, user_id).await?;
    Ok(crate::values::org::sms_codes(
        rules.as_ref().map(|(p, _)| p),
        instance,
    ))
}
