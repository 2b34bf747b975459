//! Reports ("flags"): a classmate reports a message once; when enough different
//! students have, the message is hidden until a moderator restores or confirms it.
//! Who reported is never shown to students, authors included.
//!
//! So that a small group cannot abuse this, a report counts toward the automatic
//! hide only when it comes from a student who joined the class at least
//! `Rules::report_min_membership` before reporting, and has not been reviewed:
//! a moderator's restore (or dismissal) marks the message's reports cleared and
//! keeps them. Those reporters cannot count again on that message; a report from
//! one of them reaches the moderators' queue but does not count. The message can
//! still be hidden by the threshold of *new* reporters: "stays restored for good"
//! would let its author edit a cleared message into something abusive, or let a
//! message a whole class later objects to stay up until a moderator looks again.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::{lock, visible_message, ChatError, FlagReason, MessageId, Rules};
use crate::accounts::{self, UserId};
use crate::classes::{self, ClassId};
use crate::db::schema::{class_messages, message_flags};
use crate::db::{self, DbConn, Tx};
use crate::notifications::{self, Kind, Notice};

/// What a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOutcome {
    /// Stored for the moderators; `hidden` tells whether the message is now hidden.
    /// Whether it counted toward the automatic hide is not told: a student must
    /// not learn how their report weighed.
    Flagged { hidden: bool },
    /// This student's report is already waiting for review: nothing changed.
    AlreadyFlagged,
}

/// A report as the moderators see it (without the reporter's identity).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = message_flags)]
pub struct Report {
    pub message_id: MessageId,
    pub reason: Option<String>,
    pub created_at: NaiveDateTime,
    /// Whether it counted toward the automatic hide when made.
    pub counted: bool,
    /// When a moderator reviewed it (restored the message or dismissed its reports).
    pub cleared_at: Option<NaiveDateTime>,
    /// When its reporter reported the message again after that review.
    pub reported_again_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = message_flags)]
struct NewReport<'a> {
    message_id: &'a MessageId,
    user_id: &'a UserId,
    reason: Option<&'a str>,
    created_at: NaiveDateTime,
    counted: bool,
}

/// Reports a message on behalf of `flagger`, with no log of an automatic hide
/// (imports and tests; the web hands in moderation's log through
/// `flag_and_record`). Returns the message's class, for the way back.
pub fn flag(
    conn: &mut DbConn,
    flagger: &UserId,
    message_id: &MessageId,
    reason: &FlagReason,
    rules: &Rules,
    now: NaiveDateTime,
) -> Result<(ClassId, FlagOutcome), ChatError> {
    flag_and_record(conn, flagger, message_id, reason, rules, now, |_, _, _| {
        Ok(0)
    })
}

/// Reports a message on behalf of `flagger`; when this report hides it,
/// `record_hide` writes that in the report's transaction (moderation's log,
/// handed in so chat does not depend on moderation). Returns the message's
/// class, for the way back.
// Stays whole: the checks, whether the report counts, and the automatic hide
// are one transaction whose order is the rule.
pub fn flag_and_record(
    conn: &mut DbConn,
    flagger: &UserId,
    message_id: &MessageId,
    reason: &FlagReason,
    rules: &Rules,
    now: NaiveDateTime,
    record_hide: impl FnOnce(&mut Tx, &super::ClassMessage, NaiveDateTime) -> QueryResult<usize>,
) -> Result<(ClassId, FlagOutcome), ChatError> {
    db::write_tx(conn, |tx| {
        // The reporter's row first, read again under the hold: a suspension
        // committing meanwhile uncounted the reports it could see, so this one
        // must see the suspension (or wait for it) rather than count after it.
        match accounts::hold_standing(tx, flagger, now)? {
            accounts::Standing::Active => {}
            accounts::Standing::Suspended(until) => return Err(ChatError::Suspended { until }),
            accounts::Standing::Gone => return Err(ChatError::MessageNotFound),
        }
        let conn: &mut DbConn = tx;
        let message = visible_message(conn, flagger, message_id)?;
        if message.user_id.as_ref() == Some(flagger) {
            return Err(ChatError::OwnMessage);
        }
        if message.deleted {
            return Err(ChatError::Removed);
        }
        // None: never reported it; Some(None): waiting for review; Some(Some(_)): reviewed.
        let earlier: Option<Option<NaiveDateTime>> = message_flags::table
            .find((&message.id, flagger))
            .select(message_flags::cleared_at)
            .first(conn)
            .optional()?;
        if earlier == Some(None) {
            return Ok((message.class_id, FlagOutcome::AlreadyFlagged));
        }
        // Serialize one student's reports so two at once cannot pass the daily limit.
        lock(conn, &format!("chat-flag:{flagger}"))?;
        // And the class's writers, before any row is written (a hide is an event).
        super::lock_class(conn, &message.class_id)?;
        // Read again under the lock: a report, a moderator or its author may
        // have hidden or removed it while this one waited (two reports at the
        // threshold would otherwise both hide it, logging and telling it twice).
        let message = super::find(conn, message_id)?.ok_or(ChatError::MessageNotFound)?;
        if message.deleted {
            return Err(ChatError::Removed);
        }
        refuse_over_daily_limit(conn, flagger, rules, now)?;
        let outcome = FlagOutcome::Flagged {
            hidden: message.hidden,
        };
        if earlier.is_some() {
            // Reported again after a moderator's review: the moderators hear of
            // it, but the same students must not hide the message a second time.
            let new_reason = reason.as_deref();
            let row = message_flags::table.find((&message.id, flagger));
            match new_reason {
                Some(text) => diesel::update(row)
                    .set((
                        message_flags::cleared_at.eq(None::<NaiveDateTime>),
                        message_flags::counted.eq(false),
                        message_flags::reported_again_at.eq(Some(now)),
                        message_flags::reason.eq(Some(text)),
                    ))
                    .execute(conn)?,
                None => diesel::update(row)
                    .set((
                        message_flags::cleared_at.eq(None::<NaiveDateTime>),
                        message_flags::counted.eq(false),
                        message_flags::reported_again_at.eq(Some(now)),
                    ))
                    .execute(conn)?,
            };
            return Ok((message.class_id, outcome));
        }
        let joined = classes::enrolled_at(conn, flagger, &message.class_id)?;
        // A held message (shown to the class, if at all, as hidden) is before
        // the moderators already: its report waits for them and hides
        // nothing, for a hide by reports would tell the class it was held
        // (no hidden message can be hidden again).
        let counted =
            !message.held && joined.is_some_and(|at| at + rules.report_min_membership <= now);
        let inserted =
            crate::on_each_backend!(conn, |c| diesel::insert_into(message_flags::table)
                .values(&NewReport {
                    message_id: &message.id,
                    user_id: flagger,
                    reason: reason.as_deref(),
                    created_at: now,
                    counted,
                })
                .on_conflict_do_nothing()
                .execute(c))?;
        if inserted == 0 {
            return Ok((message.class_id, FlagOutcome::AlreadyFlagged));
        }
        if !counted {
            // A newcomer's report waits for a moderator: a group that joins a
            // class to hide a message cannot do it on arrival.
            return Ok((message.class_id, outcome));
        }
        // One report per student per message (the primary key), so the count is of
        // distinct reporters whose reports count and were not reviewed yet.
        let count: i32 = diesel::update(class_messages::table.find(&message.id))
            .set((
                class_messages::flagged_count.eq(class_messages::flagged_count + 1),
                class_messages::updated_at.eq(now),
            ))
            .returning(class_messages::flagged_count)
            .get_result(conn)?;
        let reached = i64::from(count) >= i64::from(rules.flag_hide_threshold);
        if reached && !message.hidden {
            diesel::update(class_messages::table.find(&message.id))
                .set(class_messages::hidden.eq(true))
                .execute(conn)?;
            super::events::record(tx, &message, super::EventKind::Hide, now)?;
            record_hide(tx, &message, now)?;
            // Its author hears that it is hidden, not who reported it or how many.
            if let Some(author) = message.user_id.as_ref() {
                let thread = message.thread_root_id.as_ref().unwrap_or(&message.id);
                notifications::notify(
                    tx,
                    &Notice::new(author, Kind::MessageHidden, now).about_message(
                        &message.class_id,
                        thread,
                        &message.id,
                    ),
                )?;
            }
        }
        Ok((
            message.class_id,
            FlagOutcome::Flagged {
                hidden: reached || message.hidden,
            },
        ))
    })
}

/// Stops counting toward automatic hides the reports `reporter` made that
/// still count (counted, not reviewed): each message's count drops by one and
/// the reports are marked as not counting. For a suspended account (its
/// reports stay in the moderators' queue, so two brigaders suspended for it
/// cannot hide a post together with one more classmate) and an erased one
/// (whose reports are deleted next). A message already hidden stays hidden:
/// restoring it is a moderator's call. Returns how many reports stopped.
///
/// The reports first, then their messages: the order a moderator's decision
/// takes them in (`dismiss_reports`), so the two cannot deadlock on
/// PostgreSQL, each holding a row the other waits for.
pub fn uncount_reports_by(tx: &mut Tx, reporter: &UserId) -> QueryResult<usize> {
    let conn: &mut DbConn = tx;
    let uncounted: Vec<MessageId> = crate::on_each_backend!(conn, |c| diesel::update(
        message_flags::table
            .filter(message_flags::user_id.eq(reporter))
            .filter(message_flags::counted.eq(true))
            .filter(message_flags::cleared_at.is_null()),
    )
    .set(message_flags::counted.eq(false))
    .returning(message_flags::message_id)
    .get_results(c))?;
    for chunk in uncounted.chunks(500) {
        diesel::update(
            class_messages::table
                .filter(class_messages::id.eq_any(chunk))
                .filter(class_messages::flagged_count.gt(0)),
        )
        .set(class_messages::flagged_count.eq(class_messages::flagged_count - 1))
        .execute(&mut *conn)?;
    }
    Ok(uncounted.len())
}

/// At most `flags_per_day` reports (first reports and reports again) per student per day.
fn refuse_over_daily_limit(
    conn: &mut DbConn,
    flagger: &UserId,
    rules: &Rules,
    now: NaiveDateTime,
) -> Result<(), ChatError> {
    let window = Duration::days(1);
    let start = now - window;
    let rows: Vec<(NaiveDateTime, Option<NaiveDateTime>)> = message_flags::table
        .filter(message_flags::user_id.eq(flagger))
        .filter(
            message_flags::created_at
                .gt(start)
                .or(message_flags::reported_again_at.gt(start)),
        )
        .select((message_flags::created_at, message_flags::reported_again_at))
        .load(conn)?;
    let mut recent: Vec<NaiveDateTime> = rows
        .into_iter()
        .flat_map(|(first, again)| [Some(first), again])
        .flatten()
        .filter(|at| *at > start)
        .collect();
    recent.sort();
    let limit = rules.flags_per_day.max(1) as usize;
    if recent.len() >= limit {
        // The window frees up when the oldest report that still counts ages out.
        return Err(ChatError::FlagLimit {
            retry_at: recent[recent.len() - limit] + window,
        });
    }
    Ok(())
}

/// Every report on these messages, reviewed ones included, oldest first.
pub fn reports_on(conn: &mut DbConn, ids: &[MessageId]) -> QueryResult<Vec<Report>> {
    message_flags::table
        .filter(message_flags::message_id.eq_any(ids))
        .order((message_flags::created_at, message_flags::user_id))
        .select(Report::as_select())
        .load(conn)
}

/// Dismisses a message's reports: marks them reviewed at `now` (they are kept,
/// and no longer count) and resets its count.
pub fn dismiss_reports(
    tx: &mut Tx,
    message_id: &MessageId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let conn: &mut DbConn = tx;
    let cleared = diesel::update(
        message_flags::table
            .filter(message_flags::message_id.eq(message_id))
            .filter(message_flags::cleared_at.is_null()),
    )
    .set(message_flags::cleared_at.eq(Some(now)))
    .execute(conn)?;
    diesel::update(class_messages::table.find(message_id))
        .set(class_messages::flagged_count.eq(0))
        .execute(conn)?;
    Ok(cleared)
}

/// Dismisses a message's reports only if any waits for review, so a dismissal
/// of a message with none writes nothing. Returns how many it marked reviewed.
pub fn dismiss_waiting_reports(
    tx: &mut Tx,
    message_id: &MessageId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let conn: &mut DbConn = tx;
    let waiting: i64 = message_flags::table
        .filter(message_flags::message_id.eq(message_id))
        .filter(message_flags::cleared_at.is_null())
        .count()
        .get_result(conn)?;
    if waiting == 0 {
        return Ok(0);
    }
    dismiss_reports(tx, message_id, now)
}

/// Who reported which of these messages, reports a moderator has not cleared
/// (as the thread page's "You reported this message." reads them): for live
/// updates, which decide it per viewer in memory.
pub fn reporters_of(
    conn: &mut DbConn,
    ids: &[&MessageId],
) -> QueryResult<std::collections::HashSet<(MessageId, UserId)>> {
    Ok(message_flags::table
        .filter(message_flags::message_id.eq_any(ids))
        .filter(message_flags::cleared_at.is_null())
        .select((message_flags::message_id, message_flags::user_id))
        .load::<(MessageId, UserId)>(conn)?
        .into_iter()
        .collect())
}
