//! Reading a class chat: the class page's list of threads (pinned ones on top,
//! then a keyset page by latest activity, by votes, or of the unanswered ones,
//! with reply counts, vote counts and what is new to the viewer) and one
//! thread's page (its answer shown first; opening it marks it read), each in a
//! fixed number of queries whatever the number of threads, replies and votes.
//! The views carry a pseudonym and a "mine" mark; an author's user id (and a
//! voter's) never leaves this module.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDateTime};
use diesel::prelude::*;

use super::{anonymity, answers, pins, ChatError, ClassMessage, MessageId, Rules};
use crate::accounts::UserId;
use crate::classes::{self, Class, ClassId, ClassMeeting};
use crate::db::schema::{class_messages, message_flags};
use crate::db::DbConn;

/// Threads per page.
pub const PAGE_SIZE: i64 = 50;
/// Replies are indented up to this depth; deeper ones show at it, saying whom they answer.
pub const MAX_INDENT: usize = 3;

/// How the class page orders its threads (pinned ones stay on top in each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Latest activity first (the default).
    #[default]
    Activity,
    /// Most upvoted first, then latest activity.
    Top,
    /// Threads without a (shown) answer, latest activity first.
    Unanswered,
}

impl Sort {
    pub const ALL: [Sort; 3] = [Sort::Activity, Sort::Top, Sort::Unanswered];

    /// The `?sort=` value; the default has none.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Activity => "activity",
            Sort::Top => "top",
            Sort::Unanswered => "unanswered",
        }
    }

    /// Reads a `?sort=` value; anything unknown is None.
    pub fn parse(raw: &str) -> Option<Sort> {
        Sort::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// Where a page of threads starts: just after this thread in the page's order.
/// Pages by (last activity, id), or for "top" by (votes, last activity, id), so
/// a page link keeps working; a thread bumped meanwhile moves up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub last_activity_at: NaiveDateTime,
    pub id: MessageId,
    /// The thread's votes, on a page of the "top" order only.
    pub votes: Option<i32>,
}

impl Cursor {
    /// `<microseconds since 1970>_<message id>`, for the "older" link, with
    /// `v<votes>.` in front on the "top" order (links from before votes stay valid).
    pub fn encode(&self) -> String {
        let at = format!(
            "{}_{}",
            self.last_activity_at.and_utc().timestamp_micros(),
            self.id
        );
        match self.votes {
            Some(votes) => format!("v{votes}.{at}"),
            None => at,
        }
    }

    /// Reads an `encode`d cursor; anything else is None.
    pub fn parse(raw: &str) -> Option<Cursor> {
        let (votes, raw) = match raw.strip_prefix('v') {
            Some(rest) => {
                let (votes, at) = rest.split_once('.')?;
                if votes.is_empty()
                    || votes.len() > 10
                    || !votes.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                (Some(votes.parse::<i32>().ok()?), at)
            }
            None => (None, raw),
        };
        let (micros, id) = raw.split_once('_')?;
        if micros.is_empty() || micros.len() > 20 {
            return None;
        }
        let micros: i64 = micros.parse().ok()?;
        let last_activity_at = DateTime::from_timestamp_micros(micros)?.naive_utc();
        if !crate::clock::plausible(last_activity_at) {
            return None;
        }
        Some(Cursor {
            last_activity_at,
            id: MessageId::parse(id)?,
            votes,
        })
    }

    /// Whether this cursor belongs to a page of `sort` (only "top" carries votes).
    pub fn fits(&self, sort: Sort) -> bool {
        self.votes.is_some() == (sort == Sort::Top)
    }
}

/// A thread's answer, shown first under its question: who wrote it (by
/// pseudonym) and its text, linking to its place in the thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerView {
    pub id: MessageId,
    pub pseudonym: String,
    pub text: String,
}

impl AnswerView {
    /// The answer as shown, or None when it does not count (deleted or hidden).
    pub fn of(answer: &ClassMessage) -> Option<AnswerView> {
        answers::counts(answer).then(|| AnswerView {
            id: answer.id.clone(),
            pseudonym: answer.anonymous_identifier.clone(),
            text: answer.content.clone(),
        })
    }
}

/// What a message shows in place of its author's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Text(String),
    /// Deleted by its author but kept for its replies.
    Deleted,
    /// Hidden after reports (or by a moderator), to everyone including its author.
    Hidden,
}

/// One message as the viewer may see it. No user id: `mine` is the only trace of
/// authorship, and it is true only on the viewer's own messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageView {
    pub id: MessageId,
    /// The thread's first message (its own id on a first message).
    pub thread_id: MessageId,
    /// The message it answers, on a reply.
    pub parent_id: Option<MessageId>,
    /// None on a deleted placeholder.
    pub pseudonym: Option<String>,
    pub body: Body,
    pub mine: bool,
    pub edited: bool,
    pub created_at: NaiveDateTime,
    /// 0 for a thread's first message.
    pub depth: usize,
    /// `min(depth, MAX_INDENT)`.
    pub indent: usize,
    /// For a reply whose parent is on the page: the pseudonym replied to
    /// ("[deleted]" if gone). Shown past `MAX_INDENT`, where the indent stops
    /// saying it; above, read out only (a screen reader hears no indent).
    pub replying_to: Option<String>,
    pub flagged_by_me: bool,
    pub can_reply: bool,
    pub can_edit: bool,
    pub can_delete: bool,
    pub can_flag: bool,
    /// Upvotes it has: a count only, never who.
    pub votes: i32,
    pub voted_by_me: bool,
    /// A classmate's shown message: the viewer may upvote it (or take it back).
    pub can_vote: bool,
    /// A reply marked as its thread's answer (and shown).
    pub is_answer: bool,
    /// A shown reply the viewer may mark as the answer (they started the thread, or are staff).
    pub can_mark_answer: bool,
    /// On a thread's first message, on its own page: the answer, shown first.
    pub answer: Option<AnswerView>,
    /// Held for review, shown so to its author (and staff) only.
    pub held: bool,
    /// A reply by whoever started the thread ("OP"), told by its pseudonym,
    /// which is on every post of theirs in the class already: it says nothing
    /// new. Never when the first message is deleted, whose pseudonym is hidden
    /// on purpose (`op_of`).
    pub op: bool,
}

/// Whether `message` is a reply by the starter of `root`'s thread, as its
/// pseudonym tells: only while the first message shows its pseudonym (not
/// deleted), and never on the viewer's own, which says "you" already.
pub fn op_of(message: &ClassMessage, root: &ClassMessage) -> bool {
    message.parent_message_id.is_some()
        && !root.deleted
        && !message.deleted
        && message.anonymous_identifier == root.anonymous_identifier
}

/// A first message and its replies, in reading order (each reply under its parent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    pub messages: Vec<MessageView>,
}

/// A thread as the list shows it: its opening post, how many replies, when it
/// last moved, and how much of it is new to the viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadSummary {
    pub opening: MessageView,
    /// Replies that still show (not deleted).
    pub replies: usize,
    pub last_activity_at: NaiveDateTime,
    /// Messages of the thread (the opening one included) newer than what the
    /// viewer has read, not their own, not removed.
    pub unread: usize,
    /// It has an answer that is shown.
    pub answered: bool,
    /// Pinned by a moderator: it stays on top of the list.
    pub pinned: bool,
}

/// One page of a class's thread list in one order, pinned threads first on the first page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadList {
    pub threads: Vec<ThreadSummary>,
    pub sort: Sort,
    /// Where the next (older) page starts, if there is one.
    pub older: Option<Cursor>,
    /// Whether this is the first page.
    pub newest: bool,
    /// The class's newest event: where the page's live stream starts.
    pub latest_event: i64,
}

/// The class page: the section, its meetings, and its threads if the viewer takes it.
#[derive(Debug, Clone)]
pub struct ClassPage {
    pub class: Class,
    pub meetings: Vec<ClassMeeting>,
    pub head: ClassHead,
    /// None when the viewer is not enrolled: they get no message at all.
    pub chat: Option<ThreadList>,
}

/// What a class's pages show around its messages, for one viewer, read in
/// the statement that reads the section and its meetings (`class_head!`):
/// eight one-value subqueries the database runs once each, instead of
/// separate statements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassHead {
    /// When the viewer joined; None when they do not take the class.
    pub enrolled_at: Option<NaiveDateTime>,
    /// Their "mark all read" in the class, if they ever pressed it.
    pub class_mark: Option<NaiveDateTime>,
    /// The class's newest event: where a page's live stream starts.
    pub latest_event: i64,
    /// Students other than the viewer who posted lately (`anonymity`).
    pub other_recent_posters: i64,
    /// The name the viewer holds in the class, if they posted.
    pub pseudonym: Option<String>,
    /// Their first candidate name no one holds (of the first batch): the
    /// name their first post would take (`pseudonym::assign`), known
    /// without a look-up of its own.
    pub free_candidate: Option<String>,
    /// The viewer muted the class's notifications.
    pub muted: bool,
    /// Students who take the class.
    pub members: i64,
}

/// The head's subqueries as they come back (`ClassHead`, in its order; the
/// class's recent posters as `recent_posters_unless!` and `posted_lately!`
/// read them).
type HeadColumns = (
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<i64>,
    Option<i64>,
    bool,
    Option<String>,
    Option<String>,
    bool,
    Option<i64>,
);

/// A class's section joined to its meetings (a row per meeting), with the
/// `ClassHead` columns for `$viewer` (whose first candidate names are
/// `$candidates`) and the caller's own `$extra` columns (owned ids): one
/// statement for everything a class's page shows around its messages. Rows
/// come back as `(Class, Option<ClassMeeting>, HeadColumns, (extra, ...))`,
/// for `head_of`.
macro_rules! class_head {
    ($viewer:expr, $class_id:expr, $candidates:expr, $now:expr, $offered:expr, $($extra:expr),+) => {{
        use $crate::db::schema::{class_meetings, classes as sections};
        let class_id: ClassId = $class_id.clone();
        sections::table
            .left_join(class_meetings::table)
            .filter(sections::id.eq(class_id.clone()))
            .order(class_meetings::position)
            .select((
                Class::as_select(),
                Option::<ClassMeeting>::as_select(),
                head_columns!($viewer, class_id, $candidates, $now, $offered),
                ($($extra,)+),
            ))
    }};
}

/// The `ClassHead` columns for `$viewer` in `$class_id` (owned ids), as a
/// tuple of one-value subqueries that name nothing of the statement they sit
/// in: the class page's head selects them beside the section, a thread's
/// page beside its messages. `$offered` is the event of the count of recent
/// posters the page holds (`anonymity::Offer::event`).
macro_rules! head_columns {
    ($viewer:expr, $class_id:expr, $candidates:expr, $now:expr, $offered:expr) => {{
        use $crate::db::schema::{chat_class_reads, chat_events, user_classes};
        let viewer: UserId = $viewer.clone();
        let class_id: ClassId = $class_id.clone();
        let now: NaiveDateTime = $now;
        (
            user_classes::table
                .filter(user_classes::user_id.eq(viewer.clone()))
                .filter(user_classes::class_id.eq(class_id.clone()))
                .select(user_classes::enrolled_at)
                .single_value(),
            chat_class_reads::table
                .filter(chat_class_reads::user_id.eq(viewer.clone()))
                .filter(chat_class_reads::class_id.eq(class_id.clone()))
                .select(chat_class_reads::read_through)
                .single_value(),
            chat_events::table
                .filter(chat_events::class_id.eq(class_id.clone()))
                .select(diesel::dsl::max(chat_events::seq))
                .single_value(),
            super::anonymity::recent_posters_unless!(class_id.clone(), now, $offered),
            super::anonymity::posted_lately!(viewer.clone(), class_id.clone(), now),
            super::pseudonym::held_name!(viewer.clone(), class_id.clone()).single_value(),
            super::pseudonym::first_free_of!(class_id.clone(), $candidates),
            crate::notifications::muted!(viewer.clone(), class_id.clone()),
            user_classes::table
                .filter(user_classes::class_id.eq(class_id.clone()))
                .count()
                .single_value(),
        )
    }};
}

/// The section, its meetings, the head and the caller's extra columns from
/// `class_head!`'s rows, made with `offer`; None when there is no such class.
fn head_of<E>(
    rows: Vec<(Class, Option<ClassMeeting>, HeadColumns, E)>,
    offer: anonymity::Offer<'_>,
) -> Option<(Class, Vec<ClassMeeting>, ClassHead, E)> {
    let mut rows = rows.into_iter();
    let (class, first, columns, extra) = rows.next()?;
    let meetings = first
        .into_iter()
        .chain(rows.filter_map(|(_, meeting, _, _)| meeting))
        .collect();
    Some((class, meetings, ClassHead::read(columns, offer), extra))
}

impl ClassHead {
    /// The head from its columns, read by a statement made with `offer`
    /// (whose count of recent posters it settles).
    fn read(columns: HeadColumns, offer: anonymity::Offer<'_>) -> ClassHead {
        let (
            enrolled_at,
            class_mark,
            latest,
            recent_posters,
            posted_lately,
            pseudonym,
            free_candidate,
            muted,
            members,
        ) = columns;
        let latest_event = latest.unwrap_or(0);
        let posters = offer.settle(recent_posters, latest_event);
        ClassHead {
            enrolled_at,
            class_mark,
            latest_event,
            other_recent_posters: posters - i64::from(posted_lately),
            pseudonym,
            free_candidate,
            muted,
            members: members.unwrap_or(0),
        }
    }
}

/// One whole thread, for its own page.
#[derive(Debug, Clone)]
pub struct ThreadPage {
    pub class: Class,
    pub thread: Thread,
    /// Messages that were new to the viewer before this page marked them read.
    pub new_ids: HashSet<MessageId>,
    pub latest_event: i64,
    /// Pinned by a moderator.
    pub pinned: bool,
    pub head: ClassHead,
    /// The viewer follows the thread (its replies notify them).
    pub following: bool,
    /// The viewer has unread notifications about the thread (its page marks
    /// them read).
    pub unread_notices: bool,
    /// Its replies as the thread list counts them: those the class can read
    /// (not deleted, hidden or held), whoever the viewer is: a count that saw
    /// held replies, or one that counted hidden ones but not held ones,
    /// would tell the class that a reply shown as hidden is really held.
    pub replies: usize,
}

/// What the list needs of a reply: no text, and its author only as "mine".
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct ReplyStat {
    pub thread_id: Option<MessageId>,
    pub created_at: NaiveDateTime,
    pub user_id: Option<UserId>,
    pub deleted: bool,
    pub hidden: bool,
    pub id: MessageId,
    pub parent_id: Option<MessageId>,
}

/// Loads the class page for `viewer`, latest activity first, in a fixed number
/// of queries whatever the number of threads and replies.
pub fn class_page(
    conn: &mut DbConn,
    viewer: &UserId,
    class_id: &ClassId,
    before: Option<&Cursor>,
    rules: &Rules,
    now: NaiveDateTime,
) -> Result<ClassPage, ChatError> {
    class_page_by(conn, viewer, class_id, Sort::Activity, before, rules, now)
}

/// Loads the class page for `viewer` in the order `sort`, in a fixed number of
/// queries whatever the number of threads, replies and votes. A cursor of
/// another order reads as the first page's.
pub fn class_page_by(
    conn: &mut DbConn,
    viewer: &UserId,
    class_id: &ClassId,
    sort: Sort,
    before: Option<&Cursor>,
    rules: &Rules,
    now: NaiveDateTime,
) -> Result<ClassPage, ChatError> {
    let before = before.filter(|c| c.fits(sort));
    // Whether the class has pinned threads (by their partial index): only
    // then does the first page's statement sort them ahead.
    let has_pins = diesel::dsl::exists(
        class_messages::table
            .filter(class_messages::class_id.eq(class_id.clone()))
            .filter(class_messages::pinned_at.is_not_null())
            .filter(class_messages::parent_message_id.is_null()),
    );
    let candidates = super::pseudonym::first_candidates(&rules.secret, viewer, class_id);
    let offer = rules.poster_counts.offer(class_id, now);
    let offered = offer.event();
    let rows = crate::on_each_backend!(conn, |c| {
        class_head!(viewer, class_id, candidates, now, offered, has_pins).load(c)
    })?;
    let (class, meetings, head, (has_pins,)) =
        head_of(rows, offer).ok_or(ChatError::ClassNotFound)?;
    let chat = match head.enrolled_at {
        Some(joined) => Some(thread_list(
            conn,
            viewer,
            class_id,
            &head,
            joined,
            has_pins,
            Page { sort, before },
            rules,
            now,
        )?),
        None => None,
    };
    Ok(ClassPage {
        class,
        meetings,
        head,
        chat,
    })
}

/// Which page of the list: its order and where it starts.
#[derive(Debug, Clone, Copy)]
struct Page<'a> {
    sort: Sort,
    before: Option<&'a Cursor>,
}

#[allow(clippy::too_many_arguments)] // one page's inputs, each a different kind
fn thread_list(
    conn: &mut DbConn,
    viewer: &UserId,
    class_id: &ClassId,
    head: &ClassHead,
    joined: NaiveDateTime,
    has_pins: bool,
    page: Page<'_>,
    rules: &Rules,
    now: NaiveDateTime,
) -> QueryResult<ThreadList> {
    // Everything up to the class mark (or the join, or `NEW_FOR` ago) is read;
    // each root carries its own thread mark.
    let since = super::reads::Marks::new(head.class_mark, joined, HashMap::new(), now).class();
    let (roots, older) = roots_of(conn, Some(viewer), viewer, since, class_id, has_pins, page)?;
    let threads = roots
        .iter()
        .map(|root| {
            let message = &root.message;
            let mut summary = summary_with(
                message,
                root.replies as usize,
                root.answered,
                viewer,
                rules,
                now,
            );
            summary.opening.flagged_by_me = root.flagged;
            summary.opening.can_flag &= !summary.opening.flagged_by_me;
            summary.opening.voted_by_me = root.voted;
            let mark = root.mark.map_or(since, |t| t.max(since));
            let opening_new = message.created_at > mark
                && message.user_id.as_ref() != Some(viewer)
                && !message.deleted
                && !message.hidden
                && !message.held;
            summary.unread = root.unread_replies as usize + usize::from(opening_new);
            summary
        })
        .collect();
    Ok(ThreadList {
        threads,
        sort: page.sort,
        older,
        newest: page.before.is_none(),
        latest_event: head.latest_event,
    })
}

/// A thread's first message with what the list shows of it for one reader:
/// whether they reported it or voted for it, their mark on the thread, and
/// its replies: how many show, whether the marked answer is one of them,
/// and how many are new to the reader.
struct Root {
    message: ClassMessage,
    flagged: bool,
    voted: bool,
    mark: Option<NaiveDateTime>,
    replies: i64,
    answered: bool,
    unread_replies: i64,
}

/// Whether `$reader` (an owned id) reported and voted for the message of
/// the row, as two subqueries beside its columns.
macro_rules! reader_columns {
    ($reader:expr) => {{
        use $crate::db::schema::message_votes;
        let reader: UserId = $reader.clone();
        (
            diesel::dsl::exists(
                message_flags::table
                    .filter(message_flags::user_id.eq(reader.clone()))
                    .filter(message_flags::cleared_at.is_null())
                    .filter(message_flags::message_id.eq(class_messages::id)),
            ),
            diesel::dsl::exists(
                message_votes::table
                    .filter(message_votes::user_id.eq(reader))
                    .filter(message_votes::message_id.eq(class_messages::id)),
            ),
        )
    }};
}

/// A root's columns for `$reader` (an owned id), whose class mark is `$since`:
/// the message; whether they reported it and voted for it; their mark on the
/// thread; and, counted over its replies by the thread's index, how many
/// can be read (not held, deleted or hidden), whether the marked answer is one that
/// shows, and how many are new to the reader (newer than both marks, not
/// theirs, not hidden). One statement for the list's first messages and all
/// it shows of each thread. The same rules as `summary_of` and the unread
/// count of `thread_list`, which live events apply to rows in memory;
/// `chat_threads::list_counts_match_the_rules` holds the page to them.
macro_rules! root_columns {
    ($reader:expr, $since:expr) => {{
        use $crate::db::schema::chat_thread_reads;
        let reader: UserId = $reader.clone();
        let since: NaiveDateTime = $since;
        let replies = diesel::alias!(class_messages as replies);
        let shown = || {
            replies
                .filter(
                    replies
                        .field(class_messages::thread_root_id)
                        .eq(class_messages::id.nullable()),
                )
                .filter(replies.field(class_messages::held).eq(false))
                .filter(replies.field(class_messages::deleted).eq(false))
                .filter(replies.field(class_messages::hidden).eq(false))
        };
        (
            ClassMessage::as_select(),
            reader_columns!(reader),
            chat_thread_reads::table
                .filter(chat_thread_reads::user_id.eq(reader.clone()))
                .filter(chat_thread_reads::thread_id.eq(class_messages::id))
                .select(chat_thread_reads::read_through)
                .single_value(),
            shown().count().single_value(),
            diesel::dsl::exists(
                shown()
                    .filter(
                        replies
                            .field(class_messages::id)
                            .nullable()
                            .eq(class_messages::answer_id),
                    )
                    .filter(replies.field(class_messages::hidden).eq(false)),
            ),
            shown()
                .filter(replies.field(class_messages::hidden).eq(false))
                .filter(replies.field(class_messages::created_at).gt(since))
                .filter(
                    replies
                        .field(class_messages::user_id)
                        .is_null()
                        .or(replies.field(class_messages::user_id).ne(reader.clone())),
                )
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    chat_thread_reads::table
                        .filter(chat_thread_reads::user_id.eq(reader))
                        .filter(chat_thread_reads::thread_id.eq(class_messages::id))
                        .filter(
                            chat_thread_reads::read_through
                                .ge(replies.field(class_messages::created_at)),
                        ),
                )))
                .count()
                .single_value(),
        )
    }};
}

/// A thread page's row: a message, the viewer's report and vote on it, and
/// (the same on every row) the class, the head and the page's own columns.
type ThreadRow = (
    ClassMessage,
    (bool, bool),
    Class,
    HeadColumns,
    (Option<NaiveDateTime>, bool, bool),
);

type RootRow = (
    ClassMessage,
    (bool, bool),
    Option<NaiveDateTime>,
    Option<i64>,
    bool,
    Option<i64>,
);

impl From<RootRow> for Root {
    fn from((message, (flagged, voted), mark, replies, answered, unread_replies): RootRow) -> Root {
        Root {
            message,
            flagged,
            voted,
            mark,
            replies: replies.unwrap_or(0),
            answered,
            unread_replies: unread_replies.unwrap_or(0),
        }
    }
}

/// A page's first messages: pinned threads head the first page in every order
/// (one statement, only when the class has any) and are left out of the
/// ordered pages so none shows twice; then up to `PAGE_SIZE` in the page's
/// order, and where the next page starts. Held threads are listed for their
/// author (`Some(viewer)`), or all of them for staff reading the class
/// (`None`). `reader` is whose reports, votes and marks come with them.
#[allow(clippy::too_many_arguments)] // one page's inputs, each a different kind
fn roots_of(
    conn: &mut DbConn,
    viewer: Option<&UserId>,
    reader: &UserId,
    since: NaiveDateTime,
    class_id: &ClassId,
    has_pins: bool,
    page: Page<'_>,
) -> QueryResult<(Vec<Root>, Option<Cursor>)> {
    let with_pins = has_pins && page.before.is_none();
    let rows = root_page(conn, viewer, reader, since, class_id, page, with_pins)?;
    let (mut roots, ordered): (Vec<Root>, Vec<Root>) = rows
        .into_iter()
        .partition(|r| with_pins && r.message.pinned_at.is_some());
    roots.truncate(pins::MAX_PINNED);
    let pinned = roots.len();
    roots.extend(ordered);
    let older = if (roots.len() - pinned) as i64 > PAGE_SIZE {
        roots.truncate(pinned + PAGE_SIZE as usize);
        roots.last().map(|Root { message: m, .. }| Cursor {
            last_activity_at: m.last_activity_at,
            id: m.id.clone(),
            votes: (page.sort == Sort::Top).then_some(m.vote_count),
        })
    } else {
        None
    };
    Ok((roots, older))
}

/// One message as staff read a class without joining it: by pseudonym, with
/// its text even when hidden or held (staff review those), marked as such.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMessage {
    pub id: MessageId,
    /// None on a deleted placeholder.
    pub pseudonym: Option<String>,
    /// Empty once deleted.
    pub text: String,
    pub deleted: bool,
    pub hidden: bool,
    /// Held for review before the class sees it (it named someone).
    pub held: bool,
    pub edited: bool,
    pub created_at: NaiveDateTime,
    pub depth: usize,
    pub indent: usize,
    /// The pseudonym a reply answers (or "[deleted]"), as students read it.
    pub replying_to: Option<String>,
}

/// A thread as staff read it: every message in reading order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffThread {
    pub messages: Vec<StaffMessage>,
    pub last_activity_at: NaiveDateTime,
    pub pinned: bool,
}

impl StaffThread {
    /// Whether staff are offered to pin or unpin it: a pin is always theirs
    /// to lift; a new one only where `pins::pin` would take it.
    pub fn offers_pin(&self) -> bool {
        self.pinned
            || self
                .messages
                .first()
                .is_some_and(|m| super::pins::unpinnable(m.deleted, m.hidden, m.held).is_none())
    }
}

/// A page of a class's chat as staff read it without joining.
#[derive(Debug, Clone)]
pub struct StaffPage {
    pub class: Class,
    pub threads: Vec<StaffThread>,
    pub older: Option<Cursor>,
}

/// A page of a class's threads by latest activity (pinned on top of the first),
/// each with all its messages, as a moderator reads a class they need not have
/// joined: read only, nothing marked read, hidden and held messages included
/// and marked. Four statements whatever the number of threads and replies.
/// The caller (moderation) audits the reading.
pub fn staff_page(
    conn: &mut DbConn,
    viewer: &UserId,
    class_id: &ClassId,
    before: Option<&Cursor>,
    rules: &Rules,
    now: NaiveDateTime,
) -> Result<StaffPage, ChatError> {
    let class = classes::find(conn, class_id)?.ok_or(ChatError::ClassNotFound)?;
    let page = Page {
        sort: Sort::Activity,
        before: before.filter(|c| c.fits(Sort::Activity)),
    };
    let (roots, older) = roots_of(conn, None, viewer, now, class_id, true, page)?;
    let roots: Vec<ClassMessage> = roots.into_iter().map(|r| r.message).collect();
    let root_ids: Vec<MessageId> = roots.iter().map(|m| m.id.clone()).collect();
    let replies: Vec<ClassMessage> = class_messages::table
        .filter(class_messages::thread_root_id.eq_any(&root_ids))
        .order((class_messages::created_at.asc(), class_messages::id.asc()))
        .select(ClassMessage::as_select())
        .load(conn)?;
    let mut by_thread: HashMap<&MessageId, Vec<ClassMessage>> = HashMap::new();
    for reply in &replies {
        if let Some(root) = &reply.thread_root_id {
            by_thread.entry(root).or_default().push(reply.clone());
        }
    }
    let by_id: HashMap<&MessageId, &ClassMessage> = roots
        .iter()
        .chain(replies.iter())
        .map(|m| (&m.id, m))
        .collect();
    let (flagged, voted) = (HashSet::new(), HashSet::new());
    let shape = Shape {
        viewer,
        flagged: &flagged,
        voted: &voted,
        marker: false,
        sees_held: true,
        rules,
        now,
    };
    let threads = roots
        .iter()
        .map(|root| {
            let replies = by_thread.get(&root.id).map(Vec::as_slice).unwrap_or(&[]);
            let messages = shape
                .thread(root, replies)
                .messages
                .into_iter()
                .filter_map(|view| {
                    let row = by_id.get(&view.id)?;
                    Some(StaffMessage {
                        pseudonym: view.pseudonym,
                        text: if row.deleted {
                            String::new()
                        } else {
                            row.content.clone()
                        },
                        deleted: row.deleted,
                        hidden: row.hidden,
                        held: row.held,
                        edited: view.edited,
                        created_at: view.created_at,
                        depth: view.depth,
                        indent: view.indent,
                        id: view.id,
                        replying_to: view.replying_to,
                    })
                })
                .collect();
            StaffThread {
                messages,
                last_activity_at: root.last_activity_at,
                pinned: root.pinned_at.is_some(),
            }
        })
        .collect();
    Ok(StaffPage {
        class,
        threads,
        older,
    })
}

/// The replies of these threads, without their text, grouped by thread, oldest
/// first. Held replies are left out: no one but their author sees them, and
/// they count for no one until released.
pub fn reply_stats(
    conn: &mut DbConn,
    thread_ids: &[MessageId],
) -> QueryResult<HashMap<MessageId, Vec<ReplyStat>>> {
    let rows: Vec<ReplyStat> = class_messages::table
        .filter(class_messages::thread_root_id.eq_any(thread_ids))
        .filter(class_messages::held.eq(false))
        .order((class_messages::created_at.asc(), class_messages::id.asc()))
        .select((
            class_messages::thread_root_id,
            class_messages::created_at,
            class_messages::user_id,
            class_messages::deleted,
            class_messages::hidden,
            class_messages::id,
            class_messages::parent_message_id,
        ))
        .load(conn)?;
    let mut by_thread: HashMap<MessageId, Vec<ReplyStat>> = HashMap::new();
    for row in rows {
        if let Some(thread) = row.thread_id.clone() {
            by_thread.entry(thread).or_default().push(row);
        }
    }
    Ok(by_thread)
}

/// A thread's list row for `viewer`, with `unread` left at 0 and "voted by me"
/// and "reported by me" unset, for the caller.
pub fn summary_of(
    root: &ClassMessage,
    replies: &[ReplyStat],
    viewer: &UserId,
    rules: &Rules,
    now: NaiveDateTime,
) -> ThreadSummary {
    let shown = replies.iter().filter(|r| !r.deleted && !r.hidden).count();
    let answered = root.answer_id.as_ref().is_some_and(|answer| {
        replies
            .iter()
            .any(|r| &r.id == answer && !r.deleted && !r.hidden)
    });
    summary_with(root, shown, answered, viewer, rules, now)
}

/// A thread's list row from its reply count and whether its answer shows
/// (as `summary_of` finds them in rows, or `root_columns!` in SQL).
fn summary_with(
    root: &ClassMessage,
    replies: usize,
    answered: bool,
    viewer: &UserId,
    rules: &Rules,
    now: NaiveDateTime,
) -> ThreadSummary {
    ThreadSummary {
        opening: view_of(root, viewer, false, rules, now),
        replies,
        last_activity_at: root.last_activity_at,
        unread: 0,
        answered,
        pinned: root.pinned_at.is_some(),
    }
}

/// Loads one thread for `viewer` and marks it read: its page shows every message,
/// its answer first. `staff`: the viewer is a moderator or admin (who may mark
/// any thread's answer). A thread of another class, or a reply's id, is `MessageNotFound`.
pub fn thread_page(
    conn: &mut DbConn,
    viewer: &UserId,
    staff: bool,
    class_id: &ClassId,
    thread_id: &MessageId,
    rules: &Rules,
    now: NaiveDateTime,
) -> Result<ThreadPage, ChatError> {
    use crate::db::schema::chat_thread_reads;
    let thread_mark = chat_thread_reads::table
        .filter(chat_thread_reads::user_id.eq(viewer.clone()))
        .filter(chat_thread_reads::thread_id.eq(thread_id.clone()))
        .select(chat_thread_reads::read_through)
        .single_value();
    let follows = crate::notifications::chat::following!(viewer.clone(), thread_id.clone());
    let notices =
        crate::notifications::chat::unread_about_thread!(viewer.clone(), thread_id.clone(), now);
    let candidates = super::pseudonym::first_candidates(&rules.secret, viewer, class_id);
    let offer = rules.poster_counts.offer(class_id, now);
    let offered = offer.event();
    // The thread's first message and its replies in reading order, each with
    // whether the viewer reported it or voted for it, beside the class and
    // the head's columns (the same on every row, read once): one statement.
    let rows: Vec<ThreadRow> = class_messages::table
        .inner_join(crate::db::schema::classes::table)
        .filter(class_messages::class_id.eq(class_id))
        .filter(
            class_messages::id
                .eq(thread_id)
                .or(class_messages::thread_root_id.eq(thread_id)),
        )
        .order((class_messages::created_at.asc(), class_messages::id.asc()))
        .select((
            ClassMessage::as_select(),
            reader_columns!(viewer),
            Class::as_select(),
            head_columns!(viewer, class_id, candidates, now, offered),
            (thread_mark, follows, notices),
        ))
        .load(conn)?;
    let Some((_, _, class, columns, (thread_mark, following, unread_notices))) =
        rows.first().cloned()
    else {
        // Nothing to show: say why, as the page always has.
        return Err(match classes::find(conn, class_id)? {
            None => ChatError::ClassNotFound,
            Some(_) if classes::enrolled_at(conn, viewer, class_id)?.is_none() => {
                ChatError::NotEnrolled {
                    class_id: class_id.clone(),
                }
            }
            Some(_) => ChatError::MessageNotFound,
        });
    };
    let head = ClassHead::read(columns, offer);
    let joined = head.enrolled_at.ok_or_else(|| ChatError::NotEnrolled {
        class_id: class_id.clone(),
    })?;
    let mut flagged: HashSet<MessageId> = HashSet::new();
    let mut voted: HashSet<MessageId> = HashSet::new();
    let mut root = None;
    let mut replies: Vec<ClassMessage> = Vec::with_capacity(rows.len());
    for (message, (flagged_by_me, voted_by_me), _, _, _) in rows {
        if flagged_by_me {
            flagged.insert(message.id.clone());
        }
        if voted_by_me {
            voted.insert(message.id.clone());
        }
        if &message.id == thread_id {
            root = Some(message);
        } else {
            replies.push(message);
        }
    }
    let root = root
        .filter(|m| &m.class_id == class_id && m.parent_message_id.is_none())
        .ok_or(ChatError::MessageNotFound)?;
    // Someone else's held message is not there for this viewer, unless it was
    // held after replies came (an edit did that until `chat::edit` stopped
    // holding what the class read; such rows are stored): then it stays as a
    // hidden one.
    let seen = |m: &ClassMessage| staff || sees(m.held, m.user_id.as_ref(), viewer);
    let kept = shown_replies(
        replies
            .iter()
            .map(|m| (&m.id, m.parent_message_id.as_ref(), seen(m) && !m.deleted)),
    );
    replies.retain(|m| kept.contains(&m.id));
    if (!seen(&root) || root.deleted) && replies.is_empty() {
        return Err(ChatError::MessageNotFound);
    }
    let mark = super::reads::Marks::new(
        head.class_mark,
        joined,
        thread_mark
            .map(|t| (thread_id.clone(), t))
            .into_iter()
            .collect(),
        now,
    )
    .for_thread(thread_id);
    let newest = replies
        .iter()
        .map(|m| m.created_at)
        .chain(std::iter::once(root.created_at))
        .max()
        .unwrap_or(root.created_at);
    let new_ids: HashSet<MessageId> = std::iter::once(&root)
        .chain(replies.iter())
        .filter(|m| {
            m.created_at > mark
                && m.user_id.as_ref() != Some(viewer)
                && !m.deleted
                && !m.hidden
                && !m.held
        })
        .map(|m| m.id.clone())
        .collect();
    if newest > mark {
        super::reads::mark_thread(conn, viewer, class_id, thread_id, newest)?;
    }
    let shape = Shape {
        viewer,
        flagged: &flagged,
        voted: &voted,
        marker: staff || (!root.deleted && root.user_id.as_ref() == Some(viewer)),
        sees_held: staff,
        rules,
        now,
    };
    let thread = shape.thread(&root, &replies);
    let counted = replies
        .iter()
        .filter(|m| !m.held && !m.deleted && !m.hidden)
        .count();
    Ok(ThreadPage {
        class,
        thread,
        replies: counted,
        new_ids,
        latest_event: head.latest_event,
        pinned: root.pinned_at.is_some(),
        head,
        following,
        unread_notices,
    })
}

/// Whether a student sees this message where it stands: it is not held, or
/// it is theirs. (Someone else's held message shows only as a hidden one,
/// above replies the student sees: `shown_replies`.)
pub(super) fn sees(held: bool, author: Option<&UserId>, viewer: &UserId) -> bool {
    !held || author == Some(viewer)
}

/// A reply as the shown walk (`shown_replies`) reads it: a few columns.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = class_messages)]
pub(super) struct Place {
    pub id: MessageId,
    pub parent_message_id: Option<MessageId>,
    pub thread_root_id: Option<MessageId>,
    pub deleted: bool,
    pub held: bool,
    pub user_id: Option<UserId>,
}

impl Place {
    /// The replies of these threads (by their first messages' ids).
    pub fn of_threads(conn: &mut DbConn, roots: &[&MessageId]) -> QueryResult<Vec<Place>> {
        class_messages::table
            .filter(class_messages::thread_root_id.eq_any(roots))
            .select(Place::as_select())
            .load(conn)
    }

    /// Whether it stands for the viewer (`staff`: a moderator or admin, who
    /// sees held messages; None: the class, as a student with no held
    /// message there): not deleted, and seen.
    pub fn stands(&self, viewer: Option<&UserId>, staff: bool) -> bool {
        !self.deleted
            && (staff || !self.held || viewer.is_some_and(|v| self.user_id.as_ref() == Some(v)))
    }
}

/// Which of a thread's replies its page shows: each that stands (given as
/// `(id, parent, stands)`, where it stands if the viewer sees it and it is not
/// deleted), and every reply above one of those, as a "[deleted]" or hidden
/// placeholder keeping its place. A placeholder kept up by nothing the viewer
/// sees (by held replies alone, or a row kept for moderators) would tell them
/// something is held or was reported there, so it is not shown. The thread's
/// first message shows if it stands or any reply shows.
///
/// The one rule for "is this message shown": the thread page keeps its
/// replies by it, and the actions on a message (`chat::kept_up`) answer by it.
pub(super) fn shown_replies<'a>(
    replies: impl IntoIterator<Item = (&'a MessageId, Option<&'a MessageId>, bool)>,
) -> HashSet<MessageId> {
    let mut parent_of: HashMap<&MessageId, Option<&MessageId>> = HashMap::new();
    let mut above: Vec<&MessageId> = Vec::new();
    for (id, parent, stands) in replies {
        parent_of.insert(id, parent);
        if stands {
            above.push(id);
        }
    }
    let mut kept: HashSet<MessageId> = above.iter().map(|id| (*id).clone()).collect();
    while let Some(id) = above.pop() {
        if let Some(Some(parent)) = parent_of.get(id) {
            if parent_of.contains_key(parent) && kept.insert((*parent).clone()) {
                above.push(parent);
            }
        }
    }
    kept
}

/// The thread list's statements in Diesel's cache (`db::shaped`).
struct ThreadListStatement;

/// A condition on the list's first messages, boxed so the page can combine
/// them at run time (for the backend the statement is compiled for).
type ListCond<DB> = Box<
    dyn diesel::expression::BoxableExpression<
        class_messages::table,
        DB,
        SqlType = diesel::sql_types::Nullable<diesel::sql_types::Bool>,
    >,
>;

/// Up to `PAGE_SIZE + 1` unpinned threads of the class in the page's order,
/// after its cursor: one statement. A held thread is on its author's list
/// only. `with_pins` (a first page of a class that has pinned threads): the
/// pinned threads come first in the same statement, each condition of the
/// ordered list reading "pinned, or ..." (pinned threads are listed whatever
/// the order's filters), sorted ahead by when they were pinned.
fn root_page(
    conn: &mut DbConn,
    viewer: Option<&UserId>,
    reader: &UserId,
    since: NaiveDateTime,
    class_id: &ClassId,
    page: Page<'_>,
    with_pins: bool,
) -> QueryResult<Vec<Root>> {
    // Every choice below that changes the statement's SQL, as one number, so
    // Diesel keeps each of the few statements by type instead of writing out
    // and hashing its 10 kB of SQL each time (`db::shaped`).
    let shape = {
        let sort = match page.sort {
            Sort::Activity => 0,
            Sort::Top => 1,
            Sort::Unanswered => 2,
        };
        sort + 3 * u8::from(with_pins)
            + 6 * u8::from(page.before.is_some())
            + 12 * u8::from(viewer.is_some())
    };
    // Compiled for each backend: through `DbConn` this long statement's SQL
    // was written out several times per execution (see `on_each_backend!`).
    let rows: Vec<RootRow> = crate::on_each_backend!(conn, |c| {
        let unless_pinned = |cond: ListCond<_>| -> ListCond<_> {
            if with_pins {
                Box::new(class_messages::pinned_at.is_not_null().or(cond))
            } else {
                cond
            }
        };
        let pins_ahead = if with_pins {
            pins::MAX_PINNED as i64
        } else {
            0
        };
        let mut query = class_messages::table
            .filter(class_messages::class_id.eq(class_id))
            .filter(class_messages::parent_message_id.is_null())
            .limit(PAGE_SIZE + 1 + pins_ahead)
            .select(root_columns!(reader, since))
            .into_boxed();
        if !with_pins {
            query = query.filter(class_messages::pinned_at.is_null());
        } else {
            query = query.order((
                class_messages::pinned_at.is_null(),
                class_messages::pinned_at.desc(),
            ));
        }
        if let Some(viewer) = viewer {
            // Someone else's held thread is not listed, unless it was held
            // under replies (by an edit, before `chat::edit` stopped): then
            // it stays, shown as hidden (as its page does), so classmates'
            // replies do not vanish with it. Pinned or not: a
            // pinned thread edited into held once stayed listed, telling the
            // class its opening post was held, under its pseudonym. The
            // replies are those its page keeps it for: not deleted, and not
            // held unless the viewer's (a row kept up by anything else led
            // to a page that is not there).
            let replies = diesel::alias!(class_messages as replies);
            let reply_shown = replies
                .field(class_messages::held)
                .eq(false)
                .or(replies.field(class_messages::user_id).eq(viewer.clone()));
            let held_rule: ListCond<_> = Box::new(
                class_messages::held
                    .eq(false)
                    .or(class_messages::user_id.eq(viewer.clone()))
                    .or(diesel::dsl::exists(
                        replies
                            .filter(
                                replies
                                    .field(class_messages::thread_root_id)
                                    .eq(class_messages::id.nullable()),
                            )
                            .filter(replies.field(class_messages::deleted).eq(false))
                            .filter(reply_shown),
                    )),
            );
            query = query.filter(held_rule);
            // A deleted opening post is listed only above a reply the viewer
            // sees (as the thread page keeps it): one kept up by classmates'
            // held replies alone would tell the class something is held
            // there, while the viewer's own held reply keeps it for them.
            let shown = diesel::alias!(class_messages as shown);
            let seen_reply = shown
                .field(class_messages::held)
                .eq(false)
                .or(shown.field(class_messages::user_id).eq(viewer.clone()));
            let deleted_rule: ListCond<_> = Box::new(
                class_messages::deleted
                    .eq(false)
                    .nullable()
                    .or(diesel::dsl::exists(
                        shown
                            .filter(
                                shown
                                    .field(class_messages::thread_root_id)
                                    .eq(class_messages::id.nullable()),
                            )
                            .filter(seen_reply)
                            .filter(shown.field(class_messages::deleted).eq(false)),
                    )
                    .nullable()),
            );
            query = query.filter(deleted_rule);
        }
        if page.sort == Sort::Unanswered {
            // An answer that is deleted, hidden or held does not count.
            let answers = diesel::alias!(class_messages as answers);
            query = query.filter(unless_pinned(Box::new(
                diesel::dsl::not(diesel::dsl::exists(
                    answers
                        .filter(
                            answers
                                .field(class_messages::id)
                                .nullable()
                                .eq(class_messages::answer_id),
                        )
                        .filter(answers.field(class_messages::deleted).eq(false))
                        .filter(answers.field(class_messages::hidden).eq(false))
                        .filter(answers.field(class_messages::held).eq(false)),
                ))
                .nullable(),
            )));
        }
        let after_activity = |cursor: &Cursor| {
            class_messages::last_activity_at
                .lt(cursor.last_activity_at)
                .or(class_messages::last_activity_at
                    .eq(cursor.last_activity_at)
                    .and(class_messages::id.lt(cursor.id.clone())))
        };
        query = match (page.sort, page.before) {
            (Sort::Top, cursor) => {
                // What the class voted up and a moderator hid, or its author
                // or a moderator removed, is not among the best; nor is one
                // held for review (shown as hidden where it shows at all: in
                // "Top" among hidden ones gone, it would read as held).
                // Pinned threads head it whatever, as every order.
                let best: ListCond<_> = Box::new(
                    class_messages::hidden
                        .eq(false)
                        .and(class_messages::deleted.eq(false))
                        .and(class_messages::held.eq(false))
                        .nullable(),
                );
                let query = query.filter(unless_pinned(best)).then_order_by((
                    class_messages::vote_count.desc(),
                    class_messages::last_activity_at.desc(),
                    class_messages::id.desc(),
                ));
                match cursor {
                    Some(cursor) => {
                        let votes = cursor.votes.unwrap_or(0);
                        query.filter(
                            class_messages::vote_count
                                .lt(votes)
                                .or(class_messages::vote_count
                                    .eq(votes)
                                    .and(after_activity(cursor))),
                        )
                    }
                    None => query,
                }
            }
            (_, cursor) => {
                let query = query.then_order_by((
                    class_messages::last_activity_at.desc(),
                    class_messages::id.desc(),
                ));
                match cursor {
                    Some(cursor) => query.filter(after_activity(cursor)),
                    None => query,
                }
            }
        };
        crate::load_shaped!(ThreadListStatement, shape, query, c)
    })?;
    Ok(rows.into_iter().map(Root::from).collect())
}

/// One message as `viewer` may see it, at the given depth, with no parent to
/// name; "voted by me", "is the answer" and "may mark it" are the caller's to set.
pub fn view_of(
    message: &ClassMessage,
    viewer: &UserId,
    flagged_by_me: bool,
    rules: &Rules,
    now: NaiveDateTime,
) -> MessageView {
    let flagged = if flagged_by_me {
        HashSet::from([message.id.clone()])
    } else {
        HashSet::new()
    };
    let voted = HashSet::new();
    let shape = Shape {
        viewer,
        flagged: &flagged,
        voted: &voted,
        marker: false,
        sees_held: false,
        rules,
        now,
    };
    let depth = usize::from(message.parent_message_id.is_some());
    shape.view(message, depth, None)
}

/// Turns rows into what one viewer may see.
struct Shape<'a> {
    viewer: &'a UserId,
    flagged: &'a HashSet<MessageId>,
    /// The messages the viewer upvoted.
    voted: &'a HashSet<MessageId>,
    /// The viewer may mark this thread's answer.
    marker: bool,
    /// The viewer is staff, who see held messages as their authors do.
    sees_held: bool,
    rules: &'a Rules,
    now: NaiveDateTime,
}

impl Shape<'_> {
    fn thread(&self, root: &ClassMessage, replies: &[ClassMessage]) -> Thread {
        let by_id: HashMap<&MessageId, &ClassMessage> = replies
            .iter()
            .chain(std::iter::once(root))
            .map(|m| (&m.id, m))
            .collect();
        // Replies arrive oldest first, so each parent's list is in reading order.
        let mut children: HashMap<&MessageId, Vec<&ClassMessage>> = HashMap::new();
        for reply in replies {
            if let Some(parent) = &reply.parent_message_id {
                children.entry(parent).or_default().push(reply);
            }
        }
        let answer = root
            .answer_id
            .as_ref()
            .and_then(|id| replies.iter().find(|m| &m.id == id))
            .and_then(AnswerView::of);
        let mut messages = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![(root, 0usize)];
        while let Some((message, depth)) = stack.pop() {
            if !seen.insert(&message.id) {
                continue;
            }
            let parent = message
                .parent_message_id
                .as_ref()
                .and_then(|id| by_id.get(id).copied());
            let mut view = self.view(message, depth, parent);
            view.is_answer = answer.as_ref().is_some_and(|a| a.id == message.id);
            view.op = op_of(message, root) && !view.mine;
            if message.id == root.id {
                view.answer = answer.clone();
            }
            messages.push(view);
            if let Some(kids) = children.get(&message.id) {
                stack.extend(kids.iter().rev().map(|kid| (*kid, depth + 1)));
            }
        }
        Thread { messages }
    }

    fn view(
        &self,
        message: &ClassMessage,
        depth: usize,
        parent: Option<&ClassMessage>,
    ) -> MessageView {
        let mine = !message.deleted && message.user_id.as_ref() == Some(self.viewer);
        // Someone else's held message shows only where it was edited into
        // held under replies, and then as hidden.
        let held = message.held && (mine || self.sees_held);
        let body = if message.deleted {
            Body::Deleted
        } else if message.hidden || (message.held && !held) {
            Body::Hidden
        } else {
            Body::Text(message.content.clone())
        };
        // A held message takes no reply, vote, report or answer mark.
        let shown = matches!(body, Body::Text(_));
        let live = shown && !message.held;
        let flagged_by_me = self.flagged.contains(&message.id);
        let replying_to = match parent {
            Some(p) if !p.deleted => Some(p.anonymous_identifier.clone()),
            Some(_) => Some("[deleted]".to_string()),
            None if depth > MAX_INDENT => Some("[deleted]".to_string()),
            None => None,
        };
        MessageView {
            id: message.id.clone(),
            thread_id: message
                .thread_root_id
                .clone()
                .unwrap_or_else(|| message.id.clone()),
            parent_id: message.parent_message_id.clone(),
            pseudonym: (!message.deleted).then(|| message.anonymous_identifier.clone()),
            body,
            mine,
            edited: message.edited_at.is_some() && !message.deleted,
            created_at: message.created_at,
            depth,
            indent: depth.min(MAX_INDENT),
            replying_to,
            flagged_by_me,
            op: false,
            can_reply: live,
            can_edit: mine && shown && self.now - message.created_at <= self.rules.edit_window,
            can_delete: mine,
            can_flag: live && !mine && !flagged_by_me,
            votes: message.vote_count,
            voted_by_me: self.voted.contains(&message.id),
            can_vote: live && message.user_id.as_ref() != Some(self.viewer),
            is_answer: false,
            can_mark_answer: live && self.marker && message.parent_message_id.is_some(),
            answer: None,
            held,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_refuses_garbage() {
        let cursor = Cursor {
            last_activity_at: crate::clock::now(),
            id: MessageId::new(),
            votes: None,
        };
        assert_eq!(Cursor::parse(&cursor.encode()), Some(cursor.clone()));
        assert!(cursor.fits(Sort::Activity) && !cursor.fits(Sort::Top));
        let top = Cursor {
            votes: Some(12),
            ..cursor
        };
        assert_eq!(Cursor::parse(&top.encode()), Some(top.clone()));
        assert!(top.fits(Sort::Top) && !top.fits(Sort::Unanswered));
        for garbage in [
            "",
            "_",
            "12",
            "abc_def",
            "1_not-a-uuid",
            "99999999999999999999999_00000000-0000-4000-8000-000000000000",
            "1\0_x",
            "v_1_00000000-0000-4000-8000-000000000000",
            "v-1.1_00000000-0000-4000-8000-000000000000",
            "v99999999999.1_00000000-0000-4000-8000-000000000000",
            "v1_00000000-0000-4000-8000-000000000000",
        ] {
            assert_eq!(Cursor::parse(garbage), None, "{garbage:?}");
        }
    }
}
