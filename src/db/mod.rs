//! The database layer: one connection type over SQLite and PostgreSQL, the pool,
//! per-connection settings and embedded migrations. No domain rules live here.

mod count;
pub mod schema;
pub mod shaped;

pub use count::{count_of, CountOf};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self as dr2d2, ManageConnection, R2D2Connection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::DatabaseUrl;

/// A connection to whichever backend `DATABASE_URL` chose.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

impl DbConn {
    pub fn backend_name(&self) -> &'static str {
        match self {
            DbConn::Postgresql(_) => "postgres",
            DbConn::Sqlite(_) => "sqlite",
        }
    }
}

/// Runs one statement written once but compiled for each backend, on the
/// backend's own connection. For two kinds of statement:
///
/// - upserts and other SQL that Diesel's `MultiBackend` cannot express;
/// - the reads every page runs (the session lookup, each page's own reads).
///   Through `DbConn` (Diesel's `MultiConnection`), each execution writes out
///   the statement's whole SQL text to collect its bound values, even when
///   the prepared statement is cached and the text is thrown away: under load
///   that was a fifth of the server's CPU on PostgreSQL's friend page
///   (bench/README.md, session 14). On the backend's own connection a cached
///   statement is found by its Rust type and only the values are collected.
///
/// The connection's instrumentation (the statement count, the outage watch)
/// belongs to the backend connection, so it sees these statements too.
///
/// `on_each_backend!(conn, |c| diesel::insert_into(t).values(v).on_conflict_do_nothing().execute(c))`
#[macro_export]
macro_rules! on_each_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $crate::db::AsDbConn::db_conn($conn) {
            $crate::db::DbConn::Postgresql($c) => $body,
            $crate::db::DbConn::Sqlite($c) => $body,
        }
    };
}

/// The connection under a plain connection or a transaction, so
/// [`on_each_backend!`] takes either.
pub trait AsDbConn {
    /// The backend connection to run a statement on.
    fn db_conn(&mut self) -> &mut DbConn;
}

impl AsDbConn for DbConn {
    fn db_conn(&mut self) -> &mut DbConn {
        self
    }
}

impl AsDbConn for Tx<'_> {
    fn db_conn(&mut self) -> &mut DbConn {
        self.0
    }
}

diesel::define_sql_function!(
    /// `lower(text)`, the same on both backends: PostgreSQL's lowers every
    /// letter; SQLite's built-in lowers only ASCII, so each SQLite connection
    /// replaces it with Rust's (`register_lower`), and "ÁNGELA" finds "ángela"
    /// there too.
    fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>
);

/// Makes SQLite's `lower` lower every letter, as PostgreSQL's does (ASCII is
/// unchanged, so `CHECK (email = lower(email))` means what it did).
fn register_lower(conn: &mut SqliteConnection) -> QueryResult<()> {
    lower_utils::register_impl(conn, |text: Option<String>| text.map(|t| t.to_lowercase()))
}

/// Text with LIKE's wildcards (`%`, `_`) and the escape character itself
/// escaped by `\`; use with `.like(..).escape('\\')` (SQLite has no default escape).
pub fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub type Pool = dr2d2::Pool<Manager>;
pub type PooledConn = dr2d2::PooledConnection<Manager>;

/// Takes a connection from the pool, waiting up to the pool's timeout. The one
/// checkout outside the pool's own code: the web layer's database handle calls
/// it, so handlers never touch the pool.
///
/// Connections are not tested on checkout. Only when some connection of the
/// pool was found cut off since this one last proved alive (a database
/// restart or a network cut closes them all at once) is it tested here, once;
/// a dead one is dropped and the next taken, so after an outage each stale
/// connection costs one `SELECT 1`, not a failed page.
pub fn checkout(pool: &Pool) -> Result<PooledConn, dr2d2::PoolError> {
    // Bounded: each turn drops a dead connection, and the pool makes fresh
    // ones (which are alive as of now) once the stale ones are gone.
    for _ in 0..=pool.max_size() {
        let mut conn = pool.get()?;
        let Some(watch) = watch_of(&mut conn) else {
            return Ok(conn);
        };
        let outages = watch.shared.outages.load(Ordering::Relaxed);
        if watch.alive_at == outages {
            return Ok(conn);
        }
        if conn.ping().is_ok() {
            if let Some(watch) = watch_of(&mut conn) {
                watch.alive_at = outages;
            }
            return Ok(conn);
        }
        if let Some(watch) = watch_of(&mut conn) {
            watch.lost = true;
        }
    }
    pool.get()
}

/// An idle connection, if the pool has one that needs no test: never waits,
/// never connects. A connection not proven alive since the last outage goes
/// back (`checkout` tests it), and so does the answer `None`.
pub fn try_checkout(pool: &Pool) -> Option<PooledConn> {
    let mut conn = pool.try_get()?;
    match watch_of(&mut conn) {
        Some(watch) if watch.alive_at != watch.shared.outages.load(Ordering::Relaxed) => None,
        _ => Some(conn),
    }
}

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Why the database could not be reached or prepared; printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the database {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: ConnectionError,
    },
    #[error("cannot prepare the SQLite database {path}: {message}")]
    Prepare { path: String, message: String },
    #[error("migration failed: {0}")]
    Migration(String),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

/// Opens connections for r2d2, choosing the backend by URL scheme and applying
/// SQLite's per-connection pragmas.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
    watch: PoolWatch,
}

/// Counts the SQL statements run on a pool's connections: a figure for
/// operators, and what tests use to prove a page runs a fixed number of queries.
/// Statements a recording keeps, at most.
const RECORDED_AT_MOST: usize = 1000;

/// While recording (tests), it also keeps each statement's SQL, so a test
/// that finds a page over its budget can say which statements it ran.
#[derive(Debug, Clone, Default)]
pub struct QueryCounter(Arc<Counted>);

#[derive(Debug, Default)]
struct Counted {
    statements: AtomicU64,
    /// Jobs the web handlers ran on a pooled connection (`web::error::with_conn`
    /// and `with_read_conn`), one a page when it is whole: on a blocking
    /// thread, and on the HTTP worker itself. Two counters, each counted
    /// once a job, so neither ever goes down between two readings.
    jobs_blocking: AtomicU64,
    jobs_on_worker: AtomicU64,
    recording: std::sync::atomic::AtomicBool,
    recorded: std::sync::Mutex<Vec<String>>,
}

impl QueryCounter {
    pub fn get(&self) -> u64 {
        self.0.statements.load(Ordering::Relaxed)
    }

    /// Database jobs run so far (see `note_job`).
    pub fn jobs(&self) -> u64 {
        self.jobs_blocking() + self.jobs_on_worker()
    }

    /// Database jobs run so far on a blocking thread.
    pub fn jobs_blocking(&self) -> u64 {
        self.0.jobs_blocking.load(Ordering::Relaxed)
    }

    /// Database jobs run so far on the HTTP worker itself.
    pub fn jobs_on_worker(&self) -> u64 {
        self.0.jobs_on_worker.load(Ordering::Relaxed)
    }

    /// Starts keeping each statement's SQL (dropping what was kept before).
    pub fn record(&self) {
        self.recorded().clear();
        self.0.recording.store(true, Ordering::Relaxed);
    }

    /// Stops keeping statements and hands back those kept since `record`.
    pub fn take_recorded(&self) -> Vec<String> {
        self.0.recording.store(false, Ordering::Relaxed);
        std::mem::take(&mut *self.recorded())
    }

    fn recorded(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.0.recorded.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, query: &dyn diesel::connection::DebugQuery) {
        self.0.statements.fetch_add(1, Ordering::Relaxed);
        if self.0.recording.load(Ordering::Relaxed) {
            // The SQL only: its bound values (ids, token hashes, text) stay
            // out of what a failing test prints. A few pages' worth at most.
            let sql = query.to_string();
            let sql = sql.split(" -- binds").next().unwrap_or_default();
            let mut kept = self.recorded();
            if kept.len() < RECORDED_AT_MOST {
                kept.push(sql.to_string());
            }
        }
    }
}

/// What a pool's connections share: the statement counter and the outage
/// count, which goes up each time any of them is found cut off from the
/// database.
#[derive(Debug, Clone, Default)]
struct PoolWatch {
    queries: QueryCounter,
    outages: Arc<AtomicU64>,
}

/// Each pooled connection's own instrumentation (Diesel calls it around every
/// statement): it counts the statement and notices when one failed because
/// the connection itself is gone (the server closed it, or it could not be
/// sent). r2d2 does not test connections on checkout (a `SELECT 1` before
/// every request would be a third of a page's statements), so this is how a
/// dead connection is found: by the statement that fails on it. The pool then
/// drops it (`has_broken`), the request answers 503, and since one dead
/// connection means the others may be too, every idle connection is tested
/// once on its next checkout (`checkout`), and only then.
struct ConnWatch {
    shared: PoolWatch,
    /// The connection stopped working; it must not go back into the pool.
    lost: bool,
    /// The last statement that failed on it waited out [`LOCK_WAIT`] or lost
    /// a deadlock (`is_contention`): the work may be tried again as it is.
    contended: bool,
    /// The outage count this connection last proved itself alive at.
    alive_at: u64,
}

impl diesel::connection::Instrumentation for ConnWatch {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        use diesel::connection::InstrumentationEvent;
        use diesel::result::{DatabaseErrorKind, Error};
        match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                self.shared.queries.count(query);
            }
            InstrumentationEvent::FinishQuery {
                error:
                    Some(Error::DatabaseError(
                        DatabaseErrorKind::ClosedConnection
                        | DatabaseErrorKind::UnableToSendCommand,
                        _,
                    )),
                ..
            } if !self.lost => {
                self.contended = false;
                self.lost = true;
                // News only from a connection that was alive as of the last
                // outage: the stale ones found dead after it add nothing.
                let outages = &self.shared.outages;
                let _ = outages.compare_exchange(
                    self.alive_at,
                    self.alive_at + 1,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            InstrumentationEvent::FinishQuery {
                error: Some(error), ..
            } => {
                self.contended = is_contention(error);
            }
            _ => {}
        }
    }
}

/// How long a statement waits for a lock another transaction holds before it
/// gives up: SQLite's `busy_timeout` on every connection, PostgreSQL's
/// `lock_timeout` on the server's pool. A page that waited this long answers
/// "try again shortly" (`was_contended`) rather than holding its connection,
/// and its student, while a migration, a manual `LOCK` or a long sync holds
/// what it needs; behind a waiting writer PostgreSQL queues every later
/// reader of the same table too.
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Whether a statement failed only because other work held what it needed,
/// so the same work may succeed when tried again: SQLite's "database is
/// locked" (`SQLITE_BUSY` after `busy_timeout`); PostgreSQL's lock timeout
/// (55P03), statement timeout (57014, if the operator set one on the role),
/// deadlock (40P01) and serialization failure (40001).
///
/// Diesel gives PostgreSQL's SQLSTATE only for a few kinds (serialization
/// failure among them), so the rest are known by the server's message. Those
/// are the English ones: a server whose `lc_messages` translates them still
/// fails these requests, as a 500 with a reference, as before.
pub fn is_contention(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    const MESSAGES: [&str; 5] = [
        "database is locked",
        "database table is locked",
        "canceling statement due to lock timeout",
        "canceling statement due to statement timeout",
        "deadlock detected",
    ];
    match error {
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        Error::DatabaseError(_, info) => {
            let message = info.message();
            MESSAGES.iter().any(|m| message.starts_with(m))
        }
        _ => false,
    }
}

fn watch_of(conn: &mut DbConn) -> Option<&mut ConnWatch> {
    conn.instrumentation().downcast_mut::<ConnWatch>()
}

/// Counts one database job run on this connection (the pool's counter; `on_worker`:
/// run on the HTTP worker itself), and starts the job with no contention noted.
pub fn note_job(conn: &mut DbConn, on_worker: bool) {
    if let Some(watch) = watch_of(conn) {
        watch.contended = false;
        let counted = &watch.shared.queries.0;
        let count = if on_worker {
            &counted.jobs_on_worker
        } else {
            &counted.jobs_blocking
        };
        count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Whether the last statement that failed on this connection since the job
/// began failed for contention (`is_contention`): the caller answers "try
/// again shortly", and the connection, which is fine, goes back to the pool.
pub fn was_contended(conn: &mut DbConn) -> bool {
    watch_of(conn).is_some_and(|w| w.contended)
}

/// Whether a statement on this connection failed because the connection is
/// gone (not because of the statement): the caller answers "try again
/// shortly", and the pool will not hand the connection out again.
pub fn is_lost(conn: &mut DbConn) -> bool {
    watch_of(conn).is_some_and(|w| w.lost)
}

impl Manager {
    pub fn new(url: DatabaseUrl) -> Manager {
        Manager {
            url,
            watch: PoolWatch::default(),
        }
    }

    /// The counter every connection this manager opens reports to.
    pub fn query_counter(&self) -> QueryCounter {
        self.watch.queries.clone()
    }

    /// Opens one connection, with the real connection error on failure.
    pub fn establish(&self) -> Result<DbConn, DbError> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| DbError::Prepare {
                        path: path.display().to_string(),
                        message: format!("cannot create folder {}: {e}", parent.display()),
                    })?;
                }
                let path_text = path.to_string_lossy().to_string();
                let mut conn =
                    SqliteConnection::establish(&path_text).map_err(|source| DbError::Connect {
                        url: self.url.redacted(),
                        source,
                    })?;
                // WAL lets readers run beside the one writer; busy_timeout makes a
                // writer wait for the lock instead of failing at once.
                // secure_delete: an erased student's messages and a delivered
                // sign-in email are overwritten in the file, not only unlinked
                // (deletes are rare here: cleanup and erasure).
                conn.batch_execute(&format!(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {}; \
                         PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA secure_delete = ON;",
                    LOCK_WAIT.as_millis()
                ))
                .and_then(|()| register_lower(&mut conn))
                .map_err(|e| DbError::Prepare {
                    path: path_text,
                    message: e.to_string(),
                })?;
                Ok(DbConn::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => {
                init_libpq_tls();
                let conn =
                    PgConnection::establish(&with_network_timeouts(url)).map_err(|source| {
                        DbError::Connect {
                            url: self.url.redacted(),
                            source,
                        }
                    })?;
                Ok(DbConn::Postgresql(conn))
            }
        }
    }
}

/// Initializes the vendored OpenSSL that libpq runs on, as openssl-sys does,
/// without OpenSSL's exit handler. The first initialization in a process
/// decides, so anything that connects to PostgreSQL other than through
/// [`Manager`] (the test harness's admin connections) calls this first. With
/// the handler, a process that exits while a pool thread still closes a
/// connection can crash in `OPENSSL_cleanup` ("double free or corruption", or
/// SIGSEGV), after all its work is done: seen in the test binary, every test
/// passed, when the harness's own connection had initialized OpenSSL first.
pub fn init_libpq_tls() {
    openssl_sys::init();
}

/// libpq's network settings for our connections, where the URL does not set
/// them. Without a connect timeout, libpq waits on an unreachable host for
/// minutes; pages and `/readyz` must answer within two seconds. Without
/// keepalives and a TCP user timeout, a connection whose path to the server
/// is silently dropped (a firewall's idle timeout, a failed-over address)
/// waits for the kernel to give up, about 15 minutes: the live listener sat
/// that long on its health check, and every stream in the process with it.
/// With them it fails within about a minute and reconnects.
pub fn with_network_timeouts(url: &str) -> String {
    let mut url = url.to_string();
    for (key, value) in [
        ("connect_timeout", "2"),
        ("keepalives", "1"),
        ("keepalives_idle", "30"),
        ("keepalives_interval", "10"),
        ("keepalives_count", "3"),
        ("tcp_user_timeout", "30000"),
    ] {
        let set = url
            .split_once('?')
            .is_some_and(|(_, query)| query.split('&').any(|p| p.starts_with(&format!("{key}="))));
        if !set {
            let sep = if url.contains('?') { '&' } else { '?' };
            url = format!("{url}{sep}{key}={value}");
        }
    }
    url
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = dr2d2::Error;

    fn connect(&self) -> Result<DbConn, dr2d2::Error> {
        let conn = self.establish().map_err(|e| match e {
            DbError::Connect { source, .. } => dr2d2::Error::ConnectionError(source),
            DbError::Query(q) => dr2d2::Error::QueryError(q),
            other => {
                dr2d2::Error::ConnectionError(ConnectionError::BadConnection(other.to_string()))
            }
        });
        let mut conn = conn?;
        // The pool serves requests: they wait for a lock at most `LOCK_WAIT`,
        // as on SQLite. Set once per connection (not per request), before the
        // counter is attached. Migrations, the command line and the admin
        // page's sync open their own connections and wait as long as it takes.
        if let DbConn::Postgresql(c) = &mut conn {
            c.batch_execute(&format!("SET lock_timeout = {}", LOCK_WAIT.as_millis()))
                .map_err(dr2d2::Error::QueryError)?;
        }
        conn.set_instrumentation(ConnWatch {
            shared: self.watch.clone(),
            lost: false,
            contended: false,
            alive_at: self.watch.outages.load(Ordering::Relaxed),
        });
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), dr2d2::Error> {
        conn.ping().map_err(dr2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        std::thread::panicking() || conn.is_broken() || is_lost(conn)
    }
}

/// Builds the pool after proving one connection works, so a bad URL or an
/// unreachable server stops start-up with the real error.
pub fn connect_pool(
    url: &DatabaseUrl,
    max_size: u32,
    checkout_timeout: Duration,
) -> Result<Pool, DbError> {
    Ok(connect_counted_pool(url, max_size, checkout_timeout)?.0)
}

/// As `connect_pool`, also handing back the counter of the statements its
/// connections run.
pub fn connect_counted_pool(
    url: &DatabaseUrl,
    max_size: u32,
    checkout_timeout: Duration,
) -> Result<(Pool, QueryCounter), DbError> {
    let manager = Manager::new(url.clone());
    drop(manager.establish()?);
    let queries = manager.query_counter();
    let pool = dr2d2::Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .connection_timeout(checkout_timeout)
        // No `SELECT 1` before every checkout: see `ConnWatch` and `checkout`.
        .test_on_check_out(false)
        .error_handler(Box::new(LogErrors))
        .build_unchecked(manager);
    Ok((pool, queries))
}

#[derive(Debug)]
struct LogErrors;

impl dr2d2::HandleError<dr2d2::Error> for LogErrors {
    fn handle_error(&self, error: dr2d2::Error) {
        tracing::warn!(%error, "database connection failed");
    }
}

/// Serializes the transactions that name `key` until each ends: on
/// PostgreSQL a transaction-scoped advisory lock on `hashtext(key)` (taken
/// again by the same transaction, it returns at once); on SQLite the
/// immediate write transaction already holds the whole database.
pub fn lock_key(conn: &mut DbConn, key: &str) -> QueryResult<()> {
    if let DbConn::Postgresql(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind::<diesel::sql_types::Text, _>(key)
            .execute(pg)?;
    }
    Ok(())
}

/// Applies pending migrations and returns the versions it applied (empty when
/// the schema was already current).
///
/// On PostgreSQL several app servers deployed together (or a cron command
/// starting beside one) would each find the same migration pending, and all
/// but one would fail on "already exists" and exit: diesel_migrations takes
/// no lock. So the run holds a session advisory lock, and reads what is
/// pending only once it has it; the others wait, then find nothing to do.
pub fn run_migrations(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let failed = |e: &dyn std::fmt::Display| DbError::Migration(e.to_string());
    let versions = |applied: Vec<diesel::migration::MigrationVersion<'_>>| {
        applied.into_iter().map(|v| v.to_string()).collect()
    };
    match conn {
        DbConn::Postgresql(c) => {
            let lock = format!("SELECT pg_advisory_lock({MIGRATION_LOCK})");
            c.batch_execute(&lock).map_err(|e| failed(&e))?;
            let applied = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(versions)
                .map_err(|e| failed(&*e));
            let unlock = format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})");
            let unlocked = c.batch_execute(&unlock).map_err(|e| failed(&e));
            // A migration's own failure says more than the unlock's after it
            // (the lock goes with the connection either way).
            let applied = applied?;
            unlocked?;
            Ok(applied)
        }
        // On SQLite the same holds for `serve` and a cron command starting
        // together: the whole batch runs in one immediate transaction (each
        // migration's own becomes a savepoint), so the second process waits
        // for the write lock and only then reads what is pending.
        DbConn::Sqlite(c) => c.immediate_transaction(|c| {
            c.run_pending_migrations(SQLITE_MIGRATIONS)
                .map(versions)
                .map_err(|e| failed(&*e))
        }),
    }
}

/// The migrations this program knows that the database has not applied,
/// oldest first, by name.
pub fn pending_migrations(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    fn names<B: diesel::backend::Backend>(
        pending: Vec<Box<dyn diesel::migration::Migration<B>>>,
    ) -> Vec<String> {
        pending.iter().map(|m| m.name().to_string()).collect()
    }
    match conn {
        DbConn::Postgresql(c) => c.pending_migrations(POSTGRES_MIGRATIONS).map(names),
        DbConn::Sqlite(c) => c.pending_migrations(SQLITE_MIGRATIONS).map(names),
    }
    .map_err(|e| DbError::Migration(e.to_string()))
}

/// The newest migration this program knows for `backend` ("sqlite" or
/// "postgres"), as Diesel records its version: a database whose newest
/// version is past it was made by a newer program.
pub fn newest_known_migration(backend: &str) -> Result<Option<String>, DbError> {
    use diesel::migration::MigrationSource;
    fn newest<B: diesel::backend::Backend>(
        source: &impl MigrationSource<B>,
    ) -> Result<Option<String>, DbError> {
        let all = source
            .migrations()
            .map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(all.iter().map(|m| m.name().version().to_string()).max())
    }
    if backend == "postgres" {
        newest::<diesel::pg::Pg>(&POSTGRES_MIGRATIONS)
    } else {
        newest::<diesel::sqlite::Sqlite>(&SQLITE_MIGRATIONS)
    }
}

/// The advisory lock key migrations hold on PostgreSQL: a fixed number past
/// `int4`, so no other lock (each a `hashtext` of a named key, an `int4`)
/// can share it.
const MIGRATION_LOCK: i64 = 0x43_47_4d_49_47;

/// Reverts every applied migration, newest first (used by the migration tests).
pub fn revert_all_migrations(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let reverted = match conn {
        DbConn::Postgresql(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS),
        DbConn::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS),
    }
    .map_err(|e| DbError::Migration(e.to_string()))?;
    Ok(reverted.into_iter().map(|v| v.to_string()).collect())
}

/// The newest applied migration version, or None on an empty database.
pub fn schema_version(conn: &mut DbConn) -> Result<Option<String>, DbError> {
    let versions = match conn {
        DbConn::Postgresql(c) => c.applied_migrations(),
        DbConn::Sqlite(c) => c.applied_migrations(),
    }
    .map_err(|e| DbError::Migration(e.to_string()))?;
    Ok(versions.into_iter().map(|v| v.to_string()).max())
}

/// A connection inside a write transaction. Only [`write_tx`] creates one, so a
/// domain function that takes `&mut Tx` can only be called inside a transaction:
/// the type says it, and the compiler checks it. It derefs to [`DbConn`], so
/// reads and writes run on it as on any connection.
pub struct Tx<'a>(&'a mut DbConn);

impl std::ops::Deref for Tx<'_> {
    type Target = DbConn;

    fn deref(&self) -> &DbConn {
        self.0
    }
}

impl std::ops::DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut DbConn {
        self.0
    }
}

/// Runs `f` in a write transaction. On SQLite it begins `IMMEDIATE`, taking the
/// write lock up front so two writers queue on busy_timeout instead of failing
/// with SQLITE_BUSY half way; on PostgreSQL it is an ordinary transaction.
pub fn write_tx<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut Tx<'_>) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    if let DbConn::Sqlite(c) = conn {
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
        let result = f(&mut Tx(conn));
        let DbConn::Sqlite(c) = conn else {
            unreachable!("backend cannot change")
        };
        return match result {
            Ok(value) => match AnsiTransactionManager::commit_transaction(c) {
                Ok(()) => Ok(value),
                Err(e) => {
                    let _ = AnsiTransactionManager::rollback_transaction(c);
                    Err(e.into())
                }
            },
            Err(e) => {
                AnsiTransactionManager::rollback_transaction(c)?;
                Err(e)
            }
        };
    }
    conn.transaction(|c| f(&mut Tx(c)))
}

/// Runs `f`'s reads against one snapshot of the database, so a document
/// built from several statements (a student's export) does not mix states:
/// on PostgreSQL a `REPEATABLE READ READ ONLY` transaction, on SQLite a
/// deferred one (a WAL reader keeps the snapshot of its first read). Inside
/// a transaction already (the command line's export and its audit row), `f`
/// runs in that one.
pub fn read_snapshot<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    macro_rules! begin {
        ($c:expr, $sql:expr) => {{
            let depth =
                AnsiTransactionManager::transaction_manager_status_mut($c).transaction_depth()?;
            if depth.is_some() {
                false
            } else {
                AnsiTransactionManager::begin_transaction_sql($c, $sql)?;
                true
            }
        }};
    }
    let began = match conn {
        DbConn::Sqlite(c) => begin!(c, "BEGIN"),
        DbConn::Postgresql(c) => begin!(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
    };
    if !began {
        return f(conn);
    }
    let result = f(conn);
    macro_rules! end {
        ($c:expr) => {
            match &result {
                Ok(_) => AnsiTransactionManager::commit_transaction($c)?,
                Err(_) => AnsiTransactionManager::rollback_transaction($c)?,
            }
        };
    }
    match conn {
        DbConn::Sqlite(c) => end!(c),
        DbConn::Postgresql(c) => end!(c),
    }
    result
}

/// Counts the rows of a table by name, for manifests and checks (names come from
/// `schema::TABLES`, never from input).
pub fn count_rows(conn: &mut DbConn, table: &str) -> Result<i64, DbError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    assert!(
        schema::TABLES.contains(&table),
        "count_rows on unknown table {table}"
    );
    let row: Count =
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result(conn)?;
    Ok(row.n)
}

/// Keeps the query planner's statistics current: SQLite gathers none by
/// itself, and plans badly without them (PostgreSQL's autovacuum keeps its
/// own). `PRAGMA optimize=0x10002` looks at every table and analyzes only
/// those whose statistics are missing or stale, with a work limit, as the
/// SQLite documentation advises for long-lived databases. Run by the hourly
/// cleanup.
pub fn refresh_statistics(conn: &mut DbConn) -> QueryResult<()> {
    if let DbConn::Sqlite(c) = conn {
        c.batch_execute("PRAGMA analysis_limit = 400; PRAGMA optimize = 0x10002;")?;
    }
    Ok(())
}

/// A trivial query that proves the database answers.
pub fn ping(conn: &mut DbConn) -> Result<(), DbError> {
    diesel::sql_query("SELECT 1").execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn network_timeouts_are_added_once_and_never_over_the_operators() {
        let url = super::with_network_timeouts("postgres://u@db/cg");
        assert_eq!(
            url,
            "postgres://u@db/cg?connect_timeout=2&keepalives=1&keepalives_idle=30\
             &keepalives_interval=10&keepalives_count=3&tcp_user_timeout=30000"
        );
        assert_eq!(super::with_network_timeouts(&url), url);
        let own =
            super::with_network_timeouts("postgres://u@db/cg?sslmode=require&keepalives_idle=5");
        assert!(
            own.contains("keepalives_idle=5") && !own.contains("keepalives_idle=30"),
            "{own}"
        );
        assert!(
            own.starts_with("postgres://u@db/cg?sslmode=require&keepalives_idle=5&"),
            "{own}"
        );
    }

    use super::is_contention;
    use diesel::result::{DatabaseErrorKind, Error};

    fn failed(kind: DatabaseErrorKind, message: &str) -> Error {
        Error::DatabaseError(kind, Box::new(message.to_string()))
    }

    #[test]
    fn waits_and_deadlocks_are_contention_and_nothing_else_is() {
        for message in [
            "database is locked",
            "canceling statement due to lock timeout",
            "canceling statement due to statement timeout",
            "deadlock detected",
        ] {
            assert!(
                is_contention(&failed(DatabaseErrorKind::Unknown, message)),
                "{message}"
            );
        }
        assert!(is_contention(&failed(
            DatabaseErrorKind::SerializationFailure,
            "could not serialize access due to concurrent update"
        )));
        for (kind, message) in [
            (
                DatabaseErrorKind::UniqueViolation,
                "duplicate key value violates unique constraint",
            ),
            (
                DatabaseErrorKind::Unknown,
                "relation \"class_messages\" does not exist",
            ),
            (DatabaseErrorKind::Unknown, "no such table: class_messages"),
            (
                DatabaseErrorKind::ClosedConnection,
                "server closed the connection unexpectedly",
            ),
        ] {
            assert!(!is_contention(&failed(kind, message)), "{message}");
        }
        assert!(!is_contention(&Error::NotFound));
    }
}
