//! Registration and email verification.
//!
//! - E1: the answer to "create account" is the same whether or not the address exists; the real
//!   owner of an existing address gets a "someone tried to register" email instead. The password is
//!   hashed in both cases so timing matches.
//! - P1–P4: the new password passes the shared policy; the server decides.
//! - Y1: the user row, the verification token and its email commit in one transaction.
//! - Verification tokens: 256 bits, stored as SHA-256, single use, 24 h.

use crate::mechanisms::email_links::{self, VERIFY_PURPOSE};
use crate::mechanisms::events::{self, EventKind};
use crate::mechanisms::hashing::HashError;
use crate::mechanisms::invitations;
use crate::mechanisms::messages;
use crate::mechanisms::outbox;
use crate::mechanisms::ratelimit::{self, Limit, RateError};
use crate::mechanisms::service::{Deps, Settings};
use crate::mechanisms::sessions::ClientInfo;
use crate::mechanisms::users::{self, MfaMethod, NewUser};
use crate::values::email::{Email, EmailError};
use crate::values::failure::{self, Refusal, Shown};
use crate::values::password::{Context, PasswordError};
use crate::values::phone::Phone;

#[derive(Clone)]
pub struct Registration {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub password: String,
    pub confirm: String,
    pub mfa_method: String,
    /// Only read when the method is text messages (M9).
    pub phone: String,
    /// Issue 14: the token of the invitation link the person came from, if any; the new
    /// account joins that organization once its address is verified.
    pub invitation: String,
}

impl Registration {
    /// What the form keeps after a refusal, by field name: everything but the passwords.
    pub fn typed(&self) -> [(&'static str, &str); 6] {
        [
            ("email", &self.email),
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("mfa_method", &self.mfa_method),
            ("phone", &self.phone),
            ("invitation", &self.invitation),
        ]
    }
}

/// G1: the passwords never print.
impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("email", &self.email)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("password", &"***")
            .field("confirm", &"***")
            .field("mfa_method", &self.mfa_method)
            .field("phone", &self.phone)
            .field("invitation", &"***")
            .finish()
    }
}

/// Field-level problems, each shown next to its input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub password: Option<String>,
    pub confirm: Option<String>,
    pub mfa_method: Option<String>,
    pub phone: Option<String>,
}

impl FieldErrors {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("please correct the highlighted fields")]
    Invalid(Box<FieldErrors>),
    #[error(transparent)]
    Limited(ratelimit::Limited),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl Refusal for RegisterError {
    fn shown(&self) -> Shown {
        match self {
            Self::Invalid(e) => failure::fields([
                ("email", &e.email),
                ("first_name", &e.first_name),
                ("last_name", &e.last_name),
                ("password", &e.password),
                ("confirm", &e.confirm),
                ("mfa_method", &e.mfa_method),
                ("phone", &e.phone),
            ]),
            Self::Limited(_) => Shown::Form,
            Self::Hash(HashError::Busy) => Shown::Busy,
            Self::Hash(HashError::Internal) => Shown::Internal,
            Self::Store(e) => crate::store::shown(e),
        }
    }
}

impl Refusal for VerifyError {
    fn shown(&self) -> Shown {
        match self {
            Self::Invalid => Shown::Form,
            Self::Store(e) => crate::store::shown(e),
        }
    }
}

impl From<RateError> for RegisterError {
    fn from(e: RateError) -> Self {
        match e {
            RateError::Limited(l) => RegisterError::Limited(l),
            RateError::Store(s) => RegisterError::Store(s),
        }
    }
}

/// A registration that passed every check.
pub struct Valid {
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    pub password: String,
    pub method: MfaMethod,
    /// M9: the number to verify at the first sign-in, when text messages were chosen.
    pub phone: Option<Phone>,
}

/// Validates every field at once so the form can show all problems together.
pub fn validate(settings: &Settings, r: &Registration) -> Result<Valid, Box<FieldErrors>> {
    let mut errs = FieldErrors::default();
    let email = Email::parse(&r.email)
        .map_err(|e: EmailError| errs.email = Some(e.to_string()))
        .ok();
    let first = crate::values::name::person_name(&r.first_name, "first name")
        .map_err(|e| errs.first_name = Some(e))
        .ok();
    let last = crate::values::name::person_name(&r.last_name, "last name")
        .map_err(|e| errs.last_name = Some(e))
        .ok();
    let local = email
        .as_ref()
        .map(|e| e.local_part().to_string())
        .unwrap_or_default();
    let ctx = Context {
        words: vec![
            local.as_str(),
            first.as_deref().unwrap_or(""),
            last.as_deref().unwrap_or(""),
        ],
    };
    let password = match settings.password.check(&r.password, &ctx) {
        Ok(p) => Some(p),
        Err(e) => {
            errs.password = Some(e.to_string());
            None
        }
    };
    if password.is_some()
        && crate::values::password::PasswordPolicy::normalize(&r.confirm)
            != password.clone().unwrap_or_default()
    {
        errs.confirm = Some(PasswordError::Mismatch.to_string());
    }
    let method = MfaMethod::parse(&r.mfa_method);
    if method.is_none() {
        errs.mfa_method = Some("Choose how you want to receive sign-in codes.".into());
    }
    let phone = if method == Some(MfaMethod::Sms) {
        // M9/R4: E.164 and an allowed calling code, checked before the account exists.
        Phone::parse_allowed(&r.phone, &settings.sms_country_codes)
            .map_err(|e| errs.phone = Some(e.to_string()))
            .ok()
    } else {
        None
    };
    match (email, first, last, password, method) {
        (Some(email), Some(first_name), Some(last_name), Some(password), Some(method))
            if errs.is_empty() =>
        {
            Ok(Valid {
                email,
                first_name,
                last_name,
                password,
                method,
                phone,
            })
        }
        _ => Err(Box::new(errs)),
    }
}

/// E1: registers, or tells the existing owner; the caller shows "check your email" either way.
pub async fn register(
    deps: &Deps,
    r: &Registration,
    client: &ClientInfo,
) -> Result<(), RegisterError> {
    let Valid {
        email,
        first_name: first,
        last_name: last,
        password,
        method,
        phone,
    } = validate(&deps.settings, r).map_err(RegisterError::Invalid)?;
    let now = deps.now();
    {
        let mut c = deps.store.conn().await?;
        ratelimit::hit(
            &mut c,
            &format!("register:ip:{}", client.rate_key()),
            Limit {
                max: deps.settings.register_per_ip_per_hour,
                window_secs: 3600,
            },
            now,
        )
        .await?;
    }
    let phc = deps.hasher.hash(&password).await?;
    let mut tx = deps.store.begin().await?;
    let new_user = NewUser {
        email: &email,
        first_name: &first,
        last_name: &last,
        password_hash: &phc,
        // M4: an authenticator is active only after its first code, at the first sign-in; until
        // then codes come by email and a pending factor waits.
        mfa_method: MfaMethod::Email,
        verified: false,
    };
    let fresh = match users::insert(&mut tx, new_user, now).await? {
        Some(user_id) => Some(user_id),
        // E4: an address nobody verified yet belongs to nobody: the new registration replaces
        // the pending one (password, names, chosen factors, and every earlier link die).
        None => users::replace_unverified(&mut tx, &email, &first, &last, &phc, now).await?,
    };
    match fresh {
        Some(user_id) => {
            email_links::queue_verification(&mut tx, deps, &user_id, &email, &first, now).await?;
            // E4/M13: what was chosen here waits; it is set up only after the owner's first
            // sign-in answered an emailed code, and expires unused.
            if method == MfaMethod::Authenticator {
                crate::mechanisms::mfa::begin_totp(&mut tx, &deps.secret_key, &user_id, now)
                    .await
                    .map_err(|e| match e {
                        crate::mechanisms::mfa::MfaError::Store(s) => RegisterError::Store(s),
                        _ => RegisterError::Hash(HashError::Internal),
                    })?;
            }
            if let Some(p) = &phone {
                crate::mechanisms::mfa::add_unverified_phone(&mut tx, &user_id, p, now).await?;
            }
            events::record(&mut tx, Some(&user_id), EventKind::Registered, client, now).await?;
            if !r.invitation.trim().is_empty() {
                invitations::claim(&mut tx, &r.invitation, email.as_str(), &user_id, now).await?;
            }
        }
        None => {
            let existing = users::by_email(&mut tx, &email).await?;
            // R4/R6: its own capped budget, so these notices never starve sign-in codes; within
            // the window further attempts are coalesced into the one mail already sent.
            if crate::mechanisms::challenges::notice_allowed(
                &mut tx,
                "registration_attempt",
                email.as_str(),
                now,
            )
            .await?
            {
                outbox::enqueue(
                    &mut tx,
                    &messages::registration_attempt(email.as_str(), &deps.link("/login")),
                    now,
                )
                .await?;
            }
            if let Some(u) = existing {
                events::record(
                    &mut tx,
                    Some(&u.id),
                    EventKind::RegistrationAttemptExisting,
                    client,
                    now,
                )
                .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("This verification link is invalid or has expired.")]
    Invalid,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// E4: what the verification page shows before anything changes: who registered, and when.
#[derive(Debug, Clone)]
pub struct PendingVerification {
    pub user: users::User,
    pub registered_at: i64,
}

/// E4: reads a verification link without using it (a GET never changes state). `None` when
/// the link is unknown, used, expired, or replaced by a newer registration.
pub async fn pending_verification(
    deps: &Deps,
    token: &str,
) -> Result<Option<PendingVerification>, VerifyError> {
    let mut c = deps.store.read().await?;
    let Some(link) = email_links::live(&mut c, token, VERIFY_PURPOSE, deps.now()).await? else {
        return Ok(None);
    };
    Ok(users::by_id(&mut c, &link.user_id)
        .await?
        .filter(|u| !u.email_verified)
        .map(|user| PendingVerification {
            user,
            registered_at: link.created_at,
        }))
}

/// Consumes a verification token (single use, atomic) and marks the email verified. Only the
/// POST from the verification page calls this (E4); factors chosen at registration stay pending
/// until the owner's first sign-in with an emailed code (M13).
pub async fn verify_email(
    deps: &Deps,
    token: &str,
    client: &ClientInfo,
) -> Result<(), VerifyError> {
    let now = deps.now();
    let mut tx = deps.store.begin().await?;
    let Some(link) = email_links::consume(&mut tx, token, VERIFY_PURPOSE, now).await? else {
        return Err(VerifyError::Invalid);
    };
    let user_id = link.user_id;
    users::mark_email_verified(&mut tx, &user_id, now).await?;
    events::record(
        &mut tx,
        Some(&user_id),
        EventKind::EmailVerified,
        client,
        now,
    )
    .await?;
    // Issue 14: registered through an invitation link to this address: it joins now.
    if let Some(u) = users::by_id(&mut tx, &user_id).await? {
        invitations::join_claimed(&mut tx, &user_id, u.email.as_str(), client, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Support (`gatehouse user create`): a verified account created by an operator.
pub async fn create_verified(
    deps: &Deps,
    email: &Email,
    first: &str,
    last: &str,
    password: &str,
) -> Result<String, RegisterError> {
    let r = Registration {
        email: email.to_string(),
        first_name: first.into(),
        last_name: last.into(),
        password: password.into(),
        confirm: password.into(),
        mfa_method: "email".into(),
        phone: String::new(),
        invitation: String::new(),
    };
    let v = validate(&deps.settings, &r).map_err(RegisterError::Invalid)?;
    let phc = deps.hasher.hash(&v.password).await?;
    let mut c = deps.store.conn().await?;
    let nu = NewUser {
        email: &v.email,
        first_name: &v.first_name,
        last_name: &v.last_name,
        password_hash: &phc,
        mfa_method: v.method,
        verified: true,
    };
    users::insert(&mut c, nu, deps.now()).await?.ok_or_else(|| {
        RegisterError::Invalid(Box::new(FieldErrors {
            email: Some("An account with this email already exists.".into()),
            ..Default::default()
        }))
    })
}

#[cfg(test)]
mod tests {
    /// Secrets never reach logs: a registration prints its passwords masked.
    #[test]
    fn g1_debug_of_a_registration_redacts_passwords() {
        let r = super::Registration {
            email: "ada@example.com".into(),
            first_name: "Ada".into(),
            last_name: "L".into(),
            password: "tulip-rain-77".into(),
            confirm: "tulip-rain-77".into(),
            mfa_method: "email".into(),
            phone: String::new(),
            invitation: String::new(),
        };
        let shown = format!("{r:?}");
        assert!(
            shown.contains("password: \"***\", confirm: \"***\""),
            "{shown}"
        );
        assert!(!shown.contains("tulip"), "{shown}");
    }
}
