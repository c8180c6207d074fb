//! User rows and the per-account failure counter.
//!
//! R1: the consecutive-failure counter is reserved *before* a password is checked, in one atomic
//! `UPDATE … WHERE <not locked> RETURNING`; the reservation that reaches the limit sets the lock
//! in that same statement (R6), so N parallel wrong guesses can never get more than `limit`
//! checks (regression for Keycloak CVE-2024-4629). A lock expires by itself, and a reservation
//! that ends without a verdict is given back (`release_attempt`).

use crate::store::Conn;
use crate::values::clock::Timestamp;
use crate::values::email::Email;
use sqlx::Row;

pub use crate::values::factors::MfaMethod;

#[derive(Clone)]
pub struct User {
    pub id: String,
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    pub password_hash: String,
    pub mfa_method: MfaMethod,
    pub email_verified: bool,
    pub locked_until: Option<Timestamp>,
    /// The public id of the person's avatar (`mechanisms::avatars`), if they have one.
    pub avatar_id: Option<String>,
}

/// G1: the password hash never prints.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("password_hash", &"***")
            .field("mfa_method", &self.mfa_method)
            .field("email_verified", &self.email_verified)
            .field("locked_until", &self.locked_until)
            .field("avatar_id", &self.avatar_id)
            .finish()
    }
}

impl User {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_string()
    }
}

pub struct NewUser<'a> {
    pub email: &'a Email,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub password_hash: &'a str,
    pub mfa_method: MfaMethod,
    pub verified: bool,
}

const COLUMNS: &str =
    "id, email, first_name, last_name, password_hash, mfa_method, email_verified_at, locked_until, \
     (SELECT a.id FROM avatars a WHERE a.user_id = users.id) AS avatar_id";

fn from_row(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    let email: String = row.try_get("email")?;
    let method: String = row.try_get("mfa_method")?;
    Ok(User {
        id: row.try_get("id")?,
        email: Email::parse(&email).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        first_name: row.try_get("first_name")?,
        last_name: row.try_get("last_name")?,
        password_hash: row.try_get("password_hash")?,
        mfa_method: MfaMethod::parse(&method).unwrap_or(MfaMethod::Email),
        email_verified: row
            .try_get::<Option<i64>, _>("email_verified_at")?
            .is_some(),
        locked_until: row.try_get("locked_until")?,
        avatar_id: row.try_get("avatar_id")?,
    })
}

/// Inserts a user; `Ok(None)` when the email is taken (the caller must not reveal that, E1).
pub async fn insert(
    conn: &mut Conn,
    u: NewUser<'_>,
    now: Timestamp,
) -> Result<Option<String>, sqlx::Error> {
    let id = crate::mechanisms::secret::new_id();
    let res = sqlx::query(
        "INSERT INTO users (id, email, first_name, last_name, password_hash, mfa_method, email_verified_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (email) DO NOTHING",
    )
    .bind(&id)
    .bind(u.email.as_str())
    .bind(u.first_name)
    .bind(u.last_name)
    .bind(u.password_hash)
    .bind(u.mfa_method.as_str())
    .bind(if u.verified { Some(now) } else { None })
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok((res.rows_affected() == 1).then_some(id))
}

/// E4: a registration for an address nobody has verified replaces the pending account: new
/// password and names, and the factors, links and flows of the earlier registration go. Only an
/// unverified row is touched (checked in the same statement); `None` when the address is
/// verified. Returns the account id.
pub async fn replace_unverified(
    conn: &mut Conn,
    email: &Email,
    first_name: &str,
    last_name: &str,
    password_hash: &str,
    now: Timestamp,
) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE users SET first_name = $2, last_name = $3, password_hash = $4, mfa_method = 'email', \
           failed_count = 0, locked_until = NULL, created_at = $5, updated_at = $5 \
         WHERE email = $1 AND email_verified_at IS NULL RETURNING id",
    )
    .bind(email.as_str())
    .bind(first_name)
    .bind(last_name)
    .bind(password_hash)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let id: String = row.try_get(0)?;
    for table in [
        "mfa_factors",
        "recovery_codes",
        "email_tokens",
        "sessions",
        "challenges",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
            .bind(&id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(Some(id))
}

pub async fn by_email(conn: &mut Conn, email: &Email) -> Result<Option<User>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE email = $1"))
        .bind(email.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn by_id(conn: &mut Conn, id: &str) -> Result<Option<User>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn mark_email_verified(
    conn: &mut Conn,
    id: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET email_verified_at = COALESCE(email_verified_at, $2), updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The person's names, already checked (`values::name`).
pub async fn set_names(
    conn: &mut Conn,
    id: &str,
    first_name: &str,
    last_name: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET first_name = $2, last_name = $3, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(first_name)
        .bind(last_name)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_password_hash(
    conn: &mut Conn,
    id: &str,
    phc: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(phc)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// R1: reserves one password check. `None` means the account is locked. An expired lock is
/// lifted in the same statement and the counter starts again; the reservation that reaches
/// `limit` sets the lock in that same statement (R6), so a counter at the limit is always
/// locked and always unlocks by itself — there is no state in which nobody can sign in forever.
pub async fn reserve_attempt(
    conn: &mut Conn,
    id: &str,
    limit: i64,
    lock_until: Timestamp,
    now: Timestamp,
) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE users SET \
           failed_count = CASE WHEN locked_until IS NOT NULL AND locked_until <= $2 THEN 1 ELSE failed_count + 1 END, \
           locked_until = CASE WHEN (CASE WHEN locked_until IS NOT NULL AND locked_until <= $2 THEN 1 ELSE failed_count + 1 END) >= $3 \
             THEN $4 ELSE NULL END \
         WHERE id = $1 AND (locked_until IS NULL OR locked_until <= $2) \
         RETURNING failed_count",
    )
    .bind(id)
    .bind(now)
    .bind(limit)
    .bind(lock_until)
    .fetch_optional(&mut *conn)
    .await?;
    let count = row.map(|r| r.try_get::<i64, _>(0)).transpose()?;
    // Over the limit only when the limit was lowered below a streak: that reservation has just
    // locked the account, so it checks nothing.
    Ok(count.filter(|c| *c <= limit))
}

/// R6: gives back a reservation that ended without a verdict (hashing pool busy, an error, a
/// cancelled request). A reservation that set the lock lifts it again.
pub async fn release_attempt(
    conn: &mut Conn,
    id: &str,
    count: i64,
    limit: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET failed_count = CASE WHEN failed_count > 0 THEN failed_count - 1 ELSE 0 END, \
           locked_until = CASE WHEN $2 >= $3 THEN NULL ELSE locked_until END WHERE id = $1",
    )
    .bind(id)
    .bind(count)
    .bind(limit)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// R1: after a correct password the reserved attempt is returned and the streak ends.
pub async fn reset_failures(conn: &mut Conn, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET failed_count = 0, locked_until = NULL WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Takes the person's row for the rest of the transaction (PostgreSQL `FOR UPDATE`; SQLite has
/// one writer, so its transactions already run one at a time). O3/S6: a sign-out that revokes
/// the person's tokens and the token endpoint that issues new ones both take it first, so a
/// refresh racing a password reset either finishes before the revocation (which then sees its
/// new token) or starts after it (and finds its token revoked).
pub async fn lock(conn: &mut Conn, id: &str) -> Result<(), sqlx::Error> {
    let sql = if crate::store::is_postgres(conn) {
        "SELECT id FROM users WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT id FROM users WHERE id = $1"
    };
    sqlx::query(sql).bind(id).fetch_optional(&mut *conn).await?;
    Ok(())
}

pub async fn set_mfa_method(
    conn: &mut Conn,
    id: &str,
    m: MfaMethod,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET mfa_method = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(m.as_str())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Support: lifts a lock and clears the failure streak.
pub async fn unlock(conn: &mut Conn, id: &str) -> Result<(), sqlx::Error> {
    reset_failures(conn, id).await
}

#[cfg(test)]
mod debug_tests {
    #[test]
    fn g1_debug_of_a_user_redacts_secrets() {
        let u = super::User {
            id: "u1".into(),
            email: crate::values::email::Email::parse("ada@example.com").expect("email"),
            first_name: "Ada".into(),
            last_name: "L".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            mfa_method: super::MfaMethod::Email,
            email_verified: true,
            locked_until: None,
            avatar_id: None,
        };
        let shown = format!("{u:?}");
        assert!(shown.contains("password_hash: \"***\""), "{shown}");
        assert!(!shown.contains("argon2id"), "{shown}");
    }
}
