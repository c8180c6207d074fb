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

/// F2: a 128-bit token, short enough for a link in a text message.
pub fn new_short_token() -> Secret {
    Secret(random_hex(16))
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
