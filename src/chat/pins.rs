//! Pinned threads: moderators and admins pin up to `MAX_PINNED` threads per
//! class (the syllabus, exam rooms), which then stay on top of its list. The
//! pin is chat's write; the audit row is moderation's, handed in as `audit` and
//! written in the same transaction (chat sits below moderation). Each change is
//! recorded as an `edit` of the thread's first message, so open pages re-render it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::events::{self, EventKind};
use super::votes::QaError;
use super::{lock_class, ChatError, ClassMessage, MessageId};
use crate::accounts::User;
use crate::classes::ClassId;
use crate::db::schema::class_messages;
use crate::db::{self, DbConn, Tx};

/// Threads a class may have pinned at once.
pub const MAX_PINNED: usize = 3;

/// What pinning or unpinning did: the thread's first message as it is now, and
/// whether anything changed (pinning a pinned thread changes nothing, and
/// writes no audit row).
#[derive(Debug, Clone)]
pub struct Pinned {
    pub thread: ClassMessage,
    pub changed: bool,
}

/// Pins a thread of `class_id` (by its first message) for the whole class. Only
/// staff; anyone else (and a thread of another class) is told it does not exist. The fourth pin of a class is refused.
pub fn pin(
    conn: &mut DbConn,
    actor: &User,
    class_id: &ClassId,
    thread_id: &MessageId,
    now: NaiveDateTime,
    audit: impl FnOnce(&mut Tx, &ClassMessage) -> QueryResult<usize>,
) -> Result<Pinned, QaError> {
    set(conn, actor, (class_id, thread_id), Some(now), now, audit)
}

/// Unpins a thread; unpinning one that is not pinned changes nothing.
pub fn unpin(
    conn: &mut DbConn,
    actor: &User,
    class_id: &ClassId,
    thread_id: &MessageId,
    now: NaiveDateTime,
    audit: impl FnOnce(&mut Tx, &ClassMessage) -> QueryResult<usize>,
) -> Result<Pinned, QaError> {
    set(conn, actor, (class_id, thread_id), None, now, audit)
}

fn set(
    conn: &mut DbConn,
    actor: &User,
    (class_id, thread_id): (&ClassId, &MessageId),
    pinned_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
    audit: impl FnOnce(&mut Tx, &ClassMessage) -> QueryResult<usize>,
) -> Result<Pinned, QaError> {
    if !actor.role.is_staff() {
        return Err(ChatError::MessageNotFound.into());
    }
    db::write_tx(conn, |tx| {
        // Two moderators pinning at once cannot both take the third place.
        // The class is the one asked for, so the lock comes first and the
        // thread is read once, under it (a removal committed meanwhile is seen).
        lock_class(tx, class_id)?;
        let thread = super::find(tx, thread_id)?
            .filter(|m| m.parent_message_id.is_none() && &m.class_id == class_id)
            .ok_or(ChatError::MessageNotFound)?;
        if thread.pinned_at.is_some() == pinned_at.is_some() {
            return Ok(Pinned {
                thread,
                changed: false,
            });
        }
        if pinned_at.is_some() {
            if let Some(refused) = unpinnable(thread.deleted, thread.hidden, thread.held) {
                return Err(refused.into());
            }
            let pinned = pinned_threads(tx, &thread.class_id)?.len();
            if pinned >= MAX_PINNED {
                return Err(QaError::PinLimit(pinned));
            }
        }
        diesel::update(class_messages::table.find(&thread.id))
            .set(class_messages::pinned_at.eq(pinned_at))
            .execute(&mut **tx)?;
        let thread = super::find(tx, thread_id)?.ok_or(ChatError::MessageNotFound)?;
        events::record(tx, &thread, EventKind::Edit, now)?;
        audit(tx, &thread)?;
        Ok(Pinned {
            thread,
            changed: true,
        })
    })
}

/// Why a thread whose first message is so cannot be pinned, if it cannot:
/// removed or hidden, or held (a pin would show it to the class: release it
/// first). The staff reading offers a pin only where this is None.
pub fn unpinnable(deleted: bool, hidden: bool, held: bool) -> Option<ChatError> {
    if deleted || hidden {
        Some(ChatError::Removed)
    } else if held {
        Some(ChatError::Held)
    } else {
        None
    }
}

/// The class's pinned threads, most recently pinned first: one statement.
pub fn pinned_threads(conn: &mut DbConn, class_id: &ClassId) -> QueryResult<Vec<ClassMessage>> {
    class_messages::table
        .filter(class_messages::class_id.eq(class_id))
        .filter(class_messages::parent_message_id.is_null())
        .filter(class_messages::pinned_at.is_not_null())
        .order((class_messages::pinned_at.desc(), class_messages::id.desc()))
        .limit(MAX_PINNED as i64)
        .select(ClassMessage::as_select())
        .load(conn)
}
