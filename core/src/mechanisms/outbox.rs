//! Transactional outbox (Y1).
//!
//! A message is a row written in the same transaction as the state that needs it (a verification
//! token and its email commit together or not at all). The delivery worker (in the server) claims
//! due rows with [`claim_next`], sends, then calls [`mark_sent`] or [`mark_failed`], which schedules
//! a retry with exponential backoff. A claim is a lease: if the worker dies mid-send, the row
//! becomes due again when the lease runs out, so a restart never loses a message.
//!
//! - A permanent refusal (an SMTP 5xx, a provider's 4xx) is not retried: the row is marked
//!   failed at once. A temporary one (4xx, no connection, a timeout) is retried until
//!   `max_attempts`, then marked failed. Failed rows are listed by [`failed`] (`gatehouse outbox
//!   list --failed`), counted in the metrics, and made due again by [`retry`].
//! - Several instances share one PostgreSQL: [`claim_next`] takes a row with
//!   `FOR UPDATE SKIP LOCKED`, so two workers never hold the same message, and neither waits on
//!   the other's row.

use crate::store::Conn;
use crate::values::clock::Timestamp;
use sqlx::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Channel {
    Email,
    Sms,
    /// O6: a back-channel logout token POSTed to a client's logout URI (the recipient).
    Logout,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Logout];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Logout => "logout",
        }
    }

    /// A stored name read back (anything unknown is email, the first channel there was).
    pub fn parse(text: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == text)
            .unwrap_or(Channel::Email)
    }
}

/// A rendered message ready to queue.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    pub channel: Channel,
    pub recipient: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl std::fmt::Debug for Message {
    // G1: bodies carry codes and links; never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("channel", &self.channel)
            .field("subject", &self.subject)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct Queued {
    pub id: i64,
    pub message: Message,
    pub attempts: i64,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub last_error: Option<String>,
    /// When delivery was given up (a permanent refusal, or `max_attempts` reached).
    pub failed_at: Option<Timestamp>,
}

/// Why one delivery did not happen; the text is the transport's answer (never the body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth trying again later: a 4xx, no connection, a timeout.
    Temporary(String),
    /// Will never work as it is: a 5xx (unknown mailbox, refused sender), a malformed address.
    Permanent(String),
}

impl Failure {
    pub fn text(&self) -> &str {
        match self {
            Failure::Temporary(t) | Failure::Permanent(t) => t,
        }
    }
}

/// What [`mark_failed`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(Timestamp),
    GaveUp,
}

/// How long a claim lasts before another worker may take the row (the default of
/// `outbox.lease_secs`; it must outlast one delivery attempt, or a slow send is sent twice).
pub const LEASE_SECS: i64 = 120;

/// Y1: queue a message inside the caller's transaction.
pub async fn enqueue(conn: &mut Conn, m: &Message, now: Timestamp) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox (channel, recipient, subject, body_text, body_html, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(m.channel.as_str())
    .bind(&m.recipient)
    .bind(&m.subject)
    .bind(&m.text)
    .bind(&m.html)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// R4: puts `m` in place of a message of the same recipient and subject that waits unsent and
/// unclaimed (never tried, so nobody is sending it now), instead of queueing a second one.
/// Whether one was replaced (when not, nothing changed: the caller decides whether to queue).
pub async fn coalesce(conn: &mut Conn, m: &Message, now: Timestamp) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        "UPDATE outbox SET body_text = $4, body_html = $5 WHERE channel = $1 AND recipient = $2 \
         AND subject = $3 AND sent_at IS NULL AND failed_at IS NULL AND attempts = 0 \
         AND (claimed_until IS NULL OR claimed_until <= $6)",
    )
    .bind(m.channel.as_str())
    .bind(&m.recipient)
    .bind(&m.subject)
    .bind(&m.text)
    .bind(&m.html)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(res.rows_affected() > 0)
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<Queued, sqlx::Error> {
    let channel: String = r.try_get("channel")?;
    Ok(Queued {
        id: r.try_get("id")?,
        message: Message {
            channel: Channel::parse(&channel),
            recipient: r.try_get("recipient")?,
            subject: r.try_get("subject")?,
            text: r.try_get("body_text")?,
            html: r.try_get("body_html")?,
        },
        attempts: r.try_get("attempts")?,
        created_at: r.try_get("created_at")?,
        sent_at: r.try_get("sent_at")?,
        last_error: r.try_get("last_error")?,
        failed_at: r.try_get("failed_at")?,
    })
}

const COLS: &str = "id, channel, recipient, subject, body_text, body_html, attempts, created_at, sent_at, last_error, failed_at";

/// Claims the oldest due message. On PostgreSQL the row is taken `FOR UPDATE SKIP LOCKED` (a
/// row another worker is claiming is skipped, not waited for); the outer `WHERE` repeats the due
/// test so that a claim can never win a row that stopped being due meanwhile.
pub async fn claim_next(
    conn: &mut Conn,
    now: Timestamp,
    lease_secs: i64,
) -> Result<Option<Queued>, sqlx::Error> {
    let due = "sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
               AND (claimed_until IS NULL OR claimed_until <= $1)";
    let lock = if crate::store::is_postgres(conn) {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let row = sqlx::query(&format!(
        "UPDATE outbox SET claimed_until = $2, attempts = attempts + 1 \
         WHERE id = (SELECT id FROM outbox WHERE {due} ORDER BY id LIMIT 1{lock}) AND {due} RETURNING {COLS}"
    ))
    .bind(now)
    .bind(now + lease_secs)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Y5: delivered; the body (a live link or code, perhaps) leaves the database with it. The
/// row stays — recipient, subject, times — for `gatehouse outbox list` until it is swept.
pub async fn mark_sent(conn: &mut Conn, id: i64, now: Timestamp) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE outbox SET sent_at = $2, claimed_until = NULL, last_error = NULL, body_text = '', body_html = '' WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Exponential backoff: 30 s, 60 s, 120 s … capped at one hour. Messages are never dropped.
pub fn backoff(attempts: i64) -> i64 {
    let exp = attempts.clamp(1, 12) - 1;
    (30i64 << exp).min(3600)
}

/// A delivery failed: retried with backoff, or given up when the failure is permanent or this
/// was attempt `max_attempts`.
pub async fn mark_failed(
    conn: &mut Conn,
    q: &Queued,
    failure: &Failure,
    max_attempts: i64,
    now: Timestamp,
) -> Result<AfterFailure, sqlx::Error> {
    let err: String = failure.text().chars().take(500).collect();
    let give_up = matches!(failure, Failure::Permanent(_)) || q.attempts >= max_attempts;
    let after = if give_up {
        AfterFailure::GaveUp
    } else {
        AfterFailure::RetryAt(now + backoff(q.attempts))
    };
    let (next, failed_at) = match after {
        AfterFailure::RetryAt(t) => (t, None),
        AfterFailure::GaveUp => (now, Some(now)),
    };
    sqlx::query("UPDATE outbox SET claimed_until = NULL, next_attempt_at = $2, last_error = $3, failed_at = $4 WHERE id = $1")
        .bind(q.id)
        .bind(next)
        .bind(err)
        .bind(failed_at)
        .execute(&mut *conn)
        .await?;
    Ok(after)
}

/// The messages given up on, newest first (`gatehouse outbox list --failed`).
pub async fn failed(conn: &mut Conn, limit: i64) -> Result<Vec<Queued>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLS} FROM outbox WHERE failed_at IS NOT NULL AND sent_at IS NULL ORDER BY id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Makes one undelivered message due now with a fresh allowance of attempts (`gatehouse outbox
/// retry ID`). `false` when there is no such undelivered message.
pub async fn retry(conn: &mut Conn, id: i64, now: Timestamp) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE outbox SET next_attempt_at = $2, claimed_until = NULL, failed_at = NULL, attempts = 0 \
         WHERE id = $1 AND sent_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Counts for the metrics: waiting, given up, and the age of the oldest waiting message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    pub queued: i64,
    pub failed: i64,
    pub oldest_queued_at: Option<Timestamp>,
}

pub async fn backlog(conn: &mut Conn) -> Result<Backlog, sqlx::Error> {
    let row = sqlx::query(
        "SELECT \
           COUNT(CASE WHEN failed_at IS NULL THEN 1 END), \
           COUNT(CASE WHEN failed_at IS NOT NULL THEN 1 END), \
           MIN(CASE WHEN failed_at IS NULL THEN created_at END) \
         FROM outbox WHERE sent_at IS NULL",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Backlog {
        queued: row.try_get(0)?,
        failed: row.try_get(1)?,
        oldest_queued_at: row.try_get(2)?,
    })
}

/// The newest messages, for the dev mailbox and `gatehouse outbox list`.
pub async fn recent(conn: &mut Conn, limit: i64) -> Result<Vec<Queued>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLS} FROM outbox ORDER BY id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Makes every undelivered message due now, the given-up ones included, each with a fresh
/// allowance of attempts (`gatehouse outbox retry`).
pub async fn retry_all(conn: &mut Conn, now: Timestamp) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE outbox SET next_attempt_at = $1, claimed_until = NULL, failed_at = NULL, attempts = 0 \
         WHERE sent_at IS NULL",
    )
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    fn msg() -> Message {
        Message {
            channel: Channel::Email,
            recipient: "a@example.com".into(),
            subject: "Hi".into(),
            text: "t".into(),
            html: "<p>t</p>".into(),
        }
    }

    #[tokio::test]
    async fn y1_rolled_back_transaction_queues_nothing() {
        for store in testing::all().await {
            let mut tx = store.begin().await.expect("tx");
            enqueue(&mut tx, &msg(), 10).await.expect("enqueue");
            tx.rollback().await.expect("rollback");
            let mut c = store.conn().await.expect("conn");
            assert!(claim_next(&mut c, 10, LEASE_SECS)
                .await
                .expect("claim")
                .is_none());
        }
    }

    #[tokio::test]
    async fn y1_failed_delivery_retries_with_backoff_and_a_lost_lease_is_reclaimed() {
        for store in testing::all().await {
            let mut c = store.conn().await.expect("conn");
            enqueue(&mut c, &msg(), 10).await.expect("enqueue");
            let q = claim_next(&mut c, 10, LEASE_SECS)
                .await
                .expect("claim")
                .expect("due");
            assert!(
                claim_next(&mut c, 11, LEASE_SECS)
                    .await
                    .expect("claim")
                    .is_none(),
                "claimed rows are not handed out twice"
            );
            let after = mark_failed(&mut c, &q, &Failure::Temporary("421 busy".into()), 5, 11)
                .await
                .expect("fail");
            assert_eq!(after, AfterFailure::RetryAt(41));
            assert!(
                claim_next(&mut c, 40, LEASE_SECS)
                    .await
                    .expect("claim")
                    .is_none(),
                "backoff 30 s"
            );
            let q = claim_next(&mut c, 41, LEASE_SECS)
                .await
                .expect("claim")
                .expect("due again");
            assert_eq!(q.attempts, 2);
            // The worker dies: after the lease the row is due again.
            assert!(claim_next(&mut c, 41 + LEASE_SECS - 1, LEASE_SECS)
                .await
                .expect("claim")
                .is_none());
            let q = claim_next(&mut c, 41 + LEASE_SECS, LEASE_SECS)
                .await
                .expect("claim")
                .expect("reclaimed");
            mark_sent(&mut c, q.id, 500).await.expect("sent");
            assert!(claim_next(&mut c, 10_000, LEASE_SECS)
                .await
                .expect("claim")
                .is_none());
            let all = recent(&mut c, 10).await.expect("recent");
            assert_eq!(all.len(), 1);
            assert_eq!(all[0].sent_at, Some(500));
        }
    }

    #[tokio::test]
    async fn y1_a_permanent_refusal_is_not_retried_and_retry_brings_it_back() {
        for store in testing::all().await {
            let mut c = store.conn().await.expect("conn");
            assert_eq!(
                crate::store::is_postgres(&c),
                store.backend() == crate::store::Backend::Postgres,
                "the claim's SKIP LOCKED is used exactly on PostgreSQL"
            );
            enqueue(&mut c, &msg(), 10).await.expect("enqueue");
            let q = claim_next(&mut c, 10, LEASE_SECS)
                .await
                .expect("claim")
                .expect("due");
            let after = mark_failed(
                &mut c,
                &q,
                &Failure::Permanent("550 no such user".into()),
                5,
                11,
            )
            .await
            .expect("fail");
            assert_eq!(after, AfterFailure::GaveUp, "{}", store.backend_name());
            assert!(
                claim_next(&mut c, 100_000, LEASE_SECS)
                    .await
                    .expect("claim")
                    .is_none(),
                "never claimed again by itself"
            );
            let failed = failed(&mut c, 10).await.expect("failed");
            assert_eq!(failed.len(), 1);
            assert_eq!(failed[0].last_error.as_deref(), Some("550 no such user"));
            assert_eq!(failed[0].failed_at, Some(11));
            let b = backlog(&mut c).await.expect("backlog");
            assert_eq!((b.queued, b.failed), (0, 1));
            assert!(retry(&mut c, q.id, 200).await.expect("retry"));
            assert!(
                !retry(&mut c, q.id + 1000, 200).await.expect("retry"),
                "no such row"
            );
            let again = claim_next(&mut c, 200, LEASE_SECS)
                .await
                .expect("claim")
                .expect("due again");
            assert_eq!((again.id, again.attempts), (q.id, 1), "a fresh allowance");
            assert!(failed_rows_empty(&mut c).await);
        }
    }

    async fn failed_rows_empty(c: &mut Conn) -> bool {
        failed(c, 10).await.expect("failed").is_empty()
    }

    #[tokio::test]
    async fn y1_temporary_failures_give_up_after_max_attempts() {
        for store in testing::all().await {
            let mut c = store.conn().await.expect("conn");
            enqueue(&mut c, &msg(), 10).await.expect("enqueue");
            let mut now = 10;
            for attempt in 1..=3 {
                let q = claim_next(&mut c, now, LEASE_SECS)
                    .await
                    .expect("claim")
                    .expect("due");
                assert_eq!(q.attempts, attempt);
                let after = mark_failed(
                    &mut c,
                    &q,
                    &Failure::Temporary("connection refused".into()),
                    3,
                    now,
                )
                .await
                .expect("fail");
                match after {
                    AfterFailure::RetryAt(t) => {
                        assert!(attempt < 3, "retried after the last attempt");
                        now = t;
                    }
                    AfterFailure::GaveUp => assert_eq!(attempt, 3, "gave up early"),
                }
            }
            assert!(claim_next(&mut c, now + 100_000, LEASE_SECS)
                .await
                .expect("claim")
                .is_none());
            let b = backlog(&mut c).await.expect("backlog");
            assert_eq!((b.queued, b.failed, b.oldest_queued_at), (0, 1, None));
        }
    }

    #[test]
    fn backoff_doubles_and_caps_at_an_hour() {
        assert_eq!(backoff(1), 30);
        assert_eq!(backoff(2), 60);
        assert_eq!(backoff(3), 120);
        assert_eq!(backoff(50), 3600);
    }
}
