//! Y5: nothing secret or stale piles up. One pass deletes, on either database, what can no
//! longer be used: expired sessions (absolute or idle), challenges and email tokens a day past
//! their end, rate-limit windows a day old, pending factors past their enrolment time (M13),
//! and delivered messages (already without their bodies) and messages given up on after 30 days.

use crate::mechanisms::service::Settings;
use crate::store::Conn;
use crate::values::clock::Timestamp;

/// Grace after expiry before a challenge or token row goes (resend and "link expired" pages
/// still find it for a while).
const GRACE_SECS: i64 = 86_400;
/// How long a delivered message's row (no body) stays for `gatehouse outbox list`.
pub const KEEP_DELIVERED_SECS: i64 = 30 * 86_400;

/// Rows removed by one sweep, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub sessions: u64,
    pub challenges: u64,
    pub email_tokens: u64,
    pub rate_limits: u64,
    pub mfa_factors: u64,
    pub outbox: u64,
}

impl Swept {
    pub fn total(&self) -> u64 {
        self.sessions
            + self.challenges
            + self.email_tokens
            + self.rate_limits
            + self.mfa_factors
            + self.outbox
    }
}

async fn delete(conn: &mut Conn, sql: &str, before: Timestamp) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(sql)
        .bind(before)
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// One sweep at `now`.
pub async fn run(
    conn: &mut Conn,
    settings: &Settings,
    now: Timestamp,
) -> Result<Swept, sqlx::Error> {
    let idle = settings.sessions.idle_secs;
    Ok(Swept {
        sessions: sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
            .bind(now)
            .bind(now - idle)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
        challenges: delete(
            conn,
            "DELETE FROM challenges WHERE expires_at <= $1 OR consumed_at <= $1",
            now - GRACE_SECS,
        )
        .await?,
        email_tokens: delete(
            conn,
            "DELETE FROM email_tokens WHERE expires_at <= $1 OR used_at <= $1",
            now - GRACE_SECS,
        )
        .await?,
        rate_limits: delete(
            conn,
            "DELETE FROM rate_limits WHERE window_start <= $1",
            now - GRACE_SECS,
        )
        .await?,
        mfa_factors: delete(
            conn,
            "DELETE FROM mfa_factors WHERE confirmed_at IS NULL AND created_at <= $1",
            now - crate::mechanisms::mfa::ENROLMENT_TTL_SECS,
        )
        .await?,
        outbox: delete(
            conn,
            "DELETE FROM outbox WHERE sent_at <= $1 OR failed_at <= $1",
            now - KEEP_DELIVERED_SECS,
        )
        .await?,
    })
}
