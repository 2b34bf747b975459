//! The class page: the section's details for anyone signed in, and its chat
//! (threads, a page of older messages at a time) for students who take it.

use actix_web::http::StatusCode;
use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use super::{html, rules};
use crate::chat::{self, content, Body, ChatError, Cursor, MessageView, Segment};
use crate::classes::{Class, ClassId, ClassMeeting};
use crate::clock;
use crate::web::error::{with_conn, AppError};
use crate::web::guard::CurrentUser;
use crate::web::layout::Layout;
use crate::web::state::AppState;

/// A section's details, as both versions of the class page show them.
struct ClassHeader {
    id: String,
    term: String,
    code: String,
    title: String,
    facts: Vec<String>,
    description: Option<String>,
    meetings: Vec<MeetingRow>,
    active: bool,
    /// "12 students": how many added the section. A count only; members are never listed.
    members: String,
}

struct MeetingRow {
    days: String,
    time: String,
    location: String,
    instructor: String,
}

struct MessageRow {
    id: String,
    pseudonym: Option<String>,
    segments: Vec<Segment>,
    /// The raw text, for the edit form (own messages only).
    edit_text: String,
    deleted: bool,
    hidden: bool,
    mine: bool,
    edited: bool,
    posted: String,
    posted_iso: String,
    indent: usize,
    replying_to: Option<String>,
    flagged_by_me: bool,
    can_reply: bool,
    can_edit: bool,
    can_delete: bool,
    can_flag: bool,
}

struct ThreadRows {
    messages: Vec<MessageRow>,
}

#[derive(Template)]
#[template(path = "chat/show.html")]
struct ShowClassPage {
    layout: Layout,
    class: ClassHeader,
    friends: Vec<String>,
    threads: Vec<ThreadRows>,
    /// The cursor of this page, carried by its forms so a student lands back on it.
    before: String,
    older_href: Option<String>,
    newest: bool,
    max_chars: usize,
}

#[derive(Template)]
#[template(path = "chat/join.html")]
struct JoinClassPage {
    layout: Layout,
    class: ClassHeader,
    friends: Vec<String>,
}

fn format_time(at: NaiveDateTime) -> String {
    at.format("%b %-d, %H:%M UTC").to_string()
}

fn term_name(term: &str) -> String {
    crate::classes::Term::parse(term)
        .map(|t| t.name())
        .unwrap_or_else(|| format!("Term {term}"))
}

fn header_of(class: &Class, meetings: &[ClassMeeting]) -> ClassHeader {
    let mut facts = Vec::new();
    if let Some(section) = class.class_section.as_deref().filter(|s| !s.is_empty()) {
        let kind = class.component.as_deref().unwrap_or("Section");
        facts.push(format!("{kind} {section}"));
    }
    facts.push(term_name(&class.term));
    if let Some(instructor) = class.instructor.as_deref().filter(|s| !s.is_empty()) {
        facts.push(instructor.to_string());
    }
    if let Some(number) = class.sis_class_number.as_deref().filter(|s| !s.is_empty()) {
        facts.push(format!("Class number {number}"));
    }
    let row = |days: Option<&str>,
               start: Option<&str>,
               end: Option<&str>,
               place: Option<&str>,
               who: Option<&str>| {
        let view = crate::web::views::meeting_view(days, start, end, place);
        MeetingRow {
            days: view.days,
            time: view.time,
            location: view.place.unwrap_or_else(|| "Place to be announced".into()),
            instructor: who
                .filter(|w| !w.trim().is_empty())
                .unwrap_or_default()
                .to_string(),
        }
    };
    let mut rows: Vec<MeetingRow> = meetings
        .iter()
        .map(|m| {
            row(
                m.days.as_deref(),
                m.start_time.as_deref(),
                m.end_time.as_deref(),
                m.location.as_deref(),
                m.instructor.as_deref(),
            )
        })
        .collect();
    // Sections synced before meetings were kept separately carry one on the class.
    if rows.is_empty() && (class.days.is_some() || class.location.is_some()) {
        rows.push(row(
            class.days.as_deref(),
            class.start_time.as_deref(),
            class.end_time.as_deref(),
            class.location.as_deref(),
            None,
        ));
    }
    ClassHeader {
        id: class.id.to_string(),
        term: class.term.clone(),
        code: class.code(),
        title: class.title.clone().unwrap_or_default(),
        facts,
        description: class.description.clone().filter(|d| !d.trim().is_empty()),
        meetings: rows,
        active: class.active,
        members: String::new(),
    }
}

fn row_of(view: MessageView) -> MessageRow {
    let (segments, edit_text, deleted, hidden) = match view.body {
        Body::Text(text) => (content::segments(&text), text, false, false),
        Body::Deleted => (Vec::new(), String::new(), true, false),
        Body::Hidden => (Vec::new(), String::new(), false, true),
    };
    MessageRow {
        id: view.id.to_string(),
        pseudonym: view.pseudonym,
        segments,
        edit_text: if view.can_edit {
            edit_text
        } else {
            String::new()
        },
        deleted,
        hidden,
        mine: view.mine,
        edited: view.edited,
        posted: format_time(view.created_at),
        posted_iso: view.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        indent: view.indent,
        replying_to: view.replying_to,
        flagged_by_me: view.flagged_by_me,
        can_reply: view.can_reply,
        can_edit: view.can_edit,
        can_delete: view.can_delete,
        can_flag: view.can_flag,
    }
}

#[derive(Deserialize)]
pub struct PageQuery {
    before: Option<String>,
}

/// The class page: details and meetings for anyone signed in; the chat only for
/// students who take the class.
// Stays whole: one read of the page (class, messages, friends, members) then one render, in the order the page shows them.
#[get("/classes/{id:[0-9a-f-]{36}}")]
pub async fn show_class(
    req: HttpRequest,
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let class_id = ClassId::parse(&path).ok_or(AppError::NotFound)?;
    let before = match query.before.as_deref().filter(|b| !b.is_empty()) {
        None => None,
        Some(raw) => Some(Cursor::parse(raw).ok_or_else(|| {
            AppError::BadRequest(
                "This page link is broken. Open the class again to see its newest messages.".into(),
            )
        })?),
    };
    let rules = rules(&state);
    let viewer = current.user.id.clone();
    let viewer_user = current.user.clone();
    let cursor = before.clone();
    let (page, friends, members) = with_conn(&state.pool, move |conn| {
        let page = chat::class_page(
            conn,
            &viewer,
            &class_id,
            cursor.as_ref(),
            &rules,
            clock::now(),
        )
        .map_err(|e| match e {
            ChatError::ClassNotFound => AppError::NotFound,
            other => AppError::Internal(other.into()),
        })?;
        // Friends are named here, beside the chat, never inside it.
        let friends: Vec<String> = crate::friends::friends_in_classes(
            conn,
            &viewer_user,
            std::slice::from_ref(&class_id),
        )?
        .remove(&class_id)
        .unwrap_or_default()
        .into_iter()
        .map(|f| f.label())
        .collect();
        let members = crate::classes::member_count(conn, &class_id)?;
        Ok((page, friends, members))
    })
    .await?;
    let layout = Layout::new(&req, Some(&current));
    let mut class = header_of(&page.class, &page.meetings);
    class.members = students(members);
    let Some(chat_page) = page.chat else {
        let body = JoinClassPage {
            layout,
            class,
            friends,
        }
        .render()?;
        return Ok(html(StatusCode::OK, body));
    };
    let older_href = chat_page
        .older
        .as_ref()
        .map(|c| format!("/classes/{}?before={}", page.class.id, c.encode()));
    let body = ShowClassPage {
        layout,
        class,
        friends,
        threads: chat_page
            .threads
            .into_iter()
            .map(|t| ThreadRows {
                messages: t.messages.into_iter().map(row_of).collect(),
            })
            .collect(),
        before: before.map(|c| c.encode()).unwrap_or_default(),
        older_href,
        newest: chat_page.newest,
        max_chars: content::MAX_CHARS,
    }
    .render()?;
    Ok(html(StatusCode::OK, body))
}

/// "1 student", "12 students".
fn students(n: i64) -> String {
    if n == 1 {
        "1 student".into()
    } else {
        format!("{n} students")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sis_terms_read_as_seasons() {
        assert_eq!(term_name("1262"), "Spring 2026");
        assert_eq!(term_name("1258"), "Fall 2025");
        assert_eq!(term_name("1266"), "Summer 2026");
        assert_eq!(term_name("9999"), "Term 9999");
    }
}
