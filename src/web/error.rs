//! `AppError`: every way a request can fail, mapped to a status and a page a
//! person can act on. Unexpected errors are logged with their chain and shown
//! as a plain page with a reference, never a stack trace.

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use askama::Template;
use chrono::NaiveDateTime;

use super::state::{
    keep_request_conn, note_request_contended, release_request_conn, request_was_contended,
    take_request_conn, Database, Lease,
};
use crate::accounts::rate_limit::Limited;
use crate::campus_time::CampusTime;
use crate::chat::{ChatError, Rules};
use crate::classes::{ClassId, MembershipError};
use crate::db::DbError;
use crate::{friends, moderation};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// Something a link pointed at that is gone (a notice about a request
    /// withdrawn): 404, said as such, with where to go instead, where "Page
    /// not found" would read as a broken link.
    #[error("no longer there")]
    Gone {
        title: &'static str,
        message: &'static str,
        action: (&'static str, &'static str),
    },
    #[error("{0}")]
    BadRequest(String),
    #[error("the form expired or did not come from this site")]
    Csrf,
    /// A form sent without a session or the pre-session cookie its page set:
    /// a page open for hours, or a browser that blocks cookies (Safari's
    /// "Block all cookies", some in-app browsers), where reloading never helps.
    #[error("the form came without its cookie")]
    CsrfWithoutCookie,
    #[error("too many requests")]
    TooManyRequests {
        message: String,
        retry_after_secs: i64,
    },
    #[error("the database is unavailable")]
    Unavailable,
    /// Other work held what the request needed for longer than it waits
    /// (`db::LOCK_WAIT`), or it lost a deadlock: its transaction was rolled
    /// back, and the same request will likely work in a few seconds.
    #[error("the database is busy")]
    Busy,
    /// A suspended student tried to change something (they may only read),
    /// with the campus time zone the end is shown in.
    #[error("suspended")]
    Suspended {
        until: chrono::NaiveDateTime,
        reason: Option<String>,
        campus: CampusTime,
    },
    #[error("sign in required")]
    SignInRequired { next: String },
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        tracing::warn!(error = %e, "no database connection within the checkout timeout");
        AppError::Unavailable
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::Internal(anyhow::anyhow!("blocking task failed: {e}"))
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(e.into())
    }
}

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    layout: super::layout::Layout,
    title: &'a str,
    message: &'a str,
    action: Option<(&'a str, &'a str)>,
    reference: Option<&'a str>,
}

/// The heading of every page refusing something for a suspension; such a
/// page says it once, without the notice atop other pages
/// (`Layout::titled`).
pub const SUSPENDED_TITLE: &str = "Your account is suspended";

/// What an error page says, kept on its response so that
/// [`error_pages_show_the_viewer`] can frame it again for whoever is signed in.
#[derive(Clone)]
struct ErrorPageParts {
    title: &'static str,
    message: String,
    action: Option<(&'static str, &'static str)>,
    reference: Option<String>,
}

impl ErrorPageParts {
    fn render(&self, layout: super::layout::Layout) -> String {
        ErrorPage {
            layout: layout.titled(self.title),
            title: self.title,
            message: &self.message,
            action: self.action,
            reference: self.reference.as_deref(),
        }
        .render()
        .unwrap_or_else(|_| self.message.clone())
    }
}

/// Middleware: an error page (a 404, an expired form, a suspension) shows the
/// nav of the student who is signed in, not "Sign in", which read as if they
/// had been signed out. `AppError` renders without the request; this frames
/// the page again with the session the request read, or reads it (a 404 has
/// no handler to have read it). A 5xx reads nothing more: the database may be
/// the trouble.
pub async fn error_pages_show_the_viewer(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    let Some(parts) = res.response().extensions().get::<ErrorPageParts>().cloned() else {
        return Ok(res);
    };
    let read = res
        .request()
        .extensions()
        .get::<Option<super::guard::CurrentUser>>()
        .cloned();
    let current = match read {
        Some(current) => current,
        None if res.status().is_server_error() => None,
        None => super::guard::load_session(res.request())
            .await
            .ok()
            .flatten(),
    };
    let Some(current) = current else {
        return Ok(res);
    };
    let body = parts.render(super::layout::Layout::new(res.request(), Some(&current)));
    let (req, response) = res.into_parts();
    Ok(ServiceResponse::new(
        req,
        response.set_body(BoxBody::new(body)),
    ))
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound | AppError::Gone { .. } => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Csrf | AppError::CsrfWithoutCookie => StatusCode::FORBIDDEN,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable | AppError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Suspended { .. } => StatusCode::FORBIDDEN,
            AppError::SignInRequired { .. } => StatusCode::SEE_OTHER,
            // A failure that followed contention is `Busy`'s (`error_response`).
            AppError::Internal(_) if request_was_contended() => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::Internal(error) = self {
            if request_was_contended() {
                tracing::warn!(error = ?error, "the database was too busy for this request");
                return AppError::Busy.error_response();
            }
        }
        if let AppError::SignInRequired { next } = self {
            let target = format!(
                "/login?next={}",
                url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            );
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, target))
                .finish();
        }
        let reference = match self {
            AppError::Internal(error) => {
                let reference = uuid::Uuid::new_v4().simple().to_string();
                tracing::error!(reference = %reference, error = ?error, "request failed");
                Some(reference)
            }
            _ => None,
        };
        let (title, message, action): (&'static str, String, Option<(&str, &str)>) = match self {
            AppError::NotFound => (
                "Page not found",
                "There is nothing here. Check the address, or go back to your classes.".into(),
                Some(("/", "Go to my classes")),
            ),
            AppError::Gone {
                title,
                message,
                action,
            } => (*title, (*message).into(), Some(*action)),
            AppError::BadRequest(message) => ("That did not work", message.clone(), None),
            AppError::Csrf => (
                "This form has expired",
                "The form was open too long, or it did not come from this site. Nothing was changed. Go back, reload the page and try again.".into(),
                Some(("/", "Start over")),
            ),
            AppError::CsrfWithoutCookie => (
                "This form came back without its cookie",
                "Nothing was changed. If the page was open for hours, go back, reload it and try again. If this happens again, your browser is blocking cookies for this site: Common Grounds needs one to sign you in, so allow cookies for it (in a private window, or in the app you opened the link from, try your usual browser)."
                    .into(),
                Some(("/login", "Back to sign in")),
            ),
            AppError::TooManyRequests { message, .. } => ("Please wait", message.clone(), None),
            AppError::Unavailable => (
                "Try again shortly",
                "Common Grounds cannot reach its database right now. Nothing is half-saved: what you sent was saved whole or not at all. Try again in a minute.".into(),
                None,
            ),
            AppError::Busy => (
                "Try again shortly",
                "Common Grounds is too busy to finish this right now. Nothing is half-saved: what you sent was saved whole or not at all. Try again in a few seconds.".into(),
                None,
            ),
            AppError::Suspended {
                until,
                reason,
                campus,
            } => (
                SUSPENDED_TITLE,
                suspended_message(*until, reason.as_deref(), *campus),
                Some(("/", "Go to my classes")),
            ),
            AppError::Internal(_) => (
                "Something went wrong",
                "We could not finish that request. It has been logged; please try again.".into(),
                None,
            ),
            AppError::SignInRequired { .. } => unreachable!("handled above"),
        };
        let parts = ErrorPageParts {
            title,
            message,
            action,
            reference,
        };
        let body = parts.render(super::layout::Layout::bare());
        let mut response = HttpResponse::build(self.status_code());
        // Framed again with the viewer's nav and session token
        // (`error_pages_show_the_viewer`): no more cacheable than any page
        // (a 404 is cacheable by default).
        response
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"));
        if let AppError::TooManyRequests {
            retry_after_secs, ..
        } = self
        {
            response.insert_header((header::RETRY_AFTER, retry_after_secs.max(&1).to_string()));
        }
        match self {
            AppError::Unavailable => {
                response.insert_header((header::RETRY_AFTER, "30"));
            }
            AppError::Busy => {
                response.insert_header((header::RETRY_AFTER, "5"));
            }
            _ => {}
        }
        let mut response = response.body(body);
        response.extensions_mut().insert(parts);
        response
    }
}

/// The notice atop a suspended student's pages, and the refusal of a draft
/// they sent: the same words as a refused action's page.
pub fn suspended_notice(until: NaiveDateTime, reason: Option<&str>, campus: CampusTime) -> String {
    format!(
        "Your account is suspended. {}",
        suspended_message(until, reason, campus)
    )
}

/// What a suspended student reads: until when (campus time, with its zone),
/// what they cannot do, and the moderators' reason.
fn suspended_message(until: NaiveDateTime, reason: Option<&str>, campus: CampusTime) -> String {
    format!(
        "You can still read, leave classes, hide your classes and turn friends and requests away, but until {} you cannot post, edit, report, join classes, change your display name, accept friend requests or unblock anyone.{}",
        campus.exact(until).title,
        reason
            .map(|r| format!(" The moderators' reason: {r}"))
            .unwrap_or_default()
    )
}

/// A retry time in words: "4:10 PM EST" today on campus, else with its date.
pub fn retry_words(retry_at: NaiveDateTime, now: NaiveDateTime, campus: CampusTime) -> String {
    if campus.date_of(retry_at) == campus.date_of(now) {
        format!(
            "{} {}",
            campus.clock(retry_at),
            campus.abbreviation(retry_at)
        )
    } else {
        campus.exact(retry_at).title
    }
}

/// How a page answers a rule the domain refused. Every domain error's status
/// and words are chosen here, in one place; handlers only render the answer.
#[derive(Debug)]
pub enum Refusal {
    /// An error page, by `AppError`'s status and message.
    Error(AppError),
    /// A page of its own that says why and what to do (chat's refusals).
    Page {
        status: StatusCode,
        title: &'static str,
        message: String,
        /// Offers to join this class (the chat of a class not joined).
        join_class_id: Option<ClassId>,
    },
    /// Back to the form's page with this message.
    Flash(String),
}

impl From<moderation::users::AccountActionError> for AppError {
    fn from(e: moderation::users::AccountActionError) -> Self {
        use moderation::users::AccountActionError as E;
        match e {
            // A staff form named an account that is not there: said in
            // words, not as the students' "page not found".
            E::NotFound
            | E::OwnRole
            | E::StaffCannotBeSuspended
            | E::SuspendedCannotBeStaff
            | E::NotSignedInYet
            | E::EndNotInFuture
            | E::EndTooFar
            | E::ReasonLength
            | E::NotSuspended
            | E::AlreadySuspended(_)
            | E::NoDisplayName
            | E::NameChanged(_)
            | E::NoNameWait
            | E::StaleForm => AppError::BadRequest(e.to_string()),
            E::Db(e) => e.into(),
        }
    }
}

impl From<moderation::messages::ActionError> for AppError {
    fn from(e: moderation::messages::ActionError) -> Self {
        match e {
            moderation::messages::ActionError::NotFound => AppError::NotFound,
            moderation::messages::ActionError::CategoryRequired
            | moderation::messages::ActionError::UnknownCategory
            | moderation::messages::ActionError::OtherNeedsWords
            | moderation::messages::ActionError::Held
            | moderation::messages::ActionError::NotHeld
            | moderation::messages::ActionError::ChangedSinceShown
            | moderation::messages::ActionError::ParentGone
            | moderation::messages::ActionError::Deleted
            | moderation::messages::ActionError::AlreadyHidden
            | moderation::messages::ActionError::NotHidden
            | moderation::messages::ActionError::NothingToReview
            | moderation::messages::ActionError::OwnMessage
            | moderation::messages::ActionError::HiddenByReportsSince
            | moderation::messages::ActionError::DecidedSince => {
                AppError::BadRequest(e.to_string())
            }
            moderation::messages::ActionError::Db(e) => e.into(),
        }
    }
}

impl From<moderation::reveals::RevealError> for AppError {
    fn from(e: moderation::reveals::RevealError) -> Self {
        use moderation::reveals::RevealError as E;
        match e {
            E::MessageNotFound | E::RequestNotFound | E::NotStaff => AppError::NotFound,
            E::ReasonRequired
            | E::UrgentNeedsAdmin
            | E::OwnRequest
            | E::OwnMessage
            | E::AlreadyDecided
            | E::AlreadyAsked { .. }
            | E::RequesterNotStaff
            | E::Expired => AppError::BadRequest(e.to_string()),
            E::Db(e) => e.into(),
        }
    }
}

/// A refused friend action: a flash on the page the student came from.
pub fn friend_refusal(
    error: friends::ActionError,
    now: NaiveDateTime,
    campus: CampusTime,
) -> Refusal {
    match error {
        friends::ActionError::Db(e) => Refusal::Error(e.into()),
        friends::ActionError::Suspended { until } => Refusal::Error(AppError::Suspended {
            until,
            reason: None,
            campus,
        }),
        friends::ActionError::Limited { retry_at } => Refusal::Error(AppError::TooManyRequests {
            message: format!(
                "{error} You can block more after {}.",
                retry_words(retry_at, now, campus)
            ),
            retry_after_secs: (retry_at - now).num_seconds().max(1),
        }),
        refused => Refusal::Flash(refused.to_string()),
    }
}

/// A refused join or leave: a suspension is 403 with its end (and the
/// moderators' reason), the daily limit 429 with when to retry, and any other
/// rule a flash on the page the student came from, saying what to do. Times
/// are shown in `campus` time.
pub fn membership_refusal(
    error: MembershipError,
    suspension_reason: Option<String>,
    now: NaiveDateTime,
    campus: CampusTime,
) -> Refusal {
    Refusal::Error(match error {
        MembershipError::NotFound => AppError::NotFound,
        MembershipError::Db(e) => e.into(),
        MembershipError::Suspended { until } => AppError::Suspended {
            until,
            reason: suspension_reason,
            campus,
        },
        MembershipError::TooManyChanges { max, retry_at } => AppError::TooManyRequests {
            message: format!(
                "You have added or dropped {max} classes in the last 24 hours, the most allowed. You can change your classes again after {}.",
                retry_words(retry_at, now, campus)
            ),
            retry_after_secs: (retry_at - now).num_seconds().max(1),
        },
        refused => return Refusal::Flash(refused.to_string()),
    })
}

/// A join that overlaps other sections is not refused with a page of its own:
/// the enroll handler asks for confirmation, one line per clash, in these
/// words ("CS 2100 overlaps CS 3120 on Tue Thu 11:00 AM"). Anywhere else a
/// `MembershipError::Clashes` is a flash, by `membership_refusal`.
pub fn clash_lines(code: &str, overlaps: &[String]) -> Vec<String> {
    overlaps
        .iter()
        .map(|overlap| format!("{code} overlaps {overlap}"))
        .collect()
}

/// Too many sign-in attempts from one network: 429, and when to retry (in `campus` time).
pub fn sign_in_limited(limited: Limited, now: NaiveDateTime, campus: CampusTime) -> AppError {
    let wait = (limited.retry_at - now).num_seconds().max(1);
    AppError::TooManyRequests {
        message: format!(
            "Too many sign-in attempts came from your network. Try again after {} (in about {} minutes). Any link already emailed to you still works (and its code, in the browser that asked for it).",
            retry_words(limited.retry_at, now, campus),
            (wait + 59) / 60
        ),
        retry_after_secs: wait,
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

/// A chat limit: 429, when to retry, and that nothing was saved.
pub(crate) fn chat_limited(
    why: &str,
    retry_at: NaiveDateTime,
    now: NaiveDateTime,
    campus: CampusTime,
) -> AppError {
    AppError::TooManyRequests {
        message: format!(
            "{why} Try again after {} ({}). Nothing was saved.",
            retry_words(retry_at, now, campus),
            wait_phrase(retry_at, now)
        ),
        retry_after_secs: (retry_at - now).num_seconds().max(1),
    }
}

/// A refused chat action: the page that says why, or an error page (and when
/// to retry, in `campus` time).
// One arm per rule of `ChatError`: splitting the match would scatter the words.
pub fn chat_refusal(
    error: ChatError,
    rules: &Rules,
    now: NaiveDateTime,
    campus: CampusTime,
) -> Refusal {
    let interval = rules.post_interval.num_seconds();
    let page = |title, message: String, join_class_id| Refusal::Page {
        status: StatusCode::FORBIDDEN,
        title,
        message,
        join_class_id,
    };
    Refusal::Error(match error {
        ChatError::ClassNotFound | ChatError::MessageNotFound => AppError::NotFound,
        ChatError::NotEnrolled { class_id } => {
            return page(
                "Join this class first",
                "Only students who added this class can read and write in its chat. Join the class, then try again.".into(),
                Some(class_id),
            )
        }
        ChatError::Suspended { until } => {
            return page(
                SUSPENDED_TITLE,
                format!(
                    "You cannot post, vote or report while your account is suspended. The suspension ends {}; you can take part again after that.",
                    campus.exact(until).title
                ),
                None,
            )
        }
        ChatError::NotYours => {
            return page(
                "That is not your message",
                "You can edit or delete only messages you wrote. To raise a problem with someone else's message, report it.".into(),
                None,
            )
        }
        ChatError::Content(problem) => AppError::BadRequest(problem.to_string()),
        // One text for both: which of them it was would tell a classmate
        // whether a message gone from their view was kept for moderators
        // (reported or hidden) or deleted for good.
        ChatError::ParentNotInClass | ChatError::ParentRemoved => AppError::BadRequest(
            "The message you replied to was deleted or hidden, so it cannot take replies. You can post yours as a new thread instead.".into(),
        ),
        ChatError::ThreadFull => AppError::BadRequest(format!(
            "This thread has {} replies, the most one thread takes, so it stays quick to read. Start a new thread for this, and mention the old one if it helps.",
            crate::chat::post::MAX_REPLIES
        )),
        // The handlers answer with the warning page first; this is for any other.
        ChatError::NamesSomeone {
            findings,
            holdable: true,
        } => AppError::BadRequest(format!(
            "This {findings}. Posts that name people are held for a moderator to review before the class sees them; go back and post it anyway, or take it out."
        )),
        ChatError::NamesSomeone {
            findings,
            holdable: false,
        } => AppError::BadRequest(format!(
            "This {findings}. Your message is already shown to the class, so an edit cannot hold it for review: take it out, or delete the message and post it again (a new post that names someone waits for a moderator)."
        )),
        ChatError::Held => AppError::BadRequest(
            "That message is held for a moderator to review, so it takes no replies, votes or answer marks until it is released.".into(),
        ),
        ChatError::Duplicate { retry_at } => chat_limited(
            "You posted this same text in this class less than 5 minutes ago. Change the message, or wait to repeat it.",
            retry_at,
            now,
            campus,
        ),
        ChatError::TooFast { retry_at } => chat_limited(
            &format!("You can post once every {interval} seconds in a class."),
            retry_at,
            now,
            campus,
        ),
        ChatError::HourlyLimit { retry_at } => chat_limited(
            &format!(
                "You can post at most {} messages an hour in a class.",
                rules.posts_per_hour
            ),
            retry_at,
            now,
            campus,
        ),
        ChatError::EditTooFast { retry_at } => chat_limited(
            &format!("You can edit once every {interval} seconds; every edit shows on your classmates' open pages."),
            retry_at,
            now,
            campus,
        ),
        ChatError::EditHourlyLimit { retry_at } => chat_limited(
            &format!(
                "You can make at most {} edits an hour.",
                rules.posts_per_hour
            ),
            retry_at,
            now,
            campus,
        ),
        ChatError::NamingWarnings { retry_at } => chat_limited(
            &format!(
                "You were warned {} times in the last hour that a draft named someone. To keep who takes a class private, your drafts wait a while after that.",
                rules.naming_warnings_per_hour
            ),
            retry_at,
            now,
            campus,
        ),
        ChatError::HourlyLimitAnywhere { retry_at } => chat_limited(
            &format!(
                "You can post at most {} messages an hour across all your classes.",
                rules.posts_per_hour_anywhere
            ),
            retry_at,
            now,
            campus,
        ),
        ChatError::EditWindowClosed => AppError::BadRequest(format!(
            "Messages can be edited for {} minutes after posting, and this one is older. You can still delete it.",
            rules.edit_window.num_minutes()
        )),
        ChatError::Removed => AppError::BadRequest(
            "That message was deleted or hidden, so this can no longer be done to it. Reload the page to see it as it is now.".into(),
        ),
        ChatError::OwnMessage => AppError::BadRequest(
            "You cannot report your own message. You can delete it instead.".into(),
        ),
        ChatError::FlagLimit { retry_at } => chat_limited(
            &format!(
                "You can report at most {} messages a day.",
                rules.flags_per_day
            ),
            retry_at,
            now,
            campus,
        ),
        ChatError::Db(error) => AppError::Internal(error.into()),
    })
}

/// Runs slow work that needs no database (a bcrypt hash) on a blocking
/// thread, after handing the connection this request holds back to the pool:
/// a burst of sign-ins must not hold every connection while it hashes, and
/// starve every page. The request's next database job takes a fresh one.
pub async fn off_the_pool<T, F>(f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    release_request_conn();
    Ok(actix_web::web::block(f).await?)
}

/// Runs blocking database work off the async executor, with a pooled
/// connection of this app's database: the one the request already holds (see
/// `state::one_connection_per_request`), or a fresh checkout that the request
/// then keeps. A statement that failed because its connection was cut off
/// answers 503 ("try again shortly"), and that connection is dropped, so the
/// next job takes a working one. A job whose statement failed because other
/// work held its locks too long, or lost a deadlock, marks the request
/// (`note_request_contended`): if the request then fails, it answers 503
/// (`AppError::Busy`), however the handler carried the error. The job's
/// transaction was rolled back, and its connection, which is fine, is kept.
pub async fn with_conn<T, F>(db: &Arc<Database>, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut crate::db::DbConn) -> Result<T, AppError> + Send + 'static,
{
    run_job(db, f, false).await
}

/// As `with_conn`, for a page's short reads: on PostgreSQL
/// (`server::reads_on_workers`), when a connection is at hand
/// without waiting (the one the request holds, or an idle one that does not
/// predate the last outage the pool noticed), the job runs right here, on
/// the HTTP worker, which waits for it. Handing a job to a blocking thread
/// and waking the worker afterwards is two context switches a request; in
/// A/B runs on two cores, pages came about a tenth to a fifth faster without it
/// (bench/README.md, "DB jobs on the HTTP workers"). When no connection is
/// at hand, the job waits for one on a blocking thread, as `with_conn`'s do.
///
/// The worker serves nothing else while the job runs, so the job must not
/// write (a write may wait `db::LOCK_WAIT` for a lock) nor read without
/// bound (an export). A read may still be held up, on PostgreSQL, behind a
/// migration's lock or by a network that stopped answering: once one has
/// run on a worker for longer than `DATABASE_SLOW_READ_MS`, or lost its
/// connection, or waited out a lock, the next `OFF_WORKERS_FOR` of reads go
/// to blocking threads (`Database::reads_on_workers`), so the reads already
/// under way hold their workers, and the next ones do not. The server runs
/// one worker a core beyond one a connection (`server::http_workers`): those
/// are never all held by reads, though a connection the server hands to a
/// held worker waits with it.
pub async fn with_read_conn<T, F>(db: &Arc<Database>, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut crate::db::DbConn) -> Result<T, AppError> + Send + 'static,
{
    run_job(db, f, true).await
}

async fn run_job<T, F>(db: &Arc<Database>, f: F, here: bool) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut crate::db::DbConn) -> Result<T, AppError> + Send + 'static,
{
    let held = take_request_conn();
    let permit = match &held {
        Some(_) => None,
        // At most as many database jobs as the pool has connections: the rest
        // wait here, as futures, instead of as blocked threads queueing on the
        // pool (64 connections under load made 90 threads, each with its own
        // malloc arena, and twice the context switches; see bench/README.md).
        // Waiting here counts against the same limit as waiting for a connection.
        None => match tokio::time::timeout(
            db.connection_timeout(),
            Arc::clone(db.gate()).acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => Some(permit),
            Ok(Err(closed)) => return Err(AppError::Internal(closed.into())),
            Err(_) => {
                tracing::warn!("no database connection became free in time");
                return Err(AppError::Unavailable);
            }
        },
    };
    // Asked after any wait for a permit: a read may have been held up on a
    // worker meanwhile.
    let on_worker = if here && db.reads_on_workers() {
        db.start_on_worker()
    } else {
        None
    };
    // A connection this job can have at once: the request's, or (for a read
    // that runs here) an idle one that needs no test.
    let at_hand = match (held, permit) {
        (Some(lease), _) => Ok(lease),
        (None, Some(permit)) if on_worker.is_some() => match crate::db::try_checkout(db.pool()) {
            Some(conn) => Ok(Lease { conn, permit }),
            None => Err(permit),
        },
        (None, Some(permit)) => Err(permit),
        (None, None) => unreachable!("a permit is taken whenever no connection is held"),
    };
    let on_worker = on_worker.filter(|_| at_hand.is_ok());
    let runs_here = on_worker.is_some();
    let job_db = Arc::clone(db);
    let job = move || {
        let mut lease = match at_hand {
            Ok(lease) => lease,
            Err(permit) => match job_db.count_waiting(|| job_db.connection()) {
                Ok(conn) => Lease { conn, permit },
                Err(e) => return (Err(AppError::from(e)), None),
            },
        };
        crate::db::note_job(&mut lease.conn, runs_here);
        let result = f(&mut lease.conn);
        if crate::db::is_lost(&mut lease.conn) {
            // Dropped here, the connection is not pooled again (`has_broken`).
            let result = result.map_err(|error| {
                tracing::warn!(%error, "the database connection was cut off");
                AppError::Unavailable
            });
            return (result, None);
        }
        let contended = crate::db::was_contended(&mut lease.conn);
        (result, Some((lease, contended)))
    };
    let (result, lease) = if let Some(on_worker) = on_worker {
        // A panic ends the job as it would on a blocking thread: a 500, and
        // the connection dropped (`Manager::has_broken`), not the worker.
        let (result, lease) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))
            .map_err(|_| AppError::Internal(anyhow::anyhow!("a database job panicked")))?;
        match &lease {
            None => db.keep_reads_off_workers("its connection was cut off"),
            Some((_, true)) => db.keep_reads_off_workers("it waited out a lock"),
            Some(_) if on_worker.was_slow() => {
                db.keep_reads_off_workers("it ran longer than DATABASE_SLOW_READ_MS")
            }
            Some(_) => {}
        }
        (result, lease)
    } else {
        actix_web::web::block(job).await?
    };
    if let Some((lease, contended)) = lease {
        keep_request_conn(lease);
        if contended {
            note_request_contended();
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_naturally() {
        let now = crate::clock::now();
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
