//! Email through an SMTP relay: lettre on rustls with ring (no OpenSSL).
//!
//! - Encrypted by default: `security = "starttls"` (port 587; the relay must offer STARTTLS or
//!   nothing is sent), `"tls"` (implicit TLS, port 465) or `"none"` (port 25), which is refused
//!   for anything but a loopback relay unless `allow_plaintext = true` — credentials and codes
//!   must not cross a network in clear text.
//! - The relay's certificate is checked against the system's CA roots, or against `ca_file`
//!   alone (a private CA): a relay that cannot prove its name gets nothing.
//! - One URL may replace the separate keys, the way Kratos users write it:
//!   `smtps://user:pass@host:465` (implicit TLS), `smtp://…` (STARTTLS),
//!   `smtp://…?disable_starttls=true` (plain; same loopback rule).
//! - G1: the password (from `password` or `password_file`) is redacted in `Debug` and never
//!   logged; errors name the relay's answer, not the credentials.
//! - Y1: every message carries a `Message-ID` made from its outbox row, so a message sent again
//!   after a crash mid-delivery is the same message to the mail systems that drop duplicates.
//! - A relay's permanent refusal (5xx) is told apart from a temporary one (4xx, no connection,
//!   timeout): the outbox gives up on the first at once and retries the second.

use gatehouse_core::mechanisms::outbox::Failure;
use gatehouse_core::mechanisms::outbox::Queued;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::Duration;

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS; refused if the relay does not offer it.
    Starttls,
    /// TLS from the first byte ("SMTPS").
    Tls,
    /// No encryption: only to a loopback relay, unless `allow_plaintext`.
    None,
}

impl Security {
    fn default_port(self) -> u16 {
        match self {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::None => 25,
        }
    }
}

/// `[smtp]` as written in the file (or `GATEHOUSE_SMTP_*`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// `smtp://` or `smtps://` URL with user, password, host and port in one value.
    pub url: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub security: Option<Security>,
    #[serde(default)]
    pub allow_plaintext: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<String>,
    /// The sender, with a display name if wanted: `Gatehouse <no-reply@id.example.com>`.
    pub from: String,
    pub reply_to: Option<String>,
    /// The name given in EHLO (default: this machine's name).
    pub hello_name: Option<String>,
    pub timeout_secs: Option<u64>,
    /// PEM file of the CA that signed the relay's certificate (replaces the system roots).
    pub ca_file: Option<String>,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |s: &Option<String>| s.as_ref().map(|_| "***");
        f.debug_struct("SmtpConfig")
            .field("url", &self.url.as_ref().map(|u| redact_url(u)))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("allow_plaintext", &self.allow_plaintext)
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("password_file", &self.password_file)
            .field("from", &self.from)
            .field("reply_to", &self.reply_to)
            .field("hello_name", &self.hello_name)
            .field("timeout_secs", &self.timeout_secs)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// The URL with its password replaced, for `Debug`.
fn redact_url(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "(not a URL)".into(),
    }
}

/// Everything the sender needs, checked: where, how, as whom.
#[derive(Clone)]
pub struct Relay {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub credentials: Option<(String, String)>,
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    pub hello_name: Option<String>,
    pub timeout: Duration,
    /// PEM of the private CA, read at start-up.
    pub ca_pem: Option<Vec<u8>>,
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relay")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("from", &self.from.to_string())
            .finish()
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

impl SmtpConfig {
    /// Checks the section and reads its files (`password_file`, `ca_file`). Every message names
    /// the key at fault.
    pub fn relay(&self) -> Result<Relay, String> {
        let mut host = self.host.clone();
        let mut port = self.port;
        let mut security = self.security;
        let mut username = self.username.clone();
        let mut password = self.password.clone();
        if let Some(u) = &self.url {
            let parsed = url::Url::parse(u)
                .map_err(|e| format!("smtp.url: not a URL ({e}): {}", redact_url(u)))?;
            let from_url = match parsed.scheme() {
                "smtps" => Security::Tls,
                "smtp" => {
                    let plain = parsed
                        .query_pairs()
                        .any(|(k, v)| k == "disable_starttls" && v == "true");
                    if plain {
                        Security::None
                    } else {
                        Security::Starttls
                    }
                }
                other => {
                    return Err(format!(
                        "smtp.url: the scheme must be smtp or smtps, got {other:?}"
                    ))
                }
            };
            if self.host.is_some() || self.security.is_some() {
                return Err("smtp.url: give either url or host/security, not both".into());
            }
            host = parsed.host_str().map(str::to_string);
            port = parsed.port().or(port);
            security = Some(from_url);
            if !parsed.username().is_empty() {
                username = Some(decode(parsed.username()));
            }
            if let Some(p) = parsed.password() {
                password = Some(decode(p));
            }
        }
        let host = host
            .filter(|h| !h.trim().is_empty())
            .ok_or("smtp.host: the relay's name is missing (or give smtp.url)")?;
        let security = security.unwrap_or(Security::Starttls);
        if security == Security::None && !self.allow_plaintext && !is_loopback(&host) {
            return Err(format!(
                "smtp.security = \"none\" sends mail and the relay password in clear text to {host}; \
                 use \"starttls\" or \"tls\", or set smtp.allow_plaintext = true if the network is trusted"
            ));
        }
        if let Some(file) = &self.password_file {
            if password.is_some() {
                return Err("smtp.password_file: give either password or password_file".into());
            }
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("smtp.password_file {file}: {e}"))?;
            password = Some(text.trim_end_matches(['\n', '\r']).to_string());
        }
        let credentials = match (username, password) {
            (Some(u), Some(p)) => Some((u, p)),
            (None, None) => None,
            _ => return Err("smtp: username and password go together".into()),
        };
        let from: Mailbox = self.from.parse().map_err(|e| {
            format!("smtp.from: {e} (write it like Gatehouse <no-reply@example.com>)")
        })?;
        let reply_to = self
            .reply_to
            .as_deref()
            .map(|r| r.parse::<Mailbox>())
            .transpose()
            .map_err(|e| format!("smtp.reply_to: {e}"))?;
        let timeout_secs = self.timeout_secs.unwrap_or(20);
        if !(1..=600).contains(&timeout_secs) {
            return Err("smtp.timeout_secs: between 1 and 600".into());
        }
        let ca_pem = self
            .ca_file
            .as_ref()
            .map(|f| std::fs::read(f).map_err(|e| format!("smtp.ca_file {f}: {e}")))
            .transpose()?;
        if let Some(pem) = &ca_pem {
            Certificate::from_pem(pem).map_err(|e| format!("smtp.ca_file: {e}"))?;
        }
        Ok(Relay {
            port: port.unwrap_or(security.default_port()),
            host,
            security,
            credentials,
            from,
            reply_to,
            hello_name: self.hello_name.clone(),
            timeout: Duration::from_secs(timeout_secs),
            ca_pem,
        })
    }
}

/// Sends through one relay.
pub struct Smtp {
    mailer: AsyncSmtpTransport<Tokio1Executor>,
    relay: Relay,
}

impl Smtp {
    pub fn new(relay: Relay) -> Result<Self, String> {
        let tls = match relay.security {
            Security::None => Tls::None,
            Security::Starttls => Tls::Required(tls_parameters(&relay)?),
            Security::Tls => Tls::Wrapper(tls_parameters(&relay)?),
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&relay.host)
            .port(relay.port)
            .tls(tls)
            .timeout(Some(relay.timeout));
        if let Some(name) = &relay.hello_name {
            b = b.hello_name(ClientId::Domain(name.clone()));
        }
        if let Some((u, p)) = &relay.credentials {
            b = b.credentials(Credentials::new(u.clone(), p.clone()));
        }
        Ok(Smtp {
            mailer: b.build(),
            relay,
        })
    }

    pub async fn send(&self, q: &Queued) -> Result<(), Failure> {
        let email = self.message(q).map_err(Failure::Permanent)?;
        // The whole delivery is bounded (lettre's own timeout covers single reads): a relay
        // that takes the message and never answers cannot hold the worker, or a shutdown (Y2).
        let sent = tokio::time::timeout(self.relay.timeout, self.mailer.send(email))
            .await
            .map_err(|_| {
                Failure::Temporary(format!(
                    "the relay did not answer within {} s",
                    self.relay.timeout.as_secs()
                ))
            })?;
        sent.map(|_| ()).map_err(|e| {
            let text = e.to_string();
            if e.is_permanent() {
                Failure::Permanent(text)
            } else {
                Failure::Temporary(text)
            }
        })
    }

    fn message(&self, q: &Queued) -> Result<lettre::Message, String> {
        let to: Mailbox = q
            .message
            .recipient
            .parse()
            .map_err(|e| format!("recipient: {e}"))?;
        let mut b = lettre::Message::builder()
            .from(self.relay.from.clone())
            .to(to)
            .message_id(Some(message_id(q, self.relay.from.email.domain())))
            .subject(&q.message.subject);
        if let Some(r) = &self.relay.reply_to {
            b = b.reply_to(r.clone());
        }
        b.multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(q.message.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(q.message.html.clone()),
                ),
        )
        .map_err(|e| e.to_string())
    }
}

fn tls_parameters(relay: &Relay) -> Result<TlsParameters, String> {
    let mut b = TlsParameters::builder(relay.host.clone());
    if let Some(pem) = &relay.ca_pem {
        let ca = Certificate::from_pem(pem).map_err(|e| format!("smtp.ca_file: {e}"))?;
        b = b
            .certificate_store(CertificateStore::None)
            .add_root_certificate(ca);
    }
    b.build_rustls()
        .map_err(|e| format!("smtp: TLS set-up: {e}"))
}

/// Y1: the same outbox row always gets the same `Message-ID`; rows of different instances or
/// databases differ by the digest of what the row holds.
pub fn message_id(q: &Queued, domain: &str) -> String {
    let mut h = Sha256::new();
    h.update(q.id.to_be_bytes());
    h.update(q.created_at.to_be_bytes());
    h.update(q.message.recipient.as_bytes());
    h.update(q.message.subject.as_bytes());
    let digest = hex::encode(&h.finalize()[..12]);
    format!("<{}.{digest}@{domain}>", q.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(toml_text: &str) -> SmtpConfig {
        toml::from_str(toml_text).expect("parses")
    }

    #[test]
    fn starttls_is_the_default_on_port_587() {
        let r = section("host = \"mail.example.com\"\nfrom = \"Gatehouse <no-reply@example.com>\"")
            .relay()
            .expect("valid");
        assert_eq!((r.security, r.port), (Security::Starttls, 587));
        assert_eq!(r.from.name.as_deref(), Some("Gatehouse"));
    }

    #[test]
    fn implicit_tls_defaults_to_465_and_none_to_25() {
        let tls = section("host = \"m.example\"\nsecurity = \"tls\"\nfrom = \"a@b.c\"")
            .relay()
            .expect("valid");
        assert_eq!(tls.port, 465);
        let plain = section("host = \"127.0.0.1\"\nsecurity = \"none\"\nfrom = \"a@b.c\"")
            .relay()
            .expect("valid");
        assert_eq!(plain.port, 25);
    }

    #[test]
    fn plaintext_to_a_remote_relay_needs_the_explicit_opt_in() {
        let e = section("host = \"mail.example.com\"\nsecurity = \"none\"\nfrom = \"a@b.c\"")
            .relay()
            .expect_err("refused");
        assert!(e.contains("allow_plaintext"), "{e}");
        let ok = section(
            "host = \"mail.example.com\"\nsecurity = \"none\"\nallow_plaintext = true\nfrom = \"a@b.c\"",
        )
        .relay()
        .expect("opted in");
        assert_eq!(ok.security, Security::None);
    }

    #[test]
    fn one_url_carries_user_password_host_port_and_security() {
        let r = section(
            "url = \"smtps://mailer%40example.com:p%40ss@smtp.example.com:2465\"\nfrom = \"a@b.c\"",
        )
        .relay()
        .expect("valid");
        assert_eq!(r.security, Security::Tls);
        assert_eq!((r.host.as_str(), r.port), ("smtp.example.com", 2465));
        assert_eq!(
            r.credentials,
            Some(("mailer@example.com".to_string(), "p@ss".to_string()))
        );
        let s = section("url = \"smtp://smtp.example.com\"\nfrom = \"a@b.c\"")
            .relay()
            .expect("valid");
        assert_eq!((s.security, s.port), (Security::Starttls, 587));
        let e =
            section("url = \"smtp://relay.example.com?disable_starttls=true\"\nfrom = \"a@b.c\"")
                .relay()
                .expect_err("plain to a remote relay");
        assert!(e.contains("allow_plaintext"), "{e}");
    }

    #[test]
    fn g1_the_password_never_prints() {
        let c = section(
            "url = \"smtps://u:hunter22@smtp.example.com\"\npassword = \"hunter33\"\nfrom = \"a@b.c\"",
        );
        let shown = format!("{c:?}");
        assert!(shown.contains("smtp.example.com"), "{shown}");
        assert!(
            !shown.contains("hunter22") && !shown.contains("hunter33"),
            "{shown}"
        );
        let r = section("url = \"smtps://u:hunter22@smtp.example.com\"\nfrom = \"a@b.c\"")
            .relay()
            .expect("valid");
        let shown = format!("{r:?}");
        assert!(
            shown.contains("smtp.example.com") && !shown.contains("hunter22"),
            "{shown}"
        );
    }

    #[test]
    fn password_file_is_read_and_half_credentials_are_refused() {
        let dir = std::env::temp_dir().join(format!("gh-smtp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("pw");
        std::fs::write(&file, "s3cret\n").expect("write");
        let r = section(&format!(
            "host = \"m.example\"\nusername = \"u\"\npassword_file = \"{}\"\nfrom = \"a@b.c\"",
            file.display()
        ))
        .relay()
        .expect("valid");
        assert_eq!(r.credentials, Some(("u".into(), "s3cret".into())));
        let e = section("host = \"m.example\"\nusername = \"u\"\nfrom = \"a@b.c\"")
            .relay()
            .expect_err("no password");
        assert!(e.contains("username and password go together"), "{e}");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("from = \"a@b.c\"", "smtp.host"),
            ("host = \"m\"\nfrom = \"not an address\"", "smtp.from"),
            (
                "host = \"m\"\nfrom = \"a@b.c\"\nreply_to = \"x\"",
                "smtp.reply_to",
            ),
            (
                "host = \"m\"\nfrom = \"a@b.c\"\ntimeout_secs = 0",
                "smtp.timeout_secs",
            ),
            (
                "host = \"m\"\nfrom = \"a@b.c\"\nca_file = \"/nonexistent/ca.pem\"",
                "smtp.ca_file",
            ),
            ("url = \"http://m\"\nfrom = \"a@b.c\"", "smtp.url"),
        ] {
            let e = section(text).relay().expect_err(text);
            assert!(e.starts_with(key), "{text}: {e}");
        }
    }

    #[test]
    fn y1_a_row_keeps_its_message_id() {
        use gatehouse_core::mechanisms::outbox::{Channel, Message};
        let q = |id: i64| Queued {
            id,
            message: Message {
                channel: Channel::Email,
                recipient: "ada@example.com".into(),
                subject: "Your code".into(),
                text: "t".into(),
                html: "h".into(),
            },
            attempts: 1,
            created_at: 1_700_000_000,
            sent_at: None,
            last_error: None,
            failed_at: None,
        };
        let first = message_id(&q(7), "example.com");
        assert_eq!(first, message_id(&q(7), "example.com"));
        assert_ne!(first, message_id(&q(8), "example.com"));
        assert!(
            first.starts_with("<7.") && first.ends_with("@example.com>"),
            "{first}"
        );
    }
}
