//! The admin overview: sign-ins and messages per day, the last SIS sync, and
//! urgent reveals of the last 30 days (every staff member sees who revealed alone).

use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDate;

use super::staff_layout;
use crate::campus_time::Stamp;
use crate::clock;
use crate::moderation::{reveals, stats};
use crate::web::error::{with_conn, AppError};
use crate::web::guard::Staff;
use crate::web::layout::Layout;
use crate::web::state::AppState;
use crate::web::views;

/// A bar chart of daily counts, drawn as SVG by the template.
pub struct Chart {
    pub title: String,
    pub total: i64,
    pub max: i64,
    pub bars: Vec<Bar>,
    pub first_label: String,
    pub last_label: String,
}

pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub height: i64,
    pub label: String,
    pub count: i64,
}

const CHART_HEIGHT: i64 = 100;
const BAR_STEP: i64 = 20;

fn chart(title: &str, series: &[(NaiveDate, i64)]) -> Chart {
    let max = series.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let bars = series
        .iter()
        .enumerate()
        .map(|(i, (day, n))| {
            let height = if max == 0 {
                0
            } else {
                (n * CHART_HEIGHT + max - 1) / max
            };
            Bar {
                x: i as i64 * BAR_STEP + 2,
                y: CHART_HEIGHT - height,
                height,
                label: day.format("%b %-d").to_string(),
                count: *n,
            }
        })
        .collect();
    Chart {
        title: title.to_string(),
        total: series.iter().map(|(_, n)| n).sum(),
        max,
        bars,
        first_label: series
            .first()
            .map(|(d, _)| d.format("%b %-d").to_string())
            .unwrap_or_default(),
        last_label: series
            .last()
            .map(|(d, _)| d.format("%b %-d").to_string())
            .unwrap_or_default(),
    }
}

/// An admin's urgent reveal, as every staff member sees it on the overview.
struct UrgentLine {
    who: String,
    at: Stamp,
    class: String,
    class_id: String,
    reason: String,
}

/// The newest SIS sync: its term and status, and when it started.
struct LastSync {
    summary: String,
    at: Stamp,
}

#[derive(Template)]
#[template(path = "admin/overview.html")]
struct OverviewPage {
    layout: Layout,
    o: stats::Overview,
    last_sync: Option<LastSync>,
    charts: Vec<Chart>,
    urgent: Vec<UrgentLine>,
    urgent_days: i64,
}

#[get("")]
pub async fn overview(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    let now = clock::now();
    let campus = state.config.campus_time;
    let (o, urgent) = with_conn(&state.pool, move |conn| {
        Ok((
            stats::overview(conn, now, 30, campus)?,
            reveals::recent_urgent(conn, now)?,
        ))
    })
    .await?;
    let charts = vec![
        chart("Sign-ins per day", &o.sign_ins),
        chart("Messages per day", &o.messages),
    ];
    let last_sync = o.last_sync.as_ref().map(|(term, status, at)| LastSync {
        summary: format!("{term}: {status}"),
        at: campus.stamp(*at, now),
    });
    let body = OverviewPage {
        layout: staff_layout(&req, &staff, "admin-overview"),
        o,
        last_sync,
        charts,
        urgent: urgent
            .into_iter()
            .map(|u| UrgentLine {
                who: u.requester.unwrap_or_else(|| "a deleted account".into()),
                at: campus.exact(u.request.created_at),
                class: u.class,
                class_id: u.class_id.to_string(),
                reason: u.request.reason,
            })
            .collect(),
        urgent_days: reveals::URGENT_DAYS,
    }
    .render()?;
    Ok(views::page(body))
}
