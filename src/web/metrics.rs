//! `GET /metrics` in Prometheus text format: requests by route and status,
//! latency histograms, the pool (in use, idle, waiting), the outbox, SQL
//! statements run, and the last SIS sync of each term. Protected by
//! `METRICS_TOKEN` (sent as `Authorization: Bearer ...`) when it is set; in
//! production without it the route is off (404).
//!
//! The exposition (text format, label escaping, histogram buckets) is
//! `metrics-exporter-prometheus`'s; this module only says what is counted.
//! Every recorder belongs to one app (never the process-global one), so two
//! apps in one process never share a counter.

use ::metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
    with_local_recorder,
};
use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use subtle::ConstantTimeEq;

use super::error::{with_conn, AppError};
use super::state::AppState;
use crate::config::Config;
use crate::{mail, sis};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const REQUESTS: &str = "cg_http_requests_total";
const LATENCY: &str = "cg_http_request_duration_seconds";

/// The request counter and latency histograms of one app, fed by the request
/// middleware.
pub struct Metrics {
    requests: PrometheusRecorder,
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = PrometheusBuilder::new()
            .set_buckets(&BUCKETS)
            // Only an empty bucket list is refused, and BUCKETS is a non-empty constant.
            .expect("BUCKETS is not empty")
            .build_recorder();
        with_local_recorder(&requests, || {
            describe_counter!(REQUESTS, "HTTP requests by method, route and status.");
            describe_histogram!(LATENCY, "Time to answer, by route.");
        });
        Metrics { requests }
    }
}

/// Requests of an app waiting for a database connection right now: the one
/// place `/metrics` reads the gauge from (kept per app by its database handle).
fn pool_waiting(state: &AppState) -> i64 {
    state.pool.waiting()
}

impl Metrics {
    /// Records one request. `route` is the matched pattern (`/friends/{computing_id}`),
    /// never the raw path, so ids and names do not become label values.
    pub fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        with_local_recorder(&self.requests, || {
            counter!(
                REQUESTS,
                "method" => method.to_owned(),
                "route" => route.to_owned(),
                "status" => status.to_string()
            )
            .increment(1);
            histogram!(LATENCY, "route" => route.to_owned()).record(seconds);
        });
    }

    /// The request counter and latency histograms in the text format.
    fn render(&self) -> String {
        self.requests.handle().render()
    }
}

/// What `/metrics` reads at scrape time rather than counts as it goes.
struct Readings {
    pool: diesel::r2d2::State,
    pool_max: u32,
    pool_waiting: i64,
    queries: u64,
    /// Database jobs of requests, on blocking threads and on the HTTP workers.
    jobs_blocking: u64,
    jobs_on_worker: u64,
    /// Times the busiest pages' reads were sent off the HTTP workers.
    reads_off_workers: u64,
    code_hashes: u64,
    /// Live event streams open in this process (a total: never per class or student).
    live_streams: i64,
    /// `None` when the database could not be reached.
    from_db: Option<FromDb>,
}

/// The outbox's queued and failed counts, and the newest sync run of each term.
struct FromDb {
    queued: i64,
    failed: i64,
    runs: Vec<sis::SyncRun>,
}

impl Readings {
    /// The readings as gauges and counters in the text format. A fresh recorder
    /// per scrape, so a family the database could not answer for is absent
    /// rather than stale.
    fn render(&self) -> String {
        let recorder = PrometheusBuilder::new().build_recorder();
        with_local_recorder(&recorder, || {
            describe_gauge!("cg_db_pool_connections", "Database connections by state.");
            gauge!("cg_db_pool_connections", "state" => "in_use").set(f64::from(
                self.pool.connections - self.pool.idle_connections,
            ));
            gauge!("cg_db_pool_connections", "state" => "idle")
                .set(f64::from(self.pool.idle_connections));
            describe_gauge!("cg_db_pool_max", "Most connections the pool opens.");
            gauge!("cg_db_pool_max").set(f64::from(self.pool_max));
            describe_gauge!("cg_db_pool_waiting", "Requests waiting for a connection.");
            gauge!("cg_db_pool_waiting").set(self.pool_waiting as f64);
            describe_counter!("cg_db_queries_total", "SQL statements run.");
            counter!("cg_db_queries_total").absolute(self.queries);
            // A page's reads run on the HTTP worker when a connection is at
            // hand; those that went to a blocking thread waited for one
            // (`web::error::with_read_conn`), or were writes.
            describe_counter!(
                "cg_db_jobs_total",
                "Database jobs of requests, by the thread that ran them."
            );
            counter!("cg_db_jobs_total", "thread" => "worker").absolute(self.jobs_on_worker);
            counter!("cg_db_jobs_total", "thread" => "blocking").absolute(self.jobs_blocking);
            describe_counter!(
                "cg_db_reads_off_workers_total",
                "Times a read held up on an HTTP worker sent the next ones to blocking threads for 10 s."
            );
            counter!("cg_db_reads_off_workers_total").absolute(self.reads_off_workers);
            describe_counter!(
                "cg_signin_code_hashes_total",
                "Sign-in codes hashed or checked (bcrypt)."
            );
            counter!("cg_signin_code_hashes_total").absolute(self.code_hashes);
            describe_gauge!(
                "cg_live_streams_open",
                "Live chat event streams open in this process."
            );
            gauge!("cg_live_streams_open").set(self.live_streams as f64);
            describe_gauge!(
                "cg_db_up",
                "Whether the last metrics scrape reached the database."
            );
            gauge!("cg_db_up").set(if self.from_db.is_some() { 1.0 } else { 0.0 });
            if let Some(from_db) = &self.from_db {
                from_db.record();
            }
        });
        recorder.handle().render()
    }
}

impl FromDb {
    /// Records the outbox and sync gauges into the scrape's recorder.
    fn record(&self) {
        describe_gauge!(
            "cg_outbox_messages",
            "Email outbox messages waiting to be sent or given up on."
        );
        gauge!("cg_outbox_messages", "status" => "queued").set(self.queued as f64);
        gauge!("cg_outbox_messages", "status" => "failed").set(self.failed as f64);
        describe_gauge!(
            "cg_sis_last_sync_timestamp_seconds",
            "Start of the newest SIS sync of each term."
        );
        describe_gauge!(
            "cg_sis_last_sync_succeeded",
            "Whether the newest sync of each term succeeded."
        );
        for run in &self.runs {
            gauge!(
                "cg_sis_last_sync_timestamp_seconds",
                "term" => run.term.clone(),
                "status" => run.status.as_str()
            )
            .set(run.started_at.and_utc().timestamp() as f64);
            let succeeded = run.status == sis::SyncStatus::Succeeded;
            gauge!("cg_sis_last_sync_succeeded", "term" => run.term.clone()).set(if succeeded {
                1.0
            } else {
                0.0
            });
        }
    }
}

/// Who may read `/metrics` under a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsAccess {
    /// `METRICS_TOKEN` is set: only `Authorization: Bearer <token>`.
    BearerToken,
    /// Production without a token: the route answers 404.
    Off,
    /// Development without a token: anyone who can reach the server.
    Open,
}

impl MetricsAccess {
    /// The access a configuration gives.
    pub fn of(config: &Config) -> MetricsAccess {
        match (&config.server.metrics_token, config.is_production()) {
            (Some(_), _) => MetricsAccess::BearerToken,
            (None, true) => MetricsAccess::Off,
            (None, false) => MetricsAccess::Open,
        }
    }

    /// The line start-up prints about it.
    pub fn describe(self) -> &'static str {
        match self {
            MetricsAccess::BearerToken => "metrics: /metrics requires a bearer token",
            MetricsAccess::Off => "metrics off: set METRICS_TOKEN to serve /metrics",
            MetricsAccess::Open => {
                "metrics open (development): set METRICS_TOKEN to require a bearer token"
            }
        }
    }
}

fn authorized(req: &HttpRequest, token: Option<&str>) -> bool {
    let Some(expected) = token else {
        return true;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // The scheme's name is case-insensitive (RFC 9110, 11.1).
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, token)| token.trim());
    bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

#[get("/metrics")]
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    if MetricsAccess::of(&state.config) == MetricsAccess::Off {
        return Err(AppError::NotFound);
    }
    if !authorized(&req, state.config.server.metrics_token.as_deref()) {
        return Ok(HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .body("metrics need Authorization: Bearer <METRICS_TOKEN>\n"));
    }
    // The database parts are best effort: metrics must answer while it is down.
    let from_db = with_conn(&state.pool, |conn| {
        Ok((mail::outbox::counts(conn)?, sis::latest_per_term(conn)?))
    })
    .await;
    // An unreachable database is reported, as `cg_db_up 0`, not hidden.
    let from_db = match from_db {
        Ok(((queued, failed), runs)) => Some(FromDb {
            queued,
            failed,
            runs,
        }),
        Err(_) => None,
    };
    let readings = Readings {
        pool: state.pool.state(),
        pool_max: state.pool.max_size(),
        pool_waiting: pool_waiting(&state),
        queries: state.queries.get(),
        jobs_blocking: state.queries.jobs_blocking(),
        jobs_on_worker: state.queries.jobs_on_worker(),
        reads_off_workers: state.pool.times_off_workers(),
        code_hashes: state.code_hashes.total(),
        live_streams: state.live.open_streams(),
        from_db,
    };
    let mut out = state.metrics.render();
    out.push_str(&readings.render());
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(out))
}
