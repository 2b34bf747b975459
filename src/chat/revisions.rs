//! Evidence: the earlier text of a message that is under report, hidden, or
//! that staff asked to reveal the author of. An
//! edit of such a message keeps the text it replaced; its author's delete (or
//! the author's account erasure) keeps the text it removed from students' view.
//! Only moderators read these rows; no student-facing view loads them. A message
//! nobody reported keeps no history: what its author removed is gone.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{ClassMessage, MessageId};
use crate::accounts::UserId;
use crate::db::schema::{class_messages, message_flags, message_revisions, reveal_requests};
use crate::db::{DbConn, Tx};

crate::define_id!(RevisionId);

crate::text_enum!(
    /// What ended a version of a message's text.
    RevisionEnd {
        Edit => "edit",
        AuthorDelete => "author_delete",
        Erasure => "erasure",
        StaffRemoval => "staff_removal",
    }
);

/// A row of `message_revisions`: one earlier version of a message's text.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = message_revisions)]
pub struct MessageRevision {
    pub id: RevisionId,
    pub message_id: MessageId,
    pub content: String,
    /// When this text first showed: the post, or the edit that brought it in.
    pub written_at: NaiveDateTime,
    #[diesel(deserialize_as = String)]
    pub ended_by: RevisionEnd,
    /// When it stopped showing.
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = message_revisions)]
struct NewMessageRevision<'a> {
    id: &'a RevisionId,
    message_id: &'a MessageId,
    content: &'a str,
    written_at: NaiveDateTime,
    ended_by: &'a str,
    created_at: NaiveDateTime,
}

/// Whether a message is evidence whose text must outlive an edit or a delete:
/// it is hidden, someone reported it (reviewed reports included), staff asked
/// to reveal its author (a complaint from outside the app: decided requests
/// included; moderation's `reveal_requests` go with the message, so a delete
/// would take the request off the staff's lists), or it already has kept
/// versions. (An erasure keeps a message only for a report or a hide,
/// `personal_data::erase_user`: with its author gone, a reveal names no one.)
pub fn is_evidence(conn: &mut DbConn, message: &ClassMessage) -> QueryResult<bool> {
    if message.hidden {
        return Ok(true);
    }
    let reported: bool = diesel::select(diesel::dsl::exists(
        message_flags::table.filter(message_flags::message_id.eq(&message.id)),
    ))
    .get_result(conn)?;
    if reported {
        return Ok(true);
    }
    let asked: bool = diesel::select(diesel::dsl::exists(
        reveal_requests::table.filter(reveal_requests::message_id.eq(&message.id)),
    ))
    .get_result(conn)?;
    if asked {
        return Ok(true);
    }
    diesel::select(diesel::dsl::exists(
        message_revisions::table.filter(message_revisions::message_id.eq(&message.id)),
    ))
    .get_result(conn)
}

/// Keeps the message's current text as a version ended by `ended_by` at `now`.
/// It is written in the transaction of the edit, delete or erasure that ends it.
pub fn keep(
    tx: &mut Tx,
    message: &ClassMessage,
    ended_by: RevisionEnd,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let conn: &mut DbConn = tx;
    diesel::insert_into(message_revisions::table)
        .values(&NewMessageRevision {
            id: &RevisionId::new(),
            message_id: &message.id,
            content: &message.content,
            written_at: message.edited_at.unwrap_or(message.created_at),
            ended_by: ended_by.as_str(),
            created_at: now,
        })
        .execute(conn)?;
    Ok(())
}

/// The kept versions of these messages, oldest first (for the moderators' queue).
pub fn of_messages(conn: &mut DbConn, ids: &[MessageId]) -> QueryResult<Vec<MessageRevision>> {
    message_revisions::table
        .filter(message_revisions::message_id.eq_any(ids))
        .order((message_revisions::created_at, message_revisions::id))
        .select(MessageRevision::as_select())
        .load(conn)
}

/// The kept versions of a student's own messages, oldest first (for their
/// export): the texts a moderator removed, which the student was told of.
/// A version kept because someone reported the message, or staff asked who
/// wrote it, is not listed, even after a moderator acted: it exists only
/// because of the report or the request, so its being there would tell the
/// author of a report the reporter was promised stays unknown, or of a
/// reveal they have no part in.
pub fn of_author(conn: &mut DbConn, author: &UserId) -> QueryResult<Vec<MessageRevision>> {
    message_revisions::table
        .inner_join(class_messages::table)
        .filter(class_messages::user_id.eq(author))
        .filter(message_revisions::ended_by.eq(RevisionEnd::StaffRemoval.as_str()))
        .order((message_revisions::created_at, message_revisions::id))
        .select(MessageRevision::as_select())
        .load(conn)
}
