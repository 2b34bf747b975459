//! Liveness and readiness for load balancers and orchestrators.

use std::time::Duration;

use actix_web::{get, web, HttpResponse};

use super::error::with_conn;
use super::state::AppState;
use crate::db;

/// The process is up.
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

/// The database answers: 200, or 503 within two seconds; 503 at once once
/// the server is stopping (SIGTERM's drain), so a load balancer takes it out.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.stopping.load(std::sync::atomic::Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body("stopping\n");
    }
    let check = with_conn(&state.pool, |conn| Ok(db::ping(conn)?));
    match tokio::time::timeout(Duration::from_millis(1900), check).await {
        Ok(Ok(())) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ready\n"),
        _ => HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body("database unavailable\n"),
    }
}

/// Registers this area's pages on the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz);
}
