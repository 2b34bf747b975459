//! Reports ("flags"): a classmate reports a message once; when enough different
//! students have, the message is hidden until a moderator restores or confirms it.
//! Who reported is never shown to students, authors included.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::{
    insert_flag, lock, visible_message, ChatError, FlagReason, MessageFlag, MessageId, Rules,
};
use crate::accounts::UserId;
use crate::classes::ClassId;
use crate::db::schema::{class_messages, message_flags};
use crate::db::{self, DbConn};

/// What a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOutcome {
    /// Counted; `hidden` tells whether the message is now hidden.
    Flagged { hidden: bool },
    /// This student had already reported it: nothing changed, nothing counted.
    AlreadyFlagged,
}

/// Reports a message on behalf of `flagger`. Returns the message's class, for the way back.
pub fn flag(
    conn: &mut DbConn,
    flagger: &UserId,
    message_id: &MessageId,
    reason: &FlagReason,
    rules: &Rules,
    now: NaiveDateTime,
) -> Result<(ClassId, FlagOutcome), ChatError> {
    db::write_tx(conn, |conn| {
        let message = visible_message(conn, flagger, message_id)?;
        if message.user_id.as_ref() == Some(flagger) {
            return Err(ChatError::OwnMessage);
        }
        if message.deleted {
            return Err(ChatError::Removed);
        }
        let already: bool = diesel::select(diesel::dsl::exists(
            message_flags::table.find((&message.id, flagger)),
        ))
        .get_result(conn)?;
        if already {
            return Ok((message.class_id, FlagOutcome::AlreadyFlagged));
        }
        // Serialize one student's reports so two at once cannot pass the daily limit.
        lock(conn, &format!("chat-flag:{flagger}"))?;
        let window = Duration::days(1);
        let recent: Vec<NaiveDateTime> = message_flags::table
            .filter(message_flags::user_id.eq(flagger))
            .filter(message_flags::created_at.gt(now - window))
            .order(message_flags::created_at.asc())
            .select(message_flags::created_at)
            .load(conn)?;
        let limit = rules.flags_per_day.max(1) as usize;
        if recent.len() >= limit {
            // The window frees up when the oldest report that still counts ages out.
            return Err(ChatError::FlagLimit {
                retry_at: recent[recent.len() - limit] + window,
            });
        }
        let row = MessageFlag {
            message_id: message.id.clone(),
            user_id: flagger.clone(),
            reason: reason.as_deref().map(str::to_string),
            created_at: now,
        };
        if !insert_flag(conn, &row)? {
            return Ok((message.class_id, FlagOutcome::AlreadyFlagged));
        }
        // One flag per student per message (the primary key), so the count is of
        // distinct reporters.
        let count: i32 = diesel::update(class_messages::table.find(&message.id))
            .set((
                class_messages::flagged_count.eq(class_messages::flagged_count + 1),
                class_messages::updated_at.eq(now),
            ))
            .returning(class_messages::flagged_count)
            .get_result(conn)?;
        let reached = i64::from(count) >= i64::from(rules.flag_hide_threshold);
        if reached && !message.hidden {
            diesel::update(class_messages::table.find(&message.id))
                .set(class_messages::hidden.eq(true))
                .execute(conn)?;
        }
        Ok((
            message.class_id,
            FlagOutcome::Flagged {
                hidden: reached || message.hidden,
            },
        ))
    })
}
