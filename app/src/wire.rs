//! Types that cross the wire between server functions and components (compiled on both sides).

pub mod orgs;
pub mod support;

use gatehouse_core::values::factors::MfaMethod;
use gatehouse_core::values::failure::{Refusal, Shown};
use gatehouse_core::values::photo::AvatarSize;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A value percent-encoded for a query string (`/login?email=…`): everything but RFC 3986's
/// unreserved characters.
pub fn query_value(s: &str) -> String {
    const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, QUERY).to_string()
}

/// Fields whose values a [`Flash`] never keeps.
pub const SECRET_FIELDS: &[&str] = &[
    "password",
    "confirm",
    "current_password",
    "new_password",
    "code",
    "recovery_code",
    "token",
];

/// The outcome of a form submission, kept for the next render of that form: messages per field,
/// what the person typed (never passwords), and a notice for the whole form. Without JavaScript it
/// travels in a short-lived cookie across the POST → redirect → GET round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    pub form: String,
    pub errors: BTreeMap<String, String>,
    pub values: BTreeMap<String, String>,
    pub notice: Option<String>,
    pub form_error: Option<String>,
}

impl Flash {
    pub fn for_form(form: &str) -> Self {
        Self {
            form: form.into(),
            ..Self::default()
        }
    }
    pub fn error(&self, field: &str) -> Option<String> {
        self.errors.get(field).cloned()
    }
    pub fn value(&self, field: &str) -> String {
        self.values.get(field).cloned().unwrap_or_default()
    }
    pub fn with_error(mut self, field: &str, msg: impl Into<String>) -> Self {
        self.errors.insert(field.into(), msg.into());
        self
    }
    /// Keeps what was typed in `field` — never a secret: passwords, codes and recovery codes
    /// are dropped here, whoever asks, because the flash travels in a cookie.
    pub fn with_value(mut self, field: &str, v: &str) -> Self {
        if !SECRET_FIELDS.contains(&field) {
            self.values
                .insert(field.into(), v.chars().take(256).collect());
        }
        self
    }
    /// Keeps what was typed in each of `fields` ([`Flash::with_value`] drops the secrets).
    pub fn with_values(self, fields: &[(&str, &str)]) -> Self {
        fields.iter().fold(self, |f, (k, v)| f.with_value(k, v))
    }
    /// The refusal's message where it belongs: next to its field(s) or for the whole form.
    pub fn with_failure(mut self, e: AppError) -> Self {
        match e {
            AppError::Field { field, message } => self = self.with_error(&field, message),
            AppError::Fields(all) => {
                for (field, message) in all {
                    self = self.with_error(&field, message);
                }
            }
            AppError::Form(message) => self.form_error = Some(message),
            AppError::Busy => self.form_error = Some(BUSY.into()),
            AppError::Internal => self.form_error = Some(OOPS.into()),
        }
        self
    }
}

pub const BUSY: &str = "The server is busy. Try again in a moment.";
pub const OOPS: &str = "Something went wrong on our side. Please try again.";

/// The app's one error on the wire: where a refused action's message is shown. Built from any
/// core error through its [`Refusal`] (core decides per variant; the app never re-decides).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppError {
    Field {
        field: String,
        message: String,
    },
    Fields(Vec<(String, String)>),
    Form(String),
    /// P6: the server is busy (503 with Retry-After).
    Busy,
    /// A fault, logged on the server; the person reads [`OOPS`].
    Internal,
}

impl AppError {
    /// `field` is the input the action was about, for refusals shown next to it.
    pub fn from_refusal(e: &dyn Refusal, field: &str) -> Self {
        match e.shown() {
            Shown::Field => Self::Field {
                field: field.into(),
                message: e.to_string(),
            },
            Shown::Fields(all) => {
                Self::Fields(all.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }
            Shown::Form => Self::Form(e.to_string()),
            Shown::Busy => Self::Busy,
            Shown::Internal => Self::Internal,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoginStep {
    Email,
    Password,
    /// A code step, of core's kind (email or text message code, the authenticator's code, or
    /// setting the authenticator up); the UI never names an app (M4).
    Code(gatehouse_core::values::factors::StepKind),
    /// The new recovery codes, shown once.
    RecoveryCodes,
    SignedIn,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginView {
    pub step: LoginStep,
    pub email: String,
    pub destination: String,
    pub resend_in: i64,
    /// Enrolment only: the manual key and the QR code as an image URL (data: SVG).
    pub setup_key: String,
    pub qr_image: String,
    /// Recovery codes, on their one showing.
    pub codes: Vec<String>,
    /// O7: the application an authorization request waiting for this sign-in is for, and the
    /// request's id the first form posts back (`authz`).
    pub continues_to: Option<(String, String)>,
    pub flash: Flash,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterView {
    pub min_length: usize,
    /// Calling codes text messages may go to; empty when SMS is off (M9, R4).
    pub sms_country_codes: Vec<String>,
    pub flash: Flash,
}

/// The Profile tab (`/profile/details`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileView {
    pub me: Me,
    /// The verified phone in full (the person's own, in the field they edit); empty when none.
    pub phone: String,
    /// M9: a code went to this (masked) new number; it is stored once the code comes back.
    pub verifying_phone: Option<String>,
    /// S5: a phone change needs a fresh re-authentication.
    pub reauth: ReauthView,
    /// R4: text messages can be sent at all (some calling codes are allowed).
    pub sms_available: bool,
    pub flash: Flash,
}

/// `/profile`: the Dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardView {
    pub me: Me,
    /// The sign-in before this one: (when, from which address, which browser).
    pub previous_sign_in: Option<(String, String, String)>,
    /// Issue 14: invitations to organizations waiting for an answer.
    pub invitations: Vec<orgs::WaitingItem>,
    pub flash: Flash,
}

/// What the avatar actions answer a script caller (the cropper): the outcome, and the avatar's
/// public id afterwards (`None`: the initials show).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvatarAnswer {
    pub flash: Flash,
    pub avatar: Option<String>,
}

/// Where re-authentication stands (S5), on the Security tab and for the Profile tab's phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReauthView {
    /// Sensitive changes are allowed for this many more minutes.
    Fresh {
        minutes_left: i64,
    },
    Password,
    /// A code from the app (`by_app`) or sent to `destination`.
    Code {
        by_app: bool,
        destination: String,
        resend_in: i64,
    },
}

#[cfg(feature = "ssr")]
impl ReauthView {
    /// The page's words for core's state at `now`.
    pub fn of(r: gatehouse_core::mechanisms::reauth::Reauth, now: i64) -> Self {
        use gatehouse_core::mechanisms::reauth::Reauth;
        use gatehouse_core::values::factors::StepKind;
        match r {
            Reauth::Fresh { until } => ReauthView::Fresh {
                minutes_left: ((until - now) + 59) / 60,
            },
            Reauth::Password => ReauthView::Password,
            Reauth::Code {
                kind,
                masked,
                resend_in,
            } => ReauthView::Code {
                by_app: kind == StepKind::Authenticator,
                destination: masked,
                resend_in,
            },
        }
    }
}

impl ReauthView {
    /// S5: sensitive changes go through now.
    pub fn fresh(&self) -> bool {
        matches!(self, ReauthView::Fresh { .. })
    }
}

/// The Security tab (`/profile/security`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityView {
    /// `me.mfa_method` is the active method.
    pub me: Me,
    /// Where codes go now, masked (email address or phone).
    pub destination: String,
    /// M13: a factor waiting to be set up at the next sign-in, in words, with its expiry.
    pub pending: Option<String>,
    pub recovery_codes_left: i64,
    pub reauth: ReauthView,
    /// A code went to this (masked) number to verify it.
    pub verifying_phone: Option<String>,
    /// New recovery codes on their one showing.
    pub new_codes: Vec<String>,
    pub sms_country_codes: Vec<String>,
    /// P1: for the new-password hints.
    pub min_length: usize,
    /// F8: a reset link is out: (sent at, expires at), as UTC times.
    pub reset_link: Option<(String, String)>,
    /// S4: the signed-in sessions, this one first.
    pub sessions: Vec<SessionItem>,
    /// G1: the newest security events.
    pub activity: Vec<ActivityItem>,
    /// Issue 13: applications signed in to through Gatehouse.
    pub applications: Vec<ApplicationItem>,
    /// F7: what the person's organizations allow, when they restrict the methods.
    pub org_rules: Option<String>,
    pub flash: Flash,
}

/// One application on the Security tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationItem {
    pub client_id: String,
    pub name: String,
    /// What it may see, in words.
    pub sees: String,
    pub last_used: String,
}

/// One signed-in session on the Security tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionItem {
    /// Names the session to the "Sign out" button: a prefix of its stored digest (S1).
    pub handle: String,
    pub current: bool,
    pub device: String,
    pub ip: String,
    pub since: String,
    pub last_seen: String,
}

/// One line of the activity log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityItem {
    pub what: String,
    pub when: String,
    pub ip: String,
}

/// The signed-in person, as the top bar and profile show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub mfa_method: MfaMethod,
    /// The avatar's public id (U2: its URLs come from [`AvatarSize::path`]).
    pub avatar: Option<String>,
    /// Issue 14: the organizations in the top-bar menu.
    #[serde(default)]
    pub orgs: Vec<orgs::OrgLink>,
}

#[cfg(feature = "ssr")]
impl From<gatehouse_core::mechanisms::users::User> for Me {
    fn from(u: gatehouse_core::mechanisms::users::User) -> Self {
        Self {
            first_name: u.first_name,
            last_name: u.last_name,
            email: u.email.to_string(),
            mfa_method: u.mfa_method,
            avatar: u.avatar_id,
            orgs: Vec::new(),
        }
    }
}

impl Me {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_string()
    }
    /// The avatar's URL at `size`, if the person has one.
    pub fn avatar_url(&self, size: AvatarSize) -> Option<String> {
        self.avatar.as_deref().map(|id| size.path(id))
    }
    pub fn initials(&self) -> String {
        initials(&self.first_name, &self.last_name)
    }
}

/// What the avatar shows without a picture: the names' first letters, upper case.
pub fn initials(first_name: &str, last_name: &str) -> String {
    first_name
        .chars()
        .take(1)
        .chain(last_name.chars().take(1))
        .collect::<String>()
        .to_uppercase()
}

/// `/forgot-password`: the email to prefill (from the sign-in flow) and the outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgotView {
    pub email: String,
    pub step: ForgotStep,
    /// F7: the ways offered.
    pub email_link: bool,
    pub sms_code: bool,
    pub min_length: usize,
    pub flash: Flash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ForgotStep {
    /// Email (and the recovery method when several are on).
    Request,
    /// F6: the code sent by text message.
    Code,
    /// F6: the code was right; the new password.
    NewPassword,
    /// "Your password has been reset."
    Done,
}

/// `/reset-password`: whether the link (held in a cookie, F4) still works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetView {
    pub link_live: bool,
    pub min_length: usize,
    pub flash: Flash,
}

/// E4: the verification page — who registered the address and when, before anything changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyView {
    /// The link can still be used.
    pub live: bool,
    pub email: String,
    /// The name given at registration.
    pub name: String,
    pub registered_at: String,
    pub flash: Flash,
}

/// `/confirm-email`: support's email change, before (and after) an address confirms it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailChangeView {
    /// The link can still be used.
    pub live: bool,
    /// The link went to the address in use (not the new one).
    pub to_current: bool,
    pub name: String,
    pub old_email: String,
    pub new_email: String,
    pub expires_at: String,
    pub flash: Flash,
}

/// `/oauth2/consent`: a third-party application asks to use the person's account (issue 13).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentView {
    /// A parked request and a signed-in person: there is something to answer.
    pub live: bool,
    pub client_name: String,
    /// What the application will see, in words.
    pub claims: Vec<String>,
    /// O7: the id of the request shown; the form posts it back (`request`).
    pub request: String,
}

/// `/oauth2/reauthenticate` (O8): a signed-in person proves it again for an application that
/// asked for a newer sign-in (`prompt=login`, `max_age`); the session stays as it is until then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcReauthView {
    /// A parked request and a signed-in person: there is something to do.
    pub live: bool,
    pub client_name: String,
    pub reauth: ReauthView,
    /// O7: the id of the request shown; the password form posts it back (`authz`).
    pub request: String,
    pub flash: Flash,
}

/// How long codes, links and the re-authentication window last, as pages say it: read from the
/// running instance's settings, never written as literals in a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub code_minutes: i64,
    pub reauth_minutes: i64,
    pub verify_hours: i64,
}

impl Lifetimes {
    /// The settings of this instance (pages render on the server only, in islands mode).
    pub fn current() -> Self {
        #[cfg(feature = "ssr")]
        if let Some(st) = leptos::prelude::use_context::<crate::server_ctx::AppState>() {
            let s = &st.deps.settings;
            return Self {
                code_minutes: s.code_ttl_secs / 60,
                reauth_minutes: gatehouse_core::mechanisms::reauth::WINDOW_SECS / 60,
                verify_hours: s.verify_ttl_secs / 3600,
            };
        }
        Self {
            code_minutes: 10,
            reauth_minutes: 10,
            verify_hours: 24,
        }
    }

    /// The hint under a field for a code that was sent.
    pub fn code_hint(self) -> String {
        format!("The code expires in {} minutes.", self.code_minutes)
    }
}
