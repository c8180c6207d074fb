//! Recovery codes (M6): ten single-use codes, shown once, stored as keyed digests.
//!
//! Codes carry 60 bits (12 characters from a 32-letter alphabet without look-alikes), so a fast
//! digest is enough — F2: an HMAC-SHA256 under the instance key, over the user id and the code,
//! so the same code of two users never matches and a stolen table alone allows no offline
//! guessing. Codes stored before (plain SHA-256) are still accepted until replaced. Using one is a single conditional `UPDATE … WHERE used_at IS NULL`: of two
//! parallel uses of the same code exactly one succeeds (regression for the Ory Kratos
//! concurrent recovery-code fix). Regenerating replaces the whole set.

use crate::mechanisms::crypto::SecretKey;
use crate::mechanisms::secret::digest;
use crate::mechanisms::sessions;
use crate::store::Conn;
use crate::values::clock::Timestamp;
use rand::rngs::OsRng;
use rand::Rng;

pub const COUNT: usize = 10;
const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz"; // 31 symbols: no 0/o, 1/l/i

/// `xxxx-xxxx-xxxx`.
pub fn new_code() -> String {
    let chars: Vec<char> = (0..12)
        .map(|_| ALPHABET[OsRng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!(
        "{}-{}-{}",
        chars[0..4].iter().collect::<String>(),
        chars[4..8].iter().collect::<String>(),
        chars[8..12].iter().collect::<String>()
    )
}

/// What a person typed, in the stored form: lowercase, no spaces or dashes.
pub fn canonical(input: &str) -> String {
    input
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// F2: what a code is stored as.
fn keyed(key: &SecretKey, user_id: &str, code: &str) -> String {
    key.mac(
        "recovery-code",
        format!("{user_id}\n{}", canonical(code)).as_bytes(),
    )
}

/// Replaces the user's codes with ten new ones and returns them (the only time they exist in
/// plain text).
pub async fn regenerate(
    conn: &mut Conn,
    key: &SecretKey,
    user_id: &str,
    now: Timestamp,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    let mut codes = Vec::with_capacity(COUNT);
    while codes.len() < COUNT {
        let c = new_code();
        if codes.contains(&c) {
            continue;
        }
        sqlx::query(
            "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(user_id)
        .bind(keyed(key, user_id, &c))
        .bind(now)
        .execute(&mut *conn)
        .await?;
        codes.push(c);
    }
    Ok(codes)
}

/// M6: uses a code if it is the user's and unused; `true` for exactly one caller.
pub async fn consume(
    conn: &mut Conn,
    key: &SecretKey,
    user_id: &str,
    input: &str,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query("UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash IN ($2, $4) AND used_at IS NULL")
        .bind(user_id)
        .bind(keyed(key, user_id, input))
        .bind(now)
        .bind(digest(&canonical(input)))
        .execute(&mut *conn)
        .await?;
    Ok(res.rows_affected() == 1)
}

pub async fn remaining(conn: &mut Conn, user_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await
}

/// Support reset (M8) and method changes: the codes go with the authenticator.
pub async fn clear(conn: &mut Conn, user_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Why parked codes could not be stored or read back.
#[derive(Debug, thiserror::Error)]
pub enum CodesError {
    /// The sealed codes would not seal or open with the instance key.
    #[error("the parked recovery codes could not be sealed or opened")]
    Sealed,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// M6: new recovery codes wait on the session, sealed with the instance key (bound to the
/// user), until the person says they saved them.
pub async fn park(
    conn: &mut Conn,
    key: &crate::mechanisms::crypto::SecretKey,
    session_hash: &str,
    user_id: &str,
    codes: &[String],
) -> Result<(), CodesError> {
    let sealed = key
        .seal(codes.join("\n").as_bytes(), user_id)
        .map_err(|_| CodesError::Sealed)?;
    sessions::set_pending(conn, session_hash, Some(&sealed)).await?;
    Ok(())
}

/// The recovery codes parked on a session by [`park`], if any.
pub async fn parked(
    conn: &mut Conn,
    key: &crate::mechanisms::crypto::SecretKey,
    session_hash: &str,
    user_id: &str,
) -> Result<Vec<String>, CodesError> {
    let Some(sealed) = sessions::pending(conn, session_hash).await? else {
        return Ok(Vec::new());
    };
    let plain = key.open(&sealed, user_id).map_err(|_| CodesError::Sealed)?;
    Ok(String::from_utf8_lossy(&plain)
        .lines()
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    async fn user(c: &mut Conn, email: &str) -> String {
        let e = crate::values::email::Email::parse(email).expect("email");
        let nu = crate::mechanisms::users::NewUser {
            email: &e,
            first_name: "R",
            last_name: "C",
            password_hash: "x",
            mfa_method: crate::mechanisms::users::MfaMethod::Email,
            verified: true,
        };
        crate::mechanisms::users::insert(c, nu, 0)
            .await
            .expect("insert")
            .expect("new")
    }

    #[test]
    fn codes_have_60_bits_in_a_readable_shape() {
        let c = new_code();
        assert_eq!(c.len(), 14);
        assert_eq!(c.matches('-').count(), 2);
        assert!(canonical(&c)
            .chars()
            .all(|ch| ALPHABET.contains(&(ch as u8))));
        assert_eq!(canonical(" ABCD-efgh ijkm "), "abcdefghijkm");
    }

    #[tokio::test]
    async fn m6_codes_are_stored_hashed_single_use_and_replaced_on_regenerate() {
        for store in testing::all().await {
            let key = SecretKey::generate();
            let mut c = store.conn().await.expect("conn");
            let uid = user(&mut c, "rc@example.com").await;
            let codes = regenerate(&mut c, &key, &uid, 10).await.expect("codes");
            assert_eq!(codes.len(), COUNT);
            let stored: Vec<String> = sqlx::query_scalar("SELECT code_hash FROM recovery_codes")
                .fetch_all(&mut *c)
                .await
                .expect("rows");
            // F2: keyed per user — neither the code nor its plain digest is at rest.
            assert_eq!(stored.len(), COUNT);
            for code in &codes {
                assert!(stored.contains(&keyed(&key, &uid, code)));
                assert!(!stored.contains(&digest(&canonical(code))));
            }
            assert_ne!(
                keyed(&key, &uid, &codes[0]),
                keyed(&key, "another-user", &codes[0])
            );
            assert_ne!(
                keyed(&key, &uid, &codes[0]),
                keyed(&SecretKey::generate(), &uid, &codes[0])
            );
            assert!(
                consume(&mut c, &key, &uid, &codes[0].to_uppercase(), 20)
                    .await
                    .expect("use"),
                "case and dashes do not matter"
            );
            assert!(
                !consume(&mut c, &key, &uid, &codes[0], 21)
                    .await
                    .expect("reuse"),
                "single use"
            );
            assert_eq!(remaining(&mut c, &uid).await.expect("count"), 9);
            let other = user(&mut c, "other@example.com").await;
            assert!(
                !consume(&mut c, &key, &other, &codes[1], 22)
                    .await
                    .expect("foreign"),
                "bound to its user"
            );
            let fresh = regenerate(&mut c, &key, &uid, 30).await.expect("again");
            assert!(
                !consume(&mut c, &key, &uid, &codes[1], 31)
                    .await
                    .expect("old"),
                "old set is gone"
            );
            assert!(consume(&mut c, &key, &uid, &fresh[1], 31)
                .await
                .expect("new"));
        }
    }

    /// Regression 5 (Ory Kratos): parallel uses of one recovery code, one wins — on worker
    /// threads started together, so on PostgreSQL the UPDATEs truly race.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn m6_regression_5_parallel_use_of_one_code_succeeds_once() {
        for store in testing::all().await {
            let key = SecretKey::generate();
            let uid = {
                let mut c = store.conn().await.expect("conn");
                user(&mut c, "race@example.com").await
            };
            let code = {
                let mut c = store.conn().await.expect("conn");
                regenerate(&mut c, &key, &uid, 10)
                    .await
                    .expect("codes")
                    .remove(0)
            };
            let mut tasks = Vec::new();
            let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
            for _ in 0..8 {
                let (store, uid, code, key) =
                    (store.clone(), uid.clone(), code.clone(), key.clone());
                let start = start.clone();
                tasks.push(tokio::spawn(async move {
                    start.wait().await;
                    let mut c = store.conn().await.expect("conn");
                    consume(&mut c, &key, &uid, &code, 50)
                        .await
                        .expect("consume")
                }));
            }
            let mut wins = 0;
            for t in tasks {
                if t.await.expect("join") {
                    wins += 1;
                }
            }
            assert_eq!(wins, 1);
        }
    }
}
