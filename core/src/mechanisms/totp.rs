//! Authenticator-app codes (RFC 6238) and their enrolment material.
//!
//! - M3: SHA-1, six digits, 30-second steps, one step of skew either way. A code is accepted only
//!   for a time step later than the last one accepted ([`check`] takes `last_used_step`; the store
//!   records the new step atomically), so a code cannot be replayed.
//! - M4: secrets carry 160 bits from the OS CSPRNG, are shown only during enrolment (setup key,
//!   QR code) and are stored encrypted (see `crypto`). [`TotpSecret`] never prints itself.
//! - M10: the comparison inside totp-rs is over fixed-length tokens; we add nothing time-variant.

use crate::values::clock::Timestamp;
use rand::rngs::OsRng;
use rand::RngCore;
use totp_rs::{Algorithm, Builder, Secret, Totp};

pub const STEP_SECS: u64 = 30;
pub const SECRET_BYTES: usize = 20;
pub const ISSUER: &str = "Gatehouse";

/// A raw TOTP secret. No `Debug`/`Display`: it must never reach a log (G1).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    #[error("That code is not correct.")]
    Invalid,
    #[error("That code was already used. Wait for the next one.")]
    Replayed,
    #[error("internal TOTP error")]
    Internal,
}

impl TotpSecret {
    /// M4: 160 random bits.
    pub fn generate() -> Self {
        let mut b = vec![0u8; SECRET_BYTES];
        OsRng.fill_bytes(&mut b);
        Self(b)
    }
    pub fn from_bytes(b: Vec<u8>) -> Self {
        Self(b)
    }
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    fn totp(&self, account: &str) -> Result<Totp, TotpError> {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(STEP_SECS)
            .with_secret(Secret::from(self.0.clone()))
            .with_issuer(Some(ISSUER))
            .with_account_name(account.to_string())
            .build()
            .map_err(|_| TotpError::Internal)
    }

    /// The key a person types into their app: base32, in groups of four.
    /// The secret behind a setup key as shown to people (base32, spaces allowed); `None` when
    /// the text is not base32. Tests and support tools read keys back with it.
    pub fn from_setup_key(key: &str) -> Option<Self> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let (mut bits, mut acc, mut out) = (0u32, 0u64, Vec::new());
        for ch in key
            .bytes()
            .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        {
            let v = ALPHABET
                .iter()
                .position(|a| *a == ch.to_ascii_uppercase())? as u64;
            acc = (acc << 5) | v;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        Some(Self::from_bytes(out))
    }

    pub fn setup_key(&self) -> String {
        let b32 = Secret::from(self.0.clone()).to_base32();
        b32.as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The `otpauth://` URI the QR code carries.
    pub fn otpauth_url(&self, account: &str) -> Result<String, TotpError> {
        self.totp(account)?
            .to_url()
            .map_err(|_| TotpError::Internal)
    }

    /// The code for `now` (tests and the enrolment self-check).
    pub fn code_at(&self, now: Timestamp) -> Result<String, TotpError> {
        Ok(self.totp("x")?.generate(now.max(0) as u64).to_string())
    }
}

/// M3: returns the matched time step if `code` is valid at `now` (±1 step) and newer than
/// `last_used_step`.
pub fn check(
    secret: &TotpSecret,
    code: &str,
    now: Timestamp,
    last_used_step: Option<i64>,
) -> Result<i64, TotpError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return Err(TotpError::Invalid);
    }
    let totp = secret.totp("x")?;
    let step = totp
        .check(&code, now.max(0) as u64)
        .ok_or(TotpError::Invalid)? as i64;
    match last_used_step {
        Some(last) if step <= last => Err(TotpError::Replayed),
        _ => Ok(step),
    }
}

/// An SVG QR code for `data`, drawn as one path (no scripts, no external resources).
pub fn qr_svg(data: &str) -> Result<String, TotpError> {
    let qr = qrcodegen::QrCode::encode_text(data, qrcodegen::QrCodeEcc::Medium)
        .map_err(|_| TotpError::Internal)?;
    let size = qr.size();
    let border = 4;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    let dim = size + 2 * border;
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {dim} {dim}\" shape-rendering=\"crispEdges\">\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setup_key_reads_back_to_the_same_secret() {
        let s = TotpSecret::generate();
        let back = TotpSecret::from_setup_key(&s.setup_key().to_lowercase()).expect("base32");
        assert_eq!(back.bytes(), s.bytes());
        assert!(TotpSecret::from_setup_key("not base32!").is_none());
    }

    // RFC 6238 appendix B test secret (ASCII "12345678901234567890"), SHA-1, 8 digits there;
    // the last six digits of its published values are the 6-digit codes.
    fn rfc() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec())
    }

    #[test]
    fn m3_codes_match_rfc_6238_test_vectors() {
        assert_eq!(rfc().code_at(59).ok().as_deref(), Some("287082"));
        assert_eq!(rfc().code_at(1_111_111_109).ok().as_deref(), Some("081804"));
        assert_eq!(rfc().code_at(1_234_567_890).ok().as_deref(), Some("005924"));
        assert_eq!(rfc().code_at(2_000_000_000).ok().as_deref(), Some("279037"));
    }

    #[test]
    fn m3_one_step_of_skew_either_way_and_no_more() {
        let s = rfc();
        let t = 1_234_567_890;
        let code = s.code_at(t).unwrap_or_default();
        assert!(check(&s, &code, t - 30, None).is_ok(), "one step early");
        assert!(check(&s, &code, t + 30, None).is_ok(), "one step late");
        assert_eq!(
            check(&s, &code, t + 60, None),
            Err(TotpError::Invalid),
            "two steps late"
        );
        assert_eq!(
            check(&s, &code, t - 60, None),
            Err(TotpError::Invalid),
            "two steps early"
        );
    }

    #[test]
    fn m3_a_code_is_refused_once_its_step_was_used() {
        let s = rfc();
        let t = 1_234_567_890;
        let code = s.code_at(t).unwrap_or_default();
        let step = check(&s, &code, t, None).expect("valid");
        assert_eq!(step, t / 30);
        assert_eq!(check(&s, &code, t, Some(step)), Err(TotpError::Replayed));
        let older = s.code_at(t - 30).unwrap_or_default();
        assert_eq!(
            check(&s, &older, t, Some(step)),
            Err(TotpError::Replayed),
            "an older step is refused too"
        );
        let next = s.code_at(t + 30).unwrap_or_default();
        assert_eq!(check(&s, &next, t + 30, Some(step)), Ok(step + 1));
    }

    #[test]
    fn m4_secrets_have_160_bits_and_never_print() {
        let a = TotpSecret::generate();
        assert_eq!(a.bytes().len(), 20);
        assert_ne!(a, TotpSecret::generate());
        assert_eq!(format!("{a:?}"), "TotpSecret(***)");
        let key = a.setup_key();
        assert_eq!(
            key.replace(' ', "").len(),
            32,
            "160 bits = 32 base32 characters"
        );
    }

    #[test]
    fn enrolment_material_names_the_issuer_and_draws_a_qr_code() {
        let s = rfc();
        let url = s.otpauth_url("ada@example.com").expect("url");
        assert!(
            url.starts_with("otpauth://totp/Gatehouse:ada%40example.com?")
                || url.starts_with("otpauth://totp/Gatehouse:ada@example.com?"),
            "{url}"
        );
        assert!(url.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"));
        let svg = qr_svg(&url).expect("svg");
        assert!(svg.starts_with("<svg") && svg.contains("<path d=\"M") && !svg.contains("script"));
    }

    #[test]
    fn malformed_codes_are_invalid() {
        for bad in ["", "12345", "1234567", "12a456"] {
            assert_eq!(
                check(&rfc(), bad, 59, None),
                Err(TotpError::Invalid),
                "{bad}"
            );
        }
    }
}
