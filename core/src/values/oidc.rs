//! OpenID Connect values, parsed at the edge (issue 13; O1, O2, O4, O5).
//!
//! - O1: a client's redirect URIs are registered once, checked then (absolute, no fragment, no
//!   userinfo, `https` — or `http` only to a loopback host, or a private-use scheme with a dot
//!   for native apps, RFC 8252) and afterwards compared byte for byte: no normalising, so a
//!   trailing slash, an added query, another port or a different case is another URI.
//! - O1: only the authorization code flow with PKCE `S256`: `response_type=code`, a
//!   `code_challenge` of 43–128 unreserved characters; `plain` and a missing challenge are
//!   refused. The verifier is checked in constant time.
//! - O4: the signing algorithm is one of [`Alg`]; `none` is not a value of the type.
//! - O5: what a client may read follows its [`Scopes`]; unknown scopes are ignored (OpenID
//!   Connect Core 3.1.2.1), `openid` is required.
//! - Errors carry the protocol's own codes ([`OAuthError`]), so the endpoints never invent words.

use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// The error codes of RFC 6749 §4.1.2.1 / §5.2, RFC 7009, and OpenID Connect Core §3.1.2.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthError {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    LoginRequired,
    ConsentRequired,
    InvalidToken,
    ServerError,
    TemporarilyUnavailable,
    /// O9 (Core 6.1): `request` objects are not supported.
    RequestNotSupported,
    /// O9 (Core 6.2): `request_uri` is not supported.
    RequestUriNotSupported,
    /// O9 (OpenID Connect Core 1.0 errata, RFC 9470): the `acr_values` asked for cannot be met.
    UnmetAuthenticationRequirements,
}

impl OAuthError {
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InvalidToken => "invalid_token",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
        }
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An error answer: the code and a description for the client's developer (never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub error: OAuthError,
    pub description: &'static str,
}

impl Refused {
    pub const fn new(error: OAuthError, description: &'static str) -> Self {
        Self { error, description }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.description)
    }
}

/// Why a redirect URI cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("a redirect URI must be absolute (scheme://host/path)")]
    NotAbsolute,
    #[error("a redirect URI cannot have a fragment (#…)")]
    Fragment,
    #[error("a redirect URI cannot carry a user name or password")]
    Userinfo,
    #[error("a redirect URI must use https (http only to 127.0.0.1, [::1] or localhost)")]
    Insecure,
    #[error("a redirect URI cannot contain spaces or control characters")]
    Characters,
}

/// O1: a registered redirect URI. Compared with [`RedirectUri::matches`] byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Checks a URI for registration (the CLI). What is stored is exactly what was given.
    pub fn register(text: &str) -> Result<Self, RedirectUriError> {
        if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(if text.is_empty() {
                RedirectUriError::NotAbsolute
            } else {
                RedirectUriError::Characters
            });
        }
        if text.contains('#') {
            return Err(RedirectUriError::Fragment);
        }
        let (scheme, rest) = text.split_once(':').ok_or(RedirectUriError::NotAbsolute)?;
        let scheme_ok = !scheme.is_empty()
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !scheme_ok {
            return Err(RedirectUriError::NotAbsolute);
        }
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            // RFC 8252 §7.1: a native app's private-use scheme is a reversed domain name.
            return if scheme.contains('.') && rest.starts_with('/') {
                Ok(Self(text.to_string()))
            } else {
                Err(RedirectUriError::Insecure)
            };
        }
        let after = rest
            .strip_prefix("//")
            .ok_or(RedirectUriError::NotAbsolute)?;
        let authority = after.split(['/', '?']).next().unwrap_or("");
        if authority.contains('@') {
            return Err(RedirectUriError::Userinfo);
        }
        let host = host_of(authority);
        if host.is_empty() {
            return Err(RedirectUriError::NotAbsolute);
        }
        if scheme == "http" && !is_loopback(host) {
            return Err(RedirectUriError::Insecure);
        }
        Ok(Self(text.to_string()))
    }

    /// A URI already registered (read back from the store).
    pub fn stored(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// O1: exact string comparison, nothing normalised.
    pub fn matches(&self, requested: &str) -> bool {
        self.0 == requested
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The host of an authority (`host`, `host:port`, `[v6]:port`).
fn host_of(authority: &str) -> &str {
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

/// O1: the PKCE challenge a client sent with its authorization request (S256 only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// `code_challenge` and `code_challenge_method` as received. A missing method means
    /// `plain` (RFC 7636 §4.3), which is refused like any other method but `S256`.
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> Result<Self, Refused> {
        let challenge = challenge.filter(|c| !c.is_empty()).ok_or(Refused::new(
            OAuthError::InvalidRequest,
            "code_challenge is required (PKCE with S256)",
        ))?;
        if method != Some("S256") {
            return Err(Refused::new(
                OAuthError::InvalidRequest,
                "code_challenge_method must be S256",
            ));
        }
        if !pkce_text(challenge) {
            return Err(Refused::new(
                OAuthError::InvalidRequest,
                "code_challenge must be 43 to 128 unreserved characters",
            ));
        }
        Ok(Self(challenge.to_string()))
    }

    pub fn stored(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 §4.6: BASE64URL(SHA256(verifier)) equals the challenge (constant time).
    pub fn verify(&self, verifier: &str) -> bool {
        if !pkce_text(verifier) {
            return false;
        }
        let computed = base64url(&Sha256::digest(verifier.as_bytes()));
        computed.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

/// RFC 7636 §4.1: 43–128 characters of `[A-Za-z0-9-._~]`.
fn pkce_text(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Unpadded base64url (RFC 4648 §5), as JOSE and PKCE use it.
pub fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// O4: the algorithms a client can have its tokens signed with. There is no `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256: what most client libraries expect.
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
}

impl Alg {
    pub const ALL: [Alg; 2] = [Alg::Rs256, Alg::Es256];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// O5: the scopes a client asked for, restricted to the ones Gatehouse knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes {
    pub profile: bool,
    pub email: bool,
    /// A refresh token is issued only with `offline_access`.
    pub offline_access: bool,
}

impl Scopes {
    /// The `scope` parameter: space-separated, `openid` required, unknown scopes ignored.
    pub fn parse(text: &str) -> Result<Self, Refused> {
        let mut s = Self::default();
        let mut openid = false;
        for word in text.split(' ').filter(|w| !w.is_empty()) {
            match word {
                "openid" => openid = true,
                "profile" => s.profile = true,
                "email" => s.email = true,
                "offline_access" => s.offline_access = true,
                _ => {}
            }
        }
        if !openid {
            return Err(Refused::new(
                OAuthError::InvalidScope,
                "the openid scope is required",
            ));
        }
        Ok(s)
    }

    /// The canonical `scope` string (stored, and returned by the token endpoint).
    pub fn as_string(self) -> String {
        let mut words = vec!["openid"];
        if self.profile {
            words.push("profile");
        }
        if self.email {
            words.push("email");
        }
        if self.offline_access {
            words.push("offline_access");
        }
        words.join(" ")
    }

    /// Whether every scope of `self` is also in `other` (a consent covers a request).
    pub fn within(self, other: Scopes) -> bool {
        (!self.profile || other.profile)
            && (!self.email || other.email)
            && (!self.offline_access || other.offline_access)
    }

    /// The same scopes plus `other`'s (consent grows, never shrinks silently).
    pub fn union(self, other: Scopes) -> Scopes {
        Scopes {
            profile: self.profile || other.profile,
            email: self.email || other.email,
            offline_access: self.offline_access || other.offline_access,
        }
    }

    /// What the consent page says, in words, one line per thing the client will see.
    pub fn in_words(self) -> Vec<&'static str> {
        let mut v = vec!["Who you are (an identifier that never changes)"];
        if self.profile {
            v.push("Your name and profile picture");
        }
        if self.email {
            v.push("Your email address");
        }
        if self.offline_access {
            v.push("Stay signed in to it when you are not using it");
        }
        v
    }
}

/// `prompt` (OpenID Connect Core §3.1.2.1); `select_account` is treated as no prompt (one
/// account per browser).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

impl Prompt {
    pub fn parse(text: Option<&str>) -> Result<Self, Refused> {
        let mut p = Self::default();
        for word in text.unwrap_or("").split(' ').filter(|w| !w.is_empty()) {
            match word {
                "none" => p.none = true,
                "login" => p.login = true,
                "consent" => p.consent = true,
                "select_account" => {}
                _ => {
                    return Err(Refused::new(
                        OAuthError::InvalidRequest,
                        "prompt must be none, login, consent or select_account",
                    ))
                }
            }
        }
        if p.none && (p.login || p.consent) {
            return Err(Refused::new(
                OAuthError::InvalidRequest,
                "prompt=none cannot be combined with other values",
            ));
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn o1_redirect_uris_match_exactly_and_nothing_is_normalised() {
        let r = RedirectUri::register("https://app.example.com/callback").expect("valid");
        assert!(r.matches("https://app.example.com/callback"));
        for other in [
            "https://app.example.com/callback/",
            "https://app.example.com/callback?x=1",
            "https://app.example.com:8443/callback",
            "https://app.example.com:443/callback",
            "https://evil@app.example.com/callback",
            "https://app.example.com.evil.net/callback",
            "https://APP.example.com/callback",
            "http://app.example.com/callback",
            "https://app.example.com/Callback",
            "https://app.example.com/callback#x",
            "https://app.example.com/callback%20",
        ] {
            assert!(!r.matches(other), "{other} must not match");
        }
        let q = RedirectUri::register("https://app.example.com/cb?tenant=7").expect("valid");
        assert!(q.matches("https://app.example.com/cb?tenant=7"));
        assert!(!q.matches("https://app.example.com/cb?tenant=7&x=1"));
        assert!(!q.matches("https://app.example.com/cb"));
    }

    #[test]
    fn o1_only_safe_redirect_uris_can_be_registered() {
        for ok in [
            "https://app.example.com/cb",
            "http://127.0.0.1:8080/cb",
            "http://localhost:3000/auth/callback",
            "http://[::1]:9000/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(RedirectUri::register(ok).is_ok(), "{ok}");
        }
        let refused = [
            ("http://app.example.com/cb", RedirectUriError::Insecure),
            (
                "https://app.example.com/cb#frag",
                RedirectUriError::Fragment,
            ),
            (
                "https://user:pw@app.example.com/cb",
                RedirectUriError::Userinfo,
            ),
            (
                "https://user@app.example.com/cb",
                RedirectUriError::Userinfo,
            ),
            ("/cb", RedirectUriError::NotAbsolute),
            ("", RedirectUriError::NotAbsolute),
            ("https:///cb", RedirectUriError::NotAbsolute),
            ("javascript:alert(1)", RedirectUriError::Insecure),
            ("data:text/html,x", RedirectUriError::Insecure),
            ("https://app.example.com/c b", RedirectUriError::Characters),
        ];
        for (uri, want) in refused {
            assert_eq!(RedirectUri::register(uri), Err(want), "{uri}");
        }
    }

    #[test]
    fn o1_pkce_is_s256_only_and_a_wrong_verifier_is_refused() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let c = CodeChallenge::parse(Some(challenge), Some("S256")).expect("valid");
        assert!(c.verify(verifier));
        assert!(!c.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl"));
        assert!(
            !c.verify(challenge),
            "the challenge itself is not a verifier"
        );
        assert!(!c.verify(""));
        for method in [None, Some("plain"), Some("s256"), Some("S512")] {
            assert_eq!(
                CodeChallenge::parse(Some(challenge), method)
                    .expect_err("refused")
                    .description,
                "code_challenge_method must be S256",
                "{method:?}"
            );
        }
        assert_eq!(
            CodeChallenge::parse(None, Some("S256"))
                .expect_err("refused")
                .error,
            OAuthError::InvalidRequest
        );
        assert_eq!(
            CodeChallenge::parse(Some("short"), Some("S256"))
                .expect_err("refused")
                .description,
            "code_challenge must be 43 to 128 unreserved characters"
        );
    }

    #[test]
    fn o5_scopes_need_openid_and_ignore_unknown_words() {
        let s = Scopes::parse("openid email  unknown profile").expect("valid");
        assert_eq!(
            s,
            Scopes {
                profile: true,
                email: true,
                offline_access: false
            }
        );
        assert_eq!(s.as_string(), "openid profile email");
        assert_eq!(
            Scopes::parse("profile email").expect_err("no openid").error,
            OAuthError::InvalidScope
        );
        let email_only = Scopes::parse("openid email").expect("valid");
        assert!(email_only.within(s));
        assert!(!s.within(email_only));
    }

    #[test]
    fn prompt_none_stands_alone_and_unknown_values_are_refused() {
        assert!(Prompt::parse(Some("login consent")).expect("ok").login);
        assert!(Prompt::parse(Some("none")).expect("ok").none);
        assert_eq!(
            Prompt::parse(Some("none login"))
                .expect_err("refused")
                .description,
            "prompt=none cannot be combined with other values"
        );
        assert_eq!(
            Prompt::parse(Some("bogus"))
                .expect_err("refused")
                .description,
            "prompt must be none, login, consent or select_account"
        );
        assert_eq!(Prompt::parse(None), Ok(Prompt::default()));
    }

    #[test]
    fn o4_there_is_no_alg_none() {
        assert_eq!(Alg::parse("none"), None);
        assert_eq!(Alg::parse("RS256"), Some(Alg::Rs256));
        assert_eq!(Alg::parse("ES256"), Some(Alg::Es256));
        assert_eq!(Alg::parse("HS256"), None);
    }
}
