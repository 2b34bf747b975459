//! The stylesheet, compiled into the binary and served by the app (no CDN).

use actix_web::{get, http::header, HttpResponse};

const APP_CSS: &str = include_str!("../../templates/static/app.css");

#[get("/static/app.css")]
pub async fn app_css() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(APP_CSS)
}
