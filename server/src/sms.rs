//! Text messages (M9): the [`SmsSender`] abstraction the outbox worker delivers through, and
//! the HTTP provider transport.
//!
//! - [`HttpSms`]: a Twilio-style REST provider — `POST {api_url}/2010-04-01/Accounts/{account}/Messages.json`
//!   with HTTP Basic auth (account id, token) and a form body `To`, `From`, `Body`, through
//!   `http_out` (which says what is delivered, permanent or retried: a bad number or bad
//!   credentials are permanent).
//! - In dev mode the worker hands text messages to the dev mailbox instead (`mailbox`).
//!
//! G1: the token never reaches a log (redacted `Debug`); errors name the status, not the body
//! of the request.

use crate::http_out::FormPoster;
use gatehouse_core::mechanisms::outbox::Failure;
use std::future::Future;
use std::pin::Pin;

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Failure>> + Send + 'a>>;

/// Sends one text message; a temporary `Err` is retried by the outbox, a permanent one is not.
pub trait SmsSender: Send + Sync {
    fn send<'a>(&'a self, to: &'a str, body: &'a str) -> SendFuture<'a>;
}

/// Where and as whom the HTTP provider is called.
#[derive(Clone)]
pub struct HttpSmsConfig {
    pub api_url: String,
    pub account_id: String,
    pub token: String,
    pub from: String,
}

impl std::fmt::Debug for HttpSmsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSmsConfig")
            .field("api_url", &self.api_url)
            .field("account_id", &self.account_id)
            .field("token", &"***")
            .field("from", &self.from)
            .finish()
    }
}

/// A Twilio-style REST API.
pub struct HttpSms {
    poster: FormPoster,
    url: http::Uri,
    authorization: http::HeaderValue,
    from: String,
}

impl HttpSms {
    pub fn new(c: &HttpSmsConfig) -> Result<Self, String> {
        use base64::Engine;
        let url: http::Uri = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            c.api_url.trim_end_matches('/'),
            c.account_id
        )
        .parse()
        .map_err(|e| format!("sms.api_url: {e}"))?;
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", c.account_id, c.token));
        let mut authorization = http::HeaderValue::from_str(&format!("Basic {basic}"))
            .map_err(|_| "sms.account_id / sms.token: not valid in a header".to_string())?;
        authorization.set_sensitive(true);
        Ok(Self {
            poster: FormPoster::new().map_err(|e| format!("sms: {e}"))?,
            url,
            authorization,
            from: c.from.clone(),
        })
    }

    async fn post(&self, to: &str, body: &str) -> Result<(), Failure> {
        let form = [("To", to), ("From", self.from.as_str()), ("Body", body)];
        self.poster
            .post(&self.url, Some(&self.authorization), &form, "sms provider")
            .await
    }
}

impl SmsSender for HttpSms {
    fn send<'a>(&'a self, to: &'a str, body: &'a str) -> SendFuture<'a> {
        Box::pin(self.post(to, body))
    }
}
