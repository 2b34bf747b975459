//! Staff actions on chat messages: the flag queue, hide, restore and delete.
//! Nothing here returns who wrote a message: that takes a two-person reveal
//! (`moderation::reveals`).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{AuditAction, AuditId, NewAuditEntry};
use crate::accounts::UserId;
use crate::chat::{
    self, flags, revisions, ClassMessage, MessageId, MessageRevision, Report, RevisionEnd,
};
use crate::classes::ClassId;
use crate::db::schema::{class_messages, classes, message_flags};
use crate::db::{self, DbConn, Tx};
use crate::notifications::{self, Kind, Notice};

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
}

/// Messages with reports waiting for review, or hidden, newest first: five
/// queries whatever the size. Messages deleted by their author while reported
/// stay, so a moderator can still act on them.
pub fn flag_queue(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<QueueItem>> {
    let pending = message_flags::table
        .filter(message_flags::message_id.eq(class_messages::id))
        .filter(message_flags::cleared_at.is_null());
    let rows: Vec<(ClassMessage, String, String)> = class_messages::table
        .inner_join(classes::table)
        .filter(
            class_messages::hidden
                .eq(true)
                .or(diesel::dsl::exists(pending)),
        )
        .order((class_messages::created_at.desc(), class_messages::id.desc()))
        .limit(limit)
        .select((
            ClassMessage::as_select(),
            classes::subject,
            classes::catalog_number,
        ))
        .load(conn)?;
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
    Ok(rows
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
                message,
            }
        })
        .collect())
}

/// A message held because it names a person, waiting for a moderator.
#[derive(Debug, Clone)]
pub struct HeldItem {
    pub message: ClassMessage,
    pub class_code: String,
    pub class_id: ClassId,
}

/// Held messages not yet released or removed, oldest first (they have waited
/// longest): one statement.
pub fn held_queue(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<HeldItem>> {
    let rows: Vec<(ClassMessage, String, String)> = class_messages::table
        .inner_join(classes::table)
        .filter(class_messages::held.eq(true))
        .filter(class_messages::deleted.eq(false))
        .order((class_messages::created_at.asc(), class_messages::id.asc()))
        .limit(limit)
        .select((
            ClassMessage::as_select(),
            classes::subject,
            classes::catalog_number,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(message, subject, catalog)| HeldItem {
            class_id: message.class_id.clone(),
            class_code: format!("{subject} {catalog}"),
            message,
        })
        .collect())
}

/// Releases a held message to its class, with the `release` audit row (its
/// class set) in the same transaction. A message no longer held (released or
/// removed meanwhile) is `NotHeld`.
pub fn release(
    conn: &mut DbConn,
    actor: &UserId,
    id: &MessageId,
    now: NaiveDateTime,
) -> Result<ClassMessage, ActionError> {
    db::write_tx(conn, |tx| {
        let message = chat::staff::release(tx, id, now)?.ok_or(ActionError::NotHeld)?;
        audit(tx, actor, AuditAction::Release, &message, None, now)?;
        Ok(message)
    })
}

/// Why a staff action on a message was refused.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("There is no such message.")]
    NotFound,
    #[error("That message is no longer held: another moderator released or removed it.")]
    NotHeld,
    #[error("Give a reason of at least 10 characters; it is kept in the audit log.")]
    ReasonRequired,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

fn audit(
    tx: &mut Tx,
    actor: &UserId,
    action: AuditAction,
    message: &ClassMessage,
    reason: Option<&str>,
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
            category: None,
        },
    )
}

fn load(conn: &mut DbConn, id: &MessageId) -> Result<ClassMessage, ActionError> {
    crate::chat::find(conn, id)?.ok_or(ActionError::NotFound)
}

fn clean_reason(reason: Option<&str>) -> Option<String> {
    reason
        .map(|r| {
            r.trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(500)
                .collect::<String>()
        })
        .filter(|r| !r.is_empty())
}

/// Hides a message from students, with the audit row in the same transaction.
pub fn hide(
    conn: &mut DbConn,
    actor: &UserId,
    id: &MessageId,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> Result<ClassMessage, ActionError> {
    act(
        conn,
        actor,
        id,
        AuditAction::Hide,
        reason,
        now,
        chat::staff::hide,
    )
}

/// Shows a message again and marks its reports reviewed: they are kept (the
/// queue shows them as reviewed) and no longer count, and their reporters cannot
/// count again on this message.
pub fn restore(
    conn: &mut DbConn,
    actor: &UserId,
    id: &MessageId,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> Result<ClassMessage, ActionError> {
    act(
        conn,
        actor,
        id,
        AuditAction::Restore,
        reason,
        now,
        chat::staff::restore,
    )
}

/// Removes a message's text for good; it stays as "[deleted]" so its replies keep
/// their place. Its reports are marked reviewed, which takes it out of the queue.
pub fn delete(
    conn: &mut DbConn,
    actor: &UserId,
    id: &MessageId,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> Result<ClassMessage, ActionError> {
    act(
        conn,
        actor,
        id,
        AuditAction::Delete,
        reason,
        now,
        chat::staff::remove,
    )
}

/// One staff action on a message: chat's write and the audit row, in one
/// write transaction. Returns the message as it was before.
fn act(
    conn: &mut DbConn,
    actor: &UserId,
    id: &MessageId,
    action: AuditAction,
    reason: Option<&str>,
    now: NaiveDateTime,
    write: fn(&mut Tx, &MessageId, NaiveDateTime) -> QueryResult<usize>,
) -> Result<ClassMessage, ActionError> {
    db::write_tx(conn, |tx| {
        let message = load(tx, id)?;
        write(tx, id, now)?;
        let reason = clean_reason(reason);
        audit(tx, actor, action, &message, reason.as_deref(), now)?;
        tell_author(tx, actor, action, &message, reason.as_deref(), now)?;
        Ok(message)
    })
}

/// The author hears of a decision that changed what classmates see of their
/// message (a hide or removal with the moderator's reason, a restore), in the
/// action's transaction. Not a dismissal that changed nothing, not an erased
/// author, not the moderator's own message.
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
        AuditAction::Hide if !message.hidden && !message.deleted => (Kind::MessageHidden, reason),
        AuditAction::Restore if message.hidden && !message.deleted => (Kind::MessageRestored, None),
        AuditAction::Delete if !message.deleted => (Kind::MessageRemoved, reason),
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
    audit(tx, author, AuditAction::AuthorDelete, message, None, now)
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
    audit(tx, actor, action, thread, None, now)
}
