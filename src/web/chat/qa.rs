//! Questions that get answered: upvoting a message (and taking the vote back),
//! marking a reply as its thread's answer, and staff pinning threads. Each is a
//! plain POST form with its CSRF token that comes back to the page it was on;
//! the rules live in `chat::{votes, answers, pins}`.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{answer_refusal, html, rules, see_other, thread_href, RefusedPage};
use crate::chat::votes::QaError;
use crate::chat::{self, MessageId};
use crate::classes::ClassId;
use crate::web::error::{with_conn, AppError};
use crate::web::guard::{CurrentUser, SessionForm, SignedInForm, StaffForm};
use crate::web::layout::Layout;
use crate::web::state::AppState;
use crate::{clock, moderation};

#[derive(Deserialize)]
pub struct VoteForm {
    #[serde(default)]
    csrf_token: String,
    /// `up` to upvote, `take_back` to withdraw the vote.
    #[serde(default)]
    vote: String,
    /// The list or thread page the button was on, to come back to.
    #[serde(default)]
    back: Option<String>,
}

impl SessionForm for VoteForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Upvotes a classmate's message, or takes the vote back.
#[post("/messages/{id:[0-9a-f-]{36}}/vote")]
pub async fn vote_message(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    SignedInForm(current, form): SignedInForm<VoteForm>,
) -> Result<HttpResponse, AppError> {
    let message_id = MessageId::parse(&path).ok_or(AppError::NotFound)?;
    let up = match form.vote.as_str() {
        "up" => true,
        "take_back" => false,
        _ => {
            return Err(AppError::BadRequest(
                "That vote button was not understood. Reload the page and try again.".into(),
            ))
        }
    };
    let voter = current.user.clone();
    let id = message_id.clone();
    let result = with_conn(&state.pool, move |conn| {
        let now = clock::now();
        Ok(if up {
            chat::votes::upvote(conn, &voter, &id, now)
        } else {
            chat::votes::take_back(conn, &voter, &id, now)
        })
    })
    .await?;
    match result {
        Ok(voted) => {
            let message = &voted.message;
            let thread = message.thread_root_id.as_ref().unwrap_or(&message.id);
            Ok(see_other(come_back(
                &message.class_id,
                form.back.as_deref(),
                thread,
                &message.id,
            )))
        }
        Err(error) => refuse(&req, &current, &state, error),
    }
}

#[derive(Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    csrf_token: String,
    /// `yes` marks the reply as the answer, `no` unmarks it.
    #[serde(default)]
    mark: String,
}

impl SessionForm for AnswerForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Marks a reply as its thread's answer (or unmarks it): the thread's starter,
/// or staff.
#[post("/messages/{id:[0-9a-f-]{36}}/answer")]
pub async fn mark_answer(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    SignedInForm(current, form): SignedInForm<AnswerForm>,
) -> Result<HttpResponse, AppError> {
    let reply_id = MessageId::parse(&path).ok_or(AppError::NotFound)?;
    let mark = match form.mark.as_str() {
        "yes" => true,
        "no" => false,
        _ => {
            return Err(AppError::BadRequest(
                "That answer button was not understood. Reload the page and try again.".into(),
            ))
        }
    };
    let actor = current.user.clone();
    let id = reply_id.clone();
    let result = with_conn(&state.pool, move |conn| {
        let now = clock::now();
        let audit = |tx: &mut crate::db::Tx, thread: &chat::ClassMessage, marked: bool| {
            moderation::messages::record_answer(tx, &actor.id, thread, marked, now)
        };
        Ok(chat::answers::mark(conn, &actor, &id, mark, now, audit))
    })
    .await?;
    match result {
        Ok(root) => Ok(see_other(format!(
            "{}#m-{reply_id}",
            thread_href(&root.class_id, &root.id)
        ))),
        Err(error) => refuse(&req, &current, &state, error),
    }
}

/// Pins a thread on top of its class's list: staff only (anyone else gets 404).
#[post("/classes/{id:[0-9a-f-]{36}}/threads/{thread:[0-9a-f-]{36}}/pin")]
pub async fn pin_thread(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    StaffForm(current, form): StaffForm<PinForm>,
) -> Result<HttpResponse, AppError> {
    set_pin(req, state, path, current, form, true).await
}

/// Unpins a thread: staff only (anyone else gets 404).
#[post("/classes/{id:[0-9a-f-]{36}}/threads/{thread:[0-9a-f-]{36}}/unpin")]
pub async fn unpin_thread(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    StaffForm(current, form): StaffForm<PinForm>,
) -> Result<HttpResponse, AppError> {
    set_pin(req, state, path, current, form, false).await
}

#[derive(Deserialize)]
pub struct PinForm {
    #[serde(default)]
    csrf_token: String,
    /// The staff reading of the class (`/admin/classes/{id}`, any page of
    /// it) the form was on; else the thread's page.
    #[serde(default)]
    back: Option<String>,
}

impl SessionForm for PinForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Where a pin comes back to: the staff reading of the class it was set
/// from (a moderator need not take the class), else the thread's page.
fn pinned_back(class_id: &ClassId, thread_id: &MessageId, back: Option<&str>) -> String {
    let staff_read = format!("/admin/classes/{class_id}");
    match back {
        // A later page of it carries its cursor, which is URL-safe: nothing
        // else (a line break would make the header unsendable).
        Some(page)
            if page == staff_read
                || page
                    .strip_prefix(&staff_read)
                    .and_then(|rest| rest.strip_prefix("?before="))
                    .is_some_and(|cursor| {
                        cursor
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.~%=".contains(c))
                    }) =>
        {
            format!("{page}#m-{thread_id}")
        }
        _ => thread_href(class_id, thread_id),
    }
}

async fn set_pin(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    current: CurrentUser,
    form: PinForm,
    pin: bool,
) -> Result<HttpResponse, AppError> {
    let class_id = ClassId::parse(&path.0).ok_or(AppError::NotFound)?;
    let thread_id = MessageId::parse(&path.1).ok_or(AppError::NotFound)?;
    let actor = current.user.clone();
    let (class, thread) = (class_id.clone(), thread_id.clone());
    let result = with_conn(&state.pool, move |conn| {
        let now = clock::now();
        let audit = |tx: &mut crate::db::Tx, message: &chat::ClassMessage| {
            moderation::messages::record_pin(tx, &actor.id, message, pin, now)
        };
        Ok(if pin {
            chat::pins::pin(conn, &actor, &class, &thread, now, audit)
        } else {
            chat::pins::unpin(conn, &actor, &class, &thread, now, audit)
        })
    })
    .await?;
    match result {
        Ok(_) => Ok(see_other(pinned_back(
            &class_id,
            &thread_id,
            form.back.as_deref(),
        ))),
        Err(error) => refuse(&req, &current, &state, error),
    }
}

/// Where a vote comes back to: the page it was on (this class's list in any
/// order, or the message's thread page), at the message; by default the
/// class's list, which sends no `back` to keep its fifty rows small.
fn come_back(
    class_id: &ClassId,
    back: Option<&str>,
    thread: &MessageId,
    message: &MessageId,
) -> String {
    let list = format!("/classes/{class_id}");
    let on_thread = thread_href(class_id, thread);
    match back {
        Some(page) if page == on_thread => format!("{page}#m-{message}"),
        Some(page) => match list_page(&list, page) {
            Some(page) => format!("{page}#t-{thread}"),
            None => format!("{list}#t-{thread}"),
        },
        None => format!("{list}#t-{thread}"),
    }
}

/// `page` as one of this class's list pages (an order, an older page of it,
/// or both), written afresh from what parsed; None for anything else. An
/// older page's vote once came back to the first page, where its thread
/// was not.
fn list_page(list: &str, page: &str) -> Option<String> {
    let query = page.strip_prefix(list)?.strip_prefix('?')?;
    let (mut sort, mut before) = (None, None);
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "sort" if sort.is_none() => sort = Some(chat::threads::Sort::parse(&value)?),
            "before" if before.is_none() => before = Some(chat::threads::Cursor::parse(&value)?),
            _ => return None,
        }
    }
    let mut parts = Vec::new();
    if let Some(sort) = sort {
        parts.push(format!("sort={}", sort.as_str()));
    }
    if let Some(before) = before {
        parts.push(format!("before={}", before.encode()));
    }
    (!parts.is_empty()).then(|| format!("{list}?{}", parts.join("&")))
}

/// Answers a refused vote, answer mark or pin: the chat's own refusals as
/// chat answers them, the rest with a page that says which rule stopped it.
fn refuse(
    req: &HttpRequest,
    current: &CurrentUser,
    state: &AppState,
    error: QaError,
) -> Result<HttpResponse, AppError> {
    match error {
        QaError::Chat(error) => answer_refusal(req, current, &rules(state), error),
        QaError::OwnMessage => Err(AppError::BadRequest(
            "You cannot upvote your own message.".into(),
        )),
        QaError::NotAReply => Err(AppError::BadRequest(
            "Only a reply in a thread can be marked as its answer.".into(),
        )),
        QaError::PinLimit(n) => Err(AppError::BadRequest(format!(
            "{n} threads are pinned already; unpin one first."
        ))),
        QaError::MarkLimit { retry_at } => Err(crate::web::error::chat_limited(
            &format!(
                "You can mark or unmark answers {} times an hour.",
                chat::answers::MARKS_PER_HOUR
            ),
            retry_at,
            clock::now(),
            state.config.campus_time,
        )),
        QaError::NotStarter => {
            let body = RefusedPage {
                layout: Layout::new(req, Some(current)),
                title: "Only the thread's starter can do that".into(),
                message: "Only the student who started this thread, or a moderator, can mark which reply answers it. You can upvote the replies you find helpful.".into(),
                join_class_id: None,
            }
            .render()?;
            Ok(html(StatusCode::FORBIDDEN, body))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vote_comes_back_only_to_this_class_pages() {
        let class = ClassId::new();
        let thread = MessageId::new();
        let list = format!("/classes/{class}");
        assert_eq!(
            come_back(&class, Some(&format!("{list}?sort=top")), &thread, &thread),
            format!("{list}?sort=top#t-{thread}")
        );
        assert_eq!(
            come_back(&class, None, &thread, &thread),
            format!("{list}#t-{thread}")
        );
        let reply = MessageId::new();
        assert_eq!(
            come_back(
                &class,
                Some(&format!("{list}/threads/{thread}")),
                &thread,
                &reply
            ),
            format!("{list}/threads/{thread}#m-{reply}")
        );
        // An older page, of the default order or another.
        let cursor = format!("{}_{}", 1_764_000_000_000_000i64, MessageId::new());
        for page in [
            format!("{list}?before={cursor}"),
            format!("{list}?sort=unanswered&before={cursor}"),
        ] {
            assert_eq!(
                come_back(&class, Some(&page), &thread, &thread),
                format!("{page}#t-{thread}")
            );
        }
        for hostile in [
            "https://evil.example/".to_string(),
            format!("{list}?sort=<script>"),
            format!("{list}?before=<script>"),
            format!("{list}?before={cursor}&next=//evil.example"),
            format!("{list}?"),
            format!("/classes/{}", ClassId::new()),
            "//evil.example".to_string(),
        ] {
            assert_eq!(
                come_back(&class, Some(&hostile), &thread, &thread),
                format!("{list}#t-{thread}"),
                "{hostile}"
            );
        }
    }
}
