//! Private calendar links (`calendar_feeds`, its only writer): one per student
//! at most, a random 256-bit token shown once, only its SHA-256 kept. A
//! calendar app has no session, so the token is the whole credential: it is
//! looked up by its hash (a unique index), and a replaced or turned-off token
//! finds nothing.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::accounts::sessions::{hash_token, random_token};
use crate::accounts::UserId;
use crate::db::schema::calendar_feeds;
use crate::db::{DbConn, Tx};

/// `last_fetched_at` is written at most this often (calendar apps poll).
const FETCH_NOTE_INTERVAL: Duration = Duration::minutes(10);

/// A student's feed as the Calendar page describes it (never the token).
#[derive(Debug, Clone, PartialEq, Serialize, Queryable)]
pub struct FeedStatus {
    pub created_at: NaiveDateTime,
    pub last_fetched_at: Option<NaiveDateTime>,
}

/// Whether the student has a feed link, and since when.
pub fn status(conn: &mut DbConn, user_id: &UserId) -> QueryResult<Option<FeedStatus>> {
    calendar_feeds::table
        .find(user_id)
        .select((calendar_feeds::created_at, calendar_feeds::last_fetched_at))
        .first(conn)
        .optional()
}

#[derive(Insertable)]
#[diesel(table_name = calendar_feeds)]
struct NewFeed<'a> {
    user_id: &'a UserId,
    token_hash: &'a str,
    created_at: NaiveDateTime,
    last_fetched_at: Option<NaiveDateTime>,
}

/// Makes the student's link, or replaces it (the old one stops working at
/// once). Returns the new token: the only time it exists outside the request.
pub fn create_or_replace(
    conn: &mut DbConn,
    user_id: &UserId,
    now: NaiveDateTime,
) -> QueryResult<String> {
    let token = random_token();
    let hash = hash_token(&token);
    let row = NewFeed {
        user_id,
        token_hash: &hash,
        created_at: now,
        last_fetched_at: None,
    };
    crate::on_each_backend!(conn, |c| diesel::insert_into(calendar_feeds::table)
        .values(&row)
        .on_conflict(calendar_feeds::user_id)
        .do_update()
        .set((
            calendar_feeds::token_hash.eq(&hash),
            calendar_feeds::created_at.eq(now),
            calendar_feeds::last_fetched_at.eq(None::<NaiveDateTime>),
        ))
        .execute(c))?;
    Ok(token)
}

/// Turns the student's link off; false when there was none.
pub fn turn_off(conn: &mut DbConn, user_id: &UserId) -> QueryResult<bool> {
    let deleted = diesel::delete(calendar_feeds::table.filter(calendar_feeds::user_id.eq(user_id)))
        .execute(conn)?;
    Ok(deleted > 0)
}

/// Whose feed a token opens, noting the fetch. Anything that is not one of our
/// tokens (64 hex digits) is refused before hashing or querying.
pub fn owner_of(conn: &mut DbConn, token: &str, now: NaiveDateTime) -> QueryResult<Option<UserId>> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let hash = hash_token(&token.to_ascii_lowercase());
    let found: Option<(UserId, Option<NaiveDateTime>)> = calendar_feeds::table
        .filter(calendar_feeds::token_hash.eq(&hash))
        .select((calendar_feeds::user_id, calendar_feeds::last_fetched_at))
        .first(conn)
        .optional()?;
    let Some((user_id, last)) = found else {
        return Ok(None);
    };
    if last.is_none_or(|at| now - at >= FETCH_NOTE_INTERVAL) {
        diesel::update(calendar_feeds::table.find(&user_id))
            .set(calendar_feeds::last_fetched_at.eq(now))
            .execute(conn)?;
    }
    Ok(Some(user_id))
}

/// The export's line about the feed: that one exists and since when (never its hash).
pub fn export_user(conn: &mut DbConn, user_id: &UserId) -> QueryResult<Option<FeedStatus>> {
    status(conn, user_id)
}

/// Erasure: the student's feed goes.
pub fn erase_user(tx: &mut Tx, user_id: &UserId) -> QueryResult<()> {
    let conn: &mut DbConn = tx;
    turn_off(conn, user_id)?;
    Ok(())
}
