//! S5: sensitive changes (password, MFA method, phone) need a full re-authentication within the
//! last ten minutes — the password, then a code from the *current* method. The sign-in itself
//! counts; `sessions.authenticated_at` holds the time of the newest one.
//!
//! The Security tab and the Profile tab (phone) both ask here, so they agree on the window and
//! on where a half-done re-authentication stands.

use crate::mechanisms::challenges;
use crate::mechanisms::service::Deps;
use crate::mechanisms::sessions::{Session, SessionState};
use crate::store::Conn;
use crate::values::clock::Timestamp;
use crate::values::factors::{mask, Purpose, StepKind};

/// S5: how long a re-authentication (or the sign-in itself) allows sensitive changes.
pub const WINDOW_SECS: i64 = 600;

/// Where re-authentication stands for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reauth {
    /// Sensitive changes are allowed until this time.
    Fresh { until: Timestamp },
    /// Ask for the password.
    Password,
    /// The password was right; ask for a code of this kind (sent to `masked` when it was sent).
    Code {
        kind: StepKind,
        masked: String,
        resend_in: i64,
    },
}

/// S5: the change needs a re-authentication first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReauthRequired;

/// S5: the time until which sensitive changes are allowed, if that is still ahead.
pub fn fresh_until(session: &Session, now: Timestamp) -> Option<Timestamp> {
    match &session.state {
        SessionState::Authenticated {
            authenticated_at, ..
        } => Some(authenticated_at + WINDOW_SECS).filter(|u| *u > now),
        _ => None,
    }
}

/// S5: `Ok` only inside the window.
pub fn require_fresh(session: &Session, now: Timestamp) -> Result<(), ReauthRequired> {
    fresh_until(session, now).map(|_| ()).ok_or(ReauthRequired)
}

/// Where the session's re-authentication stands: fresh, waiting for the password, or waiting
/// for the code of its live challenge.
pub async fn state(
    conn: &mut Conn,
    deps: &Deps,
    session: &Session,
    now: Timestamp,
) -> Result<Reauth, sqlx::Error> {
    if let Some(until) = fresh_until(session, now) {
        return Ok(Reauth::Fresh { until });
    }
    Ok(
        match challenges::live(conn, session, Purpose::Reauth, now).await? {
            Some(ch) => Reauth::Code {
                kind: ch.kind.factor.step(),
                masked: mask(&ch.destination),
                resend_in: (ch.last_sent_at + deps.settings.resend_cooldown_secs - now).max(0),
            },
            None => Reauth::Password,
        },
    )
}
