//! The outbox delivery worker (Y1): claims due messages, sends them, records the result, and
//! retries failures with exponential backoff. It stops between messages on shutdown (Y2).
//!
//! Transports: email by SMTP through lettre when configured, text messages through the
//! configured [`SmsSender`] (an HTTP provider); otherwise (dev mode) the message is delivered
//! to the in-memory [`DevMailbox`].
//!
//! Y5: a delivered message loses its body in the outbox (`outbox::mark_sent`), and every
//! [`SWEEP_EVERY`] the worker sweeps what has expired (`gatehouse_core::mechanisms::sweep`).

use crate::config::SmtpConfig;
use crate::mailbox::DevMailbox;
use crate::sms::{HttpSms, HttpSmsConfig, SmsSender};
use gatehouse_core::mechanisms::outbox::{self, Channel, Queued};
use gatehouse_core::mechanisms::service::Deps;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;
use tokio::sync::watch;

/// How each channel leaves the building.
pub struct Transport {
    /// `None`: email goes to the dev mailbox.
    email: Option<Smtp>,
    /// `None`: text messages go to the dev mailbox.
    sms: Option<Box<dyn SmsSender>>,
    mailbox: DevMailbox,
}

struct Smtp {
    mailer: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// Y5: how often expired rows are swept.
pub const SWEEP_EVERY: Duration = Duration::from_secs(600);

impl Transport {
    pub fn from_config(
        smtp: Option<&SmtpConfig>,
        sms: Option<&HttpSmsConfig>,
        mailbox: DevMailbox,
    ) -> Result<Self, String> {
        let sms: Option<Box<dyn SmsSender>> = match sms {
            Some(c) => Some(Box::new(HttpSms::new(c)?)),
            None => None,
        };
        Ok(Transport {
            email: smtp.map(Smtp::from_config).transpose()?,
            sms,
            mailbox,
        })
    }

    async fn send(&self, q: &Queued) -> Result<(), String> {
        match (q.message.channel, &self.email, &self.sms) {
            (Channel::Email, Some(smtp), _) => smtp.send(q).await,
            (Channel::Sms, _, Some(sms)) => sms.send(&q.message.recipient, &q.message.text).await,
            _ => {
                self.mailbox.deliver(q);
                Ok(())
            }
        }
    }
}

impl Smtp {
    fn from_config(s: &SmtpConfig) -> Result<Self, String> {
        let from: Mailbox = s.from.parse().map_err(|e| format!("smtp.from: {e}"))?;
        // Plain SMTP to a local relay; TLS to remote relays is a follow-up (see README).
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
            .port(s.port)
            .timeout(Some(Duration::from_secs(20)));
        if let (Some(u), Some(p)) = (&s.username, &s.password) {
            b = b.credentials(Credentials::new(u.clone(), p.clone()));
        }
        Ok(Smtp {
            mailer: b.build(),
            from,
        })
    }

    async fn send(&self, q: &Queued) -> Result<(), String> {
        let to: Mailbox = q
            .message
            .recipient
            .parse()
            .map_err(|e| format!("recipient: {e}"))?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&q.message.subject)
            .multipart(
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
            .map_err(|e| e.to_string())?;
        self.mailer
            .send(email)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Delivers every due message once; returns how many were handled.
pub async fn drain(
    deps: &Deps,
    transport: &Transport,
) -> Result<usize, gatehouse_core::store::DbError> {
    let mut n = 0;
    loop {
        let claimed = {
            let mut c = deps.store.conn().await?;
            outbox::claim_next(&mut c, deps.now()).await?
        };
        let Some(q) = claimed else { return Ok(n) };
        let result = transport.send(&q).await;
        let mut c = deps.store.conn().await?;
        match result {
            Ok(()) => {
                outbox::mark_sent(&mut c, q.id, deps.now()).await?;
                tracing::info!(
                    id = q.id,
                    channel = q.message.channel.as_str(),
                    "message delivered"
                );
            }
            Err(e) => {
                outbox::mark_failed(&mut c, &q, &e, deps.now()).await?;
                tracing::warn!(id = q.id, attempts = q.attempts, error = %e, "message delivery failed; will retry");
            }
        }
        n += 1;
    }
}

/// Y5: one sweep of expired sessions, challenges, tokens, rate windows and old messages.
pub async fn sweep(
    deps: &Deps,
) -> Result<gatehouse_core::mechanisms::sweep::Swept, gatehouse_core::store::DbError> {
    let mut c = deps.store.conn().await?;
    gatehouse_core::mechanisms::sweep::run(&mut c, &deps.settings, deps.now()).await
}

/// Runs until `stop` flips, polling every `every`.
pub async fn run(
    deps: Deps,
    transport: Transport,
    mut stop: watch::Receiver<bool>,
    every: Duration,
) {
    let mut next_sweep = tokio::time::Instant::now();
    loop {
        if let Err(e) = drain(&deps, &transport).await {
            tracing::error!(error = %e, "outbox worker: database error");
        }
        if tokio::time::Instant::now() >= next_sweep {
            next_sweep += SWEEP_EVERY;
            match sweep(&deps).await {
                Ok(n) => tracing::info!(removed = n.total(), "swept expired rows (Y5)"),
                Err(e) => tracing::error!(error = %e, "sweeper: database error"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            tracing::info!("outbox worker stopped");
            return;
        }
    }
}
