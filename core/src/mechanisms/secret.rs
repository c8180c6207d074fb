//! Secrets: generation, hashing for storage, constant-time comparison.
//!
//! - Tokens and session ids carry 256 bits from the OS CSPRNG (S1, F2) and are stored only as
//!   SHA-256 digests, so a database leak does not leak live credentials.
//! - One-time codes are six uniformly random digits (M1).
//! - Comparisons of codes and digests run in constant time (M10).
//!
//! [`Secret`] wraps a plaintext secret and refuses to print it, so it cannot reach a log (G1).

use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// A plaintext secret (token, code, session id). `Debug` and `Display` print a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The plaintext, for the one place that must send it (cookie, message body).
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// The digest stored in the database.
    pub fn digest(&self) -> String {
        digest(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// A 256-bit token (session ids, email links).
pub fn new_token() -> Secret {
    Secret(random_hex(32))
}

/// M1: six digits, uniformly distributed, leading zeros kept.
pub fn new_code() -> Secret {
    Secret(format!("{:06}", OsRng.gen_range(0..1_000_000u32)))
}

/// SHA-256 hex digest used for stored tokens, codes and session ids.
pub fn digest(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// M10: constant-time equality of two strings (length may leak, content may not).
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Where one-time codes and emailed link tokens come from, injected through `Deps` like the
/// clock, so tests can name the code a person will receive instead of reading it out of a
/// message. Production uses [`OsRandom`] (M1, F2: the OS CSPRNG).
pub trait Random: Send + Sync {
    /// M1: six uniformly random digits.
    fn code(&self) -> Secret;
    /// F2: a token of `bytes` random bytes, hex-encoded.
    fn token(&self, bytes: usize) -> Secret;
}

/// The OS CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn code(&self) -> Secret {
        new_code()
    }
    fn token(&self, bytes: usize) -> Secret {
        Secret(random_hex(bytes))
    }
}

/// Test double: codes a test scripted come out first, in order, then random ones; tokens are
/// always random. Tests only.
#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Default)]
pub struct ScriptedRandom {
    codes: std::sync::Mutex<std::collections::VecDeque<String>>,
}

#[cfg(any(test, feature = "testing"))]
impl ScriptedRandom {
    /// The next code sent will be `code`.
    pub fn next_code(&self, code: &str) {
        if let Ok(mut q) = self.codes.lock() {
            q.push_back(code.to_string());
        }
    }
}

#[cfg(any(test, feature = "testing"))]
impl Random for ScriptedRandom {
    fn code(&self) -> Secret {
        let scripted = self.codes.lock().ok().and_then(|mut q| q.pop_front());
        scripted.map(Secret).unwrap_or_else(new_code)
    }
    fn token(&self, bytes: usize) -> Secret {
        OsRandom.token(bytes)
    }
}

/// A new random id for rows (not a secret, but unguessable anyway).
pub fn new_id() -> String {
    random_hex(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m1_codes_are_six_digits() {
        for _ in 0..200 {
            let c = new_code();
            assert_eq!(c.expose().len(), 6);
            assert!(c.expose().chars().all(|ch| ch.is_ascii_digit()));
        }
    }

    #[test]
    fn s1_tokens_have_256_bits_and_differ() {
        let a = new_token();
        let b = new_token();
        assert_eq!(a.expose().len(), 64);
        assert_ne!(a, b);
    }

    #[test]
    fn g1_secret_debug_never_prints_the_value() {
        let s = Secret::new("123456");
        assert!(!format!("{s:?}").contains("123456"));
    }

    #[test]
    fn m10_ct_eq_compares_content() {
        assert!(ct_eq("123456", "123456"));
        assert!(!ct_eq("123456", "123457"));
        assert!(!ct_eq("123456", "12345"));
    }

    #[test]
    fn digest_is_sha256_hex() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
