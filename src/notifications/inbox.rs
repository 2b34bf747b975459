//! The inbox: a student's notifications a page at a time (keyset-paged, newest
//! first), opening one (which marks it read), "mark all read", the nav's marks
//! in one statement, and keeping it small: the 90-day cleanup, and the
//! student's notification data in the export and the erasure.
//!
//! Only the student's own rows are read or changed here: every function takes
//! the student and filters on them, so someone else's id is simply not found.

use chrono::{DateTime, Duration, NaiveDateTime};
use diesel::prelude::*;

use super::view::{self, NotificationView};
use super::NotificationId;
use crate::accounts::{Session, User, UserId};
use crate::db::schema::{notification_digests, notifications};
use crate::db::{self, DbConn, Tx};

/// Notifications on one page of the inbox.
pub const PAGE_SIZE: i64 = 30;

/// How long a notification is kept; the cleanup removes older ones, and digest
/// claims older than this with them.
pub const KEPT_FOR: Duration = Duration::days(90);

/// Where an "Older" page starts: just after the last notification shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: NaiveDateTime,
    pub id: NotificationId,
}

impl Cursor {
    /// `<microseconds since 1970>_<notification id>`, for the "Older" link.
    pub fn encode(&self) -> String {
        format!(
            "{}_{}",
            self.created_at.and_utc().timestamp_micros(),
            self.id
        )
    }

    /// Reads an `encode`d cursor; anything else is None.
    pub fn parse(raw: &str) -> Option<Cursor> {
        let (micros, id) = raw.split_once('_')?;
        if micros.is_empty() || micros.len() > 20 {
            return None;
        }
        let micros: i64 = micros.parse().ok()?;
        let created_at = DateTime::from_timestamp_micros(micros)?.naive_utc();
        if !crate::clock::plausible(created_at) {
            return None;
        }
        Some(Cursor {
            created_at,
            id: NotificationId::parse(id)?,
        })
    }

    fn of(n: &NotificationView) -> Cursor {
        Cursor {
            created_at: n.created_at,
            id: n.id.clone(),
        }
    }
}

/// One page of a student's inbox.
#[derive(Debug, Clone)]
pub struct Page {
    /// Newest first.
    pub items: Vec<NotificationView>,
    /// Where the next (older) page starts, when there is one.
    pub older: Option<Cursor>,
}

/// A page of the student's notifications already showing at `now`, newest
/// first, after `before` when given. One statement, whatever the inbox holds.
pub fn page(
    conn: &mut DbConn,
    user: &UserId,
    before: Option<&Cursor>,
    now: NaiveDateTime,
) -> QueryResult<Page> {
    // One more than a page says whether an older page exists.
    let mut items = view::list(
        conn,
        user,
        now,
        before.map(|c| (c.created_at, &c.id)),
        PAGE_SIZE + 1,
    )?;
    let older = if items.len() as i64 > PAGE_SIZE {
        items.truncate(PAGE_SIZE as usize);
        items.last().map(Cursor::of)
    } else {
        None
    };
    Ok(Page { items, older })
}

/// Opens one of the student's notifications: marks it read (if it was not),
/// with the others about the same thread, and returns it, for its `target`. None when it is not theirs, does not
/// exist, or is not showing yet: the page answers all three the same way.
pub fn open(
    conn: &mut DbConn,
    user: &UserId,
    id: &NotificationId,
    now: NaiveDateTime,
) -> QueryResult<Option<NotificationView>> {
    db::write_tx(conn, |tx| {
        let conn: &mut DbConn = tx;
        let found = view::by_ids(conn, user, std::slice::from_ref(id))?
            .into_iter()
            .find(|n| n.created_at <= now);
        let Some(mut found) = found else {
            return Ok(None);
        };
        if found.read_at.is_none() {
            diesel::update(
                notifications::table
                    .filter(notifications::id.eq(id))
                    .filter(notifications::user_id.eq(user))
                    .filter(notifications::read_at.is_null()),
            )
            .set(notifications::read_at.eq(now))
            .execute(conn)?;
            found.read_at = Some(now);
            // It opens the thread, which shows everything else the inbox
            // says about it: those are read now too, so the page it lands
            // on counts right (its nav is read before the page itself runs).
            if let Some(thread) = &found.thread_id {
                super::chat::mark_thread_read(conn, user, thread, now)?;
            }
        }
        Ok(Some(found))
    })
}

/// "Mark all read": every notification of the student showing at `now`, or
/// with `seen` (when the inbox pressed on was made), those that came by
/// then: one that came since, never seen, stays unread. Returns how many
/// were unread.
pub fn mark_all_read(
    conn: &mut DbConn,
    user: &UserId,
    seen: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let through = seen.map_or(now, |at| at.min(now));
    db::write_tx(conn, |tx| {
        let conn: &mut DbConn = tx;
        diesel::update(
            notifications::table
                .filter(notifications::user_id.eq(user))
                .filter(notifications::read_at.is_null())
                .filter(notifications::created_at.le(through)),
        )
        .set(notifications::read_at.eq(now))
        .execute(conn)
    })
}

/// What the nav shows beside the session: whether anything is new in the
/// student's classes (the dot) and how many notifications are unread (the
/// count, up to `cap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NavMarks {
    pub anything_new: bool,
    pub unread_notifications: i64,
}

/// How many notifications `$viewer` has not read, as a one-value subquery
/// (NULL counts as none) a statement selects beside its own columns: the
/// session lookup carries it with the chat's dot (`web::guard`). It reads the
/// student's unread rows through their partial index; the 90-day cleanup
/// keeps that range small.
macro_rules! unread_count {
    ($viewer:expr, $now:expr) => {{
        use $crate::db::schema::notifications;
        let now: chrono::NaiveDateTime = $now;
        notifications::table
            .filter(notifications::user_id.nullable().eq($viewer))
            .filter(notifications::read_at.is_null())
            .filter(notifications::created_at.le(now))
            .count()
            .single_value()
    }};
}

impl NavMarks {
    /// The marks from the two columns the session lookup selected.
    pub fn new(anything_new: bool, unread: Option<i64>, cap: i64) -> NavMarks {
        NavMarks {
            anything_new,
            unread_notifications: unread.unwrap_or(0).min(cap),
        }
    }
}

/// The session a cookie token names and its user, with the nav's marks
/// (counted up to `cap`) when `cap` is given (pages), in one statement: the
/// marks are two subqueries beside the session's columns, naming the student
/// by the token (`sessions::session_owner!`), so a signed-in page spends one
/// statement before its own reads. Writes nothing (the caller notes a
/// sliding expiry in `sessions::Touches`).
pub fn session_with_marks(
    conn: &mut DbConn,
    token: &str,
    now: NaiveDateTime,
    cap: Option<i64>,
) -> QueryResult<Option<(Session, User, NavMarks)>> {
    use crate::accounts::sessions::{self, live_session};
    let Some(hash) = sessions::lookup_hash(token) else {
        return Ok(None);
    };
    let Some(cap) = cap else {
        return Ok(crate::on_each_backend!(conn, |c| live_session!(hash, now)
            .select((Session::as_select(), User::as_select()))
            .first::<(Session, User)>(c)
            .optional())?
        .map(|(session, user)| (session, user, NavMarks::new(false, None, 0))));
    };
    let viewer = sessions::session_owner!(hash.clone());
    Ok(crate::on_each_backend!(conn, |c| live_session!(hash, now)
        .select((
            Session::as_select(),
            User::as_select(),
            crate::chat::reads::anything_new!(viewer.clone(), now),
            unread_count!(viewer, now),
        ))
        .first::<(Session, User, bool, Option<i64>)>(c)
        .optional())?
    .map(|(session, user, new, count)| (session, user, NavMarks::new(new, count, cap))))
}

/// The nav's marks on their own, in one statement (pages get them with the
/// session lookup instead).
pub fn nav_marks(
    conn: &mut DbConn,
    user: &UserId,
    now: NaiveDateTime,
    cap: i64,
) -> QueryResult<NavMarks> {
    let (anything_new, count): (bool, Option<i64>) = diesel::select((
        crate::chat::reads::anything_new!(user.clone(), now),
        unread_count!(user.clone(), now),
    ))
    .get_result(conn)?;
    Ok(NavMarks::new(anything_new, count, cap))
}

/// Removes notifications created before `before`, and digest claims made
/// before it (the cleanup job). Returns (notifications, digest claims).
pub fn prune(tx: &mut Tx, before: NaiveDateTime) -> QueryResult<(usize, usize)> {
    let conn: &mut DbConn = tx;
    let notices = diesel::delete(notifications::table.filter(notifications::created_at.lt(before)))
        .execute(conn)?;
    let digests = diesel::delete(
        notification_digests::table.filter(notification_digests::created_at.lt(before)),
    )
    .execute(conn)?;
    Ok((notices, digests))
}

pub mod personal_data {
    //! A student's notification data for the export (their notifications,
    //! follows, mutes, email choices and digest hour, naming no one they could
    //! not already see) and its removal when the account is erased, including
    //! other students' notifications that name them.

    use chrono::NaiveDateTime;
    use diesel::prelude::*;
    use serde::Serialize;

    use super::super::{Kind, Topic};
    use crate::accounts::UserId;
    use crate::db::schema::{
        class_messages, class_mutes, classes, notification_digests, notification_schedules,
        notification_settings, notifications, thread_follows, users,
    };
    use crate::db::{DbConn, Tx};

    /// One notification, as the student saw it.
    #[derive(Debug, Serialize)]
    pub struct NotificationEntry {
        pub kind: String,
        pub created_at: NaiveDateTime,
        pub read: bool,
        pub read_at: Option<NaiveDateTime>,
        /// "CS 2100", when it is about a class.
        pub class: Option<String>,
        /// The pseudonym of the message it is about (never who wrote it).
        pub pseudonym: Option<String>,
        /// The moderator's reason, when one was given.
        pub detail: Option<String>,
        /// For friend requests and acceptances: the other student's computing ID.
        pub computing_id: Option<String>,
    }

    /// A thread followed, or explicitly unfollowed.
    #[derive(Debug, Serialize)]
    pub struct FollowEntry {
        pub thread_id: String,
        pub class: String,
        pub following: bool,
        pub updated_at: NaiveDateTime,
    }

    /// A class muted.
    #[derive(Debug, Serialize)]
    pub struct MuteEntry {
        pub class: String,
        pub since: NaiveDateTime,
    }

    /// An email choice for a topic (topics without one use the default).
    #[derive(Debug, Serialize)]
    pub struct SettingEntry {
        pub topic: String,
        pub delivery: String,
        pub updated_at: NaiveDateTime,
    }

    /// A daily digest that was claimed for them.
    #[derive(Debug, Serialize)]
    pub struct DigestEntry {
        pub campus_date: String,
        pub items: i32,
        pub created_at: NaiveDateTime,
    }

    /// Everything about a student in the notification tables.
    #[derive(Debug, Serialize)]
    pub struct NotificationData {
        pub notifications: Vec<NotificationEntry>,
        pub followed_threads: Vec<FollowEntry>,
        pub muted_classes: Vec<MuteEntry>,
        pub email_settings: Vec<SettingEntry>,
        /// The campus-time hour of the daily digest, when chosen (else the default).
        pub digest_hour: Option<i32>,
        pub digests: Vec<DigestEntry>,
    }

    type NoticeRow = (
        (String, NaiveDateTime, Option<NaiveDateTime>, Option<String>),
        Option<(String, String)>,
        Option<(String, bool)>,
        Option<String>,
    );

    /// The student's notification data, oldest first.
    pub fn export_user(conn: &mut DbConn, me: &UserId) -> QueryResult<NotificationData> {
        let rows: Vec<NoticeRow> = notifications::table
            .left_join(classes::table.on(classes::id.nullable().eq(notifications::class_id)))
            .left_join(
                class_messages::table
                    .on(class_messages::id.nullable().eq(notifications::message_id)),
            )
            .left_join(users::table.on(users::id.nullable().eq(notifications::other_user_id)))
            .filter(notifications::user_id.eq(me))
            .order((notifications::created_at.asc(), notifications::id.asc()))
            .select((
                (
                    notifications::kind,
                    notifications::created_at,
                    notifications::read_at,
                    notifications::detail,
                ),
                (classes::subject, classes::catalog_number).nullable(),
                (
                    class_messages::anonymous_identifier,
                    class_messages::deleted,
                )
                    .nullable(),
                users::computing_id.nullable(),
            ))
            .load(conn)?;
        let notices = rows
            .into_iter()
            .map(
                |((kind, created_at, read_at, detail), class, pseudonym, other)| {
                    // Only friend kinds name the other student; nothing else may.
                    let friend = kind
                        .parse::<Kind>()
                        .is_ok_and(|k| k.topic() == Topic::Friends);
                    NotificationEntry {
                        kind,
                        created_at,
                        read: read_at.is_some(),
                        read_at,
                        class: class.map(|(s, n)| crate::classes::code(&s, &n)),
                        // A deleted message's pseudonym goes with it, as on the page.
                        pseudonym: pseudonym
                            .filter(|(_, deleted)| !deleted)
                            .map(|(name, _)| name),
                        detail,
                        computing_id: other.filter(|_| friend),
                    }
                },
            )
            .collect();
        let followed_threads = thread_follows::table
            .inner_join(classes::table.on(classes::id.eq(thread_follows::class_id)))
            .filter(thread_follows::user_id.eq(me))
            .order((
                thread_follows::updated_at.asc(),
                thread_follows::thread_id.asc(),
            ))
            .select((
                thread_follows::thread_id,
                classes::subject,
                classes::catalog_number,
                thread_follows::following,
                thread_follows::updated_at,
            ))
            .load::<(String, String, String, bool, NaiveDateTime)>(conn)?
            .into_iter()
            .map(
                |(thread_id, subject, number, following, updated_at)| FollowEntry {
                    thread_id,
                    class: crate::classes::code(&subject, &number),
                    following,
                    updated_at,
                },
            )
            .collect();
        let muted_classes = class_mutes::table
            .inner_join(classes::table.on(classes::id.eq(class_mutes::class_id)))
            .filter(class_mutes::user_id.eq(me))
            .order(class_mutes::created_at.asc())
            .select((
                classes::subject,
                classes::catalog_number,
                class_mutes::created_at,
            ))
            .load::<(String, String, NaiveDateTime)>(conn)?
            .into_iter()
            .map(|(subject, number, since)| MuteEntry {
                class: crate::classes::code(&subject, &number),
                since,
            })
            .collect();
        let email_settings = notification_settings::table
            .filter(notification_settings::user_id.eq(me))
            .order(notification_settings::topic.asc())
            .select((
                notification_settings::topic,
                notification_settings::delivery,
                notification_settings::updated_at,
            ))
            .load::<(String, String, NaiveDateTime)>(conn)?
            .into_iter()
            .map(|(topic, delivery, updated_at)| SettingEntry {
                topic,
                delivery,
                updated_at,
            })
            .collect();
        let digest_hour = notification_schedules::table
            .find(me)
            .select(notification_schedules::digest_hour)
            .first::<i32>(conn)
            .optional()?;
        let digests = notification_digests::table
            .filter(notification_digests::user_id.eq(me))
            .order(notification_digests::created_at.asc())
            .select((
                notification_digests::campus_date,
                notification_digests::items,
                notification_digests::created_at,
            ))
            .load::<(String, i32, NaiveDateTime)>(conn)?
            .into_iter()
            .map(|(campus_date, items, created_at)| DigestEntry {
                campus_date,
                items,
                created_at,
            })
            .collect();
        Ok(NotificationData {
            notifications: notices,
            followed_threads,
            muted_classes,
            email_settings,
            digest_hour,
            digests,
        })
    }

    /// Removes the student's notification rows, and other students'
    /// notifications that name them (a friend request from them). Returns how
    /// many notifications went.
    pub fn erase_user(tx: &mut Tx, me: &UserId) -> QueryResult<usize> {
        let conn: &mut DbConn = tx;
        let notices = diesel::delete(
            notifications::table.filter(
                notifications::user_id
                    .eq(me)
                    .or(notifications::other_user_id.eq(me)),
            ),
        )
        .execute(conn)?;
        diesel::delete(notification_digests::table.filter(notification_digests::user_id.eq(me)))
            .execute(conn)?;
        diesel::delete(thread_follows::table.filter(thread_follows::user_id.eq(me)))
            .execute(conn)?;
        diesel::delete(class_mutes::table.filter(class_mutes::user_id.eq(me))).execute(conn)?;
        diesel::delete(notification_settings::table.filter(notification_settings::user_id.eq(me)))
            .execute(conn)?;
        diesel::delete(
            notification_schedules::table.filter(notification_schedules::user_id.eq(me)),
        )
        .execute(conn)?;
        Ok(notices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_what_it_wrote_and_nothing_else() {
        let at = DateTime::from_timestamp_micros(1_780_000_000_123_456)
            .unwrap()
            .naive_utc();
        let cursor = Cursor {
            created_at: at,
            id: NotificationId::new(),
        };
        assert_eq!(Cursor::parse(&cursor.encode()), Some(cursor.clone()));
        let id = cursor.id.to_string();
        for broken in [
            "".to_string(),
            "x".to_string(),
            format!("_{id}"),
            format!("12_{}", &id[..10]),
            format!("abc_{id}"),
            format!("{}_{id}", "9".repeat(21)),
            "1_2_3".to_string(),
        ] {
            assert_eq!(Cursor::parse(&broken), None, "{broken}");
        }
    }
}
