//! The relying parties registered with the OpenID Connect provider (issue 13).
//!
//! - O1: redirect URIs are checked when registered ([`RedirectUri::register`]) and later compared
//!   exactly; a client has at least one.
//! - A confidential client's secret is 256 random bits, shown once at creation and stored only as
//!   its SHA-256 digest (like every token here); it is compared in constant time. A public client
//!   (a browser or native app) has no secret and must use PKCE — which every client must anyway.
//! - First-party clients (the team's own applications) skip the consent page; third-party ones
//!   ask once per person and scope set.
//! - O4: each client's signing algorithm is fixed at registration (RS256 unless said otherwise).

use crate::mechanisms::oidc_grants::GrantError;
use crate::mechanisms::secret::{ct_eq, digest, new_token, random_hex, Secret};
use crate::store::Conn;
use crate::values::clock::Timestamp;
use crate::values::oidc::{Alg, OAuthError, RedirectUri, RedirectUriError, Refused};
use sqlx::Row;

/// A registered client as the provider uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub name: String,
    /// No secret: authenticates with nothing but PKCE.
    pub public: bool,
    pub first_party: bool,
    pub redirect_uris: Vec<RedirectUri>,
    /// Back-channel logout (O6).
    pub logout_uri: Option<RedirectUri>,
    /// O9: where RP-initiated logout may send people back to (registered apart).
    pub post_logout_uris: Vec<RedirectUri>,
    pub alg: Alg,
    pub created_at: Timestamp,
}

impl Client {
    /// O1: the registered URI equal to `requested`, if any.
    pub fn redirect(&self, requested: &str) -> Option<&RedirectUri> {
        self.redirect_uris.iter().find(|r| r.matches(requested))
    }

    /// O1/O9: the registered post-logout URI equal to `requested`, if any.
    pub fn post_logout_redirect(&self, requested: &str) -> Option<&RedirectUri> {
        self.post_logout_uris.iter().find(|r| r.matches(requested))
    }
}

/// What `gatehouse client create` (and `update`) is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSpec {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub public: bool,
    pub first_party: bool,
    pub logout_uri: Option<String>,
    /// O9: `post_logout_redirect_uri` values the client may use.
    pub post_logout_uris: Vec<String>,
    pub alg: Alg,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("give the client a name")]
    NoName,
    #[error("give at least one --redirect-uri")]
    NoRedirectUri,
    #[error("redirect URI {0}: {1}")]
    RedirectUri(String, RedirectUriError),
    #[error("logout URI {0}: {1}")]
    LogoutUri(String, RedirectUriError),
    #[error("post-logout URI {0}: {1}")]
    PostLogoutUri(String, RedirectUriError),
    #[error("no client with id {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// The checked form of a spec.
struct Checked {
    name: String,
    /// Redirect URIs, one per line.
    uris: String,
    logout: Option<String>,
    /// Post-logout URIs, one per line.
    post_logout: String,
}

/// Each of `uris` registered (O1), one per line.
fn registered(
    uris: &[String],
    err: fn(String, RedirectUriError) -> ClientError,
) -> Result<String, ClientError> {
    let mut out = Vec::new();
    for u in uris {
        let r = RedirectUri::register(u).map_err(|e| err(u.clone(), e))?;
        out.push(r.as_str().to_string());
    }
    Ok(out.join("\n"))
}

fn checked(spec: &ClientSpec) -> Result<Checked, ClientError> {
    let name = spec.name.trim();
    if name.is_empty() {
        return Err(ClientError::NoName);
    }
    if spec.redirect_uris.is_empty() {
        return Err(ClientError::NoRedirectUri);
    }
    let uris = registered(&spec.redirect_uris, ClientError::RedirectUri)?;
    let post_logout = registered(&spec.post_logout_uris, ClientError::PostLogoutUri)?;
    let logout = match &spec.logout_uri {
        Some(u) => Some(
            RedirectUri::register(u)
                .map_err(|e| ClientError::LogoutUri(u.clone(), e))?
                .as_str()
                .to_string(),
        ),
        None => None,
    };
    Ok(Checked {
        name: name.to_string(),
        uris,
        logout,
        post_logout,
    })
}

/// Registers a client; returns it and, for a confidential client, its secret (shown once).
pub async fn create(
    conn: &mut Conn,
    spec: &ClientSpec,
    now: Timestamp,
) -> Result<(Client, Option<Secret>), ClientError> {
    let c = checked(spec)?;
    let id = random_hex(16);
    let secret = (!spec.public).then(new_token);
    sqlx::query(
        "INSERT INTO oidc_clients (id, name, secret_hash, first_party, redirect_uris, logout_uri, alg, created_at, \
         post_logout_uris) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(&c.name)
    .bind(secret.as_ref().map(Secret::digest))
    .bind(i64::from(spec.first_party))
    .bind(&c.uris)
    .bind(&c.logout)
    .bind(spec.alg.as_str())
    .bind(now)
    .bind(&c.post_logout)
    .execute(&mut *conn)
    .await?;
    let client = find(conn, &id).await?.ok_or(ClientError::NotFound(id))?;
    Ok((client, secret))
}

/// Changes a client's settings (not its id or secret).
pub async fn update(conn: &mut Conn, id: &str, spec: &ClientSpec) -> Result<Client, ClientError> {
    let c = checked(spec)?;
    let res = sqlx::query(
        "UPDATE oidc_clients SET name = $2, first_party = $3, redirect_uris = $4, logout_uri = $5, alg = $6, \
         post_logout_uris = $7 WHERE id = $1",
    )
    .bind(id)
    .bind(&c.name)
    .bind(i64::from(spec.first_party))
    .bind(&c.uris)
    .bind(&c.logout)
    .bind(spec.alg.as_str())
    .bind(&c.post_logout)
    .execute(&mut *conn)
    .await?;
    if res.rows_affected() == 0 {
        return Err(ClientError::NotFound(id.to_string()));
    }
    find(conn, id)
        .await?
        .ok_or(ClientError::NotFound(id.to_string()))
}

/// Deletes a client with its grants, codes and tokens (they cascade).
pub async fn delete(conn: &mut Conn, id: &str) -> Result<(), ClientError> {
    for table in ["oidc_tokens", "oidc_codes", "oidc_grants"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE client_id = $1"))
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    let res = sqlx::query("DELETE FROM oidc_clients WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if res.rows_affected() == 0 {
        return Err(ClientError::NotFound(id.to_string()));
    }
    Ok(())
}

const COLUMNS: &str =
    "id, name, secret_hash, first_party, redirect_uris, logout_uri, alg, created_at, post_logout_uris";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Client, sqlx::Error> {
    let uris: String = r.try_get("redirect_uris")?;
    let alg: String = r.try_get("alg")?;
    let secret: Option<String> = r.try_get("secret_hash")?;
    let first_party: i64 = r.try_get("first_party")?;
    let logout: Option<String> = r.try_get("logout_uri")?;
    let post_logout: String = r.try_get("post_logout_uris")?;
    Ok(Client {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        public: secret.is_none(),
        first_party: first_party != 0,
        redirect_uris: uris.lines().map(RedirectUri::stored).collect(),
        logout_uri: logout.map(RedirectUri::stored),
        post_logout_uris: post_logout.lines().map(RedirectUri::stored).collect(),
        alg: Alg::parse(&alg).unwrap_or(Alg::Rs256),
        created_at: r.try_get("created_at")?,
    })
}

pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<Client>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM oidc_clients WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn list(conn: &mut Conn) -> Result<Vec<Client>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM oidc_clients ORDER BY created_at, id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The token, revocation and introspection endpoints' client authentication
/// (`client_secret_basic` or `client_secret_post`; a public client sends only its id).
/// Every failure is the same `invalid_client`.
pub async fn authenticate(
    conn: &mut Conn,
    id: &str,
    secret: Option<&str>,
) -> Result<Client, GrantError> {
    const REFUSED: GrantError = GrantError::Refused(Refused::new(
        OAuthError::InvalidClient,
        "client authentication failed",
    ));
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM oidc_clients WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(REFUSED)?;
    let stored: Option<String> = row.try_get("secret_hash")?;
    let ok = match (&stored, secret) {
        (None, None) => true,
        (Some(hash), Some(given)) => ct_eq(hash, &digest(given)),
        _ => false,
    };
    if !ok {
        return Err(REFUSED);
    }
    Ok(from_row(&row)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    fn refused(r: Result<Client, GrantError>) -> OAuthError {
        match r {
            Err(GrantError::Refused(x)) => x.error,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn spec(public: bool) -> ClientSpec {
        ClientSpec {
            name: "Wiki".into(),
            redirect_uris: vec![
                "https://wiki.example.com/cb".into(),
                "http://127.0.0.1:8080/cb".into(),
            ],
            public,
            first_party: false,
            logout_uri: Some("https://wiki.example.com/logout".into()),
            post_logout_uris: vec!["https://wiki.example.com/bye".into()],
            alg: Alg::Es256,
        }
    }

    #[tokio::test]
    async fn clients_are_registered_checked_and_their_secret_stored_hashed() {
        for store in testing::all().await {
            let mut c = store.conn().await.expect("conn");
            let (client, secret) = create(&mut c, &spec(false), 10).await.expect("create");
            let secret = secret.expect("a confidential client gets a secret");
            assert_eq!(client.redirect_uris.len(), 2);
            assert_eq!(client.alg, Alg::Es256);
            // O9: post-logout URIs are their own list, matched exactly.
            assert!(client
                .post_logout_redirect("https://wiki.example.com/bye")
                .is_some());
            assert!(client
                .post_logout_redirect("https://wiki.example.com/cb")
                .is_none());
            assert!(!client.public);
            let stored: String =
                sqlx::query_scalar("SELECT secret_hash FROM oidc_clients WHERE id = $1")
                    .bind(&client.id)
                    .fetch_one(&mut *c)
                    .await
                    .expect("row");
            assert_eq!(stored, secret.digest(), "only the digest is kept");
            assert_ne!(stored, secret.expose());
            let ok = authenticate(&mut c, &client.id, Some(secret.expose())).await;
            assert_eq!(ok.expect("right secret").id, client.id);
            for wrong in [None, Some("nope"), Some(stored.as_str())] {
                assert_eq!(
                    refused(authenticate(&mut c, &client.id, wrong).await),
                    OAuthError::InvalidClient
                );
            }
            let (public, none) = create(&mut c, &spec(true), 11).await.expect("public");
            assert!(none.is_none() && public.public);
            let by_id = authenticate(&mut c, &public.id, None).await;
            assert_eq!(by_id.expect("public client by id").id, public.id);
            assert_eq!(
                refused(authenticate(&mut c, &public.id, Some("x")).await),
                OAuthError::InvalidClient,
                "a public client has no secret"
            );
            let mut bad = spec(true);
            bad.redirect_uris = vec!["http://wiki.example.com/cb".into()];
            assert!(matches!(
                create(&mut c, &bad, 12).await,
                Err(ClientError::RedirectUri(_, RedirectUriError::Insecure))
            ));
            bad.redirect_uris.clear();
            assert!(matches!(
                create(&mut c, &bad, 12).await,
                Err(ClientError::NoRedirectUri)
            ));
            let mut changed = spec(false);
            changed.name = "Team wiki".into();
            changed.first_party = true;
            let updated = update(&mut c, &client.id, &changed).await.expect("update");
            assert!(updated.first_party && updated.name == "Team wiki");
            assert_eq!(list(&mut c).await.expect("list").len(), 2);
            delete(&mut c, &client.id).await.expect("delete");
            assert!(find(&mut c, &client.id).await.expect("find").is_none());
            assert!(matches!(
                delete(&mut c, &client.id).await,
                Err(ClientError::NotFound(_))
            ));
        }
    }
}
