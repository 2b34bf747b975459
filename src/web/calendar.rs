//! `Account → Calendar`: the private feed link (made, shown once, replaced,
//! turned off), the feed itself for calendar apps (no session: the token is
//! the credential) and a one-off `.ics` download.

use actix_web::http::header;
use actix_web::{get, post, route, web, HttpRequest, HttpResponse};
use askama::Template;

use super::error::{with_conn, AppError};
use super::guard::{CurrentUser, SessionForm, SignedInForm, Visitor};
use super::layout::Layout;
use super::state::AppState;
use super::views::{self, FlashRedirect};
use crate::calendar::{self, feeds, FeedSettings};
use crate::campus_time::Stamp;
use crate::classes::term::TermList;
use crate::clock;
use crate::config::Config;

/// Calendar apps poll; an hour between fetches is plenty, and a changed room
/// still shows up the same day.
const FEED_CACHE: &str = "private, max-age=3600";

fn settings<'a>(config: &'a Config, terms: &'a TermList) -> FeedSettings<'a> {
    FeedSettings {
        campus: config.campus_time,
        current_term: config.classes.current_term.as_deref(),
        configured: &config.classes.terms,
        breaks: &config.classes.breaks,
        terms,
    }
}

/// A term the feed covers, as the page lists it.
struct TermLine {
    name: String,
    sections: usize,
    /// Its sections with no set days and times ("CS 4993 001"), which the
    /// feed has no event for.
    untimed: Vec<String>,
    /// "Jan 14 – Apr 28, 2026", or None when the term has no dates.
    dates: Option<String>,
}

/// The link, the one time it can be shown.
struct FreshLink {
    webcal: String,
    https: String,
}

#[derive(Template)]
#[template(path = "account/calendar.html")]
struct CalendarPage {
    layout: Layout,
    feed_made: Option<Stamp>,
    last_fetched: Option<Stamp>,
    fresh: Option<FreshLink>,
    terms: Vec<TermLine>,
}

/// The feed's addresses from `BASE_URL` (never the request's Host).
fn links(config: &Config, token: &str) -> FreshLink {
    let base = config.server.base_url.as_str().trim_end_matches('/');
    let https = format!("{base}/calendar/{token}.ics");
    let webcal = match https.split_once("://") {
        Some((_, rest)) => format!("webcal://{rest}"),
        None => https.clone(),
    };
    FreshLink { webcal, https }
}

/// What the calendar page shows: the feed link's state and the terms the
/// feed holds.
struct PageData {
    status: Option<feeds::FeedStatus>,
    plan: calendar::StudentCalendar,
}

fn read_page(
    conn: &mut crate::db::DbConn,
    user_id: &crate::accounts::UserId,
    state: &AppState,
) -> Result<PageData, AppError> {
    let status = feeds::status(conn, user_id)?;
    let plan = calendar::student_calendar(
        conn,
        user_id,
        &settings(&state.config, &state.terms),
        clock::now(),
    )?;
    Ok(PageData { status, plan })
}

fn render_page(
    req: &HttpRequest,
    state: &AppState,
    current: &CurrentUser,
    fresh: Option<FreshLink>,
    PageData { status, plan }: PageData,
) -> Result<HttpResponse, AppError> {
    let now = clock::now();
    let campus = state.config.campus_time;
    let terms = plan
        .terms
        .iter()
        .map(|t| TermLine {
            name: t.term.name(),
            sections: t.sections.len(),
            untimed: t
                .sections
                .iter()
                .filter(|c| crate::classes::week::meetings_of(c, t.meetings.get(&c.id)).is_empty())
                .map(|c| match c.class_section.as_deref() {
                    Some(section) if !section.is_empty() => format!("{} {section}", c.code()),
                    _ => c.code(),
                })
                .collect(),
            dates: t.span.map(|s| {
                format!(
                    "{} – {}",
                    s.first_day.format("%b %-d, %Y"),
                    s.last_day.format("%b %-d, %Y")
                )
            }),
        })
        .collect();
    let body = CalendarPage {
        layout: Layout::new(req, Some(current)).at("account"),
        feed_made: status.as_ref().map(|s| campus.exact(s.created_at)),
        last_fetched: status
            .as_ref()
            .and_then(|s| s.last_fetched_at)
            .map(|at| campus.stamp(at, now)),
        fresh,
        terms,
    }
    .render()?;
    Ok(views::page(body))
}

#[get("/account/calendar")]
pub async fn show_calendar(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
) -> Result<HttpResponse, AppError> {
    let app = state.clone();
    let (current, data) = visitor
        .signed_in(move |conn, current| read_page(conn, &current.user.id, &app))
        .await?;
    render_page(&req, &state, &current, None, data)
}

/// The form of the calendar buttons: only a token.
#[derive(serde::Deserialize)]
pub struct CalendarForm {
    #[serde(default)]
    csrf_token: String,
}

impl SessionForm for CalendarForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Makes the link, or replaces it; the answer is the page showing it, once.
#[post("/account/calendar/link")]
pub async fn make_calendar_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedInForm(current, _): SignedInForm<CalendarForm>,
) -> Result<HttpResponse, AppError> {
    let user_id = current.user.id.clone();
    let app = state.clone();
    let (token, data) = with_conn(&state.pool, move |conn| {
        let token = feeds::create_or_replace(conn, &user_id, clock::now())?;
        Ok((token, read_page(conn, &user_id, &app)?))
    })
    .await?;
    let fresh = links(&state.config, &token);
    render_page(&req, &state, &current, Some(fresh), data)
}

#[post("/account/calendar/off")]
pub async fn turn_off_calendar_link(
    state: web::Data<AppState>,
    SignedInForm(current, _): SignedInForm<CalendarForm>,
) -> Result<FlashRedirect, AppError> {
    let user_id = current.user.id.clone();
    let was_on = with_conn(&state.pool, move |conn| {
        Ok(feeds::turn_off(conn, &user_id)?)
    })
    .await?;
    Ok(if was_on {
        FlashRedirect::done(
            "/account/calendar",
            "Your calendar link is off. Calendars that used it stop updating.",
        )
    } else {
        FlashRedirect::done("/account/calendar", "You had no calendar link.")
    })
}

fn ics_response(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, FEED_CACHE))
        .body(body)
}

/// The feed for calendar apps: no session, the token in the path.
// GET, and HEAD for calendar apps that ask before they fetch.
#[route("/calendar/{file}", method = "GET", method = "HEAD")]
pub async fn calendar_feed(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = path
        .into_inner()
        .strip_suffix(".ics")
        .map(str::to_string)
        .ok_or(AppError::NotFound)?;
    let config = state.config.clone();
    let terms = state.terms.clone();
    let body = with_conn(&state.pool, move |conn| {
        Ok(calendar::feed_for_token(
            conn,
            &token,
            &settings(&config, &terms),
            clock::now(),
        )?)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(ics_response(body))
}

/// The same calendar as a file, for a one-off import.
#[get("/account/calendar.ics")]
pub async fn download_calendar(
    state: web::Data<AppState>,
    visitor: Visitor,
) -> Result<HttpResponse, AppError> {
    let (_, body) = visitor
        .signed_in(move |conn, current| {
            let plan = calendar::student_calendar(
                conn,
                &current.user.id,
                &settings(&state.config, &state.terms),
                clock::now(),
            )?;
            Ok(calendar::ics::write(&plan, state.config.campus_time))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"common-grounds-classes.ics\"",
        ))
        .body(body))
}

/// Registers this area's pages on the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(show_calendar)
        .service(download_calendar)
        .service(make_calendar_link)
        .service(turn_off_calendar_link)
        .service(calendar_feed);
}
