//! How a person confirms it is them, as types: the account's [`MfaMethod`], and what a
//! one-time-code challenge is for and where its code comes from (M2, R6).
//!
//! A challenge's kind is a [`Purpose`] × [`Factor`]. Every caller asks only for challenges of its
//! own purpose, so a code asked for one purpose can never finish another, and every purpose has
//! its own send and attempt budgets (R6). The stored text (`login_email`, `reauth_sms`,
//! `phone_verify`…) is written and read through one table, [`ChallengeKind::as_str`] and
//! [`ChallengeKind::parse`]; no code looks inside the string.
//!
//! Pure values: this module also compiles into the WASM, so pages and wire types carry these
//! enums, never `"email"|"sms"|"totp"` strings.

use serde::{Deserialize, Serialize};

/// The account's second factor (stored as `email`, `totp`, `sms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MfaMethod {
    Email,
    /// An authenticator app (TOTP); active only after one valid code (M4).
    Authenticator,
    /// Text messages to a verified phone (M9).
    Sms,
}

impl MfaMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            MfaMethod::Email => "email",
            MfaMethod::Authenticator => "totp",
            MfaMethod::Sms => "sms",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(MfaMethod::Email),
            "totp" => Some(MfaMethod::Authenticator),
            "sms" => Some(MfaMethod::Sms),
            _ => None,
        }
    }
}

/// Why a code was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    SignIn,
    /// S5: confirming it is you before a security change.
    Reauth,
    /// M9: a new phone number answering before text messages become the method (Security tab).
    PhoneVerification,
    /// M9/S5: a new phone number answering before it replaces the account's phone (Profile tab);
    /// the method stays what it is.
    PhoneChange,
    /// F6: a password reset by text message.
    Recovery,
}

impl Purpose {
    /// The leading text of every stored kind of this purpose (the store selects by it).
    pub fn prefix(self) -> &'static str {
        match self {
            Purpose::SignIn => "login_",
            Purpose::Reauth => "reauth_",
            Purpose::PhoneVerification => "phone_",
            Purpose::Recovery => "recover_",
            // Not "phone…": a prefix that starts another purpose's would select its challenges.
            Purpose::PhoneChange => "newphone_",
        }
    }

    /// R6: the name of this purpose's budgets (sends per destination, codes per account).
    pub fn budget(self) -> &'static str {
        let p = self.prefix();
        &p[..p.len() - 1]
    }
}

/// Where the code comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Factor {
    Email,
    Sms,
    Authenticator,
    /// M4: the first code of an authenticator being set up.
    AuthenticatorEnrolment,
    /// M9/M13: the first text message to a phone being set up as the method.
    SmsEnrolment,
}

impl Factor {
    /// The code arrives by text message.
    pub fn by_sms(self) -> bool {
        matches!(self, Factor::Sms | Factor::SmsEnrolment)
    }

    /// What the code step shows for this factor.
    pub fn step(self) -> StepKind {
        match self {
            Factor::Email => StepKind::EmailCode,
            Factor::Sms | Factor::SmsEnrolment => StepKind::SmsCode,
            Factor::Authenticator => StepKind::Authenticator,
            Factor::AuthenticatorEnrolment => StepKind::SetUpAuthenticator,
        }
    }
}

/// A challenge's kind: one purpose, one factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChallengeKind {
    pub purpose: Purpose,
    pub factor: Factor,
}

/// Every kind that exists, with its stored text (one table for both directions).
const KINDS: [(ChallengeKind, &str); 11] = {
    use Factor as F;
    use Purpose as P;
    const fn k(purpose: Purpose, factor: Factor) -> ChallengeKind {
        ChallengeKind { purpose, factor }
    }
    [
        (k(P::SignIn, F::Email), "login_email"),
        (k(P::SignIn, F::Sms), "login_sms"),
        (k(P::SignIn, F::Authenticator), "login_totp"),
        (k(P::SignIn, F::AuthenticatorEnrolment), "login_totp_enroll"),
        (k(P::SignIn, F::SmsEnrolment), "login_sms_enroll"),
        (k(P::Reauth, F::Email), "reauth_email"),
        (k(P::Reauth, F::Sms), "reauth_sms"),
        (k(P::Reauth, F::Authenticator), "reauth_totp"),
        (k(P::PhoneVerification, F::Sms), "phone_verify"),
        (k(P::Recovery, F::Sms), "recover_sms"),
        (k(P::PhoneChange, F::Sms), "newphone_sms"),
    ]
};

impl ChallengeKind {
    pub const fn new(purpose: Purpose, factor: Factor) -> Self {
        Self { purpose, factor }
    }

    /// The stored text. A combination outside the table is a programming error (caught by a
    /// `debug_assert` in tests); in a release build it is stored as `"invalid"`, which
    /// [`parse`](Self::parse) refuses, so such a challenge can never be passed.
    pub fn as_str(self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _)| *k == self)
            .map(|(_, s)| *s)
            .unwrap_or_else(|| {
                debug_assert!(false, "no stored name for {self:?}");
                "invalid"
            })
    }

    pub fn parse(text: &str) -> Option<Self> {
        KINDS.iter().find(|(_, s)| *s == text).map(|(k, _)| *k)
    }
}

/// Which kind of code a code step asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepKind {
    EmailCode,
    /// A code by text message (also the first one, which verifies the number: M9).
    SmsCode,
    Authenticator,
    SetUpAuthenticator,
}

/// An email or phone destination as shown on screen.
pub fn mask(destination: &str) -> String {
    if let Ok(p) = crate::values::phone::Phone::parse(destination) {
        return p.masked();
    }
    crate::values::email::Email::parse(destination)
        .map(|e| e.masked())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_stored_text() {
        for (k, s) in KINDS {
            assert_eq!(k.as_str(), s);
            assert_eq!(ChallengeKind::parse(s), Some(k));
            assert!(s.starts_with(k.purpose.prefix()), "{s}");
        }
        assert_eq!(ChallengeKind::parse("login_"), None);
        assert_eq!(ChallengeKind::parse("invalid"), None);
    }

    #[test]
    fn r6_budgets_are_named_per_purpose() {
        assert_eq!(Purpose::SignIn.budget(), "login");
        assert_eq!(Purpose::Reauth.budget(), "reauth");
        assert_eq!(Purpose::PhoneVerification.budget(), "phone");
        assert_eq!(Purpose::Recovery.budget(), "recover");
        assert_eq!(Purpose::PhoneChange.budget(), "newphone");
    }

    /// M2: the store selects a purpose's challenges by the leading text of the stored kind, so
    /// no purpose's prefix may begin another's (a code for one could then finish the other).
    #[test]
    fn m2_no_purpose_prefix_begins_another() {
        let all = [
            Purpose::SignIn,
            Purpose::Reauth,
            Purpose::PhoneVerification,
            Purpose::Recovery,
            Purpose::PhoneChange,
        ];
        for a in all {
            for b in all.into_iter().filter(|b| *b != a) {
                assert!(!b.prefix().starts_with(a.prefix()), "{a:?} selects {b:?}");
            }
            assert!(
                KINDS.iter().any(|(k, _)| k.purpose == a),
                "{a:?} has no kind"
            );
        }
    }

    #[test]
    fn sms_factors_say_so_and_show_the_sms_step() {
        assert!(Factor::SmsEnrolment.by_sms());
        assert!(!Factor::Email.by_sms());
        assert_eq!(Factor::SmsEnrolment.step(), StepKind::SmsCode);
        assert_eq!(
            Factor::AuthenticatorEnrolment.step(),
            StepKind::SetUpAuthenticator
        );
    }
}
