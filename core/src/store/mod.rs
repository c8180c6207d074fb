//! The database handle: one portable SQL dialect on SQLite and PostgreSQL.
//!
//! Queries use `$1` placeholders, integer Unix-second timestamps and text ids, so the same statement
//! runs on both backends through sqlx's `Any` driver. Migrations live in two folders kept in step by
//! a test (Y3) and run at start-up.
//!
//! - SQLite (WAL): one writer connection — SQLite has one writer anyway, and a single writer rules
//!   out lock-upgrade deadlocks between concurrent transactions — plus a small pool of readers
//!   (`PRAGMA query_only`), so pages that only read never queue behind a slow write. A reader
//!   that tries to write fails loudly instead of taking the writer behind the caller's back.
//! - PostgreSQL: one bounded pool (Y4) serves both.

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;
pub type Conn = sqlx::AnyConnection;

/// Whether `conn` talks to PostgreSQL (for the few statements whose best form differs, such as
/// `FOR UPDATE SKIP LOCKED`, which SQLite does not have and does not need: it has one writer).
pub fn is_postgres(conn: &Conn) -> bool {
    conn.backend_name().eq_ignore_ascii_case("postgresql")
}
pub type DbError = sqlx::Error;

/// Y4: whether a database error means "the database is overloaded right now" — no connection
/// came free within the acquire timeout, PostgreSQL cancelled a statement at its
/// `statement_timeout` (SQLSTATE 57014), or SQLite stayed locked past `busy_timeout` — rather
/// than a fault. Such a request answers 503 with Retry-After (P6's answer), not 500.
///
/// Y4 (issue 24): the same for a database that cannot be reached for now — a connection
/// refused or broken (an I/O error), or PostgreSQL saying it is starting, shutting down or out
/// of connections (SQLSTATE class 08, 57P01–57P03, 53300): "try again in a moment" is true,
/// "something went wrong" is not.
pub fn overloaded(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or_default();
            matches!(
                code,
                "57014" | "5" | "517" | "57P01" | "57P02" | "57P03" | "53300"
            ) || code.starts_with("08")
        }
        _ => false,
    }
}

/// How a database error reaches a person (`values::failure`): overload is "busy", anything
/// else a fault that is logged and never shown.
pub fn shown(e: &sqlx::Error) -> crate::values::failure::Shown {
    use crate::values::failure::Shown;
    if overloaded(e) {
        Shown::Busy
    } else {
        Shown::Internal
    }
}

impl crate::values::failure::Refusal for sqlx::Error {
    fn shown(&self) -> crate::values::failure::Shown {
        shown(self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL (use sqlite://PATH or postgres://…)")]
    UnsupportedUrl,
    #[error("could not create the database folder {0}: {1}")]
    Folder(String, std::io::Error),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("PostgreSQL is backed up with its own tools: pg_dump --format=custom (see the README, Backups)")]
    BackupIsPgDump,
    #[error("{0} already exists; a backup never overwrites a file")]
    BackupExists(String),
}

#[derive(Clone, Debug)]
pub struct Store {
    /// Writes (and reads inside a write's transaction).
    pool: AnyPool,
    /// Reads that are not part of a write; the same pool on PostgreSQL.
    readers: AnyPool,
    backend: Backend,
}

/// Y4: how many connections, how long to wait for one, how long one statement may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    /// PostgreSQL: the pool size. SQLite: the readers (there is always one writer).
    pub max_connections: u32,
    /// Waiting longer than this for a connection fails the request (a 503 upstream), instead
    /// of queueing without end.
    pub acquire_timeout: Duration,
    /// PostgreSQL `statement_timeout`: a statement running longer is cancelled by the server.
    /// (SQLite statements are local; a locked database waits `busy_timeout`, 5 s.)
    pub statement_timeout: Duration,
}

impl Default for PoolLimits {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(10),
        }
    }
}

/// SQLite connections that only read.
const SQLITE_READERS: u32 = 4;

impl Store {
    /// Connects (creating a SQLite file and its folder when missing) with the default limits.
    /// Does not migrate.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PoolLimits::default()).await
    }

    /// Connects with `limits` (Y4). Does not migrate.
    pub async fn connect_with(url: &str, limits: PoolLimits) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let url = match backend {
            Backend::Sqlite => sqlite_url_with_create(url)?,
            Backend::Postgres => url.to_string(),
        };
        let opts = AnyConnectOptions::from_str(&url)?;
        let (pool, readers) = match backend {
            Backend::Sqlite => {
                let writer = sqlite_pool(opts.clone(), 1, limits.acquire_timeout, "").await?;
                // The writer made the file and switched it to WAL before any reader opens it.
                let readers = sqlite_pool(
                    opts,
                    limits.max_connections.clamp(1, SQLITE_READERS * 4),
                    limits.acquire_timeout,
                    " PRAGMA query_only = ON;",
                )
                .await?;
                (writer, readers)
            }
            Backend::Postgres => {
                let ms = limits.statement_timeout.as_millis().max(1);
                let pool = AnyPoolOptions::new()
                    .max_connections(limits.max_connections.max(1))
                    .acquire_timeout(limits.acquire_timeout)
                    .after_connect(move |conn, _| {
                        Box::pin(async move {
                            conn.execute(format!("SET statement_timeout = {ms}").as_str())
                                .await?;
                            Ok(())
                        })
                    })
                    .connect_with(opts)
                    .await?;
                (pool.clone(), pool)
            }
        };
        Ok(Self {
            pool,
            readers,
            backend,
        })
    }

    /// Y3: applies the migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Readiness: the database answers and how many of this build's migrations it lacks (0 when
    /// the schema is current; another instance may still be migrating at start-up).
    pub async fn migrations_missing(&self) -> Result<usize, sqlx::Error> {
        let known = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.iter().count(),
            Backend::Postgres => POSTGRES_MIGRATIONS.iter().count(),
        };
        let mut c = self.read().await?;
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&mut *c)
                .await?;
        Ok(known.saturating_sub(usize::try_from(applied).unwrap_or(0)))
    }

    /// A consistent copy of a SQLite database in a new file at `path`, taken while the server
    /// serves (`VACUUM INTO` reads one snapshot in WAL mode; the server's writer carries on). The
    /// copy is a complete database: start Gatehouse on it to restore. It runs on this store's
    /// writer connection (the readers are `query_only`, which refuses `VACUUM`); the CLI has its
    /// own, so the serving process is not held up.
    pub async fn backup_to(&self, path: &str) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            return Err(StoreError::BackupIsPgDump);
        }
        if std::path::Path::new(path).exists() {
            return Err(StoreError::BackupExists(path.to_string()));
        }
        let mut c = self.conn().await?;
        sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(&mut *c)
            .await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.pool.begin().await
    }

    /// A connection for writes outside a transaction. On SQLite this is *the* writer: give it
    /// back before anything else needs to write.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, sqlx::Error> {
        self.pool.acquire().await
    }

    /// A connection for reads only (a page's view). On SQLite it never waits for the writer and
    /// refuses to write (`query_only`).
    pub async fn read(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, sqlx::Error> {
        self.readers.acquire().await
    }

    /// Table and column names of the live schema, sorted, for the Y3 schema test.
    pub async fn schema_columns(&self) -> Result<Vec<(String, String)>, sqlx::Error> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'"
            }
            Backend::Postgres => {
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%'"
            }
        };
        let mut rows: Vec<(String, String)> = sqlx::query_as(sql).fetch_all(&self.pool).await?;
        rows.sort();
        Ok(rows)
    }

    pub async fn close(&self) {
        self.readers.close().await;
        self.pool.close().await;
    }
}

/// A SQLite pool of `max` connections with the shared pragmas and `extra` ones.
async fn sqlite_pool(
    opts: AnyConnectOptions,
    max: u32,
    acquire_timeout: Duration,
    extra: &'static str,
) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(acquire_timeout)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                let pragmas = format!(
                    "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;{extra}"
                );
                conn.execute(pragmas.as_str()).await?;
                Ok(())
            })
        })
        .connect_with(opts)
        .await
}

fn sqlite_url_with_create(url: &str) -> Result<String, StoreError> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::UnsupportedUrl);
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Folder(parent.display().to_string(), e))?;
        }
    }
    Ok(if url.contains('?') {
        url.to_string()
    } else {
        format!("{url}?mode=rwc")
    })
}

/// Test helpers: a fresh store on SQLite (temp file) and, when `GATEHOUSE_TEST_POSTGRES` names a
/// server, a fresh schema on PostgreSQL. Tests only (feature `testing`).
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use super::*;

    /// A fresh name for a throw-away database or schema.
    fn unique() -> String {
        format!("{:016x}", rand::random::<u64>())
    }

    /// A migrated store in a new temporary SQLite file.
    pub async fn sqlite() -> Store {
        let dir = std::env::temp_dir().join(format!("gatehouse-test-{}", unique()));
        let url = format!("sqlite://{}/db.sqlite", dir.display());
        let store = Store::connect(&url).await.expect("sqlite test store");
        store.migrate().await.expect("sqlite migrations");
        store
    }

    /// A migrated store in a new PostgreSQL schema. Tests that claim both backends never pass
    /// silently on one: without `GATEHOUSE_TEST_POSTGRES` (which `.ci/test` always sets) this
    /// panics, unless `GATEHOUSE_TEST_SQLITE_ONLY=1` says so out loud (`None` then).
    pub async fn postgres() -> Option<Store> {
        let url = postgres_url().await?;
        let store = Store::connect(&url).await.expect("postgres test store");
        store.migrate().await.expect("postgres migrations");
        Some(store)
    }

    /// The URL of a new, empty schema on the test PostgreSQL server (for tests that start
    /// `gatehouse` processes on it); `None` only under `GATEHOUSE_TEST_SQLITE_ONLY=1`.
    pub async fn postgres_url() -> Option<String> {
        let base = std::env::var("GATEHOUSE_TEST_POSTGRES")
            .ok()
            .filter(|s| !s.is_empty());
        let base = match base {
            Some(b) => b,
            None if std::env::var("GATEHOUSE_TEST_SQLITE_ONLY").as_deref() == Ok("1") => {
                return None
            }
            None => panic!(
                "GATEHOUSE_TEST_POSTGRES is not set: point it at a PostgreSQL server \
                 (bash .ci/test does), or set GATEHOUSE_TEST_SQLITE_ONLY=1 to test SQLite alone"
            ),
        };
        let schema = format!("t_{}", unique());
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(&base)
            .await
            .expect("postgres test server");
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .expect("create schema");
        admin.close().await;
        let sep = if base.contains('?') { '&' } else { '?' };
        Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
    }

    /// Both backends (SQLite alone only with `GATEHOUSE_TEST_SQLITE_ONLY=1`).
    pub async fn all() -> Vec<Store> {
        let mut v = vec![sqlite().await];
        v.extend(postgres().await);
        v
    }

    /// Opens a transaction on `store` that holds `tables` locked against everyone (PostgreSQL's
    /// `ACCESS EXCLUSIVE`) until it is dropped: a database that does not answer, for Y4 tests.
    pub async fn lock_tables(store: &Store, tables: &[&str]) -> Tx {
        let mut tx = store.begin().await.expect("begin");
        for t in tables {
            sqlx::query(&format!("LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE"))
                .execute(&mut *tx)
                .await
                .expect("lock table");
        }
        tx
    }
}

#[cfg(test)]
mod shown_tests {
    use super::*;
    use crate::values::failure::Shown;

    #[test]
    fn y4_an_unreachable_database_is_busy_not_a_fault() {
        let refused = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(shown(&refused), Shown::Busy);
        assert_eq!(shown(&sqlx::Error::PoolTimedOut), Shown::Busy);
        assert_eq!(shown(&sqlx::Error::RowNotFound), Shown::Internal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn count(c: &mut Conn) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM rate_limits WHERE key = 'store-test'")
            .fetch_one(&mut *c)
            .await
            .expect("count")
    }

    /// A page that only reads is served while a write transaction is still open (it sees the
    /// last committed state), and once the write commits the next read sees it.
    #[tokio::test]
    async fn reads_do_not_wait_for_an_open_write() {
        for store in testing::all().await {
            let mut tx = store.begin().await.expect("begin");
            sqlx::query(
                "INSERT INTO rate_limits (key, window_start, count) VALUES ('store-test', 0, 1)",
            )
            .execute(&mut *tx)
            .await
            .expect("insert");
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                let mut c = store.read().await.expect("reader");
                count(&mut c).await
            })
            .await
            .expect("a read during an open write does not wait for it");
            assert_eq!(
                read,
                0,
                "{}: uncommitted rows are not seen",
                store.backend_name()
            );
            tx.commit().await.expect("commit");
            let mut c = store.read().await.expect("reader");
            assert_eq!(count(&mut c).await, 1, "{}", store.backend_name());
        }
    }

    /// Readiness: a migrated store lacks nothing; one whose newest migration is undone lacks one.
    #[tokio::test]
    async fn y3_readiness_counts_missing_migrations() {
        for store in testing::all().await {
            assert_eq!(store.migrations_missing().await.expect("missing"), 0);
            let mut c = store.conn().await.expect("conn");
            sqlx::query(
                "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
            )
            .execute(&mut *c)
            .await
            .expect("forget one");
            drop(c);
            assert_eq!(
                store.migrations_missing().await.expect("missing"),
                1,
                "{}",
                store.backend_name()
            );
        }
    }

    /// Y4: a statement running past the limit is cancelled by PostgreSQL, and a request that
    /// finds every connection taken gives up after the acquire timeout instead of waiting on.
    #[tokio::test]
    async fn y4_statement_timeout_and_pool_size_bound_the_database() {
        let limits = PoolLimits {
            max_connections: 1,
            acquire_timeout: Duration::from_millis(300),
            statement_timeout: Duration::from_millis(200),
        };
        if let Some(url) = testing::postgres_url().await {
            let pg = Store::connect_with(&url, limits).await.expect("pg");
            let mut c = pg.conn().await.expect("conn");
            let slow = sqlx::query("SELECT pg_sleep(5)").execute(&mut *c).await;
            let code = match &slow {
                Err(sqlx::Error::Database(e)) => e.code().map(|c| c.to_string()),
                other => panic!("expected a cancelled statement, got {other:?}"),
            };
            assert_eq!(code.as_deref(), Some("57014"), "query_canceled");
            let second = pg.conn().await;
            assert!(
                matches!(second, Err(sqlx::Error::PoolTimedOut)),
                "the one connection is taken: {second:?}"
            );
            // Both are "busy" (503), not faults (500).
            for e in [slow.expect_err("cancelled"), second.expect_err("timed out")] {
                assert_eq!(shown(&e), crate::values::failure::Shown::Busy, "{e}");
            }
            assert_eq!(
                shown(&sqlx::Error::RowNotFound),
                crate::values::failure::Shown::Internal
            );
            drop(c);
            assert!(pg.conn().await.is_ok(), "free again");
        }
        let dir = std::env::temp_dir().join(format!("gh-pool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let url = format!("sqlite://{}", dir.join("db.sqlite").display());
        let lite = Store::connect_with(&url, limits).await.expect("sqlite");
        let held = lite.read().await.expect("the one reader");
        assert!(matches!(lite.read().await, Err(sqlx::Error::PoolTimedOut)));
        drop(held);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A backup is a whole, current database, taken by a second store on the same file (as the
    /// CLI does beside the server); it never overwrites a file; PostgreSQL is pointed to pg_dump.
    #[tokio::test]
    async fn y_backup_copies_a_whole_sqlite_database() {
        let dir = std::env::temp_dir().join(format!("gh-backup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("copy.db").display().to_string();
        let live = format!("sqlite://{}", dir.join("live.db").display());
        let store = Store::connect(&live).await.expect("serving store");
        store.migrate().await.expect("migrate");
        let mut c = store.conn().await.expect("conn");
        sqlx::query(
            "INSERT INTO rate_limits (key, window_start, count) VALUES ('store-test', 0, 1)",
        )
        .execute(&mut *c)
        .await
        .expect("committed row");
        drop(c);
        let cli = Store::connect(&live).await.expect("cli store");
        cli.backup_to(&path)
            .await
            .expect("backup beside the serving store");
        let copy = Store::connect(&format!("sqlite://{path}"))
            .await
            .expect("open copy");
        assert_eq!(copy.migrations_missing().await.expect("schema"), 0);
        let mut c = copy.read().await.expect("reader");
        assert_eq!(count(&mut c).await, 1, "the committed row is in the copy");
        assert!(matches!(
            cli.backup_to(&path).await,
            Err(StoreError::BackupExists(_))
        ));
        if let Some(pg) = testing::postgres().await {
            assert!(matches!(
                pg.backup_to(&path).await,
                Err(StoreError::BackupIsPgDump)
            ));
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    /// SQLite's readers are `query_only`: a write sent to one fails instead of queuing as a
    /// second writer.
    #[tokio::test]
    async fn a_sqlite_reader_refuses_to_write() {
        let store = testing::sqlite().await;
        let mut c = store.read().await.expect("reader");
        let err =
            sqlx::query("INSERT INTO rate_limits (key, window_start, count) VALUES ('x', 0, 1)")
                .execute(&mut *c)
                .await
                .expect_err("read-only");
        assert!(err.to_string().contains("readonly"), "{err}");
    }
}
