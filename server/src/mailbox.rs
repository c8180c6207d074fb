//! The dev mailbox (dev mode only): every outgoing email and SMS, newest first, as a page with
//! clickable links (`/dev/mailbox`) and as JSON (`/dev/mailbox.json`) for tests. It reads the
//! outbox, so it shows exactly what the delivery worker sends.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Json, Response};
use gatehouse_core::outbox::{self, Queued};
use gatehouse_core::service::Deps;
use serde::Serialize;

#[derive(Serialize)]
struct Entry {
    channel: &'static str,
    to: String,
    subject: String,
    text: String,
    created_at: String,
    delivered: bool,
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

async fn entries(deps: &Deps) -> Result<Vec<Queued>, StatusCode> {
    let mut c = deps
        .store
        .conn()
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    outbox::recent(&mut c, 200)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

pub async fn json(State(deps): State<Deps>) -> Response {
    match entries(&deps).await {
        Ok(list) => Json(
            list.into_iter()
                .map(|q| Entry {
                    channel: q.message.channel.as_str(),
                    to: q.message.recipient,
                    subject: q.message.subject,
                    text: q.message.text,
                    created_at: rfc3339(q.created_at),
                    delivered: q.sent_at.is_some(),
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(s) => s.into_response(),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Escapes text and turns http(s) URLs into links.
fn linkify(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            line.split(' ')
                .map(|w| {
                    if w.starts_with("http://") || w.starts_with("https://") {
                        format!("<a href=\"{0}\">{0}</a>", escape(w))
                    } else {
                        escape(w)
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

pub async fn page(State(deps): State<Deps>) -> Response {
    let list = match entries(&deps).await {
        Ok(l) => l,
        Err(s) => return s.into_response(),
    };
    let items: String = if list.is_empty() {
        "<p>No messages yet. Register or sign in, and what Gatehouse sends appears here.</p>".into()
    } else {
        list.iter()
            .map(|q| {
                format!(
                    "<article class=\"mail\"><h2>{subj}</h2><p class=\"mail__meta\">{ch} to {to} · {at}{st}</p><div class=\"mail__body\">{body}</div></article>",
                    subj = if q.message.subject.is_empty() {
                        "Text message".to_string()
                    } else {
                        escape(&q.message.subject)
                    },
                    ch = q.message.channel.as_str(),
                    to = escape(&q.message.recipient),
                    at = rfc3339(q.created_at),
                    st = if q.sent_at.is_some() { " · delivered" } else { " · queued" },
                    body = linkify(&q.message.text),
                )
            })
            .collect()
    };
    // H3: its own CSP — no script at all, only our stylesheet; links open like any link.
    let csp = (
        axum::http::header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    (
        [csp],
        Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Dev mailbox · Gatehouse</title><link rel=\"stylesheet\" href=\"/pkg/gatehouse.css\"></head><body>\
         <header class=\"site-header\"><a class=\"brand\" href=\"/\"><span class=\"brand__mark\" aria-hidden=\"true\">◆</span> Gatehouse</a></header>\
         <main class=\"page\" id=\"main\"><h1>Dev mailbox</h1><p>Every email and text message this instance sends, newest first. Dev mode only.</p>{items}</main></body></html>"
        )),
    )
        .into_response()
}
