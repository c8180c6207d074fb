//! Password policy, shared by the server (which decides) and the browser (which only hints).
//!
//! - P1: minimum length, configurable 6..=64 (default 8), counted in Unicode code points after NFKC.
//! - P2: maximum 128 code points with a clear message; never truncated; any character allowed.
//! - P3: no composition rules; [`strength`] is advisory only.
//! - P4: the password may not be one of the 10 000 most common passwords (bundled data file
//!   `core/data/common-passwords.txt`, from the MIT-licensed zxcvbn-ts frequency list, matched
//!   case-insensitively) nor contain the email local part, the person's names or the product
//!   name. The blocklist is checked where the decision is made — on the server; the browser build
//!   leaves the 77 KB list out and hints with the other rules.

use serde::{Deserialize, Serialize};

pub const DEFAULT_MIN_LENGTH: usize = 8;
pub const MIN_ALLOWED: usize = 6;
pub const MAX_MIN_LENGTH: usize = 64;
pub const MAX_LENGTH: usize = 128;
pub const PRODUCT_WORD: &str = "gatehouse";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    pub min_length: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: DEFAULT_MIN_LENGTH,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("Use at least {0} characters.")]
    TooShort(usize),
    #[error("Use at most {MAX_LENGTH} characters.")]
    TooLong,
    #[error("Don't use your name, your email address or \"{PRODUCT_WORD}\" in your password.")]
    ContainsContext,
    #[error("This password is one of the most common ones. Choose something harder to guess.")]
    Common,
    #[error("The passwords do not match.")]
    Mismatch,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password.min_length must be between {MIN_ALLOWED} and {MAX_MIN_LENGTH}, got {0}")]
pub struct PolicyError(pub usize);

/// Words a password must not contain (P4): email local part, names, product.
#[derive(Debug, Clone, Default)]
pub struct Context<'a> {
    pub words: Vec<&'a str>,
}

impl PasswordPolicy {
    /// P1: the allowed range for the configured minimum.
    pub fn new(min_length: usize) -> Result<Self, PolicyError> {
        if (MIN_ALLOWED..=MAX_MIN_LENGTH).contains(&min_length) {
            Ok(Self { min_length })
        } else {
            Err(PolicyError(min_length))
        }
    }

    /// The normalised form that is hashed and measured (P1).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn normalize(password: &str) -> String {
        use unicode_normalization::UnicodeNormalization;
        password.nfkc().collect()
    }

    /// The normalised form, computed by the browser's own Unicode tables (hints only; the
    /// server decides).
    #[cfg(target_arch = "wasm32")]
    pub fn normalize(password: &str) -> String {
        js_sys::JsString::from(password).normalize("NFKC").into()
    }

    /// Checks a new password; returns the NFKC form to hash.
    pub fn check(&self, password: &str, ctx: &Context<'_>) -> Result<String, PasswordError> {
        let normalized = Self::normalize(password);
        let len = normalized.chars().count();
        if len < self.min_length {
            return Err(PasswordError::TooShort(self.min_length));
        }
        if len > MAX_LENGTH {
            return Err(PasswordError::TooLong);
        }
        let lower = normalized.to_lowercase();
        let hit = ctx
            .words
            .iter()
            .chain(std::iter::once(&PRODUCT_WORD))
            .map(|w| w.trim().to_lowercase())
            .filter(|w| w.chars().count() >= 3)
            .any(|w| lower.contains(&w));
        if hit {
            return Err(PasswordError::ContainsContext);
        }
        if is_common(&lower) {
            return Err(PasswordError::Common);
        }
        Ok(normalized)
    }

    /// Checks new password + confirmation, as every form with a confirm field does.
    pub fn check_pair(
        &self,
        password: &str,
        confirm: &str,
        ctx: &Context<'_>,
    ) -> Result<String, PasswordError> {
        let normalized = self.check(password, ctx)?;
        if Self::normalize(confirm) != normalized {
            return Err(PasswordError::Mismatch);
        }
        Ok(normalized)
    }
}

/// P4: whether `lower` (lower-cased) is on the bundled list of common passwords.
#[cfg(not(target_arch = "wasm32"))]
pub fn is_common(lower: &str) -> bool {
    use std::collections::HashSet;
    use std::sync::OnceLock;
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("../../data/common-passwords.txt")
            .lines()
            .collect()
    })
    .contains(lower)
}

/// The browser build does not carry the list; the server decides (P4).
#[cfg(target_arch = "wasm32")]
pub fn is_common(_lower: &str) -> bool {
    false
}

/// Advisory strength, 0 (very weak) ..= 4 (strong) (P3: shown, never enforced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Strength(pub u8);

impl Strength {
    pub fn label(self) -> &'static str {
        match self.0 {
            0 => "Very weak",
            1 => "Weak",
            2 => "Fair",
            3 => "Good",
            _ => "Strong",
        }
    }
}

/// A rough entropy estimate: length times the log of the alphabet in use, discounted for repeats.
pub fn strength(password: &str) -> Strength {
    let p = PasswordPolicy::normalize(password);
    if p.is_empty() {
        return Strength(0);
    }
    let mut pool = 0u32;
    if p.chars().any(|c| c.is_ascii_lowercase()) {
        pool += 26;
    }
    if p.chars().any(|c| c.is_ascii_uppercase()) {
        pool += 26;
    }
    if p.chars().any(|c| c.is_ascii_digit()) {
        pool += 10;
    }
    if p.chars().any(|c| c.is_ascii_punctuation() || c == ' ') {
        pool += 33;
    }
    if !p.is_ascii() {
        pool += 100;
    }
    let mut distinct: Vec<char> = p.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    let effective_len =
        distinct.len().min(p.chars().count()) as f64 * 0.5 + p.chars().count() as f64 * 0.5;
    let bits = effective_len * f64::from(pool.max(1)).log2();
    Strength(match bits as u32 {
        0..=27 => 0,
        28..=39 => 1,
        40..=59 => 2,
        60..=79 => 3,
        _ => 4,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context<'static> {
        Context {
            words: vec!["ada", "lovelace", "ada.l"],
        }
    }

    #[test]
    fn p1_min_length_is_configurable_within_6_to_64() {
        assert!(PasswordPolicy::new(5).is_err());
        assert!(PasswordPolicy::new(65).is_err());
        assert_eq!(PasswordPolicy::new(6).map(|p| p.min_length), Ok(6));
        let p = PasswordPolicy::default();
        assert_eq!(p.check("short12", &ctx()), Err(PasswordError::TooShort(8)));
        assert!(p.check("longer12", &ctx()).is_ok());
    }

    #[test]
    fn p1_length_is_counted_in_code_points_after_nfkc() {
        let p = PasswordPolicy::new(6).unwrap_or_default();
        // Six fullwidth letters normalise to six ASCII letters: six code points, not 18 bytes.
        assert!(p.check("ｔｕｌｉｐｚ", &Context::default()).is_ok());
        assert_eq!(
            p.check("ｔｕｌｉｐ", &Context::default()),
            Err(PasswordError::TooShort(6))
        );
        assert_eq!(
            p.check("ｔｕｌｉｐｚ", &Context::default()),
            Ok("tulipz".to_string())
        );
    }

    #[test]
    fn p2_maximum_is_128_and_never_truncated() {
        let p = PasswordPolicy::default();
        let ok = "x7 ".repeat(42) + "ab";
        assert_eq!(ok.chars().count(), 128);
        assert_eq!(p.check(&ok, &ctx()).map(|s| s.chars().count()), Ok(128));
        assert_eq!(p.check(&(ok + "c"), &ctx()), Err(PasswordError::TooLong));
    }

    #[test]
    fn p3_no_composition_rules_any_unicode_and_spaces_allowed() {
        let p = PasswordPolicy::default();
        assert!(p.check("correct horse battery staple", &ctx()).is_ok());
        assert!(p.check("ŝŝŝŝŝŝŝŝ", &ctx()).is_ok());
        assert!(p.check("aaaaaaaa", &ctx()).is_ok());
    }

    #[test]
    fn p4_context_words_are_refused_case_insensitively() {
        let p = PasswordPolicy::default();
        assert_eq!(
            p.check("xxLoveLace99", &ctx()),
            Err(PasswordError::ContainsContext)
        );
        assert_eq!(
            p.check("my GateHouse pw", &ctx()),
            Err(PasswordError::ContainsContext)
        );
    }

    #[test]
    fn p4_the_10000_most_common_passwords_are_refused_case_insensitively() {
        let p = PasswordPolicy::default();
        let list = include_str!("../../data/common-passwords.txt");
        assert!(
            list.lines().count() >= 10_000,
            "P4: at least 10 000 entries"
        );
        for common in ["password1", "iloveyou", "QwertyUIOP", "sunshine1"] {
            assert_eq!(
                p.check(common, &ctx()),
                Err(PasswordError::Common),
                "{common}"
            );
        }
        // The last entry counts as much as the first.
        let last = list
            .lines()
            .rev()
            .find(|l| l.chars().count() >= 8)
            .unwrap_or("");
        assert_eq!(p.check(last, &ctx()), Err(PasswordError::Common), "{last}");
        assert!(p.check("tulip-rain-77", &ctx()).is_ok());
    }

    #[test]
    fn confirm_must_match() {
        let p = PasswordPolicy::default();
        assert_eq!(
            p.check_pair("tulip-rain-77", "tulip-rain-78", &ctx()),
            Err(PasswordError::Mismatch)
        );
        assert!(p
            .check_pair("tulip-rain-77", "tulip-rain-77", &ctx())
            .is_ok());
    }

    #[test]
    fn strength_grows_with_length_and_variety() {
        assert_eq!(strength(""), Strength(0));
        assert!(strength("abcdefgh") < strength("correct horse battery staple"));
        assert!(strength("aaaaaaaaaaaa") < strength("k3#Tq9!zW2mp"));
        assert_eq!(
            strength("Correct-Horse-Battery-Staple-42").label(),
            "Strong"
        );
    }
}
