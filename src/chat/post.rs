//! Writing to a class chat: posting (with its limits), editing within the edit
//! window, and deleting your own messages without breaking other people's threads.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::events::{self, EventKind};
use super::{
    has_replies, kept_up, lock_class, naming, pseudonym, visible_message, ChatError, ClassMessage,
    MessageBody, MessageId, NewClassMessage, Rules,
};
use crate::accounts::{self, rate_limit, User, UserId};
use crate::classes::{self, ClassId};
use crate::db::schema::class_messages;
use crate::db::{self, DbConn, Tx};
use crate::notifications;

/// What a student asks to post: where, in reply to what, and the checked text.
#[derive(Debug, Clone, Copy)]
pub struct Draft<'a> {
    pub class_id: &'a ClassId,
    pub parent_id: Option<&'a MessageId>,
    pub body: &'a MessageBody,
}

/// Posts a message (or a reply) as `author`, refusing a draft that names a
/// person (`ChatError::NamesSomeone`): see `post_confirming`.
pub fn post(
    conn: &mut DbConn,
    author: &User,
    draft: Draft<'_>,
    rules: &Rules,
    now: NaiveDateTime,
) -> Result<ClassMessage, ChatError> {
    post_confirming(conn, author, draft, false, rules, now)
}

/// Posts a message (or a reply) as `author`. The limits, the pseudonym choice and
/// the insert run in one write transaction with the class locked. A draft that
/// names a person is refused with what it names unless `confirm_naming` (the
/// author saw the warning and posts anyway): then it is stored held, and nothing
/// a classmate could notice happens until a moderator releases it (no event,
/// no search entry, no notice, no bump of the thread).
// Stays whole: every check runs under the class lock in this order before the
// insert, and that order is the rule (a split would hide which ran first).
pub fn post_confirming(
    conn: &mut DbConn,
    author: &User,
    draft: Draft<'_>,
    confirm_naming: bool,
    rules: &Rules,
    now: NaiveDateTime,
) -> Result<ClassMessage, ChatError> {
    if let Some(until) = author.suspended_at(now) {
        return Err(ChatError::Suspended { until });
    }
    let posted = db::write_tx(conn, |tx| {
        // The author's row first (an erasure takes it before the classes): a
        // post racing its author's erasure either lands before it, and is
        // erased with the rest, or finds the account gone; one racing a
        // suspension sees it.
        match accounts::hold_standing(tx, &author.id, now)? {
            accounts::Standing::Active => {}
            accounts::Standing::Suspended(until) => return Err(ChatError::Suspended { until }),
            accounts::Standing::Gone => {
                return Err(ChatError::NotEnrolled {
                    class_id: draft.class_id.clone(),
                })
            }
        }
        lock_class(tx, draft.class_id)?;
        if classes::find(tx, draft.class_id)?.is_none() {
            return Err(ChatError::ClassNotFound);
        }
        if !classes::is_enrolled(tx, &author.id, draft.class_id)? {
            return Err(ChatError::NotEnrolled {
                class_id: draft.class_id.clone(),
            });
        }
        let thread_root_id = match draft.parent_id {
            None => None,
            Some(parent_id) => {
                let parent = super::find(tx, parent_id)?
                    .filter(|p| &p.class_id == draft.class_id)
                    .ok_or(ChatError::ParentNotInClass)?;
                if parent.held {
                    // Someone else's held message is not there at all.
                    return Err(if parent.user_id.as_ref() == Some(&author.id) {
                        ChatError::Held
                    } else {
                        ChatError::ParentNotInClass
                    });
                }
                if parent.deleted || parent.hidden {
                    return Err(ChatError::ParentRemoved);
                }
                Some(parent.thread_root_id.unwrap_or(parent.id))
            }
        };
        // A thread's page shows all of it: past this many replies it would be
        // megabytes on a phone (and on every live update), so a conversation
        // that long goes on in a new thread.
        if let Some(root) = &thread_root_id {
            // Counted as the class's page shows the thread (`shown_to_class`):
            // a held reply, or a deleted one kept for moderators (so
            // reported), must not make it "full" at 499 shown replies, and
            // the "[deleted]" placeholders the page keeps above replies do
            // count, so the page stays bounded.
            // What the page shows is never more than the thread's rows: one
            // COUNT settles every thread short of the limit, and only one at
            // it reads its shape.
            let rows: i64 = class_messages::table
                .filter(class_messages::thread_root_id.eq(root))
                .count()
                .get_result(&mut **tx)?;
            if rows >= MAX_REPLIES {
                let replies = super::shown_to_class(tx, root)?
                    .map_or(0, |(_, shown)| shown.len().saturating_sub(1));
                if replies as i64 >= MAX_REPLIES {
                    return Err(ChatError::ThreadFull);
                }
            }
        }
        // Every refusal that does not depend on whom the draft names comes
        // before the naming check: a draft the limits would refuse is refused
        // the same whether it names a member or not, so a name that matches
        // no one is never answered for free.
        refuse_repeat(tx, author, draft, rules, now)?;
        let limits = post_limits(&author.id, draft.class_id, rules);
        within(tx, &limits, now)?;
        let held = match naming_verdict(
            tx,
            &author.id,
            draft.class_id,
            draft.body,
            confirm_naming,
            rules,
            now,
        )? {
            Verdict::Warn(findings) => {
                return Ok(Written::Warned {
                    findings,
                    holdable: true,
                })
            }
            Verdict::Hold(held) => Some(held),
            Verdict::Clear => None,
        };
        // Counted in the same transaction: a post refused above leaves no
        // hit behind in any bucket.
        count(tx, &limits, now)?;
        let anonymous_identifier =
            pseudonym::assign(tx, &rules.secret, &author.id, draft.class_id, now)?;
        // Within a class, times only go forward: a message is never older than
        // the one before it, so "newer than what I read" is exact.
        let at = next_instant(tx, draft.class_id, now)?;
        let id = MessageId::new();
        let mut message = super::insert(
            tx,
            &NewClassMessage {
                id: &id,
                class_id: draft.class_id,
                user_id: Some(&author.id),
                anonymous_identifier: &anonymous_identifier,
                content: draft.body.as_str(),
                parent_message_id: draft.parent_id,
                thread_root_id: thread_root_id.as_ref(),
                flagged_count: 0,
                hidden: false,
                deleted: false,
                created_at: at,
                updated_at: at,
                last_activity_at: at,
            },
        )?;
        if let Some(held) = held {
            hold(tx, &mut message, held)?;
            return Ok(Written::Message(Box::new(message)));
        }
        let kind = match &thread_root_id {
            None => {
                notifications::chat::on_thread(tx, &message, now)?;
                EventKind::Thread
            }
            Some(root) => {
                diesel::update(class_messages::table.find(root))
                    .set(class_messages::last_activity_at.eq(at))
                    .execute(&mut **tx)?;
                // The replier follows the thread; its followers hear of the reply.
                notifications::chat::on_reply(tx, &message, now)?;
                EventKind::Reply
            }
        };
        // New: nobody's answer yet.
        events::record_alone(tx, &message, kind, at)?;
        Ok(Written::Message(Box::new(message)))
    });
    posted.and_then(Written::message)
}

/// What the naming check decided about a draft.
enum Verdict {
    /// It names no one (or the check is off).
    Clear,
    /// It names someone and its author confirmed: it is stored held.
    Hold(Held),
    /// It names someone and its author has not confirmed: nothing is stored
    /// but the count of the warning; the author is told what it names.
    Warn(naming::Findings),
}

/// Why a message is held: the reason its author and moderators read, and
/// the members it names (user ids, for moderators only).
struct Held {
    reason: String,
    members: Vec<UserId>,
}

/// What a post or an edit's transaction ends with: the message, or a
/// warning whose count it committed.
enum Written {
    Message(Box<ClassMessage>),
    /// Whether confirming would store it held (`ChatError::NamesSomeone`).
    Warned {
        findings: naming::Findings,
        holdable: bool,
    },
}

impl Written {
    fn message(self) -> Result<ClassMessage, ChatError> {
        match self {
            Written::Message(message) => Ok(*message),
            Written::Warned { findings, holdable } => {
                Err(ChatError::NamesSomeone { findings, holdable })
            }
        }
    }
}

/// The naming check's verdict on a draft, in the post's or the edit's
/// transaction. A match against the class's roster (a member's display
/// name) tells whether someone of that name takes the class, so each name
/// newly matched, warned or held, is counted (`Rules::naming_warnings_per_hour`,
/// every class together); past the hour's count every draft is refused,
/// naming someone or not, so the refusal says nothing about the draft. The bucket is
/// locked from the read to the count: drafts sent at once wait their turn.
fn naming_verdict(
    tx: &mut Tx,
    author: &UserId,
    class_id: &ClassId,
    body: &MessageBody,
    confirmed: bool,
    rules: &Rules,
    now: NaiveDateTime,
) -> Result<Verdict, ChatError> {
    if !rules.check_naming {
        return Ok(Verdict::Clear);
    }
    let user = author.as_str();
    let bucket = format!("chat-naming-warned:{user}");
    let (limit, window) = (rules.naming_warnings_per_hour, Duration::hours(1));
    rate_limit::lock(tx, &bucket)?;
    if let Some(limited) = rate_limit::reached(tx, &bucket, limit, window, now)? {
        return Err(ChatError::NamingWarnings {
            retry_at: limited.retry_at,
        });
    }
    let findings = naming::check(tx, author, class_id, body.as_str())?;
    if findings.is_empty() {
        return Ok(Verdict::Clear);
    }
    // A draft warned for an address or a number anyway is told only that,
    // and answers nothing of the roster. Told its roster match too, a probe
    // ("Ada Lovelace x@y.co") would read "names a classmate and contains…"
    // or only "contains…" by whether Ada takes the class, for free (such
    // warnings cost nothing: they say nothing of who takes it). The name is
    // answered, and counted, once the address is out, as any name is.
    if !confirmed && !findings.roster_keys().is_empty() && findings.beyond_names() {
        return Ok(Verdict::Warn(findings.without_roster()));
    }
    // Names are counted, not drafts: a name answered in this class in the
    // last hour (its own bucket, one row an hour) costs nothing more, so a
    // classmate whose display name is a common word ("The", "Will") cannot
    // lock a student out by being matched in every sentence. The class is in
    // the key: a name answered in one class is a new answer in another.
    let class = class_id.as_str();
    for key in findings.roster_keys() {
        let name_bucket = format!("chat-naming-name:{user}:{class}:{key}");
        if rate_limit::reached(tx, &name_bucket, 1, window, now)?.is_none() {
            // `bucket` was read below its limit under the lock held since.
            rate_limit::record(tx, &name_bucket, now)?;
            rate_limit::record(tx, &bucket, now)?;
        }
    }
    Ok(if confirmed {
        Verdict::Hold(Held {
            reason: findings.to_string(),
            members: findings.named_members().to_vec(),
        })
    } else {
        Verdict::Warn(findings)
    })
}

/// Marks a just-written message held, with its reason and, for moderators,
/// the members it names (`held_names`: user ids, space-separated).
fn hold(tx: &mut Tx, message: &mut ClassMessage, held: Held) -> QueryResult<()> {
    let names = (!held.members.is_empty()).then(|| {
        held.members
            .iter()
            .map(UserId::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    });
    diesel::update(class_messages::table.find(&message.id))
        .set((
            class_messages::held.eq(true),
            class_messages::held_reason.eq(Some(&held.reason)),
            class_messages::held_names.eq(names),
        ))
        .execute(&mut **tx)?;
    message.held = true;
    message.held_reason = Some(held.reason);
    Ok(())
}

/// `now`, or just after the class's newest message if that is later (another
/// process's clock may run a little ahead). Also a released held post's time.
pub(super) fn next_instant(
    conn: &mut DbConn,
    class_id: &ClassId,
    now: NaiveDateTime,
) -> QueryResult<NaiveDateTime> {
    let newest: Option<NaiveDateTime> = class_messages::table
        .filter(class_messages::class_id.eq(class_id))
        .select(diesel::dsl::max(class_messages::created_at))
        .first(conn)?;
    Ok(match newest {
        Some(newest) if newest >= now => newest + Duration::microseconds(1),
        _ => now,
    })
}

/// The same student posting the same text in the same class again, moments later,
/// is almost always a double submit or spam.
fn refuse_repeat(
    conn: &mut DbConn,
    author: &User,
    draft: Draft<'_>,
    rules: &Rules,
    now: NaiveDateTime,
) -> Result<(), ChatError> {
    let last_same: Option<NaiveDateTime> = class_messages::table
        .filter(class_messages::class_id.eq(draft.class_id))
        .filter(class_messages::user_id.eq(&author.id))
        .filter(class_messages::content.eq(draft.body.as_str()))
        .filter(class_messages::deleted.eq(false))
        .filter(class_messages::created_at.gt(now - rules.duplicate_window))
        .order(class_messages::created_at.desc())
        .select(class_messages::created_at)
        .first(conn)
        .optional()?;
    match last_same {
        Some(at) => Err(ChatError::Duplicate {
            retry_at: at + rules.duplicate_window,
        }),
        None => Ok(()),
    }
}

/// Replaces the text of the editor's own message, refusing new text that names
/// a person (`ChatError::NamesSomeone`): see `edit_confirming`.
pub fn edit(
    conn: &mut DbConn,
    editor: &UserId,
    message_id: &MessageId,
    body: &MessageBody,
    rules: &Rules,
    now: NaiveDateTime,
) -> Result<ClassMessage, ChatError> {
    edit_confirming(conn, editor, message_id, body, false, rules, now)
}

/// Replaces the text of the editor's own message, within the edit window. The
/// text it replaces is kept for the moderators when the message is under report.
/// New text that names a person is refused (`ChatError::NamesSomeone`). Only a
/// message the class never saw, one held already, takes such text with
/// `confirm_naming`, and stays held. One the class has read is not taken back
/// into review by its author: it would leave the class's pages with no line in
/// the public moderation log, which a moderator's hide has, and so tell the
/// class its author named someone. Its author takes the name out, or deletes
/// it and posts again (a new post that names someone is held before anyone
/// sees it).
pub fn edit_confirming(
    conn: &mut DbConn,
    editor: &UserId,
    message_id: &MessageId,
    body: &MessageBody,
    confirm_naming: bool,
    rules: &Rules,
    now: NaiveDateTime,
) -> Result<ClassMessage, ChatError> {
    let edited = db::write_tx(conn, |tx| {
        // As for a post: a suspension that landed since the request began counts.
        if let accounts::Standing::Suspended(until) = accounts::hold_standing(tx, editor, now)? {
            return Err(ChatError::Suspended { until });
        }
        let class_id = visible_message(tx, editor, message_id)?.class_id;
        lock_class(tx, &class_id)?;
        // Read again under the lock: a moderator's hide or removal, or a
        // release, may have committed since the read above (on PostgreSQL).
        let mut message = visible_message(tx, editor, message_id)?;
        if message.user_id.as_ref() != Some(editor) {
            return Err(ChatError::NotYours);
        }
        if message.deleted || message.hidden {
            return Err(ChatError::Removed);
        }
        if now - message.created_at > rules.edit_window {
            return Err(ChatError::EditWindowClosed);
        }
        if message.content == body.as_str() {
            return Ok(Written::Message(Box::new(message)));
        }
        // As for posts: the limits refuse before the naming check can answer.
        let limits = edit_limits(editor, rules);
        within(tx, &limits, now)?;
        let holdable = message.held;
        let held = match naming_verdict(
            tx,
            editor,
            &message.class_id,
            body,
            confirm_naming && holdable,
            rules,
            now,
        )? {
            Verdict::Warn(findings) => return Ok(Written::Warned { findings, holdable }),
            Verdict::Hold(held) => Some(held),
            Verdict::Clear => None,
        };
        count(tx, &limits, now)?;
        // A reported message is evidence: its author must not be able to edit
        // away what the reporters saw.
        if super::revisions::is_evidence(tx, &message)? {
            super::revisions::keep(tx, &message, super::RevisionEnd::Edit, now)?;
        }
        diesel::update(class_messages::table.find(&message.id))
            .set((
                class_messages::content.eq(body.as_str()),
                class_messages::edited_at.eq(Some(now)),
                class_messages::updated_at.eq(now),
            ))
            .execute(&mut **tx)?;
        message.content = body.as_str().to_string();
        message.edited_at = Some(now);
        message.updated_at = now;
        // Held already (the only kind an edit holds): nothing anyone else
        // sees changes; moderators read what the new words name.
        if let Some(held) = held {
            hold(tx, &mut message, held)?;
        }
        events::record(tx, &message, EventKind::Edit, now)?;
        Ok(Written::Message(Box::new(message)))
    });
    edited.and_then(Written::message)
}

/// One sliding-window limit on a student's writing: its bucket, `limit` hits
/// per `window`, and the refusal it makes of the time to try again.
struct Limit {
    bucket: String,
    limit: u32,
    window: Duration,
    refusal: fn(NaiveDateTime) -> ChatError,
}

/// The most replies one thread takes.
pub const MAX_REPLIES: i64 = 500;

/// A post's limits: one per `post_interval` and `posts_per_hour` in the
/// class, `posts_per_hour_anywhere` across classes (checked last, so one
/// class's refusal does not spend the campus-wide allowance).
fn post_limits(author: &UserId, class_id: &ClassId, rules: &Rules) -> [Limit; 3] {
    let (class, user) = (class_id.as_str(), author.as_str());
    [
        Limit {
            bucket: format!("chat-post-burst:{class}:{user}"),
            limit: 1,
            window: rules.post_interval,
            refusal: |retry_at| ChatError::TooFast { retry_at },
        },
        Limit {
            bucket: format!("chat-post-hour:{class}:{user}"),
            limit: rules.posts_per_hour,
            window: Duration::hours(1),
            refusal: |retry_at| ChatError::HourlyLimit { retry_at },
        },
        Limit {
            bucket: format!("chat-post-hour-anywhere:{user}"),
            limit: rules.posts_per_hour_anywhere,
            window: Duration::hours(1),
            refusal: |retry_at| ChatError::HourlyLimitAnywhere { retry_at },
        },
    ]
}

/// An edit's limits, every class together (an edit is one student's,
/// wherever it lands): one per `post_interval`, `posts_per_hour` an hour.
fn edit_limits(editor: &UserId, rules: &Rules) -> [Limit; 2] {
    let user = editor.as_str();
    [
        Limit {
            bucket: format!("chat-edit-burst:{user}"),
            limit: 1,
            window: rules.post_interval,
            refusal: |retry_at| ChatError::EditTooFast { retry_at },
        },
        Limit {
            bucket: format!("chat-edit-hour:{user}"),
            limit: rules.posts_per_hour,
            window: Duration::hours(1),
            refusal: |retry_at| ChatError::EditHourlyLimit { retry_at },
        },
    ]
}

/// Refuses, recording nothing, when any of `limits` is already reached. Each
/// bucket is locked from here to its `count`, so a request racing this one
/// (an edit in another class) cannot fill it after it was read: a draft
/// that passes here is refused by no limit after the naming check.
fn within(tx: &mut Tx, limits: &[Limit], now: NaiveDateTime) -> Result<(), ChatError> {
    for l in limits {
        rate_limit::lock(tx, &l.bucket)?;
        if let Some(limited) = rate_limit::reached(tx, &l.bucket, l.limit, l.window, now)? {
            return Err((l.refusal)(limited.retry_at));
        }
    }
    Ok(())
}

/// One hit in each of `limits`, which `within` read below their limits and
/// locked for the rest of the transaction: nothing to read again.
fn count(tx: &mut Tx, limits: &[Limit], now: NaiveDateTime) -> QueryResult<()> {
    for l in limits {
        rate_limit::record(tx, &l.bucket, now)?;
    }
    Ok(())
}

/// What deleting did to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// It had no replies and is gone.
    Removed,
    /// It stays as a "[deleted]" placeholder: it has replies (its text is erased),
    /// or it is under report (its text is kept for the moderators only).
    Placeholder,
}

/// Deletes the author's own message, at any time (even after leaving the class).
/// A message with replies becomes a placeholder so the thread survives; one
/// without goes, and so do placeholders above it that no longer hold up a reply.
/// A message under report or hidden is evidence: it leaves students' view the
/// same way, but its row, its reports and its text (as a kept version) stay for
/// the moderators, and the audit log records the delete.
/// `audit_evidence` writes that audit row, in this transaction: the audit log is
/// moderation's, and chat sits below moderation, so the caller hands it in.
/// Returns the message's class, for the way back.
pub fn delete(
    conn: &mut DbConn,
    author: &UserId,
    message_id: &MessageId,
    now: NaiveDateTime,
    audit_evidence: impl FnOnce(&mut Tx, &ClassMessage) -> QueryResult<usize>,
) -> Result<(ClassId, Deletion), ChatError> {
    db::write_tx(conn, |tx| {
        let message = super::find(tx, message_id)?.ok_or(ChatError::MessageNotFound)?;
        if message.user_id.as_ref() != Some(author) {
            // Someone else's: say so only to a classmate, who can see it
            // anyway: not a held or deleted message no page shows them
            // (`unseen`), which is not there for them.
            return Err(
                if classes::is_enrolled(tx, author, &message.class_id)?
                    && !super::unseen(tx, author, &message)?
                {
                    ChatError::NotYours
                } else {
                    ChatError::MessageNotFound
                },
            );
        }
        // A reply posted meanwhile must not be cascaded away with its parent.
        lock_class(tx, &message.class_id)?;
        // Read again under the lock: a release or a moderator's removal may
        // have committed since the read above (on PostgreSQL), and the event
        // must go out for the message as it is now (`record` sends none for
        // a held one).
        let message = super::find(tx, message_id)?.ok_or(ChatError::MessageNotFound)?;
        if message.deleted {
            return Ok((message.class_id, Deletion::Placeholder));
        }
        let root = message.thread_root_id.as_ref().unwrap_or(&message.id);
        let seen = super::Seen::of(tx, [root])?;
        events::record(tx, &message, EventKind::Delete, now)?;
        crate::notifications::chat::message_gone(tx, &message.id, now)?;
        let deletion = remove_or_keep(tx, author, &message, now, audit_evidence)?;
        // What left every page with it looks gone for good (`Seen::settle`).
        seen.settle(tx, &super::told_by_delete(&message), now)?;
        Ok((message.class_id, deletion))
    })
}

/// The delete itself, under the class's lock: a message under report or
/// hidden is kept for moderators, one with replies becomes a placeholder,
/// any other goes, with the placeholders above it that hold up nothing else.
fn remove_or_keep(
    tx: &mut Tx,
    author: &UserId,
    message: &ClassMessage,
    now: NaiveDateTime,
    audit_evidence: impl FnOnce(&mut Tx, &ClassMessage) -> QueryResult<usize>,
) -> Result<Deletion, ChatError> {
    // A placeholder its author's thread page does not show (nothing they
    // see stands under it: `kept_up`) is, to them, removed.
    let kept = |tx: &mut Tx| -> QueryResult<Deletion> {
        Ok(if kept_up(tx, author, false, message)? {
            Deletion::Placeholder
        } else {
            Deletion::Removed
        })
    };
    if super::revisions::is_evidence(tx, message)? {
        super::revisions::keep(tx, message, super::RevisionEnd::AuthorDelete, now)?;
        super::tombstone(tx, &message.id, now)?;
        audit_evidence(tx, message)?;
        return Ok(kept(tx)?);
    }
    if has_replies(tx, &message.id)? {
        super::tombstone(tx, &message.id, now)?;
        return Ok(kept(tx)?);
    }
    diesel::delete(class_messages::table.find(&message.id)).execute(&mut **tx)?;
    super::prune_placeholders(tx, message.parent_message_id.clone())?;
    Ok(Deletion::Removed)
}
