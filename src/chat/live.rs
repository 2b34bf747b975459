//! Live pages' view of chat events: a batch of events loaded once per process
//! (the events, the messages they name, the threads they touched) and shaped
//! for each open stream's own student without another query. The batch holds
//! authors and voters only to decide "mine" and "voted by me" per viewer;
//! nothing it hands out names one.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::events::{self, ChatEvent, EventKind};
use super::threads::{self, AnswerView, ThreadSummary};
use super::{votes, ClassMessage, MessageId, MessageView, Rules};
use crate::accounts::UserId;
use crate::classes::ClassId;
use crate::db::schema::class_messages;
use crate::db::DbConn;

/// Events of one class after some point, with what they need to be shown.
#[derive(Debug, Clone, Default)]
pub struct LiveBatch {
    events: Vec<ChatEvent>,
    /// The messages the events name, the first message of each thread touched,
    /// and those threads' answers.
    messages: HashMap<MessageId, ClassMessage>,
    /// Replies of each touched thread: (thread, created_at, deleted, hidden).
    replies: HashMap<MessageId, Vec<threads::ReplyStat>>,
    /// (message, voter) of every vote on the messages the events name.
    voters: HashSet<(MessageId, UserId)>,
    /// Who reported which of them (reports a moderator has not cleared), so
    /// a redrawn message keeps "You reported this message." for its reporter.
    reporters: HashSet<(MessageId, UserId)>,
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
/// in at most seven queries whatever their number.
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
    let mut messages: HashMap<MessageId, ClassMessage> =
        rows.into_iter().map(|m| (m.id.clone(), m)).collect();
    // A thread's first message shows its answer: load those not loaded yet.
    let answers: Vec<MessageId> = messages
        .values()
        .filter_map(|m| m.answer_id.clone())
        .filter(|id| !messages.contains_key(id))
        .collect();
    if !answers.is_empty() {
        let rows: Vec<ClassMessage> = class_messages::table
            .filter(class_messages::id.eq_any(&answers))
            .select(ClassMessage::as_select())
            .load(conn)?;
        messages.extend(rows.into_iter().map(|m| (m.id.clone(), m)));
    }
    let voters = votes::voters_of(conn, &ids)?;
    let reporters = super::flags::reporters_of(conn, &ids)?;
    let mut thread_ids: Vec<MessageId> = events.iter().map(|e| e.thread_id.clone()).collect();
    thread_ids.sort();
    thread_ids.dedup();
    let replies = threads::reply_stats(conn, &thread_ids)?;
    Ok(LiveBatch {
        events,
        messages,
        replies,
        voters,
        reporters,
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
                let root = self.messages.get(&e.thread_id);
                let view = message.map(|m| self.view(m, root, viewer, rules, now));
                let replies = self
                    .replies
                    .get(&e.thread_id)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                // A deleted opening post with no reply the class sees (held
                // ones are not loaded) leaves the list, as the page has it.
                let listed = root.filter(|r| !r.deleted || replies.iter().any(|s| !s.deleted));
                let thread = listed.map(|root| {
                    let mut summary = threads::summary_of(root, replies, viewer, rules, now);
                    summary.opening.voted_by_me = self.voted(&root.id, viewer);
                    summary
                });
                // New to the viewer: someone else's message that the class
                // still sees as the batch is read (one deleted, hidden or
                // held since the event is not, nor the viewer's own).
                let shown_from_another = message.is_some_and(|m| {
                    m.user_id.as_ref() != Some(viewer) && !m.deleted && !m.hidden && !m.held
                });
                LiveEvent {
                    seq: e.seq,
                    kind: e.kind,
                    thread_id: e.thread_id.clone(),
                    message_id: e.message_id.clone(),
                    parent_id: message.and_then(|m| m.parent_message_id.clone()),
                    message: view,
                    thread,
                    new_for_viewer: matches!(e.kind, EventKind::Thread | EventKind::Reply)
                        && shown_from_another,
                }
            })
            .collect()
    }

    fn voted(&self, message: &MessageId, viewer: &UserId) -> bool {
        self.voters.contains(&(message.clone(), viewer.clone()))
    }

    /// A message as the viewer's page shows it: with their vote, whether it is
    /// its thread's answer (and may be marked so by its starter), and on a
    /// first message the answer shown under it. Staff's own "mark as answer"
    /// buttons come with the next page load (the stream does not know roles).
    fn view(
        &self,
        message: &ClassMessage,
        root: Option<&ClassMessage>,
        viewer: &UserId,
        rules: &Rules,
        now: NaiveDateTime,
    ) -> MessageView {
        let reported = self
            .reporters
            .contains(&(message.id.clone(), viewer.clone()));
        let mut view = threads::view_of(message, viewer, reported, rules, now);
        view.voted_by_me = self.voted(&message.id, viewer);
        let Some(root) = root else {
            return view;
        };
        let answer = root
            .answer_id
            .as_ref()
            .and_then(|id| self.messages.get(id))
            .and_then(AnswerView::of);
        view.is_answer = message.parent_message_id.is_some()
            && answer.as_ref().is_some_and(|a| a.id == message.id);
        view.op = threads::op_of(message, root) && !view.mine;
        let starter = !root.deleted && root.user_id.as_ref() == Some(viewer);
        view.can_mark_answer = starter
            && message.parent_message_id.is_some()
            && matches!(view.body, threads::Body::Text(_));
        if message.id == root.id {
            view.answer = answer;
        }
        view
    }
}
