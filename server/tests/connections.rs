//! Y4 and Y2 on the connection level (server/src/serve.rs), against the real `gatehouse` binary on
//! loopback: a trickled request head is cut off, idle kept-alive connections are closed, a flood
//! of idle connections beyond the cap does not starve `/healthz` nor run the process out of
//! descriptors, and after SIGTERM a half-sent request cannot keep the process alive past the
//! grace while a request in flight still gets its answer.
//!
//! The server is started here rather than with `support::Server` because these tests need its
//! process id (to send SIGTERM without waiting for the exit) and, for the cap, a small open-file
//! limit set before it starts.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `gatehouse serve` with a fresh SQLite database in its own folder.
struct Gatehouse {
    child: Child,
    addr: String,
    log: Arc<Mutex<String>>,
    dir: std::path::PathBuf,
}

impl Gatehouse {
    fn start(env: &[(&str, &str)]) -> Gatehouse {
        Self::start_with_open_files(env, None)
    }

    /// `open_files`: the (soft, hard) RLIMIT_NOFILE the process starts with.
    fn start_with_open_files(env: &[(&str, &str)], open_files: Option<(u64, u64)>) -> Gatehouse {
        let dir = std::env::temp_dir().join(format!(
            "gatehouse-conn-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GATEHOUSE_LISTEN", "127.0.0.1:0")
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/db.sqlite", dir.display()),
            )
            .env("GATEHOUSE_LOG_FORMAT", "json")
            // The reason a connection is closed is logged at debug level.
            .env(
                "GATEHOUSE_LOG",
                "info,sqlx=warn,gatehouse_server::serve=debug",
            )
            .env("GATEHOUSE_PASSWORD_ARGON2_MEMORY_KIB", "1024")
            .env("GATEHOUSE_PASSWORD_ARGON2_ITERATIONS", "1")
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        if let Some((soft, hard)) = open_files {
            use std::os::unix::process::CommandExt;
            // SAFETY: between fork and exec only setrlimit runs (async-signal-safe), on a struct
            // owned by the closure.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: soft,
                        rlim_max: hard,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().expect("spawn gatehouse");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let log2 = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut l) = log2.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        out.read_line(&mut first).expect("listening line");
        // Keep reading so that the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in out.lines().map_while(Result::ok) {});
        let addr = first
            .trim()
            .rsplit(' ')
            .next()
            .and_then(|u| u.strip_prefix("http://"))
            .map(str::to_string)
            .unwrap_or_else(|| {
                panic!(
                    "unexpected start line {first:?}; log: {}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                )
            });
        Gatehouse {
            child,
            addr,
            log,
            dir,
        }
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn connect(&self) -> TcpStream {
        TcpStream::connect(&self.addr).expect("connect")
    }

    fn port(&self) -> u16 {
        self.addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port")
    }

    fn sigterm(&self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid");
        // SAFETY: kill only sends a signal to our own child.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0, "kill -TERM");
    }

    /// The exit status, if the process ends before `deadline`.
    fn exit_before(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Gatehouse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `f` every 50 ms until it holds, failing after `secs` seconds with `what`.
#[track_caller]
fn within(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "not within {secs} s: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn is_closed(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted
    )
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Whether the server closes `stream` before `deadline` (bytes it sends meanwhile are an error).
fn closed_before(stream: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 512];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        stream
            .set_read_timeout(Some(left.min(Duration::from_millis(200))))
            .expect("read timeout");
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => panic!(
                "unexpected bytes from the server: {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) if is_closed(&e) => return true,
            Err(e) if is_timeout(&e) => {}
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// One HTTP/1.1 response (head and `Content-Length` body) from a kept-alive connection.
fn read_response(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("read timeout");
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("response head");
        assert!(
            n == 1,
            "closed mid-response: {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&raw).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no content-length: {head}"));
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).expect("response body");
    head + &String::from_utf8_lossy(&body)
}

/// Whether the server has read every byte we sent on the connection from `client_port` (Linux:
/// the receive queue of its end of the connection, in /proc/net/tcp, is empty).
fn server_has_read_all(server_port: u16, client_port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table.lines().skip(1).any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        f.len() > 4
            && f[1].ends_with(&format!(":{server_port:04X}"))
            && f[2].ends_with(&format!(":{client_port:04X}"))
            && f[4].split(':').nth(1) == Some("00000000")
    })
}

/// Y4: a client that sends its request head a line at a time (slowloris) is disconnected once
/// the header read timeout has passed since the head began; the trickle does not extend it.
#[test]
fn y4_a_trickled_request_head_is_cut_off() {
    let g = Gatehouse::start(&[("GATEHOUSE_LIMITS_HEADER_READ_TIMEOUT_SECS", "1")]);
    let mut stream = g.connect();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .expect("request line");
    let started = Instant::now();
    let mut buf = [0u8; 512];
    let mut lines = 0;
    // A header line every 250 ms, paced by the read timeout, until the server hangs up.
    stream
        .set_read_timeout(Some(Duration::from_millis(250)))
        .expect("read timeout");
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => panic!(
                "an unfinished head was answered: {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) if is_closed(&e) => break,
            Err(e) if is_timeout(&e) => {}
            Err(e) => panic!("read: {e}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "still connected after {lines} header lines over {:?} (header read timeout: 1 s)",
            started.elapsed()
        );
        match stream.write_all(format!("X-Trickle-{lines}: a\r\n").as_bytes()) {
            Ok(()) => lines += 1,
            Err(e) if is_closed(&e) => break,
            Err(e) => panic!("write: {e}"),
        }
    }
    assert!(lines >= 1, "cut before the trickle began");
    within(10, "the reason is logged", || {
        g.log().contains("header read timeout")
    });
}

/// Y4: a kept-alive connection is closed when no new request comes within the keep-alive
/// timeout; waiting idle is not reading a head, so a shorter header read timeout does not
/// close it first (a proxy reusing its connections would race that close).
#[test]
fn y4_idle_keep_alive_connections_are_closed() {
    let g = Gatehouse::start(&[
        ("GATEHOUSE_LIMITS_HEADER_READ_TIMEOUT_SECS", "1"),
        ("GATEHOUSE_LIMITS_KEEP_ALIVE_TIMEOUT_SECS", "4"),
    ]);
    let mut stream = g.connect();
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", g.addr);
    // Two requests on one connection: it is kept alive.
    for _ in 0..2 {
        stream.write_all(request.as_bytes()).expect("request");
        let response = read_response(&mut stream);
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(
            !response.to_ascii_lowercase().contains("connection: close"),
            "{response}"
        );
    }
    let idle_since = Instant::now();
    // Still open past the header read timeout (the keep-alive clock, 4 s, started before our
    // clock did, so it cannot have run out within these 2 s)…
    assert!(
        !closed_before(&mut stream, idle_since + Duration::from_secs(2)),
        "an idle kept-alive connection was closed by the header read timeout"
    );
    // …and closed once the keep-alive timeout has passed.
    assert!(
        closed_before(&mut stream, idle_since + Duration::from_secs(15)),
        "an idle kept-alive connection is still open {:?} after its last response \
         (keep-alive timeout: 4 s)",
        idle_since.elapsed()
    );
    within(10, "the reason is logged", || {
        g.log().contains("keep-alive timeout")
    });
}

/// Y4: with an open-file limit of 128 (raised from a soft 64 at start), more idle connections
/// than descriptors neither run the process out of descriptors (the cap derived from the limit
/// holds the rest in the kernel's queue) nor starve `/healthz`: as the idle ones time out, the
/// waiting ones are taken in turn and the probe is answered.
#[test]
fn y4_connections_beyond_the_cap_do_not_starve_healthz() {
    let g = Gatehouse::start_with_open_files(
        &[
            ("GATEHOUSE_LIMITS_HEADER_READ_TIMEOUT_SECS", "1"),
            ("GATEHOUSE_DATABASE_MAX_CONNECTIONS", "2"),
        ],
        Some((64, 128)),
    );
    // Both numbers logged, the soft limit raised to the hard one, the cap derived from it:
    // (128 - 64 reserved - 4 per database connection, SQLite's writer included) / 2.
    within(10, "the open-file limit is logged", || {
        let log = g.log();
        log.contains("\"soft_at_start\":64")
            && log.contains("\"soft\":128")
            && log.contains("\"hard\":128")
            && log.contains("\"max_connections\":26")
    });
    let flood: Vec<TcpStream> = (0..160).map(|_| g.connect()).collect();
    let started = Instant::now();
    let mut probe = g.connect();
    probe
        .write_all(format!("GET /healthz HTTP/1.0\r\nHost: {}\r\n\r\n", g.addr).as_bytes())
        .expect("probe");
    probe
        .set_read_timeout(Some(Duration::from_secs(40)))
        .expect("read timeout");
    let mut answer = Vec::new();
    let read = probe.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        read.is_ok() && answer.split(' ').nth(1) == Some("200"),
        "/healthz not answered behind {} idle connections after {:?}: {read:?} {answer:?}",
        flood.len(),
        started.elapsed()
    );
    let log = g.log();
    assert!(
        !log.contains("Too many open files"),
        "the process ran out of descriptors: {log}"
    );
    assert!(log.contains("connection cap reached"), "{log}");
    drop(flood);
}

/// Y2: after SIGTERM a request in flight is still answered, but a connection whose request head
/// was half sent (and read by the server) holds the process no longer than the shutdown grace.
#[test]
fn y2_shutdown_closes_half_sent_requests_after_the_grace() {
    let mut g = Gatehouse::start(&[
        ("GATEHOUSE_LIMITS_SHUTDOWN_GRACE_SECS", "3"),
        // Neither the header read timeout nor the request timeout may end them first.
        ("GATEHOUSE_LIMITS_HEADER_READ_TIMEOUT_SECS", "120"),
        ("GATEHOUSE_LIMITS_REQUEST_TIMEOUT_SECS", "120"),
    ]);
    let port = g.port();
    // In flight: the head is whole, the body (100 bytes) is not.
    let mut in_flight = g.connect();
    in_flight
        .write_all(
            format!(
                "POST /api/login_email HTTP/1.1\r\nHost: {}\r\nSec-Fetch-Site: same-origin\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n\
                 email=a",
                g.addr
            )
            .as_bytes(),
        )
        .expect("stalled post");
    // Half sent: a head that never ends.
    let mut half = g.connect();
    half.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {}\r\nX-Half: ", g.addr).as_bytes())
        .expect("half head");
    for s in [&in_flight, &half] {
        let client_port = s.local_addr().expect("local addr").port();
        within(10, "the server reads what was sent", || {
            server_has_read_all(port, client_port)
        });
    }
    g.sigterm();
    within(10, "the shutdown begins", || {
        g.log().contains("shutdown requested")
    });
    in_flight
        .write_all(format!("&pad={}", "x".repeat(88)).as_bytes())
        .expect("the rest of the body");
    let answer = read_response(&mut in_flight);
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    let exit = g.exit_before(Instant::now() + Duration::from_secs(20));
    assert!(
        exit.is_some(),
        "still running 20 s after SIGTERM (grace: 3 s); log: {}",
        g.log()
    );
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}");
    assert!(
        closed_before(&mut half, Instant::now() + Duration::from_secs(5)),
        "the half-sent request's connection is still open"
    );
    assert!(
        g.log().contains("shutdown grace over"),
        "closed by the grace: {}",
        g.log()
    );
}
