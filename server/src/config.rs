//! Configuration: embedded defaults, then an optional TOML file, then `GATEHOUSE_*` variables.
//!
//! Unknown keys (in the file or as `GATEHOUSE_*` variables) and bad values stop start-up with a
//! message naming the key. Secrets are redacted in `Debug`. With no SMTP server configured the
//! instance runs in dev mode (dev mailbox on, cookies without `Secure` over plain http); production
//! mode refuses to start without SMTP and an explicit `public_url` (F3: the only base of links).

use gatehouse_core::mechanisms::hashing::HashParams;
use gatehouse_core::mechanisms::service::Settings;
use gatehouse_core::mechanisms::sessions::SessionPolicy;
use gatehouse_core::values::password::PasswordPolicy;
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Dev,
    Production,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub mode: Option<Mode>,
    #[serde(default = "d_listen")]
    pub listen: String,
    #[serde(default = "d_db")]
    pub database_url: String,
    pub public_url: Option<String>,
    #[serde(default = "d_site_root")]
    pub site_root: String,
    #[serde(default)]
    pub password: PasswordConfig,
    #[serde(default)]
    pub sessions: SessionConfig,
    #[serde(default)]
    pub lockout: LockoutConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub mfa: MfaConfig,
    pub smtp: Option<crate::smtp::SmtpConfig>,
    #[serde(default)]
    pub outbox: OutboxConfig,
    #[serde(default)]
    pub sms: SmsConfig,
    #[serde(default)]
    pub recovery: RecoveryConfig,
    #[serde(default)]
    pub orgs: OrgsConfig,
    #[serde(default)]
    pub log: LogConfig,
    /// H3: production over plain `http://` only with this explicit opt-in.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// Where `/metrics` (Prometheus text) is served; off when unset. Keep it off the public
    /// network: it tells how busy the service is.
    pub metrics_listen: Option<String>,
    /// Reverse proxies whose forwarded-for header is believed (CIDR list, comma separated).
    /// Empty: the peer address is the client (R2).
    #[serde(default)]
    pub trusted_proxies: String,
    /// R7: the one header those proxies set: `X-Forwarded-For` (default) or `Forwarded`. The
    /// other is ignored (a proxy passes it through untouched, so a client could name itself).
    #[serde(default = "default_proxy_header")]
    pub trusted_proxy_header: String,
}

fn default_proxy_header() -> String {
    "X-Forwarded-For".to_string()
}

/// G1: the database URL may carry a password; only its scheme prints.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.database_url.split(':').next().unwrap_or_default();
        f.debug_struct("Config")
            .field("mode", &self.mode)
            .field("listen", &self.listen)
            .field("database_url", &format!("{scheme}:***"))
            .field("public_url", &self.public_url)
            .field("site_root", &self.site_root)
            .field("password", &self.password)
            .field("sessions", &self.sessions)
            .field("lockout", &self.lockout)
            .field("limits", &self.limits)
            .field("database", &self.database)
            .field("mfa", &self.mfa)
            .field("smtp", &self.smtp)
            .field("outbox", &self.outbox)
            .field("sms", &self.sms)
            .field("recovery", &self.recovery)
            .field("log", &self.log)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("trusted_proxy_header", &self.trusted_proxy_header)
            .field("metrics_listen", &self.metrics_listen)
            .finish()
    }
}

/// Y1: delivery of queued messages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Temporary failures before a message is given up on (a permanent one gives up at once).
    pub max_attempts: i64,
    /// How long a worker holds a claimed message; after a crash the message is sent again when
    /// this runs out. Must outlast one delivery (`smtp.timeout_secs`).
    pub lease_secs: i64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        // With the backoff (30 s doubling, capped at an hour) ten attempts span about 3 hours.
        Self {
            max_attempts: 10,
            lease_secs: gatehouse_core::mechanisms::outbox::LEASE_SECS,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordConfig {
    pub min_length: usize,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// P6: hashing threads (0 = one per core) and queued jobs before answering 503.
    pub hash_workers: usize,
    pub hash_queue: usize,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        let h = HashParams::default();
        Self {
            min_length: 8,
            argon2_memory_kib: h.memory_kib,
            argon2_iterations: h.iterations,
            argon2_parallelism: h.parallelism,
            hash_workers: 0,
            hash_queue: 16,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    pub idle_minutes: i64,
    pub absolute_hours: i64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_minutes: 30,
            absolute_hours: 12,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockoutConfig {
    pub threshold: i64,
    pub minutes: i64,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        Self {
            threshold: 10,
            minutes: 15,
        }
    }
}

/// M4: the key that seals TOTP secrets: 64 hex characters inline (`secret_key`, better given as
/// GATEHOUSE_MFA_SECRET_KEY) or in a file (`secret_key_file`). Dev mode generates the file.
#[derive(Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MfaConfig {
    pub secret_key: Option<String>,
    pub secret_key_file: Option<String>,
}

impl fmt::Debug for MfaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MfaConfig")
            .field("secret_key", &self.secret_key.as_ref().map(|_| "***"))
            .field("secret_key_file", &self.secret_key_file)
            .finish()
    }
}

/// R2: rate limits on the password step and on registration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub login_per_ip_per_minute: i64,
    pub login_per_account_per_hour: i64,
    pub register_per_ip_per_hour: i64,
    /// Y4: a request not answered in this time gets 503 (a stalled client or a stuck backend
    /// never holds a slot for ever).
    pub request_timeout_secs: u64,
    /// Y4: requests handled at once; the next ones get 503 + Retry-After at once.
    pub max_concurrent_requests: usize,
    /// Y4: a request head (request line and headers) must arrive whole within this time of its
    /// first byte (of the connection's opening, for its first request); a client that trickles
    /// it is disconnected (slowloris).
    pub header_read_timeout_secs: u64,
    /// Y4: a kept-alive connection with no new request (and nothing sent) for this long is
    /// closed. Longer than a proxy's own keep-alive (nginx: 60 s), so the proxy closes first.
    pub keep_alive_timeout_secs: u64,
    /// Y4: open client connections at most; the next ones wait in the kernel's queue until one
    /// closes. 0: derived from the open-file limit (see `serve::connection_cap`).
    pub max_connections: usize,
    /// Y2: after SIGTERM/SIGINT, in-flight requests get this long to finish; then the remaining
    /// connections are closed and the process exits.
    pub shutdown_grace_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let s = Settings::default();
        Self {
            login_per_ip_per_minute: s.login_per_ip_per_minute,
            login_per_account_per_hour: s.login_per_account_per_hour,
            register_per_ip_per_hour: s.register_per_ip_per_hour,
            request_timeout_secs: 30,
            max_concurrent_requests: 512,
            header_read_timeout_secs: 10,
            keep_alive_timeout_secs: 75,
            max_connections: 0,
            shutdown_grace_secs: 10,
        }
    }
}

/// Issue 14: organizations.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrgsConfig {
    /// How long an invitation link works (1–90 days).
    pub invitation_days: i64,
}

impl Default for OrgsConfig {
    fn default() -> Self {
        Self {
            invitation_days: Settings::default().invitation_ttl_secs / 86_400,
        }
    }
}

/// Y4: the database pool.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// PostgreSQL: connections per instance. SQLite: reader connections (one writer besides).
    pub max_connections: u32,
    /// Waiting longer for a connection fails the request.
    pub acquire_timeout_secs: u64,
    /// PostgreSQL cancels a statement running longer.
    pub statement_timeout_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        let d = gatehouse_core::store::PoolLimits::default();
        Self {
            max_connections: d.max_connections,
            acquire_timeout_secs: d.acquire_timeout.as_secs(),
            statement_timeout_secs: d.statement_timeout.as_secs(),
        }
    }
}

impl DatabaseConfig {
    pub fn limits(&self) -> gatehouse_core::store::PoolLimits {
        gatehouse_core::store::PoolLimits {
            max_connections: self.max_connections,
            acquire_timeout: std::time::Duration::from_secs(self.acquire_timeout_secs),
            statement_timeout: std::time::Duration::from_secs(self.statement_timeout_secs),
        }
    }
}

/// M9/R4: text messages. `country_codes` lists the calling codes SMS may go to (comma
/// separated, e.g. "+1, +44"); the provider fields name a Twilio-style REST API. Without a
/// provider, dev mode shows text messages in the dev mailbox and production turns SMS off.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    pub country_codes: String,
    pub api_url: Option<String>,
    pub account_id: Option<String>,
    pub token: Option<String>,
    pub from: Option<String>,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            country_codes: "+1, +44".into(),
            api_url: None,
            account_id: None,
            token: None,
            from: None,
        }
    }
}

impl fmt::Debug for SmsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsConfig")
            .field("country_codes", &self.country_codes)
            .field("api_url", &self.api_url)
            .field("account_id", &self.account_id)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("from", &self.from)
            .finish()
    }
}

impl SmsConfig {
    /// The HTTP provider, when all four of its fields are set.
    pub fn provider(&self) -> Option<crate::sms::HttpSmsConfig> {
        Some(crate::sms::HttpSmsConfig {
            api_url: self.api_url.clone()?,
            account_id: self.account_id.clone()?,
            token: self.token.clone()?,
            from: self.from.clone()?,
        })
    }
    fn any_provider_field(&self) -> bool {
        self.api_url.is_some()
            || self.account_id.is_some()
            || self.token.is_some()
            || self.from.is_some()
    }
    /// The allowed calling codes, each `+` and 1–6 digits.
    pub fn codes(&self) -> Result<Vec<String>, String> {
        self.country_codes
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| {
                let digits = c.strip_prefix('+').unwrap_or(c);
                if (1..=6).contains(&digits.len()) && digits.chars().all(|d| d.is_ascii_digit()) {
                    Ok(format!("+{digits}"))
                } else {
                    Err(format!(
                        "sms.country_codes: {c:?} is not a calling code like +44"
                    ))
                }
            })
            .collect()
    }
}

/// F7: the ways "Forgot password?" offers, comma separated: `email_link`, `sms_code`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecoveryConfig {
    pub methods: String,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            methods: "email_link, sms_code".into(),
        }
    }
}

impl RecoveryConfig {
    /// (email link, SMS code).
    pub fn parsed(&self) -> Result<(bool, bool), String> {
        let mut on = (false, false);
        for m in self
            .methods
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            match m {
                "email_link" => on.0 = true,
                "sms_code" => on.1 = true,
                other => {
                    return Err(format!(
                        "recovery.methods: {other:?} is not one of email_link, sms_code"
                    ))
                }
            }
        }
        if on == (false, false) {
            return Err("recovery.methods: enable email_link and/or sms_code".into());
        }
        Ok(on)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `pretty` or `json` (default: json in production).
    pub format: Option<String>,
}

fn d_listen() -> String {
    "127.0.0.1:3000".into()
}
fn d_db() -> String {
    "sqlite://data/gatehouse.db".into()
}
fn d_site_root() -> String {
    "target/site".into()
}

/// Every key a `GATEHOUSE_*` variable may set, as (variable suffix, TOML path).
const ENV_KEYS: &[(&str, &[&str])] = &[
    ("MODE", &["mode"]),
    ("LISTEN", &["listen"]),
    ("DATABASE_URL", &["database_url"]),
    ("PUBLIC_URL", &["public_url"]),
    ("SITE_ROOT", &["site_root"]),
    ("PASSWORD_MIN_LENGTH", &["password", "min_length"]),
    (
        "PASSWORD_ARGON2_MEMORY_KIB",
        &["password", "argon2_memory_kib"],
    ),
    (
        "PASSWORD_ARGON2_ITERATIONS",
        &["password", "argon2_iterations"],
    ),
    (
        "PASSWORD_ARGON2_PARALLELISM",
        &["password", "argon2_parallelism"],
    ),
    ("PASSWORD_HASH_WORKERS", &["password", "hash_workers"]),
    ("PASSWORD_HASH_QUEUE", &["password", "hash_queue"]),
    ("SESSIONS_IDLE_MINUTES", &["sessions", "idle_minutes"]),
    ("SESSIONS_ABSOLUTE_HOURS", &["sessions", "absolute_hours"]),
    ("LOCKOUT_THRESHOLD", &["lockout", "threshold"]),
    ("LOCKOUT_MINUTES", &["lockout", "minutes"]),
    (
        "LIMITS_LOGIN_PER_IP_PER_MINUTE",
        &["limits", "login_per_ip_per_minute"],
    ),
    (
        "LIMITS_LOGIN_PER_ACCOUNT_PER_HOUR",
        &["limits", "login_per_account_per_hour"],
    ),
    (
        "LIMITS_REGISTER_PER_IP_PER_HOUR",
        &["limits", "register_per_ip_per_hour"],
    ),
    (
        "LIMITS_REQUEST_TIMEOUT_SECS",
        &["limits", "request_timeout_secs"],
    ),
    (
        "LIMITS_MAX_CONCURRENT_REQUESTS",
        &["limits", "max_concurrent_requests"],
    ),
    (
        "LIMITS_HEADER_READ_TIMEOUT_SECS",
        &["limits", "header_read_timeout_secs"],
    ),
    (
        "LIMITS_KEEP_ALIVE_TIMEOUT_SECS",
        &["limits", "keep_alive_timeout_secs"],
    ),
    ("LIMITS_MAX_CONNECTIONS", &["limits", "max_connections"]),
    (
        "LIMITS_SHUTDOWN_GRACE_SECS",
        &["limits", "shutdown_grace_secs"],
    ),
    ("DATABASE_MAX_CONNECTIONS", &["database", "max_connections"]),
    (
        "DATABASE_ACQUIRE_TIMEOUT_SECS",
        &["database", "acquire_timeout_secs"],
    ),
    (
        "DATABASE_STATEMENT_TIMEOUT_SECS",
        &["database", "statement_timeout_secs"],
    ),
    ("ORGS_INVITATION_DAYS", &["orgs", "invitation_days"]),
    ("MFA_SECRET_KEY", &["mfa", "secret_key"]),
    ("MFA_SECRET_KEY_FILE", &["mfa", "secret_key_file"]),
    ("SMTP_URL", &["smtp", "url"]),
    ("SMTP_HOST", &["smtp", "host"]),
    ("SMTP_PORT", &["smtp", "port"]),
    ("SMTP_SECURITY", &["smtp", "security"]),
    ("SMTP_ALLOW_PLAINTEXT", &["smtp", "allow_plaintext"]),
    ("SMTP_USERNAME", &["smtp", "username"]),
    ("SMTP_PASSWORD", &["smtp", "password"]),
    ("SMTP_PASSWORD_FILE", &["smtp", "password_file"]),
    ("SMTP_FROM", &["smtp", "from"]),
    ("SMTP_REPLY_TO", &["smtp", "reply_to"]),
    ("SMTP_HELLO_NAME", &["smtp", "hello_name"]),
    ("SMTP_TIMEOUT_SECS", &["smtp", "timeout_secs"]),
    ("SMTP_CA_FILE", &["smtp", "ca_file"]),
    ("OUTBOX_MAX_ATTEMPTS", &["outbox", "max_attempts"]),
    ("OUTBOX_LEASE_SECS", &["outbox", "lease_secs"]),
    ("SMS_COUNTRY_CODES", &["sms", "country_codes"]),
    ("SMS_API_URL", &["sms", "api_url"]),
    ("SMS_ACCOUNT_ID", &["sms", "account_id"]),
    ("SMS_TOKEN", &["sms", "token"]),
    ("SMS_FROM", &["sms", "from"]),
    ("RECOVERY_METHODS", &["recovery", "methods"]),
    ("LOG_FORMAT", &["log", "format"]),
    ("ALLOW_INSECURE_HTTP", &["allow_insecure_http"]),
    ("TRUSTED_PROXIES", &["trusted_proxies"]),
    ("TRUSTED_PROXY_HEADER", &["trusted_proxy_header"]),
    ("METRICS_LISTEN", &["metrics_listen"]),
];

/// Variables that are not config keys but are read elsewhere.
const ENV_OTHER: &[&str] = &[
    "CONFIG",
    "TEST_POSTGRES",
    "TEST_SQLITE_ONLY",
    "NEW_PASSWORD",
    "LOG",
    "PG_URL",
    "CACHE",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {0}: {1}")]
    Read(String, std::io::Error),
    #[error("config file {0}: {1}")]
    Parse(String, String),
    #[error("unknown environment variable GATEHOUSE_{0} (known: {1})")]
    UnknownEnv(String, String),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The settled configuration plus derived facts.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub mode: Mode,
    pub public_url: String,
    pub listen: SocketAddr,
    /// R2/R7: the proxies allowed to name the client (`trusted_proxies`) and the one header
    /// they name it in (`trusted_proxy_header`).
    pub trusted_proxies: gatehouse_core::values::netaddr::TrustedProxies,
    /// The checked `[smtp]` section; `None` in dev mode.
    pub relay: Option<crate::smtp::Relay>,
    /// Where `/metrics` listens, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
}

/// Default key file in dev mode, next to the default SQLite database.
pub const DEV_KEY_FILE: &str = "data/secret.key";

impl Loaded {
    /// M4: the sealing key from config, or from its file; in dev mode a missing file is created
    /// (mode 0600) so the first start needs no configuration.
    pub fn secret_key(&self) -> Result<gatehouse_core::mechanisms::crypto::SecretKey, String> {
        use gatehouse_core::mechanisms::crypto::SecretKey;
        if let Some(k) = &self.config.mfa.secret_key {
            return SecretKey::from_hex(k).map_err(|e| format!("mfa.secret_key: {e}"));
        }
        let path = self
            .config
            .mfa
            .secret_key_file
            .clone()
            .unwrap_or_else(|| DEV_KEY_FILE.to_string());
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                SecretKey::from_hex(&text).map_err(|e| format!("mfa.secret_key_file {path}: {e}"))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.dev() => {
                let key = SecretKey::generate();
                write_private(&path, &key.to_hex())
                    .map_err(|e| format!("cannot create {path}: {e}"))?;
                tracing::warn!(path, "dev mode: generated a new MFA secret key file");
                Ok(key)
            }
            Err(e) => Err(format!("mfa.secret_key_file {path}: {e}")),
        }
    }

    pub fn dev(&self) -> bool {
        self.mode == Mode::Dev
    }
    /// S1: `Secure` and `__Host-` cookies whenever the public URL is https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
    pub fn hash_params(&self) -> HashParams {
        let p = &self.config.password;
        HashParams {
            memory_kib: p.argon2_memory_kib,
            iterations: p.argon2_iterations,
            parallelism: p.argon2_parallelism,
        }
    }
    pub fn settings(&self) -> Settings {
        let c = &self.config;
        Settings {
            public_url: self.public_url.clone(),
            password: PasswordPolicy {
                min_length: c.password.min_length,
            },
            sessions: SessionPolicy {
                idle_secs: c.sessions.idle_minutes * 60,
                absolute_secs: c.sessions.absolute_hours * 3600,
                ..SessionPolicy::default()
            },
            lockout_threshold: c.lockout.threshold,
            lockout_secs: c.lockout.minutes * 60,
            login_per_ip_per_minute: c.limits.login_per_ip_per_minute,
            login_per_account_per_hour: c.limits.login_per_account_per_hour,
            register_per_ip_per_hour: c.limits.register_per_ip_per_hour,
            // R4: SMS only where a provider (or, in dev mode, the dev mailbox) can take it.
            sms_country_codes: if self.dev() || c.sms.provider().is_some() {
                c.sms.codes().unwrap_or_default()
            } else {
                Vec::new()
            },
            recovery_email_link: c.recovery.parsed().map(|m| m.0).unwrap_or(true),
            recovery_sms_code: c.recovery.parsed().map(|m| m.1).unwrap_or(false),
            invitation_ttl_secs: c.orgs.invitation_days * 86_400,
            ..Settings::default()
        }
    }
}

/// Loads from `path` (if given or if `gatehouse.toml` exists) and the process environment.
pub fn load(path: Option<&str>) -> Result<Loaded, ConfigError> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let file = path.map(str::to_string).or_else(|| {
        std::env::var("GATEHOUSE_CONFIG").ok().or_else(|| {
            std::path::Path::new("gatehouse.toml")
                .exists()
                .then(|| "gatehouse.toml".into())
        })
    });
    let text = match &file {
        Some(f) => std::fs::read_to_string(f).map_err(|e| ConfigError::Read(f.clone(), e))?,
        None => String::new(),
    };
    from_sources(file.as_deref().unwrap_or("(none)"), &text, &env)
}

/// Pure loader (tested without touching the process environment).
pub fn from_sources(
    file_name: &str,
    text: &str,
    env: &[(String, String)],
) -> Result<Loaded, ConfigError> {
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        ConfigError::Parse(file_name.into(), e.message().to_string())
    })?;
    for (k, v) in env {
        let value = if k == "DATABASE_URL" {
            Some(("DATABASE_URL", v))
        } else {
            k.strip_prefix("GATEHOUSE_").map(|s| (s, v))
        };
        let Some((suffix, v)) = value else { continue };
        if ENV_OTHER.contains(&suffix) {
            continue;
        }
        let Some((_, path)) = ENV_KEYS.iter().find(|(s, _)| *s == suffix) else {
            let known: Vec<&str> = ENV_KEYS.iter().map(|(s, _)| *s).collect();
            return Err(ConfigError::UnknownEnv(
                suffix.to_string(),
                known.join(", "),
            ));
        };
        set_path(&mut table, path, v);
    }
    let config: Config = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| {
            ConfigError::Parse(file_name.into(), e.message().to_string())
        })?;
    validate(config)
}

fn write_private(path: &str, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)?.write_all(contents.as_bytes())
}

/// Config keys that hold numbers; every other variable is text (a phone number or an account id
/// made of digits stays a string).
const NUMERIC_KEYS: &[&str] = &[
    "port",
    "min_length",
    "argon2_memory_kib",
    "argon2_iterations",
    "argon2_parallelism",
    "hash_workers",
    "hash_queue",
    "idle_minutes",
    "absolute_hours",
    "threshold",
    "minutes",
    "login_per_ip_per_minute",
    "login_per_account_per_hour",
    "register_per_ip_per_hour",
    "timeout_secs",
    "max_attempts",
    "lease_secs",
    "request_timeout_secs",
    "max_concurrent_requests",
    "header_read_timeout_secs",
    "keep_alive_timeout_secs",
    "shutdown_grace_secs",
    "max_connections",
    "acquire_timeout_secs",
    "statement_timeout_secs",
    "invitation_days",
];

/// Keys whose variables are booleans (`true` / `false`).
const BOOL_KEYS: &[&str] = &["allow_insecure_http", "allow_plaintext"];

fn set_path(table: &mut toml::Table, path: &[&str], raw: &str) {
    let last = path[path.len() - 1];
    let numeric = NUMERIC_KEYS.contains(&last);
    let value = match (raw.parse::<i64>(), raw.parse::<bool>()) {
        (Ok(n), _) if numeric => toml::Value::Integer(n),
        (_, Ok(b)) if BOOL_KEYS.contains(&last) => toml::Value::Boolean(b),
        _ => toml::Value::String(raw.to_string()),
    };
    let mut t = table;
    for key in &path[..path.len() - 1] {
        let entry = t
            .entry(key.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(inner) = entry else {
            return;
        };
        t = inner;
    }
    t.insert(path[path.len() - 1].to_string(), value);
}

fn validate(config: Config) -> Result<Loaded, ConfigError> {
    let bad = |m: String| Err(ConfigError::Invalid(m));
    let listen: SocketAddr = match config.listen.parse() {
        Ok(a) => a,
        Err(_) => {
            return bad(format!(
                "listen: expected an address like 127.0.0.1:3000, got {:?}",
                config.listen
            ))
        }
    };
    if PasswordPolicy::new(config.password.min_length).is_err() {
        return bad(format!(
            "password.min_length: must be between 6 and 64, got {}",
            config.password.min_length
        ));
    }
    if HashParams::default().memory_kib > 0
        && !(8..=1_048_576).contains(&config.password.argon2_memory_kib)
    {
        return bad("password.argon2_memory_kib: must be between 8 and 1048576".into());
    }
    if config.password.argon2_iterations == 0 || config.password.argon2_parallelism == 0 {
        return bad(
            "password.argon2_iterations and password.argon2_parallelism: must be at least 1".into(),
        );
    }
    if !(1..=100).contains(&config.lockout.threshold) {
        return bad("lockout.threshold: must be between 1 and 100 (R1)".into());
    }
    if config.limits.login_per_ip_per_minute < 1
        || config.limits.login_per_account_per_hour < 1
        || config.limits.register_per_ip_per_hour < 1
    {
        return bad("limits.login_per_ip_per_minute, limits.login_per_account_per_hour and limits.register_per_ip_per_hour: must be at least 1".into());
    }
    if !(1..=90).contains(&config.orgs.invitation_days) {
        return bad("orgs.invitation_days: must be between 1 and 90".into());
    }
    if config.sessions.idle_minutes < 1 || config.sessions.absolute_hours < 1 {
        return bad("sessions.idle_minutes and sessions.absolute_hours: must be at least 1".into());
    }
    if !(config.database_url.starts_with("sqlite:") || config.database_url.starts_with("postgres"))
    {
        return bad("database_url: use sqlite://PATH or postgres://…".into());
    }
    if let Some(f) = &config.log.format {
        if f != "pretty" && f != "json" {
            return bad(format!("log.format: use \"pretty\" or \"json\", got {f:?}"));
        }
    }
    if let Err(m) = config.sms.codes() {
        return bad(m);
    }
    if let Err(m) = config.recovery.parsed() {
        return bad(m);
    }
    if config.sms.any_provider_field() {
        match &config.sms.provider() {
            None => return bad("sms: a provider needs api_url, account_id, token and from".into()),
            Some(p) if !(p.api_url.starts_with("https://") || p.api_url.starts_with("http://")) => {
                return bad(format!(
                    "sms.api_url: expected an http(s) URL, got {:?}",
                    p.api_url
                ))
            }
            Some(_) => {}
        }
    }
    let mode = config.mode.unwrap_or(if config.smtp.is_some() {
        Mode::Production
    } else {
        Mode::Dev
    });
    if let Some(u) = &config.public_url {
        if !(u.starts_with("http://") || u.starts_with("https://"))
            || u.contains(char::is_whitespace)
        {
            return bad(format!(
                "public_url: expected an absolute http(s) URL, got {u:?}"
            ));
        }
    }
    if mode == Mode::Production {
        if config.smtp.is_none() {
            return bad(
                "mode = \"production\" needs [smtp] (host, from): messages must reach people"
                    .into(),
            );
        }
        if config.public_url.is_none() {
            return bad("mode = \"production\" needs public_url: every link in a message is built from it (F3)".into());
        }
        if config.mfa.secret_key.is_none() && config.mfa.secret_key_file.is_none() {
            return bad("mode = \"production\" needs mfa.secret_key or mfa.secret_key_file: it encrypts authenticator secrets (M4)".into());
        }
    }
    // H3: the dev mailbox and the movable clock publish every code, so dev mode never listens
    // where other machines can reach it.
    if mode == Mode::Dev && !listen.ip().is_loopback() {
        return bad(format!(
            "listen = {listen}: dev mode (no [smtp] configured) serves only on a loopback address \
             such as 127.0.0.1, because its dev mailbox shows every code and link (H3). To serve \
             other machines, configure production: [smtp] (host, from), public_url and \
             mfa.secret_key (see the README, Configuration)"
        ));
    }
    if mode == Mode::Production
        && config
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("http://"))
        && !config.allow_insecure_http
    {
        return bad("public_url: production over plain http:// sends passwords and session cookies unencrypted; use https:// (behind a TLS proxy) or set allow_insecure_http = true to accept that (H3)".into());
    }
    let metrics_listen = match config
        .metrics_listen
        .as_deref()
        .map(str::parse::<SocketAddr>)
    {
        None => None,
        Some(Ok(a)) => Some(a),
        Some(Err(_)) => {
            return bad(format!(
                "metrics_listen: expected an address like 127.0.0.1:9464, got {:?}",
                config.metrics_listen.as_deref().unwrap_or_default()
            ))
        }
    };
    if !(1..=3600).contains(&config.limits.request_timeout_secs) {
        return bad("limits.request_timeout_secs: between 1 and 3600".into());
    }
    if !(1..=100_000).contains(&config.limits.max_concurrent_requests) {
        return bad("limits.max_concurrent_requests: between 1 and 100000".into());
    }
    if !(1..=3600).contains(&config.limits.header_read_timeout_secs) {
        return bad("limits.header_read_timeout_secs: between 1 and 3600".into());
    }
    if !(1..=3600).contains(&config.limits.keep_alive_timeout_secs) {
        return bad("limits.keep_alive_timeout_secs: between 1 and 3600".into());
    }
    if config.limits.max_connections > 100_000 {
        return bad(
            "limits.max_connections: between 1 and 100000, or 0 to derive it from the open-file limit"
                .into(),
        );
    }
    if config.limits.shutdown_grace_secs > 600 {
        return bad("limits.shutdown_grace_secs: between 0 and 600".into());
    }
    let db = &config.database;
    if !(1..=1000).contains(&db.max_connections)
        || !(1..=600).contains(&db.acquire_timeout_secs)
        || !(1..=3600).contains(&db.statement_timeout_secs)
    {
        return bad("database: max_connections 1–1000, acquire_timeout_secs 1–600, statement_timeout_secs 1–3600".into());
    }
    if !(1..=100).contains(&config.outbox.max_attempts) {
        return bad("outbox.max_attempts: between 1 and 100".into());
    }
    let relay = match config.smtp.as_ref().map(|s| s.relay()).transpose() {
        Ok(r) => r,
        Err(m) => return bad(m),
    };
    // Y1: a lease shorter than one delivery would let a second worker send a slow message again.
    let longest_send = relay.as_ref().map_or(20, |r| r.timeout.as_secs() as i64);
    if config.outbox.lease_secs <= longest_send {
        return bad(format!(
            "outbox.lease_secs: must be longer than one delivery attempt (smtp.timeout_secs = {longest_send}), got {}",
            config.outbox.lease_secs
        ));
    }
    let networks = match gatehouse_core::values::netaddr::parse_cidrs(&config.trusted_proxies) {
        Ok(t) => t,
        Err(m) => return bad(format!("trusted_proxies: {m}")),
    };
    let header =
        match gatehouse_core::values::netaddr::ProxyHeader::parse(&config.trusted_proxy_header) {
            Ok(h) => h,
            Err(m) => return bad(format!("trusted_proxy_header: {m}")),
        };
    let trusted_proxies = gatehouse_core::values::netaddr::TrustedProxies { networks, header };
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{listen}"))
        .trim_end_matches('/')
        .to_string();
    Ok(Loaded {
        config,
        mode,
        public_url,
        listen,
        trusted_proxies,
        relay,
        metrics_listen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_configuration_means_dev_mode_on_sqlite_at_port_3000() {
        let l = from_sources("(none)", "", &[]).expect("defaults");
        assert_eq!(l.mode, Mode::Dev);
        assert_eq!(l.listen.to_string(), "127.0.0.1:3000");
        assert!(l.config.database_url.starts_with("sqlite://data/"));
        assert!(!l.secure_cookies());
    }

    #[test]
    fn env_overrides_file_and_database_url_is_honoured() {
        let l = from_sources(
            "f",
            "listen = \"127.0.0.1:4000\"\n[password]\nmin_length = 10\n",
            &env(&[
                ("GATEHOUSE_LISTEN", "127.0.0.1:5000"),
                ("DATABASE_URL", "postgres://x@y/z"),
                ("GATEHOUSE_LOCKOUT_THRESHOLD", "5"),
            ]),
        )
        .expect("config");
        assert_eq!(l.listen.to_string(), "127.0.0.1:5000");
        assert_eq!(l.config.database_url, "postgres://x@y/z");
        assert_eq!(l.config.password.min_length, 10);
        assert_eq!(l.config.lockout.threshold, 5);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let e = from_sources("f", "lisen = \"x\"", &[])
            .expect_err("typo")
            .to_string();
        assert!(e.contains("lisen"), "{e}");
        let e = from_sources("f", "", &env(&[("GATEHOUSE_LISTN", "x")]))
            .expect_err("typo")
            .to_string();
        assert!(e.contains("GATEHOUSE_LISTN"), "{e}");
        let e = from_sources("f", "[password]\nmin_length = 5", &[])
            .expect_err("range")
            .to_string();
        assert!(e.contains("password.min_length"), "{e}");
        let e = from_sources("f", "listen = \"nowhere\"", &[])
            .expect_err("addr")
            .to_string();
        assert!(e.contains("listen"), "{e}");
    }

    #[test]
    fn h3_dev_mode_listens_only_on_loopback() {
        let e = from_sources("f", "listen = \"0.0.0.0:3000\"", &[])
            .expect_err("dev mode on every interface")
            .to_string();
        assert!(
            e.contains("dev mode (no [smtp] configured) serves only on a loopback address"),
            "{e}"
        );
        let l = from_sources("f", "listen = \"[::1]:3000\"", &[]).expect("IPv6 loopback");
        assert_eq!(l.mode, Mode::Dev);
    }

    #[test]
    fn h3_production_over_plain_http_needs_an_explicit_opt_in() {
        let prod = "public_url = \"http://id.example.com\"\nlisten = \"0.0.0.0:3000\"\n\
                    [smtp]\nhost = \"mail\"\nfrom = \"a@b.c\"\n[mfa]\nsecret_key_file = \"/k\"";
        let e = from_sources("f", prod, &[])
            .expect_err("plain http")
            .to_string();
        assert!(e.contains("set allow_insecure_http = true"), "{e}");
        let l = from_sources(
            "f",
            prod,
            &env(&[("GATEHOUSE_ALLOW_INSECURE_HTTP", "true")]),
        )
        .expect("opted in");
        assert_eq!(l.mode, Mode::Production);
        assert!(!l.secure_cookies());
    }

    #[test]
    fn r2_trusted_proxies_are_checked_at_start_up() {
        let e = from_sources("f", "trusted_proxies = \"10.0.0.0/8, nonsense\"", &[])
            .expect_err("bad network")
            .to_string();
        assert!(
            e.contains("trusted_proxies: \"nonsense\" is not an address"),
            "{e}"
        );
        let l = from_sources("f", "trusted_proxies = \"10.0.0.0/8, fd00::/8\"", &[]).expect("ok");
        assert_eq!(l.trusted_proxies.networks.len(), 2);
        assert_eq!(
            l.trusted_proxies.header,
            gatehouse_core::values::netaddr::ProxyHeader::XForwardedFor
        );
    }

    #[test]
    fn f3_production_needs_smtp_and_public_url() {
        let e = from_sources("f", "mode = \"production\"", &[])
            .expect_err("no smtp")
            .to_string();
        assert!(e.contains("smtp"), "{e}");
        let e = from_sources("f", "[smtp]\nhost = \"mail\"\nfrom = \"a@b.c\"", &[])
            .expect_err("no url")
            .to_string();
        assert!(e.contains("public_url"), "{e}");
        let prod =
            "public_url = \"https://id.example.com/\"\n[smtp]\nhost = \"mail\"\nfrom = \"a@b.c\"";
        let e = from_sources("f", prod, &[])
            .expect_err("no key")
            .to_string();
        assert!(
            e.contains("mfa.secret_key"),
            "M4: production needs the sealing key: {e}"
        );
        let l =
            from_sources("f", prod, &env(&[("GATEHOUSE_MFA_SECRET_KEY_FILE", "/k")])).expect("ok");
        assert_eq!(l.mode, Mode::Production);
        assert_eq!(l.public_url, "https://id.example.com");
        assert!(l.secure_cookies());
    }

    #[test]
    fn m9_sms_provider_from_env_keeps_numbers_as_text_and_needs_every_field() {
        let l = from_sources(
            "f",
            "",
            &env(&[
                ("GATEHOUSE_SMS_API_URL", "https://api.example.com"),
                ("GATEHOUSE_SMS_ACCOUNT_ID", "12345"),
                ("GATEHOUSE_SMS_TOKEN", "tok"),
                ("GATEHOUSE_SMS_FROM", "+15550009999"),
                ("GATEHOUSE_SMS_COUNTRY_CODES", "+1, 44"),
            ]),
        )
        .expect("ok");
        let p = l.config.sms.provider().expect("provider");
        assert_eq!(
            (p.account_id.as_str(), p.from.as_str()),
            ("12345", "+15550009999")
        );
        assert_eq!(l.settings().sms_country_codes, vec!["+1", "+44"]);
        assert!(
            !format!("{:?}", l.config.sms).contains("tok\""),
            "G1: token redacted"
        );
        let e = from_sources("f", "", &env(&[("GATEHOUSE_SMS_TOKEN", "tok")]))
            .expect_err("incomplete provider");
        assert!(
            e.to_string()
                .contains("api_url, account_id, token and from"),
            "{e}"
        );
        let e = from_sources("f", "[sms]\ncountry_codes = \"+1, UK\"", &[]).expect_err("bad code");
        assert!(e.to_string().contains("sms.country_codes"), "{e}");
    }

    #[test]
    fn f7_recovery_methods_come_from_config() {
        let both = from_sources("f", "", &[]).expect("defaults");
        let st = both.settings();
        assert!(st.recovery_email_link && st.sms_recovery());
        let link_only = from_sources(
            "f",
            "",
            &env(&[("GATEHOUSE_RECOVERY_METHODS", "email_link")]),
        )
        .expect("ok");
        assert!(!link_only.settings().sms_recovery());
        let e = from_sources("f", "[recovery]\nmethods = \"carrier_pigeon\"", &[])
            .expect_err("unknown method");
        assert!(e.to_string().contains("recovery.methods"), "{e}");
        assert!(from_sources("f", "[recovery]\nmethods = \"\"", &[]).is_err());
    }

    #[test]
    fn r4_production_without_an_sms_provider_turns_sms_off() {
        let key = "0".repeat(64);
        let l = from_sources(
            "f",
            "public_url = \"https://x.org\"\n[smtp]\nhost = \"m\"\nfrom = \"a@b.c\"",
            &env(&[("GATEHOUSE_MFA_SECRET_KEY", &key)]),
        )
        .expect("ok");
        assert!(l.settings().sms_country_codes.is_empty());
        let dev = from_sources("f", "", &[]).expect("dev");
        assert_eq!(dev.settings().sms_country_codes, vec!["+1", "+44"]);
    }

    #[test]
    fn y2_y4_connection_limits_have_safe_defaults_and_env_overrides() {
        let d = from_sources("f", "", &[]).expect("defaults").config.limits;
        assert_eq!(
            (
                d.header_read_timeout_secs,
                d.keep_alive_timeout_secs,
                d.max_connections,
                d.shutdown_grace_secs
            ),
            (10, 75, 0, 10)
        );
        let l = from_sources(
            "f",
            "[limits]\nheader_read_timeout_secs = 5\nmax_connections = 300\n",
            &env(&[
                ("GATEHOUSE_LIMITS_HEADER_READ_TIMEOUT_SECS", "2"),
                ("GATEHOUSE_LIMITS_KEEP_ALIVE_TIMEOUT_SECS", "30"),
                ("GATEHOUSE_LIMITS_SHUTDOWN_GRACE_SECS", "0"),
            ]),
        )
        .expect("ok");
        let m = &l.config.limits;
        assert_eq!(
            (
                m.header_read_timeout_secs,
                m.keep_alive_timeout_secs,
                m.max_connections,
                m.shutdown_grace_secs
            ),
            (2, 30, 300, 0)
        );
        let shown = format!("{:?}", l.config);
        assert!(
            shown.contains("header_read_timeout_secs: 2") && shown.contains("max_connections: 300"),
            "{shown}"
        );
        for (var, value, key) in [
            (
                "GATEHOUSE_LIMITS_HEADER_READ_TIMEOUT_SECS",
                "0",
                "limits.header_read_timeout_secs",
            ),
            (
                "GATEHOUSE_LIMITS_KEEP_ALIVE_TIMEOUT_SECS",
                "0",
                "limits.keep_alive_timeout_secs",
            ),
            (
                "GATEHOUSE_LIMITS_MAX_CONNECTIONS",
                "100001",
                "limits.max_connections",
            ),
            (
                "GATEHOUSE_LIMITS_SHUTDOWN_GRACE_SECS",
                "601",
                "limits.shutdown_grace_secs",
            ),
        ] {
            let e = from_sources("f", "", &env(&[(var, value)]))
                .expect_err(var)
                .to_string();
            assert!(e.contains(key), "{var}={value}: {e}");
        }
    }

    #[test]
    fn g1_database_url_is_redacted_in_debug() {
        let l = from_sources(
            "f",
            "",
            &env(&[(
                "DATABASE_URL",
                "postgres://gh:s3cret-pw@db.internal/gatehouse",
            )]),
        )
        .expect("ok");
        let shown = format!("{:?}", l.config);
        assert!(shown.contains("database_url: \"postgres:***\""), "{shown}");
        assert!(!shown.contains("s3cret-pw"), "{shown}");
    }

    #[test]
    fn g1_smtp_password_is_redacted_in_debug() {
        let key = "ab".repeat(32);
        let l = from_sources("f", "public_url = \"https://x.org\"\n[smtp]\nhost = \"m\"\nfrom = \"a@b.c\"\nusername = \"u\"\npassword = \"hunter22\"", &env(&[("GATEHOUSE_MFA_SECRET_KEY", &key)])).expect("ok");
        assert!(!format!("{l:?}").contains("hunter22"));
        assert!(
            !format!("{l:?}").contains(&key),
            "the MFA key is redacted too"
        );
        assert!(l.secret_key().is_ok());
    }
}
