//! What staff do to a message, as chat's own writes: hide, restore (dismissing
//! its reports), dismiss its reports alone, remove for good, and release a held
//! message to its class. Moderation calls these inside its audited transaction;
//! it never writes `class_messages` or `message_flags` itself.
//! Each takes the class lock before writing and records the change for live pages.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::events::{self, EventKind};
use super::MessageId;
use crate::db::schema::class_messages;
use crate::db::{DbConn, Tx};

/// The message, with its class locked; None if it is gone.
fn locked(tx: &mut Tx, id: &MessageId) -> QueryResult<Option<super::ClassMessage>> {
    let Some(message) = super::find(tx, id)? else {
        return Ok(None);
    };
    super::lock_class(tx, &message.class_id)?;
    Ok(Some(message))
}

/// The message as it stands once its class is locked (read again after the
/// lock: a staff action decided on the state read before it could act on a
/// state another moderator has just changed); None if it is gone.
pub fn current(tx: &mut Tx, id: &MessageId) -> QueryResult<Option<super::ClassMessage>> {
    if locked(tx, id)?.is_none() {
        return Ok(None);
    }
    super::find(tx, id)
}

/// Hides a message from students, or keeps hidden one that reports hid: a
/// moderator's decision, so its waiting reports are marked reviewed (kept,
/// and no longer waiting in the queue).
pub fn hide(tx: &mut Tx, id: &MessageId, now: NaiveDateTime) -> QueryResult<usize> {
    let Some(message) = locked(tx, id)? else {
        return Ok(0);
    };
    super::flags::dismiss_waiting_reports(tx, id, now)?;
    let conn: &mut DbConn = tx;
    // A hidden thread leaves the pins (a restore does not pin it again).
    let n = diesel::update(class_messages::table.find(id))
        .set((
            class_messages::hidden.eq(true),
            class_messages::updated_at.eq(now),
            class_messages::pinned_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    if !message.hidden {
        events::record(tx, &message, EventKind::Hide, now)?;
    }
    Ok(n)
}

/// Shows a message again and dismisses its reports: they are kept as reviewed
/// and no longer count.
pub fn restore(tx: &mut Tx, id: &MessageId, now: NaiveDateTime) -> QueryResult<usize> {
    let Some(message) = locked(tx, id)? else {
        return Ok(0);
    };
    super::flags::dismiss_reports(tx, id, now)?;
    let conn: &mut DbConn = tx;
    let n = diesel::update(class_messages::table.find(id))
        .set((
            class_messages::hidden.eq(false),
            class_messages::flagged_count.eq(0),
            class_messages::updated_at.eq(now),
        ))
        .execute(conn)?;
    if message.hidden {
        events::record(tx, &message, EventKind::Restore, now)?;
    }
    forget_erased_evidence(tx, &message)?;
    Ok(n)
}

/// An erased student's message kept only as evidence for a review (see
/// `personal_data::erase_user`) keeps its text and pseudonym until the review
/// ends; ended by a restore or a dismissal (the reports were wrong), they go,
/// as they would have at the erasure had no report waited.
fn forget_erased_evidence(tx: &mut Tx, message: &super::ClassMessage) -> QueryResult<()> {
    if message.user_id.is_some() || !message.deleted {
        return Ok(());
    }
    let conn: &mut DbConn = tx;
    diesel::delete(
        crate::db::schema::message_revisions::table
            .filter(crate::db::schema::message_revisions::message_id.eq(&message.id)),
    )
    .execute(&mut *conn)?;
    diesel::update(class_messages::table.find(&message.id))
        .set(class_messages::anonymous_identifier.eq(super::personal_data::PLACEHOLDER_PSEUDONYM))
        .execute(conn)?;
    Ok(())
}

/// Dismisses a message's reports and leaves the message as it is: the
/// reports were wrong. Writes only when a report waits for review (a second
/// press changes nothing), and records no event: students see no change.
pub fn dismiss(tx: &mut Tx, id: &MessageId, now: NaiveDateTime) -> QueryResult<usize> {
    let Some(message) = locked(tx, id)? else {
        return Ok(0);
    };
    let n = super::flags::dismiss_waiting_reports(tx, id, now)?;
    if n > 0 {
        forget_erased_evidence(tx, &message)?;
    }
    Ok(n)
}

/// Removes a message's text from students for good: it stays as a shown
/// "[deleted]" placeholder so its replies keep their place, and its reports
/// are dismissed. The text is kept as a version for moderators only
/// (`staff_removal`): a mistaken removal can be read again, an appeal has the
/// words; the author's erasure deletes it with the rest.
pub fn remove(tx: &mut Tx, id: &MessageId, now: NaiveDateTime) -> QueryResult<usize> {
    let Some(message) = locked(tx, id)? else {
        return Ok(0);
    };
    let root = message.thread_root_id.as_ref().unwrap_or(&message.id);
    let seen = super::Seen::of(tx, [root])?;
    if !message.deleted {
        super::revisions::keep(tx, &message, super::RevisionEnd::StaffRemoval, now)?;
    }
    super::flags::dismiss_reports(tx, id, now)?;
    // Before the tombstone clears the answer mark: an answer removed must
    // redraw its thread's answer box on open pages (`events::record`).
    events::record(tx, &message, EventKind::Delete, now)?;
    let n = super::tombstone(tx, id, now)?;
    let conn: &mut DbConn = tx;
    // A removed thread leaves the pins too (an author's own delete does
    // not: a pin is a moderator's to lift, and is audited).
    diesel::update(class_messages::table.find(id))
        .set((
            class_messages::hidden.eq(false),
            class_messages::pinned_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    crate::notifications::chat::message_gone(tx, id, now)?;
    // What left every page with it looks gone for good (`Seen::settle`), as
    // after an author's delete.
    seen.settle(tx, &super::told_by_delete(&message), now)?;
    Ok(n)
}

/// A held post's text as the moderator's queue showed it, for the release
/// form to carry back: a release goes through only for the text that was
/// read (its author may edit a held post meanwhile).
pub fn fingerprint(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(text.as_bytes())[..16])
}

/// What a release came to.
#[derive(Debug)]
pub enum Release {
    /// Released; the message as it was.
    Released(Box<super::ClassMessage>),
    /// Gone, not held, or removed (a removed held message stays held for good).
    NotHeld,
    /// Its text is no longer the text the moderator read (`fingerprint`).
    Changed,
    /// It replies to a message hidden, removed or held since.
    ParentGone,
}

/// Releases a held message to the class: from now on everyone sees it, as if
/// posted now. What was held back happens here, in the release's transaction:
/// the live event (which also indexes it for search), the thread's bump, and
/// the reply and follow notices. Only the text the moderator read, by its
/// `fingerprint` (`shown`), is released.
pub fn release(
    tx: &mut Tx,
    id: &MessageId,
    shown: &str,
    now: NaiveDateTime,
) -> QueryResult<Release> {
    // As it stands under the lock: its author may have deleted or edited it meanwhile.
    let Some(message) = current(tx, id)? else {
        return Ok(Release::NotHeld);
    };
    if !message.held || message.deleted {
        return Ok(Release::NotHeld);
    }
    if fingerprint(&message.content) != shown {
        return Ok(Release::Changed);
    }
    // Released, it reads as posted now, and no reply can be posted now under
    // a hidden or removed message. (Whether its author could post now, being
    // suspended or gone from the class, is deliberately not asked: a refusal
    // would tell the moderator something of who wrote it, and suspending a
    // suspect then pressing Release would name the author without a reveal.
    // The moderator judges the words, which were posted while they could.)
    if let Some(parent_id) = &message.parent_message_id {
        let shown = super::find(tx, parent_id)?.is_some_and(|p| !p.deleted && !p.hidden && !p.held);
        if !shown {
            return Ok(Release::ParentGone);
        }
    }
    // It is timed as posted now (after the class's newest message), so every
    // read mark set while it was held leaves it unread and "new" for the class.
    let at = super::post::next_instant(tx, &message.class_id, now)?;
    let conn: &mut DbConn = tx;
    diesel::update(class_messages::table.find(id))
        .set((
            class_messages::held.eq(false),
            class_messages::created_at.eq(at),
            class_messages::last_activity_at.eq(at),
            class_messages::updated_at.eq(now),
        ))
        .execute(&mut *conn)?;
    let thread = message.thread_root_id.as_ref().unwrap_or(&message.id);
    // The thread moves up as if the message came now; never back in time.
    diesel::update(class_messages::table.find(thread))
        .filter(class_messages::last_activity_at.lt(at))
        .set(class_messages::last_activity_at.eq(at))
        .execute(conn)?;
    let released = super::find(tx, id)?.ok_or(diesel::result::Error::NotFound)?;
    let kind = match released.thread_root_id {
        None => {
            crate::notifications::chat::on_thread(tx, &released, now)?;
            EventKind::Thread
        }
        Some(_) => {
            // A reply held after it was shown (by an edit, before
            // `chat::edit` stopped) told its readers when it was first
            // posted; those notices wait (quiet) and speak again now. Only a
            // reply held from the start is new to them.
            if !crate::notifications::chat::any_about(tx, &released.id)? {
                crate::notifications::chat::on_reply(tx, &released, now)?;
            }
            EventKind::Reply
        }
    };
    events::record(tx, &released, kind, now)?;
    Ok(Release::Released(Box::new(message)))
}
