//! The class page and its anonymous chat: reading, posting, replying, editing,
//! deleting and reporting messages. Handlers parse forms into `chat` types, call
//! the domain inside `web::block`, and render; every rule lives in `chat`.
//! Messages are addressed by message id only; no user id reaches a page or URL.

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use super::error::{chat_refusal, with_conn, AppError, Refusal};
use super::guard::{self, CurrentUser, SessionForm, SignedInForm};
use super::layout::Layout;
use super::state::AppState;
use crate::chat::{
    self, content, Body, ChatError, Cursor, Deletion, Draft, FlagReason, MessageBody, MessageId,
    MessageView, Rules, Segment,
};
use crate::classes::{Class, ClassId, ClassMeeting};
use crate::{clock, moderation};

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

#[derive(Template)]
#[template(path = "chat/refused.html")]
struct RefusedPage {
    layout: Layout,
    title: String,
    message: String,
    join_class_id: Option<String>,
}

/// The chat rules with this deployment's key, report settings and posting limit.
fn rules(state: &AppState) -> Rules {
    let mut rules = Rules::new(
        state.config.secret_key.expose(),
        state.config.flag_hide_threshold,
    );
    rules.posts_per_hour_anywhere = state.config.posts_per_hour;
    rules.report_min_membership =
        chrono::Duration::hours(i64::from(state.config.report_min_membership_hours));
    rules
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        // Per-student pages with form tokens: nothing in between may keep them.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// The class page address, on the page `before` names (if it is a real cursor),
/// scrolled to a message.
fn class_href(class_id: &ClassId, before: Option<&str>, anchor: Option<&MessageId>) -> String {
    let mut href = format!("/classes/{class_id}");
    if let Some(cursor) = before.and_then(Cursor::parse) {
        href.push_str("?before=");
        href.push_str(&cursor.encode());
    }
    if let Some(id) = anchor {
        href.push_str("#m-");
        href.push_str(id.as_str());
    }
    href
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
        let view = super::views::meeting_view(days, start, end, place);
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

/// Answers a refused chat action with the page or error `error::chat_refusal` chose.
fn answer_refusal(
    req: &HttpRequest,
    current: &CurrentUser,
    rules: &Rules,
    error: ChatError,
) -> Result<HttpResponse, AppError> {
    match chat_refusal(error, rules, clock::now()) {
        Refusal::Page {
            status,
            title,
            message,
            join_class_id,
        } => {
            let body = RefusedPage {
                layout: Layout::new(req, Some(current)),
                title: title.into(),
                message,
                join_class_id: join_class_id.as_ref().map(ClassId::to_string),
            }
            .render()?;
            Ok(html(status, body))
        }
        Refusal::Flash(message) => Err(AppError::BadRequest(message)),
        Refusal::Error(error) => Err(error),
    }
}

#[derive(Deserialize)]
pub struct PostForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    before: Option<String>,
}

impl SessionForm for PostForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }

    /// A signed-out poster signs in and comes back to the class's chat.
    fn when_signed_out(req: &HttpRequest) -> AppError {
        match ClassId::parse(req.match_info().query("id")) {
            Some(class_id) => AppError::SignInRequired {
                next: format!("/classes/{class_id}"),
            },
            None => AppError::NotFound,
        }
    }
}

/// Starts a thread, or replies to a message of the same class.
#[post("/classes/{id:[0-9a-f-]{36}}/messages")]
pub async fn post_message(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    SignedInForm(current, form): SignedInForm<PostForm>,
) -> Result<HttpResponse, AppError> {
    let class_id = ClassId::parse(&path).ok_or(AppError::NotFound)?;
    let parent_id = match form.parent_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(MessageId::parse(raw).ok_or_else(|| {
            AppError::BadRequest(
                "The message you replied to is not in this class's chat. Reload the class page and try again.".into(),
            )
        })?),
    };
    let body =
        MessageBody::parse(&form.content).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let rules = rules(&state);
    let author = current.user.clone();
    let (class, parent, domain_rules) = (class_id.clone(), parent_id.clone(), rules.clone());
    let result = with_conn(&state.pool, move |conn| {
        let draft = Draft {
            class_id: &class,
            parent_id: parent.as_ref(),
            body: &body,
        };
        Ok(chat::post(
            conn,
            &author,
            draft,
            &domain_rules,
            clock::now(),
        ))
    })
    .await?;
    match result {
        Ok(message) => Ok(see_other(class_href(
            &class_id,
            form.before.as_deref().filter(|_| parent_id.is_some()),
            Some(&message.id),
        ))),
        Err(error) => answer_refusal(&req, &current, &rules, error),
    }
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    before: Option<String>,
}

impl SessionForm for EditForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Replaces the text of the student's own message, within the edit window.
#[post("/messages/{id:[0-9a-f-]{36}}/edit")]
pub async fn edit_message(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    SignedInForm(current, form): SignedInForm<EditForm>,
) -> Result<HttpResponse, AppError> {
    // A suspended student may read, not rewrite what they said.
    guard::ensure_not_suspended(&current)?;
    let message_id = MessageId::parse(&path).ok_or(AppError::NotFound)?;
    let body =
        MessageBody::parse(&form.content).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let rules = rules(&state);
    let (editor, domain_rules) = (current.user.id.clone(), rules.clone());
    let result = with_conn(&state.pool, move |conn| {
        Ok(chat::edit(
            conn,
            &editor,
            &message_id,
            &body,
            &domain_rules,
            clock::now(),
        ))
    })
    .await?;
    match result {
        Ok(message) => Ok(see_other(class_href(
            &message.class_id,
            form.before.as_deref(),
            Some(&message.id),
        ))),
        Err(error) => answer_refusal(&req, &current, &rules, error),
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    before: Option<String>,
}

impl SessionForm for DeleteForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Deletes the student's own message (a placeholder stays if it has replies).
#[post("/messages/{id:[0-9a-f-]{36}}/delete")]
pub async fn delete_message(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    SignedInForm(current, form): SignedInForm<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let message_id = MessageId::parse(&path).ok_or(AppError::NotFound)?;
    let author = current.user.id.clone();
    let id = message_id.clone();
    let result = with_conn(&state.pool, move |conn| {
        let now = clock::now();
        Ok(chat::delete(conn, &author, &id, now, |conn, message| {
            moderation::messages::record_author_delete(conn, &author, message, now)
        }))
    })
    .await?;
    match result {
        Ok((class_id, Deletion::Placeholder)) => Ok(see_other(class_href(
            &class_id,
            form.before.as_deref(),
            Some(&message_id),
        ))),
        Ok((class_id, Deletion::Removed)) => Ok(see_other(class_href(
            &class_id,
            form.before.as_deref(),
            None,
        ))),
        Err(error) => answer_refusal(&req, &current, &rules(&state), error),
    }
}

#[derive(Deserialize)]
pub struct FlagForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    before: Option<String>,
}

impl SessionForm for FlagForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Reports a classmate's message; enough distinct reports hide it.
#[post("/messages/{id:[0-9a-f-]{36}}/flag")]
pub async fn flag_message(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    SignedInForm(current, form): SignedInForm<FlagForm>,
) -> Result<HttpResponse, AppError> {
    guard::ensure_not_suspended(&current)?;
    let message_id = MessageId::parse(&path).ok_or(AppError::NotFound)?;
    let reason = FlagReason::parse(form.reason.as_deref())
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let rules = rules(&state);
    let (flagger, id, domain_rules) = (current.user.id.clone(), message_id.clone(), rules.clone());
    let result = with_conn(&state.pool, move |conn| {
        Ok(chat::flag(
            conn,
            &flagger,
            &id,
            &reason,
            &domain_rules,
            clock::now(),
        ))
    })
    .await?;
    match result {
        Ok((class_id, _)) => Ok(see_other(class_href(
            &class_id,
            form.before.as_deref(),
            Some(&message_id),
        ))),
        Err(error) => answer_refusal(&req, &current, &rules, error),
    }
}

/// Registers this area's pages on the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(show_class)
        .service(post_message)
        .service(edit_message)
        .service(delete_message)
        .service(flag_message);
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
