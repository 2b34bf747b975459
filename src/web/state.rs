//! What every handler can reach: the per-app state that `Application::build`
//! assembles. Handlers and guards import it from here, so `server` (which
//! imports the handlers to register their routes) is never imported back.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use diesel::r2d2::PoolError;
use tokio::sync::Semaphore;

use crate::accounts::rate_limit::KnownLimits;
use crate::accounts::signin::CodeHashes;
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
}

/// The database as handlers reach it: the pool, a gate that lets at most as
/// many jobs at it as the pool has connections, and how many jobs are waiting
/// for a connection right now (the `/metrics` gauge). One per app, never a
/// process static: two apps in one process do not share a gate or a gauge.
pub struct Database {
    pool: Pool,
    gate: Semaphore,
    waiting: AtomicI64,
}

impl Database {
    /// Wraps a pool; the gate is sized by this pool's connections.
    pub fn new(pool: Pool) -> Database {
        Database {
            gate: Semaphore::new(pool.max_size() as usize),
            pool,
            waiting: AtomicI64::new(0),
        }
    }

    /// The pool itself (for its statistics and for jobs off the request path).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The gate that database jobs of this app pass, one permit per connection.
    pub fn gate(&self) -> &Semaphore {
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

/// `state.pool.state()`, `state.pool.max_size()`: the pool's own statistics.
impl std::ops::Deref for Database {
    type Target = Pool;

    fn deref(&self) -> &Pool {
        &self.pool
    }
}
