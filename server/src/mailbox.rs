//! The dev mailbox (dev mode only): the transport that stands in for SMTP and the SMS provider,
//! and its pages — every delivered email and text message, newest first, with clickable links
//! (`/dev/mailbox`) and as JSON (`/dev/mailbox.json`, `?to=ADDRESS` for one recipient) for tests.
//!
//! Y5: the outbox blanks a message's body once it is delivered, so the dev mailbox keeps what
//! it received itself, in memory (the newest [`KEEP`]); nothing of it reaches the database.

use crate::middleware::{html_escape, NO_SCRIPT_CSP};
use axum::response::{Html, IntoResponse, Json, Response};
use gatehouse_core::mechanisms::outbox::Queued;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// How many delivered messages the dev mailbox keeps.
pub const KEEP: usize = 500;

#[derive(Serialize, Clone)]
struct Entry {
    channel: &'static str,
    to: String,
    subject: String,
    text: String,
    created_at: String,
    delivered: bool,
}

/// The messages delivered in dev mode, newest first; cheap to clone.
#[derive(Clone, Default)]
pub struct DevMailbox(Arc<Mutex<VecDeque<Entry>>>);

impl DevMailbox {
    /// Delivery in dev mode: the message lands here instead of leaving the machine.
    pub fn deliver(&self, q: &Queued) {
        let e = Entry {
            channel: q.message.channel.as_str(),
            to: q.message.recipient.clone(),
            subject: q.message.subject.clone(),
            text: q.message.text.clone(),
            created_at: rfc3339(q.created_at),
            delivered: true,
        };
        if let Ok(mut list) = self.0.lock() {
            list.push_front(e);
            list.truncate(KEEP);
        }
    }

    fn entries(&self) -> Vec<Entry> {
        self.0
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every kept message, or (`?to=ADDRESS`) only those to one recipient.
    pub fn json(&self, to: Option<&str>) -> Response {
        let mut list = self.entries();
        if let Some(to) = to {
            list.retain(|e| e.to == to);
        }
        Json(list).into_response()
    }

    pub fn page(&self) -> Response {
        let list = self.entries();
        let items: String = if list.is_empty() {
            "<p>No messages yet. Register or sign in, and what Gatehouse sends appears here.</p>"
                .into()
        } else {
            list.iter()
                .map(|m| {
                    format!(
                        "<article class=\"mail\"><h2>{subj}</h2><p class=\"mail__meta\">{ch} to {to} · {at} · delivered</p><div class=\"mail__body\">{body}</div></article>",
                        subj = if m.subject.is_empty() {
                            "Text message".to_string()
                        } else {
                            html_escape(&m.subject)
                        },
                        ch = m.channel,
                        to = html_escape(&m.to),
                        at = m.created_at,
                        body = linkify(&m.text),
                    )
                })
                .collect()
        };
        // H3: its own CSP — no script at all, only our stylesheet; links open like any link.
        (
            [(axum::http::header::CONTENT_SECURITY_POLICY, NO_SCRIPT_CSP)],
            Html(format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
                 <title>Dev mailbox · Gatehouse</title><link rel=\"stylesheet\" href=\"/pkg/gatehouse.css\"></head><body>\
                 <header class=\"site-header\"><a class=\"brand\" href=\"/\"><span class=\"brand__mark\" aria-hidden=\"true\">◆</span> Gatehouse</a></header>\
                 <main class=\"page\" id=\"main\"><h1>Dev mailbox</h1><p>Every email and text message this instance delivered since it started, newest first. Dev mode only.</p>{items}</main></body></html>"
            )),
        )
            .into_response()
    }
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

/// Escapes text and turns http(s) URLs into links.
fn linkify(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            line.split(' ')
                .map(|w| {
                    if w.starts_with("http://") || w.starts_with("https://") {
                        format!("<a href=\"{0}\">{0}</a>", html_escape(w))
                    } else {
                        html_escape(w)
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("<br>")
}
