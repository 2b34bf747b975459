//! Two-person reveals: asking (from the queue's card), the list of requests
//! waiting for a second staff member and one's own, each request's page (the
//! author only for its approved requester), and approving or declining.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::staff_layout;
use crate::accounts::Role;
use crate::campus_time::{CampusTime, Stamp};
use crate::clock;
use crate::moderation::reveals::{self, AuthorShown, RequestLine, RevealError, RevealId};
use crate::web::error::{with_conn, AppError};
use crate::web::guard::{SessionForm, Staff, StaffForm};
use crate::web::layout::Layout;
use crate::web::state::AppState;
use crate::web::views::{self, FlashRedirect};

/// What the pages say when nobody else could approve.
pub const ONLY_STAFF: &str =
    "You are the only staff member: a reveal needs a second one; an admin can mark it urgent.";

/// A request as the pages show it.
struct Line {
    id: String,
    pseudonym: String,
    text: String,
    class: String,
    class_id: String,
    reason: String,
    requester: String,
    asked: Stamp,
    urgent: bool,
    /// "waiting for a second staff member", "approved by mo2d", ...
    status: String,
    decided_at: Option<Stamp>,
    note: Option<String>,
    pending: bool,
    /// Waiting past `reveals::WAIT_DAYS`: it can only be declined.
    expired: bool,
    /// Decided requests about the same message (for one waiting).
    earlier: Vec<Line>,
}

fn line(campus: CampusTime, now: chrono::NaiveDateTime, l: RequestLine) -> Line {
    let earlier = l
        .earlier
        .into_iter()
        .map(|e| line(campus, now, e))
        .collect();
    let decider = l.decider.unwrap_or_else(|| "a deleted account".into());
    let expired = l.request.expired(now);
    let status = match (l.request.status, l.request.urgent) {
        (reveals::RevealStatus::Pending, _) if expired => format!(
            "waited more than {} days: it can only be declined now",
            reveals::WAIT_DAYS
        ),
        (reveals::RevealStatus::Pending, _) => "waiting for a second staff member".to_string(),
        (reveals::RevealStatus::Approved, true) => "revealed at once (urgent)".to_string(),
        (reveals::RevealStatus::Approved, false) => format!("approved by {decider}"),
        (reveals::RevealStatus::Declined, _) => format!("declined by {decider}"),
    };
    Line {
        id: l.request.id.to_string(),
        pseudonym: l.pseudonym,
        text: l.text,
        class: l.class,
        class_id: l.class_id.to_string(),
        reason: l.request.reason,
        requester: l.requester.unwrap_or_else(|| "a deleted account".into()),
        asked: campus.stamp(l.request.created_at, now),
        urgent: l.request.urgent,
        status,
        decided_at: l
            .request
            .decided_at
            .filter(|_| !l.request.urgent)
            .map(|at| campus.stamp(at, now)),
        note: l.request.decision_note,
        pending: l.request.status == reveals::RevealStatus::Pending,
        expired,
        earlier,
    }
}

#[derive(Template)]
#[template(path = "admin/reveals.html")]
struct RevealsPage {
    layout: Layout,
    waiting: Vec<Line>,
    mine: Vec<Line>,
    only_staff: Option<&'static str>,
}

#[get("/reveals")]
pub async fn list_reveals(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    let viewer = staff.0.user.id.clone();
    let ((waiting, mine), staff_members) = with_conn(&state.pool, move |conn| {
        Ok((
            reveals::queue(conn, &viewer, 100)?,
            reveals::staff_members(conn)?,
        ))
    })
    .await?;
    let (campus, now) = (state.config.campus_time, clock::now());
    let body = RevealsPage {
        layout: staff_layout(&req, &staff, "admin-reveals"),
        waiting: waiting.into_iter().map(|l| line(campus, now, l)).collect(),
        mine: mine.into_iter().map(|l| line(campus, now, l)).collect(),
        only_staff: (staff_members <= 1).then_some(ONLY_STAFF),
    }
    .render()?;
    Ok(views::page(body))
}

/// The author as an approved requester sees them.
struct AuthorView {
    id: String,
    computing_id: String,
    email: String,
    display_name: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/reveal.html")]
struct RevealPage {
    layout: Layout,
    r: Line,
    mine: bool,
    author: Option<AuthorView>,
    erased: bool,
}

#[get("/reveals/{id}")]
pub async fn reveal_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = RevealId::parse(&path).ok_or(AppError::NotFound)?;
    let viewer = staff.0.user.id.clone();
    let found = with_conn(&state.pool, move |conn| {
        Ok(reveals::for_viewer(conn, &viewer, &id)?)
    })
    .await?;
    let (request, shown) = found.ok_or(AppError::NotFound)?;
    let mine = request.request.requester_id.as_ref() == Some(&staff.0.user.id);
    let (author, erased) = match shown {
        AuthorShown::Withheld => (None, false),
        AuthorShown::Erased => (None, true),
        AuthorShown::Author(a) => (
            Some(AuthorView {
                id: a.id.to_string(),
                computing_id: a.computing_id,
                email: a.email,
                display_name: a.display_name,
            }),
            false,
        ),
    };
    let body = RevealPage {
        layout: staff_layout(&req, &staff, "admin-reveals"),
        r: line(state.config.campus_time, clock::now(), request),
        mine,
        author,
        erased,
    }
    .render()?;
    Ok(views::page(body))
}

#[derive(Deserialize)]
pub struct RevealForm {
    csrf_token: String,
    #[serde(default)]
    reason: String,
    /// "1" when an admin ticked "Urgent: reveal now without a second person".
    #[serde(default)]
    urgent: Option<String>,
}

impl SessionForm for RevealForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Asks to reveal a message's author (from the queue's card).
#[post("/messages/{id}/reveal")]
pub async fn ask(
    state: web::Data<AppState>,
    path: web::Path<String>,
    StaffForm(current, form): StaffForm<RevealForm>,
) -> Result<FlashRedirect, AppError> {
    let id = crate::chat::MessageId::parse(&path).ok_or(AppError::NotFound)?;
    let actor = current.user.id.clone();
    let urgent = form.urgent.as_deref().is_some_and(|u| !u.is_empty());
    let reason = form.reason;
    let typed = reason.clone();
    let asked = with_conn(&state.pool, move |conn| {
        Ok(reveals::request(
            conn,
            &actor,
            &id,
            &reason,
            urgent,
            clock::now(),
        ))
    })
    .await?;
    let request = match asked {
        Ok(request) => request,
        Err(refused) => match &refused {
            // Asked already: to that request, which the staff see waiting.
            reveals::RevealError::AlreadyAsked { id } => {
                let to = format!("/admin/reveals/{id}");
                return Ok(FlashRedirect::refused(&to, refused.to_string()));
            }
            // Back to the queue the form was on, with the words to mend.
            reveals::RevealError::ReasonRequired => {
                let words = super::to_paste_again(Some(&typed));
                return Ok(FlashRedirect::refused(
                    "/admin/flags",
                    format!("{refused}{words}"),
                ));
            }
            _ => return Err(refused.into()),
        },
    };
    let to = format!("/admin/reveals/{}", request.id);
    Ok(FlashRedirect::done(
        &to,
        if request.urgent {
            "Revealed at once (urgent). Every staff member sees this on the overview."
        } else {
            "Your request waits for another staff member to approve or decline it; the author shows here only after an approval."
        },
    ))
}

#[derive(Deserialize)]
pub struct DecisionForm {
    csrf_token: String,
    #[serde(default)]
    note: String,
}

impl SessionForm for DecisionForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Approves or declines someone else's request.
#[post("/reveals/{id}/{decision:approve|decline}")]
pub async fn decide(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    StaffForm(current, form): StaffForm<DecisionForm>,
) -> Result<FlashRedirect, AppError> {
    let (raw, decision) = path.into_inner();
    let id = RevealId::parse(&raw).ok_or(AppError::NotFound)?;
    let back = format!("/admin/reveals/{id}");
    let approve = decision == "approve";
    let actor = current.user.id.clone();
    let result = with_conn(&state.pool, move |conn| {
        Ok(reveals::decide(
            conn,
            &actor,
            &id,
            approve,
            &form.note,
            clock::now(),
        ))
    })
    .await?;
    match result {
        Ok(_) if approve => Ok(FlashRedirect::done(
            "/admin/reveals",
            "Approved: the requester can now see who wrote it.",
        )),
        Ok(_) => Ok(FlashRedirect::done(
            "/admin/reveals",
            "Declined: the author stays unknown.",
        )),
        Err(
            refused @ (RevealError::OwnRequest
            | RevealError::OwnMessage
            | RevealError::AlreadyDecided
            | RevealError::RequesterNotStaff
            | RevealError::Expired),
        ) => Ok(FlashRedirect::refused(&back, refused.to_string())),
        Err(other) => Err(other.into()),
    }
}

/// Whether the queue's reveal form offers "urgent" (admins only).
pub fn may_mark_urgent(role: Role) -> bool {
    role == Role::Admin
}
