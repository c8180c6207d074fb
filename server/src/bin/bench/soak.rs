//! `gatehouse-bench --soak MINUTES` (`.ci/bench --soak MINUTES`; not part of `.ci/test`): 32
//! people (over `--users` accounts) doing the whole sign-in for the given time — email, password, the emailed code read
//! from the dev mailbox, the profile page, sign-out — on loopback. Prints every minute the
//! sign-ins done, the server's RSS and the errors so far; at the end throughput, p50/p99 of a
//! whole sign-in, errors by kind (a 503 is a fast refusal, counted apart), RSS, and whether every
//! queued message was delivered (the outbox gauges on the metrics listener).

use crate::client::{fetch, Answer};
use crate::{pct, rss_kib, Args};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Tally {
    done: Vec<Duration>,
    /// Step → count of unexpected answers.
    errors: BTreeMap<String, u64>,
    busy: u64,
}

type Shared = Arc<Mutex<Tally>>;

fn form(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// The newest sign-in code mailed to `email` that is not `previous`.
async fn code_for(addr: &str, email: &str, previous: &str) -> Option<String> {
    for _ in 0..200 {
        let a = fetch(
            addr,
            "GET",
            &format!("/dev/mailbox.json?to={email}"),
            None,
            "",
        )
        .await
        .ok()?;
        let list: serde_json::Value = serde_json::from_str(&a.body).ok()?;
        let code = list.as_array()?.iter().find_map(|m| {
            let text = m["text"].as_str()?;
            m["subject"]
                .as_str()?
                .contains("sign-in code")
                .then(|| {
                    text.split("code is ")
                        .nth(1)?
                        .split_whitespace()
                        .next()
                        .map(str::to_string)
                })
                .flatten()
        });
        match code {
            Some(c) if c != previous => return Some(c),
            // The worker delivers within its poll interval (1 s).
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    None
}

enum Step {
    Done,
    Busy,
    Failed(&'static str),
}

/// One whole sign-in and sign-out; the code of the previous round is passed to tell them apart.
async fn sign_in(addr: &str, email: &str, password: &str, last_code: &mut String) -> Step {
    let ok = |a: &std::io::Result<Answer>| matches!(a, Ok(a) if a.status == 200);
    let a = fetch(
        addr,
        "POST",
        "/api/login_email",
        None,
        &form(&[("email", email)]),
    )
    .await;
    let Some(cookie) = a.ok().filter(|a| a.status == 200).and_then(|a| a.cookie) else {
        return Step::Failed("email step");
    };
    let a = fetch(
        addr,
        "POST",
        "/api/login_password",
        Some(&cookie),
        &form(&[("password", password)]),
    )
    .await;
    let cookie = match a {
        Ok(a) if a.status == 503 => return Step::Busy,
        Ok(a) if a.status == 200 => match a.cookie {
            Some(c) => c,
            None => return Step::Failed("password step refused (a limit or a lock)"),
        },
        _ => return Step::Failed("password step"),
    };
    let Some(code) = code_for(addr, email, last_code).await else {
        return Step::Failed("code never arrived");
    };
    *last_code = code.clone();
    let a = fetch(
        addr,
        "POST",
        "/api/login_code",
        Some(&cookie),
        &form(&[("code", &code)]),
    )
    .await;
    let Some(cookie) = a.ok().filter(|a| a.status == 200).and_then(|a| a.cookie) else {
        return Step::Failed("code step");
    };
    let profile = fetch(addr, "GET", "/profile", Some(&cookie), "").await;
    if !matches!(&profile, Ok(p) if p.status == 200 && p.body.contains("Welcome")) {
        return Step::Failed("profile after sign-in");
    }
    if !ok(&fetch(addr, "POST", "/api/sign_out", Some(&cookie), "").await) {
        return Step::Failed("sign-out");
    }
    Step::Done
}

/// Person `i` of `people` signs in as accounts i, i + people, i + 2·people … in turn: R4 lets
/// one address receive 5 codes an hour, so a long soak needs many accounts, as real traffic has.
async fn person(
    a: Arc<(String, String)>,
    i: usize,
    people: usize,
    accounts: usize,
    until: Instant,
    tally: Shared,
) {
    let (addr, password) = (&a.0, &a.1);
    let mine: Vec<usize> = (i..accounts).step_by(people).collect();
    let mut last_codes = vec![String::new(); mine.len()];
    let mut round = 0;
    while Instant::now() < until {
        let k = round % mine.len().max(1);
        round += 1;
        let email = format!("bench{}@example.com", mine.get(k).copied().unwrap_or(i));
        let t = Instant::now();
        let step = sign_in(addr, &email, password, &mut last_codes[k]).await;
        let took = t.elapsed();
        let busy = matches!(step, Step::Busy);
        if let Ok(mut s) = tally.lock() {
            match step {
                Step::Done => s.done.push(took),
                Step::Busy => s.busy += 1,
                Step::Failed(what) => *s.errors.entry(what.to_string()).or_default() += 1,
            }
        }
        if busy {
            // A well-behaved client honours Retry-After (2 s).
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

/// The outbox gauges from the metrics listener: (queued, failed).
async fn outbox(metrics: &str) -> Option<(f64, f64)> {
    let a = fetch(metrics, "GET", "/metrics", None, "").await.ok()?;
    let sample = |name: &str| {
        a.body
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
    };
    Some((
        sample("gatehouse_outbox_messages{state=\"queued\"}")?,
        sample("gatehouse_outbox_messages{state=\"failed\"}")?,
    ))
}

pub async fn run(a: &Args, minutes: u64) -> Result<(), String> {
    let start = Instant::now();
    let until = start + Duration::from_secs(minutes * 60);
    let tally: Shared = Arc::default();
    let shared = Arc::new((a.addr.clone(), a.password.clone()));
    const PEOPLE: usize = 32;
    println!(
        "soak: {PEOPLE} people doing whole sign-ins over {} accounts for {minutes} min; idle RSS {:.1} MiB",
        a.users,
        rss_kib(a.pid, "VmRSS:") as f64 / 1024.0
    );
    let people: Vec<_> = (0..PEOPLE)
        .map(|i| {
            tokio::spawn(person(
                Arc::clone(&shared),
                i,
                PEOPLE,
                a.users.max(PEOPLE),
                until,
                Arc::clone(&tally),
            ))
        })
        .collect();
    let mut minute = 0;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(60).min(until - Instant::now())).await;
        minute += 1;
        if let Ok(s) = tally.lock() {
            println!(
                "  minute {minute:>3}: {:>6} sign-ins, {:>4} busy (503), {:>3} errors, RSS {:.1} MiB",
                s.done.len(),
                s.busy,
                s.errors.values().sum::<u64>(),
                rss_kib(a.pid, "VmRSS:") as f64 / 1024.0
            );
        }
    }
    for p in people {
        let _ = p.await;
    }
    let secs = start.elapsed().as_secs_f64();
    let (done, busy, errors) = {
        let mut s = tally.lock().map_err(|_| "tally poisoned")?;
        s.done.sort();
        (std::mem::take(&mut s.done), s.busy, s.errors.clone())
    };
    println!(
        "soak result: {} whole sign-ins in {:.0} s = {:.2}/s; p50 {:.0} ms, p99 {:.0} ms; 503s {}; errors {:?}",
        done.len(),
        secs,
        done.len() as f64 / secs,
        pct(&done, 0.5),
        pct(&done, 0.99),
        busy,
        errors
    );
    println!(
        "RSS at the end {:.1} MiB (peak {:.1} MiB)",
        rss_kib(a.pid, "VmRSS:") as f64 / 1024.0,
        rss_kib(a.pid, "VmHWM:") as f64 / 1024.0
    );
    if let Some(m) = &a.metrics {
        // The last codes are delivered within the worker's poll interval.
        let mut backlog = outbox(m).await;
        for _ in 0..100 {
            if matches!(backlog, Some((q, _)) if q == 0.0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            backlog = outbox(m).await;
        }
        match backlog {
            Some((0.0, 0.0)) => println!("outbox: every queued message was delivered"),
            Some((q, f)) => println!("outbox: NOT all delivered: {q} waiting, {f} failed"),
            None => println!("outbox: metrics not readable"),
        }
    }
    Ok(())
}
