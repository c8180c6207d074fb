//! Encryption at rest for secrets that must be read back (M4: TOTP secrets).
//!
//! AES-256-GCM with a random 96-bit nonce per value; the stored form is
//! `v1:<hex nonce>:<hex ciphertext+tag>`, so the scheme can change later without guessing. The
//! user id is bound as associated data: a ciphertext copied to another user's row fails to open.
//! The key comes from configuration (a generated key file in dev mode) and never prints itself.
//!
//! The same key also keys HMAC-SHA256 ([`SecretKey::mac`]) for values that are only compared,
//! never read back: recovery codes (F2), the signed flash cookie. A leaked database alone then
//! cannot test guesses offline.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::rngs::OsRng;
use rand::RngCore;

#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the encryption key must be 64 hex characters (32 bytes)")]
    BadKey,
    #[error("stored secret cannot be decrypted (wrong key or damaged value)")]
    Open,
}

impl SecretKey {
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        OsRng.fill_bytes(&mut k);
        Self(k)
    }

    pub fn from_hex(s: &str) -> Result<Self, CryptoError> {
        let v = hex::decode(s.trim()).map_err(|_| CryptoError::BadKey)?;
        let k: [u8; 32] = v.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(Self(k))
    }

    /// For writing a generated key file (dev mode) — the only place the key leaves memory.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// HMAC-SHA256 of `data` under this key, separated by `context`, as hex.
    pub fn mac(&self, context: &str, data: &[u8]) -> String {
        use hmac::{Hmac, Mac};
        let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        m.update(context.as_bytes());
        m.update(&[0]);
        m.update(data);
        hex::encode(m.finalize().into_bytes())
    }

    /// Constant-time check of a [`SecretKey::mac`] value (M10).
    pub fn verify_mac(&self, context: &str, data: &[u8], mac: &str) -> bool {
        crate::mechanisms::secret::ct_eq(&self.mac(context, data), mac)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.0))
    }

    pub fn seal(&self, plaintext: &[u8], bound_to: &str) -> Result<String, CryptoError> {
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: bound_to.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Open)?;
        Ok(format!("v1:{}:{}", hex::encode(nonce), hex::encode(ct)))
    }

    pub fn open(&self, sealed: &str, bound_to: &str) -> Result<Vec<u8>, CryptoError> {
        let mut parts = sealed.split(':');
        let (Some("v1"), Some(n), Some(c), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CryptoError::Open);
        };
        let nonce = hex::decode(n).map_err(|_| CryptoError::Open)?;
        let ct = hex::decode(c).map_err(|_| CryptoError::Open)?;
        if nonce.len() != 12 {
            return Err(CryptoError::Open);
        }
        self.cipher()
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &ct,
                    aad: bound_to.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m4_sealed_secrets_round_trip_and_hide_the_plaintext() {
        let k = SecretKey::generate();
        let sealed = k.seal(b"totp secret bytes!!!", "user-1").expect("seal");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains(&hex::encode(b"totp secret bytes!!!")));
        assert_ne!(
            sealed,
            k.seal(b"totp secret bytes!!!", "user-1").expect("seal"),
            "fresh nonce each time"
        );
        assert_eq!(
            k.open(&sealed, "user-1").expect("open"),
            b"totp secret bytes!!!"
        );
    }

    #[test]
    fn m4_wrong_key_wrong_user_or_tampering_fail_to_open() {
        let k = SecretKey::generate();
        let sealed = k.seal(b"secret", "user-1").expect("seal");
        assert_eq!(
            SecretKey::generate().open(&sealed, "user-1"),
            Err(CryptoError::Open)
        );
        assert_eq!(
            k.open(&sealed, "user-2"),
            Err(CryptoError::Open),
            "bound to its user"
        );
        let mut tampered = sealed.clone();
        let last = tampered
            .pop()
            .map(|c| if c == '0' { '1' } else { '0' })
            .unwrap_or('0');
        tampered.push(last);
        assert_eq!(k.open(&tampered, "user-1"), Err(CryptoError::Open));
        assert_eq!(k.open("garbage", "user-1"), Err(CryptoError::Open));
    }

    #[test]
    fn keys_parse_from_64_hex_characters_and_never_print() {
        let k = SecretKey::generate();
        assert!(SecretKey::from_hex(&k.to_hex()).is_ok());
        assert_eq!(SecretKey::from_hex("abcd").err(), Some(CryptoError::BadKey));
        assert_eq!(format!("{k:?}"), "SecretKey(***)");
    }
}
