//! Notices about a student's account: a suspension, and its end (written with the
//! suspension, to show from the moment it ends; a lift or a change replaces it),
//! and a display name a moderator removed (and the wait for a new one ended early).
//! `moderation::users` calls these inside its audited transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{notify_many, Kind, Notice};
use crate::accounts::UserId;
use crate::campus_time::CampusTime;
use crate::db::schema::notifications;
use crate::db::Tx;

/// Deletes the student's `SuspensionEnded` notices that have not shown yet (a
/// suspension changed or lifted: the end they announce is no longer true).
pub fn cancel_pending_ends(tx: &mut Tx, user: &UserId, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        notifications::table
            .filter(notifications::user_id.eq(user))
            .filter(notifications::kind.eq(Kind::SuspensionEnded.as_str()))
            .filter(notifications::created_at.gt(now)),
    )
    .execute(&mut **tx)
}

/// A suspension until `until`, for `reason`: `Suspended` now (saying until
/// when, in campus time, and why), and `SuspensionEnded` dated `until`, which
/// shows from then. An earlier suspension's pending end is replaced.
pub fn suspended(
    tx: &mut Tx,
    user: &UserId,
    until: NaiveDateTime,
    reason: &str,
    now: NaiveDateTime,
    campus: CampusTime,
) -> QueryResult<usize> {
    cancel_pending_ends(tx, user, now)?;
    let detail = format!("Until {}. Reason: {}", campus.exact(until).title, reason);
    notify_many(
        tx,
        &[
            Notice::new(user, Kind::Suspended, now).with_detail(Some(&detail)),
            Notice::new(user, Kind::SuspensionEnded, until),
        ],
    )
}

/// A suspension lifted early: its pending end goes, and `SuspensionEnded` shows now.
pub fn suspension_lifted(tx: &mut Tx, user: &UserId, now: NaiveDateTime) -> QueryResult<usize> {
    cancel_pending_ends(tx, user, now)?;
    notify_many(tx, &[Notice::new(user, Kind::SuspensionEnded, now)])
}

/// A moderator removed the student's display name, for `reason`; a new one is
/// allowed from `until` (in campus time).
pub fn display_name_removed(
    tx: &mut Tx,
    user: &UserId,
    until: NaiveDateTime,
    reason: &str,
    now: NaiveDateTime,
    campus: CampusTime,
) -> QueryResult<usize> {
    let detail = format!(
        "You can choose a new one from {}. Reason: {}",
        campus.exact(until).title,
        reason
    );
    notify_many(
        tx,
        &[Notice::new(user, Kind::DisplayNameRemoved, now).with_detail(Some(&detail))],
    )
}

/// A moderator ended that wait early: a name can be chosen now.
pub fn name_wait_ended(tx: &mut Tx, user: &UserId, now: NaiveDateTime) -> QueryResult<usize> {
    notify_many(tx, &[Notice::new(user, Kind::NameWaitEnded, now)])
}
