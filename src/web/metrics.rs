//! `GET /metrics` in Prometheus text format: requests by route and status,
//! latency histograms, the pool (in use, idle, waiting), the outbox, SQL
//! statements run, and the last SIS sync of each term. Protected by
//! `METRICS_TOKEN` (sent as `Authorization: Bearer ...`) when it is set; in
//! production without it the route is off (404).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use subtle::ConstantTimeEq;

use super::error::{with_conn, AppError};
use super::server::AppState;
use crate::config::Config;
use crate::{mail, sis};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Latency {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Counters the request middleware and the pool checkout feed.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Latency>>,
}

/// Requests waiting for a database connection right now (one pool per process).
static POOL_WAITING: AtomicI64 = AtomicI64::new(0);

/// Runs a pool checkout, counted as waiting while it blocks.
pub fn count_waiting<T>(checkout: impl FnOnce() -> T) -> T {
    POOL_WAITING.fetch_add(1, Ordering::Relaxed);
    let result = checkout();
    POOL_WAITING.fetch_sub(1, Ordering::Relaxed);
    result
}

impl Metrics {
    /// Records one request. `route` is the matched pattern (`/friends/{computing_id}`),
    /// never the raw path, so ids and names do not become label values.
    pub fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        drop(requests);
        let mut latency = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let entry = latency.entry(route.to_string()).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                entry.buckets[i] += 1;
            }
        }
        entry.count += 1;
        entry.sum += seconds;
    }

    fn render_requests(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP cg_http_requests_total HTTP requests by method, route and status."
        );
        let _ = writeln!(out, "# TYPE cg_http_requests_total counter");
        for ((method, route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "cg_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                label(route)
            );
        }
        let _ = writeln!(
            out,
            "# HELP cg_http_request_duration_seconds Time to answer, by route."
        );
        let _ = writeln!(out, "# TYPE cg_http_request_duration_seconds histogram");
        for (route, l) in self
            .latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let route = label(route);
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "cg_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {}",
                    l.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "cg_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                l.count
            );
            let _ = writeln!(
                out,
                "cg_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                l.sum
            );
            let _ = writeln!(
                out,
                "cg_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                l.count
            );
        }
    }
}

/// A label value with `\`, `"` and newlines escaped, as the format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
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
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
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
    let mut out = String::new();
    state.metrics.render_requests(&mut out);

    let pool = state.pool.state();
    let _ = writeln!(
        out,
        "# HELP cg_db_pool_connections Database connections by state."
    );
    let _ = writeln!(out, "# TYPE cg_db_pool_connections gauge");
    let _ = writeln!(
        out,
        "cg_db_pool_connections{{state=\"in_use\"}} {}",
        pool.connections - pool.idle_connections
    );
    let _ = writeln!(
        out,
        "cg_db_pool_connections{{state=\"idle\"}} {}",
        pool.idle_connections
    );
    let _ = writeln!(out, "cg_db_pool_max {}", state.pool.max_size());
    let _ = writeln!(
        out,
        "# HELP cg_db_pool_waiting Requests waiting for a connection."
    );
    let _ = writeln!(out, "# TYPE cg_db_pool_waiting gauge");
    let _ = writeln!(
        out,
        "cg_db_pool_waiting {}",
        POOL_WAITING.load(Ordering::Relaxed)
    );
    let _ = writeln!(out, "# HELP cg_db_queries_total SQL statements run.");
    let _ = writeln!(out, "# TYPE cg_db_queries_total counter");
    let _ = writeln!(out, "cg_db_queries_total {}", state.queries.get());
    let _ = writeln!(
        out,
        "# HELP cg_signin_code_hashes_total Sign-in codes hashed or checked (bcrypt)."
    );
    let _ = writeln!(out, "# TYPE cg_signin_code_hashes_total counter");
    let _ = writeln!(
        out,
        "cg_signin_code_hashes_total {}",
        state.code_hashes.total()
    );

    // The database parts are best effort: metrics must answer while it is down.
    let from_db = with_conn(&state.pool, |conn| {
        Ok((mail::outbox::counts(conn)?, sis::latest_per_term(conn)?))
    })
    .await;
    let _ = writeln!(
        out,
        "# HELP cg_db_up Whether the last metrics scrape reached the database."
    );
    let _ = writeln!(out, "# TYPE cg_db_up gauge");
    let _ = writeln!(out, "cg_db_up {}", u8::from(from_db.is_ok()));
    if let Ok(((queued, failed), runs)) = from_db {
        let _ = writeln!(
            out,
            "# HELP cg_outbox_messages Email outbox messages waiting to be sent or given up on."
        );
        let _ = writeln!(out, "# TYPE cg_outbox_messages gauge");
        let _ = writeln!(out, "cg_outbox_messages{{status=\"queued\"}} {queued}");
        let _ = writeln!(out, "cg_outbox_messages{{status=\"failed\"}} {failed}");
        let _ = writeln!(
            out,
            "# HELP cg_sis_last_sync_timestamp_seconds Start of the newest SIS sync of each term."
        );
        let _ = writeln!(out, "# TYPE cg_sis_last_sync_timestamp_seconds gauge");
        for run in &runs {
            let _ = writeln!(
                out,
                "cg_sis_last_sync_timestamp_seconds{{term=\"{}\",status=\"{}\"}} {}",
                label(&run.term),
                run.status.as_str(),
                run.started_at.and_utc().timestamp()
            );
        }
        let _ = writeln!(
            out,
            "# HELP cg_sis_last_sync_succeeded Whether the newest sync of each term succeeded."
        );
        let _ = writeln!(out, "# TYPE cg_sis_last_sync_succeeded gauge");
        for run in &runs {
            let _ = writeln!(
                out,
                "cg_sis_last_sync_succeeded{{term=\"{}\"}} {}",
                label(&run.term),
                u8::from(run.status == sis::SyncStatus::Succeeded)
            );
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(out))
}
