//! `gatehouse-bench`: the performance figures of `performance.md`, measured side by side in one
//! run (ratios matter; absolute numbers depend on the machine). Started by `.ci/bench`, which
//! builds the release, creates the benchmark users and starts the server.
//!
//! Prints: raw argon2id hashes/s on all cores; HTTP password-step logins/s at concurrency 2 and
//! 32 and their ratios to the raw figure; p50/p99 latency; 503 answers (P6: fast refusals instead
//! of queueing; the clients honour Retry-After); SSR requests/s for `/login`; idle and peak RSS of the server process.

mod client;
mod soak;

use gatehouse_core::mechanisms::hashing::{hash_blocking, HashParams};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) struct Args {
    pub addr: String,
    pub pid: u32,
    pub users: usize,
    pub password: String,
    pub secs: u64,
    /// `--soak MINUTES`: whole sign-ins for that long instead of the figures.
    pub soak_minutes: Option<u64>,
    /// `--metrics ADDR`: the server's metrics listener (the soak reads the outbox there).
    pub metrics: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        addr: "127.0.0.1:3200".into(),
        pid: 0,
        users: 32,
        password: String::new(),
        secs: 10,
        soak_minutes: None,
        metrics: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or(format!("{k} needs a value"))?;
        match k.as_str() {
            "--addr" => a.addr = v,
            "--pid" => a.pid = v.parse().map_err(|_| "--pid")?,
            "--users" => a.users = v.parse().map_err(|_| "--users")?,
            "--password" => a.password = v,
            "--secs" => a.secs = v.parse().map_err(|_| "--secs")?,
            "--soak" => a.soak_minutes = Some(v.parse().map_err(|_| "--soak")?),
            "--metrics" => a.metrics = Some(v),
            _ => return Err(format!("unknown argument {k}")),
        }
    }
    Ok(a)
}

async fn http(
    addr: &str,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: &str,
) -> std::io::Result<(u16, Option<String>)> {
    let a = client::fetch(addr, method, path, cookie, body).await?;
    Ok((a.status, a.cookie))
}

pub(crate) fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn raw_hashes_per_sec(secs: u64) -> f64 {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..cores)
        .map(|_| {
            let (stop, count) = (Arc::clone(&stop), Arc::clone(&count));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if hash_blocking(HashParams::default(), "benchmark password").is_ok() {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

struct LoadResult {
    ok_per_sec: f64,
    ok_lat: Vec<Duration>,
    busy: u64,
    busy_lat: Vec<Duration>,
    other: u64,
}

async fn password_load(a: &Args, concurrency: usize) -> LoadResult {
    let deadline = Instant::now() + Duration::from_secs(a.secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (addr, pw, users) = (a.addr.clone(), a.password.clone(), a.users);
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut busy, mut other) = (Vec::new(), Vec::new(), 0u64);
            let mut k = w;
            while Instant::now() < deadline {
                let email = format!("email=bench{}%40example.com", k % users);
                k += concurrency;
                let Ok((_, Some(cookie))) =
                    http(&addr, "POST", "/api/login_email", None, &email).await
                else {
                    other += 1;
                    continue;
                };
                let t = Instant::now();
                match http(
                    &addr,
                    "POST",
                    "/api/login_password",
                    Some(&cookie),
                    &format!("password={pw}"),
                )
                .await
                {
                    Ok((200, _)) => ok.push(t.elapsed()),
                    Ok((503, _)) => {
                        busy.push(t.elapsed());
                        // A well-behaved client honours Retry-After (the server sends 2 s).
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                    _ => other += 1,
                }
            }
            (ok, busy, other)
        }));
    }
    let mut r = LoadResult {
        ok_per_sec: 0.0,
        ok_lat: Vec::new(),
        busy: 0,
        busy_lat: Vec::new(),
        other: 0,
    };
    for t in tasks {
        if let Ok((ok, busy, other)) = t.await {
            r.ok_lat.extend(ok);
            r.busy += busy.len() as u64;
            r.busy_lat.extend(busy);
            r.other += other;
        }
    }
    r.ok_per_sec = r.ok_lat.len() as f64 / start.elapsed().as_secs_f64();
    r.ok_lat.sort();
    r.busy_lat.sort();
    r
}

pub(crate) fn pct(v: &[Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

async fn ssr_per_sec(addr: &str, secs: u64, concurrency: usize) -> (f64, f64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let addr = addr.to_string();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                if let Ok((200, _)) = http(&addr, "GET", "/login", None, "").await {
                    lat.push(t.elapsed());
                }
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    all.sort();
    (
        all.len() as f64 / start.elapsed().as_secs_f64(),
        pct(&all, 0.99),
    )
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let a = args()?;
    if let Some(minutes) = a.soak_minutes {
        return soak::run(&a, minutes).await;
    }
    let idle = rss_kib(a.pid, "VmRSS:");
    println!(
        "idle RSS (SQLite)                 {:>8.1} MiB",
        idle as f64 / 1024.0
    );
    let raw = tokio::task::spawn_blocking({
        let s = a.secs;
        move || raw_hashes_per_sec(s)
    })
    .await
    .map_err(|e| e.to_string())?;
    println!("raw argon2id (m=19456,t=2,p=1)    {raw:>8.1} hashes/s on all cores");
    let c2 = password_load(&a, 2).await;
    let c32 = password_load(&a, 32).await;
    for (c, r) in [(2, &c2), (32, &c32)] {
        println!(
            "HTTP password step, concurrency {c:>2} {:>8.1} logins/s  ({:.0}% of raw)  p50 {:.0} ms  p99 {:.0} ms  503s {} (p99 {:.1} ms)  other {}",
            r.ok_per_sec,
            100.0 * r.ok_per_sec / raw,
            pct(&r.ok_lat, 0.5),
            pct(&r.ok_lat, 0.99),
            r.busy,
            pct(&r.busy_lat, 0.99),
            r.other
        );
    }
    println!(
        "ratio concurrency 32 / 2          {:>8.0}%",
        100.0 * c32.ok_per_sec / c2.ok_per_sec.max(0.001)
    );
    let (ssr, ssr_p99) = ssr_per_sec(&a.addr, a.secs.min(5), 2).await;
    println!("SSR GET /login, concurrency 2     {ssr:>8.0} req/s  p99 {:.1} ms (new connection per request)", ssr_p99 * 1.0);
    println!(
        "peak RSS                          {:>8.1} MiB",
        rss_kib(a.pid, "VmHWM:") as f64 / 1024.0
    );
    Ok(())
}
