//! SIS syncs: recent runs, and starting one now.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::staff_layout;
use crate::campus_time::Stamp;
use crate::clock;
use crate::moderation;
use crate::web::error::{with_conn, AppError};
use crate::web::guard::{SessionForm, Staff, StaffForm};
use crate::web::layout::Layout;
use crate::web::state::{release_request_conn, AppState};
use crate::web::views::{self, FlashRedirect};

struct RunRow {
    term: String,
    subjects: String,
    status: &'static str,
    started: Stamp,
    duration: String,
    counts: String,
    error: String,
}

#[derive(Template)]
#[template(path = "admin/sis.html")]
struct SisPage {
    layout: Layout,
    runs: Vec<RunRow>,
    running: Vec<String>,
    default_term: String,
}

#[get("/sis")]
pub async fn sis_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    let (campus, now) = (state.config.campus_time, clock::now());
    let (runs, live) = with_conn(&state.pool, move |conn| {
        Ok((
            crate::sis::recent_runs(conn, 30)?,
            crate::sis::lock::live_runs(conn, now)?,
        ))
    })
    .await?;
    let rows = runs
        .iter()
        .map(|r| RunRow {
            term: r.term.clone(),
            subjects: if r.subjects.is_empty() {
                "all".into()
            } else {
                r.subjects.clone()
            },
            status: if r.stopped_unfinished(&live) {
                "stopped without finishing (killed or crashed)"
            } else {
                r.status.as_str()
            },
            started: campus.stamp(r.started_at, now),
            duration: r
                .finished_at
                .map(|f| {
                    format!(
                        "{:.1} s",
                        (f - r.started_at).num_milliseconds() as f64 / 1000.0
                    )
                })
                .unwrap_or_else(|| {
                    if r.stopped_unfinished(&live) {
                        "–"
                    } else {
                        "running"
                    }
                    .into()
                }),
            counts: format!(
                "{} added, {} changed, {} unchanged, {} deactivated{}; {} pages, {} retries",
                r.sections_added,
                r.sections_changed,
                r.sections_unchanged,
                r.sections_deactivated,
                match r.sections_missing {
                    0 => String::new(),
                    n => format!(", {n} missing for the first time (kept until the next full sync misses them too)"),
                },
                r.pages_fetched,
                r.retries
            ),
            error: r.error.clone().unwrap_or_default(),
        })
        .collect();
    let running = runs
        .iter()
        .filter(|r| r.status == crate::sis::SyncStatus::Running && !r.stopped_unfinished(&live))
        .map(|r| r.term.clone())
        .collect();
    let body = SisPage {
        layout: staff_layout(&req, &staff, "admin-sis"),
        runs: rows,
        running,
        default_term: state
            .config
            .classes
            .current_term
            .clone()
            .unwrap_or_default(),
    }
    .render()?;
    Ok(views::page(body))
}

#[derive(Deserialize)]
pub struct SyncForm {
    csrf_token: String,
    #[serde(default)]
    term: String,
}

impl SessionForm for SyncForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

#[post("/sis/sync")]
pub async fn sync_now(
    state: web::Data<AppState>,
    StaffForm(current, form): StaffForm<SyncForm>,
) -> Result<FlashRedirect, AppError> {
    use crate::sis::sync::{SyncError, SyncRequest};
    let request = match SyncRequest::parse(&form.term, &[], false) {
        Ok(r) => r,
        Err(e) => return Ok(FlashRedirect::refused("/admin/sis", e.to_string())),
    };
    let term = request.term.clone();
    let actor = current.user.id.clone();
    let config = state.config.clone();
    // When it ends, the sync forgets the held term list and subjects.
    let terms = state.terms.clone();
    let rx = with_conn(&state.pool, move |conn| {
        Ok(moderation::sync::start(
            conn,
            &config,
            &actor,
            request,
            clock::now(),
            terms,
        )?)
    })
    .await?;
    // A moment to learn whether it started (or was refused, or already done),
    // with no connection held: the sync takes its own.
    release_request_conn();
    let answer = tokio::time::timeout(std::time::Duration::from_millis(1500), rx).await;
    let message = match answer {
        // A partial or failed run finished too, but reads as what it is.
        Ok(Ok(Ok(Ok(report)))) => (
            !report.succeeded(),
            format!("Sync of {term} finished: {}", report.summary()),
        ),
        // The flash names the start in campus time (the error's own words say UTC).
        Ok(Ok(Ok(Err(SyncError::AlreadyRunning {
            term,
            run_id,
            holder,
            since,
        })))) => (
            true,
            format!(
                "a sync of term {term} is already running (run {run_id} on {holder}, since {}); not starting another",
                state.config.campus_time.exact(since).title
            ),
        ),
        Ok(Ok(Ok(Err(e)))) => (true, format!("The sync of {term} stopped: {e}")),
        Ok(Ok(Err(e))) => (true, format!("The sync of {term} could not start: {e}")),
        Ok(Err(_)) => (true, "The sync stopped unexpectedly; see the log.".into()),
        Err(_) => (
            false,
            format!("The sync of {term} is running; this page shows it below."),
        ),
    };
    Ok(FlashRedirect::new("/admin/sis", message.0, message.1))
}
