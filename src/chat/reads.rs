//! What each student has read, so pages can mark what is new to them. Private
//! to the student: nothing here is shown to anyone else, counted for anyone
//! else, or sent in an event. A message is new to a student when it is newer
//! than both their class mark (set by "mark all read"; before that, the moment
//! they joined) and their mark on its thread (set when the thread's page is
//! shown), is not their own, and still shows (not deleted or hidden), and is
//! less than `NEW_FOR` old: what was posted weeks ago is history, not news, and
//! the horizon keeps counting what is new a bounded, indexed range per class.

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::MessageId;
use crate::accounts::UserId;
use crate::classes::ClassId;
use crate::db::schema::{chat_class_reads, chat_thread_reads, class_messages, user_classes};
use crate::db::{DbConn, Tx};

/// How long a message can be new to a student who has not read it.
pub const NEW_FOR: Duration = Duration::days(14);

/// A student's read marks in one class, for some threads.
#[derive(Debug, Clone)]
pub struct Marks {
    class: NaiveDateTime,
    threads: HashMap<MessageId, NaiveDateTime>,
}

impl Marks {
    /// The marks from their rows: the class mark (`None` before the first
    /// "mark all read") and the threads' marks; `joined` stands in for a
    /// class mark never set, and nothing older than `NEW_FOR` before `now`
    /// is new.
    pub fn new(
        class: Option<NaiveDateTime>,
        joined: NaiveDateTime,
        threads: HashMap<MessageId, NaiveDateTime>,
        now: NaiveDateTime,
    ) -> Marks {
        Marks {
            class: class.unwrap_or(joined).max(now - NEW_FOR),
            threads,
        }
    }

    /// Everything in the class up to this instant is read (a thread's own
    /// mark may reach further).
    pub fn class(&self) -> NaiveDateTime {
        self.class
    }

    /// Everything in the thread up to this instant is read.
    pub fn for_thread(&self, thread: &MessageId) -> NaiveDateTime {
        self.threads
            .get(thread)
            .copied()
            .map_or(self.class, |t| t.max(self.class))
    }
}

/// Marks a thread read through `through` (its newest message shown).
pub fn mark_thread(
    conn: &mut DbConn,
    viewer: &UserId,
    class_id: &ClassId,
    thread_id: &MessageId,
    through: NaiveDateTime,
) -> QueryResult<()> {
    let row = (
        chat_thread_reads::user_id.eq(viewer),
        chat_thread_reads::thread_id.eq(thread_id),
        chat_thread_reads::class_id.eq(class_id),
        chat_thread_reads::read_through.eq(through),
    );
    // A mark only moves forward (`DO UPDATE … WHERE`): a slower page that
    // showed less must not undo a newer mark, or its messages read as new again.
    crate::on_each_backend!(conn, |c| diesel::query_dsl::methods::FilterDsl::filter(
        diesel::insert_into(chat_thread_reads::table)
            .values(row)
            .on_conflict((chat_thread_reads::user_id, chat_thread_reads::thread_id))
            .do_update()
            .set(chat_thread_reads::read_through.eq(through)),
        chat_thread_reads::read_through.lt(through)
    )
    .execute(c))?;
    Ok(())
}

/// Marks a thread read through its newest message, for a page that showed
/// it live. False (nothing written) when the student does not take the class or
/// the thread's page is not there for them (`thread_shown`).
pub fn mark_thread_seen(
    conn: &mut DbConn,
    viewer: &UserId,
    staff: bool,
    class_id: &ClassId,
    thread_id: &MessageId,
) -> QueryResult<bool> {
    if !crate::classes::is_enrolled(conn, viewer, class_id)?
        || !super::thread_shown(conn, viewer, staff, class_id, thread_id)?
    {
        return Ok(false);
    }
    // Through the newest message the page shows the student: not a row it
    // does not (a classmate's held message, or one deleted and kept), whose
    // time in the mark (and their export) would tell them it is there.
    let seen = class_messages::held
        .eq(false)
        .or(class_messages::user_id.eq(viewer))
        .or(staff.into_sql::<diesel::sql_types::Bool>().nullable());
    let newest: Option<NaiveDateTime> = class_messages::table
        .filter(class_messages::class_id.eq(class_id))
        .filter(
            class_messages::id
                .eq(thread_id)
                .and(class_messages::parent_message_id.is_null())
                .or(class_messages::thread_root_id.eq(thread_id)),
        )
        .filter(class_messages::deleted.eq(false))
        .filter(seen)
        .select(diesel::dsl::max(class_messages::created_at))
        .first(conn)?;
    match newest {
        Some(through) => {
            mark_thread(conn, viewer, class_id, thread_id, through)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// A thread that left every page, its row kept (`chat::left_every_page`):
/// its read marks go, as with the row.
pub fn forget_thread(tx: &mut Tx, thread_id: &MessageId) -> QueryResult<usize> {
    diesel::delete(chat_thread_reads::table.filter(chat_thread_reads::thread_id.eq(thread_id)))
        .execute(&mut **tx)
}

/// "Mark all read": everything in the class up to its newest message is read,
/// or, with `seen` (when the page pressed on was made), up to the newest
/// posted by then: a thread posted since, which the student never saw, stays
/// new. Thread marks it covers are dropped. A student who does not take the
/// class changes nothing.
pub fn mark_class(
    conn: &mut DbConn,
    viewer: &UserId,
    class_id: &ClassId,
    seen: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    if !crate::classes::is_enrolled(conn, viewer, class_id)? {
        return Ok(false);
    }
    let seen = seen.map_or(now, |at| at.min(now));
    let newest: Option<NaiveDateTime> = class_messages::table
        .filter(class_messages::class_id.eq(class_id))
        .filter(class_messages::created_at.le(seen))
        .select(diesel::dsl::max(class_messages::created_at))
        .first(conn)?;
    let through = newest.unwrap_or(seen);
    let row = (
        chat_class_reads::user_id.eq(viewer),
        chat_class_reads::class_id.eq(class_id),
        chat_class_reads::read_through.eq(through),
    );
    crate::on_each_backend!(conn, |c| diesel::query_dsl::methods::FilterDsl::filter(
        diesel::insert_into(chat_class_reads::table)
            .values(row)
            .on_conflict((chat_class_reads::user_id, chat_class_reads::class_id))
            .do_update()
            .set(chat_class_reads::read_through.eq(through)),
        chat_class_reads::read_through.lt(through)
    )
    .execute(c))?;
    diesel::delete(
        chat_thread_reads::table
            .filter(chat_thread_reads::user_id.eq(viewer))
            .filter(chat_thread_reads::class_id.eq(class_id))
            .filter(chat_thread_reads::read_through.le(through)),
    )
    .execute(conn)?;
    Ok(true)
}

diesel::define_sql_function! {
    /// SQL's COALESCE, for a mark that may be missing.
    fn coalesce(x: diesel::sql_types::Nullable<diesel::sql_types::Timestamp>, y: diesel::sql_types::Timestamp) -> diesel::sql_types::Timestamp;
}

/// The classes `$viewer` takes, each beside their class mark (`None` before
/// the first "mark all read"), as a query to finish: the outer query of
/// `new_in_class!`. `$viewer` is an owned user id, or a nullable text
/// expression naming one (`sessions::session_owner!`), named once: the mark
/// is joined on the row's own student, and `new_in_class!` names the student
/// by the row too. In the session lookup each naming is a subquery on the
/// token, and Diesel walks the statement's whole tree twice on every
/// execution (collecting its binds, checking it may be cached): those walks
/// were about a third of the lookup's instructions in the server. Naming the
/// viewer here once rather than four times cut the lookup from 103,700 to
/// 92,500 instructions (−11%; bench/README.md, session 43).
macro_rules! classes_with_marks {
    ($viewer:expr) => {{
        use $crate::db::schema::{chat_class_reads, user_classes};
        user_classes::table
            .left_join(
                chat_class_reads::table.on(chat_class_reads::class_id
                    .eq(user_classes::class_id)
                    .and(chat_class_reads::user_id.eq(user_classes::user_id))),
            )
            .filter(user_classes::user_id.nullable().eq($viewer))
    }};
}

/// The messages new to the outer query's row's student in its class
/// (`classes_with_marks!`), newer than `$since`, as a subquery to finish.
/// "New" leaves out the row's student's own messages, so it is safe only
/// under a query limited to the viewer's own rows (as `classes_with_marks!`
/// is): over classmates' rows it would tell who wrote a message. The
/// marks are the outer row's values, so both databases read the class's
/// range of `idx_class_messages_unread` from the later of the horizon and
/// the mark, the index alone (it carries every column tested here), and
/// probe the thread marks per message.
macro_rules! new_in_class {
    ($since:expr) => {{
        use $crate::chat::reads::coalesce;
        use $crate::db::schema::{
            chat_class_reads, chat_thread_reads, class_messages, user_classes,
        };
        class_messages::table
            .filter(class_messages::class_id.eq(user_classes::class_id))
            .filter(class_messages::created_at.gt($since))
            .filter(class_messages::deleted.eq(false))
            .filter(class_messages::hidden.eq(false))
            .filter(class_messages::held.eq(false))
            .filter(
                class_messages::user_id
                    .is_null()
                    .or(class_messages::user_id.ne(user_classes::user_id.nullable())),
            )
            .filter(class_messages::created_at.gt(coalesce(
                chat_class_reads::read_through.nullable(),
                user_classes::enrolled_at,
            )))
            .filter(diesel::dsl::not(diesel::dsl::exists(
                chat_thread_reads::table
                    .filter(chat_thread_reads::user_id.eq(user_classes::user_id))
                    .filter(
                        chat_thread_reads::thread_id.eq(class_messages::id).or(
                            chat_thread_reads::thread_id
                                .nullable()
                                .eq(class_messages::thread_root_id),
                        ),
                    )
                    .filter(chat_thread_reads::read_through.ge(class_messages::created_at)),
            )))
    }};
}

/// "Something is new to `$viewer` in a class they take" (the nav's dot), as
/// an expression a statement selects beside its own columns: the session
/// lookup carries it (`web::guard`), so the dot costs no statement. Per class
/// it starts from the class mark: a student who has read everything costs an
/// index seek a class, not a walk over two weeks of messages (3.1 ms → 0.1 ms
/// on PostgreSQL for a caught-up student in two busy lectures).
macro_rules! anything_new {
    ($viewer:expr, $now:expr) => {{
        let now: chrono::NaiveDateTime = $now;
        let viewer = $viewer;
        diesel::dsl::exists(
            $crate::chat::reads::classes_with_marks!(viewer)
                .filter(diesel::dsl::exists(
                    $crate::chat::reads::new_in_class!(now - $crate::chat::reads::NEW_FOR)
                        .select($crate::db::schema::class_messages::id),
                ))
                .select($crate::db::schema::user_classes::class_id),
        )
    }};
}
pub(crate) use {anything_new, classes_with_marks, new_in_class};

/// Counting what is new in a class stops here: pages show "99+" past 99.
pub const COUNT_UP_TO: i64 = 100;

/// How many messages are new to the student in each of these classes, up to
/// `COUNT_UP_TO` (those with none are left out), in one query whatever the
/// number of classes. Each class is counted by one subquery on
/// `(class_id, created_at)`, an index that carries every column it tests
/// (`idx_class_messages_unread`), that stops at the 100th message: a busy
/// class costs the same as a quiet one. On the scale campus a student's five
/// classes can hold 4,000 messages new to them, which the grouped count it
/// replaces read one by one (SQLite: 9.9 ms → 0.6 ms); the "is there a
/// 100th?" test and count after it that came next read a class with fewer
/// than 100 twice (PostgreSQL, pgbench on home's captured statement: 8,000
/// → 10,000 tps).
///
/// The classes are the student's of `term`, named by the term rather than by
/// a list of ids: a statement with an `IN (…)` list changes its SQL with the
/// list's length, so Diesel cannot keep it prepared on SQLite, and preparing
/// it was 9% of SQLite home's CPU under load (bench/README.md, session 15).
pub fn unread_in(
    conn: &mut DbConn,
    viewer: &UserId,
    term: &str,
    now: NaiveDateTime,
) -> QueryResult<HashMap<ClassId, i64>> {
    use diesel::dsl::exists;
    let since = now - NEW_FOR;
    let count = crate::db::count_of(
        new_in_class!(since)
            .select(class_messages::id)
            .limit(COUNT_UP_TO),
    );
    let rows: Vec<(ClassId, i64)> =
        crate::on_each_backend!(conn, |c| classes_with_marks!(viewer.clone())
            .filter(exists(
                crate::db::schema::classes::table
                    .filter(crate::db::schema::classes::id.eq(user_classes::class_id))
                    .filter(crate::db::schema::classes::term.eq(term)),
            ))
            .select((user_classes::class_id, count))
            .load(c))?;
    Ok(rows.into_iter().filter(|(_, count)| *count > 0).collect())
}
