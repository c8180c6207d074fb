//! The outbox delivery worker (Y1): claims due messages, sends them, records the result, and
//! retries failures with exponential backoff. It stops between messages on shutdown (Y2).
//!
//! Transports: email by SMTP through lettre when configured (`smtp`), text messages through the
//! configured [`SmsSender`] (an HTTP provider); otherwise (dev mode) the message is delivered
//! to the in-memory [`DevMailbox`].
//!
//! Y5: a delivered message loses its body in the outbox (`outbox::mark_sent`), and every
//! [`SWEEP_EVERY`] the worker sweeps what has expired (`gatehouse_core::mechanisms::sweep`).

use crate::mailbox::DevMailbox;
use crate::sms::{HttpSms, HttpSmsConfig, SmsSender};
use crate::smtp::{Relay, Smtp};
use gatehouse_core::mechanisms::outbox::{self, AfterFailure, Channel, Failure, Queued};
use gatehouse_core::mechanisms::service::Deps;
use gatehouse_core::mechanisms::signing::SigningError;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;

/// How each channel leaves the building.
pub struct Transport {
    /// `None`: email goes to the dev mailbox.
    email: Option<Smtp>,
    /// `None`: text messages go to the dev mailbox.
    sms: Option<Box<dyn SmsSender>>,
    /// O6: back-channel logout tokens go to the clients' own endpoints, in dev mode too.
    web: crate::http_out::FormPoster,
    mailbox: DevMailbox,
}

/// Y5: how often expired rows are swept.
pub const SWEEP_EVERY: Duration = Duration::from_secs(600);

impl Transport {
    pub fn from_config(
        smtp: Option<Relay>,
        sms: Option<&HttpSmsConfig>,
        mailbox: DevMailbox,
    ) -> Result<Self, String> {
        let sms: Option<Box<dyn SmsSender>> = match sms {
            Some(c) => Some(Box::new(HttpSms::new(c)?)),
            None => None,
        };
        Ok(Transport {
            email: smtp.map(Smtp::new).transpose()?,
            sms,
            web: crate::http_out::FormPoster::new()?,
            mailbox,
        })
    }

    async fn send(&self, q: &Queued) -> Result<(), Failure> {
        match (q.message.channel, &self.email, &self.sms) {
            (Channel::Email, Some(smtp), _) => smtp.send(q).await,
            (Channel::Sms, _, Some(sms)) => sms.send(&q.message.recipient, &q.message.text).await,
            (Channel::Logout, _, _) => {
                let url: http::Uri = q.message.recipient.parse().map_err(|e| {
                    Failure::Permanent(format!("logout URI {}: {e}", q.message.recipient))
                })?;
                let form = [("logout_token", q.message.text.as_str())];
                self.web
                    .post(&url, None, &form, "back-channel logout")
                    .await
            }
            _ => {
                self.mailbox.deliver(q);
                Ok(())
            }
        }
    }
}

/// What the worker needs besides the transport.
pub struct Worker {
    pub deps: Deps,
    pub transport: Transport,
    /// A message fails for good after this many temporary failures (a permanent one at once).
    pub max_attempts: i64,
    /// How long a claimed message is this worker's before another may take it (Y1: a worker
    /// killed mid-send gives its message back when this runs out).
    pub lease_secs: i64,
    /// How often to look for due messages.
    pub every: Duration,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
}

impl Worker {
    /// Delivers due messages one at a time until none is due or `stop` flips (Y2: the message
    /// in flight is finished, the rest of the batch waits for the next start); returns how many
    /// were handled.
    pub async fn drain(
        &self,
        stop: &watch::Receiver<bool>,
    ) -> Result<usize, gatehouse_core::store::DbError> {
        let deps = &self.deps;
        let mut n = 0;
        while !*stop.borrow() {
            let claimed = {
                let mut c = deps.store.conn().await?;
                outbox::claim_next(&mut c, deps.now(), self.lease_secs).await?
            };
            let Some(q) = claimed else { break };
            // The lease runs from the claim; the "sent" mark must land well inside it.
            let lease_ends = tokio::time::Instant::now()
                + Duration::from_secs(u64::try_from(self.lease_secs).unwrap_or(0));
            let result = match self.ready(&q).await {
                Ok(q) => self.transport.send(&q).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => {
                    self.mark_sent(&q, lease_ends).await?;
                    self.metrics.outbox_sent.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        id = q.id,
                        channel = q.message.channel.as_str(),
                        "message delivered"
                    );
                }
                Err(e) => {
                    let mut c = deps.store.conn().await?;
                    let after =
                        outbox::mark_failed(&mut c, &q, &e, self.max_attempts, deps.now()).await?;
                    let counter = match after {
                        AfterFailure::RetryAt(_) => &self.metrics.outbox_retried,
                        AfterFailure::GaveUp => &self.metrics.outbox_gave_up,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    log_failure(&q, &e, after);
                }
            }
            n += 1;
        }
        Ok(n)
    }

    /// Y1/Y4: records that `q` went out. The relay already has it, so a database that does not
    /// answer right now must not make it go out again when the lease runs out (the same
    /// Message-ID twice): the mark is retried, backing off, until shortly before `lease_ends`.
    async fn mark_sent(
        &self,
        q: &Queued,
        lease_ends: tokio::time::Instant,
    ) -> Result<(), gatehouse_core::store::DbError> {
        let deps = &self.deps;
        let margin = Duration::from_secs(2);
        let mut wait = Duration::from_millis(200);
        loop {
            let marked = async {
                let mut c = deps.store.conn().await?;
                outbox::mark_sent(&mut c, q.id, deps.now()).await
            }
            .await;
            match marked {
                Ok(()) => return Ok(()),
                Err(e) if tokio::time::Instant::now() + wait + margin < lease_ends => {
                    tracing::warn!(id = q.id, error = %e, "outbox: could not mark a sent message yet; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The message as it leaves now. O9: a back-channel logout notice is signed at each
    /// attempt (fresh `iat`/`exp`), so a retry after the first token's lifetime still counts.
    async fn ready(&self, q: &Queued) -> Result<Queued, Failure> {
        if q.message.channel != Channel::Logout {
            return Ok(q.clone());
        }
        let deps = &self.deps;
        let mut c = deps
            .store
            .conn()
            .await
            .map_err(|e| Failure::Temporary(format!("database: {e}")))?;
        let token = gatehouse_core::mechanisms::oidc_logout::signed_for_delivery(
            &mut c,
            &deps.secret_key,
            &q.message.text,
            deps.now(),
        )
        .await
        .map_err(|e| match e {
            SigningError::Malformed(_) => Failure::Permanent(format!("logout notice: {e}")),
            e => Failure::Temporary(format!("logout token: {e}")),
        })?;
        let mut q = q.clone();
        q.message.text = token;
        Ok(q)
    }

    /// Runs until `stop` flips, polling every `every`.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        // Readiness: set while this loop runs, cleared however it ends.
        let _running = crate::metrics::Running::start(&self.metrics.worker_running);
        let mut next_sweep = tokio::time::Instant::now();
        loop {
            if let Err(e) = self.drain(&stop).await {
                tracing::error!(error = %e, "outbox worker: database error");
            }
            if tokio::time::Instant::now() >= next_sweep {
                next_sweep += SWEEP_EVERY;
                match sweep(&self.deps).await {
                    Ok(n) => tracing::info!(removed = n.total(), "swept expired rows (Y5)"),
                    Err(e) => tracing::error!(error = %e, "sweeper: database error"),
                }
            }
            if *stop.borrow() {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.every) => {}
                _ = stop.changed() => {}
            }
        }
        tracing::info!("outbox worker stopped");
    }
}

fn log_failure(q: &Queued, e: &Failure, after: AfterFailure) {
    match after {
        AfterFailure::RetryAt(at) => tracing::warn!(
            id = q.id,
            attempts = q.attempts,
            retry_at = at,
            error = e.text(),
            "message delivery failed; will retry"
        ),
        AfterFailure::GaveUp => tracing::error!(
            id = q.id,
            attempts = q.attempts,
            error = e.text(),
            "message delivery failed for good; see `gatehouse outbox list --failed`"
        ),
    }
}

/// Y5: one sweep of expired sessions, challenges, tokens, rate windows and old messages.
pub async fn sweep(
    deps: &Deps,
) -> Result<gatehouse_core::mechanisms::sweep::Swept, gatehouse_core::store::DbError> {
    let mut c = deps.store.conn().await?;
    gatehouse_core::mechanisms::sweep::run(&mut c, &deps.settings, deps.now()).await
}
