//! Transactional outbox (Y1).
//!
//! A message is a row written in the same transaction as the state that needs it (a verification
//! token and its email commit together or not at all). The delivery worker (in the server) claims
//! due rows with [`claim_next`], sends, then calls [`mark_sent`] or [`mark_failed`], which schedules
//! a retry with exponential backoff. A claim is a lease: if the worker dies mid-send, the row
//! becomes due again when the lease runs out, so a restart never loses a message.

use crate::store::Conn;
use crate::values::clock::Timestamp;
use sqlx::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
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
}

/// How long a claim lasts before another worker may take the row.
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

fn from_row(r: &sqlx::any::AnyRow) -> Result<Queued, sqlx::Error> {
    let channel: String = r.try_get("channel")?;
    Ok(Queued {
        id: r.try_get("id")?,
        message: Message {
            channel: if channel == "sms" {
                Channel::Sms
            } else {
                Channel::Email
            },
            recipient: r.try_get("recipient")?,
            subject: r.try_get("subject")?,
            text: r.try_get("body_text")?,
            html: r.try_get("body_html")?,
        },
        attempts: r.try_get("attempts")?,
        created_at: r.try_get("created_at")?,
        sent_at: r.try_get("sent_at")?,
        last_error: r.try_get("last_error")?,
    })
}

const COLS: &str = "id, channel, recipient, subject, body_text, body_html, attempts, created_at, sent_at, last_error";

/// Claims the oldest due message. The outer `WHERE` repeats the due test so that, on PostgreSQL,
/// two instances racing for one row cannot both win (the loser's UPDATE re-checks and skips).
pub async fn claim_next(conn: &mut Conn, now: Timestamp) -> Result<Option<Queued>, sqlx::Error> {
    let due = "sent_at IS NULL AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)";
    let row = sqlx::query(&format!(
        "UPDATE outbox SET claimed_until = $2, attempts = attempts + 1 \
         WHERE id = (SELECT id FROM outbox WHERE {due} ORDER BY id LIMIT 1) AND {due} RETURNING {COLS}"
    ))
    .bind(now)
    .bind(now + LEASE_SECS)
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

pub async fn mark_failed(
    conn: &mut Conn,
    q: &Queued,
    error: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let err: String = error.chars().take(500).collect();
    sqlx::query("UPDATE outbox SET claimed_until = NULL, next_attempt_at = $2, last_error = $3 WHERE id = $1")
        .bind(q.id)
        .bind(now + backoff(q.attempts))
        .bind(err)
        .execute(&mut *conn)
        .await?;
    Ok(())
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

/// Makes every failed message due now (`gatehouse outbox retry`).
pub async fn retry_all(conn: &mut Conn, now: Timestamp) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE outbox SET next_attempt_at = $1, claimed_until = NULL WHERE sent_at IS NULL",
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
            assert!(claim_next(&mut c, 10).await.expect("claim").is_none());
        }
    }

    #[tokio::test]
    async fn y1_failed_delivery_retries_with_backoff_and_a_lost_lease_is_reclaimed() {
        for store in testing::all().await {
            let mut c = store.conn().await.expect("conn");
            enqueue(&mut c, &msg(), 10).await.expect("enqueue");
            let q = claim_next(&mut c, 10).await.expect("claim").expect("due");
            assert!(
                claim_next(&mut c, 11).await.expect("claim").is_none(),
                "claimed rows are not handed out twice"
            );
            mark_failed(&mut c, &q, "smtp down", 11)
                .await
                .expect("fail");
            assert!(
                claim_next(&mut c, 40).await.expect("claim").is_none(),
                "backoff 30 s"
            );
            let q = claim_next(&mut c, 41)
                .await
                .expect("claim")
                .expect("due again");
            assert_eq!(q.attempts, 2);
            // The worker dies: after the lease the row is due again.
            assert!(claim_next(&mut c, 41 + LEASE_SECS - 1)
                .await
                .expect("claim")
                .is_none());
            let q = claim_next(&mut c, 41 + LEASE_SECS)
                .await
                .expect("claim")
                .expect("reclaimed");
            mark_sent(&mut c, q.id, 500).await.expect("sent");
            assert!(claim_next(&mut c, 10_000).await.expect("claim").is_none());
            let all = recent(&mut c, 10).await.expect("recent");
            assert_eq!(all.len(), 1);
            assert_eq!(all[0].sent_at, Some(500));
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
