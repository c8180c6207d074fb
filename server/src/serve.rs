//! Serving HTTP/1.1: the accept loop, with bounds on every connection's life (Y4) and on shutdown
//! (Y2).
//!
//! `axum::serve` has neither timeouts nor a connection limit. A client that trickles its request
//! head (one header line every few seconds), or connects and sends nothing, or keeps a
//! connection alive without using it, holds that connection and its file descriptor for ever;
//! about a thousand of them exhaust the process's descriptors, `accept` fails with "Too many open
//! files" and `/healthz` stops answering. And after SIGTERM, a connection whose request head had
//! begun but not ended kept the process alive (hyper's graceful shutdown waits for that request).
//! This loop enforces, on every connection:
//!
//! - **Header read timeout** (`limits.header_read_timeout_secs`, Y4): a request head must be whole
//!   within this time of its first byte (of the connection's opening, for its first request);
//!   trickling it does not help, the clock is not reset by progress.
//! - **Keep-alive timeout** (`limits.keep_alive_timeout_secs`, Y4): between requests, a connection
//!   on which nothing moves (no new request, no byte of a response going out) for this long is
//!   closed. It also bounds a client that stops reading its response.
//! - **Connection cap** (`limits.max_connections`, Y4): at most this many connections are open; at
//!   the cap the loop stops accepting (see [`serve`] for why this rather than accept-and-close).
//!   The default is derived from the open-file limit ([`connection_cap`]), which [`plan`] first
//!   raises to its hard limit, so the process never runs out of descriptors for its database,
//!   files and outgoing mail because of idle clients.
//! - **Shutdown grace** (`limits.shutdown_grace_secs`, Y2): on SIGTERM/SIGINT the listener closes
//!   (new connections are refused, so a load balancer moves on), idle connections close, in-flight
//!   requests get this long to finish; then every connection left is closed and `serve` returns.
//!
//! A request's body and its handler are the request timeout's business
//! (`limits.request_timeout_secs`, answered 503 by the middleware); this module bounds the time
//! around requests, which no handler sees.
//!
//! Why not hyper's `http1::Builder::header_read_timeout`: hyper starts that clock the moment a
//! kept-alive connection goes idle, so it is the keep-alive timeout as well and the two cannot
//! differ: a 10 s head limit would close every idle connection after 10 s, racing the next request
//! of a proxy that keeps its connections for 60 s. Here, as in Go's `ReadHeaderTimeout` /
//! `IdleTimeout` and nginx's `client_header_timeout` / `keepalive_timeout`, an idle connection
//! waits under the keep-alive timeout and the head clock starts at the head's first byte. The
//! connections are served by hyper's HTTP/1.1 server (the only protocol `axum::serve` spoke here:
//! HTTP/2 is not built), with the peer address as `ConnectInfo` as before.

use crate::config::{DatabaseConfig, LimitsConfig};
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::Instant;

/// The bounds of one listener's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub header_read: Duration,
    pub keep_alive: Duration,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
}

/// Descriptors kept for everything but client connections: the standard streams, the runtime's
/// own, the listeners, key and log files, outgoing SMTP, SMS and OpenID Connect connections.
const RESERVED_FDS: u64 = 64;
/// Per database connection: a PostgreSQL socket, or SQLite's database, WAL and shared-memory files.
const FDS_PER_DB_CONNECTION: u64 = 4;
/// The most connections the derived cap allows, whatever the descriptors: each open connection
/// costs memory too (buffers, a task), and more than this is a flood, not a crowd.
const DERIVED_CAP_MAX: usize = 4096;

/// Y4: the connection cap. `configured` when set (non-zero); otherwise derived from the open-file
/// limit: what is left after [`RESERVED_FDS`] and the database pool (SQLite's writer included),
/// halved because a connection may hold a second descriptor while its request reads a file
/// (static assets); at least 1, at most [`DERIVED_CAP_MAX`].
pub fn connection_cap(configured: usize, nofile: u64, db_connections: u32) -> usize {
    if configured > 0 {
        return configured;
    }
    let spare = nofile
        .saturating_sub(RESERVED_FDS + FDS_PER_DB_CONNECTION * (u64::from(db_connections) + 1));
    usize::try_from(spare / 2)
        .unwrap_or(usize::MAX)
        .clamp(1, DERIVED_CAP_MAX)
}

/// The open-file limit: the soft limit found at start, the soft limit now, the hard limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    pub soft_at_start: u64,
    pub soft: u64,
    pub hard: u64,
}

/// Y4: raises the soft `RLIMIT_NOFILE` to the hard limit (the soft one is often 1024 while the
/// hard one allows far more); `None` where there is no such limit or it cannot be read.
pub fn raise_open_file_limit() -> Option<OpenFiles> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct we pass, which lives across the call.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
            return None;
        }
        let soft_at_start = lim.rlim_cur;
        // An unlimited hard limit (not allowed for descriptors on Linux) is asked as 2^20.
        let target = if lim.rlim_max == libc::RLIM_INFINITY {
            1 << 20
        } else {
            lim.rlim_max
        };
        if target > lim.rlim_cur {
            let raised = libc::rlimit {
                rlim_cur: target,
                rlim_max: lim.rlim_max,
            };
            // SAFETY: setrlimit only reads the struct we pass; raising the soft limit up to the
            // hard one needs no privilege. On failure the old limit stays.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                lim.rlim_cur = target;
            }
        }
        // rlim_t is u64 on Linux and macOS, i64 on some BSDs.
        #[allow(clippy::unnecessary_cast)]
        let files = OpenFiles {
            soft_at_start: soft_at_start as u64,
            soft: lim.rlim_cur as u64,
            hard: lim.rlim_max as u64,
        };
        Some(files)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The public listener's limits from the configuration, after raising the open-file limit; logs
/// the limits and the cap they give.
pub fn plan(limits: &LimitsConfig, database: &DatabaseConfig) -> Limits {
    let files = raise_open_file_limit();
    let nofile = files.map_or(1024, |f| f.soft);
    let derived = connection_cap(0, nofile, database.max_connections);
    let max_connections = connection_cap(limits.max_connections, nofile, database.max_connections);
    match files {
        Some(f) => tracing::info!(
            soft_at_start = f.soft_at_start,
            soft = f.soft,
            hard = f.hard,
            max_connections,
            "open-file limit (RLIMIT_NOFILE) and connection cap"
        ),
        None => tracing::info!(max_connections, "connection cap"),
    }
    if max_connections > derived {
        tracing::warn!(
            max_connections,
            open_file_limit = nofile,
            "limits.max_connections is above what the open-file limit leaves room for ({derived}): \
             under load the process may run out of descriptors; raise LimitNOFILE (Y4)"
        );
    } else if max_connections < 64 && limits.max_connections == 0 {
        tracing::warn!(
            max_connections,
            open_file_limit = nofile,
            "the open-file limit leaves room for few connections; raise LimitNOFILE (Y4)"
        );
    }
    Limits {
        header_read: Duration::from_secs(limits.header_read_timeout_secs),
        keep_alive: Duration::from_secs(limits.keep_alive_timeout_secs),
        max_connections,
        shutdown_grace: Duration::from_secs(limits.shutdown_grace_secs),
    }
}

/// Where the shutdown stands; every connection task watches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Serving,
    /// Finish the request in flight, take no other (idle connections close at once).
    Draining,
    /// The grace is over: close now.
    Closing,
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains (Y2) and returns once every
/// connection is closed, at the latest `limits.shutdown_grace` (plus a moment) later.
///
/// At the connection cap the loop stops accepting rather than accepting and closing at once:
/// a new connection then waits in the kernel's accept queue and is served as soon as an older
/// one ends (the timeouts above make that soon), so `/healthz` and real clients see a delay, not
/// an error; accept-and-close would refuse them outright while the slots are held, would need a
/// spare descriptor for every refusal (the very thing that runs out) and would spin on a flood.
/// When the queue itself is full the kernel drops new SYNs and clients retry: TCP's own
/// back-pressure.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let cap = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(cap));
    let (stage_tx, stage_rx) = watch::channel(Stage::Serving);
    let mut shutdown = pin!(shutdown);
    let mut warned_full: Option<Instant> = None;
    loop {
        if slots.available_permits() == 0
            && warned_full.is_none_or(|t| t.elapsed() >= Duration::from_secs(60))
        {
            warned_full = Some(Instant::now());
            tracing::warn!(
                max_connections = cap,
                "connection cap reached: new connections wait until one closes (Y4)"
            );
        }
        let permit = tokio::select! {
            p = Arc::clone(&slots).acquire_owned() => p.map_err(io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // EMFILE/ENFILE (other descriptors than ours), ENOBUFS…: wait, then retry.
                    tracing::error!(error = %e, "accept error");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        tokio::spawn(connection(
            stream,
            peer,
            app.clone(),
            limits,
            stage_rx.clone(),
            permit,
        ));
    }
    // Y2: refuse new connections from here on (the accept queue is reset, not left hanging).
    drop(listener);
    let _ = stage_tx.send(Stage::Draining);
    let all = u32::try_from(cap).unwrap_or(u32::MAX);
    let open = cap - slots.available_permits();
    if open > 0 {
        tracing::info!(
            connections = open,
            grace_secs = limits.shutdown_grace.as_secs(),
            "waiting for open connections to finish"
        );
    }
    if tokio::time::timeout(limits.shutdown_grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            connections = cap - slots.available_permits(),
            "shutdown grace over: closing the remaining connections"
        );
        let _ = stage_tx.send(Stage::Closing);
        // The tasks drop their connections as soon as they run; a handler that blocks its thread
        // could delay one, and does not get to hold the process.
        let _ = tokio::time::timeout(Duration::from_secs(2), slots.acquire_many(all)).await;
    }
    Ok(())
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// One connection, from accept to close; `_slot` is its place under the cap.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    mut stage: watch::Receiver<Stage>,
    _slot: tokio::sync::OwnedSemaphorePermit,
) {
    let clock = Arc::new(Clock::new(&limits, Instant::now()));
    let io = TokioIo::new(Watched {
        io: stream,
        clock: Arc::clone(&clock),
    });
    let service = Service {
        app,
        peer,
        clock: Arc::clone(&clock),
    };
    let mut conn = pin!(http1::Builder::new().serve_connection(io, service));
    let mut draining = false;
    loop {
        let now = *stage.borrow_and_update();
        match now {
            Stage::Serving => {}
            Stage::Draining if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            Stage::Draining => {}
            Stage::Closing => {
                tracing::debug!(%peer, "closing connection: shutdown grace over");
                return;
            }
        }
        let deadline = clock.deadline();
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = until(deadline.map(|(at, _)| at)) => {
                if let Some((at, why)) = clock.deadline() {
                    if at <= Instant::now() {
                        tracing::debug!(%peer, reason = why.as_str(), "closing connection");
                        return;
                    }
                }
            }
            () = clock.moved.notified() => {}
            changed = stage.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What a connection is doing, for its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for or reading a request head that began at this instant (its first byte, or the
    /// connection's opening for the first request).
    Head(Instant),
    /// A request is with the application: its body, its handler (the request timeout's business).
    Busy,
    /// Between requests, its response perhaps still going out; nothing has moved since this instant.
    Idle(Instant),
}

/// Why a connection was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    HeaderRead,
    KeepAlive,
}

impl Expiry {
    fn as_str(self) -> &'static str {
        match self {
            Expiry::HeaderRead => "header read timeout",
            Expiry::KeepAlive => "keep-alive timeout",
        }
    }
}

impl Phase {
    fn deadline(self, limits: &Limits) -> Option<(Instant, Expiry)> {
        match self {
            Phase::Head(since) => Some((since + limits.header_read, Expiry::HeaderRead)),
            Phase::Busy => None,
            Phase::Idle(since) => Some((since + limits.keep_alive, Expiry::KeepAlive)),
        }
    }

    /// Bytes came in: after a quiet spell they begin a new request head; within a head they do
    /// not reset its clock (a trickle gains nothing); within a request they are its body.
    fn read(self, now: Instant) -> Phase {
        match self {
            Phase::Idle(_) => Phase::Head(now),
            other => other,
        }
    }

    /// Bytes of a response went out: a connection still sending is not idle.
    fn wrote(self, now: Instant) -> Phase {
        match self {
            Phase::Idle(_) => Phase::Idle(now),
            other => other,
        }
    }
}

/// One connection's phase, shared by its IO (bytes in and out), its service (requests and
/// responses) and its task (which closes it at the deadline).
struct Clock {
    phase: Mutex<Phase>,
    limits: Limits,
    /// The deadline may have moved earlier (or appeared): the task looks again.
    moved: Notify,
}

impl Clock {
    fn new(limits: &Limits, opened: Instant) -> Clock {
        Clock {
            phase: Mutex::new(Phase::Head(opened)),
            limits: *limits,
            moved: Notify::new(),
        }
    }

    fn get(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the phase; wakes the task when the deadline may now be earlier.
    fn update(&self, f: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase.lock().unwrap_or_else(|p| p.into_inner());
        let before = *phase;
        *phase = f(before);
        let after = *phase;
        drop(phase);
        let later = matches!((before, after), (Phase::Idle(_), Phase::Idle(_)));
        if before != after && !later {
            self.moved.notify_one();
        }
    }

    fn deadline(&self) -> Option<(Instant, Expiry)> {
        self.get().deadline(&self.limits)
    }

    fn read(&self) {
        self.update(|p| p.read(Instant::now()));
    }

    fn wrote(&self) {
        // Only an idle connection's clock moves with writes: skip the lock's write otherwise.
        if matches!(self.get(), Phase::Idle(_)) {
            self.update(|p| p.wrote(Instant::now()));
        }
    }

    fn request(&self) {
        self.update(|_| Phase::Busy);
    }

    fn responded(&self) {
        self.update(|_| Phase::Idle(Instant::now()));
    }
}

/// The socket, telling the connection's clock when bytes move.
struct Watched {
    io: TcpStream,
    clock: Arc<Clock>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.clock.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.clock.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.clock.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The router as hyper's service: the peer address as `ConnectInfo` (R2), and the connection's
/// clock told when a request starts and when its response is ready.
#[derive(Clone)]
struct Service {
    app: Router,
    peer: SocketAddr,
    clock: Arc<Clock>,
}

impl hyper::service::Service<http::Request<Incoming>> for Service {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        self.clock.request();
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let mut app = self.app.clone();
        let clock = Arc::clone(&self.clock);
        Box::pin(async move {
            std::future::poll_fn(|cx| {
                <Router as tower::Service<axum::extract::Request>>::poll_ready(&mut app, cx)
            })
            .await?;
            let response =
                <Router as tower::Service<axum::extract::Request>>::call(&mut app, req).await;
            clock.responded();
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            header_read: Duration::from_secs(10),
            keep_alive: Duration::from_secs(75),
            max_connections: 100,
            shutdown_grace: Duration::from_secs(10),
        }
    }

    #[test]
    fn y4_a_head_is_timed_from_its_first_byte_and_a_trickle_does_not_reset_it() {
        let l = limits();
        let t0 = Instant::now();
        let opened = Phase::Head(t0);
        assert_eq!(
            opened.deadline(&l),
            Some((t0 + l.header_read, Expiry::HeaderRead)),
            "the first request's head is timed from the connection's opening"
        );
        let trickled = opened
            .read(t0 + Duration::from_secs(3))
            .read(t0 + Duration::from_secs(6));
        assert_eq!(
            trickled, opened,
            "more header lines do not move the deadline"
        );
        // After a response the connection is idle under the keep-alive timeout…
        let idle = Phase::Idle(t0 + Duration::from_secs(20));
        assert_eq!(
            idle.deadline(&l),
            Some((t0 + Duration::from_secs(95), Expiry::KeepAlive))
        );
        // …until the next head's first byte, which starts the head clock.
        let next = idle.read(t0 + Duration::from_secs(50));
        assert_eq!(
            next.deadline(&l),
            Some((t0 + Duration::from_secs(60), Expiry::HeaderRead))
        );
    }

    #[test]
    fn y4_a_request_in_flight_has_no_connection_deadline_and_a_response_going_out_is_not_idle() {
        let l = limits();
        let t0 = Instant::now();
        assert_eq!(Phase::Busy.deadline(&l), None);
        assert_eq!(Phase::Busy.read(t0), Phase::Busy, "body bytes");
        let sending = Phase::Idle(t0).wrote(t0 + Duration::from_secs(70));
        assert_eq!(
            sending.deadline(&l),
            Some((t0 + Duration::from_secs(145), Expiry::KeepAlive))
        );
    }

    #[test]
    fn y4_the_connection_cap_is_derived_from_the_open_file_limit() {
        // 1024 descriptors, 16 database connections: (1024 - 64 - 4 * 17) / 2.
        assert_eq!(connection_cap(0, 1024, 16), 446);
        assert!(connection_cap(0, 1024, 16) < 1024 / 2);
        assert_eq!(connection_cap(0, 128, 2), 26);
        assert_eq!(connection_cap(0, 1 << 20, 16), DERIVED_CAP_MAX);
        assert_eq!(connection_cap(0, 50, 16), 1, "never zero");
        assert_eq!(connection_cap(300, 128, 2), 300, "a configured cap is kept");
    }
}
