//! What staff do to a message, as chat's own writes: hide, restore (dismissing
//! its reports) and remove for good. Moderation calls these inside its audited
//! transaction; it never writes `class_messages` or `message_flags` itself.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::MessageId;
use crate::db::schema::class_messages;
use crate::db::{DbConn, Tx};

/// Hides a message from students.
pub fn hide(tx: &mut Tx, id: &MessageId, now: NaiveDateTime) -> QueryResult<usize> {
    let conn: &mut DbConn = tx;
    diesel::update(class_messages::table.find(id))
        .set((
            class_messages::hidden.eq(true),
            class_messages::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Shows a message again and dismisses its reports: they are kept as reviewed
/// and no longer count.
pub fn restore(tx: &mut Tx, id: &MessageId, now: NaiveDateTime) -> QueryResult<usize> {
    super::flags::dismiss_reports(tx, id, now)?;
    let conn: &mut DbConn = tx;
    diesel::update(class_messages::table.find(id))
        .set((
            class_messages::hidden.eq(false),
            class_messages::flagged_count.eq(0),
            class_messages::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Removes a message's text for good: it stays as a shown "[deleted]"
/// placeholder so its replies keep their place, and its reports are dismissed.
pub fn remove(tx: &mut Tx, id: &MessageId, now: NaiveDateTime) -> QueryResult<usize> {
    super::flags::dismiss_reports(tx, id, now)?;
    super::tombstone(tx, id, now)?;
    let conn: &mut DbConn = tx;
    diesel::update(class_messages::table.find(id))
        .set(class_messages::hidden.eq(false))
        .execute(conn)
}
