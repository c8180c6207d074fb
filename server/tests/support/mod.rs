//! Test support: runs the real `gatehouse` binary on an ephemeral port, a tiny HTTP/1.0 client,
//! an SMTP server that speaks the real protocol over TCP (`smtp`), and an HTTP SMS provider.
#![allow(dead_code)]

pub mod flows;
pub mod smtp;

#[allow(unused_imports)]
pub use smtp::{Protection, SmtpServer, TestCa};

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Server {
    child: Child,
    pub base: String,
    pub addr: String,
    log: Arc<Mutex<String>>,
    /// Standard output after the first line.
    printed: Arc<Mutex<Vec<String>>>,
    db: String,
    dir: Arc<TempDir>,
}

pub struct TempDir(pub std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir() -> TempDir {
    let p = std::env::temp_dir().join(format!(
        "gatehouse-it-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&p).expect("temp dir");
    TempDir(p)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

impl Server {
    /// Starts `gatehouse` with a fresh SQLite database and the given extra environment.
    pub fn start(env: &[(&str, &str)]) -> Server {
        Self::spawn(Arc::new(temp_dir()), env)
    }

    /// Y1: SIGKILL (no shutdown at all), then a new process on the same database and files.
    pub fn kill_and_restart(self, env: &[(&str, &str)]) -> Server {
        let dir = Arc::clone(&self.dir);
        drop(self);
        Self::spawn(dir, env)
    }

    /// The folder, kept for as long as the handle lives (past the server's end).
    pub fn keep_dir(&self) -> Arc<TempDir> {
        Arc::clone(&self.dir)
    }

    /// The folder the server runs in (its SQLite database, key file, …).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir.0
    }

    fn spawn(dir: Arc<TempDir>, env: &[(&str, &str)]) -> Server {
        let db = env
            .iter()
            .find(|(k, _)| *k == "DATABASE_URL")
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| format!("sqlite://{}/db.sqlite", dir.0.display()));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GATEHOUSE_LISTEN", "127.0.0.1:0")
            .env("DATABASE_URL", &db)
            .env("GATEHOUSE_LOG_FORMAT", "json")
            .env("GATEHOUSE_PASSWORD_ARGON2_MEMORY_KIB", "1024")
            .env("GATEHOUSE_PASSWORD_ARGON2_ITERATIONS", "1")
            .current_dir(&dir.0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
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
        let stdout = child.stdout.take().expect("stdout");
        let mut out = BufReader::new(stdout);
        let mut first = String::new();
        out.read_line(&mut first).expect("listening line");
        // Later lines (the metrics listener's address) are kept for `printed`.
        let printed = Arc::new(Mutex::new(Vec::new()));
        let printed2 = Arc::clone(&printed);
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if let Ok(mut p) = printed2.lock() {
                    p.push(line);
                }
            }
        });
        let base = first.trim().rsplit(' ').next().expect("url").to_string();
        assert!(
            base.starts_with("http://127.0.0.1:"),
            "unexpected start line {first:?}; log: {}",
            log.lock().map(|l| l.clone()).unwrap_or_default()
        );
        let addr = base.trim_start_matches("http://").to_string();
        Server {
            child,
            base,
            addr,
            log,
            printed,
            db,
            dir,
        }
    }

    /// Runs a `gatehouse` subcommand against this server's database (support CLI).
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(args)
            .env_clear()
            .env("DATABASE_URL", &self.db)
            .env("GATEHOUSE_LOG_FORMAT", "json")
            .env("GATEHOUSE_PASSWORD_ARGON2_MEMORY_KIB", "1024")
            .env("GATEHOUSE_PASSWORD_ARGON2_ITERATIONS", "1")
            .current_dir(&self.dir.0)
            .output()
            .expect("run gatehouse cli")
    }

    /// The `/metrics` listener's `host:port`, once the server has said it.
    pub fn metrics_addr(&self) -> String {
        eventually(|| {
            let p = self.printed.lock().ok()?;
            p.iter().find_map(|l| {
                l.strip_prefix("gatehouse metrics on http://")
                    .and_then(|r| r.strip_suffix("/metrics"))
                    .map(str::to_string)
            })
        })
    }

    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Y2: SIGTERM, then the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The body as sent (images).
    pub raw: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A browser-like client with a cookie jar; forms post like a browser without JavaScript.
pub struct Client {
    pub addr: String,
    pub cookies: HashMap<String, String>,
}

impl Client {
    pub fn new(s: &Server) -> Self {
        Self::to(&s.addr)
    }

    /// A client of another listener (`host:port`), such as the metrics address.
    pub fn to(addr: &str) -> Self {
        Self {
            addr: addr.to_string(),
            cookies: HashMap::new(),
        }
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response {
        self.send(method, path, headers, body.as_bytes())
    }

    /// Like [`Client::request`], with a body of any bytes.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        // A `Host` among `headers` replaces ours (H3 tests).
        let host = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| self.addr.clone());
        let mut req = format!(
            "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: {}\r\n",
            body.len()
        );
        if !cookie.is_empty() {
            req.push_str(&format!("Cookie: {}\r\n", cookie.join("; ")));
        }
        for (k, v) in headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
        {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let mut req = req.into_bytes();
        req.extend_from_slice(body);
        // A server may answer (413) and close before reading a large body; the answer is
        // still in our receive buffer, so a reset on either side is not a failure by itself.
        let reset = |e: &std::io::Error| {
            matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            )
        };
        if let Err(e) = stream.write_all(&req) {
            assert!(reset(&e), "write: {e}");
        }
        let mut raw = Vec::new();
        if let Err(e) = stream.read_to_end(&mut raw) {
            assert!(reset(&e) && !raw.is_empty(), "read: {e}");
        }
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or(raw.len());
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let body_raw = raw.get(split + 4..).unwrap_or_default().to_vec();
        let body = String::from_utf8_lossy(&body_raw).to_string();
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let r = Response {
            status,
            headers,
            body,
            raw: body_raw,
        };
        for c in r.headers_named("set-cookie") {
            if let Some((kv, _)) = c.split_once(';') {
                if let Some((k, v)) = kv.split_once('=') {
                    if c.contains("Max-Age=0") {
                        self.cookies.remove(k);
                    } else {
                        self.cookies.insert(k.to_string(), v.to_string());
                    }
                }
            }
        }
        r
    }

    pub fn get(&mut self, path: &str) -> Response {
        self.request("GET", path, &[("Accept", "text/html")], "")
    }

    /// A no-JS form post: same-origin, urlencoded, `Accept: text/html`, with a Referer.
    pub fn form(&mut self, path: &str, referer: &str, fields: &[(&str, &str)]) -> Response {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect();
        let referer = format!("http://{}{referer}", self.addr);
        self.request(
            "POST",
            path,
            &[
                ("Accept", "text/html"),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Sec-Fetch-Site", "same-origin"),
                ("Referer", &referer),
            ],
            &body.join("&"),
        )
    }
}

impl Client {
    /// A no-JS file form post (`multipart/form-data`) of one file field.
    pub fn upload(&mut self, path: &str, field: &str, filename: &str, bytes: &[u8]) -> Response {
        let boundary = "----gatehouse-test-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let ct = format!("multipart/form-data; boundary={boundary}");
        self.send(
            "POST",
            path,
            &[
                ("Accept", "text/html"),
                ("Content-Type", &ct),
                ("Sec-Fetch-Site", "same-origin"),
            ],
            &body,
        )
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A new, empty schema on the test PostgreSQL server; `None` only when the run said
/// `GATEHOUSE_TEST_SQLITE_ONLY=1` out loud.
pub fn postgres_url() -> Option<String> {
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(gatehouse_core::store::testing::postgres_url())
}

/// Polls until `f` returns `Some`, up to 15 s (waiting for the outbox worker, not hiding a race).
#[track_caller]
pub fn eventually<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(Instant::now() < deadline, "condition not met within 15 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One request the SMS provider received.
#[derive(Debug, Clone)]
pub struct ProviderRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl ProviderRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// A field of the url-encoded form body.
    pub fn field(&self, name: &str) -> Option<String> {
        self.body.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| urldecode(v))
        })
    }
}

/// Undoes form/URL encoding (`+` and `%XX`).
pub fn urldecode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A Twilio-style SMS provider over real HTTP/1.1: keeps every request and answers 201.
pub struct SmsProvider {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<ProviderRequest>>>,
}

impl SmsProvider {
    pub fn start() -> SmsProvider {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind provider");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let r = Arc::clone(&requests);
        std::thread::spawn(move || {
            for conn in listener.incoming().map_while(Result::ok) {
                let r = Arc::clone(&r);
                std::thread::spawn(move || provider_session(conn, r));
            }
        });
        SmsProvider { port, requests }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn provider_session(conn: TcpStream, store: Arc<Mutex<Vec<ProviderRequest>>>) {
    let Ok(mut w) = conn.try_clone() else { return };
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
        );
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        if let Ok(mut s) = store.lock() {
            s.push(ProviderRequest {
                method,
                path,
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        let answer = "{\"sid\":\"SM1\",\"status\":\"queued\"}";
        let _ = write!(
            w,
            "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
    }
}
