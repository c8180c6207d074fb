//! Security events (G1): what happened to an account, when, from where. No secrets, ever: a
//! row holds only its kind, the client's IP and User-Agent, and the time.

use crate::mechanisms::sessions::ClientInfo;
use crate::store::Conn;
use crate::values::clock::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Registered,
    RegistrationAttemptExisting,
    EmailVerified,
    LoginFailed,
    LoginSucceeded,
    MfaFailed,
    AccountLocked,
    SignedOut,
    MfaEnrolled,
    MfaReset,
    RecoveryCodeUsed,
    MfaChanged,
    MfaChangeRequested,
    Reauthenticated,
    RecoveryCodesRegenerated,
    PasswordResetRequested,
    PasswordChanged,
    NameChanged,
    AvatarChanged,
    AvatarRemoved,
    EmailChangeStarted,
    EmailChanged,
    PhoneChanged,
    PhoneRemoved,
    AppAuthorized,
    AppDenied,
    AppAccessRemoved,
    AppTokensRevoked,
    OrgCreated,
    OrgJoined,
    OrgInvitationSent,
    OrgInvitationRevoked,
    OrgInvitationDeclined,
    OrgRoleChanged,
    OrgMemberRemoved,
    OrgLeft,
    OrgOwnershipReceived,
    OrgOwnershipHandedOver,
    OrgSettingsChanged,
    AccountUnlocked,
}

impl EventKind {
    /// Every kind, for reading a stored name back.
    pub const ALL: [EventKind; 40] = [
        EventKind::Registered,
        EventKind::RegistrationAttemptExisting,
        EventKind::EmailVerified,
        EventKind::LoginFailed,
        EventKind::LoginSucceeded,
        EventKind::MfaFailed,
        EventKind::AccountLocked,
        EventKind::SignedOut,
        EventKind::MfaEnrolled,
        EventKind::MfaReset,
        EventKind::RecoveryCodeUsed,
        EventKind::MfaChanged,
        EventKind::MfaChangeRequested,
        EventKind::Reauthenticated,
        EventKind::RecoveryCodesRegenerated,
        EventKind::PasswordResetRequested,
        EventKind::PasswordChanged,
        EventKind::NameChanged,
        EventKind::AvatarChanged,
        EventKind::AvatarRemoved,
        EventKind::EmailChangeStarted,
        EventKind::EmailChanged,
        EventKind::PhoneChanged,
        EventKind::PhoneRemoved,
        EventKind::AppAuthorized,
        EventKind::AppDenied,
        EventKind::AppAccessRemoved,
        EventKind::AppTokensRevoked,
        EventKind::OrgCreated,
        EventKind::OrgJoined,
        EventKind::OrgInvitationSent,
        EventKind::OrgInvitationRevoked,
        EventKind::OrgInvitationDeclined,
        EventKind::OrgRoleChanged,
        EventKind::OrgMemberRemoved,
        EventKind::OrgLeft,
        EventKind::OrgOwnershipReceived,
        EventKind::OrgOwnershipHandedOver,
        EventKind::OrgSettingsChanged,
        EventKind::AccountUnlocked,
    ];

    /// The stored name (unchanged since the first migration) and the words the activity log
    /// shows. One exhaustive match: a new kind without its row does not compile.
    fn row(self) -> (&'static str, &'static str) {
        match self {
            EventKind::Registered => ("registered", "Account created"),
            EventKind::RegistrationAttemptExisting => (
                "registration_attempt_existing",
                "Someone tried to register this address again",
            ),
            EventKind::EmailVerified => ("email_verified", "Email address confirmed"),
            EventKind::LoginFailed => ("login_failed", "Wrong password"),
            EventKind::LoginSucceeded => ("login_succeeded", "Signed in"),
            EventKind::MfaFailed => ("mfa_failed", "Wrong code"),
            EventKind::AccountLocked => ("account_locked", "Sign-in paused after failed attempts"),
            EventKind::SignedOut => ("signed_out", "Signed out"),
            EventKind::MfaEnrolled => ("mfa_enrolled", "Sign-in method activated"),
            EventKind::MfaReset => ("mfa_reset", "Sign-in method reset by support"),
            EventKind::RecoveryCodeUsed => ("recovery_code_used", "Recovery code used"),
            EventKind::MfaChanged => ("mfa_changed", "Sign-in method changed"),
            EventKind::MfaChangeRequested => (
                "mfa_change_requested",
                "Chose an authenticator app for the next sign-in",
            ),
            EventKind::Reauthenticated => ("reauthenticated", "Identity confirmed"),
            EventKind::RecoveryCodesRegenerated => {
                ("recovery_codes_regenerated", "New recovery codes")
            }
            EventKind::PasswordResetRequested => {
                ("password_reset_requested", "Password reset requested")
            }
            EventKind::PasswordChanged => ("password_changed", "Password changed"),
            EventKind::NameChanged => ("name_changed", "Name changed"),
            EventKind::AvatarChanged => ("avatar_changed", "Profile picture changed"),
            EventKind::AvatarRemoved => ("avatar_removed", "Profile picture removed"),
            EventKind::EmailChangeStarted => (
                "email_change_started",
                "Support started a change of your email address",
            ),
            EventKind::EmailChanged => ("email_changed", "Email address changed"),
            EventKind::PhoneChanged => ("phone_changed", "Phone number changed"),
            EventKind::PhoneRemoved => ("phone_removed", "Phone number removed"),
            EventKind::AppAuthorized => ("app_authorized", "Signed in to an application"),
            EventKind::AppDenied => ("app_denied", "Refused an application access"),
            EventKind::AppAccessRemoved => ("app_access_removed", "Application access removed"),
            EventKind::AppTokensRevoked => ("app_tokens_revoked", "Application sign-in revoked"),
            EventKind::OrgCreated => ("org_created", "Created an organization"),
            EventKind::OrgJoined => ("org_joined", "Joined an organization"),
            EventKind::OrgInvitationSent => {
                ("org_invitation_sent", "Invited someone to an organization")
            }
            EventKind::OrgInvitationRevoked => ("org_invitation_revoked", "Revoked an invitation"),
            EventKind::OrgInvitationDeclined => {
                ("org_invitation_declined", "Declined an invitation")
            }
            EventKind::OrgRoleChanged => ("org_role_changed", "Role in an organization changed"),
            EventKind::OrgMemberRemoved => ("org_member_removed", "Removed from an organization"),
            EventKind::OrgLeft => ("org_left", "Left an organization"),
            EventKind::OrgOwnershipReceived => (
                "org_ownership_received",
                "Became an owner of an organization",
            ),
            EventKind::OrgOwnershipHandedOver => (
                "org_ownership_handed_over",
                "Handed over ownership of an organization",
            ),
            EventKind::AccountUnlocked => ("account_unlocked", "Sign-in unlocked by support"),
            EventKind::OrgSettingsChanged => (
                "org_settings_changed",
                "Sign-in rules of an organization changed",
            ),
        }
    }

    pub fn as_str(self) -> &'static str {
        self.row().0
    }

    /// A stored name read back; `None` for text this code never wrote.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The event in words, for the Security tab.
    pub fn describe(self) -> &'static str {
        self.row().1
    }
}

pub async fn record(
    conn: &mut Conn,
    user_id: Option<&str>,
    kind: EventKind,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    record_about(conn, user_id, kind, About::by(None), client, now).await
}

/// What an event is about beyond its kind: the organization, and who did it when that was not
/// the account's owner (an admin, support). Ids only; the log shows their current names.
#[derive(Debug, Clone, Copy)]
pub struct About<'a> {
    pub org_id: Option<&'a str>,
    pub actor_id: Option<&'a str>,
}

impl<'a> About<'a> {
    /// Done by `actor` (support), about no organization; `None`: by the person or the operator.
    pub fn by(actor: Option<&'a str>) -> Self {
        Self {
            org_id: None,
            actor_id: actor,
        }
    }

    /// About the organization `org_id`, done by `actor` when that is someone else.
    pub fn org(org_id: &'a str, actor: Option<&'a str>) -> Self {
        Self {
            org_id: Some(org_id),
            actor_id: actor,
        }
    }
}

/// G1: records `kind` for `user_id` with what it is about.
pub async fn record_about(
    conn: &mut Conn,
    user_id: Option<&str>,
    kind: EventKind,
    about: About<'_>,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    tracing::info!(
        event = kind.as_str(),
        user_id = user_id.unwrap_or("-"),
        org_id = about.org_id.unwrap_or("-"),
        actor_id = about.actor_id.unwrap_or("-"),
        ip = %client.ip,
        "security event"
    );
    crate::mechanisms::tally::event(kind);
    sqlx::query(
        "INSERT INTO security_events (user_id, kind, ip, user_agent, at, org_id, actor_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(user_id)
    .bind(kind.as_str())
    .bind(&client.ip)
    .bind(client.user_agent.chars().take(256).collect::<String>())
    .bind(now)
    .bind(about.org_id)
    .bind(about.actor_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether the account has any recorded event from `ip` ("a known place").
pub async fn seen_ip(conn: &mut Conn, user_id: &str, ip: &str) -> Result<bool, sqlx::Error> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM security_events WHERE user_id = $1 AND ip = $2")
            .bind(user_id)
            .bind(ip)
            .fetch_one(&mut *conn)
            .await?;
    Ok(n > 0)
}

/// One line of the activity log (G1): what, when, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub kind: EventKind,
    pub ip: String,
    pub user_agent: String,
    pub at: Timestamp,
    /// The organization it was about (its current name), if any.
    pub org: Option<String>,
    /// Who did it when it was not the person (their name and email), if anyone.
    pub actor: Option<String>,
}

/// G1: the newest `limit` events of a user, for the Security tab's activity log.
pub async fn recent(
    conn: &mut Conn,
    user_id: &str,
    limit: i64,
) -> Result<Vec<Recorded>, sqlx::Error> {
    newest(conn, user_id, None, limit).await
}

/// The newest `limit` events of one kind (the Dashboard's sign-ins).
pub async fn recent_of(
    conn: &mut Conn,
    user_id: &str,
    kind: EventKind,
    limit: i64,
) -> Result<Vec<Recorded>, sqlx::Error> {
    newest(conn, user_id, Some(kind), limit).await
}

async fn newest(
    conn: &mut Conn,
    user_id: &str,
    kind: Option<EventKind>,
    limit: i64,
) -> Result<Vec<Recorded>, sqlx::Error> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT e.kind, e.ip, e.user_agent, e.at, o.name AS org, \
         a.first_name AS actor_first, a.last_name AS actor_last, a.email AS actor_email \
         FROM security_events e LEFT JOIN organizations o ON o.id = e.org_id \
         LEFT JOIN users a ON a.id = e.actor_id \
         WHERE e.user_id = $1 AND ($2 = '' OR e.kind = $2) ORDER BY e.id DESC LIMIT $3",
    )
    .bind(user_id)
    .bind(kind.map(EventKind::as_str).unwrap_or_default())
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            Ok(Recorded {
                kind: EventKind::parse(&kind).ok_or_else(|| {
                    sqlx::Error::Decode(format!("unknown event kind {kind:?}").into())
                })?,
                ip: r.try_get("ip")?,
                user_agent: r.try_get("user_agent")?,
                at: r.try_get("at")?,
                org: r.try_get("org")?,
                actor: actor_words(
                    r.try_get("actor_first")?,
                    r.try_get("actor_last")?,
                    r.try_get("actor_email")?,
                ),
            })
        })
        .collect()
}

/// "Ann Admin (ann@example.com)" for the person who did it.
fn actor_words(
    first: Option<String>,
    last: Option<String>,
    email: Option<String>,
) -> Option<String> {
    let email = email?;
    let name = format!("{} {}", first.unwrap_or_default(), last.unwrap_or_default());
    Some(format!("{} ({email})", name.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// G1: every kind has its own stored name and words, and reads back as itself.
    #[test]
    fn g1_every_event_kind_round_trips_through_its_stored_name() {
        let mut names: Vec<_> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            assert!(!kind.describe().is_empty(), "{kind:?}");
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            EventKind::ALL.len(),
            "stored names are distinct"
        );
        assert_eq!(EventKind::parse("no_such_kind"), None);
    }
}
