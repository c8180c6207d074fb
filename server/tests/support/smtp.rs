//! An SMTP server for the tests that speaks the real protocol over TCP: plain, STARTTLS or
//! implicit TLS with a certificate made on the spot by a CA of its own, AUTH PLAIN or LOGIN, and
//! on request a stall in the middle of DATA (to kill the sender there).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    Plain,
    StartTls,
    ImplicitTls,
}

/// One accepted message and how it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub data: String,
    /// Whether the session was encrypted when DATA came.
    pub tls: bool,
    /// (mechanism, user, password) the client authenticated with.
    pub auth: Option<(String, String, String)>,
    pub ehlo: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        head.split("\r\n").find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// A CA and the PEM of its certificate, which the server's certificate is signed by.
pub struct TestCa {
    pub pem: String,
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().expect("ca key");
        let cert = params.self_signed(&key).expect("ca cert");
        TestCa {
            pem: cert.pem(),
            cert,
            key,
        }
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])
                .expect("params");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.cert, &self.key).expect("sign");
        let der_key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], der_key)
            .expect("server config");
        Arc::new(config)
    }
}

pub struct SmtpServer {
    pub port: u16,
    pub messages: Arc<Mutex<Vec<Received>>>,
    /// Messages received whole while stalling (never answered).
    stalled: Arc<Mutex<Vec<Received>>>,
    /// While set, a DATA section is read but never answered (the sender hangs mid-message).
    pub stall: Arc<AtomicBool>,
}

#[derive(Clone)]
struct Setup {
    protection: Protection,
    /// Mechanisms offered after TLS (or at once when plain): "PLAIN", "LOGIN", "PLAIN LOGIN".
    auth: Option<&'static str>,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl SmtpServer {
    /// Plain SMTP that takes every message (a local relay).
    pub fn plain() -> SmtpServer {
        Self::start(Setup {
            protection: Protection::Plain,
            auth: None,
            tls: None,
        })
    }

    /// TLS (`protection` StartTls or ImplicitTls) with a certificate signed by `ca`, asking for
    /// a login by `auth` ("PLAIN" or "LOGIN") when given.
    pub fn tls(ca: &TestCa, protection: Protection, auth: Option<&'static str>) -> SmtpServer {
        Self::start(Setup {
            protection,
            auth,
            tls: Some(ca.server_config()),
        })
    }

    fn start(setup: Setup) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind smtp");
        let port = listener.local_addr().expect("addr").port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let stalled = Arc::new(Mutex::new(Vec::new()));
        let stall = Arc::new(AtomicBool::new(false));
        let shared = Shared {
            messages: Arc::clone(&messages),
            stalled: Arc::clone(&stalled),
            stall: Arc::clone(&stall),
        };
        std::thread::spawn(move || {
            for conn in listener.incoming().map_while(Result::ok) {
                let (shared, setup) = (shared.clone(), setup.clone());
                std::thread::spawn(move || session(conn, &setup, &shared));
            }
        });
        SmtpServer {
            port,
            messages,
            stalled,
            stall,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.messages.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Messages that arrived whole while stalling and were never acknowledged.
    pub fn stalled(&self) -> Vec<Received> {
        self.stalled.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The raw DATA of the first message, once there is one.
    pub fn first_data(&self) -> Option<String> {
        self.received().first().map(|r| r.data.clone())
    }
}

#[derive(Clone)]
struct Shared {
    messages: Arc<Mutex<Vec<Received>>>,
    stalled: Arc<Mutex<Vec<Received>>>,
    stall: Arc<AtomicBool>,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
    Gone,
}

impl Stream {
    fn read_line(&mut self) -> Option<String> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            let n = match self {
                Stream::Plain(s) => s.read(&mut byte),
                Stream::Tls(s) => s.read(&mut byte),
                Stream::Gone => return None,
            }
            .ok()?;
            if n == 0 {
                return None;
            }
            line.push(byte[0]);
            if line.ends_with(b"\r\n") {
                return String::from_utf8(line).ok();
            }
        }
    }

    fn send(&mut self, text: &str) {
        let _ = match self {
            Stream::Plain(s) => s.write_all(text.as_bytes()),
            Stream::Tls(s) => s.write_all(text.as_bytes()).and_then(|_| s.flush()),
            Stream::Gone => Ok(()),
        };
    }

    fn upgrade(&mut self, config: &Arc<rustls::ServerConfig>) -> bool {
        let Stream::Plain(tcp) = std::mem::replace(self, Stream::Gone) else {
            return false;
        };
        let Ok(conn) = rustls::ServerConnection::new(Arc::clone(config)) else {
            return false;
        };
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        // Finish the handshake now: a client that refuses the certificate ends here.
        while tls.conn.is_handshaking() {
            if tls.conn.complete_io(&mut tls.sock).is_err() {
                return false;
            }
        }
        *self = Stream::Tls(Box::new(tls));
        true
    }

    fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default()
}

fn session(conn: TcpStream, setup: &Setup, shared: &Shared) {
    let mut s = Stream::Plain(conn);
    if setup.protection == Protection::ImplicitTls {
        let Some(cfg) = &setup.tls else { return };
        if !s.upgrade(cfg) {
            return;
        }
    }
    s.send("220 relay.test ESMTP ready\r\n");
    let mut auth: Option<(String, String, String)> = None;
    let mut ehlo = String::new();
    while let Some(line) = s.read_line() {
        let raw = line.trim_end().to_string();
        let cmd = raw.to_ascii_uppercase();
        if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
            ehlo = raw[4..].trim().to_string();
            let mut lines = vec!["250-relay.test".to_string(), "250-8BITMIME".into()];
            if setup.protection == Protection::StartTls && !s.is_tls() {
                lines.push("250-STARTTLS".into());
            }
            if let (Some(mechs), true) = (setup.auth, s.is_tls() || setup.tls.is_none()) {
                lines.push(format!("250-AUTH {mechs}"));
            }
            lines.push("250 SIZE 10000000".into());
            s.send(&(lines.join("\r\n") + "\r\n"));
        } else if cmd == "STARTTLS" && setup.protection == Protection::StartTls {
            s.send("220 go ahead\r\n");
            let Some(cfg) = &setup.tls else { return };
            if !s.upgrade(cfg) {
                return;
            }
        } else if cmd.starts_with("AUTH PLAIN") {
            // \0user\0password, inline or on the next line.
            let inline = raw[10..].trim().to_string();
            let encoded = if inline.is_empty() {
                s.send("334 \r\n");
                s.read_line().unwrap_or_default()
            } else {
                inline
            };
            let parts: Vec<String> = b64(&encoded).split('\0').map(str::to_string).collect();
            if parts.len() == 3 {
                auth = Some(("PLAIN".into(), parts[1].clone(), parts[2].clone()));
                s.send("235 ok\r\n");
            } else {
                s.send("535 bad\r\n");
            }
        } else if cmd.starts_with("AUTH LOGIN") {
            s.send("334 VXNlcm5hbWU6\r\n");
            let user = b64(&s.read_line().unwrap_or_default());
            s.send("334 UGFzc3dvcmQ6\r\n");
            let pass = b64(&s.read_line().unwrap_or_default());
            auth = Some(("LOGIN".into(), user, pass));
            s.send("235 ok\r\n");
        } else if cmd.starts_with("MAIL") {
            if setup.auth.is_some() && auth.is_none() {
                s.send("530 authentication required\r\n");
            } else {
                s.send("250 OK\r\n");
            }
        } else if cmd.starts_with("RCPT") {
            if cmd.contains("<BOUNCE@") {
                s.send("550 5.1.1 no such mailbox\r\n");
            } else {
                s.send("250 OK\r\n");
            }
        } else if cmd.starts_with("RSET") || cmd.starts_with("NOOP") {
            s.send("250 OK\r\n");
        } else if cmd == "DATA" {
            s.send("354 end with .\r\n");
            let mut data = String::new();
            loop {
                let Some(l) = s.read_line() else { return };
                if l == ".\r\n" {
                    break;
                }
                data.push_str(&l);
            }
            let got = Received {
                data,
                tls: s.is_tls(),
                auth: auth.clone(),
                ehlo: ehlo.clone(),
            };
            if shared.stall.load(Ordering::SeqCst) {
                if let Ok(mut m) = shared.stalled.lock() {
                    m.push(got);
                }
                // Never answer: the sender waits until it is killed or times out.
                while s.read_line().is_some() {}
                return;
            }
            if let Ok(mut m) = shared.messages.lock() {
                m.push(got);
            }
            s.send("250 queued\r\n");
        } else if cmd == "QUIT" {
            s.send("221 bye\r\n");
            return;
        } else {
            s.send("502 not implemented\r\n");
        }
    }
}
