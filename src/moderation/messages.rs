//! Staff actions on chat messages: the flag queue, hide, restore, delete and
//! the audited reveal of an author. Only `reveal` ever returns who wrote a
//! message, and only after its reason is written to the audit log.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{AuditAction, AuditId, NewAuditEntry};
use crate::accounts::UserId;
use crate::chat::{ClassMessage, MessageId};
use crate::classes::ClassId;
use crate::db::schema::{class_messages, classes, message_flags, users};
use crate::db::DbConn;

/// A message in the flag queue, with its class, its reports and its thread.
#[derive(Debug, Clone)]
pub struct QueueItem {
    pub message: ClassMessage,
    pub class_code: String,
    pub class_id: ClassId,
    pub reasons: Vec<String>,
    /// The thread's messages in order (pseudonyms and text only), this one included.
    pub thread: Vec<ClassMessage>,
}

/// Messages with reports or hidden by them, newest first: four queries whatever the size.
pub fn flag_queue(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<QueueItem>> {
    let rows: Vec<(ClassMessage, String, String)> = class_messages::table
        .inner_join(classes::table)
        .filter(
            class_messages::flagged_count
                .gt(0)
                .or(class_messages::hidden.eq(true)),
        )
        .filter(class_messages::deleted.eq(false))
        .order((class_messages::created_at.desc(), class_messages::id.desc()))
        .limit(limit)
        .select((
            ClassMessage::as_select(),
            classes::subject,
            classes::catalog_number,
        ))
        .load(conn)?;
    let ids: Vec<MessageId> = rows.iter().map(|(m, _, _)| m.id.clone()).collect();
    let reasons: Vec<(MessageId, Option<String>)> = message_flags::table
        .filter(message_flags::message_id.eq_any(&ids))
        .order(message_flags::created_at)
        .select((message_flags::message_id, message_flags::reason))
        .load(conn)?;
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
    let mut by_message: HashMap<MessageId, Vec<String>> = HashMap::new();
    for (id, reason) in reasons {
        by_message
            .entry(id)
            .or_default()
            .push(reason.unwrap_or_else(|| "(no reason given)".into()));
    }
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
            QueueItem {
                reasons: by_message.remove(&message.id).unwrap_or_default(),
                class_id: message.class_id.clone(),
                class_code: format!("{subject} {catalog}"),
                thread,
                message,
            }
        })
        .collect())
}

/// Why a staff action on a message was refused.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("There is no such message.")]
    NotFound,
    #[error("Give a reason of at least 10 characters; it is kept in the audit log.")]
    ReasonRequired,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

fn audit(
    conn: &mut DbConn,
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
        conn,
        &NewAuditEntry {
            id: &AuditId::new(),
            actor_id: Some(actor),
            action: action.as_str(),
            target_type: "message",
            target_id: message.id.as_str(),
            reason,
            details: Some(&details),
            created_at: now,
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

/// Hides a message from students. Call in a write transaction.
pub fn hide(
    conn: &mut DbConn,
    actor: &UserId,
    id: &MessageId,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> Result<ClassMessage, ActionError> {
    let message = load(conn, id)?;
    diesel::update(class_messages::table.find(id))
        .set((
            class_messages::hidden.eq(true),
            class_messages::updated_at.eq(now),
        ))
        .execute(conn)?;
    audit(
        conn,
        actor,
        AuditAction::Hide,
        &message,
        clean_reason(reason).as_deref(),
        now,
    )?;
    Ok(message)
}

/// Shows a message again and clears its reports (so old reports cannot hide it again).
pub fn restore(
    conn: &mut DbConn,
    actor: &UserId,
    id: &MessageId,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> Result<ClassMessage, ActionError> {
    let message = load(conn, id)?;
    diesel::delete(message_flags::table.filter(message_flags::message_id.eq(id))).execute(conn)?;
    diesel::update(class_messages::table.find(id))
        .set((
            class_messages::hidden.eq(false),
            class_messages::flagged_count.eq(0),
            class_messages::updated_at.eq(now),
        ))
        .execute(conn)?;
    audit(
        conn,
        actor,
        AuditAction::Restore,
        &message,
        clean_reason(reason).as_deref(),
        now,
    )?;
    Ok(message)
}

/// Removes a message's text for good; it stays as "[deleted]" so its replies keep their place.
pub fn delete(
    conn: &mut DbConn,
    actor: &UserId,
    id: &MessageId,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> Result<ClassMessage, ActionError> {
    let message = load(conn, id)?;
    diesel::update(class_messages::table.find(id))
        .set((
            class_messages::deleted.eq(true),
            class_messages::content.eq(""),
            class_messages::hidden.eq(false),
            class_messages::updated_at.eq(now),
        ))
        .execute(conn)?;
    audit(
        conn,
        actor,
        AuditAction::Delete,
        &message,
        clean_reason(reason).as_deref(),
        now,
    )?;
    Ok(message)
}

/// The author of a revealed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub email: String,
    pub computing_id: String,
}

/// Records the reveal (with its reason) and returns the author: None when the
/// author's account no longer exists. Call in a write transaction.
pub fn reveal(
    conn: &mut DbConn,
    actor: &UserId,
    id: &MessageId,
    reason: &str,
    now: NaiveDateTime,
) -> Result<(ClassMessage, Option<Author>), ActionError> {
    let reason = clean_reason(Some(reason))
        .filter(|r| r.chars().count() >= 10)
        .ok_or(ActionError::ReasonRequired)?;
    let message = load(conn, id)?;
    audit(
        conn,
        actor,
        AuditAction::Reveal,
        &message,
        Some(&reason),
        now,
    )?;
    let author = match &message.user_id {
        None => None,
        Some(user_id) => users::table
            .find(user_id)
            .select((users::email, users::computing_id))
            .first::<(String, String)>(conn)
            .optional()?
            .map(|(email, computing_id)| Author {
                email,
                computing_id,
            }),
    };
    Ok((message, author))
}
