//! The class page and its anonymous chat: reading, posting, replying, editing,
//! deleting and reporting messages. Handlers parse forms into `chat` types, call
//! the domain inside `web::block`, and render; every rule lives in `chat`.
//! Messages are addressed by message id only; no user id reaches a page or URL.

pub(crate) mod events;
mod flags;
mod follow;
mod moderation_log;
mod post;
mod qa;
mod search;
mod show;

pub use flags::flag_message;
pub use follow::{follow_thread, mute_class};
pub use moderation_log::show_moderation_log;
pub use post::{
    class_action_address, delete_message, edit_message, message_action_address, post_message,
    thread_action_address,
};
pub use qa::{mark_answer, pin_thread, unpin_thread, vote_message};
pub use search::{search_class, similar_threads};
pub use show::{event_data, mark_all_read, mark_thread_read, show_class, show_thread};

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::error::{chat_refusal, AppError, Refusal};
use super::guard::CurrentUser;
use super::layout::Layout;
use super::state::AppState;
use crate::chat::{ChatError, ClassMessage, MessageId, Rules};
use crate::classes::ClassId;
use crate::clock;

#[derive(Template)]
#[template(path = "chat/refused.html")]
struct RefusedPage {
    layout: Layout,
    title: String,
    message: String,
    join_class_id: Option<String>,
}

/// The chat rules with this deployment's key, report settings, posting limit and
/// anonymity warning.
pub(crate) fn rules(state: &AppState) -> Rules {
    let mut rules = Rules::new(
        state.config.secret_key.expose(),
        state.config.chat.flag_hide_threshold,
    );
    rules.posts_per_hour_anywhere = state.config.chat.posts_per_hour;
    rules.report_min_membership =
        chrono::Duration::hours(i64::from(state.config.chat.report_min_membership_hours));
    rules.anonymity_min_posters = state.config.chat.anonymity_min_posters;
    rules.poster_counts = state.poster_counts.clone();
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

/// Where a chat form sends the student back: the thread page the form was on
/// (`back`, if it is one of this class's thread pages), else the class's
/// thread list; scrolled to a message (on the list, to the row of the thread
/// it opens).
fn back_href(class_id: &ClassId, back: Option<&str>, anchor: Option<&MessageId>) -> String {
    let list = format!("/classes/{class_id}");
    let thread = back
        .and_then(|b| b.strip_prefix(&format!("{list}/threads/")))
        .and_then(MessageId::parse);
    // The list's rows are anchored by thread (`t-`), a thread page's
    // messages by message (`m-`).
    let (mut href, mark) = match thread {
        Some(thread) => (thread_href(class_id, &thread), "#m-"),
        None => (list, "#t-"),
    };
    if let Some(id) = anchor {
        href.push_str(mark);
        href.push_str(id.as_str());
    }
    href
}

/// A thread's own page.
fn thread_href(class_id: &ClassId, thread_id: &MessageId) -> String {
    // Joined whole, not through `format!`: the thread list writes one a row.
    [
        "/classes/",
        class_id.as_str(),
        "/threads/",
        thread_id.as_str(),
    ]
    .concat()
}

/// A message on its thread's page.
fn message_href(message: &ClassMessage) -> String {
    let thread = message.thread_root_id.as_ref().unwrap_or(&message.id);
    format!(
        "{}#m-{}",
        thread_href(&message.class_id, thread),
        message.id
    )
}

/// Answers a refused chat action with the page or error `error::chat_refusal` chose.
fn answer_refusal(
    req: &HttpRequest,
    current: &CurrentUser,
    rules: &Rules,
    error: ChatError,
) -> Result<HttpResponse, AppError> {
    let campus = super::guard::state(req).config.campus_time;
    answer(
        req,
        current,
        chat_refusal(error, rules, clock::now(), campus),
    )
}

fn answer(
    req: &HttpRequest,
    current: &CurrentUser,
    refusal: Refusal,
) -> Result<HttpResponse, AppError> {
    match refusal {
        Refusal::Page {
            status,
            title,
            message,
            join_class_id,
        } => {
            let body = RefusedPage {
                layout: Layout::new(req, Some(current)).titled(title),
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

/// The form a refused draft goes back into: where it is sent, and where
/// "back" leads.
struct DraftPlace {
    action: String,
    parent_id: Option<String>,
    /// A new thread whose "maybe already answered" step is behind it.
    new_thread: bool,
    /// An edit of a message, not a new one.
    edit: bool,
    back: String,
    /// The class page, for a post (not an edit): where "back" leads once
    /// the draft can no longer be a reply.
    class_page: Option<String>,
}

impl DraftPlace {
    /// The edit form of `message_id`, "back" leading to `back`.
    fn edit(
        message_id: &crate::chat::MessageId,
        back: String,
        class_page: Option<String>,
    ) -> DraftPlace {
        DraftPlace {
            action: format!("/messages/{message_id}/edit"),
            parent_id: None,
            new_thread: false,
            edit: true,
            back,
            class_page,
        }
    }
}

/// Whether the service, not the draft, failed: the database unreachable, or
/// too busy (a statement waited out a lock: `error::request_was_contended`).
/// Nothing was saved, and the same draft, sent again shortly, can be.
fn failed_to_save(error: &AppError) -> bool {
    matches!(error, AppError::Unavailable | AppError::Busy)
        || matches!(error, AppError::Internal(_) if super::state::request_was_contended())
}

/// What a draft's page says when the service failed to save it, and how
/// many seconds to wait (as the error pages' `Retry-After`).
fn not_saved(error: &AppError, place: &DraftPlace) -> (String, u32) {
    let what = if place.edit {
        "your edit"
    } else {
        "your message"
    };
    match error {
        // The connection went: whether its commit got through is unknown.
        AppError::Unavailable => (
            format!("Common Grounds lost its connection to its database, so {what} may not have been saved. It is below: check the thread before you send it again, in a minute."),
            30,
        ),
        _ => (
            format!("Common Grounds was too busy to save {what} just now. It is below: send it again in a few seconds."),
            5,
        ),
    }
}

/// A post or edit the service failed to save (`failed_to_save`) comes back
/// with its draft, as a refused one does; any other failure is answered as
/// an error.
fn keep_draft_on_failure(
    req: &HttpRequest,
    current: &CurrentUser,
    failure: AppError,
    mut place: DraftPlace,
    draft: String,
) -> Result<HttpResponse, AppError> {
    if !failed_to_save(&failure) {
        return Err(failure);
    }
    // Sent again, a new thread goes through "maybe already answered", as
    // after any refusal that came before that step could answer.
    place.new_thread = false;
    let (message, retry_after) = not_saved(&failure, &place);
    let answer = DraftAnswer {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message,
        retry_after: Some(retry_after.into()),
        can_send: true,
        join_href: None,
        as_new_thread: false,
        refused_as_suspended: false,
    };
    draft_page(req, current, place, draft, answer)
}

/// How a draft's page answers: its status and words, and what it offers.
struct DraftAnswer {
    status: StatusCode,
    message: String,
    /// `Retry-After`, in seconds.
    retry_after: Option<i64>,
    can_send: bool,
    join_href: Option<String>,
    as_new_thread: bool,
    /// Its words already say all the suspension notice atop the page would.
    refused_as_suspended: bool,
}

/// A post or an edit refused for its text or a limit: why, and the draft in
/// its form to change or send again, so nothing typed is lost (the class page
/// is `no-store`, and Back may not bring a textarea's text back). Other
/// refusals answer as `answer_refusal`.
#[derive(Template)]
#[template(path = "chat/draft_refused.html")]
struct DraftRefusedPage {
    layout: Layout,
    title: &'static str,
    message: String,
    place: DraftPlace,
    draft: String,
    /// Whether sending it again can work (not an edit past its window or of
    /// a message deleted since, nor a post to a class left since: that draft
    /// is kept to copy).
    can_send: bool,
    /// The class page, to join it again, when the student is no longer in it.
    join_href: Option<String>,
    /// A reply whose message can take no more replies (deleted, hidden, gone
    /// from the class, or its thread full): the form posts it as a new thread.
    as_new_thread: bool,
}

fn refuse_keeping_draft(
    req: &HttpRequest,
    current: &CurrentUser,
    rules: &Rules,
    error: ChatError,
    mut place: DraftPlace,
    draft: String,
) -> Result<HttpResponse, AppError> {
    let campus = super::guard::state(req).config.campus_time;
    // An edit past its window, or of a message deleted, hidden or gone since,
    // would be refused again: kept to copy.
    let edit_gone = place.edit && matches!(error, ChatError::Removed | ChatError::MessageNotFound);
    let mut can_send = !edit_gone && !matches!(error, ChatError::EditWindowClosed);
    // A reply sent again as it was would be refused again: it goes back as a
    // new thread (through the new thread's "maybe already answered" step).
    // `Held` reaches only the held message's author.
    let as_new_thread = place.parent_id.is_some()
        && matches!(
            error,
            ChatError::ParentRemoved
                | ChatError::ParentNotInClass
                | ChatError::ThreadFull
                | ChatError::Held
        );
    if as_new_thread {
        place.parent_id = None;
        place.new_thread = false;
    }
    // Where the draft was going may be gone too (a thread of one message).
    if as_new_thread || edit_gone {
        if let Some(class_page) = place.class_page.take() {
            place.back = class_page;
        }
    }
    let mut join_href = None;
    // Its refusal says all the notice atop the page would (once is enough).
    let refused_as_suspended = matches!(error, ChatError::Suspended { .. });
    let (status, message, retry_after) = match error {
        // Suspended since the page was loaded (or pressed anyway): the
        // draft is kept to copy for when it ends, with why and until when.
        ChatError::Suspended { until } => {
            can_send = false;
            let reason = current.user.suspension_reason.as_deref();
            (
                StatusCode::FORBIDDEN,
                super::error::suspended_notice(until, reason, campus),
                None,
            )
        }
        // Its row is gone (or was never the editor's to see): the same words
        // either way, and the draft is not lost.
        ChatError::MessageNotFound if place.edit => (
            StatusCode::NOT_FOUND,
            "That message is no longer there: it may have been deleted, so your edit cannot be saved.".to_string(),
            None,
        ),
        error => match chat_refusal(error, rules, clock::now(), campus) {
        Refusal::Error(AppError::BadRequest(message)) => (StatusCode::BAD_REQUEST, message, None),
        // Left the class in another tab or on a phone: the draft is kept to
        // copy, and the class page (where joining is) is one link away.
        Refusal::Page {
            status,
            message,
            join_class_id: Some(class_id),
            ..
        } => {
            can_send = false;
            join_href = Some(format!("/classes/{class_id}"));
            (status, message, None)
        }
        Refusal::Error(AppError::TooManyRequests {
            message,
            retry_after_secs,
        }) => (
            StatusCode::TOO_MANY_REQUESTS,
            message,
            Some(retry_after_secs.max(1)),
        ),
        other => return answer(req, current, other),
        },
    };
    let answer = DraftAnswer {
        status,
        message,
        retry_after,
        can_send,
        join_href,
        as_new_thread,
        refused_as_suspended,
    };
    draft_page(req, current, place, draft, answer)
}

/// The draft's page: why it was not saved, and the draft in its form.
fn draft_page(
    req: &HttpRequest,
    current: &CurrentUser,
    place: DraftPlace,
    draft: String,
    answer: DraftAnswer,
) -> Result<HttpResponse, AppError> {
    let title = if place.edit {
        "Your edit was not saved"
    } else {
        "Your message was not posted"
    };
    // Shown back as typed, less what no textarea should hold (a NUL, say).
    let draft = draft
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .collect();
    let mut layout = Layout::new(req, Some(current));
    if answer.refused_as_suspended {
        layout.suspended = None;
    }
    let body = DraftRefusedPage {
        layout,
        title,
        message: answer.message,
        place,
        draft,
        can_send: answer.can_send,
        join_href: answer.join_href,
        as_new_thread: answer.as_new_thread,
    }
    .render()?;
    let mut response = html(answer.status, body);
    if let Some(secs) = answer.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    }
    Ok(response)
}

/// Registers this area's pages on the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(show_class)
        .service(show_thread)
        .service(show_moderation_log)
        .service(mark_all_read)
        .service(mark_thread_read)
        .service(events::class_events)
        .service(post_message)
        .service(message_action_address)
        .service(class_action_address)
        .service(thread_action_address)
        .service(edit_message)
        .service(delete_message)
        .service(flag_message)
        .service(follow_thread)
        .service(mute_class)
        .service(vote_message)
        .service(mark_answer)
        .service(pin_thread)
        .service(unpin_thread)
        .service(search_class)
        .service(similar_threads);
}
