//! Reading a class chat: the class page's list of threads by latest activity
//! (a keyset page, with reply counts and what is new to the viewer) and one
//! thread's page (which marks it read), each in a fixed number of queries
//! whatever the number of threads and replies. The views carry a pseudonym and
//! a "mine" mark; an author's user id never leaves this module.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDateTime};
use diesel::prelude::*;

use super::{ChatError, ClassMessage, MessageId, Rules};
use crate::accounts::UserId;
use crate::classes::{self, Class, ClassId, ClassMeeting};
use crate::db::schema::{class_messages, message_flags};
use crate::db::DbConn;

/// Threads per page.
pub const PAGE_SIZE: i64 = 50;
/// Replies are indented up to this depth; deeper ones show at it, saying whom they answer.
pub const MAX_INDENT: usize = 3;

/// Where a page of threads starts: just older (by latest activity) than this
/// thread. Pages by (last activity, id), so a page link keeps working; a thread
/// bumped meanwhile moves to the first page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub last_activity_at: NaiveDateTime,
    pub id: MessageId,
}

impl Cursor {
    /// `<microseconds since 1970>_<message id>`, for the "older" link.
    pub fn encode(&self) -> String {
        format!(
            "{}_{}",
            self.last_activity_at.and_utc().timestamp_micros(),
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
        let last_activity_at = DateTime::from_timestamp_micros(micros)?.naive_utc();
        Some(Cursor {
            last_activity_at,
            id: MessageId::parse(id)?,
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
    /// For replies deeper than `MAX_INDENT`: the pseudonym replied to ("[deleted]" if gone).
    pub replying_to: Option<String>,
    pub flagged_by_me: bool,
    pub can_reply: bool,
    pub can_edit: bool,
    pub can_delete: bool,
    pub can_flag: bool,
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
}

/// One page of a class's thread list, by latest activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadList {
    pub threads: Vec<ThreadSummary>,
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
    /// None when the viewer is not enrolled: they get no message at all.
    pub chat: Option<ThreadList>,
}

/// One whole thread, for its own page.
#[derive(Debug, Clone)]
pub struct ThreadPage {
    pub class: Class,
    pub thread: Thread,
    /// Messages that were new to the viewer before this page marked them read.
    pub new_ids: HashSet<MessageId>,
    pub latest_event: i64,
}

/// What the list needs of a reply: no text, and its author only as "mine".
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct ReplyStat {
    pub thread_id: Option<MessageId>,
    pub created_at: NaiveDateTime,
    pub user_id: Option<UserId>,
    pub deleted: bool,
    pub hidden: bool,
}

/// Loads the class page for `viewer`, in a fixed number of queries whatever the
/// number of threads and replies.
pub fn class_page(
    conn: &mut DbConn,
    viewer: &UserId,
    class_id: &ClassId,
    before: Option<&Cursor>,
    rules: &Rules,
    now: NaiveDateTime,
) -> Result<ClassPage, ChatError> {
    let class = classes::find(conn, class_id)?.ok_or(ChatError::ClassNotFound)?;
    let enrolled_at = classes::enrolled_at(conn, viewer, class_id)?;
    let meetings = classes::meetings_of(conn, std::slice::from_ref(class_id))?;
    let chat = match enrolled_at {
        Some(joined) => Some(thread_list(
            conn, viewer, class_id, joined, before, rules, now,
        )?),
        None => None,
    };
    Ok(ClassPage {
        class,
        meetings,
        chat,
    })
}

fn thread_list(
    conn: &mut DbConn,
    viewer: &UserId,
    class_id: &ClassId,
    joined: NaiveDateTime,
    before: Option<&Cursor>,
    rules: &Rules,
    now: NaiveDateTime,
) -> QueryResult<ThreadList> {
    let latest_event = super::events::latest(conn, class_id)?;
    let mut roots = root_page(conn, class_id, before)?;
    let older = if roots.len() as i64 > PAGE_SIZE {
        roots.truncate(PAGE_SIZE as usize);
        roots.last().map(|m| Cursor {
            last_activity_at: m.last_activity_at,
            id: m.id.clone(),
        })
    } else {
        None
    };
    let root_ids: Vec<MessageId> = roots.iter().map(|m| m.id.clone()).collect();
    let replies = reply_stats(conn, &root_ids)?;
    let marks = super::reads::marks(conn, viewer, class_id, joined, &root_ids, now)?;
    let flagged = flagged_by(conn, viewer, &root_ids, &[])?;
    let threads = roots
        .iter()
        .map(|root| {
            let stats = replies.get(&root.id).map(Vec::as_slice).unwrap_or(&[]);
            let mut summary = summary_of(root, stats, viewer, rules, now);
            summary.opening.flagged_by_me = flagged.contains(&root.id);
            summary.opening.can_flag &= !summary.opening.flagged_by_me;
            let mark = marks.for_thread(&root.id);
            summary.unread = std::iter::once((
                root.created_at,
                root.user_id.as_ref(),
                root.deleted,
                root.hidden,
            ))
            .chain(
                stats
                    .iter()
                    .map(|r| (r.created_at, r.user_id.as_ref(), r.deleted, r.hidden)),
            )
            .filter(|(at, author, deleted, hidden)| {
                *at > mark && *author != Some(viewer) && !deleted && !hidden
            })
            .count();
            summary
        })
        .collect();
    Ok(ThreadList {
        threads,
        older,
        newest: before.is_none(),
        latest_event,
    })
}

/// The replies of these threads, without their text, grouped by thread, oldest first.
pub fn reply_stats(
    conn: &mut DbConn,
    thread_ids: &[MessageId],
) -> QueryResult<HashMap<MessageId, Vec<ReplyStat>>> {
    let rows: Vec<ReplyStat> = class_messages::table
        .filter(class_messages::thread_root_id.eq_any(thread_ids))
        .order((class_messages::created_at.asc(), class_messages::id.asc()))
        .select((
            class_messages::thread_root_id,
            class_messages::created_at,
            class_messages::user_id,
            class_messages::deleted,
            class_messages::hidden,
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

/// A thread's list row for `viewer`, with `unread` left at 0 for the caller.
pub fn summary_of(
    root: &ClassMessage,
    replies: &[ReplyStat],
    viewer: &UserId,
    rules: &Rules,
    now: NaiveDateTime,
) -> ThreadSummary {
    ThreadSummary {
        opening: view_of(root, viewer, false, rules, now),
        replies: replies.iter().filter(|r| !r.deleted).count(),
        last_activity_at: root.last_activity_at,
        unread: 0,
    }
}

/// Loads one thread for `viewer` and marks it read: its page shows every message.
/// A thread of another class, or a reply's id, is `MessageNotFound`.
pub fn thread_page(
    conn: &mut DbConn,
    viewer: &UserId,
    class_id: &ClassId,
    thread_id: &MessageId,
    rules: &Rules,
    now: NaiveDateTime,
) -> Result<ThreadPage, ChatError> {
    let class = classes::find(conn, class_id)?.ok_or(ChatError::ClassNotFound)?;
    let joined =
        classes::enrolled_at(conn, viewer, class_id)?.ok_or_else(|| ChatError::NotEnrolled {
            class_id: class_id.clone(),
        })?;
    let root = super::find(conn, thread_id)?
        .filter(|m| &m.class_id == class_id && m.parent_message_id.is_none())
        .ok_or(ChatError::MessageNotFound)?;
    let latest_event = super::events::latest(conn, class_id)?;
    let replies: Vec<ClassMessage> = class_messages::table
        .filter(class_messages::thread_root_id.eq(thread_id))
        .order((class_messages::created_at.asc(), class_messages::id.asc()))
        .select(ClassMessage::as_select())
        .load(conn)?;
    let ids: Vec<MessageId> = replies.iter().map(|m| m.id.clone()).collect();
    let flagged = flagged_by(conn, viewer, std::slice::from_ref(thread_id), &ids)?;
    let mark = super::reads::marks(
        conn,
        viewer,
        class_id,
        joined,
        std::slice::from_ref(thread_id),
        now,
    )?
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
            m.created_at > mark && m.user_id.as_ref() != Some(viewer) && !m.deleted && !m.hidden
        })
        .map(|m| m.id.clone())
        .collect();
    if newest > mark {
        super::reads::mark_thread(conn, viewer, class_id, thread_id, newest)?;
    }
    let shape = Shape {
        viewer,
        flagged: &flagged,
        rules,
        now,
    };
    let thread = shape.thread(&root, &replies);
    Ok(ThreadPage {
        class,
        thread,
        new_ids,
        latest_event,
    })
}

/// Reports by `viewer` waiting for review, on these threads' first messages and
/// on these messages. Once a moderator reviewed one, its reporter may report
/// the message again (the moderators hear of it; it does not count).
fn flagged_by(
    conn: &mut DbConn,
    viewer: &UserId,
    roots: &[MessageId],
    others: &[MessageId],
) -> QueryResult<HashSet<MessageId>> {
    Ok(message_flags::table
        .filter(message_flags::user_id.eq(viewer))
        .filter(message_flags::cleared_at.is_null())
        .filter(
            message_flags::message_id
                .eq_any(roots)
                .or(message_flags::message_id.eq_any(others)),
        )
        .select(message_flags::message_id)
        .load::<MessageId>(conn)?
        .into_iter()
        .collect())
}

/// Up to `PAGE_SIZE + 1` threads of the class, latest activity first, older than `before`.
fn root_page(
    conn: &mut DbConn,
    class_id: &ClassId,
    before: Option<&Cursor>,
) -> QueryResult<Vec<ClassMessage>> {
    let query = class_messages::table
        .filter(class_messages::class_id.eq(class_id))
        .filter(class_messages::parent_message_id.is_null())
        .order((
            class_messages::last_activity_at.desc(),
            class_messages::id.desc(),
        ))
        .limit(PAGE_SIZE + 1)
        .select(ClassMessage::as_select());
    match before {
        None => query.load(conn),
        Some(cursor) => query
            .filter(
                class_messages::last_activity_at
                    .lt(cursor.last_activity_at)
                    .or(class_messages::last_activity_at
                        .eq(cursor.last_activity_at)
                        .and(class_messages::id.lt(&cursor.id))),
            )
            .load(conn),
    }
}

/// One message as `viewer` may see it, at the given depth, with no parent to name.
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
    let shape = Shape {
        viewer,
        flagged: &flagged,
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
            messages.push(self.view(message, depth, parent));
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
        let body = if message.deleted {
            Body::Deleted
        } else if message.hidden {
            Body::Hidden
        } else {
            Body::Text(message.content.clone())
        };
        let live = matches!(body, Body::Text(_));
        let mine = !message.deleted && message.user_id.as_ref() == Some(self.viewer);
        let flagged_by_me = self.flagged.contains(&message.id);
        let replying_to = (depth > MAX_INDENT).then(|| match parent {
            Some(p) if !p.deleted => p.anonymous_identifier.clone(),
            _ => "[deleted]".to_string(),
        });
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
            can_reply: live,
            can_edit: mine && live && self.now - message.created_at <= self.rules.edit_window,
            can_delete: mine,
            can_flag: live && !mine && !flagged_by_me,
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
        };
        assert_eq!(Cursor::parse(&cursor.encode()), Some(cursor));
        for garbage in [
            "",
            "_",
            "12",
            "abc_def",
            "1_not-a-uuid",
            "99999999999999999999999_00000000-0000-4000-8000-000000000000",
            "1\0_x",
        ] {
            assert_eq!(Cursor::parse(garbage), None, "{garbage:?}");
        }
    }
}
