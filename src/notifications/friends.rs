//! Notices about friend requests. A request emails its addressee at most once
//! a day for the same requester: withdrawing and asking again must not become
//! a way to send someone an email every few seconds. A withdrawn request leaves
//! the addressee's inbox (and any email not yet sent), so the inbox shows only
//! requests that still wait; one asked again within the day is in the inbox,
//! unmailed. `friends::requests` calls these in its transaction.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::{notify, Kind, Notice};
use crate::accounts::{rate_limit, UserId};
use crate::db::schema::{email_outbox, notifications};
use crate::db::Tx;

/// How often one requester's requests reach one addressee as a notice.
pub const RETELL_AFTER: Duration = Duration::days(1);

/// `requester` asked `addressee` to be friends: a notice, emailed as the
/// addressee chose unless one of this requester's requests already was within
/// `RETELL_AFTER` (then in the inbox only: the request waits there, and its
/// earlier email's link, to the withdrawn one's notice, finds nothing).
pub fn requested(
    tx: &mut Tx,
    addressee: &UserId,
    requester: &UserId,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let bucket = told_bucket(addressee, requester);
    let notice = Notice::new(addressee, Kind::FriendRequest, now).from_user(requester);
    if rate_limit::hit(tx, &bucket, 1, RETELL_AFTER, now)?.is_err() {
        return notify(tx, &notice.quietly());
    }
    notify(tx, &notice)
}

/// `addressee` answered `requester`'s request (accepted or declined): its
/// notice is read, so it stops counting in the inbox and is not mailed in a
/// digest about a request already answered.
pub fn request_answered(
    tx: &mut Tx,
    addressee: &UserId,
    requester: &UserId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        notifications::table
            .filter(notifications::user_id.eq(addressee))
            .filter(notifications::kind.eq(Kind::FriendRequest.as_str()))
            .filter(notifications::other_user_id.eq(requester))
            .filter(notifications::read_at.is_null()),
    )
    .set(notifications::read_at.eq(Some(now)))
    .execute(&mut **tx)
}

/// The once-a-day email limit of one requester's requests to one addressee.
fn told_bucket(addressee: &UserId, requester: &UserId) -> String {
    format!("friend-request-told:{addressee}:{requester}")
}

/// `requester` withdrew their request to `addressee`: its notice goes, and
/// any email of it not sent yet (`email_outbox` rows go with their notice).
/// When nothing told the addressee of it yet (a digest's hour not come, its
/// email not sent, not read in the app), the day's email is not spent: asked
/// again, the request is mailed as the addressee chose, not only put in the
/// inbox.
pub fn request_withdrawn(
    tx: &mut Tx,
    addressee: &UserId,
    requester: &UserId,
) -> QueryResult<usize> {
    let theirs = notifications::table
        .filter(notifications::user_id.eq(addressee))
        .filter(notifications::kind.eq(Kind::FriendRequest.as_str()))
        .filter(notifications::other_user_id.eq(requester));
    // The notice that spent the day's email (one mailed as the addressee
    // chose, not a quiet one asked again since), withdrawn before anything
    // told them of it: a digest's hour not come, its own email still
    // waiting (which goes with the notice), not read in the app.
    let untold: bool = diesel::select(diesel::dsl::exists(
        theirs
            .filter(notifications::delivery.ne(super::Delivery::Off.as_str()))
            .filter(notifications::digest_id.is_null())
            .filter(notifications::read_at.is_null())
            .filter(
                notifications::emailed_at.is_null().or(diesel::dsl::exists(
                    email_outbox::table
                        .filter(email_outbox::notification_id.eq(notifications::id.nullable()))
                        .filter(email_outbox::sent_at.is_null()),
                )),
            ),
    ))
    .get_result(&mut **tx)?;
    if untold {
        rate_limit::clear(tx, &told_bucket(addressee, requester))?;
    }
    diesel::delete(theirs).execute(&mut **tx)
}
