//! What every handler can reach: the per-app state that `Application::build`
//! assembles. Handlers and guards import it from here, so `server` (which
//! imports the handlers to register their routes) is never imported back.

use std::sync::Arc;

use crate::accounts::rate_limit::KnownLimits;
use crate::accounts::signin::CodeHashes;
use crate::config::Config;
use crate::db::{Pool, QueryCounter};
use crate::mail::worker::OutboxSignal;

/// What every handler can reach.
pub struct AppState {
    pub pool: Pool,
    pub config: Arc<Config>,
    pub outbox_signal: OutboxSignal,
    pub mailer_is_directory: bool,
    pub metrics: Arc<super::metrics::Metrics>,
    pub queries: QueryCounter,
    /// Rate limits this process already saw refused: answered without the database.
    pub known_limits: Arc<KnownLimits>,
    /// Sign-in codes hashed or checked (bcrypt), for `/metrics`.
    pub code_hashes: Arc<CodeHashes>,
}
