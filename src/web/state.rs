//! What every handler can reach: the per-app state that `Application::build`
//! assembles. Handlers and guards import it from here, so `server` (which
//! imports the handlers to register their routes) is never imported back.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use diesel::r2d2::PoolError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::accounts::rate_limit::KnownLimits;
use crate::accounts::signin::CodeHashes;
use crate::classes::term::TermList;
use crate::config::Config;
use crate::db::{Pool, PooledConn, QueryCounter};
use crate::live::Bus;
use crate::mail::worker::OutboxSignal;

/// What every handler can reach.
pub struct AppState {
    /// The database: its pool (through `Deref`), gate and waiting gauge.
    pub pool: Arc<Database>,
    pub config: Arc<Config>,
    pub outbox_signal: OutboxSignal,
    pub mailer_is_directory: bool,
    pub metrics: Arc<super::metrics::Metrics>,
    pub queries: QueryCounter,
    /// Rate limits this process already saw refused: answered without the database.
    pub known_limits: Arc<KnownLimits>,
    /// Sign-in codes hashed or checked (bcrypt), for `/metrics`.
    pub code_hashes: Arc<CodeHashes>,
    /// The live event bus: what open chat streams of this process subscribe to.
    pub live: Arc<Bus>,
    /// The catalog's terms, held in memory (every page shows them).
    pub terms: Arc<TermList>,
    /// Each class's count of recent posters, held while the class is quiet
    /// (the chat pages' anonymity note).
    pub poster_counts: Arc<crate::chat::anonymity::PosterCounts>,
    /// Sessions whose expiry is due to slide, written in batches.
    pub touches: Arc<crate::accounts::sessions::Touches>,
    /// SIGTERM arrived: `/readyz` answers 503 while the drain runs.
    pub stopping: Arc<std::sync::atomic::AtomicBool>,
}

/// The database as handlers reach it: the pool, a gate that lets at most as
/// many jobs at it as the pool has connections, how many jobs are waiting
/// for a connection right now (the `/metrics` gauge), and the busiest pages'
/// reads now running on HTTP workers (`error::with_read_conn`). One per app,
/// never a process static: two apps in one process share none of it.
pub struct Database {
    pool: Pool,
    gate: Arc<Semaphore>,
    waiting: AtomicI64,
    /// When each read now running on an HTTP worker started (milliseconds
    /// after `opened`, plus one), 0 for a free slot: one slot a connection,
    /// as a read on a worker holds one.
    on_workers: Box<[AtomicU64]>,
    /// Until when (milliseconds after `opened`) the busiest pages' reads stay
    /// off the HTTP workers, after one was held up there; 0 while they may
    /// run there.
    reads_off_workers_until: AtomicU64,
    /// How often reads were sent off the workers (`/metrics`).
    times_off_workers: AtomicU64,
    /// A read running this long on a worker is held up (`DATABASE_SLOW_READ_MS`).
    slow_read: Duration,
    opened: Instant,
}

/// How long the busiest pages' reads go back to blocking threads after one
/// was held up on a worker, so that whatever held it up holds up no more.
pub const OFF_WORKERS_FOR: Duration = Duration::from_secs(10);

impl Database {
    /// Wraps a pool; the gate and the slots for reads on workers are sized by
    /// this pool's connections. `slow_read`: see `reads_on_workers`.
    /// `reads_on_workers`: whether any read may run on an HTTP worker at all
    /// (`server::reads_on_workers`); without, no slots.
    pub fn new(pool: Pool, slow_read: Duration, reads_on_workers: bool) -> Database {
        let size = pool.max_size() as usize;
        let slots = if reads_on_workers { size } else { 0 };
        Database {
            gate: Arc::new(Semaphore::new(size)),
            on_workers: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            pool,
            waiting: AtomicI64::new(0),
            reads_off_workers_until: AtomicU64::new(0),
            times_off_workers: AtomicU64::new(0),
            slow_read,
            opened: Instant::now(),
        }
    }

    /// Whether this database lets reads run on HTTP workers at all (it was
    /// built with slots for them: `server::reads_on_workers`).
    pub fn reads_may_run_on_workers(&self) -> bool {
        !self.on_workers.is_empty()
    }

    /// Whether a busiest page's read may run on an HTTP worker now. Not
    /// within `OFF_WORKERS_FOR` of one being held up there (slower than
    /// `slow_read`, its connection lost, or a lock waited out), and not while
    /// one has been running there longer than `slow_read`: whatever holds it
    /// up (a migration's lock, a network that stopped answering) would hold
    /// the next one and its worker too. Seeing such a read starts the wait.
    pub fn reads_on_workers(&self) -> bool {
        let now = self.millis_open();
        let until = self.reads_off_workers_until.load(Ordering::Relaxed);
        if until != 0 && now < until {
            return false;
        }
        let held_up = self
            .on_workers
            .iter()
            .any(|slot| self.held_up(slot.load(Ordering::Relaxed), now));
        if held_up {
            self.keep_reads_off_workers("one has run there for longer than DATABASE_SLOW_READ_MS");
        }
        !held_up
    }

    /// Marks a read as running on this HTTP worker until the answer drops;
    /// `None` if no slot is free (the read then goes to a blocking thread).
    pub fn start_on_worker(&self) -> Option<OnWorker<'_>> {
        let started = self.millis_open() + 1;
        self.on_workers.iter().find_map(|slot| {
            slot.compare_exchange(0, started, Ordering::Relaxed, Ordering::Relaxed)
                .ok()
                .map(|_| OnWorker { db: self, slot })
        })
    }

    /// A read on a worker was held up: the next `OFF_WORKERS_FOR` of reads go
    /// to blocking threads.
    pub fn keep_reads_off_workers(&self, why: &str) {
        let now = self.millis_open();
        let until = now + OFF_WORKERS_FOR.as_millis() as u64;
        let before = self
            .reads_off_workers_until
            .fetch_max(until, Ordering::Relaxed);
        if before == 0 || before <= now {
            self.times_off_workers.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                why,
                "a page's read on an HTTP worker was held up; pages read on blocking threads for {} s",
                OFF_WORKERS_FOR.as_secs()
            );
        }
    }

    /// Whether a read whose slot holds `started` has run on its worker for
    /// longer than `slow_read` by `now` (both milliseconds after `opened`;
    /// `started` is one more, 0 for a free slot).
    fn held_up(&self, started: u64, now: u64) -> bool {
        started != 0 && (now + 1).saturating_sub(started) > self.slow_read.as_millis() as u64
    }

    /// How often reads were sent off the workers since start-up.
    pub fn times_off_workers(&self) -> u64 {
        self.times_off_workers.load(Ordering::Relaxed)
    }

    fn millis_open(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    /// The pool itself (for its statistics and for jobs off the request path).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The gate that database jobs of this app pass, one permit per connection.
    pub fn gate(&self) -> &Arc<Semaphore> {
        &self.gate
    }

    /// A pooled connection, for work off the request path (migrations at
    /// start-up, the hourly cleanup); requests go through `with_conn`.
    pub fn connection(&self) -> Result<PooledConn, PoolError> {
        crate::db::checkout(&self.pool)
    }

    /// Runs a pool checkout, counted as waiting while it blocks.
    pub fn count_waiting<T>(&self, checkout: impl FnOnce() -> T) -> T {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let result = checkout();
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        result
    }

    /// Jobs waiting for a connection right now.
    pub fn waiting(&self) -> i64 {
        self.waiting.load(Ordering::Relaxed)
    }
}

/// A read running on an HTTP worker: its slot (holding when it started),
/// freed when this drops.
pub struct OnWorker<'a> {
    db: &'a Database,
    slot: &'a AtomicU64,
}

impl OnWorker<'_> {
    /// Whether the read has run longer than `DATABASE_SLOW_READ_MS`: the
    /// same test `Database::reads_on_workers` makes of every running read.
    pub fn was_slow(&self) -> bool {
        self.db
            .held_up(self.slot.load(Ordering::Relaxed), self.db.millis_open())
    }
}

impl Drop for OnWorker<'_> {
    fn drop(&mut self) {
        self.slot.store(0, Ordering::Relaxed);
    }
}

/// `state.pool.state()`, `state.pool.max_size()`: the pool's own statistics.
impl std::ops::Deref for Database {
    type Target = Pool;

    fn deref(&self) -> &Pool {
        &self.pool
    }
}

/// A pooled connection with the gate's permit it was taken under: what a
/// request holds from its first database job to its end.
pub struct Lease {
    pub conn: PooledConn,
    pub permit: OwnedSemaphorePermit,
}

tokio::task_local! {
    /// The connection the request in this task took for its first database
    /// job (the session lookup, usually), kept for its next ones.
    static REQUEST_CONN: RefCell<Option<Lease>>;
    /// A database job of the request in this task failed because other work
    /// held its locks too long, or it lost a deadlock (`db::was_contended`).
    static REQUEST_CONTENDED: Cell<bool>;
}

/// Middleware: one pooled connection per request. The first database job of
/// a request (`with_conn`) takes a connection as before; instead of going
/// back to the pool, it is kept for the request's next jobs, so the session
/// lookup and the page's reads share one checkout, and the pool returns it
/// when the request has its answer (before a streamed body is sent: a stream
/// takes its own connections when it needs them).
pub async fn one_connection_per_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let request = REQUEST_CONN.scope(RefCell::new(None), next.call(req));
    REQUEST_CONTENDED.scope(Cell::new(false), request).await
}

/// Notes that a database job of this request failed for contention: if the
/// request then fails, it answers "try again shortly" (`AppError::Busy`),
/// however the handler carried the error (many pass a domain error on
/// inside their job's result, to map it later).
pub fn note_request_contended() {
    let _ = REQUEST_CONTENDED.try_with(|c| c.set(true));
}

/// Whether a database job of this request failed for contention.
pub fn request_was_contended() -> bool {
    REQUEST_CONTENDED.try_with(Cell::get).unwrap_or(false)
}

/// The connection this request already holds, taken out for a job (none
/// outside a request, or before its first job).
pub fn take_request_conn() -> Option<Lease> {
    REQUEST_CONN
        .try_with(|slot| slot.borrow_mut().take())
        .ok()
        .flatten()
}

/// Hands the connection this request holds back to the pool, before work that
/// may take long and needs no database: the request's next job (if any) takes
/// a fresh one.
pub fn release_request_conn() {
    drop(take_request_conn());
}

/// Gives a job's connection back to the request for its next job; outside a
/// request it simply goes back to the pool.
pub fn keep_request_conn(lease: Lease) {
    let _ = REQUEST_CONN.try_with(move |slot| *slot.borrow_mut() = Some(lease));
}
