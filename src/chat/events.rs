//! What happened in a class chat, for live pages: one row per change (a new
//! thread or reply, an edit, a delete, a hide, a restore), written by chat's own
//! writers in the transaction that made the change, with the class locked, so
//! within a class the order of `seq` is the order of commits. A browser that
//! reconnects with `Last-Event-ID` is answered from here, never from memory.
//! Rows carry ids only: no author, no text. On PostgreSQL the same transaction
//! sends `NOTIFY` with the class and the sequence number; PostgreSQL delivers it
//! at commit (and never for a rollback), to every app process that listens.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{ClassMessage, MessageId};
use crate::classes::ClassId;
use crate::db::schema::{chat_events, class_messages};
use crate::db::{DbConn, Tx};

/// The PostgreSQL channel every app process listens on.
pub const CHANNEL: &str = "cg_chat";

/// What happened to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Thread,
    Reply,
    Edit,
    Delete,
    Hide,
    Restore,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Thread => "thread",
            EventKind::Reply => "reply",
            EventKind::Edit => "edit",
            EventKind::Delete => "delete",
            EventKind::Hide => "hide",
            EventKind::Restore => "restore",
        }
    }

    pub fn parse(raw: &str) -> Option<EventKind> {
        Some(match raw {
            "thread" => EventKind::Thread,
            "reply" => EventKind::Reply,
            "edit" => EventKind::Edit,
            "delete" => EventKind::Delete,
            "hide" => EventKind::Hide,
            "restore" => EventKind::Restore,
            _ => return None,
        })
    }
}

/// One change in a class chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatEvent {
    /// Increasing with commit order within a class; the SSE `id:`.
    pub seq: i64,
    pub class_id: ClassId,
    pub thread_id: MessageId,
    pub message_id: MessageId,
    pub kind: EventKind,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable)]
struct Row {
    seq: i64,
    class_id: ClassId,
    thread_id: MessageId,
    message_id: MessageId,
    kind: String,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = chat_events)]
struct NewRow<'a> {
    class_id: &'a ClassId,
    thread_id: &'a MessageId,
    message_id: &'a MessageId,
    kind: &'static str,
    created_at: NaiveDateTime,
}

/// Records that `kind` happened to `message`, in the writer's transaction, and
/// on PostgreSQL queues the `NOTIFY` that commit delivers. The class lock is
/// taken here too (a no-op when the writer already holds it, as it should).
/// Every chat writer calls this (or `record_alone`), so the search index is
/// kept in step here too (`search::sync`): one hook, and a new writer cannot
/// forget it.
/// A held message records nothing a classmate's stream could carry: no row,
/// no `NOTIFY` (0 is returned), except the `Hide` that takes a message edited
/// into held off the pages that showed it. The search index lets it go either way.
/// A change to a reply that is its thread's marked answer (an edit, a hide,
/// a restore, a delete, a held answer released) records an `Edit` of the
/// thread's first message too, which shows the answer under it: open pages
/// redraw that box, whichever writer made the change.
pub fn record(
    tx: &mut Tx,
    message: &ClassMessage,
    kind: EventKind,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    let seq = record_alone(tx, message, kind, now)?;
    if let Some(thread_id) = message.thread_root_id.as_ref().filter(|_| seq != 0) {
        if shows_as_answer(tx, thread_id, &message.id)? {
            insert(
                tx,
                &message.class_id,
                thread_id,
                thread_id,
                EventKind::Edit,
                now,
            )?;
        }
    }
    Ok(seq)
}

/// `record`, without looking at the thread's answer box: for a new thread or
/// reply (nobody's answer yet) and for marking an answer, which records the
/// thread's first message itself.
pub fn record_alone(
    tx: &mut Tx,
    message: &ClassMessage,
    kind: EventKind,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    super::lock_class(tx, &message.class_id)?;
    super::search::sync(tx, message, kind)?;
    if message.held && kind != EventKind::Hide {
        return Ok(0);
    }
    let thread_id = message.thread_root_id.as_ref().unwrap_or(&message.id);
    insert(tx, &message.class_id, thread_id, &message.id, kind, now)
}

/// Records the `Delete` of a message whose row is gone (removed in this
/// transaction), from its ids: open pages that showed it drop it.
pub(super) fn record_gone(
    tx: &mut Tx,
    class_id: &ClassId,
    thread_id: &MessageId,
    message_id: &MessageId,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    insert(tx, class_id, thread_id, message_id, EventKind::Delete, now)
}

/// Whether `reply` is the answer the thread's first message shows.
fn shows_as_answer(tx: &mut Tx, thread_id: &MessageId, reply: &MessageId) -> QueryResult<bool> {
    let conn: &mut DbConn = tx;
    diesel::select(diesel::dsl::exists(
        class_messages::table
            .find(thread_id)
            .filter(class_messages::answer_id.eq(reply)),
    ))
    .get_result(conn)
}

/// Writes one event row and, on PostgreSQL, queues its `NOTIFY`.
fn insert(
    tx: &mut Tx,
    class_id: &ClassId,
    thread_id: &MessageId,
    message_id: &MessageId,
    kind: EventKind,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    let conn: &mut DbConn = tx;
    let seq: i64 = diesel::insert_into(chat_events::table)
        .values(&NewRow {
            class_id,
            thread_id,
            message_id,
            kind: kind.as_str(),
            created_at: now,
        })
        .returning(chat_events::seq)
        .get_result(conn)?;
    if let DbConn::Postgresql(pg) = conn {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<diesel::sql_types::Text, _>(CHANNEL)
            .bind::<diesel::sql_types::Text, _>(notice(class_id, seq))
            .execute(pg)?;
    }
    Ok(seq)
}

/// The `NOTIFY` payload: `<class id> <seq>` (ids only, far under the 8,000-byte limit).
pub fn notice(class_id: &ClassId, seq: i64) -> String {
    format!("{class_id} {seq}")
}

/// Reads a `notice` payload; anything else is None.
pub fn parse_notice(payload: &str) -> Option<(ClassId, i64)> {
    let (class, seq) = payload.split_once(' ')?;
    Some((ClassId::parse(class)?, seq.parse().ok()?))
}

/// The class's events after `after`, oldest first, at most `limit`.
pub fn since(
    conn: &mut DbConn,
    class_id: &ClassId,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<ChatEvent>> {
    let rows: Vec<Row> = chat_events::table
        .filter(chat_events::class_id.eq(class_id))
        .filter(chat_events::seq.gt(after))
        .order(chat_events::seq.asc())
        .limit(limit)
        .select((
            chat_events::seq,
            chat_events::class_id,
            chat_events::thread_id,
            chat_events::message_id,
            chat_events::kind,
            chat_events::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(ChatEvent {
                seq: r.seq,
                class_id: r.class_id,
                thread_id: r.thread_id,
                message_id: r.message_id,
                kind: EventKind::parse(&r.kind)?,
                created_at: r.created_at,
            })
        })
        .collect())
}

/// The class's newest event, 0 when it has none: where a page's stream starts.
pub fn latest(conn: &mut DbConn, class_id: &ClassId) -> QueryResult<i64> {
    let seq: Option<i64> = chat_events::table
        .filter(chat_events::class_id.eq(class_id))
        .select(diesel::dsl::max(chat_events::seq))
        .first(conn)?;
    Ok(seq.unwrap_or(0))
}

/// The newest event of any class, 0 when there is none (where SQLite's poller starts).
pub fn newest(conn: &mut DbConn) -> QueryResult<i64> {
    let seq: Option<i64> = chat_events::table
        .select(diesel::dsl::max(chat_events::seq))
        .first(conn)?;
    Ok(seq.unwrap_or(0))
}

/// (class, seq) of the events after `after`, of every class, oldest first: on
/// SQLite, which serializes writers, seq order is commit order across classes.
pub fn after_any_class(
    conn: &mut DbConn,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<(ClassId, i64)>> {
    chat_events::table
        .filter(chat_events::seq.gt(after))
        .order(chat_events::seq.asc())
        .limit(limit)
        .select((chat_events::class_id, chat_events::seq))
        .load(conn)
}

/// The oldest event still kept for the class, if any: a browser asking to
/// resume from before it has missed events that were pruned, and must reload.
pub fn oldest(conn: &mut DbConn, class_id: &ClassId) -> QueryResult<Option<i64>> {
    chat_events::table
        .filter(chat_events::class_id.eq(class_id))
        .select(diesel::dsl::min(chat_events::seq))
        .first(conn)
}

/// Forgets events older than `before` (cleanup): a browser away that long reloads.
pub fn prune(tx: &mut Tx, before: NaiveDateTime) -> QueryResult<usize> {
    let conn: &mut DbConn = tx;
    diesel::delete(chat_events::table.filter(chat_events::created_at.lt(before))).execute(conn)
}
