//! Security events (G1): what happened to an account, when, from where. No secrets, ever: the
//! `details` column holds only descriptive text chosen by the caller.

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
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Registered => "registered",
            EventKind::RegistrationAttemptExisting => "registration_attempt_existing",
            EventKind::EmailVerified => "email_verified",
            EventKind::LoginFailed => "login_failed",
            EventKind::LoginSucceeded => "login_succeeded",
            EventKind::MfaFailed => "mfa_failed",
            EventKind::AccountLocked => "account_locked",
            EventKind::SignedOut => "signed_out",
            EventKind::MfaEnrolled => "mfa_enrolled",
            EventKind::MfaReset => "mfa_reset",
            EventKind::RecoveryCodeUsed => "recovery_code_used",
            EventKind::MfaChanged => "mfa_changed",
            EventKind::MfaChangeRequested => "mfa_change_requested",
            EventKind::Reauthenticated => "reauthenticated",
            EventKind::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            EventKind::PasswordResetRequested => "password_reset_requested",
            EventKind::PasswordChanged => "password_changed",
        }
    }
}

pub async fn record(
    conn: &mut Conn,
    user_id: Option<&str>,
    kind: EventKind,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    tracing::info!(event = kind.as_str(), user_id = user_id.unwrap_or("-"), ip = %client.ip, "security event");
    sqlx::query("INSERT INTO security_events (user_id, kind, ip, user_agent, at) VALUES ($1, $2, $3, $4, $5)")
        .bind(user_id)
        .bind(kind.as_str())
        .bind(&client.ip)
        .bind(client.user_agent.chars().take(256).collect::<String>())
        .bind(now)
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
    pub kind: String,
    pub ip: String,
    pub user_agent: String,
    pub at: Timestamp,
}

impl Recorded {
    /// The event in words, for the Security tab.
    pub fn describe(&self) -> &'static str {
        match self.kind.as_str() {
            "registered" => "Account created",
            "email_verified" => "Email address confirmed",
            "login_succeeded" => "Signed in",
            "login_failed" => "Wrong password",
            "mfa_failed" => "Wrong code",
            "account_locked" => "Sign-in paused after failed attempts",
            "signed_out" => "Signed out",
            "mfa_enrolled" => "Sign-in method activated",
            "mfa_reset" => "Sign-in method reset by support",
            "mfa_changed" => "Sign-in method changed",
            "mfa_change_requested" => "Chose an authenticator app for the next sign-in",
            "recovery_code_used" => "Recovery code used",
            "recovery_codes_regenerated" => "New recovery codes",
            "reauthenticated" => "Identity confirmed",
            "password_reset_requested" => "Password reset requested",
            "password_changed" => "Password changed",
            _ => "Security event",
        }
    }
}

/// G1: the newest `limit` events of a user, for the Security tab's activity log.
pub async fn recent(
    conn: &mut Conn,
    user_id: &str,
    limit: i64,
) -> Result<Vec<Recorded>, sqlx::Error> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT kind, ip, user_agent, at FROM security_events WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Recorded {
                kind: r.try_get("kind")?,
                ip: r.try_get("ip")?,
                user_agent: r.try_get("user_agent")?,
                at: r.try_get("at")?,
            })
        })
        .collect()
}
