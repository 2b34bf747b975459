//! The audit log, filtered by actor and action, newest first.

use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;
use std::collections::HashMap;

use chrono::NaiveDateTime;
use serde::Deserialize;

use super::staff_layout;
use crate::accounts::UserId;
use crate::campus_time::Stamp;
use crate::moderation::audit_targets::{self, MessageTarget};
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
    target: Target,
    reason: String,
    details: String,
}

/// What a row is about, in words, and where to look at it.
struct Target {
    /// "CS 2100 (001)", "mst3k", "term 1262", or words for something gone.
    name: String,
    /// A message's first words (empty for anything else).
    words: String,
    href: Option<String>,
}

/// The log's wording of every action, as a sentence's verb phrase.
pub fn action_label(action: AuditAction) -> &'static str {
    match action {
        AuditAction::Hide => "hid a message",
        AuditAction::Restore => "restored a message",
        AuditAction::Delete => "deleted a message",
        AuditAction::Reveal => "revealed a message's author",
        AuditAction::Suspend => "suspended a user",
        AuditAction::LiftSuspension => "lifted a suspension",
        AuditAction::RoleChange => "changed a role",
        AuditAction::SyncStarted => "started an SIS sync",
        AuditAction::AuthorDelete => "deleted their reported message",
        AuditAction::Pin => "pinned a thread",
        AuditAction::Unpin => "unpinned a thread",
        AuditAction::MarkAnswer => "marked a thread's answer",
        AuditAction::UnmarkAnswer => "unmarked a thread's answer",
        AuditAction::Dismiss => "dismissed a message's reports",
        AuditAction::ViewClass => "read a class's chat",
        AuditAction::RevealRequest => "asked to reveal a message's author",
        AuditAction::RevealApprove => "approved a reveal",
        AuditAction::RevealDecline => "declined a reveal",
        AuditAction::RevealUrgent => "revealed an author alone (urgent)",
        AuditAction::Release => "released a held message",
        AuditAction::ExportData => "exported a student's data",
        AuditAction::EraseAccount => "erased a student's account",
        AuditAction::ClearDisplayName => "removed a display name",
        AuditAction::EndNameWait => "ended a removed name's wait",
    }
}

/// What an entry is about. Messages and classes link to the class read as
/// staff (never the message's author), users to their user page.
fn target(
    entry: &moderation::AuditEntry,
    messages: &HashMap<String, MessageTarget>,
    classes: &HashMap<String, String>,
    users: &HashMap<String, String>,
) -> Target {
    let plain = |name: String, href: Option<String>| Target {
        name,
        words: String::new(),
        href,
    };
    let target_id = entry.target_id.as_str();
    let class_href = entry
        .class_id
        .as_ref()
        .map(|c| format!("/admin/classes/{c}"));
    match entry.target_type.as_str() {
        "message" => match messages.get(target_id) {
            Some(m) => Target {
                name: m.class.clone(),
                words: m.first_words.clone(),
                href: class_href.or_else(|| Some("/admin/flags".into())),
            },
            None => plain("a message no longer stored".into(), None),
        },
        "class" => match classes.get(target_id) {
            Some(code) => plain(code.clone(), class_href),
            None => plain("a class no longer listed".into(), None),
        },
        "user" => match users.get(target_id) {
            Some(cid) => plain(cid.clone(), Some(format!("/admin/users/{target_id}"))),
            // The erasure's own entry keeps its id, which names no one while
            // the account is gone: after a restore from an older snapshot,
            // the runbook erases each again. No other entry shows it: the id
            // would tie the erasure (and the authorless evidence it left) to
            // what earlier entries said of the account while it had a name.
            None if entry.action == AuditAction::EraseAccount => {
                plain(format!("a deleted account, id {target_id}"), None)
            }
            None => plain("a deleted account".into(), None),
        },
        "term" => plain(format!("term {target_id}"), Some("/admin/sis".into())),
        other => plain(format!("{other} {target_id}"), None),
    }
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    layout: Layout,
    rows: Vec<AuditRow>,
    actor: String,
    action: String,
    actions: Vec<(&'static str, &'static str)>,
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
    let actor_for_query =
        moderation::users::login_key(&actor_text, &state.config.sign_in.allowed_email_domains);
    let entries = with_conn(&state.pool, move |conn| {
        let actor: Option<UserId> = if actor_for_query.is_empty() {
            None
        } else {
            match moderation::users::find_by_login(conn, &actor_for_query)? {
                Some(u) => Some(u.id),
                None => return Ok((Vec::new(), HashMap::new(), HashMap::new(), HashMap::new())),
            }
        };
        let entries = moderation::page(conn, actor.as_ref(), action, before, AUDIT_PAGE)?;
        // One batched lookup per kind of target, whatever the page holds.
        let ids_of = |kind: &str| -> Vec<String> {
            entries
                .iter()
                .filter(|(e, _)| e.target_type == kind)
                .map(|(e, _)| e.target_id.clone())
                .collect()
        };
        let messages = audit_targets::messages(conn, &ids_of("message"))?;
        let classes = audit_targets::classes(conn, &ids_of("class"))?;
        let users = audit_targets::users(conn, &ids_of("user"))?;
        Ok((entries, messages, classes, users))
    })
    .await?;
    let (entries, messages, classes, users) = entries;
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
            target: target(&e, &messages, &classes, &users),
            when: campus.exact(e.created_at),
            actor: match (&e.actor_id, actor) {
                // The author of an anonymous message: only a reveal says who.
                _ if e.action == AuditAction::AuthorDelete => {
                    "its author (a reveal names them)".into()
                }
                (Some(_), Some(cid)) => cid,
                // An automatic hide: no one person did it, and no reporter is named.
                (None, _) if e.category.as_deref() == Some(moderation::messages::BY_REPORTS) => {
                    "students' reports (automatic)".into()
                }
                (None, _) if e.action == AuditAction::RoleChange => {
                    "command line or deleted account".into()
                }
                (None, _)
                    if matches!(
                        e.action,
                        AuditAction::ExportData | AuditAction::EraseAccount
                    ) =>
                {
                    "command line".into()
                }
                _ => "deleted account".into(),
            },
            action: action_label(e.action),
            reason: e.reason.unwrap_or_default(),
            details: match e.details {
                // "<pseudonym> in class <id>": the class is in the target now.
                Some(d) if e.target_type == "message" => match d.split_once(" in class ") {
                    Some((pseudonym, _)) => format!("as {pseudonym}"),
                    None => d,
                },
                d => d.unwrap_or_default(),
            },
        })
        .collect();
    let body = AuditPage {
        layout: staff_layout(&req, &staff, "admin-audit"),
        rows,
        actor: actor_text,
        action: action_text,
        actions: AuditAction::ALL
            .iter()
            .map(|a| (a.as_str(), action_label(*a)))
            .collect(),
        older_href,
    }
    .render()?;
    Ok(views::page(body))
}
