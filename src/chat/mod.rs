//! Per-class anonymous chat: messages, threads, pseudonyms and flags. Authors are
//! stored for moderation only; nothing here hands them to student-facing code.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::accounts::UserId;
use crate::classes::ClassId;
use crate::db::schema::{class_messages, message_flags};
use crate::db::DbConn;

crate::define_id!(MessageId);

/// A row of `class_messages`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = class_messages)]
pub struct ClassMessage {
    pub id: MessageId,
    pub class_id: ClassId,
    pub user_id: Option<UserId>,
    pub anonymous_identifier: String,
    pub content: String,
    pub parent_message_id: Option<MessageId>,
    pub flagged_count: i32,
    pub hidden: bool,
    pub deleted: bool,
    pub edited_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = class_messages)]
pub struct NewClassMessage<'a> {
    pub id: &'a MessageId,
    pub class_id: &'a ClassId,
    pub user_id: Option<&'a UserId>,
    pub anonymous_identifier: &'a str,
    pub content: &'a str,
    pub parent_message_id: Option<&'a MessageId>,
    pub flagged_count: i32,
    pub hidden: bool,
    pub deleted: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = class_messages)]
pub struct MessageChanges<'a> {
    pub content: Option<&'a str>,
    pub flagged_count: Option<i32>,
    pub hidden: Option<bool>,
    pub deleted: Option<bool>,
    pub edited_at: Option<Option<NaiveDateTime>>,
    pub updated_at: Option<NaiveDateTime>,
}

/// A row of `message_flags`: one student's report of one message.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = message_flags)]
pub struct MessageFlag {
    pub message_id: MessageId,
    pub user_id: UserId,
    pub reason: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Finds a message by id.
pub fn find(conn: &mut DbConn, id: &MessageId) -> QueryResult<Option<ClassMessage>> {
    class_messages::table
        .find(id)
        .select(ClassMessage::as_select())
        .first(conn)
        .optional()
}

/// Inserts a message.
pub fn insert(conn: &mut DbConn, new: &NewClassMessage<'_>) -> QueryResult<ClassMessage> {
    diesel::insert_into(class_messages::table)
        .values(new)
        .execute(conn)?;
    class_messages::table
        .find(new.id)
        .select(ClassMessage::as_select())
        .first(conn)
}

/// Records a flag; a second flag by the same student is a no-op that reports false.
pub fn insert_flag(conn: &mut DbConn, flag: &MessageFlag) -> QueryResult<bool> {
    let n = crate::on_each_backend!(conn, |c| diesel::insert_into(message_flags::table)
        .values(flag)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(n == 1)
}
