//! The report queue, and what moderators do to a message: hide, restore,
//! delete, or ask to reveal its author (`reveals`: a second staff member decides).

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::staff_layout;
use crate::campus_time::{CampusTime, Stamp};
use crate::clock;
use crate::moderation;
use crate::web::error::{with_conn, AppError};
use crate::web::guard::{SessionForm, Staff, StaffForm};
use crate::web::layout::Layout;
use crate::web::state::AppState;
use crate::web::views::{self, FlashRedirect};

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
    posted: Stamp,
    thread: Vec<ThreadLine>,
}

/// One report as a moderator sees it: never who made it.
struct ReportLine {
    reason: String,
    when: Stamp,
    /// Where the report stands: words, the time they refer to, and more words.
    status: &'static str,
    status_at: Option<Stamp>,
    status_tail: &'static str,
    reviewed: bool,
}

/// One earlier version of a reported message's text.
struct VersionLine {
    text: String,
    written: Stamp,
    replaced: Stamp,
    ended: &'static str,
}

/// The times a moderator reads in the queue, in campus time.
#[derive(Clone, Copy)]
struct QueueTime {
    campus: CampusTime,
    now: chrono::NaiveDateTime,
}

impl QueueTime {
    fn at(&self, at: chrono::NaiveDateTime) -> Stamp {
        self.campus.stamp(at, self.now)
    }
}

fn report_line(time: QueueTime, report: &crate::chat::Report) -> ReportLine {
    let (status, status_at, status_tail) =
        match (report.cleared_at, report.counted, report.reported_again_at) {
            (Some(at), _, _) => ("already reviewed", Some(time.at(at)), ""),
            (None, true, _) => ("counts toward hiding", None, ""),
            (None, false, Some(at)) => (
                "reported again after review",
                Some(time.at(at)),
                "; does not count toward hiding",
            ),
            (None, false, None) => (
                "from a newer member of the class; does not count toward hiding",
                None,
                "",
            ),
        };
    ReportLine {
        reason: report
            .reason
            .clone()
            .unwrap_or_else(|| "(no reason given)".into()),
        when: time.at(report.created_at),
        reviewed: report.cleared_at.is_some(),
        status,
        status_at,
        status_tail,
    }
}

fn version_line(time: QueueTime, version: &crate::chat::MessageRevision) -> VersionLine {
    VersionLine {
        text: version.content.clone(),
        written: time.at(version.written_at),
        replaced: time.at(version.created_at),
        ended: how_it_ended(version),
    }
}

/// Why a kept version stopped being shown.
fn how_it_ended(version: &crate::chat::MessageRevision) -> &'static str {
    use crate::chat::RevisionEnd;
    match version.ended_by {
        RevisionEnd::Edit => "replaced by an edit",
        RevisionEnd::AuthorDelete => "deleted by author",
        RevisionEnd::Erasure => "removed when the author's account was erased",
    }
}

/// A held message as the queue shows it: its text, its class and why it was held.
struct HeldRow {
    id: String,
    class_code: String,
    class_id: String,
    pseudonym: String,
    text: String,
    reason: String,
    posted: Stamp,
}

#[derive(Template)]
#[template(path = "admin/flags.html")]
struct FlagsPage {
    layout: Layout,
    rows: Vec<QueueRow>,
    /// The reveal form offers "urgent" (admins only).
    may_mark_urgent: bool,
    /// Nobody else could approve a reveal: the form says so.
    only_staff: Option<&'static str>,
    /// Posts that name a person, waiting to be released or removed.
    held: Vec<HeldRow>,
}

fn shown_text(m: &crate::chat::ClassMessage) -> String {
    if m.deleted {
        "[deleted]".into()
    } else {
        m.content.clone()
    }
}

#[get("/flags")]
pub async fn flags(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    let (items, held, staff_members) = with_conn(&state.pool, |conn| {
        Ok((
            moderation::messages::flag_queue(conn, 50)?,
            moderation::messages::held_queue(conn, 50)?,
            moderation::reveals::staff_members(conn)?,
        ))
    })
    .await?;
    let time = QueueTime {
        campus: state.config.campus_time,
        now: clock::now(),
    };
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
            reports: item.reports.iter().map(|r| report_line(time, r)).collect(),
            versions: item
                .versions
                .iter()
                .map(|v| version_line(time, v))
                .collect(),
            posted: time.at(item.message.created_at),
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
    let held = held
        .into_iter()
        .map(|item| HeldRow {
            id: item.message.id.to_string(),
            class_code: item.class_code,
            class_id: item.class_id.to_string(),
            pseudonym: item.message.anonymous_identifier.clone(),
            text: item.message.content.clone(),
            reason: item.message.held_reason.clone().unwrap_or_default(),
            posted: time.at(item.message.created_at),
        })
        .collect();
    let body = FlagsPage {
        layout: staff_layout(&req, &staff, "admin-flags"),
        rows,
        may_mark_urgent: super::reveals::may_mark_urgent(staff.0.user.role),
        only_staff: (staff_members <= 1).then_some(super::reveals::ONLY_STAFF),
        held,
    }
    .render()?;
    Ok(views::page(body))
}

#[derive(Deserialize)]
pub struct MessageActionForm {
    csrf_token: String,
    reason: Option<String>,
}

impl SessionForm for MessageActionForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

#[post("/messages/{id}/{action:hide|restore|delete}")]
pub async fn message_action(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    StaffForm(current, form): StaffForm<MessageActionForm>,
) -> Result<FlashRedirect, AppError> {
    let (id, action) = path.into_inner();
    let id = crate::chat::MessageId::parse(&id).ok_or(AppError::NotFound)?;
    let actor = current.user.id.clone();
    let reason = form.reason.clone();
    let act = action.clone();
    let message = with_conn(&state.pool, move |conn| {
        let now = clock::now();
        let r = reason.as_deref();
        Ok(match act.as_str() {
            "hide" => moderation::messages::hide(conn, &actor, &id, r, now),
            "restore" => moderation::messages::restore(conn, &actor, &id, r, now),
            _ => moderation::messages::delete(conn, &actor, &id, r, now),
        }?)
    })
    .await?;
    let done = match action.as_str() {
        "hide" => "hidden from students",
        "restore" => "restored; its reports are kept as reviewed",
        _ => "deleted; it shows as [deleted]",
    };
    Ok(FlashRedirect::done(
        "/admin/flags",
        format!("{}'s message is {done}.", message.anonymous_identifier),
    ))
}

#[derive(Deserialize)]
pub struct ReleaseForm {
    csrf_token: String,
}

impl SessionForm for ReleaseForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Releases a held message to its class (audited as `release`).
#[post("/messages/{id}/release")]
pub async fn release_message(
    state: web::Data<AppState>,
    path: web::Path<String>,
    StaffForm(current, _form): StaffForm<ReleaseForm>,
) -> Result<FlashRedirect, AppError> {
    let id = crate::chat::MessageId::parse(&path).ok_or(AppError::NotFound)?;
    let actor = current.user.id.clone();
    let message = with_conn(&state.pool, move |conn| {
        Ok(moderation::messages::release(
            conn,
            &actor,
            &id,
            clock::now(),
        )?)
    })
    .await?;
    Ok(FlashRedirect::done(
        "/admin/flags",
        format!(
            "{}'s message is released: the class sees it now.",
            message.anonymous_identifier
        ),
    ))
}
