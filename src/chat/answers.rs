//! A thread's answer: the student who started a thread (or a moderator) marks
//! one reply of it as the answer, changes it, or unmarks it. The mark lives on
//! the thread's first message (`answer_id`); an answer that is later deleted or
//! hidden stops counting (the thread reads as unanswered) until it is restored.
//! Each change is recorded as an `edit` of the first message, so open pages
//! re-render the thread's row and its first message.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::events::{self, EventKind};
use super::votes::QaError;
use super::{lock_class, ChatError, ClassMessage, MessageId};
use crate::accounts::{rate_limit, User};
use crate::classes;
use crate::db::schema::class_messages;
use crate::db::{self, DbConn, Tx};
use crate::notifications::{self, Kind, Notice};

/// Whether `actor` may mark the answer of the thread that starts with `root`:
/// its starter (while the message is theirs and shown as theirs) or staff.
pub fn may_mark(actor: &User, root: &ClassMessage) -> bool {
    actor.role.is_staff() || (!root.deleted && root.user_id.as_ref() == Some(&actor.id))
}

/// Answer marks and unmarks one student may make in an hour: plenty for
/// changing one's mind, not a way to flood a class's live pages.
pub const MARKS_PER_HOUR: u32 = 30;

/// Whether a message counts as a thread's answer: it is shown (not deleted, not hidden).
pub fn counts(answer: &ClassMessage) -> bool {
    !answer.deleted && !answer.hidden && !answer.held
}

/// Marks `reply` as its thread's answer (replacing any earlier one), or with
/// `mark` false unmarks it if it is the answer. Returns the thread's first
/// message as it is now. A staff member's change to a thread they did not
/// start is a staff action: `record_staff` writes its audit row in this
/// transaction (moderation's log; chat sits below it, so the caller hands
/// it in, as with pins).
pub fn mark(
    conn: &mut DbConn,
    actor: &User,
    reply_id: &MessageId,
    mark: bool,
    now: NaiveDateTime,
    record_staff: impl FnOnce(&mut Tx, &ClassMessage, bool) -> QueryResult<usize>,
) -> Result<ClassMessage, QaError> {
    if let Some(until) = actor.suspended_at(now) {
        return Err(ChatError::Suspended { until }.into());
    }
    db::write_tx(conn, |tx| {
        let reply = super::find(tx, reply_id)?.ok_or(ChatError::MessageNotFound)?;
        // Staff may act in any class; a student only in one they take.
        if !actor.role.is_staff() && !classes::is_enrolled(tx, &actor.id, &reply.class_id)? {
            return Err(ChatError::MessageNotFound.into());
        }
        // Judged from a read under the class's lock: its author may have
        // deleted it (or a moderator hidden it) since the first look, and a
        // mark naming a removed row would fail the reference (a 500).
        lock_class(tx, &reply.class_id)?;
        let reply = super::find(tx, reply_id)?.ok_or(ChatError::MessageNotFound)?;
        // Someone else's deleted or held reply that no page shows is not
        // there, to a student (`unseen`): "deleted" would tell the thread's
        // starter it had been kept for moderators. One shown as hidden
        // answers as a hidden reply (`counts` below). Staff see every row.
        if !actor.role.is_staff() && super::unseen(tx, &actor.id, &reply)? {
            return Err(ChatError::MessageNotFound.into());
        }
        // The author's own held reply takes no mark.
        if reply.held && reply.user_id.as_ref() == Some(&actor.id) {
            return Err(ChatError::Held.into());
        }
        let root_id = reply.thread_root_id.clone().ok_or(QaError::NotAReply)?;
        let root = super::find(tx, &root_id)?.ok_or(ChatError::MessageNotFound)?;
        if !may_mark(actor, &root) {
            return Err(QaError::NotStarter);
        }
        let answer = if mark {
            if !counts(&reply) {
                return Err(ChatError::Removed.into());
            }
            Some(&reply.id)
        } else if root.answer_id.as_ref() == Some(&reply.id) {
            None
        } else {
            // Not the answer: nothing to unmark.
            return Ok(root);
        };
        if root.answer_id.as_ref() == answer {
            return Ok(root);
        }
        // Each change is an event every open page of the class renders:
        // a student's marks are limited (staff's are audited instead).
        if !actor.role.is_staff() {
            let bucket = format!("chat-answer-mark:{}", actor.id);
            if let Err(limited) =
                rate_limit::hit(tx, &bucket, MARKS_PER_HOUR, Duration::hours(1), now)?
            {
                return Err(QaError::MarkLimit {
                    retry_at: limited.retry_at,
                });
            }
        }
        diesel::update(class_messages::table.find(&root.id))
            .set(class_messages::answer_id.eq(answer))
            .execute(&mut **tx)?;
        let before = root.answer_id.clone();
        let root = super::find(tx, &root_id)?.ok_or(ChatError::MessageNotFound)?;
        events::record_alone(tx, &root, EventKind::Edit, now)?;
        // The replies it changes too: the new answer gains its badge, the old
        // one loses it, on every open page as on a reload.
        for changed in [answer, before.as_ref()].into_iter().flatten() {
            if let Some(reply) = super::find(tx, changed)? {
                events::record_alone(tx, &reply, EventKind::Edit, now)?;
            }
        }
        if actor.role.is_staff() && root.user_id.as_ref() != Some(&actor.id) {
            record_staff(tx, &root, answer.is_some())?;
        }
        // The starter hears of an answer someone else (staff) marked for them,
        // while they are still in the class (as with replies: the notice
        // quotes the answer, which is for the class's members only).
        if let (Some(answer), Some(starter)) = (answer, root.user_id.as_ref()) {
            if starter != &actor.id
                && !root.deleted
                && crate::classes::is_enrolled(tx, starter, &root.class_id)?
            {
                notifications::notify(
                    tx,
                    &Notice::new(starter, Kind::Answered, now).about_message(
                        &root.class_id,
                        &root.id,
                        answer,
                    ),
                )?;
            }
        }
        // The reply's author hears their reply was chosen (by whom is not
        // said), unless they marked it, or started the thread (told above),
        // or left the class. Marking, unmarking and marking again tells them
        // once while the first notice is unread.
        if let (Some(answer), Some(author)) = (answer, reply.user_id.as_ref()) {
            if author != &actor.id
                && root.user_id.as_ref() != Some(author)
                && crate::classes::is_enrolled(tx, author, &root.class_id)?
                && !notifications::chat::unread_of_kind(tx, author, answer, Kind::AnswerChosen)?
            {
                notifications::notify(
                    tx,
                    &Notice::new(author, Kind::AnswerChosen, now).about_message(
                        &root.class_id,
                        &root.id,
                        answer,
                    ),
                )?;
            }
        }
        Ok(root)
    })
}
