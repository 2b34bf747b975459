//! Upvotes: a classmate upvotes a thread's first message or a reply once, and
//! can take it back. Votes are stored per student (for "voted by me" and for
//! the student's export) and shown only as a count on the message, which is
//! kept here, in the vote's own transaction. Nothing here says who voted.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{lock_class, visible_message, ChatError, ClassMessage, MessageId};
use crate::accounts::{User, UserId};
use crate::classes::ClassId;
use crate::db::schema::{class_messages, message_votes};
use crate::db::{self, DbConn, Tx};

/// Why a vote, an answer mark or a pin was refused, named by the rule that failed.
/// Shared by `votes`, `answers` and `pins`: the chat's own refusals pass through.
#[derive(Debug, thiserror::Error)]
pub enum QaError {
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error("students cannot upvote their own messages")]
    OwnMessage,
    /// Marking an answer is the thread starter's (or a moderator's).
    #[error("only the thread's starter or a moderator can mark its answer")]
    NotStarter,
    /// The answer must be a reply of the same thread.
    #[error("only a reply in this thread can be its answer")]
    NotAReply,
    #[error("{0} threads are pinned already; unpin one first")]
    PinLimit(usize),
    /// A student's answer marks and unmarks this hour are spent.
    #[error("too many answer marks this hour")]
    MarkLimit { retry_at: NaiveDateTime },
}

impl From<diesel::result::Error> for QaError {
    fn from(error: diesel::result::Error) -> Self {
        QaError::Chat(ChatError::Db(error))
    }
}

/// A row of `message_votes`: one student's upvote of one message.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = message_votes)]
pub struct MessageVote {
    pub message_id: MessageId,
    pub user_id: UserId,
    pub class_id: ClassId,
    pub created_at: NaiveDateTime,
}

/// What a vote did: the message as it is now, and whether anything changed
/// (a second upvote, or taking back a vote never given, changes nothing).
#[derive(Debug, Clone)]
pub struct Voted {
    pub message: ClassMessage,
    pub changed: bool,
}

/// Upvotes a classmate's message; a second upvote is a no-op.
pub fn upvote(
    conn: &mut DbConn,
    voter: &User,
    message_id: &MessageId,
    now: NaiveDateTime,
) -> Result<Voted, QaError> {
    cast(conn, voter, message_id, true, now)
}

/// Takes back the voter's upvote; taking back one never given is a no-op.
pub fn take_back(
    conn: &mut DbConn,
    voter: &User,
    message_id: &MessageId,
    now: NaiveDateTime,
) -> Result<Voted, QaError> {
    cast(conn, voter, message_id, false, now)
}

fn cast(
    conn: &mut DbConn,
    voter: &User,
    message_id: &MessageId,
    up: bool,
    now: NaiveDateTime,
) -> Result<Voted, QaError> {
    if let Some(until) = voter.suspended_at(now) {
        return Err(ChatError::Suspended { until }.into());
    }
    db::write_tx(conn, |tx| {
        let message = visible_message(tx, &voter.id, message_id)?;
        // With the class locked, the message cannot be hidden, deleted or
        // removed between the checks below and the count's update.
        lock_class(tx, &message.class_id)?;
        let message = super::find(tx, message_id)?.ok_or(ChatError::MessageNotFound)?;
        if message.user_id.as_ref() == Some(&voter.id) {
            return Err(QaError::OwnMessage);
        }
        let mut message = message;
        let changed = if up {
            // A held message reaching here is shown as hidden (`visible_message`).
            if message.deleted || message.hidden || message.held {
                return Err(ChatError::Removed.into());
            }
            insert_vote(tx, &message, &voter.id, now)?
        } else {
            delete_vote(tx, &message.id, &voter.id)?
        };
        // The count as the statements above left it, without reading it back.
        if changed {
            message.vote_count = (message.vote_count + if up { 1 } else { -1 }).max(0);
        }
        Ok(Voted { message, changed })
    })
}

/// Inserts the vote row and, only when it was new, counts it.
fn insert_vote(
    tx: &mut Tx,
    message: &ClassMessage,
    voter: &UserId,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let row = MessageVote {
        message_id: message.id.clone(),
        user_id: voter.clone(),
        class_id: message.class_id.clone(),
        created_at: now,
    };
    let inserted = crate::on_each_backend!(tx, |c| diesel::insert_into(message_votes::table)
        .values(&row)
        .on_conflict_do_nothing()
        .execute(c))?;
    if inserted == 1 {
        // `vote_count + 1` in the statement: the row lock makes it exact even
        // beside a concurrent erasure's decrement.
        diesel::update(class_messages::table.find(&message.id))
            .set(class_messages::vote_count.eq(class_messages::vote_count + 1))
            .execute(&mut **tx)?;
    }
    Ok(inserted == 1)
}

/// Deletes the vote row and, only when there was one, uncounts it.
fn delete_vote(tx: &mut Tx, message_id: &MessageId, voter: &UserId) -> QueryResult<bool> {
    let deleted = diesel::delete(
        message_votes::table
            .filter(message_votes::message_id.eq(message_id))
            .filter(message_votes::user_id.eq(voter)),
    )
    .execute(&mut **tx)?;
    if deleted == 1 {
        diesel::update(
            class_messages::table
                .find(message_id)
                .filter(class_messages::vote_count.gt(0)),
        )
        .set(class_messages::vote_count.eq(class_messages::vote_count - 1))
        .execute(&mut **tx)?;
    }
    Ok(deleted == 1)
}

/// Which of these messages `viewer` upvoted: one statement whatever their number.
pub fn voted_by(
    conn: &mut DbConn,
    viewer: &UserId,
    ids: &[MessageId],
) -> QueryResult<HashSet<MessageId>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(message_votes::table
        .filter(message_votes::user_id.eq(viewer))
        .filter(message_votes::message_id.eq_any(ids))
        .select(message_votes::message_id)
        .load::<MessageId>(conn)?
        .into_iter()
        .collect())
}

/// Every vote on these messages, as (message, voter) pairs, for live pages to
/// decide "voted by me" per open stream. It never leaves the process.
pub fn voters_of(
    conn: &mut DbConn,
    ids: &[&MessageId],
) -> QueryResult<HashSet<(MessageId, UserId)>> {
    Ok(message_votes::table
        .filter(message_votes::message_id.eq_any(ids))
        .select((message_votes::message_id, message_votes::user_id))
        .load::<(MessageId, UserId)>(conn)?
        .into_iter()
        .collect())
}

/// The student's own votes (which messages, in which class), for their export.
pub fn of_voter(conn: &mut DbConn, me: &UserId) -> QueryResult<Vec<MessageVote>> {
    message_votes::table
        .filter(message_votes::user_id.eq(me))
        .order((message_votes::created_at, message_votes::message_id))
        .select(MessageVote::as_select())
        .load(conn)
}

/// A message deleted (or removed) leaves students' view: its votes go, as
/// with the row. The count stays, as with an erasure's (`erase_voter`).
pub fn erase_on(tx: &mut Tx, message: &MessageId) -> QueryResult<usize> {
    diesel::delete(message_votes::table.filter(message_votes::message_id.eq(message)))
        .execute(&mut **tx)
}

/// Erasure: the student's messages left as placeholders (`erase_user`)
/// lose their votes, as a delete's do.
pub fn erase_on_messages_of(tx: &mut Tx, author: &UserId) -> QueryResult<usize> {
    let theirs = class_messages::table
        .filter(class_messages::user_id.eq(author))
        .select(class_messages::id);
    diesel::delete(message_votes::table.filter(message_votes::message_id.eq_any(theirs)))
        .execute(&mut **tx)
}

/// Erasure: removes the student's votes, in the erasure's transaction. The
/// counts they are in stay as they are: a count that fell by one on every
/// message a vanished account had upvoted would say, to anyone who noted the
/// counts before, which messages those were. (A count is a tally of votes
/// cast, not a list of voters; no page shows who voted.)
pub fn erase_voter(tx: &mut Tx, me: &UserId) -> QueryResult<usize> {
    diesel::delete(message_votes::table.filter(message_votes::user_id.eq(me))).execute(&mut **tx)
}
