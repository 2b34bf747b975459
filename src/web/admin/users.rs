//! Users: search, roles (admins only) and suspensions, each audited.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde::Deserialize;

use super::staff_layout;
use crate::accounts::Role;
use crate::campus_time::{CampusTime, Stamp};
use crate::clock;
use crate::moderation;
use crate::web::error::{with_conn, AppError};
use crate::web::guard::{SessionForm, Staff, StaffForm};
use crate::web::layout::Layout;
use crate::web::state::AppState;
use crate::web::views::{self, FlashRedirect};

struct UserRow {
    id: String,
    computing_id: String,
    email: String,
    name: Option<String>,
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
            id: u.id.to_string(),
            computing_id: u.computing_id,
            email: u.email,
            name: u.display_name,
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

/// Where an account action lands: back on the person's page when its form
/// was there (`from=person`), else on the search that listed them.
fn back_after(from: &str, who: &str, acted: &moderation::users::ActedOn) -> String {
    match from {
        "person" => format!("/admin/users/{}", acted.user_id),
        _ => users_page_for(who),
    }
}

#[derive(Deserialize)]
pub struct RoleForm {
    csrf_token: String,
    role: String,
    /// "person" on the person's page (`back_after`).
    #[serde(default)]
    from: String,
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
    let who = moderation::users::login_key(&path, &state.config.sign_in.allowed_email_domains);
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
    state.live.access_changed(&changed.user_id);
    let back = back_after(&form.from, &path, &changed);
    let changed = changed.computing_id;
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
    /// "day", "week" or "date" (then `until` is read); a form without it is
    /// the older one, which sent only a date.
    #[serde(default)]
    length: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    reason: String,
    /// "person" on the person's page (`back_after`).
    #[serde(default)]
    from: String,
    /// "1" from the person's "Change the suspension" form: a running
    /// suspension is replaced (its end moved) instead of refused.
    #[serde(default)]
    replace: String,
}

impl SessionForm for SuspendForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// When a suspension chosen on the form ends: a day or a week from `now`, or
/// as the given campus date begins (as the form always read a date).
fn suspension_end(
    length: &str,
    until: &str,
    now: NaiveDateTime,
    campus: CampusTime,
) -> Result<NaiveDateTime, AppError> {
    match length {
        "day" => Ok(now + Duration::days(1)),
        "week" => Ok(now + Duration::weeks(1)),
        "date" | "" => NaiveDate::parse_from_str(until.trim(), "%Y-%m-%d")
            .map(|d| campus.start_of_day(d))
            .map_err(|_| {
                AppError::BadRequest(
                    "Give the end of the suspension as a date, like 2026-12-01.".into(),
                )
            }),
        _ => Err(AppError::BadRequest(
            "Choose 1 day, 1 week or until a date.".into(),
        )),
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
    let until = suspension_end(&form.length, &form.until, now, campus)?;
    let reason = form.reason.clone();
    let who = path.into_inner();
    let actor = current.user.id.clone();
    let login = who.clone();
    let replace = form.replace == "1";
    let suspended = with_conn(&state.pool, move |conn| {
        Ok(moderation::users::suspend_account(
            conn, &actor, &login, until, &reason, replace, now, campus,
        ))
    })
    .await?;
    let suspended = match suspended {
        Ok(suspended) => suspended,
        // Another moderator suspended them since the page was loaded: back
        // to the list, which shows the suspension, with the words to paste.
        Err(refused @ moderation::users::AccountActionError::AlreadySuspended(_)) => {
            let words = super::to_paste_again(Some(&form.reason));
            return Ok(FlashRedirect::refused(
                &users_page_for(&who),
                format!("{refused}{words}"),
            ));
        }
        Err(other) => return Err(other.into()),
    };
    state.live.access_changed(&suspended.user_id);
    let back = back_after(&form.from, &who, &suspended);
    let name = suspended.computing_id;
    Ok(FlashRedirect::done(
        &back,
        format!(
            "{name} is suspended until {} ({}).",
            campus.exact(until).label,
            campus.zone_name()
        ),
    ))
}

#[derive(Deserialize)]
pub struct LiftForm {
    csrf_token: String,
    /// "person" on the person's page (`back_after`).
    #[serde(default)]
    from: String,
}

impl SessionForm for LiftForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

#[post("/users/{who}/lift")]
pub async fn lift(
    state: web::Data<AppState>,
    path: web::Path<String>,
    StaffForm(current, form): StaffForm<LiftForm>,
) -> Result<FlashRedirect, AppError> {
    let who = path.into_inner();
    let actor = current.user.id.clone();
    let login = who.clone();
    let lifted = with_conn(&state.pool, move |conn| {
        Ok(moderation::users::lift_suspension(
            conn,
            &actor,
            &login,
            clock::now(),
        ))
    })
    .await?;
    let lifted = match lifted {
        Ok(lifted) => lifted,
        // Lifted (or ended) since the page was loaded: back to the list,
        // which shows where the account stands.
        Err(refused @ moderation::users::AccountActionError::NotSuspended) => {
            return Ok(FlashRedirect::refused(
                &users_page_for(&who),
                refused.to_string(),
            ));
        }
        Err(other) => return Err(other.into()),
    };
    Ok(FlashRedirect::done(
        &back_after(&form.from, &who, &lifted),
        format!("{}'s suspension is lifted.", lifted.computing_id),
    ))
}

#[derive(Deserialize)]
pub struct RemoveNameForm {
    csrf_token: String,
    /// The name the moderator saw on the page (a rename since is not removed).
    #[serde(default)]
    name: String,
    #[serde(default)]
    reason: String,
}

impl SessionForm for RemoveNameForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Removes a display name chosen to abuse; its owner is told why, and waits
/// `accounts::NAME_LOCK_AFTER_REMOVAL_DAYS` for a new one.
#[post("/users/{who}/display-name/remove")]
pub async fn remove_display_name(
    state: web::Data<AppState>,
    path: web::Path<String>,
    StaffForm(current, form): StaffForm<RemoveNameForm>,
) -> Result<FlashRedirect, AppError> {
    let (now, campus) = (clock::now(), state.config.campus_time);
    let who = path.into_inner();
    let actor = current.user.id.clone();
    let (removed, until) = with_conn(&state.pool, move |conn| {
        Ok(moderation::users::remove_display_name(
            conn,
            &actor,
            &who,
            &form.name,
            &form.reason,
            now,
            campus,
        )?)
    })
    .await?;
    // Back to the person's page (the removal is usually reached from a held
    // post's card, not from a search).
    Ok(FlashRedirect::done(
        &format!("/admin/users/{}", removed.user_id),
        format!(
            "{}'s display name is removed; they were told why, and can choose a new one from {} ({}).",
            removed.computing_id,
            campus.exact(until).label,
            campus.zone_name()
        ),
    ))
}

/// How a wait's end travels in the user page's form: exact, so the action
/// can tell it is the wait the moderator was shown.
const WAIT_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.f";

#[derive(Deserialize)]
pub struct EndWaitForm {
    csrf_token: String,
    /// The wait's end the page showed (`WAIT_FORMAT`).
    #[serde(default)]
    until: String,
}

impl SessionForm for EndWaitForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Ends a removed name's wait now (the removal was a mistake).
#[post("/users/{who}/display-name/end-wait")]
pub async fn end_name_wait(
    state: web::Data<AppState>,
    path: web::Path<String>,
    StaffForm(current, form): StaffForm<EndWaitForm>,
) -> Result<FlashRedirect, AppError> {
    let seen = NaiveDateTime::parse_from_str(form.until.trim(), WAIT_FORMAT)
        .map_err(|_| moderation::users::AccountActionError::StaleForm)?;
    if !clock::plausible(seen) {
        // No wait ends then (and PostgreSQL could not even compare it).
        return Err(moderation::users::AccountActionError::NoNameWait.into());
    }
    let who = path.into_inner();
    let actor = current.user.id.clone();
    let ended = with_conn(&state.pool, move |conn| {
        Ok(moderation::users::end_name_wait(
            conn,
            &actor,
            &who,
            seen,
            clock::now(),
        )?)
    })
    .await?;
    Ok(FlashRedirect::done(
        &format!("/admin/users/{}", ended.user_id),
        format!(
            "{} can choose a display name again; they were told.",
            ended.computing_id
        ),
    ))
}

struct SuspensionRow {
    id: String,
    computing_id: String,
    name: Option<String>,
    reason: Option<String>,
    until: Stamp,
}

#[derive(Template)]
#[template(path = "admin/suspensions.html")]
struct SuspensionsPage {
    layout: Layout,
    rows: Vec<SuspensionRow>,
    campus_zone: &'static str,
}

/// The suspensions running now, soonest end first.
#[get("/suspensions")]
pub async fn suspensions(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    let now = clock::now();
    let found = with_conn(&state.pool, move |conn| {
        Ok(moderation::users::current_suspensions(conn, now)?)
    })
    .await?;
    let campus = state.config.campus_time;
    let rows = found
        .into_iter()
        .filter_map(|u| {
            let until = u.suspended_at(now)?;
            Some(SuspensionRow {
                until: campus.exact(until),
                id: u.id.to_string(),
                computing_id: u.computing_id,
                name: u.display_name,
                reason: u.suspension_reason,
            })
        })
        .collect();
    let body = SuspensionsPage {
        layout: staff_layout(&req, &staff, "admin-suspensions"),
        rows,
        campus_zone: campus.zone_name(),
    }
    .render()?;
    Ok(views::page(body))
}

/// One suspension or its lifting, as the user page lists it.
struct HistoryLine {
    when: Stamp,
    what: &'static str,
    by: String,
    reason: Option<String>,
    details: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    layout: Layout,
    computing_id: String,
    email: String,
    name: Option<String>,
    role: &'static str,
    signed_up: Stamp,
    suspended: Option<Stamp>,
    reason: Option<String>,
    history: Vec<HistoryLine>,
    /// A removed name's wait, while it lasts, and its end as the form sends it.
    name_locked: Option<(Stamp, String)>,
    name_lock_days: i64,
    /// None unless the viewer is entitled to them (`moderation::users::entitled`).
    counts: Option<moderation::users::ReportCounts>,
    is_admin: bool,
    roles: Vec<&'static str>,
    default_until: String,
    campus_zone: &'static str,
}

/// One account for staff: who, since when, suspensions now and past, reports
/// against them as counts (only to a viewer a reveal already told), and the
/// suspend and role forms.
#[get("/users/{id}")]
pub async fn user_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = crate::accounts::UserId::parse(&path).ok_or(AppError::NotFound)?;
    let viewer = staff.0.user.id.clone();
    let profile = with_conn(&state.pool, move |conn| {
        Ok(moderation::users::profile(conn, &viewer, &id)?)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    let (campus, now) = (state.config.campus_time, clock::now());
    let u = profile.user;
    let history = profile
        .history
        .into_iter()
        .map(|(e, by)| HistoryLine {
            when: campus.exact(e.created_at),
            what: super::audit::action_label(e.action),
            by: by.unwrap_or_else(|| "deleted account".into()),
            reason: e.reason,
            details: e.details,
        })
        .collect();
    let body = UserPage {
        layout: staff_layout(&req, &staff, "admin-users"),
        suspended: u.suspended_at(now).map(|t| campus.exact(t)),
        reason: u.suspended_at(now).and(u.suspension_reason.clone()),
        name_locked: u
            .name_locked_at(now)
            .map(|t| (campus.exact(t), t.format(WAIT_FORMAT).to_string())),
        name_lock_days: crate::accounts::NAME_LOCK_AFTER_REMOVAL_DAYS,
        signed_up: campus.exact(u.created_at),
        computing_id: u.computing_id,
        email: u.email,
        name: u.display_name,
        role: u.role.as_str(),
        history,
        counts: profile.counts,
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
