//! `gatehouse`: the server binary and its support commands.
//!
//! `serve` (default) loads the configuration, migrates the database (Y3), starts the hashing pool
//! (P6) and the outbox worker (Y1), serves HTTP with bounded connections (Y4, `serve.rs`), and shuts
//! down gracefully on SIGTERM/SIGINT, within a grace period (Y2).

use gatehouse_server::{config, mailbox, metrics, middleware, routes, serve as listen, worker};

use app::server_ctx::AppState;
use clap::{Parser, Subcommand};
use gatehouse_core::mechanisms::hashing::Hasher;
use gatehouse_core::mechanisms::service::Deps;
use gatehouse_core::store::Store;
use gatehouse_core::values::clock::SystemClock;
use leptos::config::LeptosOptions;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Gatehouse: self-hosted accounts with MFA"
)]
struct Cli {
    /// Path of a TOML config file (default: ./gatehouse.toml when present, or $GATEHOUSE_CONFIG).
    #[arg(long, global = true)]
    config: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Support tasks on user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect and retry outgoing messages.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Applications that sign people in through Gatehouse (OpenID Connect).
    #[command(subcommand)]
    Client(gatehouse_server::clients::ClientCommand),
    /// The OpenID Connect signing keys.
    #[command(subcommand)]
    Keys(gatehouse_server::clients::KeysCommand),
    /// Write a consistent copy of the SQLite database to PATH (a new file) while serving.
    /// PostgreSQL: use pg_dump (see the README).
    Backup { path: String },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a verified account. The password is read from $GATEHOUSE_NEW_PASSWORD or stdin.
    Create {
        email: String,
        #[arg(long)]
        first_name: String,
        #[arg(long)]
        last_name: String,
    },
    /// Lift a sign-in lock (R1) early.
    Unlock { email: String },
    /// Reset the sign-in method to email codes; removes the authenticator and recovery codes,
    /// records the event and emails the user (M8).
    ResetMfa { email: String },
    /// Start changing an account's email: a confirmation link goes to NEW and a notice to OLD;
    /// nothing changes until the link is used (support, seed 001).
    ChangeEmail { old: String, new: String },
    /// Give a person the instance role `support`: they may open the support console
    /// (`/support`).
    GrantSupport { email: String },
    /// Take the role `support` away.
    RevokeSupport { email: String },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// The newest messages and their delivery state (no bodies).
    List {
        /// Only the messages given up on (a permanent refusal, or every attempt spent).
        #[arg(long)]
        failed: bool,
    },
    /// Make one undelivered message (or, without ID, every one) due now, with a fresh allowance
    /// of attempts.
    Retry { id: Option<i64> },
}

/// P6/Y4: each argon2 hash takes ~19 MiB. glibc's dynamic mmap threshold would soon serve
/// those blocks from per-thread arenas that keep the memory after use (measured: 230 MB after a
/// dozen logins). A fixed threshold returns every block to the system when the hash is done.
fn bound_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called once before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 4);
    }
}

fn main() -> ExitCode {
    bound_allocator();
    let cli = Cli::parse();
    let loaded = match config::load(cli.config.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            return ExitCode::from(2);
        }
    };
    init_logs(&loaded);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gatehouse: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(loaded).await,
            Command::Migrate => open_store(&loaded)
                .await
                .map(|_| println!("migrations applied")),
            Command::User(u) => user_command(&loaded, u).await,
            Command::Outbox(o) => outbox_command(&loaded, o).await,
            Command::Client(c) => match open_store(&loaded).await {
                Ok(store) => gatehouse_server::clients::client_command(&store, c).await,
                Err(e) => Err(e),
            },
            Command::Keys(k) => match (open_store(&loaded).await, loaded.secret_key()) {
                (Ok(store), Ok(key)) => {
                    gatehouse_server::clients::keys_command(&store, &key, k).await
                }
                (Err(e), _) | (_, Err(e)) => Err(e),
            },
            Command::Backup { path } => match open_store(&loaded).await {
                Ok(store) => store
                    .backup_to(&path)
                    .await
                    .map(|_| println!("backup written to {path}"))
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            },
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logs(l: &config::Loaded) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("GATEHOUSE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,lettre=warn"));
    let json = l
        .config
        .log
        .format
        .as_deref()
        .map(|f| f == "json")
        .unwrap_or(!l.dev());
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        b.json().init();
    } else {
        b.init();
    }
}

async fn open_store(l: &config::Loaded) -> Result<Store, String> {
    let store = Store::connect_with(&l.config.database_url, l.config.database.limits())
        .await
        .map_err(|e| format!("database: {e}"))?;
    store
        .migrate()
        .await
        .map_err(|e| format!("migrations: {e}"))?;
    Ok(store)
}

fn deps(
    l: &config::Loaded,
    store: Store,
    dev_clock: Option<&gatehouse_core::values::clock::OffsetClock>,
) -> Result<Deps, String> {
    let workers = match l.config.password.hash_workers {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
        n => n,
    };
    let hasher = Hasher::start(l.hash_params(), workers, l.config.password.hash_queue)
        .map_err(|e| format!("hashing pool: {e}"))?;
    let secret_key = Arc::new(l.secret_key()?);
    Ok(Deps {
        store,
        hasher,
        clock: match dev_clock {
            Some(c) => Arc::new(c.clone()),
            None => Arc::new(SystemClock),
        },
        settings: Arc::new(l.settings()),
        secret_key,
        random: Arc::new(gatehouse_core::mechanisms::secret::OsRandom),
        // U1/U3/P6: at most one decode per core, and all of them within the memory budget
        // (picture::MEMORY_BUDGET, reserved from each header before decoding); beyond, 503.
        pictures: gatehouse_core::mechanisms::picture::Pictures::new(workers, 4),
    })
}

async fn serve(mut l: config::Loaded) -> Result<(), String> {
    // Y4: the open-file limit raised and the connection cap set before anything opens files.
    let limits = listen::plan(&l.config.limits, &l.config.database);
    let listener = tokio::net::TcpListener::bind(l.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", l.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    if l.config.public_url.is_none() && l.listen.port() == 0 {
        // No public URL given and an ephemeral port: the URL is the address actually bound
        // (the OpenID Connect issuer and every link must name a port that answers).
        l.public_url = format!("http://{addr}");
    }
    let store = open_store(&l).await?;
    // Dev mode: a clock that `/dev/clock` can move forward (S5, expiries) — never in production.
    let dev_clock = l
        .dev()
        .then(gatehouse_core::values::clock::OffsetClock::default);
    let deps = deps(&l, store.clone(), dev_clock.as_ref())?;
    // O4: the signing keys are made on first start, beside serving (an RSA key takes a moment);
    // the token and JWKS endpoints make sure of them too.
    tokio::spawn({
        let deps = deps.clone();
        async move {
            if let Err(e) = gatehouse_core::flows::oidc::ensure_keys(&deps).await {
                tracing::error!(error = %e, "could not make the signing keys");
            }
        }
    });
    if l.config.password.min_length < 8 {
        tracing::warn!(
            min_length = l.config.password.min_length,
            "password.min_length is below 8 (P1)"
        );
    }
    if !l.dev() && l.public_url.starts_with("http://") {
        tracing::warn!(
            public_url = %l.public_url,
            "allow_insecure_http = true: passwords and session cookies travel unencrypted (H3)"
        );
    }
    if l.dev() {
        tracing::warn!(
            "dev mode: dev mailbox at {}/dev/mailbox, component gallery at /dev/gallery{}",
            l.public_url,
            if l.secure_cookies() {
                ""
            } else {
                ", cookies without Secure over plain http"
            }
        );
    }
    let mailbox = mailbox::DevMailbox::default();
    let transport = worker::Transport::from_config(
        l.relay.clone(),
        l.config.sms.provider().as_ref(),
        mailbox.clone(),
    )?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let metrics = Arc::new(metrics::Metrics::default());
    let worker = worker::Worker {
        metrics: Arc::clone(&metrics),
        deps: deps.clone(),
        transport,
        max_attempts: l.config.outbox.max_attempts,
        lease_secs: l.config.outbox.lease_secs,
        every: Duration::from_secs(1),
    };
    let worker = tokio::spawn(worker.run(stop_rx.clone()));

    let options = LeptosOptions::builder()
        .output_name("gatehouse")
        .site_root(l.config.site_root.clone())
        .site_pkg_dir("pkg")
        .site_addr(l.listen)
        .reload_port(3001)
        .build();
    let state = AppState {
        deps,
        secure_cookies: l.secure_cookies(),
        dev_clock,
    };
    let policy = middleware::HttpPolicy {
        dev: l.dev(),
        hsts: l.secure_cookies(),
        // H3: the address actually bound (the configured port may be 0).
        hosts: Arc::new(middleware::HttpPolicy::allowed_hosts(
            &l.public_url,
            addr,
            l.dev(),
        )),
        trusted_proxies: Arc::new(l.trusted_proxies.clone()),
        metrics: Arc::clone(&metrics),
        slots: Arc::new(tokio::sync::Semaphore::new(
            l.config.limits.max_concurrent_requests,
        )),
        request_timeout: Duration::from_secs(l.config.limits.request_timeout_secs),
    };
    let metrics_deps = state.deps.clone();
    let app = routes::build(state, options, policy, mailbox);

    tracing::info!(mode = ?l.mode, database = store.backend_name(), "gatehouse ready");
    println!("gatehouse listening on http://{addr}");
    // After the line above: the first line out names the public listener.
    let metrics_server = match l.metrics_listen {
        Some(at) => Some(serve_metrics(at, metrics_deps, metrics, limits, stop_rx.clone()).await?),
        None => None,
    };
    // Y2/Y4: timeouts, the connection cap and the shutdown grace (server/src/serve.rs).
    listen::serve(listener, app, limits, shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    let _ = stop_tx.send(true);
    let _ = worker.await;
    if let Some(m) = metrics_server {
        let _ = m.await;
    }
    store.close().await;
    tracing::info!("gatehouse stopped");
    Ok(())
}

/// `/metrics` on its own address, until `stop` flips; with the public listener's timeouts, a
/// few connections and a short grace (a scrape is quick, and this one starts after the public
/// listener's grace).
async fn serve_metrics(
    at: std::net::SocketAddr,
    deps: gatehouse_core::mechanisms::service::Deps,
    metrics: Arc<metrics::Metrics>,
    limits: listen::Limits,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let listener = tokio::net::TcpListener::bind(at)
        .await
        .map_err(|e| format!("cannot listen on metrics_listen {at}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    println!("gatehouse metrics on http://{bound}/metrics");
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (deps, metrics) = (deps.clone(), Arc::clone(&metrics));
            async move {
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    metrics.render(&deps).await,
                )
            }
        }),
    );
    Ok(tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        let limits = listen::Limits {
            max_connections: 16,
            shutdown_grace: limits.shutdown_grace.min(Duration::from_secs(1)),
            ..limits
        };
        if let Err(e) = listen::serve(listener, app, limits, stopped).await {
            tracing::error!(error = %e, "metrics listener failed");
        }
    }))
}

/// Y2: finish in-flight requests on SIGTERM or SIGINT (for `limits.shutdown_grace_secs`, then
/// the connections left are closed).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

/// The command line as the actor of a support action (G1: its events say `cli`).
fn operator(command: &str) -> gatehouse_core::mechanisms::sessions::ClientInfo {
    gatehouse_core::mechanisms::sessions::ClientInfo {
        ip: "cli".into(),
        user_agent: command.into(),
    }
}

async fn user_command(l: &config::Loaded, cmd: UserCommand) -> Result<(), String> {
    use gatehouse_core::flows::support;
    use gatehouse_core::mechanisms::staff::By;
    let store = open_store(l).await?;
    let deps = deps(l, store, None)?;
    match cmd {
        UserCommand::Create {
            email,
            first_name,
            last_name,
        } => {
            let email =
                gatehouse_core::values::email::Email::parse(&email).map_err(|e| e.to_string())?;
            let password = match std::env::var("GATEHOUSE_NEW_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .map_err(|e| e.to_string())?;
                    line.trim_end_matches(['\n', '\r']).to_string()
                }
            };
            match gatehouse_core::flows::accounts::create_verified(
                &deps,
                &email,
                &first_name,
                &last_name,
                &password,
            )
            .await
            {
                Ok(_) => println!("created {email}"),
                Err(gatehouse_core::flows::accounts::RegisterError::Invalid(errs)) => {
                    let msgs: Vec<String> = [
                        errs.email,
                        errs.first_name,
                        errs.last_name,
                        errs.password,
                        errs.confirm,
                    ]
                    .into_iter()
                    .flatten()
                    .collect();
                    return Err(msgs.join(" "));
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        UserCommand::Unlock { email } => {
            let cli = operator("gatehouse user unlock");
            let email = support::unlock(&deps, &email, By::Operator(&cli))
                .await
                .map_err(|e| e.to_string())?;
            println!("unlocked {email}; the user was notified");
        }
        UserCommand::ResetMfa { email } => {
            let cli = operator("gatehouse user reset-mfa");
            let email = support::reset_mfa(&deps, &email, By::Operator(&cli))
                .await
                .map_err(|e| e.to_string())?;
            println!("{email}: sign-in codes now come by email; the user was notified");
        }
        UserCommand::GrantSupport { email } => {
            let email = support::grant(&deps, &email)
                .await
                .map_err(|e| e.to_string())?;
            println!("{email} may now open the support console (/support)");
        }
        UserCommand::RevokeSupport { email } => {
            let email = support::revoke(&deps, &email)
                .await
                .map_err(|e| e.to_string())?;
            println!("{email} no longer has the support role");
        }
        UserCommand::ChangeEmail { old, new } => {
            let cli = operator("gatehouse user change-email");
            let new =
                gatehouse_core::flows::email_change::start(&deps, &old, &new, By::Operator(&cli))
                    .await
                    .map_err(|e| e.to_string())?;
            println!(
                "a confirmation link went to {new} and a notice to {}; the email changes when the link is used",
                old.trim()
            );
        }
    }
    Ok(())
}

async fn outbox_command(l: &config::Loaded, cmd: OutboxCommand) -> Result<(), String> {
    use gatehouse_core::mechanisms::outbox;
    let store = open_store(l).await?;
    let mut c = store.conn().await.map_err(|e| e.to_string())?;
    let now = gatehouse_core::values::clock::Clock::now(&SystemClock);
    match cmd {
        OutboxCommand::List { failed } => {
            let rows = if failed {
                outbox::failed(&mut c, 200).await
            } else {
                outbox::recent(&mut c, 50).await
            }
            .map_err(|e| e.to_string())?;
            for q in rows {
                println!(
                    "{:>6}  {:5}  {:30}  {:40}  attempts={} {}",
                    q.id,
                    q.message.channel.as_str(),
                    q.message.recipient,
                    q.message.subject,
                    q.attempts,
                    match (q.sent_at, q.failed_at, q.last_error) {
                        (Some(_), _, _) => "sent".to_string(),
                        (None, Some(_), e) => format!("failed: {}", e.unwrap_or_default()),
                        (None, None, Some(e)) => format!("retrying: {e}"),
                        (None, None, None) => "queued".to_string(),
                    }
                );
            }
        }
        OutboxCommand::Retry { id: Some(id) } => {
            if !outbox::retry(&mut c, id, now)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("no undelivered message {id}"));
            }
            println!("message {id} due now");
        }
        OutboxCommand::Retry { id: None } => {
            let n = outbox::retry_all(&mut c, now)
                .await
                .map_err(|e| e.to_string())?;
            println!("{n} message(s) due now");
        }
    }
    Ok(())
}
