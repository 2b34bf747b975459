//! The report queue (tabs by state, what needs a decision first, posts held
//! for naming someone), and what moderators do to a message: hide, restore,
//! dismiss its reports, remove, release a held one, or ask to reveal its author
//! (`reveals`: a second staff member decides). A hide or removal takes a reason
//! category from the short list.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{staff_layout, to_paste_again};
use crate::campus_time::{CampusTime, Stamp};
use crate::clock;
use crate::moderation;
use crate::web::error::{with_conn, AppError};
use crate::web::guard::{SessionForm, Staff, StaffForm};
use crate::web::layout::Layout;
use crate::web::state::AppState;
use crate::web::views::{self, FlashRedirect};

struct ThreadLine {
    pseudonym: String,
    text: String,
    is_flagged_one: bool,
    indent: bool,
}

struct QueueRow {
    id: String,
    class_code: String,
    class_id: String,
    pseudonym: String,
    text: String,
    /// Reports waiting for review that count toward the automatic hide.
    counting: i32,
    /// Reports waiting for review, counting or not.
    waiting: usize,
    hidden: bool,
    /// Hidden by reports, not yet decided: "Keep hidden" is offered.
    hidden_by_reports: bool,
    /// A report has waited more than 48 hours.
    overdue: bool,
    dismissed: bool,
    removed: bool,
    /// The newest decision's category, in words ("spam or off-topic").
    category: Option<&'static str>,
    /// The newest decision, who made it, when and in what words: a colleague
    /// about to undo a hide reads why it was made.
    decision: Option<DecisionLine>,
    /// The newest decision's id as the card shows it ("none"), which its
    /// forms carry (`moderation::messages::AsSeen`).
    decided: String,
    deleted: bool,
    deleted_by_author: bool,
    reports: Vec<ReportLine>,
    versions: Vec<VersionLine>,
    posted: Stamp,
    /// When its author last edited it, and whether its first text is lost
    /// (`QueueItem::first_text_lost`): a message made harmless within the
    /// edit window before anyone reported it keeps no earlier text, and the
    /// moderator reading a report against clean words should know.
    edited: Option<Stamp>,
    first_text_lost: bool,
    thread: Vec<ThreadLine>,
}

/// One report as a moderator sees it: never who made it.
struct ReportLine {
    reason: String,
    when: Stamp,
    /// Where the report stands: words, the time they refer to, and more words.
    status: &'static str,
    status_at: Option<Stamp>,
    status_tail: &'static str,
    reviewed: bool,
}

/// The newest staff decision on a message, as a card shows it.
struct DecisionLine {
    /// "Hidden by mo1q · spam or off-topic", "Hidden after reports".
    what: String,
    when: Stamp,
    words: Option<String>,
}

fn decision_line(time: QueueTime, d: &moderation::messages::Decision) -> DecisionLine {
    use moderation::AuditAction;
    let done = match d.action {
        AuditAction::Hide => "Hidden",
        AuditAction::Restore => "Restored",
        AuditAction::Delete => "Removed",
        AuditAction::Dismiss => "Reports dismissed",
        _ => "Decided",
    };
    let mut what = match (&d.by, d.by_reports) {
        (_, true) => format!("{done} after reports"),
        (Some(by), false) => format!("{done} by {by}"),
        (None, false) => format!("{done} by a deleted account"),
    };
    if let Some(category) = d.category {
        what.push_str(" · ");
        what.push_str(category.label());
    }
    DecisionLine {
        what,
        when: time.at(d.at),
        words: d.words.clone(),
    }
}

/// One earlier version of a reported message's text.
struct VersionLine {
    text: String,
    written: Stamp,
    /// When it stopped being shown; not for a version its author's
    /// erasure ended: that time is the erasure's own, to the microsecond,
    /// and would point at its audit entry and so at the account.
    replaced: Option<Stamp>,
    ended: &'static str,
}

/// The times a moderator reads in the queue, in campus time.
#[derive(Clone, Copy)]
struct QueueTime {
    campus: CampusTime,
    now: chrono::NaiveDateTime,
}

impl QueueTime {
    fn at(&self, at: chrono::NaiveDateTime) -> Stamp {
        self.campus.stamp(at, self.now)
    }
}

fn report_line(time: QueueTime, report: &crate::chat::Report) -> ReportLine {
    let (status, status_at, status_tail) =
        match (report.cleared_at, report.counted, report.reported_again_at) {
            (Some(at), _, _) => ("already reviewed", Some(time.at(at)), ""),
            (None, true, _) => ("counts toward hiding", None, ""),
            (None, false, Some(at)) => (
                "reported again after review",
                Some(time.at(at)),
                "; does not count toward hiding",
            ),
            // Either cause, in the same words: naming which one would tell
            // a moderator which reports a student they suspended had made.
            (None, false, None) => (
                "does not count toward hiding: from a newer member of the class, or from an account suspended since",
                None,
                "",
            ),
        };
    ReportLine {
        reason: report
            .reason
            .clone()
            .unwrap_or_else(|| "(no reason given)".into()),
        when: time.at(report.created_at),
        reviewed: report.cleared_at.is_some(),
        status,
        status_at,
        status_tail,
    }
}

fn version_line(time: QueueTime, version: &crate::chat::MessageRevision) -> VersionLine {
    VersionLine {
        text: version.content.clone(),
        written: time.at(version.written_at),
        replaced: (version.ended_by != crate::chat::RevisionEnd::Erasure)
            .then(|| time.at(version.created_at)),
        ended: how_it_ended(version),
    }
}

/// Why a kept version stopped being shown.
fn how_it_ended(version: &crate::chat::MessageRevision) -> &'static str {
    use crate::chat::RevisionEnd;
    match version.ended_by {
        RevisionEnd::Edit => "replaced by an edit",
        RevisionEnd::AuthorDelete => "deleted by author",
        RevisionEnd::Erasure => "removed when the author's account was erased",
        RevisionEnd::StaffRemoval => "removed by a moderator",
    }
}

/// A held message as the queue shows it: its text, its class and why it was held.
struct HeldRow {
    id: String,
    class_code: String,
    class_id: String,
    pseudonym: String,
    text: String,
    /// The text's `chat::staff::fingerprint`, which the release form carries.
    shown: String,
    reason: String,
    /// Whose display names it matched, as (user id, computing ID), for
    /// moderators only.
    named: Vec<(String, String)>,
    posted: Stamp,
}

/// A tab of the queue, with its count.
struct Tab {
    href: String,
    label: &'static str,
    count: i64,
    current: bool,
}

/// A reason category as the hide and remove forms offer it.
pub(super) struct CategoryChoice {
    pub(super) code: &'static str,
    pub(super) label: &'static str,
}

/// Every reason category, for the hide and remove forms (the queue's cards
/// and a class's staff reading).
pub(super) fn category_choices() -> Vec<CategoryChoice> {
    moderation::ReasonCategory::ALL
        .iter()
        .map(|c| CategoryChoice {
            code: c.as_str(),
            label: c.label(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "admin/flags.html")]
struct FlagsPage {
    layout: Layout,
    rows: Vec<QueueRow>,
    /// The reveal form offers "urgent" (admins only).
    may_mark_urgent: bool,
    /// Nobody else could approve a reveal: the form says so.
    only_staff: Option<&'static str>,
    /// Posts that name a person, waiting to be released or removed.
    held: Vec<HeldRow>,
    tabs: Vec<Tab>,
    state: &'static str,
    total: i64,
    limit: i64,
    categories: Vec<CategoryChoice>,
}

/// How many cards a tab shows at most (the rest wait for the next look).
const QUEUE_LIMIT: i64 = 50;

#[derive(Deserialize)]
pub struct QueueQuery {
    state: Option<String>,
}

/// The tab asked for: "waiting" when none; an unknown one is a 400 that says
/// which there are.
fn queue_state(query: &QueueQuery) -> Result<moderation::messages::QueueState, AppError> {
    use moderation::messages::QueueState;
    match query.state.as_deref().map(str::trim) {
        None | Some("") => Ok(QueueState::Waiting),
        Some(code) => code.parse().map_err(|_| {
            let known: Vec<&str> = QueueState::ALL.iter().map(|s| s.as_str()).collect();
            AppError::BadRequest(format!(
                "The queue has no \"{}\" list. Choose one of: {}.",
                code.chars().take(40).collect::<String>(),
                known.join(", ")
            ))
        }),
    }
}

fn shown_text(m: &crate::chat::ClassMessage) -> String {
    if m.deleted {
        "[deleted]".into()
    } else {
        m.content.clone()
    }
}

#[get("/flags")]
pub async fn flags(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, AppError> {
    let tab = queue_state(&query)?;
    let (queue, held, held_waiting, staff_members) = with_conn(&state.pool, move |conn| {
        use moderation::messages::QueueState;
        // Held posts head the waiting list: nobody else sees them until decided.
        let held = if tab == QueueState::Waiting {
            moderation::messages::held_queue(conn, QUEUE_LIMIT)?
        } else {
            Vec::new()
        };
        Ok((
            moderation::messages::flag_queue(conn, tab, QUEUE_LIMIT)?,
            held,
            moderation::messages::held_count(conn)?,
            moderation::reveals::staff_members(conn)?,
        ))
    })
    .await?;
    let now = clock::now();
    let time = QueueTime {
        campus: state.config.campus_time,
        now,
    };
    let tabs = queue
        .counts
        .iter()
        .map(|(s, count)| Tab {
            href: format!("/admin/flags?state={}", s.as_str()),
            label: s.label(),
            // Waiting lists the held posts above the reported ones, and
            // counts them as the nav's badge and the overview do.
            count: match s {
                moderation::messages::QueueState::Waiting => count + held_waiting,
                _ => *count,
            },
            current: *s == queue.state,
        })
        .collect();
    let rows = queue
        .items
        .into_iter()
        .map(|item| QueueRow {
            id: item.message.id.to_string(),
            class_code: item.class_code.clone(),
            class_id: item.class_id.to_string(),
            pseudonym: item.message.anonymous_identifier.clone(),
            text: shown_text(&item.message),
            counting: item.message.flagged_count,
            waiting: item.waiting(),
            hidden: item.message.hidden && !item.message.deleted,
            hidden_by_reports: item.hidden_by_reports(),
            overdue: item.overdue(now),
            dismissed: item.dismissed(),
            removed: item.removed_by_staff(),
            category: item
                .decision
                .as_ref()
                .and_then(|d| d.category)
                .map(moderation::ReasonCategory::label),
            decision: item.decision.as_ref().map(|d| decision_line(time, d)),
            decided: item
                .decision
                .as_ref()
                .map_or_else(|| NO_DECISION.to_string(), |d| d.id.clone()),
            deleted: item.message.deleted,
            deleted_by_author: item.deleted_by_author,
            reports: item.reports.iter().map(|r| report_line(time, r)).collect(),
            versions: item
                .versions
                .iter()
                .map(|v| version_line(time, v))
                .collect(),
            posted: time.at(item.message.created_at),
            edited: item.message.edited_at.map(|at| time.at(at)),
            first_text_lost: item.first_text_lost(),
            thread: item
                .thread
                .iter()
                .map(|t| ThreadLine {
                    pseudonym: t.anonymous_identifier.clone(),
                    text: shown_text(t),
                    is_flagged_one: t.id == item.message.id,
                    indent: t.parent_message_id.is_some(),
                })
                .collect(),
        })
        .collect();
    let held = held
        .into_iter()
        .map(|item| HeldRow {
            id: item.message.id.to_string(),
            class_code: item.class_code,
            class_id: item.class_id.to_string(),
            pseudonym: item.message.anonymous_identifier.clone(),
            text: item.message.content.clone(),
            shown: crate::chat::staff::fingerprint(&item.message.content),
            reason: item.message.held_reason.clone().unwrap_or_default(),
            named: item.named,
            posted: time.at(item.message.created_at),
        })
        .collect();
    let body = FlagsPage {
        layout: staff_layout(&req, &staff, "admin-flags"),
        rows,
        may_mark_urgent: super::reveals::may_mark_urgent(staff.0.user.role),
        only_staff: (staff_members <= 1).then_some(super::reveals::ONLY_STAFF),
        held,
        tabs,
        state: queue.state.as_str(),
        total: queue.total,
        limit: QUEUE_LIMIT,
        categories: category_choices(),
    }
    .render()?;
    Ok(views::page(body))
}

#[derive(Deserialize)]
pub struct MessageActionForm {
    csrf_token: String,
    reason: Option<String>,
    /// A hide's or removal's reason category (`ReasonCategory` code).
    category: Option<String>,
    /// The queue tab the form was on, to go back to it.
    back: Option<String>,
    /// The newest decision as the card showed it (`QueueRow::decided`);
    /// absent from a page that does not read decisions (a class's staff
    /// reading), which is not checked.
    decided: Option<String>,
    /// "1": the card showed the post held (its decisions are not read: only
    /// whether it is still held and not removed is checked).
    held: Option<String>,
}

/// `QueueRow::decided` of a message no one decided on yet.
const NO_DECISION: &str = "none";

impl MessageActionForm {
    /// Where the message stood on the page the form was on, when it says.
    fn as_seen(&self) -> Option<moderation::messages::AsSeen> {
        let decision = self
            .decided
            .as_deref()
            .filter(|d| !d.is_empty())
            .map(|d| (d != NO_DECISION).then(|| d.to_string()));
        let held = self.held.as_deref() == Some("1");
        (decision.is_some() || held).then_some(moderation::messages::AsSeen { decision, held })
    }
}

impl SessionForm for MessageActionForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

#[post("/messages/{id}/{action:hide|restore|dismiss|delete}")]
pub async fn message_action(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    StaffForm(current, form): StaffForm<MessageActionForm>,
) -> Result<FlashRedirect, AppError> {
    use moderation::messages::{self as messages, Reason};
    let (id, action) = path.into_inner();
    let id = crate::chat::MessageId::parse(&id).ok_or(AppError::NotFound)?;
    // Back to the tab the moderator was on, when it is one of the queue's,
    // or to the page of the class they were reading (`class:<id>`, with
    // `?before=<cursor>` past its first page), at the message.
    let back = match form.back.as_deref().and_then(|b| b.strip_prefix("class:")) {
        Some(class) => {
            let (class, before) = match class.split_once("?before=") {
                Some((class, raw)) => (class, crate::chat::Cursor::parse(raw)),
                None => (class, None),
            };
            match crate::classes::ClassId::parse(class) {
                Some(class) => match before {
                    Some(cursor) => {
                        format!("/admin/classes/{class}?before={}#m-{id}", cursor.encode())
                    }
                    None => format!("/admin/classes/{class}#m-{id}"),
                },
                None => "/admin/flags".to_string(),
            }
        }
        None => form
            .back
            .as_deref()
            .and_then(|b| b.parse::<moderation::messages::QueueState>().ok())
            .filter(|s| *s != moderation::messages::QueueState::Waiting)
            .map_or_else(
                || "/admin/flags".to_string(),
                |s| format!("/admin/flags?state={}", s.as_str()),
            ),
    };
    // A hide or removal names its reason's category before anything is
    // written; without one it goes back to where the moderator was, saying
    // why, with the words they typed to paste again.
    let reason = match action.as_str() {
        "hide" | "delete" => {
            match Reason::parse(form.category.as_deref(), form.reason.as_deref()) {
                Ok(reason) => Some(reason),
                Err(refused) => {
                    let words = to_paste_again(form.reason.as_deref());
                    return Ok(FlashRedirect::refused(&back, format!("{refused}{words}")));
                }
            }
        }
        _ => None,
    };
    let actor = current.user.id.clone();
    let note = form.reason.clone();
    let card = match (action.as_str(), reason) {
        ("hide", Some(reason)) => messages::CardAction::Hide(reason),
        ("delete", Some(reason)) => messages::CardAction::Delete(reason),
        ("dismiss", _) => messages::CardAction::Dismiss(note),
        _ => messages::CardAction::Restore(note),
    };
    let seen = form.as_seen();
    let acted = with_conn(&state.pool, move |conn| {
        let now = clock::now();
        Ok(messages::decide(
            conn,
            &actor,
            &id,
            &card,
            seen.as_ref(),
            now,
        ))
    })
    .await?;
    let message = match acted {
        Ok(message) => message,
        // Another moderator got there first (or the state moved on): back to
        // the tab, which shows where the message stands now.
        Err(
            refused @ (messages::ActionError::AlreadyHidden
            | messages::ActionError::NotHidden
            | messages::ActionError::NothingToReview
            | messages::ActionError::Deleted
            | messages::ActionError::OwnMessage
            | messages::ActionError::HiddenByReportsSince
            | messages::ActionError::DecidedSince
            | messages::ActionError::NotHeld),
        ) => {
            let words = to_paste_again(form.reason.as_deref());
            return Ok(FlashRedirect::refused(&back, format!("{refused}{words}")));
        }
        Err(other) => return Err(other.into()),
    };
    let done = match action.as_str() {
        "hide" if message.hidden => "kept hidden; its reports are marked reviewed",
        "hide" => "hidden from students; its reports are marked reviewed",
        "restore" => "restored; its reports are kept as reviewed",
        "dismiss" => "left as it was; its reports are marked reviewed",
        _ => "removed; it shows as [deleted]",
    };
    Ok(FlashRedirect::done(
        &back,
        format!("{}'s message is {done}.", message.anonymous_identifier),
    ))
}

#[derive(Deserialize)]
pub struct ReleaseForm {
    csrf_token: String,
    /// The text the queue showed (`chat::staff::fingerprint`).
    #[serde(default)]
    shown: String,
}

impl SessionForm for ReleaseForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Releases a held message to its class (audited as `release`).
#[post("/messages/{id}/release")]
pub async fn release_message(
    state: web::Data<AppState>,
    path: web::Path<String>,
    StaffForm(current, form): StaffForm<ReleaseForm>,
) -> Result<FlashRedirect, AppError> {
    let id = crate::chat::MessageId::parse(&path).ok_or(AppError::NotFound)?;
    let actor = current.user.id.clone();
    let released = with_conn(&state.pool, move |conn| {
        Ok(moderation::messages::release(
            conn,
            &actor,
            &id,
            form.shown.trim(),
            clock::now(),
        ))
    })
    .await?;
    let message = match released {
        Ok(message) => message,
        Err(
            error @ (moderation::messages::ActionError::NotFound
            | moderation::messages::ActionError::Db(_)),
        ) => return Err(error.into()),
        // Back to the queue, which shows the post as it is now (edited,
        // released or removed by another moderator, or its parent gone).
        Err(refused) => {
            return Ok(FlashRedirect::refused("/admin/flags", refused.to_string()));
        }
    };
    Ok(FlashRedirect::done(
        "/admin/flags",
        format!(
            "{}'s message is released: the class sees it now.",
            message.anonymous_identifier
        ),
    ))
}
