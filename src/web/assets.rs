//! Stylesheets and our one script, compiled into the binary and served by the app (no CDN). The
//! page CSP forbids inline styles, so the timetable places its blocks with
//! classes from a generated sheet: one per 5-minute grid line and per lane.

use std::fmt::Write;
use std::sync::OnceLock;

use actix_web::{get, http::header, web, HttpResponse};

const APP_CSS: &str = include_str!("../../templates/static/app.css");
const APP_JS: &str = include_str!("../../templates/static/app.js");

fn css(body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

#[get("/static/app.css")]
pub async fn app_css() -> HttpResponse {
    css(APP_CSS)
}

/// Our one small script: it makes the class chat live; every page works without it.
#[get("/static/app.js")]
pub async fn app_js() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(APP_JS)
}

/// Grid lines for a whole day of 5-minute rows, row templates for 1 to 24
/// hours, and lanes for up to six overlapping meetings (60 columns divide
/// evenly by 1 to 6).
fn schedule_sheet() -> String {
    let mut out = String::from("/* generated: timetable placement */\n");
    for n in 1..=289 {
        let _ = writeln!(
            out,
            ".gs-{n}{{grid-row-start:{n}}}.ge-{n}{{grid-row-end:{n}}}"
        );
    }
    for hours in 1..=24 {
        let _ = writeln!(
            out,
            ".rows-{hours}{{grid-template-rows:repeat({},var(--slot))}}",
            hours * 12
        );
    }
    for lanes in 1..=crate::classes::schedule::MAX_LANES {
        let span = 60 / lanes;
        for lane in 0..lanes {
            let _ = writeln!(
                out,
                ".lk{lanes}.li{lane}{{grid-column:{} / span {span}}}",
                lane * span + 1
            );
        }
    }
    out
}

#[get("/static/schedule.css")]
pub async fn schedule_css() -> HttpResponse {
    static SHEET: OnceLock<String> = OnceLock::new();
    css(SHEET.get_or_init(schedule_sheet).as_str())
}

/// Registers this area's pages on the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(app_css).service(app_js).service(schedule_css);
}
