//! Stylesheets and our one script, compiled into the binary and served by the app (no CDN). The
//! page CSP forbids inline styles, so the timetable places its blocks with
//! classes from a generated sheet: one per 5-minute grid line and per lane.
//!
//! Pages link them with the version of their contents (`?v=`), and a request
//! for the current version may be kept by the browser for a year: a release
//! changes the links, so no page is styled or scripted by an older release's
//! files, and no page load asks for them again until then.

use std::fmt::Write;
use std::sync::OnceLock;

use actix_web::{get, http::header, web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

const APP_CSS: &str = include_str!("../../templates/static/app.css");
const APP_JS: &str = include_str!("../../templates/static/app.js");

/// The version of every file served here together.
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| version_of(&[APP_CSS, APP_JS, schedule_sheet_text()]))
}

/// The first 12 hex digits of the SHA-256 of `files`, each ended by a NUL
/// (so moving text from one file to the next changes it too).
fn version_of(files: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.as_bytes());
        hasher.update([0]);
    }
    hex::encode(&hasher.finalize()[..6])
}

fn href(path: &str) -> String {
    format!("{path}?v={}", version())
}

/// The stylesheet's address, as pages link it.
pub fn css_href() -> &'static str {
    static HREF: OnceLock<String> = OnceLock::new();
    HREF.get_or_init(|| href("/static/app.css"))
}

/// The script's address, as pages link it.
pub fn js_href() -> &'static str {
    static HREF: OnceLock<String> = OnceLock::new();
    HREF.get_or_init(|| href("/static/app.js"))
}

/// The timetable's placement sheet's address, as its page links it.
pub fn schedule_css_href() -> &'static str {
    static HREF: OnceLock<String> = OnceLock::new();
    HREF.get_or_init(|| href("/static/schedule.css"))
}

/// A year, never revalidated, for the version pages link now; anything else
/// (a page from before a release, or no version) is checked every time.
fn cache_control(req: &HttpRequest) -> &'static str {
    let current = web::Query::<Versioned>::from_query(req.query_string())
        .is_ok_and(|q| q.v.as_deref() == Some(version()));
    if current {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

#[derive(serde::Deserialize)]
struct Versioned {
    v: Option<String>,
}

fn served(req: &HttpRequest, content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, cache_control(req)))
        .body(body)
}

#[get("/static/app.css")]
pub async fn app_css(req: HttpRequest) -> HttpResponse {
    served(&req, "text/css; charset=utf-8", APP_CSS)
}

/// Our one small script: it makes the class chat live; every page works without it.
#[get("/static/app.js")]
pub async fn app_js(req: HttpRequest) -> HttpResponse {
    served(&req, "text/javascript; charset=utf-8", APP_JS)
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

fn schedule_sheet_text() -> &'static str {
    static SHEET: OnceLock<String> = OnceLock::new();
    SHEET.get_or_init(schedule_sheet).as_str()
}

#[get("/static/schedule.css")]
pub async fn schedule_css(req: HttpRequest) -> HttpResponse {
    served(&req, "text/css; charset=utf-8", schedule_sheet_text())
}

/// Registers this area's pages on the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(app_css).service(app_js).service(schedule_css);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_change_to_a_file_changes_the_version() {
        let base = version_of(&["a { color: red }", "go();"]);
        assert_eq!(base.len(), 12);
        assert_eq!(base, version_of(&["a { color: red }", "go();"]));
        for changed in [
            ["a { color: blue }", "go();"],
            ["a { color: red }", "go(1);"],
            ["a { color: red }go", "();"],
        ] {
            assert_ne!(base, version_of(&changed), "{changed:?}");
        }
        assert_eq!(
            version(),
            version_of(&[APP_CSS, APP_JS, schedule_sheet_text()])
        );
    }
}
