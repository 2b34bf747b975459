//! Live pages' view of chat events: a batch of events loaded once per process
//! (the events, the messages they name, the threads they touched) and shaped
//! for each open stream's own student without another query. The batch holds
//! authors only to decide "mine" per viewer; nothing it hands out names one.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::events::{self, ChatEvent, EventKind};
use super::threads::{self, ThreadSummary};
use super::{ClassMessage, MessageId, MessageView, Rules};
use crate::accounts::UserId;
use crate::classes::ClassId;
use crate::db::schema::class_messages;
use crate::db::DbConn;

/// Events of one class after some point, with what they need to be shown.
#[derive(Debug, Clone, Default)]
pub struct LiveBatch {
    events: Vec<ChatEvent>,
    /// The messages the events name, and the first message of each thread touched.
    messages: HashMap<MessageId, ClassMessage>,
    /// Replies of each touched thread: (thread, created_at, deleted, hidden).
    replies: HashMap<MessageId, Vec<threads::ReplyStat>>,
}

/// One event as one student may see it.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    pub seq: i64,
    pub kind: EventKind,
    pub thread_id: MessageId,
    pub message_id: MessageId,
    /// The message as it is now; None when it is gone.
    pub message: Option<MessageView>,
    /// The message it answers, for placing a reply.
    pub parent_id: Option<MessageId>,
    /// The thread's row for the list page, as it is now (its `unread` is 0:
    /// the page adds `new_for_viewer` to the count it shows); None when gone.
    pub thread: Option<ThreadSummary>,
    /// A new thread or reply by someone else: the page marks it new.
    pub new_for_viewer: bool,
}

/// Loads the class's events after `after` (at most `limit`) and what they show,
/// in four queries whatever their number.
pub fn load(
    conn: &mut DbConn,
    class_id: &ClassId,
    after: i64,
    limit: i64,
) -> QueryResult<LiveBatch> {
    let events = events::since(conn, class_id, after, limit)?;
    if events.is_empty() {
        return Ok(LiveBatch::default());
    }
    let mut ids: Vec<&MessageId> = events.iter().map(|e| &e.message_id).collect();
    ids.extend(events.iter().map(|e| &e.thread_id));
    ids.sort();
    ids.dedup();
    let rows: Vec<ClassMessage> = class_messages::table
        .filter(class_messages::id.eq_any(&ids))
        .select(ClassMessage::as_select())
        .load(conn)?;
    let messages: HashMap<MessageId, ClassMessage> =
        rows.into_iter().map(|m| (m.id.clone(), m)).collect();
    let mut thread_ids: Vec<MessageId> = events.iter().map(|e| e.thread_id.clone()).collect();
    thread_ids.sort();
    thread_ids.dedup();
    let replies = threads::reply_stats(conn, &thread_ids)?;
    Ok(LiveBatch {
        events,
        messages,
        replies,
    })
}

impl LiveBatch {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The last event's sequence number.
    pub fn last_seq(&self) -> Option<i64> {
        self.events.last().map(|e| e.seq)
    }

    /// The events, as `viewer` may see them; `after` skips those already sent.
    pub fn views_for(
        &self,
        viewer: &UserId,
        after: i64,
        rules: &Rules,
        now: NaiveDateTime,
    ) -> Vec<LiveEvent> {
        self.events
            .iter()
            .filter(|e| e.seq > after)
            .map(|e| {
                let message = self.messages.get(&e.message_id);
                let view = message.map(|m| threads::view_of(m, viewer, false, rules, now));
                let thread = self.messages.get(&e.thread_id).map(|root| {
                    let replies = self
                        .replies
                        .get(&e.thread_id)
                        .map(Vec::as_slice)
                        .unwrap_or(&[]);
                    threads::summary_of(root, replies, viewer, rules, now)
                });
                let by_viewer = message.is_some_and(|m| m.user_id.as_ref() == Some(viewer));
                LiveEvent {
                    seq: e.seq,
                    kind: e.kind,
                    thread_id: e.thread_id.clone(),
                    message_id: e.message_id.clone(),
                    parent_id: message.and_then(|m| m.parent_message_id.clone()),
                    message: view,
                    thread,
                    new_for_viewer: matches!(e.kind, EventKind::Thread | EventKind::Reply)
                        && !by_viewer,
                }
            })
            .collect()
    }
}
