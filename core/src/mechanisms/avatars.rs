//! Stored avatars (U1, U2): one per person, in the database on both backends, so several
//! instances serve the same picture.
//!
//! - Only pixels made by `mechanisms::picture` are stored, never an upload's bytes.
//! - Each picture gets a new public id (128 random bits): its URL is unguessable, changes with
//!   every update (so caches never show an old picture) and dies with a removal. Anyone holding
//!   the URL may fetch it — the decision that lets other applications show the same avatar
//!   (issue 13's `picture` claim) — but nobody can list or guess one.

use crate::mechanisms::picture::Avatar;
use crate::store::Conn;
use crate::values::clock::Timestamp;
use crate::values::photo::AvatarSize;
use sqlx::Row;

/// Sets (or replaces) a person's avatar; returns its new public id.
pub async fn put(
    conn: &mut Conn,
    user_id: &str,
    avatar: &Avatar,
    now: Timestamp,
) -> Result<String, sqlx::Error> {
    let id = crate::mechanisms::secret::new_id();
    sqlx::query(
        "INSERT INTO avatars (user_id, id, large, small, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id) DO UPDATE SET id = excluded.id, large = excluded.large, \
           small = excluded.small, created_at = excluded.created_at",
    )
    .bind(user_id)
    .bind(&id)
    .bind(avatar.large.as_slice())
    .bind(avatar.small.as_slice())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Removes a person's avatar; whether there was one.
pub async fn remove(conn: &mut Conn, user_id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM avatars WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// The public id of a person's avatar, if they have one.
pub async fn id_of(conn: &mut Conn, user_id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query("SELECT id FROM avatars WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get("id"))
        .transpose()
}

/// The picture behind a public id, at one size.
pub async fn image(
    conn: &mut Conn,
    id: &str,
    size: AvatarSize,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let column = match size {
        AvatarSize::Large => "large",
        AvatarSize::Small => "small",
    };
    sqlx::query(&format!(
        "SELECT {column} AS pixels FROM avatars WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| r.try_get("pixels"))
    .transpose()
}
