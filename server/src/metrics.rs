//! What an operator watches: `/metrics` in the Prometheus text format on its own address
//! (`metrics_listen`, off by default, so it is never public by accident), and `/readyz`.
//!
//! - Sign-ins by outcome (from the G1 events: succeeded, wrong password, wrong code, locked),
//!   codes accepted per challenge kind (purpose × factor), resets requested, codes sent per
//!   channel — counted by `gatehouse_core::mechanisms::tally` in this process.
//! - The outbox: sent, retried, given up (this process's worker), and, read from the database
//!   at each scrape, how many wait, how many failed for good, and the age of the oldest waiting.
//! - The argon2 pool: jobs in it and refusals (each a 503, P6).
//! - HTTP: requests by route and status, and a latency histogram per route. Routes are the
//!   router's patterns (never a raw path with an id or a token in it); at most [`MAX_ROUTES`]
//!   distinct labels, the rest count as "other", so nobody can grow the table by inventing paths.
//! - Labels never carry a person: no address, user id, IP or token.

use gatehouse_core::mechanisms::events::EventKind;
use gatehouse_core::mechanisms::service::Deps;
use gatehouse_core::mechanisms::tally;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the latency buckets.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Distinct route labels kept; more become "other".
pub const MAX_ROUTES: usize = 200;

#[derive(Default)]
struct Route {
    /// Responses per status code.
    statuses: BTreeMap<u16, u64>,
    /// Cumulative counts per bucket, then the sum of seconds.
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// This process's counters (cheap to share: one per server).
#[derive(Default)]
pub struct Metrics {
    routes: Mutex<BTreeMap<String, Route>>,
    pub outbox_sent: AtomicU64,
    pub outbox_retried: AtomicU64,
    pub outbox_gave_up: AtomicU64,
    /// Y1: set while the outbox worker's loop runs (readiness).
    pub worker_running: AtomicBool,
}

impl Metrics {
    /// One answered request on `route` (a router pattern).
    pub fn request(&self, route: &str, status: u16, took: Duration) {
        let Ok(mut routes) = self.routes.lock() else {
            return;
        };
        let key = if routes.contains_key(route) || routes.len() < MAX_ROUTES {
            route
        } else {
            "other"
        };
        let r = routes.entry(key.to_string()).or_default();
        *r.statuses.entry(status).or_default() += 1;
        let secs = took.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                r.buckets[i] += 1;
            }
        }
        r.count += 1;
        r.sum += secs;
    }

    /// The whole text exposition: this process's counters plus the outbox read from `deps`.
    pub async fn render(&self, deps: &Deps) -> String {
        let mut out = String::new();
        let t = tally::snapshot();
        let kind = |k: EventKind| t.event(k);
        family(
            &mut out,
            "gatehouse_sign_ins_total",
            "counter",
            "Sign-in steps by outcome (this process).",
            &[
                ("outcome=\"succeeded\"", kind(EventKind::LoginSucceeded)),
                ("outcome=\"wrong_password\"", kind(EventKind::LoginFailed)),
                ("outcome=\"wrong_code\"", kind(EventKind::MfaFailed)),
                (
                    "outcome=\"recovery_code\"",
                    kind(EventKind::RecoveryCodeUsed),
                ),
            ],
        );
        family(
            &mut out,
            "gatehouse_lockouts_total",
            "counter",
            "Accounts locked after too many wrong passwords (R1).",
            &[("", kind(EventKind::AccountLocked))],
        );
        family(
            &mut out,
            "gatehouse_password_resets_total",
            "counter",
            "Password resets requested and passwords changed.",
            &[
                (
                    "stage=\"requested\"",
                    kind(EventKind::PasswordResetRequested),
                ),
                (
                    "stage=\"password_changed\"",
                    kind(EventKind::PasswordChanged),
                ),
            ],
        );
        let labelled = |pairs: &[(&str, u64)], label: &str| -> Vec<(String, u64)> {
            pairs
                .iter()
                .map(|(v, n)| (format!("{label}=\"{v}\""), *n))
                .collect()
        };
        family_owned(
            &mut out,
            "gatehouse_codes_sent_total",
            "counter",
            "One-time codes queued per channel.",
            &labelled(&t.codes_sent, "channel"),
        );
        family_owned(
            &mut out,
            "gatehouse_codes_accepted_total",
            "counter",
            "One-time codes accepted per challenge kind (purpose and factor).",
            &labelled(&t.codes_accepted, "kind"),
        );
        family_owned(
            &mut out,
            "gatehouse_security_events_total",
            "counter",
            "Security events recorded (G1), by kind.",
            &labelled(&t.events, "kind"),
        );
        let load = deps.hasher.load();
        family(
            &mut out,
            "gatehouse_argon2_jobs",
            "gauge",
            "Password hashes queued or running.",
            &[("", load.in_pool)],
        );
        family(
            &mut out,
            "gatehouse_argon2_busy_total",
            "counter",
            "Password checks refused because the hashing queue was full (503, P6).",
            &[("", load.refused)],
        );
        family(
            &mut out,
            "gatehouse_outbox_deliveries_total",
            "counter",
            "Delivery attempts by this process's worker, by result.",
            &[
                ("result=\"sent\"", self.outbox_sent.load(Ordering::Relaxed)),
                (
                    "result=\"retry\"",
                    self.outbox_retried.load(Ordering::Relaxed),
                ),
                (
                    "result=\"gave_up\"",
                    self.outbox_gave_up.load(Ordering::Relaxed),
                ),
            ],
        );
        match backlog(deps).await {
            Ok(b) => {
                let age = b
                    .oldest_queued_at
                    .map_or(0, |t| (deps.now() - t).max(0) as u64);
                family(
                    &mut out,
                    "gatehouse_outbox_messages",
                    "gauge",
                    "Undelivered messages in the database (all instances), by state.",
                    &[
                        ("state=\"queued\"", b.queued.max(0) as u64),
                        ("state=\"failed\"", b.failed.max(0) as u64),
                    ],
                );
                family(
                    &mut out,
                    "gatehouse_outbox_oldest_queued_seconds",
                    "gauge",
                    "Age of the oldest message still waiting to be delivered.",
                    &[("", age)],
                );
                family(
                    &mut out,
                    "gatehouse_database_up",
                    "gauge",
                    "The database answered this scrape.",
                    &[("", 1)],
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "metrics: database unreachable");
                family(
                    &mut out,
                    "gatehouse_database_up",
                    "gauge",
                    "The database answered this scrape.",
                    &[("", 0)],
                );
            }
        }
        self.render_http(&mut out);
        out
    }

    fn render_http(&self, out: &mut String) {
        let Ok(routes) = self.routes.lock() else {
            return;
        };
        let _ = writeln!(
            out,
            "# HELP gatehouse_http_requests_total HTTP responses by route and status."
        );
        let _ = writeln!(out, "# TYPE gatehouse_http_requests_total counter");
        for (route, r) in routes.iter() {
            for (status, n) in &r.statuses {
                let _ = writeln!(
                    out,
                    "gatehouse_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP gatehouse_http_request_duration_seconds Time to answer, by route."
        );
        let _ = writeln!(
            out,
            "# TYPE gatehouse_http_request_duration_seconds histogram"
        );
        for (route, r) in routes.iter() {
            let route = escape(route);
            for (bound, n) in BUCKETS.iter().zip(r.buckets.iter()) {
                let _ = writeln!(
                    out,
                    "gatehouse_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "gatehouse_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                r.count
            );
            let _ = writeln!(
                out,
                "gatehouse_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                r.sum
            );
            let _ = writeln!(
                out,
                "gatehouse_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                r.count
            );
        }
    }
}

async fn backlog(
    deps: &Deps,
) -> Result<gatehouse_core::mechanisms::outbox::Backlog, gatehouse_core::store::DbError> {
    let mut c = deps.store.read().await?;
    gatehouse_core::mechanisms::outbox::backlog(&mut c).await
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, u64)]) {
    let owned: Vec<(String, u64)> = samples.iter().map(|(l, n)| (l.to_string(), *n)).collect();
    family_owned(out, name, kind, help, &owned);
}

fn family_owned(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, n) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {n}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {n}");
        }
    }
}

/// Clears `worker_running` when the worker's loop ends, however it ends (a panic included).
pub struct Running<'a>(pub &'a AtomicBool);

impl<'a> Running<'a> {
    pub fn start(flag: &'a AtomicBool) -> Self {
        flag.store(true, Ordering::SeqCst);
        Running(flag)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_beyond_the_cap_count_as_other() {
        let m = Metrics::default();
        for i in 0..MAX_ROUTES + 10 {
            m.request(&format!("/r{i}"), 200, Duration::from_millis(3));
        }
        m.request("/r0", 503, Duration::from_millis(30));
        let mut out = String::new();
        m.render_http(&mut out);
        assert!(
            out.contains("gatehouse_http_requests_total{route=\"other\",status=\"200\"} 10"),
            "{out}"
        );
        assert!(out.contains("gatehouse_http_requests_total{route=\"/r0\",status=\"503\"} 1"));
        assert!(out.contains(
            "gatehouse_http_request_duration_seconds_bucket{route=\"/r0\",le=\"0.005\"} 1"
        ));
        assert!(out.contains(
            "gatehouse_http_request_duration_seconds_bucket{route=\"/r0\",le=\"0.05\"} 2"
        ));
        assert!(out.contains("gatehouse_http_request_duration_seconds_count{route=\"/r0\"} 2"));
    }
}
