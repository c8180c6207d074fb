//! O4: the provider's signing keys and the JSON Web Tokens they sign.
//!
//! - One RS256 and one ES256 key are active at a time; both are generated on first start
//!   ([`ensure`]), their PKCS#8 private keys sealed with the instance key (bound to the key id)
//!   and never written anywhere else.
//! - [`rotate`] retires the active keys and makes new ones; a retired key keeps signing nothing
//!   but stays in the JWKS for `keep_secs` (the longest lifetime of a token it signed), so tokens
//!   already issued stay verifiable until they expire; then it is deleted.
//! - The algorithm is fixed by the caller (the client's registered `alg`), never read from a
//!   token's header ([`verify`]), and there is no `none`.
//! - Several instances may start at once: each may add an active key; the newest one signs and
//!   all are published, so nothing breaks.

use crate::mechanisms::crypto::SecretKey;
use crate::store::Conn;
use crate::values::clock::Timestamp;
use crate::values::oidc::{base64url, Alg};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use serde_json::{json, Value};
use sqlx::Row;

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("could not make a signing key: {0}")]
    Generate(String),
    #[error("a stored signing key could not be opened: {0}")]
    Sealed(String),
    #[error("signing failed")]
    Sign,
    #[error("no active {0} signing key")]
    NoKey(&'static str),
    #[error("{0} is malformed")]
    Malformed(&'static str),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("not a JWT")]
    Malformed,
    #[error("the token is signed with another algorithm than the client's")]
    WrongAlg,
    #[error("no published key has this token's kid")]
    UnknownKey,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the token is not an ID token")]
    NotAnIdToken,
}

enum Inner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A private signing key, opened for use.
pub struct SigningKey {
    pub kid: String,
    pub alg: Alg,
    inner: Inner,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({} {})", self.alg.as_str(), self.kid)
    }
}

/// A new private key as PKCS#8 DER.
pub fn generate(alg: Alg) -> Result<Vec<u8>, SigningError> {
    match alg {
        Alg::Es256 => EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &SystemRandom::new(),
        )
        .map(|d| d.as_ref().to_vec())
        .map_err(|e| SigningError::Generate(e.to_string())),
        Alg::Rs256 => {
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
                .map_err(|e| SigningError::Generate(e.to_string()))?;
            key.to_pkcs8_der()
                .map(|d| d.as_bytes().to_vec())
                .map_err(|e| SigningError::Generate(e.to_string()))
        }
    }
}

impl SigningKey {
    pub fn from_pkcs8(kid: &str, alg: Alg, der: &[u8]) -> Result<Self, SigningError> {
        let inner = match alg {
            Alg::Rs256 => Inner::Rsa(
                RsaKeyPair::from_pkcs8(der).map_err(|e| SigningError::Sealed(e.to_string()))?,
            ),
            Alg::Es256 => Inner::Ec(
                EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    der,
                    &SystemRandom::new(),
                )
                .map_err(|e| SigningError::Sealed(e.to_string()))?,
            ),
        };
        Ok(Self {
            kid: kid.to_string(),
            alg,
            inner,
        })
    }

    /// The public half as a JWK (RFC 7517), for `/oauth2/jwks`.
    pub fn jwk(&self) -> Value {
        match &self.inner {
            Inner::Rsa(k) => {
                let c: signature::RsaPublicKeyComponents<Vec<u8>> = k.public().into();
                json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                       "n": base64url(&c.n), "e": base64url(&c.e)})
            }
            Inner::Ec(k) => {
                // The uncompressed point: 0x04 ‖ x ‖ y, 32 bytes each.
                let p = k.public_key().as_ref();
                json!({"kty": "EC", "use": "sig", "alg": "ES256", "kid": self.kid, "crv": "P-256",
                       "x": base64url(&p[1..33]), "y": base64url(&p[33..65])})
            }
        }
    }

    /// A compact JWS of `claims` with `{alg, kid, typ}` in its header.
    pub fn sign(&self, typ: &str, claims: &Value) -> Result<String, SigningError> {
        let header = json!({"alg": self.alg.as_str(), "kid": self.kid, "typ": typ});
        let input = format!(
            "{}.{}",
            base64url(header.to_string().as_bytes()),
            base64url(claims.to_string().as_bytes())
        );
        let rng = SystemRandom::new();
        let sig = match &self.inner {
            Inner::Rsa(k) => {
                let mut sig = vec![0u8; k.public().modulus_len()];
                k.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &rng,
                    input.as_bytes(),
                    &mut sig,
                )
                .map_err(|_| SigningError::Sign)?;
                sig
            }
            Inner::Ec(k) => k
                .sign(&rng, input.as_bytes())
                .map_err(|_| SigningError::Sign)?
                .as_ref()
                .to_vec(),
        };
        Ok(format!("{input}.{}", base64url(&sig)))
    }
}

fn unbase64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
}

/// Verifies a compact JWS against published keys for the expected `alg` (O4: never the
/// header's own choice) and returns its claims. Expiry and audience are the caller's checks.
pub fn verify(jwks: &[Value], token: &str, alg: Alg) -> Result<Value, VerifyError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed);
    };
    let header: Value = unbase64(h)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(VerifyError::Malformed)?;
    if header["alg"].as_str() != Some(alg.as_str()) {
        return Err(VerifyError::WrongAlg);
    }
    let kid = header["kid"].as_str().ok_or(VerifyError::UnknownKey)?;
    let jwk = jwks
        .iter()
        .find(|k| k["kid"].as_str() == Some(kid) && k["alg"].as_str() == Some(alg.as_str()))
        .ok_or(VerifyError::UnknownKey)?;
    let sig = unbase64(s).ok_or(VerifyError::Malformed)?;
    let signed = &token.as_bytes()[..h.len() + 1 + p.len()];
    let field = |name: &str| jwk[name].as_str().and_then(unbase64);
    let ok = match alg {
        Alg::Rs256 => match (field("n"), field("e")) {
            (Some(n), Some(e)) => signature::RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, signed, &sig)
                .is_ok(),
            _ => false,
        },
        Alg::Es256 => match (field("x"), field("y")) {
            (Some(x), Some(y)) => {
                let point = [&[4u8][..], &x, &y].concat();
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(signed, &sig)
                    .is_ok()
            }
            _ => false,
        },
    };
    if !ok {
        return Err(VerifyError::BadSignature);
    }
    unbase64(p)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(VerifyError::Malformed)
}

/// O9: an ID token we signed (`typ` JWT, with `auth_time` and no `scope`): what `id_token_hint`
/// accepts. An access token (`at+jwt`) or a logout token signed with the same key is refused.
pub fn verify_id_token(jwks: &[Value], token: &str, alg: Alg) -> Result<Value, VerifyError> {
    let claims = verify(jwks, token, alg)?;
    let header: Option<Value> = token
        .split('.')
        .next()
        .and_then(unbase64)
        .and_then(|b| serde_json::from_slice(&b).ok());
    let typ = header.as_ref().and_then(|h| h["typ"].as_str());
    let shaped = claims.get("auth_time").is_some()
        && claims.get("scope").is_none()
        && claims.get("events").is_none();
    if typ == Some("JWT") && shaped {
        Ok(claims)
    } else {
        Err(VerifyError::NotAnIdToken)
    }
}

/// Makes and stores a new active key for `alg`.
async fn create(
    conn: &mut Conn,
    key: &SecretKey,
    alg: Alg,
    now: Timestamp,
) -> Result<SigningKey, SigningError> {
    let kid = crate::mechanisms::secret::random_hex(12);
    let der = generate(alg)?;
    let opened = SigningKey::from_pkcs8(&kid, alg, &der)?;
    let sealed = key
        .seal(&der, &kid)
        .map_err(|e| SigningError::Sealed(e.to_string()))?;
    sqlx::query(
        "INSERT INTO signing_keys (kid, alg, sealed, public_jwk, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&kid)
    .bind(alg.as_str())
    .bind(sealed)
    .bind(opened.jwk().to_string())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(opened)
}

/// O4: on start-up, an active key for every algorithm (made when missing).
pub async fn ensure(conn: &mut Conn, key: &SecretKey, now: Timestamp) -> Result<(), SigningError> {
    for alg in Alg::ALL {
        let active: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM signing_keys WHERE alg = $1 AND retired_at IS NULL",
        )
        .bind(alg.as_str())
        .fetch_one(&mut *conn)
        .await?;
        if active == 0 {
            create(conn, key, alg, now).await?;
        }
    }
    Ok(())
}

/// O4: `gatehouse keys rotate` — new active keys; the old ones retire (published `keep_secs`
/// more). Returns the new key ids.
pub async fn rotate(
    conn: &mut Conn,
    key: &SecretKey,
    now: Timestamp,
) -> Result<Vec<String>, SigningError> {
    sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let mut kids = Vec::new();
    for alg in Alg::ALL {
        kids.push(create(conn, key, alg, now).await?.kid);
    }
    Ok(kids)
}

/// The key that signs for `alg` now: the newest active one.
pub async fn active(
    conn: &mut Conn,
    key: &SecretKey,
    alg: Alg,
) -> Result<SigningKey, SigningError> {
    let row = sqlx::query(
        "SELECT kid, sealed FROM signing_keys WHERE alg = $1 AND retired_at IS NULL \
         ORDER BY created_at DESC, kid LIMIT 1",
    )
    .bind(alg.as_str())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(SigningError::NoKey(alg.as_str()))?;
    let kid: String = row.try_get("kid")?;
    let sealed: String = row.try_get("sealed")?;
    let der = key
        .open(&sealed, &kid)
        .map_err(|e| SigningError::Sealed(e.to_string()))?;
    SigningKey::from_pkcs8(&kid, alg, &der)
}

/// The key that signs for `alg` now, made first if there is none yet (a first start whose
/// background `ensure` has not finished): the one way callers get a signer.
pub async fn signer(
    conn: &mut Conn,
    key: &SecretKey,
    alg: Alg,
    now: Timestamp,
) -> Result<SigningKey, SigningError> {
    match active(conn, key, alg).await {
        Err(SigningError::NoKey(_)) => {
            ensure(conn, key, now).await?;
            active(conn, key, alg).await
        }
        found => found,
    }
}

/// The JWKS as served: [`published`], with the keys made first if an algorithm has none yet.
pub async fn jwks(
    conn: &mut Conn,
    key: &SecretKey,
    now: Timestamp,
    keep_secs: i64,
) -> Result<Vec<Value>, SigningError> {
    let keys = published(conn, now, keep_secs).await?;
    let complete = Alg::ALL
        .iter()
        .all(|a| keys.iter().any(|k| k["alg"] == a.as_str()));
    if complete {
        return Ok(keys);
    }
    ensure(conn, key, now).await?;
    published(conn, now, keep_secs).await
}

/// The JWKS: every active key and every key retired less than `keep_secs` ago. Older retired
/// keys are deleted here (nothing they signed is still valid).
pub async fn published(
    conn: &mut Conn,
    now: Timestamp,
    keep_secs: i64,
) -> Result<Vec<Value>, SigningError> {
    sqlx::query("DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at <= $1")
        .bind(now - keep_secs)
        .execute(&mut *conn)
        .await?;
    public_keys(conn, now, keep_secs).await
}

/// The keys [`published`] lists, read without sweeping (for a read-only connection).
pub async fn public_keys(
    conn: &mut Conn,
    now: Timestamp,
    keep_secs: i64,
) -> Result<Vec<Value>, SigningError> {
    let rows = sqlx::query(
        "SELECT public_jwk FROM signing_keys WHERE retired_at IS NULL OR retired_at > $1 \
         ORDER BY created_at DESC, kid",
    )
    .bind(now - keep_secs)
    .fetch_all(&mut *conn)
    .await?;
    let mut keys = Vec::new();
    for r in rows {
        let text: String = r.try_get("public_jwk")?;
        keys.push(serde_json::from_str(&text).map_err(|e| SigningError::Sealed(e.to_string()))?);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    fn claims() -> Value {
        json!({"iss": "https://id.example.com", "sub": "u1", "nonce": "n-0S6_WzA2Mj"})
    }

    #[test]
    fn o4_tokens_verify_with_their_own_algorithm_only() {
        for alg in Alg::ALL {
            let key =
                SigningKey::from_pkcs8("k1", alg, &generate(alg).expect("key")).expect("open");
            let jwks = vec![key.jwk()];
            let token = key.sign("JWT", &claims()).expect("sign");
            assert_eq!(verify(&jwks, &token, alg), Ok(claims()), "{alg:?}");
            let other = Alg::ALL.into_iter().find(|a| *a != alg).expect("two algs");
            assert_eq!(verify(&jwks, &token, other), Err(VerifyError::WrongAlg));
            // A changed payload or a token with its signature cut off does not verify.
            let mut parts: Vec<&str> = token.split('.').collect();
            let forged = base64url(json!({"sub": "admin"}).to_string().as_bytes());
            parts[1] = &forged;
            assert_eq!(
                verify(&jwks, &parts.join("."), alg),
                Err(VerifyError::BadSignature)
            );
            let unsigned = format!("{}.{}.", parts[0], forged);
            assert_eq!(
                verify(&jwks, &unsigned, alg),
                Err(VerifyError::BadSignature)
            );
        }
    }

    #[test]
    fn o4_alg_none_and_unknown_keys_are_refused() {
        let key = SigningKey::from_pkcs8("k1", Alg::Es256, &generate(Alg::Es256).expect("key"))
            .expect("open");
        let none = format!(
            "{}.{}.",
            base64url(br#"{"alg":"none","kid":"k1"}"#),
            base64url(claims().to_string().as_bytes())
        );
        assert_eq!(
            verify(&[key.jwk()], &none, Alg::Es256),
            Err(VerifyError::WrongAlg)
        );
        let token = key.sign("JWT", &claims()).expect("sign");
        let stranger =
            SigningKey::from_pkcs8("k2", Alg::Es256, &generate(Alg::Es256).expect("key"))
                .expect("open");
        assert_eq!(
            verify(&[stranger.jwk()], &token, Alg::Es256),
            Err(VerifyError::UnknownKey)
        );
    }

    #[tokio::test]
    async fn o4_rotation_keeps_old_tokens_verifiable_until_they_expire() {
        let secret = SecretKey::generate();
        for store in testing::all().await {
            let mut c = store.conn().await.expect("conn");
            ensure(&mut c, &secret, 1000).await.expect("ensure");
            ensure(&mut c, &secret, 1001)
                .await
                .expect("ensure twice makes nothing new");
            assert_eq!(published(&mut c, 1001, 900).await.expect("jwks").len(), 2);
            let old: Vec<(Alg, String)> = {
                let mut v = Vec::new();
                for alg in Alg::ALL {
                    let k = active(&mut c, &secret, alg).await.expect("active");
                    v.push((alg, k.sign("JWT", &claims()).expect("sign")));
                }
                v
            };
            let new_kids = rotate(&mut c, &secret, 2000).await.expect("rotate");
            for alg in Alg::ALL {
                let k = active(&mut c, &secret, alg).await.expect("active");
                assert!(new_kids.contains(&k.kid), "the new key signs");
            }
            // Within the old tokens' lifetime both generations are published.
            let jwks = published(&mut c, 2899, 900).await.expect("jwks");
            assert_eq!(jwks.len(), 4);
            for (alg, token) in &old {
                assert_eq!(verify(&jwks, token, *alg), Ok(claims()));
            }
            // After it, the retired keys are gone and their tokens no longer verify.
            let jwks = published(&mut c, 2900, 900).await.expect("jwks");
            assert_eq!(jwks.len(), 2);
            for (alg, token) in &old {
                assert_eq!(verify(&jwks, token, *alg), Err(VerifyError::UnknownKey));
            }
            // O4: sealed at rest: the stored key is not the PKCS#8 bytes, and another
            // instance key cannot open it.
            let other = SecretKey::generate();
            assert!(matches!(
                active(&mut c, &other, Alg::Rs256).await,
                Err(SigningError::Sealed(_))
            ));
        }
    }
}
