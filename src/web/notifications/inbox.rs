//! The inbox: `GET /notifications` (a page at a time, newest first),
//! `GET /notifications/{id}` (marks it read and goes where it is about) and
//! "mark all read". Works without script; the nav's count is the layout's.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::campus_time::Stamp;
use crate::clock;
use crate::notifications::inbox::{self, Cursor};
use crate::notifications::view::NotificationView;
use crate::notifications::NotificationId;
use crate::web::error::{with_conn, AppError};
use crate::web::guard::{SignedInForm, Visitor};
use crate::web::layout::Layout;
use crate::web::state::AppState;
use crate::web::views::{self, FlashRedirect, SeenForm};

/// One notification as the inbox shows it.
struct Item {
    headline: String,
    href: String,
    unread: bool,
    class_code: Option<String>,
    excerpt: Option<String>,
    /// A moderator's words about a message ("Reason: …").
    reason: Option<String>,
    /// An account notice's own sentence (a suspension's end and reason).
    note: Option<String>,
    at: Stamp,
}

impl Item {
    fn new(n: &NotificationView, state: &AppState, now: chrono::NaiveDateTime) -> Item {
        Item {
            headline: n.headline(),
            href: n.open_path(),
            unread: n.is_unread(),
            class_code: n.class_code.clone(),
            excerpt: n.excerpt.clone(),
            reason: n.detail.clone().filter(|_| n.kind.detail_is_reason()),
            note: n.detail.clone().filter(|_| !n.kind.detail_is_reason()),
            at: state.config.campus_time.stamp(n.created_at, now),
        }
    }
}

#[derive(Template)]
#[template(path = "notifications/inbox.html")]
struct InboxPage {
    layout: Layout,
    items: Vec<Item>,
    /// The first page (no cursor): the empty state and "mark all read" show here.
    newest: bool,
    older_href: Option<String>,
    unread: i64,
    /// When the page was made, for "Mark all read" (`SeenForm`).
    seen: String,
}

#[derive(Deserialize)]
pub struct InboxQuery {
    before: Option<String>,
}

/// The student's notifications, newest first, 30 a page.
#[get("/notifications")]
pub async fn show_inbox(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    query: web::Query<InboxQuery>,
) -> Result<HttpResponse, AppError> {
    // A broken cursor is refused once signed in (inside the job): signed out,
    // any link asks to sign in first.
    let before = match query.before.as_deref().filter(|b| !b.is_empty()) {
        None => Ok(None),
        Some(raw) => Cursor::parse(raw).map(Some).ok_or_else(|| {
            AppError::BadRequest(
                "This page link is broken. Open your inbox again to see your latest notifications."
                    .into(),
            )
        }),
    };
    let now = clock::now();
    let (current, page) = visitor
        .signed_in(move |conn, current| {
            Ok(inbox::page(conn, &current.user.id, before?.as_ref(), now)?)
        })
        .await?;
    let layout = Layout::new(&req, Some(&current)).at("notifications");
    let body = InboxPage {
        seen: SeenForm::stamp(now),
        unread: layout.notifications,
        layout,
        items: page
            .items
            .iter()
            .map(|n| Item::new(n, &state, now))
            .collect(),
        newest: query.before.as_deref().is_none_or(str::is_empty),
        older_href: page
            .older
            .map(|c| format!("/notifications?before={}", c.encode())),
    }
    .render()?;
    Ok(views::page(body))
}

/// Opens one of the student's notifications: marks it read and goes to what
/// it is about. Anyone else's, or an unknown id, is the usual 404.
#[get("/notifications/{id:[0-9a-f-]{36}}")]
pub async fn open_notification(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = NotificationId::parse(&path).ok_or(AppError::NotFound);
    let (current, opened) = visitor
        .signed_in(move |conn, current| {
            Ok(inbox::open(conn, &current.user.id, &id?, clock::now())?)
        })
        .await?;
    // Gone since its email was sent: a friend request withdrawn takes its
    // notice with it, and the email's link must not read as a broken one.
    let opened = opened.ok_or(AppError::Gone {
        title: "This is no longer here",
        message: "This notification is gone: what it was about was taken back (a friend request withdrawn, say). Your inbox has what is still there.",
        action: ("/notifications", "Open your inbox"),
    })?;
    state.live.unread_changed(&current.user.id);
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, opened.target()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// "Mark all read", then back to the inbox with what was done.
#[post("/notifications/read")]
pub async fn mark_all_read(
    state: web::Data<AppState>,
    form: SignedInForm<SeenForm>,
) -> Result<FlashRedirect, AppError> {
    let SignedInForm(current, form) = form;
    let user = current.user.id.clone();
    let seen = form.seen();
    let marked = with_conn(&state.pool, move |conn| {
        Ok(inbox::mark_all_read(conn, &user, seen, clock::now())?)
    })
    .await?;
    if marked > 0 {
        state.live.unread_changed(&current.user.id);
    }
    Ok(FlashRedirect::done(
        "/notifications",
        match marked {
            0 => "Nothing was unread.".to_string(),
            1 => "Marked 1 notification as read.".to_string(),
            n => format!("Marked {n} notifications as read."),
        },
    ))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(show_inbox)
        .service(open_notification)
        .service(mark_all_read);
}
