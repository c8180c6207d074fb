//! Fixed-window rate limits stored in the database (R2, R4).
//!
//! The counter is one atomic upsert, so every server instance sharing the database sees the same
//! count. Keys name the action and the subject, e.g. `login:ip:127.0.0.1` or `send:email:a@b.c`.

use crate::store::Conn;
use crate::values::clock::Timestamp;
use sqlx::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: i64,
    pub window_secs: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Too many attempts. Try again in {retry_after} seconds.")]
pub struct Limited {
    pub retry_after: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum RateError {
    #[error(transparent)]
    Limited(#[from] Limited),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// The one way a flow or mechanism error takes a rate-limit refusal: its `Limited { retry_after }`
/// variant (R2, said with the wait) or its `Store` fault.
macro_rules! from_rate_error {
    ($t:ty) => {
        impl From<$crate::mechanisms::ratelimit::RateError> for $t {
            fn from(e: $crate::mechanisms::ratelimit::RateError) -> Self {
                match e {
                    $crate::mechanisms::ratelimit::RateError::Limited(l) => Self::Limited {
                        retry_after: l.retry_after,
                    },
                    $crate::mechanisms::ratelimit::RateError::Store(s) => Self::Store(s),
                }
            }
        }
    };
}
pub(crate) use from_rate_error;

/// Counts one hit against `key`; refuses once the window holds `limit.max` hits.
pub async fn hit(
    conn: &mut Conn,
    key: &str,
    limit: Limit,
    now: Timestamp,
) -> Result<(), RateError> {
    let window = now - now.rem_euclid(limit.window_secs.max(1));
    let row = sqlx::query(
        "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1) \
         ON CONFLICT (key) DO UPDATE SET \
           count = CASE WHEN rate_limits.window_start = excluded.window_start THEN rate_limits.count + 1 ELSE 1 END, \
           window_start = excluded.window_start \
         RETURNING count",
    )
    .bind(key)
    .bind(window)
    .fetch_one(&mut *conn)
    .await?;
    let count: i64 = row.try_get(0)?;
    if count > limit.max {
        Err(Limited {
            retry_after: window + limit.window_secs - now,
        }
        .into())
    } else {
        Ok(())
    }
}

/// Counts one hit against `key` like [`hit`], for callers to whom a full window is an answer
/// rather than an error (a capped notice that is simply not sent, a refusal of their own):
/// whether this hit was within `limit`.
pub async fn within(
    conn: &mut Conn,
    key: &str,
    limit: Limit,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    match hit(conn, key, limit, now).await {
        Ok(()) => Ok(true),
        Err(RateError::Limited(_)) => Ok(false),
        Err(RateError::Store(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    #[tokio::test]
    async fn r2_window_allows_max_hits_then_refuses_until_next_window() {
        for store in testing::all().await {
            let mut c = store.conn().await.expect("conn");
            let l = Limit {
                max: 3,
                window_secs: 60,
            };
            for _ in 0..3 {
                assert!(hit(&mut c, "k", l, 120).await.is_ok());
            }
            match hit(&mut c, "k", l, 150).await {
                Err(RateError::Limited(x)) => assert_eq!(x.retry_after, 30),
                other => panic!("expected limited, got {other:?}"),
            }
            assert!(
                hit(&mut c, "other", l, 150).await.is_ok(),
                "keys are independent"
            );
            assert!(
                hit(&mut c, "k", l, 180).await.is_ok(),
                "a new window starts fresh"
            );
        }
    }
}
