//! The admin area for moderators and admins (everyone else gets 404): the
//! overview, users (roles and suspensions) and the audit log. Every action is
//! a CSRF-checked POST whose audit entry is written in the change's transaction.

use actix_web::{get, post, web, FromRequest, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::Deserialize;

use super::error::{with_conn, AppError};
use super::guard::{self, CurrentUser, Staff};
use super::layout::Layout;
use super::server::AppState;
use super::views;
use crate::accounts::{Role, UserId};
use crate::moderation::{self, stats, AuditAction, AuditId};
use crate::{clock, db};

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

#[derive(Template)]
#[template(path = "admin/overview.html")]
struct OverviewPage {
    layout: Layout,
    o: stats::Overview,
    last_sync: Option<String>,
    charts: Vec<Chart>,
}

fn staff_layout(req: &HttpRequest, staff: &Staff, section: &'static str) -> Layout {
    let mut layout = Layout::new(req, Some(&staff.0)).at("admin");
    layout.section = section;
    layout
}

#[get("/admin")]
pub async fn overview(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    let o = with_conn(&state.pool, |conn| {
        Ok(stats::overview(conn, clock::now(), 30)?)
    })
    .await?;
    let charts = vec![
        chart("Sign-ins per day", &o.sign_ins),
        chart("Messages per day", &o.messages),
    ];
    let last_sync = o
        .last_sync
        .as_ref()
        .map(|(term, status, at)| format!("{term}: {status}, {}", at.format("%b %-d %H:%M UTC")));
    let body = OverviewPage {
        layout: staff_layout(&req, &staff, "admin-overview"),
        o,
        last_sync,
        charts,
    }
    .render()?;
    Ok(views::page(body))
}

struct UserRow {
    computing_id: String,
    email: String,
    role: &'static str,
    suspended: Option<String>,
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
}

#[derive(Deserialize)]
pub struct UsersQuery {
    q: Option<String>,
}

#[get("/admin/users")]
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
    let rows = found
        .into_iter()
        .map(|u| UserRow {
            suspended: u
                .suspended_at(now)
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
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
        default_until: (now.date() + chrono::Duration::days(7))
            .format("%Y-%m-%d")
            .to_string(),
    }
    .render()?;
    Ok(views::page(body))
}

/// Checks the CSRF token and that the poster is staff; anyone else gets 404.
async fn staff_post(req: &HttpRequest, token: &str) -> Result<CurrentUser, AppError> {
    let current = match guard::verify_session_csrf(req, token).await {
        Ok(current) => current,
        Err(AppError::Csrf) => {
            // Students must not learn that the route exists, even from a CSRF refusal.
            return match guard::MaybeUser::extract(req).await?.0 {
                Some(c) if c.user.role.is_staff() => Err(AppError::Csrf),
                _ => Err(AppError::NotFound),
            };
        }
        Err(_) => return Err(AppError::NotFound),
    };
    if !current.user.role.is_staff() {
        return Err(AppError::NotFound);
    }
    Ok(current)
}

/// Back to the users page, searching for the account just acted on.
fn users_page_for(who: &str) -> String {
    format!(
        "/admin/users?q={}",
        url::form_urlencoded::byte_serialize(who.as_bytes()).collect::<String>()
    )
}

impl From<moderation::messages::ActionError> for AppError {
    fn from(e: moderation::messages::ActionError) -> Self {
        match e {
            moderation::messages::ActionError::NotFound => AppError::NotFound,
            moderation::messages::ActionError::ReasonRequired => {
                AppError::BadRequest(e.to_string())
            }
            moderation::messages::ActionError::Db(e) => e.into(),
        }
    }
}

#[derive(Deserialize)]
pub struct RoleForm {
    csrf_token: String,
    role: String,
}

#[post("/admin/users/{who}/role")]
pub async fn change_role(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, AppError> {
    let current = staff_post(&req, &form.csrf_token).await?;
    let back = users_page_for(&path);
    let secure = state.config.is_https();
    if current.user.role != Role::Admin {
        return Ok(views::redirect_with(
            &back,
            true,
            "Only admins can change roles.",
            secure,
        ));
    }
    let role: Role = form
        .role
        .parse()
        .map_err(|_| AppError::BadRequest("Choose student, moderator or admin.".into()))?;
    let who = path.into_inner();
    let actor = current.user.id.clone();
    let changed = with_conn(&state.pool, move |conn| {
        db::write_tx(conn, |c| {
            let target = moderation::users::find_by_login(c, &who)?.ok_or(AppError::NotFound)?;
            if target.id == actor {
                return Err(AppError::BadRequest(
                    "You cannot change your own role; ask another admin.".into(),
                ));
            }
            moderation::users::set_role(c, Some(&actor), &target, role, clock::now())?;
            Ok(target.computing_id)
        })
    })
    .await?;
    Ok(views::redirect_with(
        &back,
        false,
        &format!(
            "{changed} is now {}; their sessions were ended.",
            role.as_str()
        ),
        secure,
    ))
}

#[derive(Deserialize)]
pub struct SuspendForm {
    csrf_token: String,
    until: String,
    #[serde(default)]
    reason: String,
}

#[post("/admin/users/{who}/suspend")]
pub async fn suspend(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<SuspendForm>,
) -> Result<HttpResponse, AppError> {
    let current = staff_post(&req, &form.csrf_token).await?;
    let now = clock::now();
    let until = NaiveDate::parse_from_str(form.until.trim(), "%Y-%m-%d")
        .map(|d| NaiveDateTime::new(d, NaiveTime::MIN))
        .map_err(|_| {
            AppError::BadRequest(
                "Give the end of the suspension as a date, like 2026-12-01.".into(),
            )
        })?;
    if until <= now {
        return Err(AppError::BadRequest(
            "The suspension must end in the future.".into(),
        ));
    }
    let reason = form.reason.trim().to_string();
    if reason.chars().count() < 10 || reason.chars().count() > 500 {
        return Err(AppError::BadRequest(
            "Give a reason of 10 to 500 characters; the student will see it.".into(),
        ));
    }
    let who = path.into_inner();
    let back = users_page_for(&who);
    let actor = current.user.id.clone();
    let name = with_conn(&state.pool, move |conn| {
        db::write_tx(conn, |c| {
            let target = moderation::users::find_by_login(c, &who)?.ok_or(AppError::NotFound)?;
            if target.role.is_staff() {
                return Err(AppError::BadRequest(
                    "Staff accounts cannot be suspended; change the role first.".into(),
                ));
            }
            moderation::users::suspend(c, &actor, &target, until, &reason, now)?;
            Ok(target.computing_id)
        })
    })
    .await?;
    Ok(views::redirect_with(
        &back,
        false,
        &format!("{name} is suspended until {}.", until.format("%Y-%m-%d")),
        state.config.is_https(),
    ))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf_token: String,
}

#[post("/admin/users/{who}/lift")]
pub async fn lift(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    let current = staff_post(&req, &form.csrf_token).await?;
    let who = path.into_inner();
    let back = users_page_for(&who);
    let actor = current.user.id.clone();
    let name = with_conn(&state.pool, move |conn| {
        db::write_tx(conn, |c| {
            let target = moderation::users::find_by_login(c, &who)?.ok_or(AppError::NotFound)?;
            moderation::users::lift(c, &actor, &target, clock::now())?;
            Ok(target.computing_id)
        })
    })
    .await?;
    Ok(views::redirect_with(
        &back,
        false,
        &format!("{name}'s suspension is lifted."),
        state.config.is_https(),
    ))
}

struct AuditRow {
    when: String,
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

#[get("/admin/audit")]
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
    let rows = entries
        .into_iter()
        .map(|(e, actor)| AuditRow {
            when: e.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
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

struct ThreadLine {
    pseudonym: String,
    text: String,
    is_flagged_one: bool,
    indent: bool,
}

struct QueueRow {
    id: String,
    class_code: String,
    class_id: String,
    pseudonym: String,
    text: String,
    /// Reports waiting for review that count toward the automatic hide.
    counting: i32,
    /// Reports waiting for review, counting or not.
    waiting: usize,
    hidden: bool,
    deleted: bool,
    deleted_by_author: bool,
    reports: Vec<ReportLine>,
    versions: Vec<VersionLine>,
    posted: String,
    thread: Vec<ThreadLine>,
}

/// One report as a moderator sees it: never who made it.
struct ReportLine {
    reason: String,
    when: String,
    status: String,
    reviewed: bool,
}

/// One earlier version of a reported message's text.
struct VersionLine {
    text: String,
    shown: String,
    ended: &'static str,
}

fn queue_time(at: NaiveDateTime) -> String {
    at.format("%b %-d, %H:%M UTC").to_string()
}

fn report_line(report: &crate::chat::Report) -> ReportLine {
    let status = match (report.cleared_at, report.counted, report.reported_again_at) {
        (Some(at), _, _) => format!("already reviewed ({})", queue_time(at)),
        (None, true, _) => "counts toward hiding".to_string(),
        (None, false, Some(at)) => format!(
            "reported again after review ({}); does not count toward hiding",
            queue_time(at)
        ),
        (None, false, None) => {
            "from a newer member of the class; does not count toward hiding".to_string()
        }
    };
    ReportLine {
        reason: report
            .reason
            .clone()
            .unwrap_or_else(|| "(no reason given)".into()),
        when: queue_time(report.created_at),
        reviewed: report.cleared_at.is_some(),
        status,
    }
}

fn version_line(version: &crate::chat::MessageRevision) -> VersionLine {
    use crate::chat::RevisionEnd;
    VersionLine {
        text: version.content.clone(),
        shown: format!(
            "{} to {}",
            queue_time(version.written_at),
            queue_time(version.created_at)
        ),
        ended: match version.ended_by {
            RevisionEnd::Edit => "replaced by an edit",
            RevisionEnd::AuthorDelete => "deleted by author",
            RevisionEnd::Erasure => "removed when the author's account was erased",
        },
    }
}

#[derive(Template)]
#[template(path = "admin/flags.html")]
struct FlagsPage {
    layout: Layout,
    rows: Vec<QueueRow>,
}

fn shown_text(m: &crate::chat::ClassMessage) -> String {
    if m.deleted {
        "[deleted]".into()
    } else {
        m.content.clone()
    }
}

#[get("/admin/flags")]
pub async fn flags(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    let items = with_conn(&state.pool, |conn| {
        Ok(moderation::messages::flag_queue(conn, 50)?)
    })
    .await?;
    let rows = items
        .into_iter()
        .map(|item| QueueRow {
            id: item.message.id.to_string(),
            class_code: item.class_code,
            class_id: item.class_id.to_string(),
            pseudonym: item.message.anonymous_identifier.clone(),
            text: shown_text(&item.message),
            counting: item.message.flagged_count,
            waiting: item
                .reports
                .iter()
                .filter(|r| r.cleared_at.is_none())
                .count(),
            hidden: item.message.hidden,
            deleted: item.message.deleted,
            deleted_by_author: item.deleted_by_author,
            reports: item.reports.iter().map(report_line).collect(),
            versions: item.versions.iter().map(version_line).collect(),
            posted: queue_time(item.message.created_at),
            thread: item
                .thread
                .iter()
                .map(|t| ThreadLine {
                    pseudonym: t.anonymous_identifier.clone(),
                    text: shown_text(t),
                    is_flagged_one: t.id == item.message.id,
                    indent: t.parent_message_id.is_some(),
                })
                .collect(),
        })
        .collect();
    let body = FlagsPage {
        layout: staff_layout(&req, &staff, "admin-flags"),
        rows,
    }
    .render()?;
    Ok(views::page(body))
}

#[derive(Deserialize)]
pub struct MessageActionForm {
    csrf_token: String,
    reason: Option<String>,
}

#[post("/admin/messages/{id}/{action:hide|restore|delete}")]
pub async fn message_action(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<MessageActionForm>,
) -> Result<HttpResponse, AppError> {
    let current = staff_post(&req, &form.csrf_token).await?;
    let (id, action) = path.into_inner();
    let id = crate::chat::MessageId::parse(&id).ok_or(AppError::NotFound)?;
    let actor = current.user.id.clone();
    let reason = form.reason.clone();
    let act = action.clone();
    let message = with_conn(&state.pool, move |conn| {
        db::write_tx(conn, |c| {
            let now = clock::now();
            let r = reason.as_deref();
            match act.as_str() {
                "hide" => moderation::messages::hide(c, &actor, &id, r, now),
                "restore" => moderation::messages::restore(c, &actor, &id, r, now),
                _ => moderation::messages::delete(c, &actor, &id, r, now),
            }
        })
        .map_err(AppError::from)
    })
    .await?;
    let done = match action.as_str() {
        "hide" => "hidden from students",
        "restore" => "restored; its reports are kept as reviewed",
        _ => "deleted; it shows as [deleted]",
    };
    Ok(views::redirect_with(
        "/admin/flags",
        false,
        &format!("{}'s message is {done}.", message.anonymous_identifier),
        state.config.is_https(),
    ))
}

#[derive(Template)]
#[template(path = "admin/reveal.html")]
struct RevealPage {
    layout: Layout,
    pseudonym: String,
    text: String,
    reason: String,
    author: Option<moderation::messages::Author>,
}

#[derive(Deserialize)]
pub struct RevealForm {
    csrf_token: String,
    #[serde(default)]
    reason: String,
}

#[post("/admin/messages/{id}/reveal")]
pub async fn reveal(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<RevealForm>,
) -> Result<HttpResponse, AppError> {
    let current = staff_post(&req, &form.csrf_token).await?;
    let id = crate::chat::MessageId::parse(&path).ok_or(AppError::NotFound)?;
    let actor = current.user.id.clone();
    let reason = form.reason.clone();
    let (message, author, versions) = with_conn(&state.pool, move |conn| {
        let (message, author) = db::write_tx(conn, |c| {
            moderation::messages::reveal(c, &actor, &id, &reason, clock::now())
        })
        .map_err(AppError::from)?;
        // A message its author deleted while reported: its text is a kept version.
        let versions = if message.deleted {
            crate::chat::revisions::of_messages(conn, std::slice::from_ref(&message.id))?
        } else {
            Vec::new()
        };
        Ok((message, author, versions))
    })
    .await?;
    let text = match versions.last() {
        Some(last) => format!("{} ({})", last.content, version_line(last).ended),
        None => shown_text(&message),
    };
    let body = RevealPage {
        layout: Layout::new(&req, Some(&current)).at("admin"),
        pseudonym: message.anonymous_identifier.clone(),
        text,
        reason: form.reason.trim().to_string(),
        author,
    }
    .render()?;
    Ok(views::page(body))
}

struct RunRow {
    term: String,
    subjects: String,
    status: &'static str,
    started: String,
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

#[get("/admin/sis")]
pub async fn sis_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    let runs = with_conn(&state.pool, |conn| Ok(crate::sis::recent_runs(conn, 30)?)).await?;
    let rows = runs
        .iter()
        .map(|r| RunRow {
            term: r.term.clone(),
            subjects: if r.subjects.is_empty() {
                "all".into()
            } else {
                r.subjects.clone()
            },
            status: r.status.as_str(),
            started: r.started_at.format("%b %-d, %H:%M:%S UTC").to_string(),
            duration: r
                .finished_at
                .map(|f| {
                    format!(
                        "{:.1} s",
                        (f - r.started_at).num_milliseconds() as f64 / 1000.0
                    )
                })
                .unwrap_or_else(|| "running".into()),
            counts: format!(
                "{} added, {} changed, {} unchanged, {} deactivated; {} pages, {} retries",
                r.sections_added,
                r.sections_changed,
                r.sections_unchanged,
                r.sections_deactivated,
                r.pages_fetched,
                r.retries
            ),
            error: r.error.clone().unwrap_or_default(),
        })
        .collect();
    let running = runs
        .iter()
        .filter(|r| r.status == crate::sis::SyncStatus::Running)
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

#[post("/admin/sis/sync")]
pub async fn sync_now(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SyncForm>,
) -> Result<HttpResponse, AppError> {
    use crate::sis::sync::{self, SyncError, SyncRequest};
    let current = staff_post(&req, &form.csrf_token).await?;
    let secure = state.config.is_https();
    let request = match SyncRequest::parse(&form.term, &[], false) {
        Ok(r) => r,
        Err(e) => {
            return Ok(views::redirect_with(
                "/admin/sis",
                true,
                &e.to_string(),
                secure,
            ))
        }
    };
    let term = request.term.clone();
    let actor = current.user.id.clone();
    let audit_term = term.as_str().to_string();
    with_conn(&state.pool, move |conn| {
        Ok(moderation::record(
            conn,
            &moderation::NewAuditEntry {
                id: &AuditId::new(),
                actor_id: Some(&actor),
                action: AuditAction::SyncStarted.as_str(),
                target_type: "term",
                target_id: &audit_term,
                reason: None,
                details: None,
                created_at: clock::now(),
            },
        )?)
    })
    .await?;
    // The same job as the CLI, on its own thread, connection and runtime; the
    // lock row in the database keeps it one at a time across processes.
    let config = state.config.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let outcome = (|| -> anyhow::Result<Result<sync::SyncReport, SyncError>> {
            let mut conn = db::Manager::new(config.database.url.clone()).establish()?;
            let client = crate::sis::client::SisClient::new(
                crate::sis::client::ClientSettings::from_config(&config),
            )?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            Ok(sync::run(
                &mut conn,
                &client,
                runtime.handle(),
                &request,
                clock::now(),
                &sync::Quiet,
            ))
        })();
        match &outcome {
            Ok(Ok(report)) => {
                tracing::info!(summary = %report.summary(), "sync started from the admin page finished")
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "sync started from the admin page did not run")
            }
            Err(e) => tracing::error!(error = %e, "sync started from the admin page failed"),
        }
        let _ = tx.send(outcome.map_err(|e| e.to_string()));
    });
    // A moment to learn whether it started (or was refused, or already done).
    let message = match tokio::time::timeout(std::time::Duration::from_millis(1500), rx).await {
        Ok(Ok(Ok(Ok(report)))) => (
            false,
            format!("Sync of {term} finished: {}", report.summary()),
        ),
        Ok(Ok(Ok(Err(e @ SyncError::AlreadyRunning { .. })))) => (true, e.to_string()),
        Ok(Ok(Ok(Err(e)))) => (true, format!("The sync of {term} stopped: {e}")),
        Ok(Ok(Err(e))) => (true, format!("The sync of {term} could not start: {e}")),
        Ok(Err(_)) => (true, "The sync stopped unexpectedly; see the log.".into()),
        Err(_) => (
            false,
            format!("The sync of {term} is running; this page shows it below."),
        ),
    };
    Ok(views::redirect_with(
        "/admin/sis",
        message.0,
        &message.1,
        secure,
    ))
}
