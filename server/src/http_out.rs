//! Outgoing HTTP: one client for every form Gatehouse POSTs to another service — the SMS
//! provider (M9) and back-channel logout tokens (O6). hyper on rustls with the system's CA
//! roots (no OpenSSL); the whole request is bounded by a timeout. Any 2xx is delivered; a 4xx
//! other than 408/429 is permanent (the request itself is wrong), anything else is retried by
//! the outbox with backoff. Errors name the status, never the request's body (G1).

use bytes::Bytes;
use gatehouse_core::mechanisms::outbox::Failure;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use std::time::Duration;

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// How long one POST may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Clone)]
pub struct FormPoster {
    client: HttpsClient,
}

impl FormPoster {
    pub fn new() -> Result<Self, String> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| format!("no CA certificates: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self { client })
    }

    /// POSTs `form` (urlencoded pairs) to `url`; `who` names the receiver in errors.
    pub async fn post(
        &self,
        url: &http::Uri,
        authorization: Option<&http::HeaderValue>,
        form: &[(&str, &str)],
        who: &str,
    ) -> Result<(), Failure> {
        let body =
            serde_urlencoded::to_string(form).map_err(|e| Failure::Permanent(e.to_string()))?;
        let mut req = http::Request::post(url.clone())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json");
        if let Some(a) = authorization {
            req = req.header(http::header::AUTHORIZATION, a.clone());
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Failure::Permanent(e.to_string()))?;
        let res = tokio::time::timeout(TIMEOUT, self.client.request(req))
            .await
            .map_err(|_| Failure::Temporary(format!("{who}: timed out")))?
            .map_err(|e| Failure::Temporary(format!("{who}: {e}")))?;
        let status = res.status();
        // Read (and drop) the answer so the connection can be reused.
        let _ = res.into_body().collect().await;
        let text = format!("{who} answered {status}");
        match status.as_u16() {
            200..=299 => Ok(()),
            408 | 429 => Err(Failure::Temporary(text)),
            400..=499 => Err(Failure::Permanent(text)),
            _ => Err(Failure::Temporary(text)),
        }
    }
}
