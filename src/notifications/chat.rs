//! What chat activity notifies: following threads (the ones a student starts or
//! replies to, and any they follow by hand), muting classes, and the notices of
//! a reply. `chat` calls `on_reply` and `follow` inside its posting transaction,
//! so a reply and its notices commit together; nothing here names who wrote a
//! message (a notice carries ids, the inbox shows the pseudonym).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{notify_many, Kind, Notice, Topic};
use crate::accounts::UserId;
use crate::chat::{ClassMessage, MessageId};
use crate::classes::ClassId;
use crate::db::schema::{
    class_messages, class_mutes, classes, notifications, thread_follows, user_classes,
};
use crate::db::{self, DbConn, Tx};

/// Why a follow or mute by a student was refused.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// No such thread or class, or one the student does not take: both look the same.
    #[error("no such thread or class")]
    NotFound,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Upserts the student's follow row of a thread; `following` false is an
/// explicit unfollow, which outlasts replies to their own messages.
fn set_follow(
    tx: &mut Tx,
    user: &UserId,
    class: &ClassId,
    thread: &MessageId,
    following: bool,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let row = (
        thread_follows::user_id.eq(user),
        thread_follows::thread_id.eq(thread),
        thread_follows::class_id.eq(class),
        thread_follows::following.eq(following),
        thread_follows::updated_at.eq(now),
    );
    crate::on_each_backend!(tx, |c| diesel::insert_into(thread_follows::table)
        .values(row)
        .on_conflict((thread_follows::user_id, thread_follows::thread_id))
        .do_update()
        .set((
            thread_follows::following.eq(following),
            thread_follows::updated_at.eq(now),
        ))
        .execute(c))?;
    Ok(())
}

/// The student follows the thread (again): replies in it notify them. Starting
/// or replying to a thread does this in the post's transaction.
pub fn follow(
    tx: &mut Tx,
    user: &UserId,
    class: &ClassId,
    thread: &MessageId,
    now: NaiveDateTime,
) -> QueryResult<()> {
    set_follow(tx, user, class, thread, true, now)
}

/// Follows (`following` true) or unfollows a thread by hand, in its own write
/// transaction: only a thread of a class the student takes, whose page is
/// there for them (`chat::thread_shown`; `staff` for a moderator or admin);
/// anything else is `NotFound`.
pub fn choose_following(
    conn: &mut DbConn,
    user: &UserId,
    staff: bool,
    class: &ClassId,
    thread: &MessageId,
    following: bool,
    now: NaiveDateTime,
) -> Result<(), FollowError> {
    db::write_tx(conn, |tx| {
        if !crate::classes::is_enrolled(tx, user, class)? {
            return Err(FollowError::NotFound);
        }
        if !crate::chat::thread_shown(tx, user, staff, class, thread)? {
            return Err(FollowError::NotFound);
        }
        set_follow(tx, user, class, thread, following, now)?;
        Ok(())
    })
}

/// Whether the student follows the thread (started it, replied, or followed by
/// hand, and did not unfollow since).
pub fn is_following(conn: &mut DbConn, user: &UserId, thread: &MessageId) -> QueryResult<bool> {
    diesel::select(following!(user.clone(), thread.clone())).get_result(conn)
}

/// Whether `$user` follows `$thread` (owned ids), as an expression a page's
/// statement selects beside its own columns (the thread page's head).
macro_rules! following {
    ($user:expr, $thread:expr) => {{
        use $crate::db::schema::thread_follows;
        diesel::dsl::exists(
            thread_follows::table
                .filter(thread_follows::user_id.eq($user))
                .filter(thread_follows::thread_id.eq($thread))
                .filter(thread_follows::following.eq(true)),
        )
    }};
}
pub(crate) use following;

/// Mutes a class the student takes: its chat activity notifies them of nothing until they
/// unmute (what happened meanwhile is not written, so it never shows up later).
pub fn mute(
    conn: &mut DbConn,
    user: &UserId,
    class: &ClassId,
    now: NaiveDateTime,
) -> Result<(), FollowError> {
    db::write_tx(conn, |tx| {
        if !crate::classes::is_enrolled(tx, user, class)? {
            return Err(FollowError::NotFound);
        }
        let row = (
            class_mutes::user_id.eq(user),
            class_mutes::class_id.eq(class),
            class_mutes::created_at.eq(now),
        );
        crate::on_each_backend!(tx, |c| diesel::insert_into(class_mutes::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c))?;
        Ok(())
    })
}

/// Unmutes a class (also one the student has since left, so a settings page
/// can list and clear it). Returns whether it was muted.
pub fn unmute(conn: &mut DbConn, user: &UserId, class: &ClassId) -> QueryResult<bool> {
    let n = diesel::delete(
        class_mutes::table
            .filter(class_mutes::user_id.eq(user))
            .filter(class_mutes::class_id.eq(class)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// The classes the student muted, with their codes ("CS 2100"), by code. One statement.
pub fn muted_classes(conn: &mut DbConn, user: &UserId) -> QueryResult<Vec<(ClassId, String)>> {
    let rows: Vec<(ClassId, String, String)> = class_mutes::table
        .inner_join(classes::table)
        .filter(class_mutes::user_id.eq(user))
        .order((classes::subject, classes::catalog_number, classes::id))
        .select((classes::id, classes::subject, classes::catalog_number))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, subject, number)| (id, crate::classes::code(&subject, &number)))
        .collect())
}

/// The kinds a thread's page shows in full, so opening it reads them: its
/// replies and its answer. A moderator's decision about the student's post
/// is not among them (the page shows "[deleted]", not the reason): it stays
/// unread, and is mailed, until the student opens it.
pub fn shown_by_the_thread() -> Vec<&'static str> {
    Kind::ALL
        .iter()
        .filter(|k| matches!(k.topic(), Topic::Replies | Topic::Answers))
        .map(|k| k.as_str())
        .collect()
}

/// `notifications.kind IN ('reply', …)` for `shown_by_the_thread`, its
/// members written out: an `= ANY($1)` array would have PostgreSQL plan the
/// thread page's statement afresh on every run (docs/database.md, "one
/// plan"). The kinds are this build's own words, never input.
pub fn shown_by_the_thread_sql() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    // Written once per process: every thread page asks for it.
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let kinds: Vec<String> = shown_by_the_thread()
            .iter()
            .map(|k| format!("'{k}'"))
            .collect();
        format!("notifications.kind IN ({})", kinds.join(", "))
    });
    diesel::dsl::sql(&SQL)
}

/// Whether `$user` has unread notifications about `$thread` (owned ids) that
/// its page shows, as an expression the thread page's head selects: only
/// then does the page run `mark_thread_read`.
macro_rules! unread_about_thread {
    ($user:expr, $thread:expr, $now:expr) => {{
        use $crate::db::schema::notifications;
        let now: chrono::NaiveDateTime = $now;
        diesel::dsl::exists(
            notifications::table
                .filter(notifications::user_id.eq($user))
                .filter(notifications::thread_id.eq($thread))
                .filter($crate::notifications::chat::shown_by_the_thread_sql())
                .filter(notifications::read_at.is_null())
                .filter(notifications::created_at.le(now)),
        )
    }};
}
pub(crate) use unread_about_thread;

/// Marks the student's notifications about a thread that its page shows
/// (`shown_by_the_thread`) read, as the page opens or shows replies live (one
/// UPDATE). Returns how many were unread.
pub fn mark_thread_read(
    conn: &mut DbConn,
    user: &UserId,
    thread: &MessageId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        notifications::table
            .filter(notifications::user_id.eq(user))
            .filter(notifications::thread_id.eq(thread))
            .filter(shown_by_the_thread_sql())
            .filter(notifications::read_at.is_null())
            .filter(notifications::created_at.le(now)),
    )
    .set(notifications::read_at.eq(Some(now)))
    .execute(conn)
}

/// A student left a class: what its chat said for them is read (its threads
/// are no longer theirs to open), so it stops counting in their inbox. A
/// moderator's decision about their own post stays until they read it.
pub fn left_class(
    tx: &mut Tx,
    user: &UserId,
    class: &ClassId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        notifications::table
            .filter(notifications::user_id.eq(user))
            .filter(notifications::class_id.eq(class))
            .filter(shown_by_the_thread_sql())
            .filter(notifications::read_at.is_null()),
    )
    .set(notifications::read_at.eq(Some(now)))
    .execute(&mut **tx)
}

/// A message taken away for good (its author deleted it, a moderator removed
/// it): the chat notices about it are read, so they stop counting in the
/// inbox and are not mailed, and mail about it not delivered yet is withdrawn
/// (`email::withdraw_unsent_quoting`). A moderator's decision about it is not
/// touched.
/// In the transaction that removes it. A hide or a hold can be undone, so
/// their notices stay unread and count; while the message is away they are
/// quiet (`view`): an email or digest claimed meanwhile leaves them out, and
/// they are not mailed later.
pub fn message_gone(tx: &mut Tx, message: &MessageId, now: NaiveDateTime) -> QueryResult<usize> {
    super::email::withdraw_unsent_quoting(tx, std::slice::from_ref(message), now)?;
    diesel::update(
        notifications::table
            .filter(notifications::message_id.eq(message))
            .filter(shown_by_the_thread_sql())
            .filter(notifications::read_at.is_null()),
    )
    .set(notifications::read_at.eq(Some(now)))
    .execute(&mut **tx)
}

/// A deleted message that left every page while its row stays, kept for
/// moderators (`chat::left_every_page`): the chat notices about it go, and
/// for a thread's first message (`thread`) those about the thread and its
/// follows, as they would with the row (their references cascade). Marked
/// read and kept, they would stay in a classmate's inbox and export where a
/// message deleted for good leaves none, telling them it was kept, so
/// reported. A moderator's decision about it stays for its author.
pub fn message_unseen(tx: &mut Tx, message: &MessageId, thread: bool) -> QueryResult<usize> {
    // About the message, or (`thread`) about any message of the thread.
    let about = || {
        let by_thread = notifications::thread_id
            .eq(message)
            .and(thread.into_sql::<diesel::sql_types::Bool>());
        notifications::table
            .filter(notifications::message_id.eq(message).or(by_thread))
            .filter(shown_by_the_thread_sql())
    };
    let conn: &mut DbConn = tx;
    // In id order on PostgreSQL, as `email::withdraw_unsent_quoting` and the
    // mailers lock them, so the two cannot deadlock.
    if let DbConn::Postgresql(pg) = conn {
        about()
            .order(notifications::id)
            .select(notifications::id)
            .for_update()
            .load::<super::NotificationId>(pg)?;
    }
    let mut n = diesel::delete(about()).execute(conn)?;
    if thread {
        n += diesel::delete(thread_follows::table.filter(thread_follows::thread_id.eq(message)))
            .execute(conn)?;
    }
    Ok(n)
}

/// Whether anyone has a notice about `message` (a reply's, read or not).
pub fn any_about(tx: &mut Tx, message: &MessageId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        notifications::table
            .filter(notifications::message_id.eq(message))
            .filter(shown_by_the_thread_sql()),
    ))
    .get_result(&mut **tx)
}

/// Whether `user` has an unread notice of `kind` about `message`.
pub fn unread_of_kind(
    conn: &mut DbConn,
    user: &UserId,
    message: &MessageId,
    kind: Kind,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        notifications::table
            .filter(notifications::user_id.eq(user))
            .filter(notifications::message_id.eq(message))
            .filter(notifications::kind.eq(kind.as_str()))
            .filter(notifications::read_at.is_null()),
    ))
    .get_result(conn)
}

/// A new thread: its starter follows it. Called in the post's transaction.
pub fn on_thread(tx: &mut Tx, thread: &ClassMessage, now: NaiveDateTime) -> QueryResult<()> {
    match &thread.user_id {
        Some(starter) => follow(tx, starter, &thread.class_id, &thread.id, now),
        None => Ok(()),
    }
}

/// A reply was posted (called in its transaction): the replier follows the
/// thread; the author of the message replied to hears `Reply` (unless they
/// wrote the reply or unfollowed the thread); every other follower hears
/// `ThreadReply`. Only students still in the class hear anything, and muted
/// classes are dropped by `notify_many`. Three statements whatever the number
/// of followers: the follow, the recipients, the rows. Returns how many rows
/// were written.
pub fn on_reply(tx: &mut Tx, reply: &ClassMessage, now: NaiveDateTime) -> QueryResult<usize> {
    let Some(thread) = reply.thread_root_id.as_ref() else {
        return Ok(0);
    };
    let Some(replier) = reply.user_id.as_ref() else {
        return Ok(0);
    };
    follow(tx, replier, &reply.class_id, thread, now)?;
    let parent_author = class_messages::table
        .filter(
            class_messages::id
                .nullable()
                .eq(reply.parent_message_id.as_ref()),
        )
        .select(class_messages::user_id)
        .single_value();
    // Everyone in the class who follows the thread, or wrote the message
    // replied to, with their follow choice (None: never chose).
    let recipients: Vec<(UserId, Option<bool>, Option<bool>)> = user_classes::table
        .left_join(
            thread_follows::table.on(thread_follows::user_id
                .eq(user_classes::user_id)
                .and(thread_follows::thread_id.eq(thread))),
        )
        .filter(user_classes::class_id.eq(&reply.class_id))
        .filter(user_classes::user_id.ne(replier))
        .filter(
            thread_follows::following
                .nullable()
                .eq(true)
                .or(user_classes::user_id.nullable().eq(parent_author)),
        )
        .select((
            user_classes::user_id,
            thread_follows::following.nullable(),
            user_classes::user_id.nullable().eq(parent_author),
        ))
        .load(&mut **tx)?;
    let notices: Vec<Notice> = recipients
        .iter()
        .filter_map(|(user, following, is_parent_author)| {
            let kind = match (following, is_parent_author.unwrap_or(false)) {
                (Some(false), _) => return None,
                (_, true) => Kind::Reply,
                (Some(true), false) => Kind::ThreadReply,
                (None, false) => return None,
            };
            Some(Notice::new(user, kind, now).about_message(&reply.class_id, thread, &reply.id))
        })
        .collect();
    notify_many(tx, &notices)
}
