//! The dependencies every domain service needs, bundled once by the server.

use crate::mechanisms::hashing::Hasher;
use crate::mechanisms::sessions::SessionPolicy;
use crate::store::Store;
use crate::values::clock::Clock;
use crate::values::password::PasswordPolicy;
use std::sync::Arc;

/// Instance-wide settings that domain rules read.
#[derive(Debug, Clone)]
pub struct Settings {
    /// F3: the only base for links in messages.
    pub public_url: String,
    pub password: PasswordPolicy,
    pub sessions: SessionPolicy,
    /// R1: consecutive failures before a soft lock, and its length.
    pub lockout_threshold: i64,
    pub lockout_secs: i64,
    /// M2: lifetime of email codes.
    pub code_ttl_secs: i64,
    /// R4: minimum gap between two sends of a code, and sends per destination per hour.
    pub resend_cooldown_secs: i64,
    pub sends_per_hour: i64,
    /// E1: lifetime of email verification links.
    pub verify_ttl_secs: i64,
    /// R2: password attempts per client IP per minute and per account per hour.
    pub login_per_ip_per_minute: i64,
    pub login_per_account_per_hour: i64,
    /// R2: registrations per client IP per hour.
    pub register_per_ip_per_hour: i64,
    /// R4/M9: calling codes text messages may go to ("+1", "+44"); empty turns SMS off.
    pub sms_country_codes: Vec<String>,
    /// F7: which ways "Forgot password?" offers — an email link and/or an SMS code (the latter
    /// only while SMS itself is available).
    pub recovery_email_link: bool,
    pub recovery_sms_code: bool,
    /// Issue 14: how long an invitation to an organization works.
    pub invitation_ttl_secs: i64,
}

impl Settings {
    /// F7: SMS-code recovery is offered only when it is enabled and SMS can be sent.
    pub fn sms_recovery(&self) -> bool {
        self.recovery_sms_code && !self.sms_country_codes.is_empty()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:3000".into(),
            password: PasswordPolicy::default(),
            sessions: SessionPolicy::default(),
            lockout_threshold: 10,
            lockout_secs: 15 * 60,
            code_ttl_secs: 10 * 60,
            resend_cooldown_secs: 60,
            sends_per_hour: 5,
            verify_ttl_secs: 24 * 3600,
            login_per_ip_per_minute: 30,
            login_per_account_per_hour: 60,
            register_per_ip_per_hour: 20,
            sms_country_codes: vec!["+1".into(), "+44".into()],
            recovery_email_link: true,
            recovery_sms_code: true,
            invitation_ttl_secs: 7 * 86_400,
        }
    }
}

#[derive(Clone)]
pub struct Deps {
    pub store: Store,
    pub hasher: Hasher,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    /// M4: seals TOTP secrets at rest.
    pub secret_key: Arc<crate::mechanisms::crypto::SecretKey>,
    /// M1/F2: one-time codes and emailed link tokens.
    pub random: Arc<dyn crate::mechanisms::secret::Random>,
    /// U1/P6: the bounded pool avatars are decoded and re-encoded on.
    pub pictures: crate::mechanisms::picture::Pictures,
}

impl Deps {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The OpenID Connect issuer: the public URL without a trailing slash.
    pub fn issuer(&self) -> &str {
        self.settings.public_url.trim_end_matches('/')
    }

    /// O6/O3/S6: `user_id`'s sessions named by `which` are ending; their tokens and codes are
    /// revoked and their applications' logout notices queued (signed when sent, so a sign-out
    /// never fails for want of a key).
    pub async fn end_sso(
        &self,
        conn: &mut crate::store::Conn,
        user_id: &str,
        which: crate::mechanisms::oidc_logout::Ending<'_>,
        now: i64,
    ) -> Result<usize, sqlx::Error> {
        crate::mechanisms::oidc_logout::sessions_ending(conn, self.issuer(), user_id, which, now)
            .await
    }

    /// F3: an absolute link under the configured public URL.
    pub fn link(&self, path_and_query: &str) -> String {
        format!(
            "{}{}",
            self.settings.public_url.trim_end_matches('/'),
            path_and_query
        )
    }
}
