//! Users: search, roles (admins only) and suspensions, each audited.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use super::staff_layout;
use crate::accounts::Role;
use crate::campus_time::Stamp;
use crate::clock;
use crate::moderation;
use crate::web::error::{with_conn, AppError};
use crate::web::guard::{CsrfForm, SessionForm, Staff, StaffForm};
use crate::web::layout::Layout;
use crate::web::state::AppState;
use crate::web::views::{self, FlashRedirect};

struct UserRow {
    computing_id: String,
    email: String,
    role: &'static str,
    suspended: Option<Stamp>,
    reason: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    layout: Layout,
    q: String,
    rows: Vec<UserRow>,
    searched: bool,
    is_admin: bool,
    roles: Vec<&'static str>,
    default_until: String,
    /// The zone the suspension form's date is read in.
    campus_zone: &'static str,
}

#[derive(Deserialize)]
pub struct UsersQuery {
    q: Option<String>,
}

#[get("/users")]
pub async fn users(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, AppError> {
    let q: String = query
        .q
        .clone()
        .unwrap_or_default()
        .trim()
        .chars()
        .take(100)
        .collect();
    let now = clock::now();
    let found = if q.is_empty() {
        Vec::new()
    } else {
        let q = q.clone();
        with_conn(&state.pool, move |conn| {
            Ok(moderation::users::search(conn, &q, 50)?)
        })
        .await?
    };
    let campus = state.config.campus_time;
    let rows = found
        .into_iter()
        .map(|u| UserRow {
            suspended: u.suspended_at(now).map(|t| campus.exact(t)),
            reason: u.suspended_at(now).and(u.suspension_reason.clone()),
            computing_id: u.computing_id,
            email: u.email,
            role: u.role.as_str(),
        })
        .collect();
    let body = UsersPage {
        layout: staff_layout(&req, &staff, "admin-users"),
        searched: !q.is_empty(),
        q,
        rows,
        is_admin: staff.0.user.role == Role::Admin,
        roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
        default_until: (campus.date_of(now) + chrono::Duration::days(7))
            .format("%Y-%m-%d")
            .to_string(),
        campus_zone: campus.zone_name(),
    }
    .render()?;
    Ok(views::page(body))
}

/// Back to the users page, searching for the account just acted on.
fn users_page_for(who: &str) -> String {
    format!(
        "/admin/users?q={}",
        url::form_urlencoded::byte_serialize(who.as_bytes()).collect::<String>()
    )
}

#[derive(Deserialize)]
pub struct RoleForm {
    csrf_token: String,
    role: String,
}

impl SessionForm for RoleForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

#[post("/users/{who}/role")]
pub async fn change_role(
    state: web::Data<AppState>,
    path: web::Path<String>,
    StaffForm(current, form): StaffForm<RoleForm>,
) -> Result<FlashRedirect, AppError> {
    let back = users_page_for(&path);
    if current.user.role != Role::Admin {
        return Ok(FlashRedirect::refused(
            &back,
            "Only admins can change roles.",
        ));
    }
    let role: Role = form
        .role
        .parse()
        .map_err(|_| AppError::BadRequest("Choose student, moderator or admin.".into()))?;
    let who = path.into_inner();
    let actor = current.user.id.clone();
    let changed = with_conn(&state.pool, move |conn| {
        Ok(moderation::users::change_role(
            conn,
            &actor,
            &who,
            role,
            clock::now(),
        )?)
    })
    .await?;
    Ok(FlashRedirect::done(
        &back,
        format!(
            "{changed} is now {}; their sessions were ended.",
            role.as_str()
        ),
    ))
}

#[derive(Deserialize)]
pub struct SuspendForm {
    csrf_token: String,
    until: String,
    #[serde(default)]
    reason: String,
}

impl SessionForm for SuspendForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

#[post("/users/{who}/suspend")]
pub async fn suspend(
    state: web::Data<AppState>,
    path: web::Path<String>,
    StaffForm(current, form): StaffForm<SuspendForm>,
) -> Result<FlashRedirect, AppError> {
    let now = clock::now();
    let campus = state.config.campus_time;
    // A campus date: the suspension ends as that day begins on campus.
    let until = NaiveDate::parse_from_str(form.until.trim(), "%Y-%m-%d")
        .map(|d| campus.start_of_day(d))
        .map_err(|_| {
            AppError::BadRequest(
                "Give the end of the suspension as a date, like 2026-12-01.".into(),
            )
        })?;
    let reason = form.reason.clone();
    let who = path.into_inner();
    let back = users_page_for(&who);
    let actor = current.user.id.clone();
    let name = with_conn(&state.pool, move |conn| {
        Ok(moderation::users::suspend_account(
            conn, &actor, &who, until, &reason, now, campus,
        )?)
    })
    .await?;
    Ok(FlashRedirect::done(
        &back,
        format!(
            "{name} is suspended until {} ({}).",
            campus.exact(until).label,
            campus.zone_name()
        ),
    ))
}

#[post("/users/{who}/lift")]
pub async fn lift(
    state: web::Data<AppState>,
    path: web::Path<String>,
    StaffForm(current, _): StaffForm<CsrfForm>,
) -> Result<FlashRedirect, AppError> {
    let who = path.into_inner();
    let back = users_page_for(&who);
    let actor = current.user.id.clone();
    let name = with_conn(&state.pool, move |conn| {
        Ok(moderation::users::lift_suspension(
            conn,
            &actor,
            &who,
            clock::now(),
        )?)
    })
    .await?;
    Ok(FlashRedirect::done(
        &back,
        format!("{name}'s suspension is lifted."),
    ))
}
