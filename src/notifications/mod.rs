//! What happened for whom: a notification row per event per student, written
//! by `notify` in the transaction of whatever happened (a reply, a friend
//! request, a moderator's decision), so a notification exists exactly when its
//! event committed. The writers of those events (chat, friends, moderation)
//! call in here; this module owns every table it touches (`notifications`,
//! `thread_follows`, `class_mutes`, `notification_settings`,
//! `notification_schedules`, `notification_digests`) and reads the rest.
//!
//! A chat notification names the class and the message's pseudonym, exactly as
//! the page does; it stores message and thread ids, never who wrote them.
//!
//! Email leaves through `mail`'s outbox: immediate emails and daily digests are
//! claimed in the database (`emailed_at`, and one `notification_digests` row per
//! student and campus date) in the transaction that queues them, so a crash or
//! a second app process neither drops nor doubles one.
//!
//! Adding a kind is one `Kind` value (with its topic) and one headline template
//! in `templates/notifications/kinds/`.

pub mod account;
pub mod chat;
pub mod email;
pub mod friends;
pub mod inbox;
pub mod settings;
pub mod view;

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::accounts::UserId;
use crate::chat::MessageId;
use crate::classes::ClassId;
use crate::db::schema::{class_mutes, notification_settings, notifications};
use crate::db::{DbConn, Tx};

crate::define_id!(NotificationId);

crate::text_enum!(
    /// How a student hears of a topic by email.
    Delivery {
        Off => "off",
        Immediate => "immediate",
        Digest => "digest",
    }
);

impl Delivery {
    /// In plain words, for the settings page.
    pub fn label(self) -> &'static str {
        match self {
            Delivery::Off => "No email",
            Delivery::Immediate => "Email me right away",
            Delivery::Digest => "Once a day, in a digest",
        }
    }
}

crate::text_enum!(
    /// What a student chooses email for; each kind belongs to one topic, and the
    /// one-click unsubscribe link of an email turns its topic off.
    Topic {
        Replies => "replies",
        Answers => "answers",
        Friends => "friends",
        Moderation => "moderation",
    }
);

impl Topic {
    /// The default when the student has not chosen (written down in the README).
    pub fn default_delivery(self) -> Delivery {
        match self {
            Topic::Replies => Delivery::Digest,
            Topic::Answers => Delivery::Digest,
            Topic::Friends => Delivery::Immediate,
            Topic::Moderation => Delivery::Immediate,
        }
    }

    /// How a student hears of it, from their stored choice (None, or a value
    /// this build does not know: the default).
    pub fn delivery_from(self, stored: Option<&str>) -> Delivery {
        stored
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| self.default_delivery())
    }

    /// The settings page's words for it.
    pub fn label(self) -> &'static str {
        match self {
            Topic::Replies => "Replies to you and in threads you follow",
            Topic::Answers => "Your question answered, or your reply chosen as the answer",
            Topic::Friends => "Friend requests and accepted requests",
            Topic::Moderation => "Moderators' decisions about your posts and account",
        }
    }
}

/// The most characters a notice's detail keeps: a staff reason of up to 500
/// and the words around it ("Until …. Reason: …", "You can choose a new one
/// from …. Reason: …"), so the reason a student reads is never cut.
pub const DETAIL_MAX: usize = 600;

crate::text_enum!(
    /// What happened.
    Kind {
        Reply => "reply",
        ThreadReply => "thread_reply",
        Answered => "answered",
        AnswerChosen => "answer_chosen",
        FriendRequest => "friend_request",
        FriendAccepted => "friend_accepted",
        MessageHidden => "message_hidden",
        MessageRestored => "message_restored",
        MessageRemoved => "message_removed",
        MessageReleased => "message_released",
        Suspended => "suspended",
        SuspensionEnded => "suspension_ended",
        DisplayNameRemoved => "display_name_removed",
        NameWaitEnded => "name_wait_ended",
    }
);

impl Kind {
    pub fn topic(self) -> Topic {
        match self {
            Kind::Reply | Kind::ThreadReply => Topic::Replies,
            Kind::Answered | Kind::AnswerChosen => Topic::Answers,
            Kind::FriendRequest | Kind::FriendAccepted => Topic::Friends,
            Kind::MessageHidden
            | Kind::MessageRestored
            | Kind::MessageRemoved
            | Kind::MessageReleased
            | Kind::Suspended
            | Kind::SuspensionEnded
            | Kind::DisplayNameRemoved
            | Kind::NameWaitEnded => Topic::Moderation,
        }
    }

    /// Whether its detail is a moderator's words alone, shown as "Reason: …";
    /// an account notice's detail is a whole sentence of its own ("Until ….
    /// Reason: …").
    pub fn detail_is_reason(self) -> bool {
        matches!(
            self,
            Kind::MessageHidden | Kind::MessageRestored | Kind::MessageRemoved
        )
    }

    /// Whether muting the class silences it: the class's chat activity does;
    /// a moderator's decision about the student's own post still reaches them.
    pub fn follows_mute(self) -> bool {
        matches!(self.topic(), Topic::Replies | Topic::Answers)
    }

    /// The kinds of a topic (a settings change rewrites their waiting rows).
    pub fn of_topic(topic: Topic) -> Vec<Kind> {
        Kind::ALL
            .iter()
            .copied()
            .filter(|k| k.topic() == topic)
            .collect()
    }
}

/// One thing that happened for one student. Chat kinds set `class_id`,
/// `thread_id` and `message_id`; friend kinds `other_user_id`; moderation kinds
/// may carry the moderator's reason in `detail`.
#[derive(Debug, Clone)]
pub struct Notice<'a> {
    pub user_id: &'a UserId,
    pub kind: Kind,
    pub class_id: Option<&'a ClassId>,
    pub thread_id: Option<&'a MessageId>,
    pub message_id: Option<&'a MessageId>,
    pub other_user_id: Option<&'a UserId>,
    pub detail: Option<&'a str>,
    /// When it shows; later than now for a suspension's end.
    pub at: NaiveDateTime,
    /// In the inbox only, never emailed, whatever the student chose.
    pub quiet: bool,
}

impl<'a> Notice<'a> {
    pub fn new(user_id: &'a UserId, kind: Kind, at: NaiveDateTime) -> Notice<'a> {
        Notice {
            user_id,
            kind,
            class_id: None,
            thread_id: None,
            message_id: None,
            other_user_id: None,
            detail: None,
            at,
            quiet: false,
        }
    }

    /// In the inbox only: no email, whatever the student chose.
    pub fn quietly(mut self) -> Notice<'a> {
        self.quiet = true;
        self
    }

    /// About a message in a class chat.
    pub fn about_message(
        mut self,
        class_id: &'a ClassId,
        thread_id: &'a MessageId,
        message_id: &'a MessageId,
    ) -> Notice<'a> {
        self.class_id = Some(class_id);
        self.thread_id = Some(thread_id);
        self.message_id = Some(message_id);
        self
    }

    /// About another student, by name (friend kinds only).
    pub fn from_user(mut self, other: &'a UserId) -> Notice<'a> {
        self.other_user_id = Some(other);
        self
    }

    pub fn with_detail(mut self, detail: Option<&'a str>) -> Notice<'a> {
        self.detail = detail.map(str::trim).filter(|d| !d.is_empty());
        self
    }
}

#[derive(Insertable)]
#[diesel(table_name = notifications)]
#[diesel(treat_none_as_default_value = false)]
struct NewNotification<'a> {
    id: &'a NotificationId,
    user_id: &'a UserId,
    kind: &'static str,
    class_id: Option<&'a ClassId>,
    thread_id: Option<&'a MessageId>,
    message_id: Option<&'a MessageId>,
    other_user_id: Option<&'a UserId>,
    detail: Option<&'a str>,
    delivery: &'static str,
    created_at: NaiveDateTime,
}

/// The PostgreSQL channel a student's new notifications are announced on
/// (payload: the student's id only), so every app process's per-student
/// streams can update the nav count.
pub const CHANNEL: &str = "cg_notify";

/// Rows per INSERT statement (a thread with more followers takes several).
const INSERT_CHUNK: usize = 1000;

/// Writes one notification in the caller's transaction, unless its class is
/// muted by the student. Its email delivery is fixed from the student's
/// settings now. Returns whether a row was written.
pub fn notify(tx: &mut Tx, notice: &Notice) -> QueryResult<bool> {
    Ok(notify_many(tx, std::slice::from_ref(notice))? == 1)
}

/// Writes several notifications in the caller's transaction (a reply that
/// notifies every follower of its thread): the students' mutes and settings are
/// read in one statement each and the rows written in one, whatever their
/// number. A class's chat activity is dropped for a student who muted it
/// (`Kind::follows_mute`). On PostgreSQL the
/// same transaction announces each student on `CHANNEL`. Returns how many rows
/// were written.
pub fn notify_many(tx: &mut Tx, notices: &[Notice]) -> QueryResult<usize> {
    if notices.is_empty() {
        return Ok(0);
    }
    let conn: &mut DbConn = tx;
    let users: Vec<&UserId> = notices.iter().map(|n| n.user_id).collect();
    let muted: HashSet<(UserId, ClassId)> = class_mutes::table
        .filter(class_mutes::user_id.eq_any(&users))
        .select((class_mutes::user_id, class_mutes::class_id))
        .load::<(UserId, ClassId)>(conn)?
        .into_iter()
        .collect();
    let chosen: HashMap<(UserId, String), String> = notification_settings::table
        .filter(notification_settings::user_id.eq_any(&users))
        .select((
            notification_settings::user_id,
            notification_settings::topic,
            notification_settings::delivery,
        ))
        .load::<(UserId, String, String)>(conn)?
        .into_iter()
        .map(|(user, topic, delivery)| ((user, topic), delivery))
        .collect();
    let ids: Vec<NotificationId> = notices.iter().map(|_| NotificationId::new()).collect();
    let details: Vec<Option<String>> = notices
        .iter()
        .map(|n| {
            n.detail.map(|d| {
                d.chars()
                    .filter(|c| !c.is_control())
                    .take(DETAIL_MAX)
                    .collect()
            })
        })
        .collect();
    let mut rows = Vec::with_capacity(notices.len());
    let mut announce: Vec<&UserId> = Vec::new();
    for ((notice, id), detail) in notices.iter().zip(&ids).zip(&details) {
        if let Some(class) = notice.class_id.filter(|_| notice.kind.follows_mute()) {
            if muted.contains(&(notice.user_id.clone(), class.clone())) {
                continue;
            }
        }
        let topic = notice.kind.topic();
        let delivery = if notice.quiet {
            Delivery::Off
        } else {
            topic.delivery_from(
                chosen
                    .get(&(notice.user_id.clone(), topic.as_str().to_string()))
                    .map(String::as_str),
            )
        };
        rows.push(NewNotification {
            id,
            user_id: notice.user_id,
            kind: notice.kind.as_str(),
            class_id: notice.class_id,
            thread_id: notice.thread_id,
            message_id: notice.message_id,
            other_user_id: notice.other_user_id,
            detail: detail.as_deref(),
            delivery: delivery.as_str(),
            created_at: notice.at,
        });
        if !announce.contains(&notice.user_id) {
            announce.push(notice.user_id);
        }
    }
    if rows.is_empty() {
        return Ok(0);
    }
    // A multi-row INSERT is spelled per backend (Diesel's MultiConnection
    // does not build batch inserts); NULLs are written as NULL, not DEFAULT,
    // so SQLite too gets one statement. Chunks keep a huge class's reply under
    // SQLite's limit of bound values (10 a row).
    let mut written = 0;
    for chunk in rows.chunks(INSERT_CHUNK) {
        written += crate::on_each_backend!(conn, |c| diesel::insert_into(notifications::table)
            .values(chunk)
            .execute(c))?;
    }
    if let DbConn::Postgresql(pg) = conn {
        let users: Vec<&str> = announce.iter().map(|u| u.as_str()).collect();
        diesel::sql_query("SELECT pg_notify($1, u) FROM unnest($2::text[]) AS u")
            .bind::<diesel::sql_types::Text, _>(CHANNEL)
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(users)
            .execute(pg)?;
    }
    Ok(written)
}

/// How many of the student's notifications are unread and showing at `now`,
/// counted up to `cap` (the nav shows "99+" beyond). One statement.
pub fn unread_count(
    conn: &mut DbConn,
    user: &UserId,
    now: NaiveDateTime,
    cap: i64,
) -> QueryResult<i64> {
    let ids: Vec<NotificationId> = notifications::table
        .filter(notifications::user_id.eq(user))
        .filter(notifications::read_at.is_null())
        .filter(notifications::created_at.le(now))
        .select(notifications::id)
        .limit(cap)
        .load(conn)?;
    Ok(ids.len() as i64)
}

/// Whether `$user` muted `$class` (owned ids), as an expression a page's
/// statement selects beside its own columns (the class page's head).
macro_rules! muted {
    ($user:expr, $class:expr) => {{
        use $crate::db::schema::class_mutes;
        diesel::dsl::exists(
            class_mutes::table
                .filter(class_mutes::user_id.eq($user))
                .filter(class_mutes::class_id.eq($class)),
        )
    }};
}
pub(crate) use muted;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_page_reads_its_chat_notices_not_moderators_decisions() {
        assert_eq!(
            chat::shown_by_the_thread(),
            ["reply", "thread_reply", "answered", "answer_chosen"]
        );
    }

    #[test]
    fn every_kind_has_a_topic_and_every_topic_a_kind() {
        for topic in Topic::ALL {
            assert!(!Kind::of_topic(*topic).is_empty(), "{topic} has no kind");
        }
        assert_eq!(
            Kind::ALL.len(),
            Topic::ALL
                .iter()
                .map(|t| Kind::of_topic(*t).len())
                .sum::<usize>()
        );
    }

    #[test]
    fn replies_default_to_a_digest_and_decisions_to_right_away() {
        assert_eq!(Topic::Replies.default_delivery(), Delivery::Digest);
        assert_eq!(Topic::Friends.default_delivery(), Delivery::Immediate);
        assert_eq!(Topic::Moderation.default_delivery(), Delivery::Immediate);
    }
}
