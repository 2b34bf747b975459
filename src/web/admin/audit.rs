//! The audit log, filtered by actor and action, newest first.

use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use super::staff_layout;
use crate::accounts::UserId;
use crate::campus_time::Stamp;
use crate::moderation::{self, AuditAction, AuditId};
use crate::web::error::{with_conn, AppError};
use crate::web::guard::Staff;
use crate::web::layout::Layout;
use crate::web::state::AppState;
use crate::web::views;

struct AuditRow {
    when: Stamp,
    actor: String,
    action: &'static str,
    target: String,
    reason: String,
    details: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    layout: Layout,
    rows: Vec<AuditRow>,
    actor: String,
    action: String,
    actions: Vec<&'static str>,
    older_href: Option<String>,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    before: Option<String>,
}

const AUDIT_PAGE: i64 = 50;

// Stays whole: parse the filters, read one page, shape its rows; each step feeds the next and none is used elsewhere.
#[get("/audit")]
pub async fn audit(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let action_text = query.action.clone().unwrap_or_default();
    let action =
        match action_text.trim() {
            "" => None,
            raw => Some(raw.parse::<AuditAction>().map_err(|_| {
                AppError::BadRequest("Unknown action; pick one from the list.".into())
            })?),
        };
    let before = match query
        .before
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
    {
        None => None,
        Some(raw) => {
            let (time, id) = raw.split_once('_').ok_or_else(|| {
                AppError::BadRequest(
                    "That page link is damaged; start from the newest entries.".into(),
                )
            })?;
            let time = NaiveDateTime::parse_from_str(time, "%Y%m%dT%H%M%S%.6f").map_err(|_| {
                AppError::BadRequest(
                    "That page link is damaged; start from the newest entries.".into(),
                )
            })?;
            let id = AuditId::parse(id).ok_or_else(|| {
                AppError::BadRequest(
                    "That page link is damaged; start from the newest entries.".into(),
                )
            })?;
            Some((time, id))
        }
    };
    let actor_text: String = query
        .actor
        .clone()
        .unwrap_or_default()
        .trim()
        .chars()
        .take(254)
        .collect();
    let actor_for_query = actor_text.clone();
    let entries = with_conn(&state.pool, move |conn| {
        let actor: Option<UserId> = if actor_for_query.is_empty() {
            None
        } else {
            match moderation::users::find_by_login(conn, &actor_for_query)? {
                Some(u) => Some(u.id),
                None => return Ok(Vec::new()),
            }
        };
        Ok(moderation::page(
            conn,
            actor.as_ref(),
            action,
            before,
            AUDIT_PAGE,
        )?)
    })
    .await?;
    let older_href = (entries.len() as i64 == AUDIT_PAGE).then(|| {
        let (last, _) = entries.last().expect("a full page has a last entry");
        let cursor = format!(
            "{}_{}",
            last.created_at.format("%Y%m%dT%H%M%S%.6f"),
            last.id
        );
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("actor", &actor_text)
            .append_pair("action", &action_text)
            .append_pair("before", &cursor)
            .finish();
        format!("/admin/audit?{q}")
    });
    let campus = state.config.campus_time;
    let rows = entries
        .into_iter()
        .map(|(e, actor)| AuditRow {
            when: campus.exact(e.created_at),
            actor: match (&e.actor_id, actor) {
                // The author of an anonymous message: only a reveal says who.
                _ if e.action == AuditAction::AuthorDelete => {
                    "its author (a reveal names them)".into()
                }
                (Some(_), Some(cid)) => cid,
                (None, _) if e.action == AuditAction::RoleChange => {
                    "command line or deleted account".into()
                }
                _ => "deleted account".into(),
            },
            action: e.action.as_str(),
            target: format!("{} {}", e.target_type, e.target_id),
            reason: e.reason.unwrap_or_default(),
            details: e.details.unwrap_or_default(),
        })
        .collect();
    let body = AuditPage {
        layout: staff_layout(&req, &staff, "admin-audit"),
        rows,
        actor: actor_text,
        action: action_text,
        actions: AuditAction::ALL.iter().map(|a| a.as_str()).collect(),
        older_href,
    }
    .render()?;
    Ok(views::page(body))
}
