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
    /// Held replies of the touched threads, loaded only when a loaded message
    /// is held or deleted: whether it still shows to a viewer turns on what
    /// is under it (their own held reply included).
    held_replies: HashMap<MessageId, Vec<HeldReply>>,
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
/// in at most eight queries whatever their number (the eighth only when a
/// loaded message is held or deleted).
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
    let mut held_replies: HashMap<MessageId, Vec<HeldReply>> = HashMap::new();
    if messages.values().any(|m| m.held || m.deleted) {
        let rows: Vec<(Option<MessageId>, HeldReply)> = class_messages::table
            .filter(class_messages::thread_root_id.eq_any(&thread_ids))
            .filter(class_messages::held.eq(true))
            .select((
                class_messages::thread_root_id,
                (
                    class_messages::id,
                    class_messages::parent_message_id,
                    class_messages::user_id,
                    class_messages::deleted,
                ),
            ))
            .load(conn)?;
        for (thread, reply) in rows {
            if let Some(thread) = thread {
                held_replies.entry(thread).or_default().push(reply);
            }
        }
    }
    Ok(LiveBatch {
        events,
        messages,
        replies,
        held_replies,
        voters,
        reporters,
    })
}

/// A held reply, as far as deciding what shows above it: (id, parent,
/// author, deleted).
type HeldReply = (MessageId, Option<MessageId>, Option<UserId>, bool);

/// Whether a reply `viewer` sees is under `message` (anywhere in its thread
/// for a first message, else somewhere down its chain of replies), as the
/// thread page decides it: one not deleted, and not held unless the viewer's.
fn shown_below(
    message: &ClassMessage,
    replies: &[threads::ReplyStat],
    held: &[HeldReply],
    viewer: &UserId,
) -> bool {
    // (id, parent, seen by the viewer) of every reply, held ones included.
    let nodes: Vec<(&MessageId, Option<&MessageId>, bool)> = replies
        .iter()
        .map(|r| (&r.id, r.parent_id.as_ref(), !r.deleted))
        .chain(held.iter().map(|(id, parent, author, deleted)| {
            (
                id,
                parent.as_ref(),
                !deleted && author.as_ref() == Some(viewer),
            )
        }))
        .collect();
    if message.parent_message_id.is_none() {
        return nodes.iter().any(|(_, _, seen)| *seen);
    }
    let parent_of: HashMap<&MessageId, &MessageId> = nodes
        .iter()
        .filter_map(|(id, parent, _)| Some((*id, (*parent)?)))
        .collect();
    nodes
        .iter()
        .filter(|(_, _, seen)| *seen)
        .any(|(_, parent, _)| {
            let mut up = *parent;
            while let Some(id) = up {
                if id == &message.id {
                    return true;
                }
                up = parent_of.get(id).copied();
            }
            false
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
                let replies = self
                    .replies
                    .get(&e.thread_id)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                // Someone else's message held after it was shown (by an edit,
                // before `chat::edit` stopped) is on the viewer's
                // page only above a reply the class sees (as a hidden one);
                // with nothing under it, it is gone, as after a reload, and
                // the `Hide` that took it away must not say "hidden by
                // moderation" (which would tell the class it is held).
                let held = self
                    .held_replies
                    .get(&e.thread_id)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                // Likewise a "[deleted]" placeholder: kept with nothing the
                // viewer sees under it (as evidence of a report or a reveal
                // asked), a reload does not show it, and neither may news.
                let seen = |m: &&ClassMessage| {
                    let below = || shown_below(m, replies, held, viewer);
                    (!m.held || m.user_id.as_ref() == Some(viewer) || below())
                        && (!m.deleted || below())
                };
                let message = self.messages.get(&e.message_id).filter(seen);
                let root = self.messages.get(&e.thread_id);
                let view = message.map(|m| self.view(m, root, viewer, rules, now));
                // A deleted opening post with no reply the viewer sees (their
                // own held ones count) leaves the list, as the page has it.
                let listed = root.filter(seen);
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
