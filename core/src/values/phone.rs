//! Phone numbers for SMS codes (M9, R4).
//!
//! - M9: a number is accepted only in E.164 form: `+`, a country code, at most 15 digits in all.
//!   People type spaces, dashes, dots and brackets; those are dropped, and a leading `00` is read
//!   as `+`. Anything else is refused with a message that says what to type.
//! - R4 (SMS pumping): SMS goes only to the calling codes the instance allows; outside them the
//!   answer is "not available in your area", never a send.
//!
//! Pure rules: compiled into the WASM too, so the browser hints with the server's messages.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("Enter your phone number.")]
    Empty,
    #[error("Enter the number with its country code, like +1 555 010 0200.")]
    Format,
    #[error("Text messages are not available in your area. Choose another method.")]
    NotAllowed,
}

/// A phone number in E.164 form (`+` and 8 to 15 digits).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Phone(String);

impl Phone {
    /// M9: parses what a person typed into E.164.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        let rest = if let Some(r) = trimmed.strip_prefix('+') {
            r
        } else if let Some(r) = trimmed.strip_prefix("00") {
            r
        } else {
            return Err(PhoneError::Format);
        };
        let mut digits = String::with_capacity(15);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(PhoneError::Format),
            }
        }
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(PhoneError::Format);
        }
        Ok(Phone(format!("+{digits}")))
    }

    /// Parses and checks the number against the allowed calling codes (R4), e.g. `["+1", "+44"]`.
    pub fn parse_allowed(input: &str, allowed: &[String]) -> Result<Self, PhoneError> {
        let p = Self::parse(input)?;
        if p.is_allowed(allowed) {
            Ok(p)
        } else {
            Err(PhoneError::NotAllowed)
        }
    }

    pub fn is_allowed(&self, allowed: &[String]) -> bool {
        allowed.iter().any(|code| {
            let code = code.trim();
            let code = code.strip_prefix('+').unwrap_or(code);
            !code.is_empty() && self.0[1..].starts_with(code)
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For screens and logs: the last four digits only, e.g. `+•••••••0200`.
    pub fn masked(&self) -> String {
        let digits = &self.0[1..];
        let keep = 4.min(digits.len());
        let (hidden, shown) = digits.split_at(digits.len() - keep);
        format!("+{}{}", "•".repeat(hidden.len()), shown)
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Phone {
    // G1: a phone number is personal data; debug output shows it masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m9_accepts_e164_with_the_usual_separators() {
        for input in ["+1 555 010 0200", "+1 (555) 010-0200", "001.555.010.0200"] {
            assert_eq!(
                Phone::parse(input).expect(input).as_str(),
                "+15550100200",
                "{input}"
            );
        }
    }

    #[test]
    fn m9_refuses_what_is_not_e164() {
        assert_eq!(Phone::parse("  "), Err(PhoneError::Empty));
        for input in [
            "555 010 0200",      // no country code
            "+1 555 010 02x0",   // letters
            "+0 555 010 0200",   // country codes never start with 0
            "+1234567",          // too short
            "+1234567890123456", // 16 digits
        ] {
            assert_eq!(Phone::parse(input), Err(PhoneError::Format), "{input}");
        }
    }

    #[test]
    fn r4_only_allowed_calling_codes() {
        let allowed = vec!["+1".to_string(), "44".to_string()];
        assert!(Phone::parse_allowed("+15550100200", &allowed).is_ok());
        assert!(Phone::parse_allowed("+447700900123", &allowed).is_ok());
        assert_eq!(
            Phone::parse_allowed("+88212345678", &allowed),
            Err(PhoneError::NotAllowed)
        );
        assert_eq!(
            Phone::parse_allowed("+15550100200", &[]),
            Err(PhoneError::NotAllowed),
            "an empty list allows nothing"
        );
    }

    #[test]
    fn g1_masked_and_debug_show_only_the_last_four_digits() {
        let p = Phone::parse("+15550100200").expect("phone");
        assert_eq!(p.masked(), "+•••••••0200");
        assert!(!format!("{p:?}").contains("555"));
    }
}
