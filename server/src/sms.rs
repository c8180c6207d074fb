//! Text messages (M9): the [`SmsSender`] abstraction the outbox worker delivers through, and
//! the HTTP provider transport.
//!
//! - [`HttpSms`]: a Twilio-style REST provider — `POST {api_url}/2010-04-01/Accounts/{account}/Messages.json`
//!   with HTTP Basic auth (account id, token) and a form body `To`, `From`, `Body`; any 2xx is
//!   delivered; a 4xx other than 408/429 is permanent (the request itself is wrong: a bad
//!   number, bad credentials), anything else is retried by the outbox with backoff. HTTPS through rustls with
//!   the system's CA roots.
//! - In dev mode the worker hands text messages to the dev mailbox instead (`mailbox`).
//!
//! G1: the token never reaches a log (redacted `Debug`); errors name the status, not the body
//! of the request.

use bytes::Bytes;
use gatehouse_core::mechanisms::outbox::Failure;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

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

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A Twilio-style REST API.
pub struct HttpSms {
    client: HttpsClient,
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
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| format!("sms: no CA certificates: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self {
            client,
            url,
            authorization,
            from: c.from.clone(),
        })
    }

    async fn post(&self, to: &str, body: &str) -> Result<(), Failure> {
        let form = serde_urlencoded::to_string([("To", to), ("From", &self.from), ("Body", body)])
            .map_err(|e| Failure::Permanent(e.to_string()))?;
        let req = http::Request::post(self.url.clone())
            .header(http::header::AUTHORIZATION, self.authorization.clone())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(form)))
            .map_err(|e| Failure::Permanent(e.to_string()))?;
        let res = tokio::time::timeout(Duration::from_secs(20), self.client.request(req))
            .await
            .map_err(|_| Failure::Temporary("sms provider: timed out".into()))?
            .map_err(|e| Failure::Temporary(format!("sms provider: {e}")))?;
        let status = res.status();
        // Read (and drop) the answer so the connection can be reused.
        let _ = res.into_body().collect().await;
        let text = format!("sms provider answered {status}");
        match status.as_u16() {
            200..=299 => Ok(()),
            408 | 429 => Err(Failure::Temporary(text)),
            400..=499 => Err(Failure::Permanent(text)),
            _ => Err(Failure::Temporary(text)),
        }
    }
}

impl SmsSender for HttpSms {
    fn send<'a>(&'a self, to: &'a str, body: &'a str) -> SendFuture<'a> {
        Box::pin(self.post(to, body))
    }
}
