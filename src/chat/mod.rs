//! Per-class anonymous chat: messages, threads, pseudonyms, flags and search. Authors are
//! stored for moderation only; nothing here hands them to student-facing code:
//! the views in `threads` carry a pseudonym and a "mine" mark, never a user id.
//! No actix or HTML here.

pub mod anonymity;
pub mod answers;
pub mod content;
pub mod events;
pub mod flags;
pub mod import;
pub mod live;
pub mod naming;
pub mod personal_data;
pub mod pins;
pub mod post;
pub mod pseudonym;
pub mod reads;
pub mod revisions;
pub mod search;
pub mod staff;
pub mod threads;
pub mod votes;

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::accounts::UserId;
use crate::classes::{self, ClassId};
use crate::db::schema::{class_messages, message_flags};
use crate::db::{DbConn, Tx};

pub use content::{ContentError, FlagReason, MessageBody, Segment};
pub use events::{ChatEvent, EventKind};
pub use flags::{flag, flag_and_record, FlagOutcome, Report};
pub use post::{delete, edit, edit_confirming, post, post_confirming, Deletion, Draft};
pub use revisions::{MessageRevision, RevisionEnd};
pub use threads::{
    class_page, thread_page, Body, ClassPage, Cursor, MessageView, Thread, ThreadList, ThreadPage,
    ThreadSummary,
};

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
    /// The first message of the thread; None on that first message itself.
    pub thread_root_id: Option<MessageId>,
    /// On a thread's first message: its newest message's time (a reply bumps it).
    pub last_activity_at: NaiveDateTime,
    /// Upvotes it has (kept by `votes`, never shown per student).
    pub vote_count: i32,
    /// On a thread's first message: the reply marked as its answer.
    pub answer_id: Option<MessageId>,
    /// On a thread's first message: when a moderator pinned it.
    pub pinned_at: Option<NaiveDateTime>,
    /// Names a person: only its author and moderators see it until a moderator
    /// releases it (`naming`, `staff::release`).
    pub held: bool,
    /// Why it was held, in the words its author was warned with.
    pub held_reason: Option<String>,
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
    pub thread_root_id: Option<&'a MessageId>,
    pub flagged_count: i32,
    pub hidden: bool,
    pub deleted: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_activity_at: NaiveDateTime,
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

/// The chat's limits and its pseudonym key, from configuration (tests shrink them).
#[derive(Debug, Clone)]
pub struct Rules {
    /// `SECRET_KEY`: pseudonyms are HMACs under it.
    pub secret: Vec<u8>,
    /// Below this many recent posters (`ANONYMITY_MIN_POSTERS`), the compose box
    /// warns that classmates may guess who is writing.
    pub anonymity_min_posters: u32,
    /// Each class's count of recent posters, reused while the class is quiet
    /// (the app's own; `Rules::new` starts an empty one).
    pub poster_counts: std::sync::Arc<anonymity::PosterCounts>,
    /// At most one post per this interval, per student per class.
    pub post_interval: Duration,
    /// At most this many posts per hour, per student per class.
    pub posts_per_hour: u32,
    /// At most this many posts per hour, per student across all classes (`POSTS_PER_HOUR`).
    pub posts_per_hour_anywhere: u32,
    /// The same text again within this window is refused.
    pub duplicate_window: Duration,
    /// How long after posting an author may still edit.
    pub edit_window: Duration,
    /// Drafts are checked for people they name (`naming`); off only to measure
    /// what the check costs.
    pub check_naming: bool,
    /// Classmates' display names a student's drafts may be found to name in
    /// an hour, warned or held (every class together); past them every draft
    /// of theirs waits. Each answer says whether someone of that name takes
    /// the class, so unlimited answers would map a class's roster name by name.
    pub naming_warnings_per_hour: u32,
    /// At most this many reports per student per day.
    pub flags_per_day: u32,
    /// Distinct reporters that hide a message.
    pub flag_hide_threshold: u32,
    /// A report counts toward hiding only from a student who joined the class at
    /// least this long before reporting (newer members' reports still reach moderators).
    pub report_min_membership: Duration,
}

impl Rules {
    /// The rules the service runs with: one post per 5 s and 30 an hour in a
    /// class, 60 an hour across all classes, no repeat within 5 minutes, edits
    /// for 15 minutes, 20 reports a day, and reports that count toward hiding
    /// from members of a day or more.
    pub fn new(secret: &[u8], flag_hide_threshold: u32) -> Rules {
        Rules {
            secret: secret.to_vec(),
            anonymity_min_posters: anonymity::DEFAULT_MIN_POSTERS,
            poster_counts: std::sync::Arc::default(),
            post_interval: Duration::seconds(5),
            posts_per_hour: 30,
            posts_per_hour_anywhere: 60,
            duplicate_window: Duration::minutes(5),
            edit_window: Duration::minutes(15),
            check_naming: true,
            naming_warnings_per_hour: 10,
            flags_per_day: 20,
            flag_hide_threshold: flag_hide_threshold.max(1),
            report_min_membership: Duration::hours(24),
        }
    }
}

/// Why a chat action was refused, named by the rule that failed.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("no such class")]
    ClassNotFound,
    /// Unknown, or in a class the student does not take: both look the same.
    #[error("no such message")]
    MessageNotFound,
    #[error("not enrolled in this class")]
    NotEnrolled { class_id: ClassId },
    #[error(transparent)]
    Content(#[from] ContentError),
    #[error("the message replied to is not in this class")]
    ParentNotInClass,
    #[error("the message replied to was removed")]
    ParentRemoved,
    /// The thread has `MAX_REPLIES` replies already.
    #[error("the thread is full")]
    ThreadFull,
    /// The draft names a person and its author has not yet confirmed posting it
    /// to be held; what matched, never whom. Not `holdable`: an edit of a
    /// message the class has read, which confirming cannot hold.
    #[error("the draft {findings}")]
    NamesSomeone {
        findings: naming::Findings,
        holdable: bool,
    },
    /// The author's own message is held for review: it takes no replies, votes
    /// or answer marks until released.
    #[error("the message is held for review")]
    Held,
    #[error("suspended until {until}")]
    Suspended { until: NaiveDateTime },
    #[error("the same text was posted moments ago")]
    Duplicate { retry_at: NaiveDateTime },
    #[error("posting too fast")]
    TooFast { retry_at: NaiveDateTime },
    #[error("hourly posting limit reached")]
    HourlyLimit { retry_at: NaiveDateTime },
    /// Edits go live to every open page of the class, so they are paced like
    /// posts: one per `post_interval`, `posts_per_hour` an hour, per student.
    #[error("editing too fast")]
    EditTooFast { retry_at: NaiveDateTime },
    #[error("hourly editing limit reached")]
    EditHourlyLimit { retry_at: NaiveDateTime },
    /// The student was warned `naming_warnings_per_hour` times in the last
    /// hour that a draft named someone: every draft waits until one ages out.
    #[error("too many drafts naming people")]
    NamingWarnings { retry_at: NaiveDateTime },
    /// The per-student limit across all classes, so one account cannot spray the campus.
    #[error("hourly posting limit across all classes reached")]
    HourlyLimitAnywhere { retry_at: NaiveDateTime },
    #[error("not the student's own message")]
    NotYours,
    #[error("the edit window has closed")]
    EditWindowClosed,
    #[error("the message was deleted or hidden")]
    Removed,
    #[error("students cannot report their own messages")]
    OwnMessage,
    #[error("daily report limit reached")]
    FlagLimit { retry_at: NaiveDateTime },
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
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

/// Serializes writers to one class's chat for the rest of the transaction: on
/// PostgreSQL an advisory lock, on SQLite the immediate transaction already does.
fn lock_class(conn: &mut DbConn, class_id: &ClassId) -> QueryResult<()> {
    lock(conn, &format!("chat-class:{class_id}"))
}

fn lock(conn: &mut DbConn, key: &str) -> QueryResult<()> {
    crate::db::lock_key(conn, key)
}

/// A message the student may act on: it exists, they take its class, and it is
/// not someone else's held message. Anything else is `MessageNotFound`, so a
/// stranger learns nothing about the message.
fn visible_message(
    conn: &mut DbConn,
    user_id: &UserId,
    message_id: &MessageId,
) -> Result<ClassMessage, ChatError> {
    let message = find(conn, message_id)?.ok_or(ChatError::MessageNotFound)?;
    if !classes::is_enrolled(conn, user_id, &message.class_id)? {
        return Err(ChatError::MessageNotFound);
    }
    if unseen(conn, user_id, &message)? {
        return Err(ChatError::MessageNotFound);
    }
    Ok(message)
}

/// The message, if the student's page shows it to them (`visible_message`):
/// where the address of an action on it leads back to.
pub fn shown_to(
    conn: &mut DbConn,
    user_id: &UserId,
    message_id: &MessageId,
) -> QueryResult<Option<ClassMessage>> {
    match visible_message(conn, user_id, message_id) {
        Ok(message) => Ok(Some(message)),
        Err(ChatError::Db(error)) => Err(error),
        Err(_) => Ok(None),
    }
}

/// Whether the message is someone else's held or deleted message that no page
/// shows them (nothing they see stands under it: `kept_up`): to them it is
/// not there, as a message deleted for good is not.
/// - A deleted one is a row kept for moderators (it was reported:
///   `revisions::is_evidence`) or under replies the class does not see:
///   answered otherwise ("not yours", "deleted or hidden"), it would tell a
///   classmate it had been kept, so reported.
/// - A held one their page does show, as hidden (above a reply they see),
///   answers as a hidden message does, so nothing tells the class it is held
///   rather than hidden by moderation.
fn unseen(conn: &mut DbConn, user_id: &UserId, message: &ClassMessage) -> QueryResult<bool> {
    Ok((message.held || message.deleted)
        && message.user_id.as_ref() != Some(user_id)
        && !kept_up(conn, user_id, false, message)?)
}

/// Whether this thread's page is there for the student: it is a thread (a
/// first message) of the class, and its page shows it to them (it stands for
/// them, or something they see stands under it: `kept_up`). Actions on a
/// thread as a whole (follow, mark read) answer by it as the page does, so
/// none tells a thread deleted for good from one kept for moderators, or a
/// classmate's held thread from no thread. The caller checks the student
/// takes the class. `staff`: the viewer is a moderator or admin, whose page
/// shows held messages too (`threads::thread_page`).
pub fn thread_shown(
    conn: &mut DbConn,
    viewer: &UserId,
    staff: bool,
    class_id: &ClassId,
    thread_id: &MessageId,
) -> QueryResult<bool> {
    let Some(root) = find(conn, thread_id)? else {
        return Ok(false);
    };
    if &root.class_id != class_id || root.parent_message_id.is_some() {
        return Ok(false);
    }
    let stands =
        !root.deleted && (staff || threads::sees(root.held, root.user_id.as_ref(), viewer));
    Ok(stands || kept_up(conn, viewer, staff, &root)?)
}

/// Removes the placeholders from `parent_id` up that hold up nothing any
/// more: once the last reply under a deleted message goes (deleted, or its
/// author's account erased), so does the deleted message. A placeholder kept
/// as evidence stays, for moderators (the class no longer sees it:
/// `Seen::settle` tells open pages so, and sends the events of those that go).
fn prune_placeholders(tx: &mut Tx, mut parent_id: Option<MessageId>) -> QueryResult<()> {
    while let Some(id) = parent_id {
        let Some(parent) = find(tx, &id)? else {
            break;
        };
        if !parent.deleted || has_replies(tx, &parent.id)? || revisions::is_evidence(tx, &parent)? {
            break;
        }
        diesel::delete(class_messages::table.find(&parent.id)).execute(&mut **tx)?;
        parent_id = parent.parent_message_id;
    }
    Ok(())
}

/// Whether any message replies to this one.
fn has_replies(conn: &mut DbConn, message_id: &MessageId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        class_messages::table.filter(class_messages::parent_message_id.eq(message_id)),
    ))
    .get_result(conn)
}

/// Whether the viewer's thread page would still show this message were it
/// deleted: something they see stands under it (`threads::shown_replies`, the
/// page's own rule; for a thread's first message, any reply that shows). One
/// read of the thread's shape (a few columns of each reply: `MAX_REPLIES`
/// standing ones at most, and the held and deleted ones), only for a deleted
/// or held message, a classmate's held thread or a delete.
/// `staff`: the viewer is a moderator or admin, who sees held messages.
fn kept_up(
    conn: &mut DbConn,
    viewer: &UserId,
    staff: bool,
    message: &ClassMessage,
) -> QueryResult<bool> {
    let root = message.thread_root_id.as_ref().unwrap_or(&message.id);
    let shown = replies_shown(conn, root, |r| {
        r.stands(Some(viewer), staff) && r.id != message.id
    })?;
    Ok(match message.parent_message_id {
        None => !shown.is_empty(),
        Some(_) => shown.contains(&message.id),
    })
}

/// Which replies of the thread its page shows, given which of them stand
/// (`threads::shown_replies`): one read of the thread's shape.
fn replies_shown(
    conn: &mut DbConn,
    root: &MessageId,
    stands: impl Fn(&threads::Place) -> bool,
) -> QueryResult<HashSet<MessageId>> {
    let replies = threads::Place::of_threads(conn, &[root])?;
    Ok(threads::shown_replies(
        replies
            .iter()
            .map(|r| (&r.id, r.parent_message_id.as_ref(), stands(r))),
    ))
}

/// What of a thread the class sees, as its page shows it to a student with
/// nothing held there (`threads::shown_replies`): its class, and the ids of
/// the messages shown, its first message's among them; None once the thread
/// is gone.
fn shown_to_class(
    conn: &mut DbConn,
    root: &MessageId,
) -> QueryResult<Option<(ClassId, HashSet<MessageId>)>> {
    let Some(first) = find(conn, root)? else {
        return Ok(None);
    };
    let mut shown = replies_shown(conn, root, |r| r.stands(None, false))?;
    if !shown.is_empty() || (!first.deleted && !first.held) {
        shown.insert(first.id);
    }
    Ok(Some((first.class_id, shown)))
}

/// What the class saw of some threads before a delete or an erasure
/// (`shown_to_class`, by thread, with its class), for
/// `Seen::settle` to compare after it.
pub(crate) struct Seen(HashMap<MessageId, (ClassId, HashSet<MessageId>)>);

impl Seen {
    /// What the class sees of these threads (their first messages' ids) now.
    pub(crate) fn of<'a>(
        tx: &mut Tx,
        roots: impl IntoIterator<Item = &'a MessageId>,
    ) -> QueryResult<Seen> {
        let mut seen = HashMap::new();
        for root in roots {
            if seen.contains_key(root) {
                continue;
            }
            if let Some(shown) = shown_to_class(tx, root)? {
                seen.insert(root.clone(), shown);
            }
        }
        Ok(Seen(seen))
    }

    /// After the change: what left every page must look as a message gone
    /// for good does. Open pages hear of each (but of the messages in
    /// `told`, whose events the change sent itself; a held message's
    /// `Delete` sends none, so it is not told): a row gone or kept, a
    /// placeholder above it that no longer shows, alike, and nothing of
    /// what the class never saw. A deleted row that stays (kept for
    /// moderators, or above replies no one sees) loses what would have gone
    /// with it (`left_every_page`).
    pub(crate) fn settle(
        self,
        tx: &mut Tx,
        told: &HashSet<&MessageId>,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        for (root, (class_id, before)) in self.0 {
            // A thread gone for good shows nothing.
            let after = shown_to_class(tx, &root)?
                .map(|(_, shown)| shown)
                .unwrap_or_default();
            for id in before.difference(&after) {
                let left = find(tx, id)?;
                if !told.contains(id) {
                    match &left {
                        // A held one showed as hidden, above what stood on
                        // it: its `Hide` is the one event a held row sends.
                        Some(left) if left.held => events::record(tx, left, EventKind::Hide, now)?,
                        Some(left) => events::record(tx, left, EventKind::Delete, now)?,
                        None => events::record_gone(tx, &class_id, &root, id, now)?,
                    };
                }
                if let Some(left) = left.filter(|m| m.deleted) {
                    left_every_page(tx, &left)?;
                }
            }
        }
        Ok(())
    }
}

/// What a `Delete` event of `message` told open pages of, for
/// `Seen::settle`: the message, unless it is held (a held message's
/// `Delete` sends nothing; settle tells its `Hide` if the class saw it).
pub(crate) fn told_by_delete(message: &ClassMessage) -> HashSet<&MessageId> {
    if message.held {
        HashSet::new()
    } else {
        HashSet::from([&message.id])
    }
}

/// The student's own deleted messages their pages still show, as "[deleted]"
/// above a reply they see (`threads::shown_replies`): what their export
/// lists of them. One read of their deleted messages, one of the shape of
/// the threads those are in.
pub(crate) fn own_placeholders_shown(
    conn: &mut DbConn,
    me: &UserId,
) -> QueryResult<HashSet<MessageId>> {
    let deleted: Vec<(MessageId, Option<MessageId>)> = class_messages::table
        .filter(class_messages::user_id.eq(me))
        .filter(class_messages::deleted.eq(true))
        .select((class_messages::id, class_messages::thread_root_id))
        .load(conn)?;
    let roots: HashSet<&MessageId> = deleted
        .iter()
        .map(|(id, root)| root.as_ref().unwrap_or(id))
        .collect();
    let roots: Vec<&MessageId> = roots.into_iter().collect();
    let mut threads: HashMap<MessageId, Vec<threads::Place>> = HashMap::new();
    for place in threads::Place::of_threads(conn, &roots)? {
        if let Some(root) = place.thread_root_id.clone() {
            threads.entry(root).or_default().push(place);
        }
    }
    let shown: HashMap<&MessageId, HashSet<MessageId>> = threads
        .iter()
        .map(|(root, replies)| {
            let shown = threads::shown_replies(replies.iter().map(|r| {
                (
                    &r.id,
                    r.parent_message_id.as_ref(),
                    r.stands(Some(me), false),
                )
            }));
            (root, shown)
        })
        .collect();
    Ok(deleted
        .iter()
        .filter(|(id, root)| match root {
            None => shown.get(id).is_some_and(|s| !s.is_empty()),
            Some(root) => shown.get(root).is_some_and(|s| s.contains(id)),
        })
        .map(|(id, _)| id.clone())
        .collect())
}

/// A deleted message that left every page while its row stays (kept for
/// moderators, or above replies no one sees): what would have gone with the
/// row goes, so that nothing a classmate holds tells it was kept, so
/// reported. The chat notices about it, and for a thread's first message the
/// thread's follows and read marks (all would cascade with a row). Its votes
/// and answer mark went as it was deleted (`tombstone`).
fn left_every_page(tx: &mut Tx, message: &ClassMessage) -> QueryResult<()> {
    let thread = message.parent_message_id.is_none();
    crate::notifications::chat::message_unseen(tx, &message.id, thread)?;
    if thread {
        reads::forget_thread(tx, &message.id)?;
    }
    Ok(())
}

/// Makes a message a "[deleted]" placeholder: marked deleted, its text erased
/// from the row students' pages read, no thread's answer. Its replies keep their place. Its votes
/// go, as they would with the row: a vote left on a placeholder no page shows
/// (kept for moderators) could not be taken back, and its voter's export
/// listing it would tell them the message had been kept, so reported.
pub fn tombstone(tx: &mut Tx, id: &MessageId, now: NaiveDateTime) -> QueryResult<usize> {
    votes::erase_on(tx, id)?;
    let conn: &mut DbConn = tx;
    // Nor is it its thread's answer any more, as with the row (the reference
    // is ON DELETE SET NULL): left naming a row no page shows, the thread's
    // next answer change would send the class an event about it.
    diesel::update(class_messages::table.filter(class_messages::answer_id.eq(id)))
        .set(class_messages::answer_id.eq(None::<MessageId>))
        .execute(conn)?;
    diesel::update(class_messages::table.find(id))
        .set((
            class_messages::deleted.eq(true),
            class_messages::content.eq(""),
            class_messages::updated_at.eq(now),
        ))
        .execute(conn)
}
