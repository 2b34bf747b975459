//! A class's chat as staff read it without joining: threads by latest activity
//! with every message, by pseudonym, hidden and held ones marked; no compose,
//! vote, report or edit forms. Each shown or hidden message has hide (or
//! restore), remove and ask to reveal, posting to the queue's audited
//! endpoints, so a post complained of outside the app can be acted on; they
//! come back to this page, at the message. Deciding a reports' hide ("Keep
//! hidden"), urgent reveals and held posts stay with the queue's cards.
//! Each opening is audited (`view_class`).

use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::staff_layout;
use crate::campus_time::Stamp;
use crate::chat::{ChatError, Cursor};
use crate::classes::ClassId;
use crate::clock;
use crate::moderation;
use crate::web::error::{with_conn, AppError};
use crate::web::guard::Staff;
use crate::web::layout::Layout;
use crate::web::state::AppState;
use crate::web::views;

struct MessageLine {
    id: String,
    pseudonym: String,
    text: String,
    deleted: bool,
    hidden: bool,
    held: bool,
    edited: bool,
    posted: Stamp,
    indent: usize,
    depth: usize,
    /// Whom a reply answers: said to a screen reader, and shown past the
    /// last indent, as on the students' page.
    replying_to: Option<String>,
}

struct ThreadBlock {
    pinned: bool,
    /// A Pin on top or Unpin button (`StaffThread::offers_pin`).
    offers_pin: bool,
    last_activity: Stamp,
    replies: usize,
    messages: Vec<MessageLine>,
}

#[derive(Template)]
#[template(path = "admin/class.html")]
struct ClassReadPage {
    layout: Layout,
    class_id: String,
    /// This page's own address, for the pin forms to come back to.
    here: String,
    /// Where the staff actions come back to: this class, at this page.
    back: String,
    /// The hide and remove forms' reason categories.
    categories: Vec<super::flags::CategoryChoice>,
    class_code: String,
    class_title: String,
    section: String,
    threads: Vec<ThreadBlock>,
    older_href: Option<String>,
}

/// "Open this class's chat?": for a reading asked from another site.
#[derive(Template)]
#[template(path = "admin/class_open.html")]
struct OpenFirstPage {
    layout: Layout,
    href: String,
}

#[derive(Deserialize)]
pub struct ClassReadQuery {
    before: Option<String>,
}

#[get("/classes/{id}")]
pub async fn read_class(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    query: web::Query<ClassReadQuery>,
) -> Result<HttpResponse, AppError> {
    let class_id = ClassId::parse(&path).ok_or(AppError::NotFound)?;
    // Each reading writes an audit row in the reader's name: a link on
    // another site must not write one (it would forge "X read this class").
    if crate::web::guard::from_another_site(&req) {
        let body = OpenFirstPage {
            layout: staff_layout(&req, &staff, "admin-classes"),
            href: format!("/admin/classes/{class_id}"),
        }
        .render()?;
        return Ok(views::page(body));
    }
    let before = match query.before.as_deref().filter(|b| !b.is_empty()) {
        None => None,
        Some(raw) => Some(
            Cursor::parse(raw)
                .filter(|c| c.fits(crate::chat::threads::Sort::Activity))
                .ok_or_else(|| {
                    AppError::BadRequest(
                        "This page link is broken. Open the class again to see its latest threads."
                            .into(),
                    )
                })?,
        ),
    };
    let page_cursor = before.clone();
    let rules = crate::web::chat::rules(&state);
    let actor = staff.0.user.id.clone();
    let id = class_id.clone();
    let page = with_conn(&state.pool, move |conn| {
        moderation::class_reads::read_class(
            conn,
            &actor,
            &id,
            before.as_ref(),
            &rules,
            clock::now(),
        )
        .map_err(|e| match e {
            ChatError::ClassNotFound => AppError::NotFound,
            other => AppError::Internal(other.into()),
        })
    })
    .await?;
    let (campus, now) = (state.config.campus_time, clock::now());
    let threads = page
        .threads
        .into_iter()
        .map(|t| ThreadBlock {
            pinned: t.pinned,
            offers_pin: t.offers_pin(),
            last_activity: campus.stamp(t.last_activity_at, now),
            replies: t.messages.len().saturating_sub(1),
            messages: t
                .messages
                .into_iter()
                .map(|m| MessageLine {
                    id: m.id.to_string(),
                    pseudonym: m.pseudonym.unwrap_or_else(|| "[deleted]".into()),
                    text: m.text,
                    deleted: m.deleted,
                    hidden: m.hidden,
                    held: m.held,
                    edited: m.edited,
                    posted: campus.stamp(m.created_at, now),
                    indent: m.indent,
                    depth: m.depth,
                    replying_to: m.replying_to,
                })
                .collect(),
        })
        .collect();
    let body = ClassReadPage {
        layout: staff_layout(&req, &staff, "admin-classes"),
        class_id: class_id.to_string(),
        here: match &page_cursor {
            Some(cursor) => format!("/admin/classes/{class_id}?before={}", cursor.encode()),
            None => format!("/admin/classes/{class_id}"),
        },
        back: match &page_cursor {
            Some(cursor) => format!("class:{class_id}?before={}", cursor.encode()),
            None => format!("class:{class_id}"),
        },
        categories: super::flags::category_choices(),
        class_code: page.class.code(),
        class_title: page.class.title.clone().unwrap_or_default(),
        section: page
            .class
            .class_section
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_default(),
        threads,
        older_href: page
            .older
            .map(|c| format!("/admin/classes/{class_id}?before={}", c.encode())),
    }
    .render()?;
    Ok(views::page(body))
}
