//! The class page and its anonymous chat: reading, posting, replying, editing,
//! deleting and reporting messages. Handlers parse forms into `chat` types, call
//! the domain inside `web::block`, and render; every rule lives in `chat`.
//! Messages are addressed by message id only; no user id reaches a page or URL.

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use super::error::{with_conn, AppError};
use super::guard::{self, CurrentUser};
use super::layout::Layout;
use super::server::AppState;
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
        state.config.chat.flag_hide_threshold,
    );
    rules.posts_per_hour_anywhere = state.config.chat.posts_per_hour;
    rules.report_min_membership =
        chrono::Duration::hours(i64::from(state.config.chat.report_min_membership_hours));
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

/// "in 4 seconds", "in about 12 minutes", "in about 3 hours".
fn wait_phrase(retry_at: NaiveDateTime, now: NaiveDateTime) -> String {
    let secs = (retry_at - now).num_seconds().max(1);
    match secs {
        1 => "in 1 second".into(),
        2..=90 => format!("in {secs} seconds"),
        91..=5400 => format!("in about {} minutes", (secs + 59) / 60),
        _ => format!("in about {} hours", (secs + 3599) / 3600),
    }
}

fn limited(why: &str, retry_at: NaiveDateTime) -> AppError {
    let now = clock::now();
    AppError::TooManyRequests {
        message: format!(
            "{why} Try again after {} UTC ({}). Nothing was saved.",
            retry_at.format("%b %-d, %H:%M:%S"),
            wait_phrase(retry_at, now)
        ),
        retry_after_secs: (retry_at - now).num_seconds().max(1),
    }
}

fn refused(
    req: &HttpRequest,
    current: &CurrentUser,
    status: StatusCode,
    title: &str,
    message: String,
    join_class_id: Option<&ClassId>,
) -> Result<HttpResponse, AppError> {
    let body = RefusedPage {
        layout: Layout::new(req, Some(current)),
        title: title.into(),
        message,
        join_class_id: join_class_id.map(ClassId::to_string),
    }
    .render()?;
    Ok(html(status, body))
}

/// Turns a refused chat action into the page that says why (and when to retry).
fn answer_refusal(
    req: &HttpRequest,
    current: &CurrentUser,
    rules: &Rules,
    error: ChatError,
) -> Result<HttpResponse, AppError> {
    let interval = rules.post_interval.num_seconds();
    Err(match error {
        ChatError::ClassNotFound | ChatError::MessageNotFound => AppError::NotFound,
        ChatError::NotEnrolled { class_id } => {
            return refused(
                req,
                current,
                StatusCode::FORBIDDEN,
                "Join this class first",
                "Only students who added this class can read and write in its chat. Join the class, then try again.".into(),
                Some(&class_id),
            )
        }
        ChatError::Suspended { until } => {
            return refused(
                req,
                current,
                StatusCode::FORBIDDEN,
                "Your account is suspended",
                format!(
                    "You cannot post while your account is suspended. The suspension ends {} UTC; you can post again after that.",
                    until.format("%b %-d, %Y at %H:%M")
                ),
                None,
            )
        }
        ChatError::NotYours => {
            return refused(
                req,
                current,
                StatusCode::FORBIDDEN,
                "That is not your message",
                "You can edit or delete only messages you wrote. To raise a problem with someone else's message, report it.".into(),
                None,
            )
        }
        ChatError::Content(problem) => AppError::BadRequest(problem.to_string()),
        ChatError::ParentNotInClass => AppError::BadRequest(
            "The message you replied to is not in this class's chat; it may have just been deleted. Reload the class page and try again.".into(),
        ),
        ChatError::ParentRemoved => AppError::BadRequest(
            "The message you replied to was deleted or hidden, so it cannot take replies. Start a new thread instead.".into(),
        ),
        ChatError::Duplicate { retry_at } => limited(
            "You posted this same text in this class less than 5 minutes ago. Change the message, or wait to repeat it.",
            retry_at,
        ),
        ChatError::TooFast { retry_at } => limited(
            &format!("You can post once every {interval} seconds in a class."),
            retry_at,
        ),
        ChatError::HourlyLimit { retry_at } => limited(
            &format!(
                "You can post at most {} messages an hour in a class.",
                rules.posts_per_hour
            ),
            retry_at,
        ),
        ChatError::HourlyLimitAnywhere { retry_at } => limited(
            &format!(
                "You can post at most {} messages an hour across all your classes.",
                rules.posts_per_hour_anywhere
            ),
            retry_at,
        ),
        ChatError::EditWindowClosed => AppError::BadRequest(format!(
            "Messages can be edited for {} minutes after posting, and this one is older. You can still delete it.",
            rules.edit_window.num_minutes()
        )),
        ChatError::Removed => AppError::BadRequest(
            "That message was deleted or hidden, so it can no longer be changed or reported.".into(),
        ),
        ChatError::OwnMessage => AppError::BadRequest(
            "You cannot report your own message. You can delete it instead.".into(),
        ),
        ChatError::FlagLimit { retry_at } => limited(
            &format!(
                "You can report at most {} messages a day.",
                rules.flags_per_day
            ),
            retry_at,
        ),
        ChatError::Db(error) => AppError::Internal(error.into()),
    })
}

/// A POST's session, or a sign-in redirect back to `next`.
async fn poster(
    req: &HttpRequest,
    csrf_token: &str,
    next: String,
) -> Result<CurrentUser, AppError> {
    match guard::verify_session_csrf(req, csrf_token).await {
        Err(AppError::SignInRequired { .. }) => Err(AppError::SignInRequired { next }),
        other => other,
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

/// Starts a thread, or replies to a message of the same class.
#[post("/classes/{id:[0-9a-f-]{36}}/messages")]
pub async fn post_message(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<PostForm>,
) -> Result<HttpResponse, AppError> {
    let class_id = ClassId::parse(&path).ok_or(AppError::NotFound)?;
    let current = poster(&req, &form.csrf_token, format!("/classes/{class_id}")).await?;
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

/// Replaces the text of the student's own message, within the edit window.
#[post("/messages/{id:[0-9a-f-]{36}}/edit")]
pub async fn edit_message(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<EditForm>,
) -> Result<HttpResponse, AppError> {
    let current = poster(&req, &form.csrf_token, "/".into()).await?;
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

/// Deletes the student's own message (a placeholder stays if it has replies).
#[post("/messages/{id:[0-9a-f-]{36}}/delete")]
pub async fn delete_message(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let current = poster(&req, &form.csrf_token, "/".into()).await?;
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

/// Reports a classmate's message; enough distinct reports hide it.
#[post("/messages/{id:[0-9a-f-]{36}}/flag")]
pub async fn flag_message(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<FlagForm>,
) -> Result<HttpResponse, AppError> {
    let current = poster(&req, &form.csrf_token, "/".into()).await?;
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

    #[test]
    fn waits_read_naturally() {
        let now = clock::now();
        assert_eq!(
            wait_phrase(now + chrono::Duration::seconds(4), now),
            "in 4 seconds"
        );
        assert_eq!(
            wait_phrase(now + chrono::Duration::minutes(42), now),
            "in about 42 minutes"
        );
        assert_eq!(
            wait_phrase(now + chrono::Duration::hours(20), now),
            "in about 20 hours"
        );
    }
}
