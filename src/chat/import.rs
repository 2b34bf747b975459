//! Bulk import of chat history that already happened elsewhere: the demo
//! campus and load tests write thousands of messages and reports at once. It
//! is here because chat is the only writer of its tables; nothing on a
//! request's path calls it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{class_messages, message_flags};
use crate::db::Tx;

/// Bind parameters per statement, under both backends' limits.
const MAX_BINDS: usize = 30_000;

/// A message to import, with its thread, pseudonym and report state decided.
#[derive(Debug, Insertable)]
#[diesel(table_name = class_messages)]
pub struct ImportedMessage<'a> {
    pub id: String,
    pub class_id: &'a str,
    pub user_id: Option<&'a str>,
    pub anonymous_identifier: String,
    pub content: String,
    pub parent_message_id: Option<String>,
    pub thread_root_id: Option<String>,
    pub flagged_count: i32,
    pub hidden: bool,
    pub deleted: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// On a thread's first message, its newest reply's time (else its own).
    pub last_activity_at: NaiveDateTime,
}

/// A report to import (it counts toward hiding, as the message's count says).
#[derive(Debug, Insertable)]
#[diesel(table_name = message_flags)]
pub struct ImportedReport<'a> {
    pub message_id: String,
    pub user_id: &'a str,
    pub reason: Option<&'static str>,
    pub created_at: NaiveDateTime,
}

/// Writes `messages`, then `reports` (which may point at them), in as few
/// statements as the bind limit allows, in the caller's transaction.
pub fn import(
    tx: &mut Tx<'_>,
    messages: &[ImportedMessage<'_>],
    reports: &[ImportedReport<'_>],
) -> QueryResult<()> {
    for chunk in messages.chunks(MAX_BINDS / 13) {
        crate::on_each_backend!(tx, |c| diesel::insert_into(class_messages::table)
            .values(chunk)
            .execute(c))?;
    }
    // Replies bump their threads: a thread's latest activity is its newest reply.
    let mut bumped: Vec<&str> = messages
        .iter()
        .filter_map(|m| m.thread_root_id.as_deref())
        .collect();
    bumped.sort_unstable();
    bumped.dedup();
    let replies = diesel::alias!(class_messages as replies);
    for chunk in bumped.chunks(MAX_BINDS / 2) {
        let newest = replies
            .filter(
                replies
                    .field(class_messages::thread_root_id)
                    .eq(class_messages::id.nullable()),
            )
            .select(diesel::dsl::max(replies.field(class_messages::created_at)))
            .single_value()
            .assume_not_null();
        diesel::update(class_messages::table.filter(class_messages::id.eq_any(chunk)))
            .set(class_messages::last_activity_at.eq(newest))
            .execute(&mut **tx)?;
    }
    // Imported text is searchable like posted text (hidden ones are left out).
    let ids: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
    super::search::index_imported(tx, &ids)?;
    for chunk in reports.chunks(MAX_BINDS / 4) {
        crate::on_each_backend!(tx, |c| diesel::insert_into(message_flags::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}
