//! The report queue, and what moderators do to a message: hide, restore,
//! delete, or reveal its author (with a logged reason).

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use super::staff_layout;
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

#[get("/flags")]
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

impl SessionForm for RevealForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

#[post("/messages/{id}/reveal")]
pub async fn reveal(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    StaffForm(current, form): StaffForm<RevealForm>,
) -> Result<HttpResponse, AppError> {
    let id = crate::chat::MessageId::parse(&path).ok_or(AppError::NotFound)?;
    let actor = current.user.id.clone();
    let reason = form.reason.clone();
    let (message, author, versions) = with_conn(&state.pool, move |conn| {
        let (message, author) =
            moderation::messages::reveal(conn, &actor, &id, &reason, clock::now())?;
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
