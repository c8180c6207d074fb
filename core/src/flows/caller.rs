//! Who is calling: the request's session and, when fully signed in, the person (M5).
//!
//! - S3: `sessions::lookup` ends a session past its idle or absolute limit; this is the only way
//!   the app reads a session, so no page can skip the check.
//! - M5: `me` answers only for an authenticated session; a partial one (password given, code
//!   not yet) is nobody.
//! - Each function opens the one connection it needs and returns it before answering, so the app
//!   never holds a connection while it calls another flow (one writer on SQLite).

use crate::mechanisms::service::Deps;
use crate::mechanisms::sessions::{self, Session};
use crate::mechanisms::users::{self, User};

/// The live session named by the cookie's `token`, if any.
pub async fn session(deps: &Deps, token: &str) -> Result<Option<Session>, sqlx::Error> {
    let mut c = deps.store.conn().await?;
    sessions::lookup(&mut c, token, &deps.settings.sessions, deps.now()).await
}

/// M5: the signed-in person of `session`, read fresh (a name changed elsewhere shows at once).
pub async fn me(deps: &Deps, session: &Session) -> Result<Option<User>, sqlx::Error> {
    let Some(user_id) = session.authenticated_user() else {
        return Ok(None);
    };
    let mut c = deps.store.read().await?;
    users::by_id(&mut c, user_id).await
}

/// "Start again": a flow that has not signed anyone in ends; its session row goes. A signed-in
/// session is left alone (that is sign-out's job). Answers whether the session ended.
pub async fn abandon(deps: &Deps, session: &Session) -> Result<bool, sqlx::Error> {
    if session.authenticated_user().is_some() {
        return Ok(false);
    }
    let mut c = deps.store.conn().await?;
    sessions::revoke(&mut c, &session.id_hash).await?;
    Ok(true)
}
