//! Reading a class chat: the class page's data in a fixed number of queries
//! (the class, enrollment, meetings, a keyset page of threads, all their replies,
//! the viewer's reports), shaped into threads for display. The views carry a
//! pseudonym and a "mine" mark; an author's user id never leaves this module.

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

/// Where a page of threads starts: just older than this thread's first message.
/// Pages by (time, id), so messages posted meanwhile never shift a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: NaiveDateTime,
    pub id: MessageId,
}

impl Cursor {
    /// `<microseconds since 1970>_<message id>`, for the "older" link.
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
        Some(Cursor {
            created_at,
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

/// One page of a class's chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatPage {
    pub threads: Vec<Thread>,
    /// Where the next (older) page starts, if there is one.
    pub older: Option<Cursor>,
    /// Whether this is the newest page.
    pub newest: bool,
}

/// The class page: the section, its meetings, and its chat if the viewer takes it.
#[derive(Debug, Clone)]
pub struct ClassPage {
    pub class: Class,
    pub meetings: Vec<ClassMeeting>,
    /// None when the viewer is not enrolled: they get no message at all.
    pub chat: Option<ChatPage>,
}

/// Loads the class page for `viewer`, in six queries whatever the number of
/// messages: class, enrollment, meetings, threads, replies, the viewer's reports.
pub fn class_page(
    conn: &mut DbConn,
    viewer: &UserId,
    class_id: &ClassId,
    before: Option<&Cursor>,
    rules: &Rules,
    now: NaiveDateTime,
) -> Result<ClassPage, ChatError> {
    let class = classes::find(conn, class_id)?.ok_or(ChatError::ClassNotFound)?;
    let enrolled = classes::is_enrolled(conn, viewer, class_id)?;
    let meetings = classes::meetings_of(conn, std::slice::from_ref(class_id))?;
    let chat = if enrolled {
        Some(chat_page(conn, viewer, class_id, before, rules, now)?)
    } else {
        None
    };
    Ok(ClassPage {
        class,
        meetings,
        chat,
    })
}

fn chat_page(
    conn: &mut DbConn,
    viewer: &UserId,
    class_id: &ClassId,
    before: Option<&Cursor>,
    rules: &Rules,
    now: NaiveDateTime,
) -> QueryResult<ChatPage> {
    let mut roots = root_page(conn, class_id, before)?;
    let older = if roots.len() as i64 > PAGE_SIZE {
        roots.truncate(PAGE_SIZE as usize);
        roots.last().map(|m| Cursor {
            created_at: m.created_at,
            id: m.id.clone(),
        })
    } else {
        None
    };
    let root_ids: Vec<MessageId> = roots.iter().map(|m| m.id.clone()).collect();
    // Every reply of these threads, however deep, in one indexed query.
    let replies: Vec<ClassMessage> = class_messages::table
        .filter(class_messages::thread_root_id.eq_any(&root_ids))
        .order((class_messages::created_at.asc(), class_messages::id.asc()))
        .select(ClassMessage::as_select())
        .load(conn)?;
    // Reports waiting for review: once a moderator reviewed one, its reporter may
    // report the message again (the moderators hear of it; it does not count).
    let flagged: HashSet<MessageId> = message_flags::table
        .inner_join(class_messages::table)
        .filter(message_flags::user_id.eq(viewer))
        .filter(message_flags::cleared_at.is_null())
        .filter(
            class_messages::id
                .eq_any(&root_ids)
                .or(class_messages::thread_root_id.eq_any(&root_ids)),
        )
        .select(message_flags::message_id)
        .load::<MessageId>(conn)?
        .into_iter()
        .collect();
    let shape = Shape {
        viewer,
        flagged: &flagged,
        rules,
        now,
    };
    Ok(ChatPage {
        threads: shape.threads(roots, replies),
        older,
        newest: before.is_none(),
    })
}

/// Up to `PAGE_SIZE + 1` thread-starting messages, newest first, older than `before`.
fn root_page(
    conn: &mut DbConn,
    class_id: &ClassId,
    before: Option<&Cursor>,
) -> QueryResult<Vec<ClassMessage>> {
    let query = class_messages::table
        .filter(class_messages::class_id.eq(class_id))
        .filter(class_messages::parent_message_id.is_null())
        .order((class_messages::created_at.desc(), class_messages::id.desc()))
        .limit(PAGE_SIZE + 1)
        .select(ClassMessage::as_select());
    match before {
        None => query.load(conn),
        Some(cursor) => query
            .filter(
                class_messages::created_at
                    .lt(cursor.created_at)
                    .or(class_messages::created_at
                        .eq(cursor.created_at)
                        .and(class_messages::id.lt(&cursor.id))),
            )
            .load(conn),
    }
}

/// Turns rows into what one viewer may see.
struct Shape<'a> {
    viewer: &'a UserId,
    flagged: &'a HashSet<MessageId>,
    rules: &'a Rules,
    now: NaiveDateTime,
}

impl Shape<'_> {
    fn threads(&self, roots: Vec<ClassMessage>, replies: Vec<ClassMessage>) -> Vec<Thread> {
        let by_id: HashMap<&MessageId, &ClassMessage> = replies
            .iter()
            .chain(roots.iter())
            .map(|m| (&m.id, m))
            .collect();
        // Replies arrive oldest first, so each parent's list is in reading order.
        let mut children: HashMap<&MessageId, Vec<&ClassMessage>> = HashMap::new();
        for reply in &replies {
            if let Some(parent) = &reply.parent_message_id {
                children.entry(parent).or_default().push(reply);
            }
        }
        roots
            .iter()
            .map(|root| {
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
            })
            .collect()
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
            created_at: crate::clock::now(),
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
