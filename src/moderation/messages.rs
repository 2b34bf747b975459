//! Staff actions on chat messages: the flag queue (its tabs and order), hide,
//! restore, dismiss, remove, and the release of a held post. Nothing here
//! returns who wrote a message: that takes a two-person reveal
//! (`moderation::reveals`).

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use diesel::dsl::{self, sql};
use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::{AuditAction, AuditId, NewAuditEntry, ReasonCategory};
use crate::accounts::UserId;
use crate::chat::{
    self, flags, revisions, ClassMessage, MessageId, MessageRevision, Report, RevisionEnd,
};
use crate::classes::ClassId;
use crate::db::schema::{audit_log, class_messages, classes};
use crate::db::{self, DbConn, Tx};
use crate::notifications::{self, Kind, Notice};

crate::text_enum!(
    /// Which messages the queue lists: a tab of `/admin/flags`. One more
    /// variant is one more arm in `predicate` and `label`.
    QueueState {
        Waiting => "waiting",
        Hidden => "hidden",
        Dismissed => "dismissed",
        Removed => "removed",
    }
);

impl QueueState {
    /// The tab's name.
    pub fn label(self) -> &'static str {
        match self {
            QueueState::Waiting => "Waiting",
            QueueState::Hidden => "Hidden",
            QueueState::Dismissed => "Dismissed",
            QueueState::Removed => "Removed",
        }
    }

    /// The SQL condition on `class_messages` of a message in this state.
    // Written as SQL text because the states read `message_flags` and
    // `audit_log` in subqueries that both backends spell alike. Each names
    // its messages by id from a small indexed set (waiting reports, hidden
    // messages, staff decisions), so a count or a page starts from those
    // rows: a correlated test on every message read all of class_messages
    // (312 ms for the waiting count and 596 ms for the page, SQLite, scale
    // campus; bench/README.md session 15).
    pub(super) fn predicate(self) -> String {
        match self {
            QueueState::Waiting => format!(
                "class_messages.id IN ({WAITING_REPORTS} UNION ALL {HIDDEN_UNDECIDED})"
            ),
            QueueState::Hidden => format!("class_messages.id IN ({HIDDEN_IDS})"),
            QueueState::Dismissed => format!(
                "class_messages.id IN (SELECT a.target_id FROM audit_log a \
                 WHERE a.action = '{dismiss}' AND a.target_type = 'message' \
                 AND NOT EXISTS (SELECT 1 FROM audit_log b WHERE b.target_type = 'message' \
                 AND b.target_id = a.target_id AND b.action IN ({decisions}) \
                 AND (b.created_at > a.created_at OR (b.created_at = a.created_at AND b.id > a.id))))",
                dismiss = AuditAction::Dismiss.as_str(),
                decisions = decisions_sql(),
            ),
            QueueState::Removed => format!(
                "(class_messages.deleted AND class_messages.id IN (SELECT a.target_id \
                 FROM audit_log a WHERE a.action = '{}' AND a.target_type = 'message'))",
                AuditAction::Delete.as_str()
            ),
        }
    }

    /// Waiting and hidden put what needs a decision first (see `QUEUE_ORDER`);
    /// the decided ones list the newest message first.
    fn order(self) -> &'static str {
        match self {
            QueueState::Waiting | QueueState::Hidden => QUEUE_ORDER,
            QueueState::Dismissed | QueueState::Removed => {
                "class_messages.created_at DESC, class_messages.id DESC"
            }
        }
    }
}

/// Messages hidden from students (by reports or by a moderator) and not
/// removed: the partial index `idx_class_messages_hidden` holds exactly these.
const HIDDEN_IDS: &str = "SELECT h.id FROM class_messages h WHERE h.hidden AND NOT h.deleted";

/// Hidden messages no moderator has decided on: hidden by reports, with no
/// moderator's hide since (a moderator's hide, or "Keep hidden", is a
/// decision, and leaves the Waiting tab for Hidden). A reports' hide is told
/// by its category (`BY_REPORTS`), as `Decision::by_reports` tells it, not by
/// a missing actor: a moderator's account deleted since leaves `actor_id`
/// NULL on their decisions. Starts from the hidden set;
/// `idx_audit_log_target` finds each one's hides.
const HIDDEN_UNDECIDED: &str =
    "SELECT h.id FROM class_messages h WHERE h.hidden AND NOT h.deleted \
     AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.target_type = 'message' \
     AND a.target_id = h.id AND a.action = 'hide' \
     AND (a.category IS NULL OR a.category <> 'reports') \
     AND NOT EXISTS (SELECT 1 FROM audit_log b WHERE b.target_type = 'message' \
     AND b.target_id = h.id AND b.action = 'hide' AND b.category = 'reports' \
     AND (b.created_at > a.created_at OR (b.created_at = a.created_at AND b.id > a.id))))";

/// Messages with a report waiting for review (`idx_message_flags_pending`).
const WAITING_REPORTS: &str = "SELECT f.message_id FROM message_flags f WHERE f.cleared_at IS NULL";

/// What needs a moderator first: hidden messages, then the most distinct
/// reports waiting, then the one waiting longest (its oldest waiting report; a
/// report made again after a review waits from then), then by id so the order
/// is total.
const QUEUE_ORDER: &str = "CASE WHEN class_messages.hidden AND NOT class_messages.deleted \
     THEN 0 ELSE 1 END, \
     (SELECT COUNT(*) FROM message_flags f WHERE f.message_id = class_messages.id \
     AND f.cleared_at IS NULL) DESC, \
     COALESCE((SELECT MIN(COALESCE(f.reported_again_at, f.created_at)) FROM message_flags f \
     WHERE f.message_id = class_messages.id AND f.cleared_at IS NULL), \
     class_messages.created_at), \
     class_messages.id";

/// The audit actions that decide a reported message, quoted for SQL.
fn decisions_sql() -> String {
    DECISIONS
        .iter()
        .map(|a| format!("'{}'", a.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The staff decisions on a message: the newest one is where it stands.
const DECISIONS: [AuditAction; 4] = [
    AuditAction::Hide,
    AuditAction::Restore,
    AuditAction::Delete,
    AuditAction::Dismiss,
];

/// A report waiting since before this is overdue.
pub fn overdue_before(now: NaiveDateTime) -> NaiveDateTime {
    now - Duration::hours(48)
}

/// When a waiting report started waiting: when it was made, or made again after a review.
pub fn waiting_since(report: &Report) -> Option<NaiveDateTime> {
    match report.cleared_at {
        Some(_) => None,
        None => Some(report.reported_again_at.unwrap_or(report.created_at)),
    }
}

/// The newest staff decision on a message (the queue's badge says it).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Its audit row's id: a card's forms carry it (`AsSeen`), so a decision
    /// made since the card was loaded is not overruled unread.
    pub id: String,
    pub action: AuditAction,
    pub at: NaiveDateTime,
    pub category: Option<ReasonCategory>,
    /// Students' reports hid it (`BY_REPORTS`), not a moderator.
    pub by_reports: bool,
    /// The staff member who decided, by computing ID (None: reports, or an
    /// account erased since). Staff read it, as in the audit log.
    pub by: Option<String>,
    /// Their words for the staff log (a hide's or removal's reason, a
    /// restore's or dismissal's note).
    pub words: Option<String>,
}

/// A message in the flag queue, with its class, its reports, its kept versions and its thread.
#[derive(Debug, Clone)]
pub struct QueueItem {
    pub message: ClassMessage,
    pub class_code: String,
    pub class_id: ClassId,
    /// Every report, oldest first: those waiting for review and those already reviewed.
    pub reports: Vec<Report>,
    /// Earlier versions of its text, oldest first (kept because it was reported).
    pub versions: Vec<MessageRevision>,
    /// Its author deleted it: students see "[deleted]", the text is in `versions`.
    pub deleted_by_author: bool,
    /// The thread's messages in order (pseudonyms and text only), this one included.
    pub thread: Vec<ClassMessage>,
    /// The newest staff decision on it, if any.
    pub decision: Option<Decision>,
}

impl QueueItem {
    /// Distinct reports waiting for review (one per reporter).
    pub fn waiting(&self) -> usize {
        self.reports
            .iter()
            .filter(|r| r.cleared_at.is_none())
            .count()
    }

    /// Its author edited it and its first text was not kept: edited before
    /// anyone reported it (a message nobody reported keeps no history), or
    /// its kept versions went with its author's erased account. A moderator
    /// then reads the reports against words the reporters may not have seen.
    pub fn first_text_lost(&self) -> bool {
        self.message.edited_at.is_some()
            && !self
                .versions
                .iter()
                .any(|v| v.written_at == self.message.created_at)
    }

    /// A report on it has waited more than 48 hours.
    pub fn overdue(&self, now: NaiveDateTime) -> bool {
        self.reports
            .iter()
            .filter_map(waiting_since)
            .any(|since| since < overdue_before(now))
    }

    /// A moderator removed it (not its author).
    pub fn removed_by_staff(&self) -> bool {
        self.message.deleted
            && self
                .decision
                .as_ref()
                .is_some_and(|d| d.action == AuditAction::Delete)
    }

    /// Hidden by students' reports and not yet decided by a moderator: the
    /// card offers "Keep hidden" beside Restore and Remove.
    pub fn hidden_by_reports(&self) -> bool {
        self.message.hidden
            && !self.message.deleted
            && self
                .decision
                .as_ref()
                .is_none_or(|d| d.action == AuditAction::Hide && d.by_reports)
    }

    /// Its reports were dismissed and it was left as it is.
    pub fn dismissed(&self) -> bool {
        self.decision
            .as_ref()
            .is_some_and(|d| d.action == AuditAction::Dismiss)
    }
}

/// One tab of the queue: its messages (at most the limit), how many it holds
/// in all, and how many each tab holds.
#[derive(Debug, Clone)]
pub struct Queue {
    pub state: QueueState,
    pub items: Vec<QueueItem>,
    pub total: i64,
    pub counts: Vec<(QueueState, i64)>,
}

/// How many messages are in a state, in one statement.
pub fn count_in(conn: &mut DbConn, state: QueueState) -> QueryResult<i64> {
    class_messages::table
        .filter(sql::<Bool>(&state.predicate()))
        .count()
        .get_result(conn)
}

/// The messages of one queue tab, in its order: a fixed number of queries
/// whatever the size (one count per tab, the page, its reports, versions,
/// threads and decisions). Messages deleted by their author while reported
/// stay, so a moderator can still act on them.
pub fn flag_queue(conn: &mut DbConn, state: QueueState, limit: i64) -> QueryResult<Queue> {
    let mut counts = Vec::with_capacity(QueueState::ALL.len());
    for tab in QueueState::ALL {
        counts.push((*tab, count_in(conn, *tab)?));
    }
    let total = counts
        .iter()
        .find(|(tab, _)| *tab == state)
        .map_or(0, |(_, n)| *n);
    let rows: Vec<(ClassMessage, String, String)> = class_messages::table
        .inner_join(classes::table)
        .filter(sql::<Bool>(&state.predicate()))
        .order(sql::<Bool>(state.order()))
        .limit(limit)
        .select((
            ClassMessage::as_select(),
            classes::subject,
            classes::catalog_number,
        ))
        .load(conn)?;
    if rows.is_empty() {
        // An empty tab: its reports, versions, decisions and threads would be
        // four statements about no message (`WHERE 1=0`).
        return Ok(Queue {
            state,
            items: Vec::new(),
            total,
            counts,
        });
    }
    let ids: Vec<MessageId> = rows.iter().map(|(m, _, _)| m.id.clone()).collect();
    let mut reports: HashMap<MessageId, Vec<Report>> = HashMap::new();
    for report in flags::reports_on(conn, &ids)? {
        reports
            .entry(report.message_id.clone())
            .or_default()
            .push(report);
    }
    let mut versions: HashMap<MessageId, Vec<MessageRevision>> = HashMap::new();
    for version in revisions::of_messages(conn, &ids)? {
        versions
            .entry(version.message_id.clone())
            .or_default()
            .push(version);
    }
    let mut decisions = latest_decisions(conn, &ids)?;
    let roots: Vec<MessageId> = rows
        .iter()
        .map(|(m, _, _)| m.thread_root_id.clone().unwrap_or_else(|| m.id.clone()))
        .collect();
    let thread_rows: Vec<ClassMessage> = class_messages::table
        .filter(
            class_messages::id
                .eq_any(&roots)
                .or(class_messages::thread_root_id.eq_any(&roots)),
        )
        .order((class_messages::created_at, class_messages::id))
        .select(ClassMessage::as_select())
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(|(message, subject, catalog)| {
            let root = message
                .thread_root_id
                .clone()
                .unwrap_or_else(|| message.id.clone());
            let thread = thread_rows
                .iter()
                .filter(|t| t.id == root || t.thread_root_id.as_ref() == Some(&root))
                .cloned()
                .collect();
            let versions = versions.remove(&message.id).unwrap_or_default();
            QueueItem {
                reports: reports.remove(&message.id).unwrap_or_default(),
                deleted_by_author: message.deleted
                    && versions
                        .iter()
                        .any(|v| v.ended_by == RevisionEnd::AuthorDelete),
                versions,
                class_id: message.class_id.clone(),
                class_code: format!("{subject} {catalog}"),
                thread,
                decision: decisions.remove(message.id.as_str()),
                message,
            }
        })
        .collect();
    Ok(Queue {
        state,
        items,
        total,
        counts,
    })
}

/// The newest staff decision on each of these messages, in one statement.
fn latest_decisions(
    conn: &mut DbConn,
    ids: &[MessageId],
) -> QueryResult<HashMap<String, Decision>> {
    use crate::db::schema::users;
    let ids: Vec<&str> = ids.iter().map(MessageId::as_str).collect();
    type DecisionRow = (
        String,
        String,
        String,
        NaiveDateTime,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<DecisionRow> = audit_log::table
        .left_join(users::table)
        .filter(audit_log::target_type.eq("message"))
        .filter(audit_log::target_id.eq_any(&ids))
        .filter(audit_log::action.eq_any(DECISIONS.map(AuditAction::as_str)))
        .order((audit_log::created_at, audit_log::id))
        .select((
            audit_log::id,
            audit_log::target_id,
            audit_log::action,
            audit_log::created_at,
            audit_log::category,
            users::computing_id.nullable(),
            audit_log::reason,
        ))
        .load(conn)?;
    let mut latest = HashMap::new();
    for (id, target, action, at, category, by, words) in rows {
        // Oldest first, so the last one written per message is its newest.
        if let Ok(action) = action.parse() {
            latest.insert(
                target,
                Decision {
                    id,
                    action,
                    at,
                    by_reports: category.as_deref() == Some(BY_REPORTS),
                    category: category.and_then(|c| c.parse().ok()),
                    by,
                    words,
                },
            );
        }
    }
    Ok(latest)
}

/// Held and not yet released or removed. `held` itself, not `held = ?`: it
/// is the condition of the partial index `idx_class_messages_held`, which
/// SQLite uses only when it can see the query implies it (a bound value it
/// cannot; the count read all of class_messages, 84 ms at scale).
pub(super) fn held_waiting(
) -> dsl::And<class_messages::held, dsl::Eq<class_messages::deleted, bool>> {
    class_messages::held.and(class_messages::deleted.eq(false))
}

/// A message held because it names a person, waiting for a moderator.
#[derive(Debug, Clone)]
pub struct HeldItem {
    pub message: ClassMessage,
    pub class_code: String,
    pub class_id: ClassId,
    /// The members whose display names it holds, as (user id, computing ID),
    /// for moderators: a name that keeps matching ordinary words shows here,
    /// one link from its owner's page (where it can be removed).
    pub named: Vec<(String, String)>,
}

/// How many held messages wait to be released or removed: one statement.
pub fn held_count(conn: &mut DbConn) -> QueryResult<i64> {
    class_messages::table
        .filter(held_waiting())
        .count()
        .get_result(conn)
}

/// Held messages not yet released or removed, oldest first (they have waited
/// longest): one statement, and one more for the members they name.
pub fn held_queue(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<HeldItem>> {
    let rows: Vec<(ClassMessage, String, String, Option<String>)> = class_messages::table
        .inner_join(classes::table)
        .filter(held_waiting())
        .order((class_messages::created_at.asc(), class_messages::id.asc()))
        .limit(limit)
        .select((
            ClassMessage::as_select(),
            classes::subject,
            classes::catalog_number,
            class_messages::held_names,
        ))
        .load(conn)?;
    let mut ids: Vec<String> = rows
        .iter()
        .filter_map(|row| row.3.as_deref())
        .flat_map(str::split_whitespace)
        .map(str::to_string)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    // An erased account's id finds no one, and names no one.
    let computing_ids = super::audit_targets::users(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|(message, subject, catalog, names)| HeldItem {
            class_id: message.class_id.clone(),
            class_code: format!("{subject} {catalog}"),
            named: names
                .as_deref()
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|id| Some((id.to_string(), computing_ids.get(id)?.clone())))
                .collect(),
            message,
        })
        .collect())
}

/// Releases a held message to its class, with the `release` audit row (its
/// class set) in the same transaction. A message no longer held (released or
/// removed meanwhile) is `NotHeld`; one whose text is not what the moderator
/// read (`shown`, its `chat::staff::fingerprint`) is `ChangedSinceShown`.
pub fn release(
    conn: &mut DbConn,
    actor: &UserId,
    id: &MessageId,
    shown: &str,
    now: NaiveDateTime,
) -> Result<ClassMessage, ActionError> {
    db::write_tx(conn, |tx| {
        let message = match chat::staff::release(tx, id, shown, now)? {
            chat::staff::Release::Released(message) => *message,
            chat::staff::Release::NotHeld => return Err(ActionError::NotHeld),
            chat::staff::Release::Changed => return Err(ActionError::ChangedSinceShown),
            chat::staff::Release::ParentGone => return Err(ActionError::ParentGone),
        };
        // Their own held post waits for another staff member (rolled back).
        if message.user_id.as_ref() == Some(actor) {
            return Err(ActionError::OwnMessage);
        }
        audit(tx, actor, AuditAction::Release, &message, None, None, now)?;
        // Its author waited with "Held for review": they hear it is out.
        tell_author(tx, actor, AuditAction::Release, &message, None, now)?;
        Ok(message)
    })
}

/// Why a staff action on a message was refused.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("There is no such message.")]
    NotFound,
    #[error("This post is held for review: release it to the class or remove it.")]
    Held,
    #[error("That message is no longer held: another moderator released or removed it.")]
    NotHeld,
    #[error("Its author edited that post after the queue showed it, so nothing was released. Read it again in the queue before you release it.")]
    ChangedSinceShown,
    #[error("The message it replies to has been hidden or removed since, so it was not released; it stays held. Remove it, or release it if that message is restored.")]
    ParentGone,
    #[error("Choose why: pick a reason from the list (harassment or bullying, personal information, hate, spam or off-topic, academic dishonesty, or other). Nothing was changed.")]
    CategoryRequired,
    #[error("That reason is not one of the list. Reload the queue and pick one of its reasons. Nothing was changed.")]
    UnknownCategory,
    #[error("With \"other\", say in a few words why; the author reads it. Nothing was changed.")]
    OtherNeedsWords,
    #[error("That message is deleted: only its reports can still be marked reviewed. Nothing was changed.")]
    Deleted,
    #[error("That message is already hidden (another moderator may have hidden it). Nothing was changed.")]
    AlreadyHidden,
    #[error("That message is not hidden, so there is nothing to restore; to clear its reports, dismiss them. Nothing was changed.")]
    NotHidden,
    #[error("No report on that message is waiting for review (another moderator may have dealt with it). Nothing was changed.")]
    NothingToReview,
    #[error(
        "You wrote this message, so another staff member must decide on it. Nothing was changed."
    )]
    OwnMessage,
    #[error("Reports hid this message since the page was loaded, so its reports were not dismissed. Restore it or keep it hidden. Nothing was changed.")]
    HiddenByReportsSince,
    #[error("This message was decided on since you loaded the page (by a moderator, students' reports, or you in another tab), so your decision was not applied. Its card now shows the newest decision: read it, then decide again. Nothing was changed.")]
    DecidedSince,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Why a moderator hid or removed a message: a category from the short list
/// (all the class's public log shows) and, optionally, their own words (only
/// the author and staff read them); "other" needs the words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    category: ReasonCategory,
    text: Option<String>,
}

impl Reason {
    /// A reason; the words are trimmed, without control characters, at most 500.
    pub fn new(category: ReasonCategory, text: Option<&str>) -> Result<Reason, ActionError> {
        let text = clean_reason(text);
        if category == ReasonCategory::Other && text.is_none() {
            return Err(ActionError::OtherNeedsWords);
        }
        Ok(Reason { category, text })
    }

    /// A reason from a form's fields: the category's code and the free text.
    pub fn parse(category: Option<&str>, text: Option<&str>) -> Result<Reason, ActionError> {
        let code = category
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or(ActionError::CategoryRequired)?;
        let category = code
            .parse::<ReasonCategory>()
            .map_err(|_| ActionError::UnknownCategory)?;
        Reason::new(category, text)
    }

    pub fn category(&self) -> ReasonCategory {
        self.category
    }

    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// What the author reads: the category, then the moderator's words.
    pub fn for_author(&self) -> String {
        let label = self.category.label();
        let mut first = label.chars();
        let label = match first.next() {
            Some(c) => c.to_uppercase().chain(first).collect::<String>(),
            None => String::new(),
        };
        match &self.text {
            Some(text) => format!("{label}: {text}"),
            None => label,
        }
    }
}

fn audit(
    tx: &mut Tx,
    actor: &UserId,
    action: AuditAction,
    message: &ClassMessage,
    reason: Option<&str>,
    category: Option<ReasonCategory>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let details = format!(
        "{} in class {}",
        message.anonymous_identifier, message.class_id
    );
    super::record(
        tx,
        &NewAuditEntry {
            id: &AuditId::new(),
            actor_id: Some(actor),
            action: action.as_str(),
            target_type: "message",
            target_id: message.id.as_str(),
            reason,
            details: Some(&details),
            created_at: now,
            class_id: Some(message.class_id.as_str()),
            category: category.map(ReasonCategory::as_str),
        },
    )
}

fn clean_reason(reason: Option<&str>) -> Option<String> {
    reason
        .map(|r| super::one_line(r).chars().take(500).collect::<String>())
        .filter(|r| !r.is_empty())
}

/// Hides a message from students, with the audit row (and its category) in
/// the same transaction.
pub fn hide(
    conn: &mut DbConn,
    actor: &UserId,
    id: &MessageId,
    reason: &Reason,
    now: NaiveDateTime,
) -> Result<ClassMessage, ActionError> {
    act(
        conn,
        actor,
        id,
        AuditAction::Hide,
        Some(reason),
        None,
        None,
        now,
        chat::staff::hide,
    )
}

/// Shows a message again and marks its reports reviewed: they are kept (the
/// queue shows them as reviewed) and no longer count, and their reporters cannot
/// count again on this message. `note` is for the staff log only.
pub fn restore(
    conn: &mut DbConn,
    actor: &UserId,
    id: &MessageId,
    note: Option<&str>,
    now: NaiveDateTime,
) -> Result<ClassMessage, ActionError> {
    act(
        conn,
        actor,
        id,
        AuditAction::Restore,
        None,
        note,
        None,
        now,
        chat::staff::restore,
    )
}

/// The reports were wrong: marks them reviewed and leaves the message as it
/// is (shown stays shown). Logged as `dismiss`; the author hears nothing, as
/// nothing changed for them.
pub fn dismiss(
    conn: &mut DbConn,
    actor: &UserId,
    id: &MessageId,
    note: Option<&str>,
    now: NaiveDateTime,
) -> Result<ClassMessage, ActionError> {
    act(
        conn,
        actor,
        id,
        AuditAction::Dismiss,
        None,
        note,
        None,
        now,
        chat::staff::dismiss,
    )
}

/// Removes a message's text for good; it stays as "[deleted]" so its replies keep
/// their place. Its reports are marked reviewed, which takes it out of the queue.
/// A removal always has a reason: its category is logged and the author reads both.
pub fn delete(
    conn: &mut DbConn,
    actor: &UserId,
    id: &MessageId,
    reason: &Reason,
    now: NaiveDateTime,
) -> Result<ClassMessage, ActionError> {
    act(
        conn,
        actor,
        id,
        AuditAction::Delete,
        Some(reason),
        None,
        None,
        now,
        chat::staff::remove,
    )
}

/// The newest staff decision on one message (students' reports' hide included).
fn latest_decision(tx: &mut Tx, id: &MessageId) -> QueryResult<Option<Decision>> {
    let conn: &mut DbConn = tx;
    Ok(latest_decisions(conn, std::slice::from_ref(id))?.remove(id.as_str()))
}

/// Whether students' reports hid this message and no moderator decided on it
/// since: the newest staff decision on it is the reports' hide.
fn hidden_by_reports(tx: &mut Tx, id: &MessageId) -> QueryResult<bool> {
    Ok(latest_decision(tx, id)?.is_none_or(|d| d.action == AuditAction::Hide && d.by_reports))
}

/// Where a message stood on the page a moderator acted from: its newest
/// decision's id (`Decision::id`; `Some(None)` when it had none, None where
/// the page shows no decisions) and whether it was held. A decision pressed
/// after another decision since (a moderator's, the reports' hide, or the
/// same moderator's from another tab), or a removal of a held post released
/// or removed since, is refused (`ActionError::DecidedSince`,
/// `ActionError::NotHeld`): it would overrule what its moderator has not read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AsSeen {
    pub decision: Option<Option<String>>,
    pub held: bool,
}

/// A decision taken from a card (`AsSeen`): a hide or removal with its reason,
/// a restore or dismissal with its note.
#[derive(Debug, Clone)]
pub enum CardAction {
    Hide(Reason),
    Delete(Reason),
    Restore(Option<String>),
    Dismiss(Option<String>),
}

/// `hide`, `delete`, `restore` or `dismiss`, checked against what the card the
/// moderator read showed of the message when it says (`AsSeen`).
pub fn decide(
    conn: &mut DbConn,
    actor: &UserId,
    id: &MessageId,
    action: &CardAction,
    seen: Option<&AsSeen>,
    now: NaiveDateTime,
) -> Result<ClassMessage, ActionError> {
    let (audit, reason, note, write): (_, _, _, Write) = match action {
        CardAction::Hide(reason) => (AuditAction::Hide, Some(reason), None, chat::staff::hide),
        CardAction::Delete(reason) => {
            (AuditAction::Delete, Some(reason), None, chat::staff::remove)
        }
        CardAction::Restore(note) => (
            AuditAction::Restore,
            None,
            note.as_deref(),
            chat::staff::restore,
        ),
        CardAction::Dismiss(note) => (
            AuditAction::Dismiss,
            None,
            note.as_deref(),
            chat::staff::dismiss,
        ),
    };
    act(conn, actor, id, audit, reason, note, seen, now, write)
}

/// Chat's write for one staff action.
type Write = fn(&mut Tx, &MessageId, NaiveDateTime) -> QueryResult<usize>;

/// One staff action on a message: chat's write and the audit row, in one
/// write transaction. Returns the message as it was before. `reason` (a hide
/// or removal) or `note` (a restore or dismissal) is the audit row's reason.
#[allow(clippy::too_many_arguments)]
fn act(
    conn: &mut DbConn,
    actor: &UserId,
    id: &MessageId,
    action: AuditAction,
    reason: Option<&Reason>,
    note: Option<&str>,
    seen: Option<&AsSeen>,
    now: NaiveDateTime,
    write: Write,
) -> Result<ClassMessage, ActionError> {
    db::write_tx(conn, |tx| {
        // Decided on the message as it stands under its class's lock: two
        // moderators pressing at once act one after the other.
        let message = chat::staff::current(tx, id)?.ok_or(ActionError::NotFound)?;
        // Nobody judges their own post: the class cannot see that the
        // moderator who dismissed its reports wrote it.
        if message.user_id.as_ref() == Some(actor) {
            return Err(ActionError::OwnMessage);
        }
        if let Some(seen) = seen {
            // A held post removed stays held, deleted.
            if seen.held && (!message.held || message.deleted) {
                return Err(ActionError::NotHeld);
            }
            if let Some(decision) = &seen.decision {
                if latest_decision(tx, id)?.map(|d| d.id) != *decision {
                    return Err(ActionError::DecidedSince);
                }
            }
        }
        // A held post was never shown: hiding, restoring or dismissing it would
        // announce it to the class's live pages. It is released or removed.
        if message.held && !message.deleted && action != AuditAction::Delete {
            return Err(ActionError::Held);
        }
        // An action that would change nothing is refused, not logged: the
        // class's public log shows each hide and restore, and a second
        // moderator pressing the same button after the first must not add one.
        match action {
            // A dismissal pressed on a card that showed the message shown:
            // leaving it "as it was" would leave it hidden by reports with
            // no decision the queue could still take.
            // (A deleted one has nothing left to decide: its reports are
            // only marked reviewed.)
            AuditAction::Dismiss
                if message.hidden && !message.deleted && hidden_by_reports(tx, &message.id)? =>
            {
                return Err(ActionError::HiddenByReportsSince)
            }
            AuditAction::Dismiss => {}
            _ if message.deleted => return Err(ActionError::Deleted),
            // Hidden by reports, a moderator's hide keeps it hidden: their decision.
            AuditAction::Hide if message.hidden && !hidden_by_reports(tx, &message.id)? => {
                return Err(ActionError::AlreadyHidden)
            }
            AuditAction::Restore if !message.hidden => return Err(ActionError::NotHidden),
            _ => {}
        }
        let changed = write(tx, id, now)?;
        if action == AuditAction::Dismiss && changed == 0 {
            return Err(ActionError::NothingToReview);
        }
        let note = clean_reason(note);
        let logged = reason.and_then(Reason::text).or(note.as_deref());
        let category = reason.map(Reason::category);
        audit(tx, actor, action, &message, logged, category, now)?;
        let told = reason.map(Reason::for_author);
        tell_author(tx, actor, action, &message, told.as_deref(), now)?;
        Ok(message)
    })
}

/// The author hears of a decision that changed what classmates see of their
/// message (a hide or removal with its reason's category and the moderator's
/// words, a restore, a held post's release), in the action's transaction. Not a dismissal that
/// changed nothing, not an erased author, not the moderator's own message.
fn tell_author(
    tx: &mut Tx,
    actor: &UserId,
    action: AuditAction,
    message: &ClassMessage,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let Some(author) = message.user_id.as_ref().filter(|a| *a != actor) else {
        return Ok(false);
    };
    let (kind, detail) = match action {
        // A hide of a shown message, or one kept hidden after reports hid it.
        AuditAction::Hide if !message.deleted => (Kind::MessageHidden, reason),
        AuditAction::Restore if message.hidden && !message.deleted => (Kind::MessageRestored, None),
        AuditAction::Delete if !message.deleted => (Kind::MessageRemoved, reason),
        AuditAction::Release if !message.deleted => (Kind::MessageReleased, None),
        _ => return Ok(false),
    };
    let thread = message.thread_root_id.as_ref().unwrap_or(&message.id);
    notifications::notify(
        tx,
        &Notice::new(author, kind, now)
            .about_message(&message.class_id, thread, &message.id)
            .with_detail(detail),
    )
}

/// Records that a message's author deleted it while it was under report or
/// hidden. The actor is the author: staff pages show it as "the author" (only a
/// reveal names who that is), and no student page reads the audit log. It is
/// written in the delete's transaction.
pub fn record_author_delete(
    tx: &mut Tx,
    author: &UserId,
    message: &ClassMessage,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    audit(
        tx,
        author,
        AuditAction::AuthorDelete,
        message,
        None,
        None,
        now,
    )
}

/// The category of a hide that students' reports made (no moderator chose it).
pub const BY_REPORTS: &str = "reports";

/// Records that students' reports hid a message: a `hide` with no actor and
/// the category `reports`, in the report's transaction (`chat::flags` hands
/// this in). The public log shows it as "Hidden after reports"; no reporter
/// is named anywhere.
pub fn record_hide_by_reports(
    tx: &mut Tx,
    message: &ClassMessage,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let details = format!(
        "{} in class {}",
        message.anonymous_identifier, message.class_id
    );
    super::record(
        tx,
        &NewAuditEntry {
            id: &AuditId::new(),
            actor_id: None,
            action: AuditAction::Hide.as_str(),
            target_type: "message",
            target_id: message.id.as_str(),
            reason: None,
            details: Some(&details),
            created_at: now,
            class_id: Some(message.class_id.as_str()),
            category: Some(BY_REPORTS),
        },
    )
}

/// Records a moderator's pin (or unpin) of a thread, in the pin's transaction
/// (`chat::pins` hands this in: the pin is chat's write, the log is ours).
pub fn record_pin(
    tx: &mut Tx,
    actor: &UserId,
    thread: &ClassMessage,
    pinned: bool,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let action = if pinned {
        AuditAction::Pin
    } else {
        AuditAction::Unpin
    };
    audit(tx, actor, action, thread, None, None, now)
}

/// Records a staff member's marking (or unmarking) of the answer of a
/// thread they did not start, in the mark's transaction (`chat::answers`
/// hands this in, as pins do). The target is the thread's opening post.
pub fn record_answer(
    tx: &mut Tx,
    actor: &UserId,
    thread: &ClassMessage,
    marked: bool,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let action = if marked {
        AuditAction::MarkAnswer
    } else {
        AuditAction::UnmarkAnswer
    };
    audit(tx, actor, action, thread, None, None, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_waiting_tab_tells_a_reports_hide_as_decisions_do() {
        let category = format!("'{BY_REPORTS}'");
        assert_eq!(HIDDEN_UNDECIDED.matches(category.as_str()).count(), 2);
        assert!(!HIDDEN_UNDECIDED.contains("actor_id"));
    }

    #[test]
    fn a_reason_needs_a_category_from_the_list() {
        assert!(matches!(
            Reason::parse(None, Some("rude")),
            Err(ActionError::CategoryRequired)
        ));
        assert!(matches!(
            Reason::parse(Some("  "), Some("rude")),
            Err(ActionError::CategoryRequired)
        ));
        assert!(matches!(
            Reason::parse(Some("rude"), None),
            Err(ActionError::UnknownCategory)
        ));
        // "reports" is the automatic hide's, never a moderator's choice.
        assert!(matches!(
            Reason::parse(Some(BY_REPORTS), None),
            Err(ActionError::UnknownCategory)
        ));
        let spam = Reason::parse(Some("spam"), None).unwrap();
        assert_eq!(spam.category(), ReasonCategory::Spam);
        assert_eq!(spam.text(), None);
    }

    #[test]
    fn other_needs_words_and_the_author_reads_both() {
        assert!(matches!(
            Reason::parse(Some("other"), Some(" \u{7} ")),
            Err(ActionError::OtherNeedsWords)
        ));
        let other = Reason::parse(Some("other"), Some("  Off topic  ")).unwrap();
        assert_eq!(other.for_author(), "Other: Off topic");
        let info = Reason::new(ReasonCategory::PersonalInfo, None).unwrap();
        assert_eq!(info.for_author(), "Personal information");
    }

    #[test]
    fn overdue_is_strictly_more_than_48_hours() {
        let now = chrono::NaiveDate::from_ymd_opt(2026, 12, 2)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        let report = |hours: i64| Report {
            message_id: MessageId::new(),
            reason: None,
            created_at: now - Duration::hours(hours),
            counted: true,
            cleared_at: None,
            reported_again_at: None,
        };
        let before = overdue_before(now);
        assert!(waiting_since(&report(49)).unwrap() < before);
        assert!(waiting_since(&report(48)).unwrap() >= before);
        let reviewed = Report {
            cleared_at: Some(now),
            ..report(100)
        };
        assert_eq!(waiting_since(&reviewed), None);
        let again = Report {
            reported_again_at: Some(now - Duration::hours(1)),
            ..report(100)
        };
        assert_eq!(waiting_since(&again), Some(now - Duration::hours(1)));
    }
}
